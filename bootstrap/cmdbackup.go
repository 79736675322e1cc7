package bootstrap

import (
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/seed"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// runBackupServer serves GET /backup on BACKUP_ADDR: a verified
// mariadb-backup stream of the local server, for a peer that seeds from
// this pod. It logs in as the backup account (decide.BackupAccountUser,
// its password derived from the seed secret, read again for every copy);
// requests carry a single-use token for this pod, keyed by
// SEED_PASSWORD or else REPLICATION_PASSWORD (seedSecret), after a nonce
// from POST /seed/nonce. With REPLICATION_TLS_CA_FILE it serves TLS with
// SEED_TLS_CERT_FILE and SEED_TLS_KEY_FILE, which recipients verify
// against that CA; without one, plain HTTP, and it says so.
func runBackupServer(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	cfg, id, log, err := loadPod(ctx, "backup-server", args, stdio, loader)
	if err != nil {
		return err
	}
	tlsCfg, err := backupTLS(cfg, id, log)
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
	if cfg.PrimaryMode == PrimaryKubernetes {
		// The role moves: ask the server whether it replicates now.
		donor.Replica = func() bool { return localReplicates(cfg, decide.BackupAccountUser, copyPassword(secret())) }
	}
	ln, err := net.Listen("tcp", cfg.BackupAddr)
	if err != nil {
		return fmt.Errorf("listen on BACKUP_ADDR %s: %w (is another process using the port?)", cfg.BackupAddr, err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	// A failed handshake (a recipient that refused the certificate) is
	// logged as the rest is.
	srv := &http.Server{Handler: donor.Handler(), ReadHeaderTimeout: httpReadHeaderTimeout,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("backup server started", "pod", id.Pod, "addr", ln.Addr().String(), "tls", tlsCfg != nil, "data_dir", cfg.DataDir)
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

// seedPlaintextWarning is what backup-server and the sidecar (on MariaDB)
// log once at start, and the sidecar shows on /status, when no CA is
// configured.
const seedPlaintextWarning = "seed copies travel in clear: set REPLICATION_TLS_CA_FILE (and SEED_TLS_CERT_FILE and SEED_TLS_KEY_FILE on backup-server) so that they are encrypted and the donor verified"

// backupTLS is backup-server's TLS configuration: nil without a CA (the
// stream is plain HTTP, and a warning says so), else the pod's server
// certificate, which must be configured.
func backupTLS(cfg *Config, id Identity, log *slog.Logger) (*tls.Config, error) {
	if cfg.TLSCAFile == "" {
		log.Warn(seedPlaintextWarning)
		return nil, nil
	}
	if cfg.SeedTLSCertFile == "" {
		return nil, invalidf("SEED_TLS_CERT_FILE and SEED_TLS_KEY_FILE are required by backup-server with REPLICATION_TLS_CA_FILE: set them to this pod's server certificate and key (the server's ssl_cert and ssl_key), so that the seed stream is served over TLS")
	}
	c, err := seed.ServerTLS(cfg.SeedTLSCertFile, cfg.SeedTLSKeyFile)
	if err != nil {
		return nil, invalidf("SEED_TLS_CERT_FILE=%q and SEED_TLS_KEY_FILE=%q are invalid: %s", cfg.SeedTLSCertFile, cfg.SeedTLSKeyFile, sqldialect.OneLine(unwrapPathError(err).Error()))
	}
	if err := seed.CertificateNames(cfg.SeedTLSCertFile, cfg.SeedTLSKeyFile, id.PodHost); err != nil {
		// Not fatal: the certificate may be renewed with the right name
		// before anyone asks for a copy.
		log.Warn("SEED_TLS_CERT_FILE does not name this pod's stable name: recipients will refuse its copies", "want", id.PodHost, "error", sqldialect.OneLine(err.Error()))
	}
	return c, nil
}

// localReplicates says whether the local server has a replication channel
// (SHOW SLAVE STATUS returns a row), asked as user (the backup account
// holds SLAVE MONITOR). When it cannot tell it says yes: mariadb-backup's
// replica options (--slave-info --safe-slave-backup) only warn on a
// server that is not a replica, while a replica copied without them may
// copy temporary tables half-applied.
func localReplicates(cfg *Config, user, password string) bool {
	c := baseDSN()
	c.Net, c.Addr, c.User, c.Passwd = "tcp", net.JoinHostPort(cfg.MySQLHost, strconv.Itoa(cfg.MySQLPort)), user, password
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return true
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return true
	}
	defer rows.Close()
	return rows.Next()
}
