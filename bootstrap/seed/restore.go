package seed

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// Errors a caller branches on.
var (
	// ErrUnauthorized: the donor refused the token (401 or 403): the two
	// pods do not share the secret, their clocks are more than TokenSkew
	// apart, the nonce expired, or the donor is not the pod the token
	// names (an older version, or another pod behind the name).
	ErrUnauthorized = errors.New("donor refused the token")
	// ErrAltered: the stream's keyed MAC (Seed-Mac) is not the one the
	// recipient computed over the body and the other trailers and headers
	// (StreamFields: status, byte count, GTID state …): one of them was
	// changed in transit, or does not come from a holder of the secret
	// (or from a donor of this version). Nothing was prepared; the
	// staging directory is gone and the data directory untouched.
	ErrAltered = errors.New("backup stream altered: its MAC does not match")
	// ErrBusy: the donor is serving another backup (503); try later, or
	// another donor.
	ErrBusy = errors.New("donor is busy with another backup")
	// ErrStalled: the stream brought no byte for IdleTimeout: the donor is
	// gone or hangs.
	ErrStalled = errors.New("the donor sent nothing")
	// ErrIncomplete: the stream did not end as the donor said it should
	// (cut, failed, or bytes or hash differ). Nothing was prepared; the
	// staging directory is gone and the data directory untouched.
	ErrIncomplete = errors.New("backup stream incomplete")
	// ErrSwapPending: a complete copy waits in staging, or its swap
	// failed part-way; call Resume. The data directory may hold a mix of
	// old and new until Resume succeeds: nothing may start on it.
	ErrSwapPending = errors.New("a restored copy is waiting to be swapped in")
)

// Restore replaces a data directory's contents with a copy of a donor's.
type Restore struct {
	// DataDir is the server's data directory. It must exist; what it holds
	// is replaced only once the copy is complete and prepared.
	DataDir string
	// DonorURL is the donor's GET /backup URL.
	DonorURL string
	// Secret is the shared secret the request's token and the stream's
	// MAC are keyed by (Key).
	Secret string
	// Recipient is this pod's name, DonorPod the donor's: the token is
	// good only for this pair (the donor checks it is DonorPod).
	Recipient, DonorPod string
	// Client makes the request (default: no overall timeout, 10 s to
	// connect, 1 min for the response headers). Redirects are never
	// followed.
	Client *http.Client
	// TLS, when set, is what the donor's certificate is verified with
	// (its RootCAs: the CA of REPLICATION_TLS_CA_FILE): DonorURL must be
	// https, and the certificate must name the URL's host, the donor's
	// stable name, whatever TLS.ServerName says; TLS 1.2 or later. A donor
	// that does not verify is refused before the token is sent
	// (ErrUntrusted). Nil: plain http is accepted, and the copy travels
	// in clear.
	TLS *tls.Config
	// Progress, when set, hears how far the restore is, at most about
	// once a second and at every phase.
	Progress func(Progress)
	// Complete, when set, is called once the copy is complete and
	// prepared, before the data directory changes: record the result
	// durably there. From then on a crash can leave a data directory
	// whose GTID position only that record, or Resume, can tell.
	Complete func(Result) error
	Log      *slog.Logger
	// MBStream and MariaBackup are the tools (default "mbstream" and
	// "mariadb-backup"); --prepare needs the same major version as the
	// donor's mariadb-backup.
	MBStream, MariaBackup string
	// IdleTimeout abandons a stream that brought no byte for so long
	// (ErrStalled; default 10 minutes: the donor may wait up to 5 for a
	// replica's temporary tables, --safe-slave-backup). The sidecar's
	// seed-exec gives it SEED_STALL_TIMEOUT.
	IdleTimeout time.Duration

	// swapHook is handed to swap (tests simulate crashes with it).
	swapHook func(op string) error
}

// Result is a restore's outcome.
type Result struct {
	// Donor is the host:port of the donor URL.
	Donor string
	// Bytes and SHA256 of the verified stream (the SHA-256 is a record;
	// the keyed MAC is what verified it).
	Bytes  int64
	SHA256 string
	// GTID is the GTID state of the copied data (Position.GTID): set
	// gtid_slave_pos to it before replicating. BinlogState is the same
	// with every server_id of every domain (Position.BinlogState; "" when
	// the donor sent none): the copy's gtid_binlog_state.
	GTID        string
	BinlogState string
	Position    Position
	// Duration of the whole restore (zero when Resume finished it).
	Duration time.Duration
	// Nonce names the copy: once its swap is complete the data directory
	// holds it (SwapProof), which is the proof that the data is the copy.
	Nonce string
}

func (r *Restore) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

func (r *Restore) validate() (donor string, err error) {
	var problems []error
	if !filepath.IsAbs(r.DataDir) {
		problems = append(problems, fmt.Errorf("data directory %q: want an absolute path", r.DataDir))
	} else if fi, err := os.Stat(r.DataDir); err != nil {
		problems = append(problems, fmt.Errorf("data directory: %w", err))
	} else if !fi.IsDir() {
		problems = append(problems, fmt.Errorf("data directory %s: not a directory", r.DataDir))
	}
	u, err := url.Parse(r.DonorURL)
	switch {
	case err != nil:
		problems = append(problems, fmt.Errorf("donor URL: %w", err))
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		problems = append(problems, fmt.Errorf("donor URL %q: want http(s)://host:port/backup", r.DonorURL))
	case r.TLS != nil && u.Scheme != "https":
		problems = append(problems, fmt.Errorf("donor URL %q: want https://host:port/backup: a CA is configured, so the copy only travels over verified TLS", r.DonorURL))
	default:
		donor = u.Host
	}
	if r.Secret == "" {
		problems = append(problems, errors.New("secret: empty (the token is derived from it)"))
	}
	if _, ok := podOf(r.Recipient); !ok {
		problems = append(problems, fmt.Errorf("recipient %q: want a StatefulSet pod name, <statefulset>-<ordinal>", r.Recipient))
	}
	if _, ok := podOf(r.DonorPod); !ok {
		problems = append(problems, fmt.Errorf("donor pod %q: want a StatefulSet pod name, <statefulset>-<ordinal>", r.DonorPod))
	}
	return donor, errors.Join(problems...)
}

// Run fetches the donor's stream, verifies it, prepares it and swaps it
// into the data directory. On an error before the copy is complete the
// data directory is as it was and no staging directory remains; every
// error after that (recording the result, the swap) wraps ErrSwapPending:
// a complete copy waits for Resume, and the data directory may be half
// swapped.
func (r *Restore) Run(ctx context.Context) (Result, error) {
	start := time.Now()
	donor, err := r.validate()
	if err != nil {
		return Result{}, fmt.Errorf("restore: %w", err)
	}
	log := r.log().With("donor", donor)
	staging := StagingDir(r.DataDir)

	switch _, ok, err := readMarker(staging); {
	case err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		return Result{}, fmt.Errorf("restore: %w", err)
	case ok:
		return Result{}, fmt.Errorf("restore: %s: %w", staging, ErrSwapPending)
	}
	if err := os.RemoveAll(staging); err != nil {
		return Result{}, fmt.Errorf("restore: remove an earlier incomplete copy: %w", err)
	}
	if err := os.Mkdir(staging, 0o700); err != nil {
		return Result{}, fmt.Errorf("restore: %w", err)
	}
	complete := false
	defer func() {
		if !complete {
			if err := os.RemoveAll(staging); err != nil {
				log.Error("seed: could not remove the staging directory", "staging", staging, "error", err.Error())
			}
		}
	}()

	m, sum, donorState, err := r.fetch(ctx, donor, staging, log)
	if err != nil {
		return Result{}, fmt.Errorf("restore from %s: %w", donor, err)
	}

	m.phase(PhasePrepare)
	log.Info("seed: preparing the copy", "bytes", m.p.Bytes)
	if err := r.prepare(ctx, staging); err != nil {
		return Result{}, fmt.Errorf("restore from %s: %w", donor, err)
	}
	pos, err := ReadPosition(staging)
	if err != nil {
		return Result{}, fmt.Errorf("restore from %s: backup position: %w", donor, err)
	}
	if donorState != "" {
		if pos.BinlogState, err = MergeBinlogState(pos.GTID, donorState); err != nil {
			return Result{}, fmt.Errorf("restore from %s: %w", donor, err)
		}
	}
	if err := chownLike(staging, r.DataDir); err != nil {
		return Result{}, fmt.Errorf("restore from %s: %w", donor, err)
	}
	nonce, err := newNonce()
	if err != nil {
		return Result{}, fmt.Errorf("restore from %s: %w", donor, err)
	}
	mk := marker{Donor: donor, Nonce: nonce, Bytes: m.p.Bytes, SHA256: sum, Position: pos, Finished: time.Now().UTC()}
	if err := writeMarker(staging, mk); err != nil {
		return Result{}, fmt.Errorf("restore from %s: completion marker: %w", donor, err)
	}
	complete = true
	res := mk.result()
	log.Info("seed: copy complete and prepared", "gtid", pos.GTID, "binlog_file", pos.BinlogFile,
		"binlog_pos", pos.BinlogPos, "donor_slave_pos", pos.DonorSlavePos)
	if r.Complete != nil {
		if err := r.Complete(res); err != nil {
			return res, fmt.Errorf("restore from %s: record the result: %w (the copy waits in %s): %w", donor, err, staging, ErrSwapPending)
		}
	}

	m.phase(PhaseSwap)
	mk, _, err = readMarker(staging) // with its entries
	if err == nil {
		err = swap(r.DataDir, mk, r.swapHook, log)
	}
	if err != nil {
		return res, fmt.Errorf("restore from %s: swap: %w: %w", donor, err, ErrSwapPending)
	}
	res.Duration = time.Since(start)
	m.phase(PhaseDone)
	log.Info("seed: restored", "bytes", res.Bytes, "gtid", res.GTID, "elapsed", res.Duration.Round(time.Millisecond).String(),
		"rate", rate(res.Bytes, res.Duration))
	return res, nil
}

// nonce asks the donor for a nonce (POST /seed/nonce next to DonorURL).
func (r *Restore) nonce(ctx context.Context, client *http.Client) (string, error) {
	u, err := url.Parse(r.DonorURL)
	if err != nil {
		return "", err
	}
	u.Path, u.RawPath, u.RawQuery = "/seed/nonce", "", ""
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("nonce request: %w", untrusted(causeOf(ctx, err)))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusServiceUnavailable:
		return "", fmt.Errorf("%w (no nonce to spare)", ErrBusy)
	default:
		return "", fmt.Errorf("nonce request: donor answered %s: %s", resp.Status, redact(string(b), r.Secret))
	}
	n := strings.TrimSpace(string(b))
	if !validNonce(n) {
		return "", fmt.Errorf("nonce request: donor answered %q: want %d hex digits (is the donor an older version?)", redact(n), 2*nonceBytes)
	}
	return n, nil
}

// fetch streams the donor's backup into mbstream and checks the keyed MAC
// of the body and the trailers before it reads what they say and before
// anything uses the copy; it returns the meter that counted the bytes,
// their SHA-256 (a record, not a proof: the MAC is that) and the donor's
// gtid_binlog_state ("" when it sent none), verified and well formed.
func (r *Restore) fetch(ctx context.Context, donor, staging string, log *slog.Logger) (*meter, string, string, error) {
	idle := r.IdleTimeout
	if idle <= 0 {
		idle = 10 * time.Minute
	}
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errStalled := fmt.Errorf("%w for %s", ErrStalled, idle)
	watchdog := time.AfterFunc(idle, func() { cancel(errStalled) })
	defer watchdog.Stop()

	u, err := url.Parse(r.DonorURL)
	if err != nil {
		return nil, "", "", err
	}
	client, err := r.client(strings.TrimSuffix(u.Hostname(), "."))
	if err != nil {
		return nil, "", "", err
	}
	nonce, err := r.nonce(reqCtx, client)
	if err != nil {
		return nil, "", "", err
	}
	key := Key(r.Secret)
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, r.DonorURL, nil)
	if err != nil {
		return nil, "", "", err
	}
	req.Header.Set("Authorization", "Bearer "+Token(key, r.Recipient, r.DonorPod, nonce, time.Now()))
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", "", fmt.Errorf("request: %w", untrusted(causeOf(reqCtx, err)))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, "", "", fmt.Errorf("%w (%s)", ErrUnauthorized, resp.Status)
	case http.StatusServiceUnavailable:
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			return nil, "", "", fmt.Errorf("%w (retry after %ss)", ErrBusy, redact(ra))
		}
		return nil, "", "", ErrBusy
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, "", "", fmt.Errorf("donor answered %s: %s", resp.Status, redact(string(b), r.Secret))
	}
	estimate, _ := strconv.ParseInt(resp.Header.Get(HeaderEstimate), 10, 64)
	log.Info("seed: receiving the donor's backup", "estimate", estimate, "donor_replica", resp.Header.Get(HeaderReplica))

	bin := r.MBStream
	if bin == "" {
		bin = "mbstream"
	}
	cmd := exec.CommandContext(ctx, bin, "-x", "-C", staging)
	cmd.WaitDelay = 10 * time.Second
	out := newTail()
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		return nil, "", "", fmt.Errorf("start mbstream: %w", err)
	}

	m := newMeter(donor, estimate, r.Progress, log)
	sum, mac := sha256.New(), NewStreamMAC(key, nonce)
	body := &activityReader{r: resp.Body, idle: idle, timer: watchdog}
	// mbstream first: a write it refuses ends the copy before the hash
	// counts bytes that went nowhere.
	n, copyErr := io.CopyBuffer(io.MultiWriter(stdin, sum, mac, m), body, make([]byte, copyBufferSize))
	closeErr := stdin.Close()
	waitErr := cmd.Wait()
	if copyErr != nil || waitErr != nil || closeErr != nil {
		switch {
		case ctx.Err() != nil:
			return nil, "", "", fmt.Errorf("%w: after %d bytes: %w", ErrIncomplete, n, context.Cause(ctx))
		case body.err != nil:
			// The stream broke; mbstream's complaint about a truncated
			// input would only follow from it.
			return nil, "", "", fmt.Errorf("%w: after %d bytes: %w", ErrIncomplete, n, causeOf(reqCtx, body.err))
		case waitErr != nil:
			return nil, "", "", fmt.Errorf("mbstream: %v: %s", waitErr, out.Reason())
		default:
			return nil, "", "", fmt.Errorf("mbstream: %w", errors.Join(copyErr, closeErr))
		}
	}

	// The body ended cleanly; the trailers say whether it is all there,
	// but only once the MAC vouches for them: it covers the body and every
	// field read here, and nothing of them is used before it matches.
	t := resp.Trailer
	if t.Get(TrailerStatus) == "" && t.Get(TrailerMAC) == "" {
		return nil, "", "", fmt.Errorf("%w: after %d bytes: no trailer from the donor", ErrIncomplete, n)
	}
	fields := ResponseFields(resp.Header, t)
	got := hex.EncodeToString(sum.Sum(nil))
	donorMAC, _ := hex.DecodeString(t.Get(TrailerMAC))
	if !hmac.Equal(mac.Seal(fields), donorMAC) {
		return nil, "", "", fmt.Errorf("%w (%d bytes, SHA-256 %s; the MAC covers the body and its trailers): refused before it was prepared", ErrAltered, n, got)
	}
	switch {
	case fields.Status != statusOK:
		return nil, "", "", fmt.Errorf("%w: donor says %s: %s", ErrIncomplete, redact(fields.Status), redact(fields.Error, r.Secret))
	case fields.Bytes != strconv.FormatInt(n, 10): // the donor's own count, under its MAC
		return nil, "", "", fmt.Errorf("%w: received %d bytes, donor sent %s", ErrIncomplete, n, redact(fields.Bytes))
	}
	if fields.BinlogState != "" {
		// Checked now rather than after a prepare that may take long.
		if _, err := sqldialect.ParseMariaDBGTIDList(fields.BinlogState); err != nil {
			return nil, "", "", fmt.Errorf("donor's gtid_binlog_state %q: %w", redact(fields.BinlogState), err)
		}
	}
	log.Info("seed: stream verified", "bytes", n, "sha256", got, "rate", rate(n, time.Since(m.p.Started)))
	return m, got, fields.BinlogState, nil
}

var defaultClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: time.Minute,
	// The stream is not compressible enough to pay for it, and a
	// transparent gzip layer would hide the body the trailers describe.
	DisableCompression: true,
}}

// causeOf prefers the reason ctx was cancelled (a stalled stream) to the
// error it caused.
func causeOf(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		if errors.Is(err, c) {
			return err
		}
		return fmt.Errorf("%w (%v)", c, err)
	}
	return err
}

// activityReader pushes the stall watchdog back at every byte and keeps
// the error of the stream itself, if it failed.
type activityReader struct {
	r     io.Reader
	idle  time.Duration
	timer *time.Timer
	err   error
}

func (a *activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.timer.Reset(a.idle)
	}
	if err != nil && err != io.EOF {
		a.err = err
	}
	return n, err
}

// prepare runs mariadb-backup --prepare on the extracted copy: it applies
// the redo log copied during the backup and makes the files a consistent
// datadir.
func (r *Restore) prepare(ctx context.Context, staging string) error {
	bin := r.MariaBackup
	if bin == "" {
		bin = "mariadb-backup"
	}
	cmd := exec.CommandContext(ctx, bin, "--prepare", "--target-dir="+staging)
	cmd.Dir = staging
	cmd.WaitDelay = 10 * time.Second
	out := newTail()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mariadb-backup --prepare: %v: %s", err, out.Reason())
	}
	return nil
}

// chownLike gives every file in dir the owner of like, when we run as root
// and like is owned by someone else: the server (uid 999 in the official
// images) must own its files, and mbstream and mariadb-backup create them
// as us.
func chownLike(dir, like string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(like)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || (st.Uid == 0 && st.Gid == 0) {
		return nil
	}
	uid, gid := int(st.Uid), int(st.Gid)
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
		return nil
	})
}
