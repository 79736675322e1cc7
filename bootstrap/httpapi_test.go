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

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

func lag(n int64) *int64 { return &n }

func healthyReplicaStatus() wire.Status {
	return wire.Status{
		Pod: "mysql-1", Ordinal: 1, Role: wire.RoleReplica, ServerID: 101, PrimaryHost: "mysql-0.mysql.default.svc.cluster.local",
		ServerUp: true, Flavor: "mariadb", Version: "10.11.19-MariaDB", ReadOnly: true, Ready: true, Reason: "replicating",
		Replication: &wire.ReplicationStatus{Configured: true, SourceHost: "mysql-0.mysql.default.svc.cluster.local", SourcePort: 3306,
			AutoPosition: true, IOState: "Yes", IORunning: true, SQLRunning: true, LagSeconds: lag(0), StalenessSeconds: lag(0)},
	}
}

// fakeSource serves fixed answers.
type fakeSource struct {
	healthErr error
	ready     bool
	reason    string
	st        wire.Status
}

func (f *fakeSource) Healthz(context.Context) error { return f.healthErr }

func (f *fakeSource) Readiness(context.Context) (bool, string) { return f.ready, f.reason }

func (f *fakeSource) Current() wire.Status { return f.st }

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestHandler(t *testing.T) {
	t.Parallel()
	src := &fakeSource{ready: true, reason: "replicating from mysql-0", st: healthyReplicaStatus()}
	src.st.LastReconcile = time.Now()
	h := newHandler(src)

	if code, body := get(t, h, PathHealthz); code != 200 {
		t.Errorf("/healthz = %d %s", code, body)
	}
	if code, body := get(t, h, PathReadyz); code != 200 || body != "ready: replicating from mysql-0\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	code, body := get(t, h, PathStatus)
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("/status = %d %v %s", code, err, body)
	}
	for _, k := range []string{"pod", "ordinal", "role", "serverId", "primaryHost", "flavor", "version", "readOnly", "ready", "reason", "replication", "gtidExecuted"} {
		if _, ok := got[k]; !ok {
			t.Errorf("/status lacks %q: %s", k, body)
		}
	}
	rep := got["replication"].(map[string]any)
	for _, k := range []string{"ioRunning", "sqlRunning", "lagSeconds", "stalenessSeconds", "lastError", "errantKnown", "changes", "restarts", "resets"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("/status replication lacks %q", k)
		}
	}
	_, metrics := get(t, h, PathMetrics)
	for _, want := range []string{"mysql_bootstrap_ready 1", `mysql_bootstrap_role{role="replica"} 1`, `mysql_bootstrap_role{role="primary"} 0`,
		"mysql_bootstrap_replication_lag_seconds 0", "mysql_bootstrap_replication_staleness_seconds 0", "mysql_bootstrap_replication_io_running 1",
		"mysql_bootstrap_reconcile_errors_total 0", "mysql_bootstrap_replication_change_retries 0",
		`mysql_bootstrap_info{flavor="mariadb",pod="mysql-1",role="replica",server_id="101",version="10.11.19-MariaDB"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Unknown lag and staleness are NaN, never 0.
	src.st.Replication.LagSeconds, src.st.Replication.StalenessSeconds = nil, nil
	_, metrics = get(t, h, PathMetrics)
	for _, want := range []string{"mysql_bootstrap_replication_lag_seconds NaN", "mysql_bootstrap_replication_staleness_seconds NaN"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	src.ready, src.reason = false, "replication is connecting to mysql-0"
	if code, body := get(t, h, PathReadyz); code != 503 || strings.TrimSpace(body) != "not ready: replication is connecting to mysql-0" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	src.reason = ""
	if code, body := get(t, h, PathReadyz); code != 503 || !strings.Contains(body, "not checked yet") {
		t.Errorf("/readyz without a reason = %d %q", code, body)
	}

	src.healthErr = errors.New("dial tcp 127.0.0.1:3306: connect: connection refused")
	if code, body := get(t, h, PathHealthz); code != 503 || !strings.Contains(body, "connection refused") {
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
