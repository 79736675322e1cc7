package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/podtest"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/testserver"
)

// TestServerStop runs the server container's preStop hook against a real
// server: on MySQL it turns offline_mode ON (clients and replicas out, so
// that the shutdown does not wait for their connections), on MariaDB it
// does nothing; it exits 0 either way and never prints the password.
// deploy/integration runs it inside the MySQL 9.7 image too.
func TestServerStop(t *testing.T) {
	c := newCluster(t)
	defer func() {
		if t.Failed() {
			c.logs()
		}
	}()
	p := c.addPod("mysql-0", "127.0.0.41")
	c.init(p)
	p.server.Start()
	res := podtest.Run(t, 30*time.Second, p.env, "server-stop")
	if res.Code != 0 {
		t.Fatalf("server-stop exit %d:\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	if strings.Contains(res.Stdout+res.Stderr, testserver.RootPassword) {
		t.Errorf("server-stop printed the root password")
	}
	db := p.server.Root()
	defer db.Close()
	switch testserver.ServerFlavor() {
	case testserver.MySQL:
		var on int
		if err := db.QueryRow("SELECT @@GLOBAL.offline_mode").Scan(&on); err != nil || on != 1 {
			t.Errorf("offline_mode = %d (%v) after server-stop on MySQL, want 1; it said: %s", on, err, res.Stdout)
		}
	default:
		if !strings.Contains(res.Stdout, "nothing to do") {
			t.Errorf("server-stop on MariaDB: %s", res.Stdout)
		}
	}
	// The hook must not hold up a server that is gone.
	p.server.Stop()
	start := time.Now()
	res = podtest.Run(t, 30*time.Second, p.env.With("MYSQL_HOST", "127.0.0.42"), "server-stop", "--timeout", "3s")
	if res.Code != 0 || !strings.Contains(res.Stdout, "stops as usual") || time.Since(start) > 15*time.Second {
		t.Errorf("server-stop without a server: exit %d after %s:\n%s%s", res.Code, time.Since(start).Round(time.Millisecond), res.Stdout, res.Stderr)
	}
}
