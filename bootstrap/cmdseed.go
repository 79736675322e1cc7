package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/seed"
)

// MariaDB seeding runs our binary inside the server image, which has
// mariadb-backup: init copies the binary into a volume the pod shares
// (TOOLS_DIR), the server container starts through `seed-exec` (which
// restores a requested copy before the image's entrypoint runs), and every
// pod runs `backup-server` beside its server to serve copies to peers.

// runBackupServer serves GET /backup on BACKUP_ADDR: a verified
// mariadb-backup stream of the local server, for a peer that seeds from
// this pod. It logs in as root (MYSQL_ROOT_PASSWORD, read again for every
// copy); requests carry a token derived from REPLICATION_PASSWORD.
func runBackupServer(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	cfg, id, log, err := loadPod(ctx, "backup-server", args, stdio, loader)
	if err != nil {
		return err
	}
	creds := newCredentials(cfg)
	donor := &seed.Donor{
		Host: cfg.MySQLHost,
		Port: cfg.MySQLPort,
		User: "root",
		Password: func() string {
			creds.root.Refresh()
			return creds.root.Get().Reveal()
		},
		Secret: func() string {
			creds.replication.Refresh()
			return creds.replication.Get().Reveal()
		},
		Replica: func() bool { return !id.IsPrimary() },
		DataDir: cfg.DataDir,
		Log:     log,
	}
	ln, err := net.Listen("tcp", cfg.BackupAddr)
	if err != nil {
		return fmt.Errorf("listen on BACKUP_ADDR %s: %w (is another process using the port?)", cfg.BackupAddr, err)
	}
	srv := &http.Server{Handler: donor.Handler(), ReadHeaderTimeout: httpReadHeaderTimeout}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("backup server started", "pod", id.Pod, "addr", ln.Addr().String(), "data_dir", cfg.DataDir)
	select {
	case err := <-done:
		return fmt.Errorf("serve BACKUP_ADDR: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(sctx)
	log.Info("backup server stopped")
	return nil
}

// runSeedExec starts the server container: it finishes a copy whose swap
// was interrupted, restores a copy the sidecar asked for (STATE_DIR/seed),
// then runs the image's entrypoint in its place:
//
//	mysql-bootstrap seed-exec -- docker-entrypoint.sh mariadbd
//
// A copy that fails leaves the data directory as it was (the sidecar is
// told in STATE_DIR/seed/error.json and tries again, from another donor);
// the server then starts on what is there.
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
// down. It fails only when the data directory may be left half swapped:
// the container then restarts and Resume finishes the swap.
func seedBeforeStart(ctx context.Context, cfg *Config, log *slog.Logger) error {
	files := newSeedFiles(cfg.StateDir)
	res, resumed, err := seed.Resume(cfg.DataDir, log)
	if err != nil {
		return fmt.Errorf("finish an interrupted seed in DATA_DIR %s: %w", cfg.DataDir, err)
	}
	if resumed {
		log.Info("seeding: finished an interrupted swap", "donor", res.Donor, "gtid", res.GTID)
		if err := files.complete(res); err != nil {
			return err
		}
	}
	var req SeedRequest
	ok, err := readJSON(files.path(seedRequestFile), &req)
	if err != nil || !ok || files.dir == "" {
		return err
	}
	log.Info("seeding: restoring a copy before the server starts", "donor", req.Donor, "url", req.URL, "why", req.Why)
	creds := newCredentials(cfg)
	creds.refresh()
	ctx, cancel := context.WithTimeout(ctx, cfg.SeedTimeout)
	defer cancel()
	r := &seed.Restore{
		DataDir:  cfg.DataDir,
		DonorURL: req.URL,
		Secret:   creds.replication.Get().Reveal(),
		Log:      log,
		Progress: func(p seed.Progress) { _ = seed.WriteProgressFile(files.path(seedProgressFile), p) },
		Complete: func(res seed.Result) error { return files.result(req.Donor, res) },
	}
	res, err = r.Run(ctx)
	if errors.Is(err, seed.ErrSwapPending) {
		if res, _, err = seed.Resume(cfg.DataDir, log); err != nil {
			return fmt.Errorf("finish the seed's swap in DATA_DIR %s: %w", cfg.DataDir, err)
		}
	}
	if err != nil {
		log.Warn("seeding: the copy failed; starting the server on the data it has", "donor", req.Donor, "error", oneLine(err.Error()))
		if werr := writeJSON(files.path(seedErrorFile), SeedError{Donor: req.Donor, Error: oneLine(err.Error()), At: time.Now()}); werr != nil {
			return werr
		}
		return files.done()
	}
	log.Info("seeding: copy in place", "donor", req.Donor, "bytes", res.Bytes, "gtid", res.GTID, "elapsed", res.Duration.Round(time.Millisecond).String())
	return files.done()
}

// result records a copy in place (from Restore's Complete, before the
// data directory changes).
func (s seedFiles) result(donorPod string, res seed.Result) error {
	if donorPod == "" {
		donorPod = res.Donor
	}
	return writeJSON(s.path(seedResultFile), SeedResult{Donor: donorPod, GTID: res.GTID, Bytes: res.Bytes, SHA256: res.SHA256, Finished: time.Now()})
}

// complete records a copy whose interrupted swap Resume finished, unless
// its result is recorded already.
func (s seedFiles) complete(res seed.Result) error {
	if s.dir == "" {
		return nil
	}
	if _, err := os.Stat(s.path(seedResultFile)); err == nil {
		return s.done()
	}
	if err := s.mkdir(); err != nil {
		return err
	}
	if err := s.result("", res); err != nil {
		return err
	}
	return s.done()
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

// installBinary copies this executable to dir/mysql-bootstrap, so that
// containers of other images in the pod can run it (TOOLS_DIR).
func installBinary(dir string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	in, err := os.Open(self)
	if err != nil {
		return "", err
	}
	defer in.Close()
	dst := filepath.Join(dir, "mysql-bootstrap")
	tmp, err := os.CreateTemp(dir, ".mysql-bootstrap-*")
	if err != nil {
		return "", fmt.Errorf("TOOLS_DIR %s: %w", dir, unwrapPathError(err))
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return dst, os.Rename(tmp.Name(), dst)
}
