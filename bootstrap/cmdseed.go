package bootstrap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/seed"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// MariaDB seeding runs our binary inside the server image, which has
// mariadb-backup: init copies the binary into a volume the pod shares
// (TOOLS_DIR), the server container starts through `seed-exec` (which
// restores a requested copy before the image's entrypoint runs), and every
// pod runs `backup-server` beside its server to serve copies to peers.

// seedClient fetches a copy; nil is the seed package's client (proxies
// from the environment, its own timeouts). Tests route the donor's stable
// name to a local server through it.
var seedClient *http.Client

// seedSecret returns what keys seed tokens and stream MACs, read again at
// every call: SEED_PASSWORD (or its file) when set, so that the
// replication password alone fetches nothing, else REPLICATION_PASSWORD.
func seedSecret(cfg *Config, creds *credentials) func() string {
	if cfg.SeedPassword == "" {
		return func() string {
			creds.replication.Refresh()
			return creds.replication.Get().Reveal()
		}
	}
	s := newSecretFile("SEED_PASSWORD", cfg.SeedPasswordFile, cfg.SeedPassword, nil)
	return func() string {
		s.Refresh()
		return s.Get().Reveal()
	}
}

// runSeedExec starts the server container: it finishes a copy whose swap
// was interrupted, restores a copy the sidecar asked for (STATE_DIR/seed),
// checks that a copy recorded as complete is the data directory's, then
// runs the image's entrypoint in its place:
//
//	mysql-bootstrap seed-exec -- docker-entrypoint.sh mariadbd
//
// A copy that fails before it is complete leaves the data directory as it
// was (the sidecar is told in STATE_DIR/seed/error.json and tries again,
// from another donor); the server then starts on what is there. Once a
// copy is complete, every failure exits non-zero before the entrypoint
// runs: the data directory may be half swapped, and the entrypoint would
// take it for an empty one and initialise a database over it. The
// container restarts until the swap is finished.
func runSeedExec(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	cmd, err := splitCommand("seed-exec", args)
	if err != nil {
		return err
	}
	cfg, err := loader.Load(ctx, Need{Passwords: true})
	if err != nil {
		return err
	}
	log := NewLogger(stdio.Err, cfg.LogFormat, cfg.LogLevel)
	if err := seedBeforeStart(ctx, cfg, log); err != nil {
		log.Error("seeding: the server is not started", "error", sqldialect.OneLine(err.Error()))
		return err
	}
	path, err := exec.LookPath(cmd[0])
	if err != nil {
		return fmt.Errorf("seed-exec: %s: %w", cmd[0], err)
	}
	log.Info("starting the server", "command", strings.Join(cmd, " "))
	// The entrypoint takes this process's place (pid 1 in the container),
	// so signals reach it directly.
	return syscall.Exec(path, cmd, os.Environ())
}

// splitCommand returns what follows "--" in args.
func splitCommand(name string, args []string) ([]string, error) {
	for i, a := range args {
		if a == "--" {
			if i+1 == len(args) {
				break
			}
			if i > 0 {
				return nil, fmt.Errorf("%w: %s takes no options before --, got %q", ErrUsage, name, args[:i])
			}
			return args[i+1:], nil
		}
	}
	return nil, fmt.Errorf("%w: %s needs the server's command after --, e.g. %s -- docker-entrypoint.sh mariadbd", ErrUsage, name, name)
}

// seedBeforeStart does a seed's part that must happen while the server is
// down. It fails whenever the data directory may hold a copy that is not
// entirely in place: a swap to finish, or a recorded copy the data
// directory does not prove to hold. The container then restarts and
// Resume finishes the swap.
func seedBeforeStart(ctx context.Context, cfg *Config, log *slog.Logger) error {
	// The secret signs the result (its file is read when one is written)
	// and checks the request.
	files := newSeedFiles(cfg.StateDir).signedWith(seedSecret(cfg, newCredentials(cfg)))
	res, resumed, err := seed.Resume(cfg.DataDir, log)
	if err != nil {
		err = fmt.Errorf("finish an interrupted seed in DATA_DIR %s: %w", cfg.DataDir, err)
		files.swapFailed(err)
		return err
	}
	if resumed {
		log.Info("seeding: finished an interrupted swap", "donor", res.Donor, "gtid", res.GTID)
		if err := files.complete(res); err != nil {
			return err
		}
	}
	if err := restoreRequested(ctx, cfg, files, log); err != nil {
		return err
	}
	return files.prove(cfg.DataDir, log)
}

// restoreRequested restores the copy the sidecar asked for, if any.
func restoreRequested(ctx context.Context, cfg *Config, files seedFiles, log *slog.Logger) error {
	// The secret is read (its file again) only when there is a request:
	// the request must be signed with it (statemac.go), and the copy's
	// token is keyed by it.
	secret := seedSecret(cfg, newCredentials(cfg))
	req, ok, invalid, err := files.signedWith(secret).readRequest()
	if err != nil || !ok || files.dir == "" {
		return err
	}
	donorPod, err := "", invalid
	if invalid == nil {
		log.Info("seeding: restoring a copy before the server starts", "donor", req.Donor, "url", req.URL, "why", req.Why)
		donorPod, err = requestDonor(cfg, req)
	} else {
		// Nothing of it is trusted, not even the donor's name.
		req = SeedRequest{}
		err = fmt.Errorf("%w: ignored, nothing restored", invalid)
	}
	var tlsCfg *tls.Config
	if err == nil {
		tlsCfg, err = seedTLS(cfg)
	}
	if err != nil {
		log.Warn("seeding: the copy is refused; starting the server on the data it has", "donor", req.Donor, "error", sqldialect.OneLine(err.Error()))
		if werr := writeJSON(files.path(seedErrorFile), SeedError{Donor: req.Donor, Error: sqldialect.OneLine(err.Error()), At: time.Now()}); werr != nil {
			return werr
		}
		return files.done()
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.SeedTimeout)
	defer cancel()
	r := &seed.Restore{
		DataDir:     cfg.DataDir,
		DonorURL:    req.URL,
		Secret:      secret(),
		Recipient:   cfg.PodName,
		DonorPod:    donorPod,
		Log:         log,
		IdleTimeout: cfg.SeedStallTimeout,
		Client:      seedClient,
		TLS:         tlsCfg,
		Progress:    func(p seed.Progress) { _ = seed.WriteProgressFile(files.path(seedProgressFile), p) },
		Complete:    func(res seed.Result) error { return files.result(req.Donor, res) },
	}
	res, err := r.Run(ctx)
	switch {
	case errors.Is(err, seed.ErrSwapPending):
		// The copy is complete, its swap is not: the data directory may
		// hold a mix of old and new. Nothing starts until it is finished.
		log.Warn("seeding: the swap did not finish; finishing it now", "donor", req.Donor, "error", sqldialect.OneLine(err.Error()))
		if res, _, err = seed.Resume(cfg.DataDir, log); err != nil {
			err = fmt.Errorf("finish the seed's swap in DATA_DIR %s: %w", cfg.DataDir, err)
			files.swapFailed(err)
			return err
		}
		if err := files.complete(res); err != nil {
			return err
		}
	case err != nil:
		log.Warn("seeding: the copy failed; starting the server on the data it has", "donor", req.Donor, "error", sqldialect.OneLine(err.Error()))
		if werr := writeJSON(files.path(seedErrorFile), SeedError{Donor: req.Donor, Error: sqldialect.OneLine(err.Error()), Kind: restoreFailureKind(err), At: time.Now()}); werr != nil {
			return werr
		}
		return files.done()
	}
	log.Info("seeding: copy in place", "donor", req.Donor, "bytes", res.Bytes, "gtid", res.GTID, "elapsed", res.Duration.Round(time.Millisecond).String())
	return files.done()
}

// requestDonor checks a seed request's URL before anything connects to
// it: https when a CA is configured, else http (seedScheme), to a stable
// name of another pod of this StatefulSet (Identity.PeerPod), whose pod is
// the request's donor. It returns that
// pod's name, which the token names.
func requestDonor(cfg *Config, req SeedRequest) (string, error) {
	id, err := NewIdentity(cfg)
	if err != nil {
		return "", err
	}
	scheme := seedScheme(cfg)
	u, err := url.Parse(req.URL)
	if err != nil || u.Scheme != scheme || u.Host == "" {
		why := ""
		switch {
		case scheme == "https":
			why = " (REPLICATION_TLS_CA_FILE is set: a copy never travels in clear)"
		case err == nil && u.Scheme == "https":
			why = " (the sidecar has REPLICATION_TLS_CA_FILE and this container has not: give seed-exec the same CA to verify the donor)"
		}
		return "", fmt.Errorf("seed request: donor URL %q: want %s://<donor host>:<port>/backup%s", req.URL, scheme, why)
	}
	pod, err := id.PeerPod(u.Hostname())
	if err != nil {
		return "", fmt.Errorf("seed request: %w", err)
	}
	if req.Donor != "" && req.Donor != pod {
		return "", fmt.Errorf("seed request: donor %q, but its URL names %q", req.Donor, u.Hostname())
	}
	return pod, nil
}

// seedScheme is the scheme of the seed stream's URLs: https whenever a CA
// is configured (the sidecar writes it, seed-exec accepts nothing else),
// else http.
func seedScheme(cfg *Config) string {
	if cfg.TLSCAFile != "" {
		return "https"
	}
	return "http"
}

// seedTLS is what seed-exec verifies the donor's certificate with: the CA
// of REPLICATION_TLS_CA_FILE, read now; nil without one. The donor's name
// is set by the seed package, from the request's URL.
func seedTLS(cfg *Config) (*tls.Config, error) {
	if cfg.TLSCAFile == "" {
		return nil, nil
	}
	pool, err := caPool(cfg)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// restoreFailureKind classifies a restore that failed before its copy was
// complete: a busy donor (503), a stream that stalled, or a donor that
// could not be reached or cut the stream (another donor is tried at once
// after any of them); or a stream whose MAC did not match (SeedAltered:
// retried after the usual back-off).
func restoreFailureKind(err error) string {
	switch {
	case errors.Is(err, seed.ErrBusy):
		return decide.SeedBusy
	case errors.Is(err, seed.ErrStalled):
		return decide.SeedStalled
	case lostConnection(err):
		return decide.SeedLost
	case errors.Is(err, seed.ErrAltered):
		return decide.SeedAltered
	}
	return ""
}

// lostConnection: err is a connection to the donor that could not be made
// or broke (a deleted pod: its name no longer resolves, its address
// refuses or resets, the stream ends early).
func lostConnection(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// result records a copy in place (from Restore's Complete, before the
// data directory changes).
func (s seedFiles) result(donorPod string, res seed.Result) error {
	if donorPod == "" {
		donorPod = res.Donor
	}
	r := SeedResult{Donor: donorPod, GTID: res.GTID, BinlogState: res.BinlogState, Bytes: res.Bytes,
		SHA256: res.SHA256, Nonce: res.Nonce, Finished: time.Now()}
	// Signed: the sidecar gives the server the GTID position it records.
	return writeSigned(s.path(seedResultFile), seedDirName+"/"+seedResultFile, call(s.secret), &r, &r.MAC)
}

// complete records a copy whose swap Resume finished: the completion
// marker Resume read is what the data directory now holds, so its result
// replaces one recorded before (the donor's pod name is kept).
func (s seedFiles) complete(res seed.Result) error {
	if s.dir == "" {
		return nil
	}
	if err := s.mkdir(); err != nil {
		return err
	}
	var old SeedResult
	if ok, _ := readJSON(s.path(seedResultFile), &old); ok && old.Donor != "" {
		res.Donor = old.Donor
	}
	if err := s.result("", res); err != nil {
		return err
	}
	return s.done()
}

// prove checks that a copy recorded as complete is the data directory's
// (its nonce, which the swap leaves there last) and says so in
// swapped.json for the sidecar, which applies the copy's position only
// then. A recorded copy the data directory does not hold is an error: the
// server must not start on data that is not what the record says.
func (s seedFiles) prove(dataDir string, log *slog.Logger) error {
	if s.dir == "" {
		return nil
	}
	var res SeedResult
	ok, err := readJSON(s.path(seedResultFile), &res)
	if err != nil || !ok {
		return err
	}
	nonce, has, err := seed.SwapProof(dataDir)
	if err != nil {
		return fmt.Errorf("read the seed's proof in DATA_DIR %s: %w", dataDir, err)
	}
	if !has || res.Nonce == "" || nonce != res.Nonce {
		return fmt.Errorf("%s records a copy from %s that DATA_DIR %s does not prove to hold (its swap did not complete, or the data directory was replaced since): "+
			"the server is not started on it; to start it on the data it has, remove %s", s.path(seedResultFile), res.Donor, dataDir, s.path(seedResultFile))
	}
	log.Info("seeding: the data directory holds the recorded copy", "donor", res.Donor, "gtid", res.GTID)
	return writeJSON(s.path(seedSwappedFile), SeedSwapped{Nonce: nonce, At: time.Now()})
}

// swapFailed tells the sidecar, through the progress it shows, why the
// server does not start.
func (s seedFiles) swapFailed(err error) {
	if s.dir == "" {
		return
	}
	p, _ := seed.ReadProgressFile(s.path(seedProgressFile))
	p.Phase = "swap failed, the server container restarts to finish it: " + sqldialect.OneLine(err.Error())
	p.Updated = time.Now()
	_ = seed.WriteProgressFile(s.path(seedProgressFile), p)
}

// done removes the request and the progress of a finished copy.
func (s seedFiles) done() error {
	for _, f := range []string{seedRequestFile, seedProgressFile} {
		if err := os.Remove(s.path(f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
