package bootstrap

import (
	"bytes"
	"context"
	"database/sql/driver"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/fakesql"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// refusing is a connector whose first n logins are refused with access
// denied, as a server without the sidecar account (or with another
// password for it) answers.
type refusing struct {
	driver.Connector
	mu sync.Mutex
	n  int
}

func (r *refusing) Connect(ctx context.Context) (driver.Conn, error) {
	r.mu.Lock()
	n := r.n
	if n > 0 {
		r.n--
	}
	r.mu.Unlock()
	if n > 0 {
		return nil, &mysql.MySQLError{Number: sqldialect.ErrnoAccessDenied, Message: "Access denied for user 'mysql-bootstrap'@'127.0.0.1' (using password: YES)"}
	}
	return r.Connector.Connect(ctx)
}

const sidecarAcctRootPW = "root-secret-ZQ81"

// sidecarAccountRig is an accountConnector on scripted servers: the
// account's logins refused refusals times, root's answering version.
func sidecarAccountRig(t *testing.T, version string, refusals int) (acct, root *fakesql.Server, c *accountConnector, logs *bytes.Buffer) {
	acct, root = fakesql.New(t), fakesql.New(t)
	acct.On("SELECT 1", fakesql.Row(1))
	root.On("SELECT VERSION()", fakesql.Row(version))
	logs = &bytes.Buffer{}
	c = &accountConnector{account: &refusing{Connector: acct.Connector(), n: refusals}, root: root.Connector(),
		log:      slog.New(slog.NewTextHandler(logs, nil)),
		user:     func() string { return SidecarAccountUser },
		host:     func() string { return "127.0.0.1" },
		password: func() string { return SidecarAccountPassword(sidecarAcctRootPW) }}
	return acct, root, c, logs
}

func connectOnce(t *testing.T, c *accountConnector) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := c.Connect(ctx)
	if err == nil {
		_ = conn.Close()
	}
	return err
}

// TestSidecarAccountCreatedThroughRoot: the account's login is refused
// (first start); the sidecar logs in as root, turns binary logging off
// for the session, lifts super_read_only (a MySQL replica) for the
// statements only, creates the account with its grants, restores
// super_read_only, and logs in as the account. No password in the log.
func TestSidecarAccountCreatedThroughRoot(t *testing.T) {
	acct, root, c, logs := sidecarAccountRig(t, "9.7.4", 2)
	root.On("SELECT @@GLOBAL.super_read_only", fakesql.Row(1))
	root.OnPrefix("SET ", fakesql.OK())
	root.OnPrefix("CREATE USER IF NOT EXISTS 'mysql-bootstrap'@'127.0.0.1' IDENTIFIED BY ", fakesql.OK())
	root.OnPrefix("ALTER USER 'mysql-bootstrap'@'127.0.0.1' ", fakesql.OK())
	root.OnPrefix("GRANT ", fakesql.OK())
	if err := connectOnce(t, c); err != nil {
		t.Fatalf("connect: %v", err)
	}
	if acct.Connects() != 1 {
		t.Errorf("account logins that got through: %d, want 1 (after the repair)", acct.Connects())
	}
	execs := root.Execs()
	pw := SidecarAccountPassword(sidecarAcctRootPW)
	want := []string{
		"SET sql_log_bin = 0",
		"SET GLOBAL super_read_only = OFF",
		"CREATE USER IF NOT EXISTS 'mysql-bootstrap'@'127.0.0.1' IDENTIFIED BY '" + pw + "' ATTRIBUTE '{\"managed_by\": \"mysql-bootstrap\"}'",
		"ALTER USER 'mysql-bootstrap'@'127.0.0.1' IDENTIFIED BY '" + pw + "'",
		"ALTER USER 'mysql-bootstrap'@'127.0.0.1' ATTRIBUTE '{\"managed_by\": \"mysql-bootstrap\"}'",
		"GRANT SELECT ON mysql.* TO 'mysql-bootstrap'@'127.0.0.1'",
		"GRANT SELECT ON performance_schema.* TO 'mysql-bootstrap'@'127.0.0.1'",
		"GRANT CREATE USER, REPLICATION SLAVE, BACKUP_ADMIN ON *.* TO 'mysql-bootstrap'@'127.0.0.1' WITH GRANT OPTION",
		"GRANT REPLICATION CLIENT, RELOAD, SHUTDOWN, SYSTEM_VARIABLES_ADMIN, CONNECTION_ADMIN, REPLICATION_SLAVE_ADMIN, CLONE_ADMIN, REFERENCES ON *.* TO 'mysql-bootstrap'@'127.0.0.1'",
		"SET GLOBAL super_read_only = ON",
	}
	if !slices.Equal(execs, want) {
		t.Errorf("root ran\n  %s\nwant\n  %s", strings.Join(execs, "\n  "), strings.Join(want, "\n  "))
	}
	for _, secret := range []string{sidecarAcctRootPW, pw} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a password is in the log: %s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "created or repaired the sidecar's account") {
		t.Errorf("the repair is not logged: %s", logs.String())
	}
	// Logged in now: no more root.
	root.Reset()
	if err := connectOnce(t, c); err != nil {
		t.Fatal(err)
	}
	if len(root.Statements()) != 0 {
		t.Errorf("root used again: %q", root.Statements())
	}
}

// TestSidecarAccountMariaDB: MariaDB has no super_read_only; the marker
// role comes WITH ADMIN OPTION, and the backup privileges are grantable.
func TestSidecarAccountMariaDB(t *testing.T) {
	_, root, c, _ := sidecarAccountRig(t, "10.11.19-MariaDB", 2)
	root.OnPrefix("SET ", fakesql.OK())
	root.OnPrefix("CREATE ", fakesql.OK())
	root.OnPrefix("ALTER USER ", fakesql.OK())
	root.OnPrefix("GRANT ", fakesql.OK())
	if err := connectOnce(t, c); err != nil {
		t.Fatalf("connect: %v", err)
	}
	execs := root.Execs()
	if len(execs) == 0 || execs[0] != "SET sql_log_bin = 0" {
		t.Fatalf("binary logging not off first: %q", execs)
	}
	for _, w := range []string{
		"GRANT mysql_bootstrap_managed TO 'mysql-bootstrap'@'127.0.0.1' WITH ADMIN OPTION",
		"GRANT CREATE USER, REPLICATION SLAVE, RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, REPLICATION SLAVE ADMIN ON *.* TO 'mysql-bootstrap'@'127.0.0.1' WITH GRANT OPTION",
		"GRANT BINLOG ADMIN, REPLICATION MASTER ADMIN, READ_ONLY ADMIN, CONNECTION ADMIN, SHUTDOWN, REFERENCES ON *.* TO 'mysql-bootstrap'@'127.0.0.1'",
		"GRANT SELECT ON mysql.* TO 'mysql-bootstrap'@'127.0.0.1'",
	} {
		if !slices.Contains(execs, w) {
			t.Errorf("missing %q in\n  %s", w, strings.Join(execs, "\n  "))
		}
	}
	for _, e := range execs {
		if strings.Contains(e, "super_read_only") {
			t.Errorf("super_read_only on MariaDB: %q", e)
		}
	}
}

// TestSidecarAccountRepairFails: a GRANT fails on a MySQL replica;
// super_read_only is restored all the same, the error says which
// statement without the password, and no account login follows.
func TestSidecarAccountRepairFails(t *testing.T) {
	acct, root, c, _ := sidecarAccountRig(t, "9.7.4", 2)
	root.On("SELECT @@GLOBAL.super_read_only", fakesql.Row(1))
	root.OnPrefix("SET ", fakesql.OK())
	root.OnPrefix("CREATE USER ", fakesql.Fail(&mysql.MySQLError{Number: 1227, Message: "Access denied; you need (at least one of) the CREATE USER privilege(s) for this operation, near '" + SidecarAccountPassword(sidecarAcctRootPW) + "'"}))
	err := connectOnce(t, c)
	if err == nil {
		t.Fatal("connected though the account could not be created")
	}
	if strings.Contains(err.Error(), SidecarAccountPassword(sidecarAcctRootPW)) || strings.Contains(err.Error(), sidecarAcctRootPW) {
		t.Errorf("the error holds a password: %v", err)
	}
	if !sqldialect.IsErrno(err, 1227) || !strings.Contains(err.Error(), "CREATE USER IF NOT EXISTS 'mysql-bootstrap'@'127.0.0.1' IDENTIFIED BY '<redacted>'") {
		t.Errorf("error %v: want 1227 naming the statement, redacted", err)
	}
	execs := root.Execs()
	if len(execs) == 0 || execs[len(execs)-1] != "SET GLOBAL super_read_only = ON" {
		t.Errorf("super_read_only not restored last: %q", execs)
	}
	if acct.Connects() != 0 {
		t.Errorf("the account logged in %d times", acct.Connects())
	}
}

// TestSidecarAccountRootRefused: root's login refused too (a wrong root
// password): the error is root's access denied, which the sidecar
// reports as such (check MYSQL_ROOT_PASSWORD), and no statement runs.
func TestSidecarAccountRootRefused(t *testing.T) {
	_, root, c, _ := sidecarAccountRig(t, "9.7.4", 3)
	root.SetConnectError(&mysql.MySQLError{Number: sqldialect.ErrnoAccessDenied, Message: "Access denied for user 'root'@'127.0.0.1' (using password: YES)"})
	err := connectOnce(t, c)
	if !sqldialect.IsErrno(err, sqldialect.ErrnoAccessDenied) {
		t.Fatalf("err %v, want access denied", err)
	}
	if len(root.Statements()) != 0 {
		t.Errorf("statements ran: %q", root.Statements())
	}
}

// TestSidecarPassword: derived, 32 hex characters, not root's, and
// another for another root password.
func TestSidecarPassword(t *testing.T) {
	a, b := SidecarAccountPassword("one"), SidecarAccountPassword("two")
	if len(a) != 32 || a == b || strings.Contains(a, "one") || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("sidecarPassword: %q, %q", a, b)
	}
	if SidecarAccountPassword("one") != a {
		t.Error("not deterministic")
	}
}

func TestSidecarAccountHost(t *testing.T) {
	for in, want := range map[string]string{"127.0.0.1": "127.0.0.1", "127.0.0.12": "127.0.0.1", "::1": "::1", "localhost": "localhost", "10.1.2.3": "%", "mysql-0.mysql": "%"} {
		if got := localAccountHost(in); got != want {
			t.Errorf("localAccountHost(%q) = %q, want %q", in, got, want)
		}
	}
}
