package bootstrap

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// SidecarAccountUser is the account the sidecar works through on its
// local server, with only the privileges it needs
// (sqldialect.SidecarAccountPrivileges). Its host follows MYSQL_HOST
// (localAccountHost).
const SidecarAccountUser = sqldialect.SidecarAccountUser

// localAccountHost is the host part of the accounts this pod's own
// processes log in with (the sidecar's, MariaDB's backup account) for a
// server reached at mysqlHost: the address the server sees the sidecar
// connect from. Linux gives a connection to any 127.0.0.0/8 address the
// source 127.0.0.1 (the loopback route's preferred source), so every
// IPv4 loopback is '127.0.0.1'; ::1 is itself, localhost stays
// localhost; any other MYSQL_HOST (another machine) is '%'.
func localAccountHost(mysqlHost string) string {
	if mysqlHost == "localhost" {
		return mysqlHost
	}
	if ip, err := netip.ParseAddr(mysqlHost); err == nil && ip.IsLoopback() {
		if ip.Unmap().Is4() {
			return "127.0.0.1"
		}
		return ip.String()
	}
	return "%"
}

// sidecarPasswordLabel separates the sidecar account's password from
// every other use of the root password. Bump the version when a release
// changes the account's privileges: the new derived password no longer
// logs in, and the sidecar repairs the account (password and grants)
// through root at its first connection, as at first start.
const sidecarPasswordLabel = "mysql-bootstrap sidecar account password v1"

// SidecarAccountPassword derives the sidecar account's password from root's: 32
// hex characters of HMAC-SHA256. Every pod shares root's password and a
// copy carries the donor's mysql.user, so a seeded server's account
// logs in with the same derived password.
func SidecarAccountPassword(root string) string {
	m := hmac.New(sha256.New, []byte(root))
	m.Write([]byte(sidecarPasswordLabel))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// accountConnector logs each new connection in as the sidecar account;
// when the server refuses it (access denied: first start, root's
// password changed, a copy from a donor without the account, a release
// that needs other privileges), it logs in as root once, creates or
// repairs the account, and tries again.
type accountConnector struct {
	account, root driver.Connector
	user, host    func() string
	password      func() string
	log           *slog.Logger

	mu sync.Mutex // one repair at a time
}

func (c *accountConnector) Driver() driver.Driver { return c.account.Driver() }

func (c *accountConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.account.Connect(ctx)
	if err == nil || !sqldialect.IsErrno(err, sqldialect.ErrnoAccessDenied) {
		return conn, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Another connection may have repaired it meanwhile.
	if conn, err = c.account.Connect(ctx); err == nil || !sqldialect.IsErrno(err, sqldialect.ErrnoAccessDenied) {
		return conn, err
	}
	if err := c.repair(ctx); err != nil {
		return nil, err
	}
	return c.account.Connect(ctx)
}

// repair logs in as root and runs ensureSidecarAccount on that one
// connection.
func (c *accountConnector) repair(ctx context.Context) error {
	db := sql.OpenDB(c.root)
	defer func() { _ = db.Close() }()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return err // root's login refused: the caller says to check the root password
	}
	defer func() { _ = conn.Close() }()
	if err := ensureSidecarAccount(ctx, conn, c.user(), c.host(), c.password()); err != nil {
		return fmt.Errorf("create or repair the sidecar account %s: %w", sqldialect.Account(c.user(), c.host()), err)
	}
	c.log.Info("created or repaired the sidecar's account as root", "account", sqldialect.Account(c.user(), c.host()))
	return nil
}

// ensureSidecarAccount creates or repairs the sidecar account on one
// root session: binary logging off for the session first (the account
// is each server's own: no errant GTIDs on replicas, nothing for a
// replica to replay on the primary's), and on a MySQL server with
// super_read_only on (a replica), super_read_only lifted for the
// statements and restored at once, read_only staying on.
func ensureSidecarAccount(ctx context.Context, conn *sql.Conn, user, host, password string) (err error) {
	var version string
	if err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return err
	}
	srv, err := sqldialect.ParseVersion(version)
	if err != nil {
		return err
	}
	d, err := sqldialect.New(srv)
	if err != nil {
		return err
	}
	stmts, err := d.EnsureSidecarAccount(user, host, password)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, d.SessionBinlog(false).SQL); err != nil {
		return err
	}
	if q, ok := d.SuperReadOnlyQuery(); ok {
		var sro int
		if err := conn.QueryRowContext(ctx, q).Scan(&sro); err != nil {
			return err
		}
		if sro != 0 {
			if _, err := conn.ExecContext(ctx, d.SetSuperReadOnly(false).SQL); err != nil {
				return err
			}
			defer func() {
				// A fresh context: super_read_only must come back even
				// when ctx ended.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ioTimeout)
				defer cancel()
				if _, rerr := conn.ExecContext(rctx, d.SetSuperReadOnly(true).SQL); rerr != nil {
					err = errors.Join(err, fmt.Errorf("restore super_read_only: %w", rerr))
				}
			}()
		}
	}
	for _, st := range stmts {
		if _, err := conn.ExecContext(ctx, st.SQL); err != nil {
			return fmt.Errorf("%s: %w", st.Redacted, redactServerError(st, err))
		}
	}
	return nil
}

// accountDSN is the sidecar account's connection to the local server;
// each new connection takes the password derived from root's as its
// file holds it now.
func (s *Sidecar) accountDSN() *mysql.Config {
	c := s.localAddr()
	c.User = SidecarAccountUser
	c.Passwd = SidecarAccountPassword(s.creds.root.Get().Reveal())
	_ = c.Apply(mysql.BeforeConnect(func(_ context.Context, c *mysql.Config) error {
		c.Passwd = SidecarAccountPassword(s.creds.root.Get().Reveal())
		return nil
	}))
	return c
}

// openLocal opens the sidecar's pool to its local server: as the
// sidecar account, repaired through root (rootDSN) when refused.
func (s *Sidecar) openLocal(account *mysql.Config) *sql.DB {
	acct, err := newConnector(account)
	if err == nil {
		var root driver.Connector
		root, err = newConnector(s.rootDSN())
		if err == nil {
			db := sql.OpenDB(&accountConnector{account: acct, root: root, log: s.log,
				user:     func() string { return SidecarAccountUser },
				host:     func() string { return localAccountHost(s.cfg.MySQLHost) },
				password: func() string { return SidecarAccountPassword(s.creds.root.Get().Reveal()) }})
			setPool(db)
			return db
		}
	}
	// NewConnector only fails on a malformed config, which we build.
	panic(err)
}
