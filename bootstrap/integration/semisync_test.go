package integration

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/podtest"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/testserver"
)

// semiSyncNames are the flavour's names of the semi-sync enabled flags and
// of the source's status counters.
type semiSyncNames struct {
	source, replica           string // global variables
	clients, yesTx, replicaOn string // status variables
	stopIO, startIO           string
}

func semiSyncNamesFor(f testserver.Flavor) semiSyncNames {
	if f == testserver.MySQL {
		return semiSyncNames{"rpl_semi_sync_source_enabled", "rpl_semi_sync_replica_enabled",
			"Rpl_semi_sync_source_clients", "Rpl_semi_sync_source_yes_tx", "Rpl_semi_sync_replica_status",
			"STOP REPLICA IO_THREAD", "START REPLICA IO_THREAD"}
	}
	return semiSyncNames{"rpl_semi_sync_master_enabled", "rpl_semi_sync_slave_enabled",
		"Rpl_semi_sync_master_clients", "Rpl_semi_sync_master_yes_tx", "Rpl_semi_sync_slave_status",
		"STOP SLAVE IO_THREAD", "START SLAVE IO_THREAD"}
}

// globalFlags reads two global variables as 0/1.
func globalFlags(t *testing.T, db *sql.DB, a, b string) (int, int) {
	t.Helper()
	var x, y int
	if err := db.QueryRow("SELECT @@GLOBAL."+a+", @@GLOBAL."+b).Scan(&x, &y); err != nil {
		t.Fatalf("read %s, %s: %v", a, b, err)
	}
	return x, y
}

// statusValue reads one SHOW GLOBAL STATUS value.
func statusValue(db *sql.DB, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n, v string
	err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE '"+name+"'").Scan(&n, &v)
	return v, err
}

func statusInt(t *testing.T, db *sql.DB, name string) int {
	t.Helper()
	v, err := statusValue(db, name)
	if err != nil {
		t.Fatalf("status %s: %v", name, err)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("status %s = %q: %v", name, v, err)
	}
	return n
}

// TestSemiSync: with SEMI_SYNC=true a primary and a replica come up with
// the source side on on the primary and the replica side on on the
// replica (each set by its sidecar, through the sidecar's own account);
// a write is acknowledged by the replica; with the replica's receiver
// stopped a write waits. On the host this runs MariaDB (MySQL only with
// MYSQLD pointing at a MySQL 8.0.26+ server whose plugin directory holds
// the semisync plugins).
func TestSemiSync(t *testing.T) {
	c := newCluster(t)
	defer func() {
		if t.Failed() {
			c.logs()
		}
	}()
	flavor := testserver.ServerFlavor()
	names := semiSyncNamesFor(flavor)
	env := []string{"SEMI_SYNC", "true", "FLAVOR", string(flavor)}
	primary := c.addPod("mysql-0", "127.0.0.61", env...)
	replica := c.addPod("mysql-1", "127.0.0.62", env...)
	for _, p := range []*pod{primary, replica} {
		c.init(p)
		p.server.Start()
		c.publish(p)
		c.startSidecar(p)
	}
	for _, p := range []*pod{primary, replica} {
		c.waitReady(p, 90*time.Second)
	}

	proot, rroot := primary.server.Root(), replica.server.Root()
	defer proot.Close()
	defer rroot.Close()
	if s, r := globalFlags(t, proot, names.source, names.replica); s != 1 || r != 0 {
		t.Errorf("primary: %s = %d, %s = %d; want 1, 0", names.source, s, names.replica, r)
	}
	if s, r := globalFlags(t, rroot, names.source, names.replica); s != 0 || r != 1 {
		t.Errorf("replica: %s = %d, %s = %d; want 0, 1", names.source, s, names.replica, r)
	}
	podtest.Eventually(t, 30*time.Second, "the replica connected as a semi-sync replica", func() error {
		if v, err := statusValue(proot, names.clients); err != nil || v != "1" {
			return fmt.Errorf("primary %s = %q (%v)", names.clients, v, err)
		}
		if v, err := statusValue(rroot, names.replicaOn); err != nil || v != "ON" {
			return fmt.Errorf("replica %s = %q (%v)", names.replicaOn, v, err)
		}
		return nil
	})
	for _, p := range []*pod{primary, replica} {
		code, body, err := podtest.Get(p.http(), "/status")
		if err != nil || code != 200 {
			t.Fatalf("%s /status: %d %v", p.name, code, err)
		}
		var st struct {
			SemiSync *struct {
				Enabled         bool
				Source, Replica *bool
			} `json:"semiSync"`
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		wantSource := p == primary
		if ss := st.SemiSync; ss == nil || !ss.Enabled || ss.Source == nil || ss.Replica == nil || *ss.Source != wantSource || *ss.Replica == wantSource {
			t.Errorf("%s /status semiSync = %+v, want source %v", p.name, st.SemiSync, wantSource)
		}
	}

	// A write is acknowledged by the replica.
	pdb := primary.server.App()
	defer pdb.Close()
	before := statusInt(t, proot, names.yesTx)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if _, err := pdb.ExecContext(ctx, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(64))"); err != nil {
		t.Fatalf("create table on the primary: %v", err)
	}
	if _, err := pdb.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (1, 'acknowledged')"); err != nil {
		t.Fatalf("insert on the primary: %v", err)
	}
	cancel()
	if after := statusInt(t, proot, names.yesTx); after < before+2 {
		t.Errorf("%s went from %d to %d after two writes, want +2", names.yesTx, before, after)
	}
	waitRows(t, replica, 1, 30*time.Second)

	// No replica connected: a write waits for an acknowledgement. The
	// replica's sidecar would start its receiver again: it goes first.
	c.stopSidecar(replica)
	if _, err := rroot.Exec(names.stopIO); err != nil {
		t.Fatalf("%s on the replica: %v", names.stopIO, err)
	}
	podtest.Eventually(t, 30*time.Second, "the primary sees no semi-sync replica", func() error {
		if v, err := statusValue(proot, names.clients); err != nil || v != "0" {
			return fmt.Errorf("primary %s = %q (%v)", names.clients, v, err)
		}
		return nil
	})
	conn, err := pdb.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var id int64
	if err := conn.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := conn.ExecContext(context.Background(), "INSERT INTO t (id, v) VALUES (2, 'waits')")
		done <- err
	}()
	select {
	case err := <-done:
		t.Errorf("a write with no replica connected returned after %s (err %v), want it to wait", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(2 * time.Second):
		t.Logf("a write with no replica connected is still waiting after 2 s, as it must")
	}
	// End the wait: KILL QUERY, then the connection if that is not enough.
	if _, err := proot.Exec(fmt.Sprintf("KILL QUERY %d", id)); err != nil {
		t.Errorf("KILL QUERY %d: %v", id, err)
	}
	select {
	case err := <-done:
		t.Logf("the waiting write ended after KILL QUERY: %v", err)
	case <-time.After(10 * time.Second):
		if _, err := proot.Exec(fmt.Sprintf("KILL %d", id)); err != nil {
			t.Errorf("KILL %d: %v", id, err)
		}
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("the waiting write did not end after KILL QUERY and KILL")
		}
	}

	// The replica's sidecar comes back and starts its receiver: the
	// primary has its semi-sync replica again, and writes are acknowledged.
	c.startSidecar(replica)
	podtest.Eventually(t, 60*time.Second, "the replica reconnected as a semi-sync replica", func() error {
		if v, err := statusValue(proot, names.clients); err != nil || v != "1" {
			return fmt.Errorf("primary %s = %q (%v)", names.clients, v, err)
		}
		return nil
	})
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := pdb.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (3, 'acknowledged again')"); err != nil {
		t.Fatalf("insert once the replica is back: %v", err)
	}
	if out := primary.sidecar.Output(); !strings.Contains(out, "semi-sync: turned the source side on") {
		t.Errorf("the primary's sidecar never logged turning the source side on:\n%s", tail(out, 30))
	}

	// A restarted primary comes back read-only with both sides off (its
	// configuration): its sidecar turns the source side on before it
	// makes it writable, its account being in order.
	seen := len(primary.sidecar.Output())
	primary.server.Stop()
	c.init(primary)
	primary.server.Start()
	c.waitReady(primary, 90*time.Second)
	out := primary.sidecar.Output()[seen:]
	on, writable := strings.Index(out, "semi-sync: turned the source side on"), strings.Index(out, "made the primary writable")
	if on < 0 || writable < 0 || on > writable {
		t.Errorf("after a restart the primary was made writable (at %d) before its source side was on (at %d), want on first:\n%s", writable, on, tail(out, 30))
	}
	proot2 := primary.server.Root()
	defer proot2.Close()
	if s, r := globalFlags(t, proot2, names.source, names.replica); s != 1 || r != 0 {
		t.Errorf("restarted primary: %s = %d, %s = %d; want 1, 0", names.source, s, names.replica, r)
	}
	pdb2 := primary.server.App()
	defer pdb2.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if _, err := pdb2.ExecContext(ctx2, "INSERT INTO t (id, v) VALUES (4, 'after the restart')"); err != nil {
		t.Fatalf("insert after the primary restarted: %v", err)
	}
	waitRows(t, replica, 4, 30*time.Second)
}
