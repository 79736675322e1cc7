package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/podtest"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testtls"
)

// TestVerifiedTLS runs a primary and a replica whose servers have
// certificates naming their stable DNS names, signed by a CA the test
// makes, with REPLICATION_TLS_CA_FILE set: the channel and the sidecar's
// own connections are verified TLS; a replica without TLS is refused; a
// certificate for the wrong name is refused with the reason on /status.
func TestVerifiedTLS(t *testing.T) {
	c := newCluster(t)
	defer func() {
		if t.Failed() {
			c.logs()
		}
	}()
	ca := testtls.NewCA(t)
	primary := c.addPod("mysql-0", "127.0.0.31", "REPLICATION_TLS_CA_FILE", ca.CertFile)
	r1 := c.addPod("mysql-1", "127.0.0.32", "REPLICATION_TLS_CA_FILE", ca.CertFile)
	for _, p := range []*pod{primary, r1} {
		cert, key := ca.Issue(t, p.name, stableName(p.name))
		p.server.SetTLS(ca.CertFile, cert, key)
	}
	c.init(primary)
	primary.server.Start()
	c.publish(primary)
	c.startSidecar(primary)
	c.init(r1)
	r1.server.Start()
	c.publish(r1)
	c.startSidecar(r1)
	c.waitReady(primary, 60*time.Second)
	c.waitReady(r1, 60*time.Second)

	t.Run("verified TLS for replication and for the sidecar's connections", func(t *testing.T) {
		rdb := r1.server.Root()
		defer rdb.Close()
		ssl, verify, caFile := replicaTLS(t, r1)
		if !strings.EqualFold(ssl, "Yes") || !strings.EqualFold(verify, "Yes") || caFile != ca.CertFile {
			t.Errorf("%s channel: SSL %q, verify %q, CA %q; want Yes, Yes, %s", r1.name, ssl, verify, caFile, ca.CertFile)
		}
		pdb := primary.server.Root()
		defer pdb.Close()
		var sslType string
		if err := pdb.QueryRow("SELECT ssl_type FROM mysql.user WHERE User = 'replication' AND Host = '%'").Scan(&sslType); err != nil || sslType != "ANY" {
			t.Errorf("replication account ssl_type %q (%v), want ANY (REQUIRE SSL)", sslType, err)
		}
		// The account requires TLS: the replica's sidecar compares GTIDs
		// with the primary only over its verified TLS connection.
		st, err := podtest.Status(r1.http())
		if err != nil {
			t.Fatal(err)
		}
		rep, _ := st["replication"].(map[string]any)
		if rep["errantKnown"] != true || rep["primaryError"] != nil {
			t.Errorf("%s /status replication: %v", r1.name, rep)
		}
		pst, _ := podtest.Status(primary.http())
		if acct, _ := pst["account"].(map[string]any); acct["managed"] != true || acct["requireSsl"] != true {
			t.Errorf("primary /status account: %v", pst["account"])
		}
		app := primary.server.App()
		defer app.Close()
		if _, err := app.Exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(64))"); err != nil {
			t.Fatal(err)
		}
		insertRows(t, app, 1, 10)
		waitRows(t, r1, 10, 30*time.Second)
	})

	t.Run("a replica without TLS is refused by an account that requires it", func(t *testing.T) {
		r2 := c.addPod("mysql-2", "127.0.0.33")
		c.init(r2)
		r2.server.Start()
		c.publish(r2)
		c.startSidecar(r2)
		var reason string
		podtest.Eventually(t, 30*time.Second, r2.name+" says the primary refuses its login", func() error {
			st, err := podtest.Status(r2.http())
			if err != nil {
				return err
			}
			reason, _ = st["reason"].(string)
			if st["ready"] != false || !strings.Contains(reason, "REQUIRE SSL") {
				return fmt.Errorf("ready %v, reason %q", st["ready"], reason)
			}
			return nil
		})
		t.Logf("%s: %s", r2.name, reason)
		c.stopSidecar(r2)
		r2.server.Stop()
		c.unpublish(r2) // the pod is gone, as its Service records are
	})

	t.Run("a certificate for the wrong name is refused, with the reason on /status", func(t *testing.T) {
		cert, key := ca.Issue(t, "wrong", "wrong.example")
		primary.server.Stop()
		primary.server.SetTLS(ca.CertFile, cert, key)
		primary.server.Start()
		var primaryErr string
		podtest.Eventually(t, 30*time.Second, r1.name+" refuses the primary's certificate", func() error {
			st, err := podtest.Status(r1.http())
			if err != nil {
				return err
			}
			rep, _ := st["replication"].(map[string]any)
			primaryErr, _ = rep["primaryError"].(string)
			lastErr, _ := rep["lastError"].(string)
			if !strings.Contains(primaryErr, "wrong.example") || rep["ioRunning"] != false || lastErr == "" {
				return fmt.Errorf("replication %v", rep)
			}
			return nil
		})
		t.Logf("%s: %s", r1.name, primaryErr)
		// The restarted primary starts read-only, as every pod does, until
		// its sidecar's next pass.
		c.waitReady(primary, 60*time.Second)
		app := primary.server.App()
		defer app.Close()
		insertRows(t, app, 11, 12)
		n, err := countRows(r1.server.App())
		if err != nil || n != 10 {
			t.Errorf("%s holds %d rows (%v): a primary with the wrong certificate was replicated from", r1.name, n, err)
		}
	})
	for _, p := range []*pod{primary, r1} {
		c.stopSidecar(p)
	}
}

// replicaTLS reads the channel's TLS settings: SSL allowed, verify server
// certificate, CA file.
func replicaTLS(t *testing.T, p *pod) (ssl, verify, ca string) {
	t.Helper()
	db := p.server.Root()
	defer db.Close()
	rows, err := db.Query("SHOW REPLICA STATUS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatal("no replica status")
	}
	vals := make([]any, len(cols))
	strs := make([]*string, len(cols))
	for i := range vals {
		var s string
		strs[i] = &s
		vals[i] = &nullable{&s}
	}
	if err := rows.Scan(vals...); err != nil {
		t.Fatal(err)
	}
	for i, col := range cols {
		switch strings.ToLower(strings.Replace(col, "Master_", "Source_", 1)) {
		case "source_ssl_allowed":
			ssl = *strs[i]
		case "source_ssl_verify_server_cert":
			verify = *strs[i]
		case "source_ssl_ca_file":
			ca = *strs[i]
		}
	}
	return ssl, verify, ca
}

// nullable scans a column that may be NULL into a string ("" for NULL).
type nullable struct{ s *string }

func (n *nullable) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*n.s = ""
	case []byte:
		*n.s = string(x)
	default:
		*n.s = fmt.Sprint(x)
	}
	return nil
}

// TestAccountNotOurs: REPLICATION_USER names an account that someone else
// created. The sidecar neither resets its password nor touches its grants,
// and says why on /status.
func TestAccountNotOurs(t *testing.T) {
	c := newCluster(t)
	defer func() {
		if t.Failed() {
			c.logs()
		}
	}()
	primary := c.addPod("mysql-0", "127.0.0.41", "REPLICATION_USER", "app_admin")
	c.init(primary)
	primary.server.Start()
	db := primary.server.Root()
	defer db.Close()
	for _, q := range []string{
		"CREATE USER 'app_admin'@'%' IDENTIFIED BY 'their-own-password'",
		"GRANT SELECT, REPLICATION SLAVE ON *.* TO 'app_admin'@'%'",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	c.publish(primary)
	c.startSidecar(primary)
	var reason string
	podtest.Eventually(t, 30*time.Second, "the primary refuses to take the account over", func() error {
		st, err := podtest.Status(primary.http())
		if err != nil {
			return err
		}
		reason, _ = st["reason"].(string)
		if st["ready"] != false || !strings.Contains(reason, `REPLICATION_USER "app_admin" names an existing account that mysql-bootstrap did not create`) {
			return fmt.Errorf("ready %v, reason %q", st["ready"], reason)
		}
		return nil
	})
	t.Logf("primary: %s", reason)
	if err := primary.server.Login("app_admin", "their-own-password"); err != nil {
		t.Errorf("the account's own password no longer works: %v", err)
	}
	if !strings.Contains(reason, "SELECT ON *.*") {
		t.Errorf("the reason does not name the other privilege: %q", reason)
	}
	c.stopSidecar(primary)
}
