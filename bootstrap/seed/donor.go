package seed

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// Headers and trailers of GET /backup (POST /seed/nonce comes first: see
// token.go).
const (
	// HeaderEstimate is the donor's estimate of the stream's size in
	// bytes (the size of its data files), when it could make one.
	HeaderEstimate = "Seed-Estimate-Bytes"
	// HeaderReplica is "true" when the donor is a replica (the backup was
	// taken with --slave-info --safe-slave-backup).
	HeaderReplica = "Seed-Donor-Replica"

	TrailerStatus = "Seed-Status" // "ok" or "failed"
	TrailerError  = "Seed-Error"  // why it failed, one line
	TrailerBytes  = "Seed-Bytes"  // bytes in the body
	// TrailerMAC is the hex HMAC-SHA256 of the request's nonce, the body
	// and every other trailer and header above (StreamFields), keyed by
	// the shared secret's key (StreamMAC): the recipient trusts none of
	// them before it matches.
	TrailerMAC = "Seed-Mac"
	// TrailerBinlogState is the donor's gtid_binlog_state read once the
	// backup ended (every server_id of every domain; MergeBinlogState cuts
	// it to the copy's position); empty when it could not be read.
	TrailerBinlogState = "Seed-Gtid-Binlog-State"

	statusOK     = "ok"
	statusFailed = "failed"
)

// copyBufferSize is the one buffer each stream goes through: memory does
// not grow with the data.
const copyBufferSize = 256 << 10

// Donor serves this pod's data as a mariadb-backup stream. It runs next to
// the server, in a container of the server's image, with the data volume
// mounted at the server's own datadir path: mariadb-backup 10.11 takes the
// datadir from the server (SHOW VARIABLES), not from its options, and reads
// the files directly, so it also needs the server's uid (or root).
type Donor struct {
	// Host and Port of the local server (default 127.0.0.1:3306).
	Host string
	Port int
	// User is an account with the privileges mariadb-backup needs:
	// RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR; on a replica also
	// SLAVE MONITOR and REPLICATION SLAVE ADMIN (--slave-info,
	// --safe-slave-backup).
	User string
	// Password returns User's password; it is read for every backup.
	Password func() string
	// Pod is this pod's name: tokens must be for it, from another pod of
	// its StatefulSet.
	Pod string
	// Secret returns the shared secret tokens and stream MACs are keyed
	// by (both pods read the same SEED_PASSWORD, or replication password).
	// Without one, nothing is served.
	Secret func() string
	// Replica reports whether the local server is a replica now.
	Replica func() bool
	// DataDir is the server's data directory; it is only used to estimate
	// the size of the stream.
	DataDir string
	Log     *slog.Logger
	// MariaBackup is the mariadb-backup binary (default "mariadb-backup").
	MariaBackup string
	// IdleTimeout bounds how long one write to a recipient that stopped
	// reading may block (default 10 minutes).
	IdleTimeout time.Duration
	// RetryAfter is what a second, concurrent request is told (default 30 s).
	RetryAfter time.Duration

	busy     atomic.Bool
	now      func() time.Time
	gateOnce sync.Once
	gate     *Gate
}

// Handler serves POST /seed/nonce and GET /backup.
func (d *Donor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /seed/nonce", d.serveNonce)
	mux.HandleFunc("GET /backup", d.serveBackup)
	return mux
}

func (d *Donor) tokens() *Gate {
	d.gateOnce.Do(func() { d.gate = &Gate{Pod: d.Pod, Secret: d.Secret, now: d.now} })
	return d.gate
}

func (d *Donor) serveNonce(w http.ResponseWriter, r *http.Request) {
	d.tokens().ServeNonce(w, r)
}

func (d *Donor) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

func call(f func() string) string {
	if f == nil {
		return ""
	}
	return f()
}

func (d *Donor) serveBackup(w http.ResponseWriter, r *http.Request) {
	log := d.log().With("remote", r.RemoteAddr)
	grant, refused, why := d.tokens().Check(r)
	if refused != 0 {
		log.Warn("seed: backup refused: "+why, "status", refused)
		if refused == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mysql-bootstrap seed"`)
		}
		http.Error(w, http.StatusText(refused), refused)
		return
	}
	log = log.With("recipient", grant.Recipient)
	if !d.busy.CompareAndSwap(false, true) {
		retry := d.RetryAfter
		if retry <= 0 {
			retry = 30 * time.Second
		}
		log.Info("seed: backup refused: another one is running")
		w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
		http.Error(w, "another backup is running", http.StatusServiceUnavailable)
		return
	}
	defer d.busy.Store(false)
	d.stream(w, r, log, grant)
}

func (d *Donor) stream(w http.ResponseWriter, r *http.Request, log *slog.Logger, grant Grant) {
	secret := call(d.Secret)
	started := time.Now()
	password := call(d.Password)
	replica := d.Replica != nil && d.Replica()
	estimate := estimateSize(d.DataDir, 2*time.Second)

	opts, err := writeOptionFile(d.Host, d.Port, d.User, password)
	if err != nil {
		log.Error("seed: backup not started", "error", err.Error())
		http.Error(w, "backup not started: "+redact(err.Error(), password), http.StatusInternalServerError)
		return
	}
	defer os.Remove(opts)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	bin := d.MariaBackup
	if bin == "" {
		bin = "mariadb-backup"
	}
	// --defaults-file must come first; it makes the tool read only our
	// file, so that nothing else in the image's configuration applies and
	// the credentials stay out of the process arguments.
	// --parallel: the tool copies one file at a time by default, which
	// left the stream at half the speed of a raw copy of the same files.
	args := []string{"--defaults-file=" + opts, "--backup", "--stream=xbstream", "--parallel=" + strconv.Itoa(backupThreads())}
	if replica {
		args = append(args, "--slave-info", "--safe-slave-backup")
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = os.TempDir()
	cmd.WaitDelay = 10 * time.Second
	stderr := newTail()
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		log.Error("seed: backup not started", "error", err.Error())
		http.Error(w, "backup not started: "+redact(err.Error(), password), http.StatusInternalServerError)
		return
	}
	log.Info("seed: backup started", "replica", replica, "estimate", estimate)

	// The headers the MAC covers, as sent.
	fields := StreamFields{Replica: strconv.FormatBool(replica)}
	if estimate >= 0 {
		fields.Estimate = strconv.FormatInt(estimate, 10)
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("Trailer", strings.Join([]string{TrailerStatus, TrailerError, TrailerBytes, TrailerMAC, TrailerBinlogState}, ", "))
	h.Set(HeaderReplica, fields.Replica)
	if fields.Estimate != "" {
		h.Set(HeaderEstimate, fields.Estimate)
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush() // the recipient learns the estimate before the first byte

	idle := d.IdleTimeout
	if idle <= 0 {
		idle = 10 * time.Minute
	}
	sum := grant.MAC()
	out := &deadlineWriter{w: w, rc: rc, idle: idle}
	n, copyErr := io.CopyBuffer(io.MultiWriter(out, sum), struct{ io.Reader }{stdout}, make([]byte, copyBufferSize))
	if copyErr != nil {
		// The recipient is gone: stop the tool (it would block on a full
		// pipe) and do not pretend the stream ended.
		cancel()
	}
	waitErr := cmd.Wait()

	status, reason := statusOK, ""
	switch {
	case copyErr != nil:
		status, reason = statusFailed, "sending the stream: "+copyErr.Error()
	case r.Context().Err() != nil:
		status, reason = statusFailed, "the recipient went away; mariadb-backup stopped"
	case waitErr != nil:
		reason = "mariadb-backup: " + waitErr.Error()
		if why := stderr.Reason(password); why != "" {
			reason += ": " + why
		}
		status = statusFailed
	}
	if status == statusOK {
		// After the backup: what it holds is cut from this by the
		// recipient (MergeBinlogState), so later transactions do no harm.
		state, err := binlogState(r.Context(), d.Host, d.Port, d.User, password)
		if err != nil {
			log.Warn("seed: could not read gtid_binlog_state: the recipient takes the backup's position alone", "error", redact(err.Error(), password))
		}
		fields.BinlogState = fieldValue(state)
	}
	reason = fieldValue(redact(reason, password, secret))
	fields.Status, fields.Error, fields.Bytes = status, reason, strconv.FormatInt(n, 10)
	// Every trailer goes under the MAC: the GTID state the recipient
	// adopts, and the status and count that say the stream is whole.
	fields.setTrailers(h)
	h.Set(TrailerMAC, hex.EncodeToString(sum.Seal(fields)))

	elapsed := time.Since(started)
	if status != statusOK {
		if replica {
			// --safe-slave-backup stops the applier and restarts it at
			// the end; a tool that did not reach the end leaves it
			// stopped, for the sidecar to restart.
			log = log.With("note", "the replica's SQL thread may be left stopped")
		}
		log.Warn("seed: backup failed", "bytes", n, "elapsed", elapsed.Round(time.Millisecond).String(), "error", reason)
		return
	}
	log.Info("seed: backup streamed", "bytes", n, "elapsed", elapsed.Round(time.Millisecond).String(),
		"rate", rate(n, elapsed))
}

// binlogState reads the local server's gtid_binlog_state.
func binlogState(ctx context.Context, host string, port int, user, password string) (string, error) {
	if host == "" {
		host = "127.0.0.1"
	}
	if port == 0 {
		port = 3306
	}
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = user, password, "tcp", net.JoinHostPort(host, strconv.Itoa(port))
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 5*time.Second, 10*time.Second, 10*time.Second
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return "", err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var state string
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_state").Scan(&state); err != nil {
		return "", err
	}
	if _, err := sqldialect.ParseMariaDBGTIDList(state); err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(state), ""), nil
}

// deadlineWriter gives every write to the recipient its own deadline, so a
// recipient that stops reading fails the backup instead of holding it
// (and the donor's one backup slot) forever.
type deadlineWriter struct {
	w    io.Writer
	rc   *http.ResponseController
	idle time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if err := d.rc.SetWriteDeadline(time.Now().Add(d.idle)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	return d.w.Write(p)
}

// writeOptionFile writes the connection options to a new file only we can
// read: mariadb-backup then takes them from the file, not from its
// arguments, which every process on the node can see.
func writeOptionFile(host string, port int, user, password string) (string, error) {
	if host == "" {
		host = "127.0.0.1"
	}
	if port == 0 {
		port = 3306
	}
	f, err := os.CreateTemp("", "mysql-bootstrap-backup-*.cnf")
	if err != nil {
		return "", fmt.Errorf("option file: %w", err)
	}
	content := "[client]\n" +
		"host=" + optionValue(host) + "\n" +
		"port=" + strconv.Itoa(port) + "\n" +
		"user=" + optionValue(user) + "\n" +
		"password=" + optionValue(password) + "\n"
	_, werr := f.WriteString(content)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("option file: %w", err)
	}
	return f.Name(), nil
}

// optionValue quotes a value for an option file: the parser takes a value
// between double quotes literally except for its backslash escapes.
func optionValue(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// notCopied matches the files at the top of a datadir that a backup does
// not copy: binary and relay logs (name.000001) and their indexes, the
// redo log (only its tail is copied), the temporary tablespace.
var notCopied = regexp.MustCompile(`\.[0-9]{6}$|\.index$|^ib_logfile|^ibtmp|\.pid$|\.sock$`)

// estimateSize adds up the sizes of the files under dir that a backup
// copies, giving up (-1) after limit: a guess for progress, not a promise.
func estimateSize(dir string, limit time.Duration) int64 {
	if dir == "" {
		return -1
	}
	deadline := time.Now().Add(limit)
	var total int64
	errTooLong := errors.New("too long")
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			return nil
		}
		if time.Now().After(deadline) {
			return errTooLong
		}
		if e.IsDir() {
			if filepath.Dir(path) == dir && (e.Name() == stagingName || e.Name() == "lost+found") {
				return fs.SkipDir
			}
			return nil
		}
		if filepath.Dir(path) == dir && notCopied.MatchString(e.Name()) {
			return nil
		}
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return -1
	}
	return total
}

// rate formats bytes per elapsed time as MB/s.
func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	return strconv.FormatFloat(float64(n)/d.Seconds()/1e6, 'f', 1, 64) + " MB/s"
}

// backupThreads is how many files mariadb-backup copies at once: one per
// CPU the donor's container may use, at most four.
func backupThreads() int {
	return min(max(runtime.GOMAXPROCS(0), 1), 4)
}
