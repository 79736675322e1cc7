package bootstrap

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/testserver"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

// TestEndSemiSyncSourceOnARealServer: a former semi-sync primary whose
// commits wait for an acknowledgement that will not come (its replicas
// follow a new primary) turns its source side off without telling those
// clients OK: an application's write and a SUPER account's write both
// end with an error, the server is read-only, the source side is off, and
// new writes are refused. On the host's real MariaDB (the flavour with
// semi-sync built in; MySQL's plugins are checked on the real cluster).
func TestEndSemiSyncSourceOnARealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real server: skipped under -short")
	}
	if err := testserver.Available(); err != nil {
		t.Skipf("no real server: %v", err)
	}
	if testserver.ServerFlavor() != testserver.MariaDB {
		t.Skip("MYSQLD names a MySQL server: this test needs MariaDB's built-in semi-sync (MySQL's is checked on the real cluster)")
	}
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := testserver.New(t, "127.0.0.71", resolv)
	cnf := "[mysqld]\nserver_id = 100\nlog_bin = mysql-bin\ngtid_strict_mode = ON\n" +
		"rpl_semi_sync_master_wait_point = AFTER_SYNC\nrpl_semi_sync_master_timeout = 4294967295\nrpl_semi_sync_master_wait_no_slave = ON\n"
	if err := os.WriteFile(filepath.Join(srv.ConfDir, "semisync.cnf"), []byte(cnf), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Start()
	root := srv.Root()
	defer root.Close()
	app := srv.App()
	defer app.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, q := range []string{"CREATE TABLE app.t (id INT PRIMARY KEY)", "SET GLOBAL rpl_semi_sync_master_enabled = ON"} {
		if _, err := root.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Two writes that wait for an acknowledgement: the application's and
	// root's (SUPER: MariaDB's read_only does not stop it).
	type result struct {
		who string
		err error
	}
	done := make(chan result, 2)
	// Clients that wait as long as it takes (the server's answer is
	// what is checked, not a client timeout).
	patient := func(user, password string) *sql.DB {
		c := srv.DSN(user, password)
		c.ReadTimeout, c.WriteTimeout = 0, 0
		conn, err := mysql.NewConnector(c)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(conn)
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	write := func(who string, id int) {
		db := patient(testserver.AppUser, testserver.AppPassword)
		if who == "root" {
			db = patient("root", testserver.RootPassword)
		}
		_, err := db.ExecContext(ctx, "INSERT INTO app.t VALUES (?)", id)
		done <- result{who, err}
	}
	go write("app", 1)
	go write("root", 2)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(testkit.Eventually(ctx, 30*time.Second, "two writes waiting for a semi-sync acknowledgement", func(ctx context.Context) error {
		// One waits for the acknowledgement, the other behind it to commit.
		var writes, acks int
		if err := root.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(STATE LIKE 'Waiting for semi-sync ACK%'), 0) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'INSERT INTO app.t%'").Scan(&writes, &acks); err != nil {
			return err
		}
		if writes != 2 || acks < 1 {
			return fmt.Errorf("%d writes under way, %d waiting for an acknowledgement", writes, acks)
		}
		return nil
	}))
	select {
	case r := <-done:
		t.Fatalf("the %s write returned with no replica connected (err %v): it must wait", r.who, r.err)
	default:
	}

	// The executor's own pool: one root connection (the sidecar account's
	// in a pod, whose sessions are left alone; here the listing skips its
	// own connection).
	pool := srv.Root()
	defer pool.Close()
	pool.SetMaxOpenConns(1)
	var v string
	must(pool.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v))
	ver, err := sqldialect.ParseVersion(v)
	must(err)
	d, err := sqldialect.New(ver)
	must(err)
	e := &executor{db: pool, log: slog.New(slog.DiscardHandler)}
	must(e.endSemiSyncSource(ctx, d))

	for range 2 {
		select {
		case r := <-done:
			if r.err == nil {
				t.Errorf("the %s write waiting for an acknowledgement was told OK when the source side went off", r.who)
			} else {
				t.Logf("the %s write ended with %v", r.who, r.err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a waiting write did not end within 30 s")
		}
	}
	var ro, source int
	must(pool.QueryRowContext(ctx, "SELECT @@GLOBAL.read_only, @@GLOBAL.rpl_semi_sync_master_enabled").Scan(&ro, &source))
	if ro != 1 || source != 0 {
		t.Errorf("read_only = %d, rpl_semi_sync_master_enabled = %d; want 1, 0", ro, source)
	}
	if _, err := app.ExecContext(ctx, "INSERT INTO app.t VALUES (3)"); !sqldialect.IsErrno(err, 1290) {
		t.Errorf("an application write after: %v, want 1290 (read-only)", err)
	}
}
