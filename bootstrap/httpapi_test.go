package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func lag(n int64) *int64 { return &n }

func healthyReplica() Status {
	return Status{
		Pod: "mysql-1", Ordinal: 1, Role: RoleReplica, ServerID: 101, PrimaryHost: "mysql-0.mysql.default.svc.cluster.local",
		ServerUp: true, Flavor: "mariadb", Version: "10.11.19-MariaDB", ReadOnly: true,
		Replication: &ReplicationStatus{Configured: true, SourceHost: "mysql-0.mysql.default.svc.cluster.local", SourcePort: 3306,
			AutoPosition: true, IOState: "Yes", IORunning: true, SQLRunning: true, LagSeconds: lag(0)},
	}
}

func TestReplicaReadiness(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Status)
		ready  bool
		reason string
	}{
		{name: "healthy", ready: true, reason: "replicating from mysql-0.mysql.default.svc.cluster.local, lag 0s"},
		{name: "writable", mutate: func(s *Status) { s.ReadOnly = false }, reason: "replica is not read-only"},
		{name: "mysql without super_read_only", mutate: func(s *Status) { s.Flavor = "mysql" }, reason: "replica is not read-only"},
		{name: "not configured", mutate: func(s *Status) { s.Replication.Configured = false }, reason: "replication is not configured"},
		{name: "error", mutate: func(s *Status) { s.Replication.LastError = "SQL error 1062: Duplicate entry" }, reason: "replication error: SQL error 1062"},
		{name: "errant", mutate: func(s *Status) { s.Replication.ErrantGTIDs = "0-102-1" }, reason: "transactions the primary lacks: 0-102-1"},
		{name: "connecting, lag unknown", mutate: func(s *Status) {
			s.Replication.IOState, s.Replication.IORunning, s.Replication.LagSeconds = "Connecting", false, nil
		}, reason: "replication is connecting to mysql-0"},
		{name: "sql stopped", mutate: func(s *Status) { s.Replication.SQLRunning = false }, reason: "threads not running (IO Yes, SQL No)"},
		{name: "null lag is not zero", mutate: func(s *Status) { s.Replication.LagSeconds = nil }, reason: "replication lag unknown"},
		{name: "too far behind", mutate: func(s *Status) { s.Replication.LagSeconds = lag(31) }, reason: "lag 31s exceeds MAX_REPLICATION_LAG 30s"},
		{name: "at the limit", mutate: func(s *Status) { s.Replication.LagSeconds = lag(30) }, ready: true, reason: "lag 30s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := healthyReplica()
			if tc.mutate != nil {
				tc.mutate(&st)
			}
			ready, reason := replicaReadiness(&st, 30*time.Second, st.PrimaryHost)
			if ready != tc.ready || !strings.Contains(reason, tc.reason) {
				t.Errorf("got %v %q, want %v containing %q", ready, reason, tc.ready, tc.reason)
			}
		})
	}
}

type fakePinger struct {
	err      error
	started  time.Time
	readOnly bool
}

func (f fakePinger) ReadOnly(context.Context) (bool, error) { return f.readOnly, f.err }

func (f fakePinger) PingContext(context.Context) error { return f.err }

func (f fakePinger) StartedAt(context.Context) (time.Time, error) { return f.started, f.err }

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestHandler(t *testing.T) {
	t.Parallel()
	var box statusBox
	st := healthyReplica()
	started := time.Now().Add(-time.Hour)
	st.Ready, st.Reason, st.LastReconcile, st.ServerStartedAt = true, "replicating", time.Now(), started
	box.set(st)
	wakes := 0
	h := newHandler(&box, fakePinger{started: started.Add(time.Second)}, time.Minute, func() { wakes++ })

	if code, body := get(t, h, PathHealthz); code != 200 {
		t.Errorf("/healthz = %d %s", code, body)
	}
	if code, body := get(t, h, PathReadyz); code != 200 || !strings.Contains(body, "replicating") {
		t.Errorf("/readyz = %d %s", code, body)
	}
	code, body := get(t, h, PathStatus)
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("/status = %d %v %s", code, err, body)
	}
	for _, k := range []string{"pod", "ordinal", "role", "serverId", "primaryHost", "flavor", "version", "readOnly", "ready", "reason", "replication"} {
		if _, ok := got[k]; !ok {
			t.Errorf("/status lacks %q: %s", k, body)
		}
	}
	rep := got["replication"].(map[string]any)
	for _, k := range []string{"ioRunning", "sqlRunning", "lagSeconds", "lastError"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("/status replication lacks %q", k)
		}
	}
	_, metrics := get(t, h, PathMetrics)
	for _, want := range []string{"mysql_bootstrap_ready 1", `mysql_bootstrap_role{role="replica"} 1`, `mysql_bootstrap_role{role="primary"} 0`,
		"mysql_bootstrap_replication_lag_seconds 0", "mysql_bootstrap_replication_io_running 1", "mysql_bootstrap_reconcile_errors_total 0",
		`mysql_bootstrap_info{flavor="mariadb",pod="mysql-1",role="replica",server_id="101",version="10.11.19-MariaDB"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Unknown lag is NaN, never 0; a stale check is not trusted.
	st.Replication.LagSeconds = nil
	st.LastReconcile = time.Now().Add(-2 * time.Minute)
	box.set(st)
	if _, metrics := get(t, h, PathMetrics); !strings.Contains(metrics, "mysql_bootstrap_replication_lag_seconds NaN") {
		t.Error("/metrics should report unknown lag as NaN")
	}
	if code, body := get(t, h, PathReadyz); code != 503 || !strings.Contains(body, "last check was") {
		t.Errorf("stale /readyz = %d %s", code, body)
	}

	st.Ready, st.Reason, st.LastReconcile = false, "replication is connecting to mysql-0", time.Now()
	box.set(st)
	if code, body := get(t, h, PathReadyz); code != 503 || strings.TrimSpace(body) != "not ready: replication is connecting to mysql-0" {
		t.Errorf("/readyz = %d %q", code, body)
	}

	// A server that restarted since the last pass is not vouched for, and
	// the loop is asked to look again at once.
	st.Ready, st.Reason = true, "replicating"
	box.set(st)
	restarted := newHandler(&box, fakePinger{started: time.Now()}, time.Minute, func() { wakes++ })
	if code, body := get(t, restarted, PathReadyz); code != 503 || !strings.Contains(body, "restarted since the last check") || wakes != 1 {
		t.Errorf("/readyz after a restart = %d %q (wakes %d)", code, body, wakes)
	}

	primary := st
	primary.Role, primary.Replication = RolePrimary, nil
	box.set(primary)
	roPrimary := newHandler(&box, fakePinger{started: started, readOnly: true}, time.Minute, func() { wakes++ })
	if code, body := get(t, roPrimary, PathReadyz); code != 503 || !strings.Contains(body, "primary is read-only") || wakes != 2 {
		t.Errorf("/readyz of a read-only primary = %d %q (wakes %d)", code, body, wakes)
	}

	down := newHandler(&box, fakePinger{err: errors.New("dial tcp 127.0.0.1:3306: connect: connection refused")}, time.Minute, func() {})
	if code, body := get(t, down, PathHealthz); code != 503 || !strings.Contains(body, "connection refused") {
		t.Errorf("/healthz with the server down = %d %s", code, body)
	}
	if code, _ := get(t, h, "/nope"); code != 404 {
		t.Errorf("unknown path = %d", code)
	}
}

func TestNextPass(t *testing.T) {
	t.Parallel()
	var since time.Time
	if d := nextPass(false, &since, 5*time.Second); d != fastPass || since.IsZero() {
		t.Errorf("just not ready: %s", d)
	}
	since = time.Now().Add(-time.Minute)
	if d := nextPass(false, &since, 5*time.Second); d != slowPass {
		t.Errorf("long not ready: %s, want %s", d, slowPass)
	}
	if d := nextPass(true, &since, 5*time.Second); d != 5*time.Second || !since.IsZero() {
		t.Errorf("ready: %s", d)
	}
	if d := nextPass(false, &since, 100*time.Millisecond); d != 100*time.Millisecond {
		t.Errorf("a shorter RECONCILE_INTERVAL wins: %s", d)
	}
}
