package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/fakesql"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube/kubetest"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
	"github.com/sethvargo/go-envconfig"
)

// fakeOps is the servers' side of a switchover, scripted. steps records
// the calls in order, with the fences of the keeper it serves.
type fakeOps struct {
	mu     sync.Mutex
	steps  []string
	waits  []time.Duration
	target string
	// refusal, when set, is check's answer.
	refusal string
	pos     string
	posErr  error
	// onApplied answers the n-th call (from 1) of applied.
	onApplied func(n int, d time.Duration) (bool, error)
	// errantSet and errantErr are errant's answer (not a step: the
	// order of the other steps is what the tests compare).
	errantSet string
	errantErr error
}

func (o *fakeOps) errant(context.Context, string) (string, error) {
	return o.errantSet, o.errantErr
}

func (o *fakeOps) step(s string) {
	o.mu.Lock()
	o.steps = append(o.steps, s)
	o.mu.Unlock()
}

func (o *fakeOps) Steps() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.steps...)
}

func (o *fakeOps) check(_ context.Context, req switchoverRequest) (string, string) {
	o.step("check " + req.To)
	if o.refusal != "" {
		return "", o.refusal
	}
	return o.target, ""
}

func (o *fakeOps) position(context.Context) (string, error) {
	o.step("position")
	return o.pos, o.posErr
}

func (o *fakeOps) applied(_ context.Context, target, pos string, d time.Duration) (bool, error) {
	o.mu.Lock()
	o.steps = append(o.steps, "applied "+target+" "+pos)
	o.waits = append(o.waits, d)
	n := len(o.waits)
	o.mu.Unlock()
	return o.onApplied(n, d)
}

func (o *fakeOps) wake(_ context.Context, target string) { o.step("wake " + target) }

const testPos = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42"

// switchoverRig is pod mysql-0 holding the Lease, with scripted ops and a
// clock of its own.
type switchoverRig struct {
	*keeperRig
	ops   *fakeOps
	clock *testClock
}

func newSwitchoverRig(t *testing.T) *switchoverRig {
	t.Helper()
	api := kubetest.New(t)
	api.AddPod("mysql-0", "uid-0")
	api.AddPod("mysql-1", "uid-1")
	r := &switchoverRig{keeperRig: newKeeperRig(t, api, "mysql-0", leaseTestConfig(2*time.Second, 10*time.Second)),
		ops: &fakeOps{target: "mysql-1", pos: testPos}, clock: newTestClock()}
	r.k.now = r.clock.Now
	r.k.ops = r.ops
	r.hook = func() { r.ops.step("fence") }
	r.ops.onApplied = func(int, time.Duration) (bool, error) { return true, nil }
	r.tick()
	if v := r.view(); v != (leaseView{Holder: "mysql-0"}) {
		t.Fatalf("mysql-0 does not hold the Lease: %+v", v)
	}
	return r
}

func (r *switchoverRig) newRequest(to string) switchoverRequest {
	return switchoverRequest{ID: "req1", To: to, MaxLagSeconds: 5, WaitSeconds: 5, Requested: r.clock.Now().UTC(), By: "mysql-2"}
}

// post writes raw as the request on the Lease, as `switchover` does.
func (r *switchoverRig) post(raw string) {
	l := r.lease()
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[SwitchoverAnnotation] = raw
	r.api.SetLease(*l)
}

func (r *switchoverRig) postRequest(req switchoverRequest) {
	b, err := json.Marshal(req)
	if err != nil {
		r.t.Fatal(err)
	}
	r.post(string(b))
}

// result is the outcome on the Lease; it fails the test if there is none
// or the request is still there.
func (r *switchoverRig) result() wire.SwitchoverStatus {
	r.t.Helper()
	l := r.lease()
	if raw, ok := l.Annotations[SwitchoverAnnotation]; ok {
		r.t.Errorf("the request is still on the Lease: %s", raw)
	}
	raw, ok := l.Annotations[SwitchoverResultAnnotation]
	if !ok {
		r.t.Fatalf("no %s on the Lease: %+v", SwitchoverResultAnnotation, l.Annotations)
	}
	var s wire.SwitchoverStatus
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		r.t.Fatalf("%s = %s: %v", SwitchoverResultAnnotation, raw, err)
	}
	return s
}

// refusedWithoutFence checks what every refusal leaves: the Lease where it
// was, the outcome recorded, the request gone, the server untouched.
func (r *switchoverRig) refusedWithoutFence(id, reason string) {
	r.t.Helper()
	res := r.result()
	if res.State != wire.SwitchoverRefused || res.ID != id || res.From != "mysql-0" || !strings.Contains(res.Reason, reason) {
		r.t.Errorf("outcome = %+v, want refused (id %q) with a reason containing %q", res, id, reason)
	}
	if l := r.lease(); l.HolderIdentity != "mysql-0" || l.LeaseTransitions != 0 {
		r.t.Errorf("Lease after a refusal: holder %s, transitions %d, want mysql-0 and 0", l.HolderIdentity, l.LeaseTransitions)
	}
	if n := r.fences.Load(); n != 0 {
		r.t.Errorf("fenceServer called %d times for a refused switchover, want 0", n)
	}
	if v := r.view(); v != (leaseView{Holder: "mysql-0"}) {
		r.t.Errorf("view after a refusal = %+v, want the holder taking writes", v)
	}
	if !hasEvent(r.api.Events(), "mysql-0", "Warning", "SwitchoverRefused") {
		r.t.Errorf("events = %+v, want a Warning SwitchoverRefused on mysql-0", r.api.Events())
	}
}

func TestSwitchoverRefusedByCheck(t *testing.T) {
	t.Parallel()
	r := newSwitchoverRig(t)
	r.ops.refusal = "mysql-1 is not ready: replication stopped"
	r.postRequest(r.newRequest("mysql-1"))
	r.tick()
	r.refusedWithoutFence("req1", "mysql-1 is not ready: replication stopped")
	if got, want := r.ops.Steps(), []string{"check mysql-1"}; !cmp.Equal(got, want) {
		t.Errorf("steps = %q, want %q", got, want)
	}
	if res := r.result(); res.To != "mysql-1" || res.Finished.IsZero() || res.Started.IsZero() {
		t.Errorf("outcome = %+v, want to mysql-1 with start and finish times", res)
	}
	// The request is served once.
	r.tick()
	if got := r.ops.Steps(); len(got) != 1 {
		t.Errorf("steps after another read = %q, want the request served once", got)
	}
	if got := r.api.Labels("mysql-0")[RoleLabel]; got != "" {
		t.Errorf("a refused switchover labelled the pod %s=%s", RoleLabel, got)
	}
}

func TestSwitchoverRefusesAnOldRequest(t *testing.T) {
	t.Parallel()
	r := newSwitchoverRig(t)
	req := r.newRequest("mysql-1")
	req.Requested = r.clock.Now().Add(-requestMaxAge - time.Second)
	r.postRequest(req)
	r.tick()
	r.refusedWithoutFence("req1", "old")
	if got := r.ops.Steps(); len(got) != 0 {
		t.Errorf("an old request got as far as %q", got)
	}
}

func TestSwitchoverRefusesAMalformedRequest(t *testing.T) {
	t.Parallel()
	for name, raw := range map[string]string{
		"not JSON":  "mysql-1 please",
		"no id":     `{"to":"mysql-1","waitSeconds":5}`,
		"no target": `{"id":"x","waitSeconds":5}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newSwitchoverRig(t)
			r.post(raw)
			r.tick()
			res := r.result()
			if res.State != wire.SwitchoverRefused || !strings.Contains(res.Reason, "not one `mysql-bootstrap switchover` writes") {
				t.Errorf("outcome = %+v, want refused as malformed", res)
			}
			r.refusedWithoutFence(res.ID, "not one")
			if got := r.ops.Steps(); len(got) != 0 {
				t.Errorf("a malformed request got as far as %q", got)
			}
		})
	}
}

func TestSwitchoverDone(t *testing.T) {
	t.Parallel()
	r := newSwitchoverRig(t)
	r.ops.onApplied = func(n int, d time.Duration) (bool, error) {
		if n == 1 {
			r.clock.Advance(d) // waited its whole chunk: not yet
			return false, nil
		}
		r.clock.Advance(400 * time.Millisecond)
		return true, nil
	}
	// The target's keeper, to see it take over.
	target := newKeeperRig(t, r.api, "mysql-1", leaseTestConfig(2*time.Second, 10*time.Second))
	target.tick()
	r.postRequest(r.newRequest("mysql-1"))
	r.tick()

	want := []string{"check mysql-1", "fence", "position", "applied mysql-1 " + testPos, "applied mysql-1 " + testPos, "wake mysql-1"}
	if got := r.ops.Steps(); !cmp.Equal(got, want) {
		t.Errorf("steps = %q, want %q (the fence before the position is read)", got, want)
	}
	for _, d := range r.ops.waits {
		if d <= 0 || d > time.Second {
			t.Errorf("applied was given %s, want a chunk of at most 1s", d)
		}
	}
	l := r.lease()
	if l.HolderIdentity != "mysql-1" || l.LeaseTransitions != 1 || !l.AcquireTime.Equal(l.RenewTime) {
		t.Errorf("Lease after the switchover: %+v, want holder mysql-1, transitions 1, acquired when renewed", l)
	}
	res := r.result()
	if res.ID != "req1" || res.State != wire.SwitchoverDone || res.From != "mysql-0" || res.To != "mysql-1" || res.GTIDs != testPos ||
		res.ReadOnlyMillis != 1400 || res.Reason != "" {
		t.Errorf("outcome = %+v, want done from mysql-0 to mysql-1 with the GTIDs and 1400 ms read-only", res)
	}
	if n := r.fences.Load(); n != 1 {
		t.Errorf("fenceServer called %d times, want 1", n)
	}
	if v := r.view(); v != (leaseView{Holder: "mysql-1"}) {
		t.Errorf("the old holder's view = %+v, want holder mysql-1", v)
	}
	if st := r.k.status(time.Now()); st.LastSwitchover == nil || st.LastSwitchover.ID != "req1" || st.Transitions != 1 {
		t.Errorf("status = %+v, want the last switchover and 1 transition", st)
	}
	evs := r.api.Events()
	if !hasEvent(evs, "mysql-0", "Normal", "SwitchoverDone") || !hasEvent(evs, "mysql-1", "Normal", "SwitchoverDone") {
		t.Errorf("events = %+v, want SwitchoverDone on both pods", evs)
	}
	if got := r.api.Labels("mysql-0")[RoleLabel]; got != roleLabelReplica {
		t.Errorf("the old holder's label %s=%q, want replica", RoleLabel, got)
	}

	// The old holder stays fenced and does not write the Lease again.
	rv := r.lease().ResourceVersion
	r.tick()
	if n := r.fences.Load(); n != 1 || r.lease().ResourceVersion != rv {
		t.Errorf("after another read: %d fences, Lease at %s (was %s)", n, r.lease().ResourceVersion, rv)
	}
	// The target reads the Lease, renews it and may take writes.
	target.tick()
	if v := target.view(); v != (leaseView{Holder: "mysql-1"}) {
		t.Errorf("the target's view = %+v, want holder mysql-1 with no fence", v)
	}
	if l := r.lease(); l.ResourceVersion == rv || l.HolderIdentity != "mysql-1" || l.LeaseTransitions != 1 {
		t.Errorf("the target did not renew the Lease: %+v", l)
	}
}

func TestSwitchoverAbortedWhenTheTargetLags(t *testing.T) {
	t.Parallel()
	r := newSwitchoverRig(t)
	r.ops.onApplied = func(_ int, d time.Duration) (bool, error) {
		r.clock.Advance(d)
		return false, nil
	}
	req := r.newRequest("mysql-1")
	req.WaitSeconds = 2
	r.postRequest(req)
	r.tick()

	res := r.result()
	if res.State != wire.SwitchoverAborted || res.ID != "req1" || !strings.Contains(res.Reason, "had not applied") || !strings.Contains(res.Reason, "--wait 2s") {
		t.Errorf("outcome = %+v, want aborted: the target had not applied within --wait 2s", res)
	}
	if l := r.lease(); l.HolderIdentity != "mysql-0" || l.LeaseTransitions != 0 {
		t.Errorf("Lease after an abort: %+v, want mysql-0 still holding it", l)
	}
	if got := len(r.ops.waits); got != 2 {
		t.Errorf("applied called %d times in 2s of 1s chunks, want 2", got)
	}
	if !hasEvent(r.api.Events(), "mysql-0", "Warning", "SwitchoverAborted") {
		t.Errorf("events = %+v, want a Warning SwitchoverAborted", r.api.Events())
	}
	if v := r.view(); v != (leaseView{Holder: "mysql-0"}) {
		t.Errorf("view after the abort = %+v, want the holder free to take writes again", v)
	}
	r.tick()
	if v := r.view(); v != (leaseView{Holder: "mysql-0"}) {
		t.Errorf("view after renewing = %+v", v)
	}
	ran := false
	if err := r.k.whileWritable(func() error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("whileWritable after the abort: %v (ran %v), want the server made writable again", err, ran)
	}
	if n := r.fences.Load(); n != 1 {
		t.Errorf("fenceServer called %d times, want 1", n)
	}
	if got := r.ops.Steps(); strings.Contains(strings.Join(got, ","), "wake") {
		t.Errorf("an aborted switchover woke the target: %q", got)
	}
}

func TestSwitchoverAbortedOnFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		script func(r *switchoverRig)
		reason string
		steps  []string
	}{
		{"fence fails", func(r *switchoverRig) {
			err := errors.New("connection refused")
			r.fenceErr.Store(&err)
		}, "read-only", []string{"check mysql-1", "fence"}},
		{"position unreadable", func(r *switchoverRig) { r.ops.posErr = errors.New("gone away") },
			"cannot read this primary's final GTID position: gone away", []string{"check mysql-1", "fence", "position"}},
		{"target unreachable", func(r *switchoverRig) {
			r.ops.onApplied = func(int, time.Duration) (bool, error) { return false, errors.New("i/o timeout") }
		}, "cannot ask mysql-1 whether it applied", []string{"check mysql-1", "fence", "position", "applied mysql-1 " + testPos}},
		// The target took a write of its own after the check: the last
		// comparison, after the wait, stops the Lease from moving.
		{"errant on the target after the wait", func(r *switchoverRig) { r.ops.errantSet = "errant GTIDs 0-101-1" },
			"mysql-1's transactions differ from this primary's final ones (errant GTIDs 0-101-1)", []string{"check mysql-1", "fence", "position", "applied mysql-1 " + testPos}},
		{"target's transactions unreadable after the wait", func(r *switchoverRig) { r.ops.errantErr = errors.New("access denied") },
			"cannot compare mysql-1's transactions with this primary's: access denied", []string{"check mysql-1", "fence", "position", "applied mysql-1 " + testPos}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newSwitchoverRig(t)
			tc.script(r)
			r.postRequest(r.newRequest("mysql-1"))
			r.tick()
			res := r.result()
			if res.State != wire.SwitchoverAborted || !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("outcome = %+v, want aborted with %q", res, tc.reason)
			}
			if got := r.ops.Steps(); !cmp.Equal(got, tc.steps) {
				t.Errorf("steps = %q, want %q", got, tc.steps)
			}
			if l := r.lease(); l.HolderIdentity != "mysql-0" || l.LeaseTransitions != 0 {
				t.Errorf("Lease after an abort: %+v, want mysql-0 still holding it", l)
			}
			if v := r.view(); v != (leaseView{Holder: "mysql-0"}) {
				t.Errorf("view after the abort = %+v", v)
			}
		})
	}
}

// Another writer changes the Lease while the holder waits for the target:
// the move is tried again on a fresh read if this pod still holds it.
func TestSwitchoverMoveConflict(t *testing.T) {
	t.Parallel()
	t.Run("still the holder", func(t *testing.T) {
		t.Parallel()
		r := newSwitchoverRig(t)
		r.ops.onApplied = func(int, time.Duration) (bool, error) {
			l := r.lease()
			l.Annotations["someone/else"] = "was here"
			r.api.SetLease(*l)
			return true, nil
		}
		r.postRequest(r.newRequest("mysql-1"))
		r.tick()
		l := r.lease()
		if l.HolderIdentity != "mysql-1" || l.LeaseTransitions != 1 || l.Annotations["someone/else"] != "was here" {
			t.Errorf("Lease = %+v, want holder mysql-1, transitions 1, the other writer's annotation kept", l)
		}
		if res := r.result(); res.State != wire.SwitchoverDone {
			t.Errorf("outcome = %+v, want done", res)
		}
		if v := r.view(); v != (leaseView{Holder: "mysql-1"}) {
			t.Errorf("view = %+v", v)
		}
	})
	t.Run("holder changed", func(t *testing.T) {
		t.Parallel()
		r := newSwitchoverRig(t)
		r.ops.onApplied = func(int, time.Duration) (bool, error) {
			l := r.lease()
			l.HolderIdentity = "mysql-2"
			l.LeaseTransitions++
			r.api.SetLease(*l)
			return true, nil
		}
		r.postRequest(r.newRequest("mysql-1"))
		r.tick()
		l := r.lease()
		if l.HolderIdentity != "mysql-2" || l.LeaseTransitions != 1 {
			t.Errorf("Lease = %+v, want mysql-2's write left alone", l)
		}
		if _, ok := l.Annotations[SwitchoverResultAnnotation]; ok {
			t.Errorf("a pod that no longer holds the Lease wrote an outcome: %+v", l.Annotations)
		}
		found := false
		for _, e := range r.api.Events() {
			if e.Reason == "SwitchoverAborted" && e.Type == "Warning" && strings.Contains(e.Message, `held by "mysql-2"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("events = %+v, want a SwitchoverAborted naming mysql-2", r.api.Events())
		}
		if got := r.ops.Steps(); strings.Contains(strings.Join(got, ","), "wake") {
			t.Errorf("woke the target of a failed move: %q", got)
		}
		if v := r.view(); v != (leaseView{Holder: "mysql-2"}) {
			t.Errorf("view = %+v, want holder mysql-2", v)
		}
		if n := r.fences.Load(); n < 1 {
			t.Error("the pod was never fenced")
		}
	})
}

func sqldialectParse(version string) (*sqldialect.Dialect, error) {
	srv, err := sqldialect.ParseVersion(version)
	if err != nil {
		return nil, err
	}
	return sqldialect.New(srv)
}

func parseSet(d *sqldialect.Dialect, s string) (sqldialect.GTIDSet, error) {
	return sqldialect.ParseGTIDSet(d.Server().Flavor, s)
}

// staleness is a *int64 for a Status.
func staleness(n int64) *int64 { return &n }

func TestTargetRefusal(t *testing.T) {
	t.Parallel()
	const (
		primaryHost = "mysql-0.mysql.db.svc.cluster.local"
		uuidA       = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
		uuidB       = "4f22ab58-82db-22f2-af44-d91bb0530673"
	)
	good := func(gtids string) *wire.Status {
		return &wire.Status{Pod: "mysql-1", Role: wire.RoleReplica, ServerUp: true, Ready: true, Reason: "replicating", GTIDExecuted: gtids,
			Replication: &wire.ReplicationStatus{Configured: true, SourceHost: primaryHost, StalenessSeconds: staleness(0)}}
	}
	mysqlMine := uuidA + ":1-42"
	mariaMine := "0-100-42"
	for _, tc := range []struct {
		name    string
		version string // the primary's
		mine    string
		st      func(st *wire.Status)
		gtids   string
		want    string // "" when it may take over
	}{
		{name: "all good mysql", version: "8.4.3", mine: mysqlMine, gtids: uuidA + ":1-42"},
		{name: "all good mariadb", version: "10.11.9-MariaDB", mine: mariaMine, gtids: "0-100-42"},
		{name: "behind but within max lag", version: "8.4.3", mine: mysqlMine, gtids: uuidA + ":1-40",
			st: func(st *wire.Status) { st.Replication.StalenessSeconds = staleness(5) }},
		{name: "mariadb behind", version: "10.11.9-MariaDB", mine: mariaMine, gtids: "0-100-40"},
		{name: "empty replica", version: "8.4.3", mine: mysqlMine, gtids: ""},
		{name: "not a replica", version: "8.4.3", mine: mysqlMine, gtids: uuidA + ":1-42",
			st: func(st *wire.Status) { st.Role = wire.RolePrimary }, want: "mysql-1 is not a replica (primary)"},
		{name: "server down", version: "8.4.3", mine: mysqlMine, gtids: uuidA + ":1-42",
			st: func(st *wire.Status) { st.ServerUp = false }, want: "mysql-1's server does not answer"},
		{name: "unreadable GTIDs", version: "8.4.3", mine: mysqlMine, gtids: "not-a-gtid-set", want: "mysql-1's server does not answer"},
		{name: "errant mysql", version: "8.4.3", mine: mysqlMine, gtids: uuidA + ":1-42," + uuidB + ":1-3",
			want: "mysql-1 has transactions this primary lacks (errant GTIDs " + uuidB + ":1-3)"},
		{name: "errant mysql, ahead of the primary", version: "8.4.3", mine: mysqlMine, gtids: uuidA + ":1-43",
			want: "errant GTIDs " + uuidA + ":43"},
		{name: "errant mariadb, another server", version: "10.11.9-MariaDB", mine: mariaMine, gtids: "0-100-42,0-101-3",
			want: "mysql-1 has transactions this primary lacks (errant GTIDs 0-101-3)"},
		{name: "errant mariadb, another domain", version: "10.11.9-MariaDB", mine: mariaMine, gtids: "0-100-42,1-101-1",
			want: "errant GTIDs 1-101-1"},
		{name: "not ready", version: "8.4.3", mine: mysqlMine, gtids: uuidA + ":1-42",
			st: func(st *wire.Status) { st.Ready, st.Reason = false, "replication SQL thread stopped" }, want: "mysql-1 is not ready: replication SQL thread stopped"},
		{name: "replicates from another host", version: "8.4.3", mine: mysqlMine, gtids: uuidA + ":1-42",
			st:   func(st *wire.Status) { st.Replication.SourceHost = "mysql-2.mysql.db.svc.cluster.local" },
			want: "mysql-1 does not replicate from this primary"},
		{name: "no replication channel", version: "8.4.3", mine: mysqlMine, gtids: uuidA + ":1-42",
			st: func(st *wire.Status) { st.Replication = nil }, want: "mysql-1 does not replicate from this primary"},
		{name: "channel not configured", version: "8.4.3", mine: mysqlMine, gtids: uuidA + ":1-42",
			st: func(st *wire.Status) { st.Replication.Configured = false }, want: "mysql-1 does not replicate from this primary"},
		{name: "unknown staleness", version: "8.4.3", mine: mysqlMine, gtids: uuidA + ":1-42",
			st: func(st *wire.Status) { st.Replication.StalenessSeconds = nil }, want: "mysql-1's lag is unknown"},
		{name: "lag above max", version: "8.4.3", mine: mysqlMine, gtids: uuidA + ":1-42",
			st:   func(st *wire.Status) { st.Replication.StalenessSeconds = staleness(6) },
			want: "mysql-1 lags: its data may be 6s old, more than --max-lag 5s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, err := sqldialectParse(tc.version)
			if err != nil {
				t.Fatal(err)
			}
			mine, err := parseSet(srv, tc.mine)
			if err != nil {
				t.Fatal(err)
			}
			st := good(tc.gtids)
			if tc.st != nil {
				tc.st(st)
			}
			got := targetRefusal(st, mine, srv, primaryHost, 5*time.Second)
			switch {
			case tc.want == "" && got != "":
				t.Errorf("targetRefusal = %q, want none", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("targetRefusal = %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

func TestTargetRefusalCheckOrder(t *testing.T) {
	t.Parallel()
	// An errant replica is also not ready; the errant GTIDs are the reason
	// given, since they say what to do (rebuild it).
	d, _ := sqldialectParse("8.4.3")
	mine, _ := parseSet(d, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5")
	st := &wire.Status{Pod: "mysql-1", Role: wire.RoleReplica, ServerUp: true, Ready: false, Reason: "errant",
		GTIDExecuted: "4f22ab58-82db-22f2-af44-d91bb0530673:1"}
	if got := targetRefusal(st, mine, d, "h", time.Second); !strings.Contains(got, "errant GTIDs") {
		t.Errorf("targetRefusal = %q, want the errant GTIDs named before readiness", got)
	}
}

// applied asks the target to wait at most about d, and never without a
// bound: WAIT_FOR_EXECUTED_GTID_SET(pos, 0) waits for ever on MySQL, and
// MASTER_GTID_WAIT(pos, 0) does not wait at all on MariaDB.
func TestSwitchoverAppliedWaitsBounded(t *testing.T) {
	for _, tc := range []struct {
		version, query string
		answer         int64 // the function's result when applied
	}{
		{"8.4.3", "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)", 0},
		{"10.11.9-MariaDB", "SELECT MASTER_GTID_WAIT(?, ?)", 0},
	} {
		t.Run(tc.version, func(t *testing.T) {
			s := newSeam(t, wire.RolePrimary)
			s.local.On("SELECT VERSION()", fakesql.Row(tc.version))
			var mu sync.Mutex
			var timeouts []any
			s.login.OnFunc(tc.query, func(q string) bool { return q == tc.query }, func(_ context.Context, _ string, args []any) fakesql.Result {
				mu.Lock()
				timeouts = append(timeouts, args[1])
				mu.Unlock()
				return fakesql.Row(tc.answer)
			})
			o := sidecarSwitchover{s: s.sc}
			for _, d := range []time.Duration{300 * time.Millisecond, 0, time.Second} {
				ok, err := o.applied(context.Background(), "mysql-1", testPos, d)
				if err != nil || !ok {
					t.Errorf("applied(%s) = %v, %v; want true", d, ok, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			want := []any{int64(1), int64(1), int64(1)}
			if !cmp.Equal(timeouts, want) {
				t.Errorf("timeouts sent = %v, want %v (at least 1 s, never 0)", timeouts, want)
			}
		})
	}
}

// The command's tests replace newSwitchoverAPI and wakeHolder, package
// variables: they do not run in parallel.

// useFakeSwitchoverAPI points the command at api and records the holders
// it wakes instead of dialling them.
func useFakeSwitchoverAPI(t *testing.T, api *kubetest.Server) (woken func() []string) {
	t.Helper()
	oldAPI, oldWake := newSwitchoverAPI, wakeHolder
	var mu sync.Mutex
	var hosts []string
	newSwitchoverAPI = func(ns string) (switchoverAPI, error) {
		if ns != "db" {
			return nil, fmt.Errorf("namespace %q, want db", ns)
		}
		return api.Client(ns), nil
	}
	wakeHolder = func(_ context.Context, host, httpAddr string) error {
		mu.Lock()
		hosts = append(hosts, host+" "+httpAddr)
		mu.Unlock()
		return nil
	}
	t.Cleanup(func() { newSwitchoverAPI, wakeHolder = oldAPI, oldWake })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), hosts...)
	}
}

func switchoverEnv() map[string]string {
	return map[string]string{"POD_NAME": "mysql-2", "POD_NAMESPACE": "db", "SERVICE_NAME": "mysql", "PRIMARY": "kubernetes", "HTTP_ADDR": ":8080"}
}

// runSwitchoverCommand runs `mysql-bootstrap switchover args` as main does.
func runSwitchoverCommand(t *testing.T, env map[string]string, args ...string) (stdout string, err error) {
	t.Helper()
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = Run(ctx, append([]string{"switchover"}, args...), Stdio{Out: &out, Err: &errOut}, Loader{Lookuper: envconfig.MapLookuper(env)})
	return out.String(), err
}

// actAsHolder waits for a request on the Lease (other than ignore) and
// answers it as the holder's sidecar would: the outcome under the
// request's id, and for done, the Lease moved. It returns the request it
// saw.
func actAsHolder(t *testing.T, api *kubetest.Server, state, reason, ignore string) <-chan switchoverRequest {
	seen := make(chan switchoverRequest, 1)
	go func() {
		defer close(seen)
		var req switchoverRequest
		var l *kube.Lease
		ok := eventually(10*time.Second, func() bool {
			var found bool
			l, found = api.Lease("mysql")
			return found && json.Unmarshal([]byte(l.Annotations[SwitchoverAnnotation]), &req) == nil && req.ID != ignore
		})
		if !ok {
			t.Error("no request appeared on the Lease")
			return
		}
		to := req.To
		if to == anyReadyReplica {
			to = "mysql-1"
		}
		res := wire.SwitchoverStatus{ID: req.ID, State: state, From: l.HolderIdentity, To: to, Reason: reason, ReadOnlyMillis: 120}
		b, _ := json.Marshal(res)
		delete(l.Annotations, SwitchoverAnnotation)
		l.Annotations[SwitchoverResultAnnotation] = string(b)
		if state == wire.SwitchoverDone {
			l.HolderIdentity = to
			l.LeaseTransitions++
		}
		api.SetLease(*l)
		seen <- req
	}()
	return seen
}

func TestSwitchoverCommandBadArguments(t *testing.T) {
	api := kubetest.New(t)
	api.SetLease(leaseWith("mysql-0", nil))
	useFakeSwitchoverAPI(t, api)
	ordinal0 := switchoverEnv()
	delete(ordinal0, "PRIMARY")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"PRIMARY unset", ordinal0, []string{"--to", "mysql-1"}, "PRIMARY=kubernetes"},
		{"no --to", switchoverEnv(), nil, "--to"},
		{"--to of another StatefulSet", switchoverEnv(), []string{"--to", "other-1"}, "StatefulSet mysql"},
		{"--to not a pod name", switchoverEnv(), []string{"--to", "primary"}, "StatefulSet mysql"},
		{"--wait too long", switchoverEnv(), []string{"--to", "mysql-1", "--wait", "2m", "--timeout", "3m"}, "--wait"},
		{"an argument", switchoverEnv(), []string{"--to", "mysql-1", "now"}, "no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runSwitchoverCommand(t, tc.env, tc.args...)
			if code := ExitCode(err); code != ExitInvalid || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("exit %d, error %v; want exit %d and an error naming %q", code, err, ExitInvalid, tc.want)
			}
		})
	}
	if l, _ := api.Lease("mysql"); len(l.Annotations) != 0 {
		t.Errorf("a refused command line wrote on the Lease: %+v", l.Annotations)
	}
}

func TestSwitchoverCommandTargetHoldsTheLease(t *testing.T) {
	api := kubetest.New(t)
	api.SetLease(leaseWith("mysql-1", nil))
	woken := useFakeSwitchoverAPI(t, api)
	out, err := runSwitchoverCommand(t, switchoverEnv(), "--to", "mysql-1")
	if err != nil || !strings.Contains(out, "mysql-1 already holds the Lease mysql") {
		t.Errorf("exit %d, error %v, output %q; want exit 0 and a message", ExitCode(err), err, out)
	}
	if l, _ := api.Lease("mysql"); len(l.Annotations) != 0 {
		t.Errorf("the command wrote a request for the holder: %+v", l.Annotations)
	}
	if w := woken(); len(w) != 0 {
		t.Errorf("woke %q", w)
	}
}

func TestSwitchoverCommandPendingRequest(t *testing.T) {
	api := kubetest.New(t)
	pending, _ := json.Marshal(switchoverRequest{ID: "abcd1234", To: "mysql-1", WaitSeconds: 10, Requested: time.Now().UTC(), By: "mysql-1"})
	api.SetLease(leaseWith("mysql-0", map[string]string{SwitchoverAnnotation: string(pending)}))
	useFakeSwitchoverAPI(t, api)
	_, err := runSwitchoverCommand(t, switchoverEnv(), "--to", "mysql-2")
	if code := ExitCode(err); code != ExitFailure || err == nil || !strings.Contains(err.Error(), "abcd1234") || !strings.Contains(err.Error(), "pending") {
		t.Errorf("exit %d, error %v; want exit 1 naming the pending switchover abcd1234", code, err)
	}
	if l, _ := api.Lease("mysql"); l.Annotations[SwitchoverAnnotation] != string(pending) {
		t.Errorf("the pending request was replaced: %s", l.Annotations[SwitchoverAnnotation])
	}

	// An old one is replaced.
	stale, _ := json.Marshal(switchoverRequest{ID: "old", To: "mysql-1", Requested: time.Now().Add(-requestMaxAge - time.Minute).UTC()})
	api.SetLease(leaseWith("mysql-0", map[string]string{SwitchoverAnnotation: string(stale)}))
	seen := actAsHolder(t, api, wire.SwitchoverDone, "", "old")
	if _, err := runSwitchoverCommand(t, switchoverEnv(), "--to", "mysql-1"); err != nil {
		t.Errorf("over an old request: %v", err)
	}
	if req := <-seen; req.ID == "old" {
		t.Error("the old request was left in place")
	}
}

func TestSwitchoverCommandDone(t *testing.T) {
	api := kubetest.New(t)
	api.SetLease(leaseWith("mysql-0", map[string]string{"other/annotation": "kept"}))
	woken := useFakeSwitchoverAPI(t, api)
	seen := actAsHolder(t, api, wire.SwitchoverDone, "", "")
	out, err := runSwitchoverCommand(t, switchoverEnv(), "--to", "any-ready-replica", "--max-lag", "3s", "--wait", "7s")
	if err != nil {
		t.Fatalf("exit %d: %v", ExitCode(err), err)
	}
	req := <-seen
	if req.To != anyReadyReplica || req.MaxLagSeconds != 3 || req.WaitSeconds != 7 || req.By != "mysql-2" || req.ID == "" ||
		time.Since(req.Requested) > time.Minute {
		t.Errorf("request = %+v, want to any-ready-replica, max lag 3, wait 7, by mysql-2, just now", req)
	}
	for _, want := range []string{"switchover " + req.ID + ": asked mysql-0", "switchover " + req.ID + " done: mysql-1 is the primary", "120 ms"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	if got, want := woken(), []string{"mysql-0.mysql.db.svc.cluster.local :8080"}; !cmp.Equal(got, want) {
		t.Errorf("woke %q, want %q", got, want)
	}
	if l, _ := api.Lease("mysql"); l.Annotations["other/annotation"] != "kept" {
		t.Errorf("the request dropped another annotation: %+v", l.Annotations)
	}
}

func TestSwitchoverCommandRefused(t *testing.T) {
	api := kubetest.New(t)
	api.SetLease(leaseWith("mysql-0", nil))
	useFakeSwitchoverAPI(t, api)
	seen := actAsHolder(t, api, wire.SwitchoverRefused, "mysql-1 lags: its data may be 9s old, more than --max-lag 5s", "")
	_, err := runSwitchoverCommand(t, switchoverEnv(), "--to", "mysql-1")
	req := <-seen
	if code := ExitCode(err); code != ExitFailure || err == nil || !strings.Contains(err.Error(), "refused: mysql-1 lags") || !strings.Contains(err.Error(), req.ID) {
		t.Errorf("exit %d, error %v; want exit 1 with the id and the reason", code, err)
	}
}

func TestSwitchoverCommandTimesOut(t *testing.T) {
	api := kubetest.New(t)
	api.SetLease(leaseWith("mysql-0", nil))
	useFakeSwitchoverAPI(t, api)
	start := time.Now()
	_, err := runSwitchoverCommand(t, switchoverEnv(), "--to", "mysql-1", "--wait", "1s", "--timeout", "1s")
	if code := ExitCode(err); code != ExitTimeout || err == nil || !strings.Contains(err.Error(), "no outcome") || !strings.Contains(err.Error(), "mysql-0") {
		t.Errorf("exit %d, error %v; want exit 3 saying no outcome came from mysql-0", code, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the command took %s with --timeout 1s", d)
	}
	// The request stays for the holder (it refuses it once old).
	if l, _ := api.Lease("mysql"); l.Annotations[SwitchoverAnnotation] == "" {
		t.Error("no request on the Lease")
	}
}

func TestSwitchoverCommandNoLease(t *testing.T) {
	api := kubetest.New(t)
	useFakeSwitchoverAPI(t, api)
	_, err := runSwitchoverCommand(t, switchoverEnv(), "--to", "mysql-1")
	if code := ExitCode(err); code != ExitFailure || err == nil || !strings.Contains(err.Error(), "read the Lease mysql") {
		t.Errorf("exit %d, error %v; want exit 1 saying the Lease cannot be read", code, err)
	}
}

// wakeSource is a source that can be woken.
type wakeSource struct {
	fakeSource
	wakes atomic.Int32
}

func (w *wakeSource) Wake() { w.wakes.Add(1) }

func TestWakeHandler(t *testing.T) {
	t.Parallel()
	src := &wakeSource{}
	h := newHandler(src)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, PathWake, nil))
	if rec.Code != http.StatusNoContent || src.wakes.Load() != 1 {
		t.Errorf("POST %s = %d, %d wakes; want 204 and 1", PathWake, rec.Code, src.wakes.Load())
	}
	if code, _ := get(t, h, PathWake); code != http.StatusMethodNotAllowed || src.wakes.Load() != 1 {
		t.Errorf("GET %s = %d, %d wakes; want 405 and no wake", PathWake, code, src.wakes.Load())
	}

	plain := newHandler(&fakeSource{})
	rec = httptest.NewRecorder()
	plain.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, PathWake, nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("POST %s on a source without Wake = %d, want 404", PathWake, rec.Code)
	}
}

// The sidecar is such a source: /wake reads the Lease and runs a pass now.
func TestSidecarWake(t *testing.T) {
	t.Parallel()
	s := &Sidecar{wake: make(chan struct{}, 1), keeper: &leaseKeeper{kick: make(chan struct{}, 1)}}
	rec := httptest.NewRecorder()
	newHandler(s).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, PathWake, nil))
	if rec.Code != http.StatusNoContent || len(s.wake) != 1 || len(s.keeper.kick) != 1 {
		t.Errorf("POST %s = %d, pass asked %d, read asked %d; want 204, 1, 1", PathWake, rec.Code, len(s.wake), len(s.keeper.kick))
	}
	// Without a keeper (PRIMARY=ordinal-0) it only asks for a pass.
	s = &Sidecar{wake: make(chan struct{}, 1)}
	s.Wake()
	if len(s.wake) != 1 {
		t.Error("Wake without a keeper did not ask for a pass")
	}
}

func leaseWith(holder string, ann map[string]string) kube.Lease {
	return kube.Lease{Name: "mysql", HolderIdentity: holder, LeaseDurationSeconds: 10, Annotations: ann}
}

// The Lease write that moves it fails without a conflict (its answer may
// have been lost after the API applied it): the old primary stays
// read-only until a read of the Lease says whether it moved.
func TestSwitchoverMoveOutcomeUnknown(t *testing.T) {
	t.Parallel()
	for _, moved := range []bool{false, true} {
		t.Run(fmt.Sprintf("moved=%v", moved), func(t *testing.T) {
			t.Parallel()
			r := newSwitchoverRig(t)
			r.ops.onApplied = func(n int, _ time.Duration) (bool, error) {
				// Every later write of the Lease fails, as an API that
				// does not answer would.
				r.api.Fail("PUT", "/leases/", http.StatusInternalServerError)
				return true, nil
			}
			r.postRequest(r.newRequest("mysql-1"))
			r.tick()
			if v := r.view(); v.Holder != "mysql-0" || !strings.Contains(v.Fence, "handing the Lease over to mysql-1") {
				t.Fatalf("view after a move with no known outcome = %+v, want mysql-0 fenced", v)
			}
			if err := r.k.whileWritable(func() error { t.Error("made writable while the move's outcome is unknown"); return nil }); err == nil {
				t.Error("whileWritable did not refuse")
			}
			r.api.Fail("PUT", "/leases/", 0)
			if moved {
				l := r.lease()
				l.HolderIdentity = "mysql-1"
				r.api.SetLease(*l)
			}
			r.tick()
			want := leaseView{Holder: "mysql-0"}
			if moved {
				want = leaseView{Holder: "mysql-1"}
			}
			if v := r.view(); v != want {
				t.Errorf("view once the Lease is read = %+v, want %+v", v, want)
			}
		})
	}
}

// primary-override with PRIMARY=kubernetes is for the Lease's holder
// only: left on another pod, it would skip the guard of a later
// switchover's target.
func TestPrimaryOverrideFollowsTheLease(t *testing.T) {
	api := kubetest.New(t)
	api.SetLease(leaseWith("mysql-1", nil))
	useFakeSwitchoverAPI(t, api)
	for _, tc := range []struct {
		pod  string
		exit int
	}{{"mysql-0", ExitInvalid}, {"mysql-1", ExitOK}} {
		env := switchoverEnv()
		env["POD_NAME"], env["STATE_DIR"] = tc.pod, t.TempDir()
		env["MYSQL_ROOT_PASSWORD"], env["REPLICATION_PASSWORD"] = "rootpw", "replpw"
		var out, errOut strings.Builder
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := Run(ctx, []string{"primary-override", "--use-own-data"}, Stdio{Out: &out, Err: &errOut}, Loader{Lookuper: envconfig.MapLookuper(env)})
		cancel()
		if ExitCode(err) != tc.exit {
			t.Errorf("%s: exit %d (%v), want %d", tc.pod, ExitCode(err), err, tc.exit)
		}
		if tc.exit == ExitInvalid && (err == nil || !strings.Contains(err.Error(), "holder of the Lease mysql (mysql-1)")) {
			t.Errorf("%s: error %v, want one naming the holder", tc.pod, err)
		}
	}
}
