package integration

import (
	"database/sql"
	"database/sql/driver"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/testserver"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// sidecarAccountHost is the sidecar account's host in this rig: the
// servers listen on 127.0.0.x, and Linux gives a connection to any of
// them the source address 127.0.0.1.
const sidecarAccountHost = "127.0.0.1"

// grantAliases are other spellings SHOW GRANTS may use.
var grantAliases = map[string]string{"REPLICA MONITOR": "SLAVE MONITOR", "REPLICATION REPLICA ADMIN": "REPLICATION SLAVE ADMIN",
	"REPLICATION REPLICA": "REPLICATION SLAVE", "REPLICATION CLIENT": "BINLOG MONITOR"}

var grantLine = regexp.MustCompile("^GRANT (.+?) ON (\\S+) TO ")
var roleLine = regexp.MustCompile("^GRANT `?([^` ]+)`? TO .*WITH ADMIN OPTION")

// accountGrants reads SHOW GRANTS for the sidecar account as a sorted
// list of "PRIVILEGE ON level" and the roles it holds WITH ADMIN OPTION.
func accountGrants(t *testing.T, db *sql.DB, mariadb bool) (privs, adminRoles []string) {
	t.Helper()
	rows, err := db.Query("SHOW GRANTS FOR " + sqldialect.Account(bootstrap.SidecarAccountUser, sidecarAccountHost))
	if err != nil {
		t.Fatalf("SHOW GRANTS: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		if m := roleLine.FindStringSubmatch(line); m != nil {
			adminRoles = append(adminRoles, m[1])
			continue
		}
		m := grantLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("unexpected grant line %q", line)
			continue
		}
		level := strings.ReplaceAll(m[2], "`", "")
		// MySQL joins dynamic privileges with "," alone.
		for _, p := range strings.Split(m[1], ",") {
			if p = strings.TrimSpace(p); p == "USAGE" {
				continue
			}
			if a, ok := grantAliases[p]; ok && mariadb {
				p = a
			}
			privs = append(privs, p+" ON "+level)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(privs)
	return privs, adminRoles
}

// TestSidecarAccount: the sidecar creates its own account at its first
// start (through root), with exactly the privileges README lists; that
// account cannot read or write application data, create tables, or pass
// on privileges it does not need; dropped, it is created again at the
// next start.
func TestSidecarAccount(t *testing.T) {
	c := newCluster(t)
	defer func() {
		if t.Failed() {
			c.logs()
		}
	}()
	primary := c.addPod("mysql-0", "127.0.0.51")
	c.init(primary)
	primary.server.Start()
	c.publish(primary)
	c.startSidecar(primary)
	c.waitReady(primary, 60*time.Second)

	root := primary.server.Root()
	defer root.Close()
	var version string
	if err := root.QueryRow("SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	mariadb := strings.Contains(strings.ToLower(version), "mariadb")
	var want []string
	if mariadb {
		want = []string{"SELECT ON mysql.*"}
		for _, p := range []string{"CREATE USER", "REPLICATION SLAVE", "RELOAD", "PROCESS", "LOCK TABLES", "BINLOG MONITOR",
			"SLAVE MONITOR", "REPLICATION SLAVE ADMIN", "BINLOG ADMIN", "REPLICATION MASTER ADMIN", "READ_ONLY ADMIN", "CONNECTION ADMIN", "SHUTDOWN", "REFERENCES"} {
			want = append(want, p+" ON *.*")
		}
	} else {
		want = []string{"SELECT ON mysql.*", "SELECT ON performance_schema.*"}
		for _, p := range []string{"CREATE USER", "REPLICATION SLAVE", "BACKUP_ADMIN", "REPLICATION CLIENT", "RELOAD", "SHUTDOWN",
			"SYSTEM_VARIABLES_ADMIN", "CONNECTION_ADMIN", "REPLICATION_SLAVE_ADMIN", "CLONE_ADMIN", "REFERENCES"} {
			want = append(want, p+" ON *.*")
		}
	}
	slices.Sort(want)
	privs, roles := accountGrants(t, root, mariadb)
	if !slices.Equal(privs, want) {
		t.Errorf("the sidecar account holds\n  %s\nwant exactly\n  %s", strings.Join(privs, "\n  "), strings.Join(want, "\n  "))
	}
	if mariadb && !slices.Equal(roles, []string{sqldialect.MarkerRole}) {
		t.Errorf("roles with admin option %q, want %s", roles, sqldialect.MarkerRole)
	}

	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS app",
		"CREATE TABLE IF NOT EXISTS app.t (id INT PRIMARY KEY)",
		"CREATE USER IF NOT EXISTS 'appuser'@'%' IDENTIFIED BY 'app-password-1'",
	} {
		if _, err := root.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	acct := sql.OpenDB(mustConnector(t, primary.server.DSN(bootstrap.SidecarAccountUser, bootstrap.SidecarAccountPassword(testserver.RootPassword))))
	defer acct.Close()
	if err := acct.Ping(); err != nil {
		t.Fatalf("the sidecar account's derived password does not log in: %v", err)
	}
	for _, tc := range []struct {
		q     string
		errno uint16
	}{
		{"SELECT * FROM app.t", 1142},
		{"INSERT INTO app.t VALUES (1)", 1142},
		{"CREATE TABLE app.u (id INT PRIMARY KEY)", 1142},
		{"GRANT ALL ON *.* TO 'appuser'@'%'", 1045},
		{"GRANT SELECT ON app.* TO 'appuser'@'%'", 1044},
	} {
		_, err := acct.Exec(tc.q)
		if !sqldialect.IsErrno(err, tc.errno) {
			t.Errorf("%s as the sidecar account: %v, want error %d", tc.q, err, tc.errno)
		}
	}

	// Dropped (or a copy from a donor without it): the next start logs
	// in as root once and creates it again.
	c.stopSidecar(primary)
	if _, err := root.Exec("DROP USER " + sqldialect.Account(bootstrap.SidecarAccountUser, sidecarAccountHost)); err != nil {
		t.Fatal(err)
	}
	c.startSidecar(primary)
	c.waitReady(primary, 60*time.Second)
	if privs, _ := accountGrants(t, root, mariadb); !slices.Equal(privs, want) {
		t.Errorf("after a drop and a restart the account holds %q", privs)
	}
	out := c.stopSidecar(primary)
	if strings.Contains(out, testserver.RootPassword) || strings.Contains(out, bootstrap.SidecarAccountPassword(testserver.RootPassword)) {
		t.Errorf("a password is in the sidecar's output")
	}
	if !strings.Contains(out, "created or repaired the sidecar's account") {
		t.Errorf("the re-creation is not logged:\n%s", out)
	}
}

func mustConnector(t *testing.T, c *mysql.Config) driver.Connector {
	t.Helper()
	conn, err := mysql.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}
