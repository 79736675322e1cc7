package bootstrap

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/seed"
)

// runBackupServer serves GET /backup on BACKUP_ADDR: a verified
// mariadb-backup stream of the local server, for a peer that seeds from
// this pod. It logs in as the backup account (decide.BackupAccountUser,
// its password derived from the seed secret, read again for every copy);
// requests carry a single-use token for this pod, keyed by
// SEED_PASSWORD or else REPLICATION_PASSWORD (seedSecret), after a nonce
// from POST /seed/nonce.
func runBackupServer(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	cfg, id, log, err := loadPod(ctx, "backup-server", args, stdio, loader)
	if err != nil {
		return err
	}
	creds := newCredentials(cfg)
	secret := seedSecret(cfg, creds)
	donor := &seed.Donor{
		Host: cfg.MySQLHost,
		Port: cfg.MySQLPort,
		// The backup account the primary's sidecar keeps (decide's copy
		// account): mariadb-backup's privileges, no SELECT.
		User:     decide.BackupAccountUser,
		Password: func() string { return copyPassword(secret()) },
		Pod:      id.Pod,
		Secret:   secret,
		Replica:  func() bool { return !id.IsPrimary() },
		DataDir:  cfg.DataDir,
		Log:      log,
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
