package bootstrap

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube/kubetest"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// fakeCandidate is a failoverOps whose answer a test sets.
type fakeCandidate struct {
	mu    sync.Mutex
	why   string
	calls []string
	// during, when set, runs inside candidate (before the Lease write).
	during func()
}

func (f *fakeCandidate) candidate(_ context.Context, holder string) (wire.FailoverRecord, string) {
	f.mu.Lock()
	f.calls = append(f.calls, holder)
	why, during := f.why, f.during
	f.mu.Unlock()
	if during != nil {
		during()
	}
	return wire.FailoverRecord{Received: "uuid:1-10", Compared: []string{"mysql-2"}}, why
}

func (f *fakeCandidate) set(why string) {
	f.mu.Lock()
	f.why = why
	f.mu.Unlock()
}

// failoverRig is a holder mysql-0 and a candidate mysql-1 with
// FAILOVER=auto; mysql-1's clock is moved by hand.
func failoverRig(t *testing.T) (api *kubetest.Server, holder, cand *keeperRig, clock *testClock, fc *fakeCandidate) {
	api = kubetest.New(t)
	cfg := leaseTestConfig(2*time.Second, 10*time.Second)
	cfg.FailoverAuto, cfg.SemiSync = true, true
	holder = newKeeperRig(t, api, "mysql-0", cfg)
	cand = newKeeperRig(t, api, "mysql-1", cfg)
	clock = newTestClock()
	cand.k.now = clock.Now
	fc = &fakeCandidate{}
	cand.k.candidates = fc
	holder.tick()
	cand.tick()
	return api, holder, cand, clock, fc
}

// A replica takes the Lease only once it expired on its clock, and only
// when the candidate check passes; it records the failover, and the old
// holder, running again, fences and is told to discard its tail.
func TestFailoverTakesAnExpiredLease(t *testing.T) {
	t.Parallel()
	_, holder, cand, clock, fc := failoverRig(t)
	if v := cand.view(); v.Holder != "mysql-0" || v.Lapsed {
		t.Fatalf("view before expiry = %+v, want holder mysql-0, not lapsed", v)
	}
	if d := cand.k.nextTick(); d > 2*time.Second || d <= 0 {
		t.Errorf("nextTick = %s, want at most the renew interval", d)
	}
	clock.Advance(9 * time.Second)
	if d := cand.k.nextTick(); d > 1100*time.Millisecond {
		t.Errorf("nextTick 1 s before expiry = %s, want about 1 s (the candidate reads at expiry)", d)
	}
	cand.tick()
	if len(fc.calls) != 0 {
		t.Fatalf("candidate asked before the Lease expired: %v", fc.calls)
	}
	if v := cand.view(); !v.Hold || v.Lapsed {
		t.Errorf("view 9 s after the last renewal = %+v: want hold (past the holder's 6 s read-only deadline), not lapsed", v)
	}
	clock.Advance(1100 * time.Millisecond)
	fc.set("waiting for mysql-2 to stop receiving from mysql-0")
	changes := cand.changes.Load()
	cand.tick()
	if v := cand.view(); v.Holder != "mysql-0" || !v.Lapsed {
		t.Fatalf("view after expiry = %+v, want holder mysql-0, lapsed", v)
	}
	if cand.changes.Load() == changes {
		t.Error("the reconcile loop was not woken when the Lease lapsed (its receiver must stop)")
	}
	if got := cand.lease().HolderIdentity; got != "mysql-0" {
		t.Fatalf("the Lease moved to %s while the candidate check refused", got)
	}
	if st := cand.k.status(clock.Now()); st.Failover != "waiting for mysql-2 to stop receiving from mysql-0" {
		t.Errorf("status failover = %q, want the candidate's reason", st.Failover)
	}
	if d := cand.k.nextTick(); d != failoverPoll {
		t.Errorf("nextTick while lapsed = %s, want %s", d, failoverPoll)
	}

	fc.set("")
	cand.tick()
	l := cand.lease()
	if l.HolderIdentity != "mysql-1" {
		t.Fatalf("holder after the candidate check passed = %s, want mysql-1", l.HolderIdentity)
	}
	var rec wire.FailoverRecord
	if err := json.Unmarshal([]byte(l.Annotations[FailoverAnnotation]), &rec); err != nil || rec.From != "mysql-0" || rec.To != "mysql-1" || !rec.SemiSync || rec.Received != "uuid:1-10" {
		t.Fatalf("failover record %q (%v), want from mysql-0 to mysql-1 with semi-sync", l.Annotations[FailoverAnnotation], err)
	}
	if v := cand.view(); v.Holder != "mysql-1" || v.Fence != "" || v.FailedOverFrom != "mysql-0" {
		t.Errorf("new holder's view = %+v, want holder, unfenced, failed over from mysql-0", v)
	}
	if !hasEvent(holder.api.Events(), "mysql-1", "Warning", "FailoverTookLease") {
		t.Error("no FailoverTookLease Event on mysql-1")
	}

	// The old holder runs again: it fences at once and is told its own
	// transactions the new primary lacks were never acknowledged.
	holder.tick()
	if n := holder.fences.Load(); n < 1 {
		t.Error("the old holder did not fence on seeing the failover")
	}
	if v := holder.view(); v.Holder != "mysql-1" || !v.DiscardTail || v.Lapsed {
		t.Errorf("old holder's view = %+v, want holder mysql-1, discard its tail", v)
	}
	if got := holder.lease().HolderIdentity; got != "mysql-1" {
		t.Errorf("the old holder took the Lease back: %s", got)
	}
}

// The holder renewing between the candidate's read and its write makes
// the write fail (resourceVersion): the Lease stays.
func TestFailoverLosesToARenewal(t *testing.T) {
	t.Parallel()
	_, holder, cand, clock, fc := failoverRig(t)
	clock.Advance(11 * time.Second)
	fc.during = func() { holder.tick() }
	cand.tick()
	if got := cand.lease().HolderIdentity; got != "mysql-0" {
		t.Fatalf("holder = %s: the candidate's write on a stale resourceVersion succeeded", got)
	}
	if st := cand.k.status(clock.Now()); !strings.Contains(st.Error, "take the expired Lease from mysql-0") {
		t.Errorf("status error = %q, want the failed take named", st.Error)
	}
	// It saw the renewal: not lapsed any more.
	fc.during = nil
	cand.tick()
	if v := cand.view(); v.Lapsed || v.Holder != "mysql-0" {
		t.Errorf("view after the holder renewed = %+v, want mysql-0, not lapsed", v)
	}
}

// Without FAILOVER=auto an expired Lease is never taken.
func TestFailoverOffNeverTakes(t *testing.T) {
	t.Parallel()
	api := kubetest.New(t)
	cfg := leaseTestConfig(2*time.Second, 10*time.Second)
	holder := newKeeperRig(t, api, "mysql-0", cfg)
	other := newKeeperRig(t, api, "mysql-1", cfg)
	clock := newTestClock()
	other.k.now = clock.Now
	holder.tick()
	other.tick()
	clock.Advance(time.Minute)
	other.tick()
	if v := other.view(); v.Lapsed || v.Holder != "mysql-0" {
		t.Errorf("view = %+v, want mysql-0 and no lapse with FAILOVER=off", v)
	}
	if got := other.lease().HolderIdentity; got != "mysql-0" {
		t.Errorf("holder = %s with FAILOVER=off", got)
	}
}

// A switchover removes the failover record: the next holder's guard
// waits for every peer again, and the old holder keeps its data.
func TestSwitchoverClearsTheFailoverRecord(t *testing.T) {
	t.Parallel()
	_, _, cand, clock, _ := failoverRig(t)
	clock.Advance(11 * time.Second)
	cand.tick()
	if cand.view().FailedOverFrom != "mysql-0" {
		t.Fatal("no failover")
	}
	got, err := cand.k.moveLease(context.Background(), "mysql-2", wire.SwitchoverStatus{ID: "x", State: wire.SwitchoverDone})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Annotations[FailoverAnnotation]; ok {
		t.Errorf("the failover record stayed on a Lease moved by a switchover: %v", got.Annotations)
	}
}

// A write to the Lease that is no renewal (a switchover request posted
// while the holder is frozen) does not restart its clock.
func TestFailoverClockIgnoresOtherWrites(t *testing.T) {
	t.Parallel()
	api, _, cand, clock, _ := failoverRig(t)
	clock.Advance(5 * time.Second)
	l := cand.lease()
	l.Annotations = map[string]string{SwitchoverAnnotation: `{"id":"x","to":"mysql-2"}`}
	api.SetLease(*l)
	cand.tick()
	if got := cand.lease().ResourceVersion; got == "" {
		t.Fatal("no resourceVersion")
	}
	clock.Advance(5100 * time.Millisecond)
	if v := cand.view(); !v.Lapsed {
		t.Errorf("view 10.1 s after the last renewal, a request written at 5 s = %+v: want lapsed", v)
	}
}

// A holding replica says it restarted unless its data was proven
// complete against the primary since its server started: a restart drops
// the relay log, which may have held an acknowledged write.
func TestFailoverHoldRestarted(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		fresh time.Time
		want  bool
	}{
		{"proven since its start", start.Add(time.Minute), false},
		{"never proven", time.Time{}, true},
		{"proven only before its start", start.Add(-time.Minute), true},
	} {
		o := decide.Observation{Local: decide.LocalFacts{Up: true, StartedAt: start, Server: sqldialect.Server{Flavor: sqldialect.MySQL}},
			Replica: &decide.ReplicaFacts{Channel: sqldialect.ReplicaStatus{IO: sqldialect.ThreadStopped}}}
		h := failoverHold("mysql-0", o, decide.Decision{Memory: decide.Memory{FreshAsOf: tc.fresh}})
		if h == nil || h.Restarted != tc.want {
			t.Errorf("%s: hold %+v, want restarted %v", tc.name, h, tc.want)
		}
	}
}
