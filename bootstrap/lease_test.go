package bootstrap

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube/kubetest"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// testClock is a clock tests move by hand. It starts at the real time, so
// that the keeper's fence timers (real timers, set from the clock's
// reading) wait about as long as the clock says.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// keeperRig is one pod's leaseKeeper on a kubetest API server, with a
// fenceServer that counts its calls.
type keeperRig struct {
	t       *testing.T
	api     *kubetest.Server
	k       *leaseKeeper
	fences  atomic.Int32
	changes atomic.Int32
	// fenced receives the time of every fenceServer call.
	fenced chan time.Time
	// fenceErr, when set, is what fenceServer returns.
	fenceErr atomic.Pointer[error]
	// hook, when set, runs inside fenceServer (tests record the order of
	// calls with it).
	hook func()
}

// leaseTestConfig is a Config with only the Lease's timings: fenceAfter
// is duration - 2 x renew.
func leaseTestConfig(renew, duration time.Duration) *Config {
	return &Config{PrimaryMode: PrimaryKubernetes, LeaseDuration: duration, LeaseRenewInterval: renew}
}

// newKeeperRig builds the keeper of pod (of StatefulSet mysql unless the
// name says otherwise) on api. Its fence timer is stopped when the test
// ends.
func newKeeperRig(t *testing.T, api *kubetest.Server, pod string, cfg *Config) *keeperRig {
	t.Helper()
	sts, ord, err := wire.ParsePodName(pod)
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{Pod: pod, StatefulSet: sts, Ordinal: ord, Namespace: "db"}
	r := &keeperRig{t: t, api: api, fenced: make(chan time.Time, 16)}
	r.k = newLeaseKeeper(api.Client("db"), cfg, id, slog.New(slog.DiscardHandler))
	r.k.changed = func() { r.changes.Add(1) }
	r.k.fenceServer = func(ctx context.Context) error {
		if r.hook != nil {
			r.hook()
		}
		r.fences.Add(1)
		select {
		case r.fenced <- time.Now():
		default:
		}
		if p := r.fenceErr.Load(); p != nil {
			return *p
		}
		return nil
	}
	t.Cleanup(func() {
		r.k.mu.Lock()
		if r.k.fenceTimer != nil {
			r.k.fenceTimer.Stop()
		}
		r.k.mu.Unlock()
	})
	return r
}

func (r *keeperRig) tick() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.k.tick(ctx)
}

func (r *keeperRig) view() leaseView { return r.k.view(r.k.now()) }

// lease returns the Lease as the API server stores it.
func (r *keeperRig) lease() *kube.Lease {
	r.t.Helper()
	l, ok := r.api.Lease("mysql")
	if !ok {
		r.t.Fatal("the Lease mysql does not exist")
	}
	return l
}

func hasEvent(evs []kube.Event, pod, typ, reason string) bool {
	for _, e := range evs {
		if e.Pod == pod && e.Type == typ && e.Reason == reason {
			return true
		}
	}
	return false
}

func TestLeaseKeeperPod0CreatesTheLease(t *testing.T) {
	t.Parallel()
	api := kubetest.New(t)
	api.AddPod("mysql-0", "uid-0")
	r := newKeeperRig(t, api, "mysql-0", leaseTestConfig(2*time.Second, 10*time.Second))

	if v := r.view(); v.Holder != "" || !strings.Contains(v.Fence, "has not been read yet") {
		t.Errorf("view before the first read = %+v, want no holder and a fence saying the Lease was not read", v)
	}
	r.tick()
	l := r.lease()
	if l.HolderIdentity != "mysql-0" || l.LeaseDurationSeconds != 10 || l.RenewTime.IsZero() || l.AcquireTime.IsZero() {
		t.Errorf("created Lease = %+v, want holder mysql-0, 10 s, acquire and renew times", l)
	}
	if v := r.view(); v != (leaseView{Holder: "mysql-0"}) {
		t.Errorf("view after creating the Lease = %+v, want holder mysql-0 and no fence", v)
	}
	evs := api.Events()
	if !hasEvent(evs, "mysql-0", "Normal", "LeaseCreated") {
		t.Errorf("events = %+v, want a Normal LeaseCreated on mysql-0", evs)
	} else if evs[0].PodUID != "uid-0" {
		t.Errorf("LeaseCreated event has pod UID %q, want uid-0", evs[0].PodUID)
	}
	if n := r.fences.Load(); n != 0 {
		t.Errorf("fenceServer called %d times, want 0", n)
	}
	if r.changes.Load() == 0 {
		t.Error("changed was not called when the pod became holder")
	}
	if st := r.k.status(time.Now()); st.Holder != "mysql-0" || st.RenewedAt.IsZero() || st.Error != "" {
		t.Errorf("status = %+v, want holder mysql-0, a renewal time and no error", st)
	}
}

func TestLeaseKeeperOtherPodsNeverCreateTheLease(t *testing.T) {
	t.Parallel()
	api := kubetest.New(t)
	r := newKeeperRig(t, api, "mysql-1", leaseTestConfig(2*time.Second, 10*time.Second))
	r.tick()
	r.tick()
	if _, ok := api.Lease("mysql"); ok {
		t.Fatal("pod mysql-1 created the Lease; only mysql-0 may")
	}
	v := r.view()
	if v.Holder != "" || !strings.Contains(v.Fence, "does not exist yet") || !strings.Contains(v.Fence, "mysql-0 creates it") {
		t.Errorf("view = %+v, want no holder and a fence saying mysql-0 creates the Lease", v)
	}
	if err := r.k.whileWritable(func() error { t.Error("whileWritable ran f on a pod with no Lease"); return nil }); err == nil {
		t.Error("whileWritable without a Lease: nil error, want a refusal")
	}
	if n := r.fences.Load(); n != 0 {
		t.Errorf("fenceServer called %d times on a pod that never held the Lease, want 0", n)
	}
}

func TestLeaseKeeperRenews(t *testing.T) {
	t.Parallel()
	api := kubetest.New(t)
	r := newKeeperRig(t, api, "mysql-0", leaseTestConfig(2*time.Second, 10*time.Second))
	clock := newTestClock()
	r.k.now = clock.Now
	r.tick()
	first := r.lease()
	clock.Advance(2 * time.Second)
	r.tick()
	second := r.lease()
	if second.ResourceVersion == first.ResourceVersion {
		t.Errorf("renewal kept resourceVersion %s", first.ResourceVersion)
	}
	if !second.RenewTime.After(first.RenewTime) || second.RenewTime.Sub(first.RenewTime) != 2*time.Second {
		t.Errorf("renewTime %s then %s, want 2s later", first.RenewTime, second.RenewTime)
	}
	if second.HolderIdentity != "mysql-0" || second.LeaseTransitions != first.LeaseTransitions || !second.AcquireTime.Equal(first.AcquireTime) {
		t.Errorf("renewal changed the holder, transitions or acquire time: %+v then %+v", first, second)
	}
	if v := r.view(); v != (leaseView{Holder: "mysql-0"}) {
		t.Errorf("view after renewing = %+v", v)
	}
	r.k.mu.Lock()
	renewedAt := r.k.renewedAt
	r.k.mu.Unlock()
	if !renewedAt.Equal(clock.Now()) {
		t.Errorf("renewedAt = %s, want the start of the last renewal %s", renewedAt, clock.Now())
	}
}

// The holder turns read-only fenceAfter after the start of its last
// successful renewal when the API does not answer, and takes writes again
// once a renewal succeeds.
func TestLeaseKeeperFencesWhenTheAPIIsUnreachable(t *testing.T) {
	t.Parallel()
	api := kubetest.New(t)
	cfg := leaseTestConfig(50*time.Millisecond, 400*time.Millisecond)
	fenceAfter := cfg.LeaseFenceAfter() // 300ms
	r := newKeeperRig(t, api, "mysql-0", cfg)
	r.tick()
	if v := r.view(); v != (leaseView{Holder: "mysql-0"}) {
		t.Fatalf("view after creating the Lease = %+v", v)
	}
	r.k.mu.Lock()
	renewedAt := r.k.renewedAt
	r.k.mu.Unlock()

	api.Block(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.k.tick(ctx) }() // hangs on the API
	var at time.Time
	select {
	case at = <-r.fenced:
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("no fence within 5s of the last renewal while the API hangs")
	}
	if d := at.Sub(renewedAt); d < fenceAfter || d > fenceAfter+time.Second {
		t.Errorf("fenced %s after the start of the last renewal, want %s (and not much later)", d, fenceAfter)
	}
	// view already says so, before any read.
	if v := r.view(); v.Holder != "mysql-0" || !strings.Contains(v.Fence, "past its read-only deadline") {
		t.Errorf("view after the deadline = %+v, want a fence naming the deadline", v)
	}
	if err := r.k.whileWritable(func() error { t.Error("whileWritable ran f past the deadline"); return nil }); err == nil {
		t.Error("whileWritable past the deadline: nil error")
	}
	cancel()
	<-done
	if v := r.view(); !strings.Contains(v.Fence, "cannot read the Lease") {
		t.Errorf("view after the failed read = %+v, want the read's failure in the fence", v)
	}

	api.Block(false)
	r.tick()
	if v := r.view(); v != (leaseView{Holder: "mysql-0"}) {
		t.Errorf("view after a successful renewal = %+v, want no fence", v)
	}
	if n := r.fences.Load(); n != 1 {
		t.Errorf("fenceServer called %d times, want exactly 1", n)
	}
	if r.k.status(time.Now()).Error != "" {
		t.Errorf("status keeps the old error after a success: %+v", r.k.status(time.Now()))
	}
}

func TestLeaseKeeperSeesAnotherHolder(t *testing.T) {
	t.Parallel()
	api := kubetest.New(t)
	cfg := leaseTestConfig(2*time.Second, 10*time.Second)
	holder := newKeeperRig(t, api, "mysql-0", cfg)
	other := newKeeperRig(t, api, "mysql-2", cfg)
	holder.tick()
	other.tick()
	if v := other.view(); v != (leaseView{Holder: "mysql-0"}) {
		t.Errorf("mysql-2's view = %+v, want holder mysql-0 and no fence (a replica)", v)
	}

	l := holder.lease()
	l.HolderIdentity = "mysql-1"
	api.SetLease(*l)
	holder.tick()
	if n := holder.fences.Load(); n != 1 {
		t.Errorf("the old holder called fenceServer %d times on seeing mysql-1 hold the Lease, want 1 at once", n)
	}
	if v := holder.view(); v != (leaseView{Holder: "mysql-1"}) {
		t.Errorf("old holder's view = %+v, want holder mysql-1", v)
	}
	if err := holder.k.whileWritable(func() error { t.Error("whileWritable ran f on a pod that lost the Lease"); return nil }); err == nil ||
		!strings.Contains(err.Error(), "held by mysql-1") {
		t.Errorf("whileWritable after losing the Lease: %v, want a refusal naming mysql-1", err)
	}
	if got := holder.lease(); got.HolderIdentity != "mysql-1" {
		t.Errorf("the old holder wrote the Lease: holder %s", got.HolderIdentity)
	}
	holder.tick()
	if n := holder.fences.Load(); n != 1 {
		t.Errorf("fenceServer called %d times after a second read, want still 1", n)
	}

	other.tick()
	if v := other.view(); v != (leaseView{Holder: "mysql-1"}) {
		t.Errorf("mysql-2's view = %+v, want holder mysql-1", v)
	}
	if n := other.fences.Load(); n != 0 {
		t.Errorf("mysql-2, never holder, called fenceServer %d times", n)
	}
}

// A Lease that names no pod of this StatefulSet (left over from another
// one, or edited by hand) is taken by pod 0; the others stay fenced.
func TestLeaseKeeperVacantLease(t *testing.T) {
	t.Parallel()
	for _, holder := range []string{"other-0", "", "mysql"} {
		t.Run("holder="+holder, func(t *testing.T) {
			t.Parallel()
			api := kubetest.New(t)
			cfg := leaseTestConfig(2*time.Second, 10*time.Second)
			api.SetLease(kube.Lease{Name: "mysql", HolderIdentity: holder, LeaseTransitions: 3, Annotations: map[string]string{"keep/me": "1"}})
			pod0 := newKeeperRig(t, api, "mysql-0", cfg)
			pod1 := newKeeperRig(t, api, "mysql-1", cfg)

			pod1.tick()
			if v := pod1.view(); v.Holder != "" || !strings.Contains(v.Fence, "names no pod of StatefulSet mysql") {
				t.Errorf("mysql-1's view = %+v, want a fence: the Lease names no pod of mysql", v)
			}
			if l := pod1.lease(); l.HolderIdentity != holder || l.LeaseTransitions != 3 {
				t.Errorf("mysql-1 wrote the Lease: %+v", l)
			}

			pod0.tick()
			l := pod0.lease()
			if l.HolderIdentity != "mysql-0" || l.LeaseTransitions != 4 || l.Annotations["keep/me"] != "1" {
				t.Errorf("Lease after mysql-0's read = %+v, want holder mysql-0, transitions 4, the annotation kept", l)
			}
			if v := pod0.view(); v != (leaseView{Holder: "mysql-0"}) {
				t.Errorf("mysql-0's view = %+v", v)
			}
			pod1.tick()
			if v := pod1.view(); v != (leaseView{Holder: "mysql-0"}) {
				t.Errorf("mysql-1's view after mysql-0 took the Lease = %+v", v)
			}
		})
	}
}

func TestLeaseKeeperWhileWritable(t *testing.T) {
	t.Parallel()
	api := kubetest.New(t)
	r := newKeeperRig(t, api, "mysql-0", leaseTestConfig(2*time.Second, 10*time.Second))
	clock := newTestClock()
	r.k.now = clock.Now
	ran := 0
	f := func() error { ran++; return nil }

	if err := r.k.whileWritable(f); err == nil || ran != 0 || !strings.Contains(err.Error(), "not been read yet") {
		t.Errorf("before the first read: %v, ran %d, want a refusal", err, ran)
	}
	r.tick()
	if err := r.k.whileWritable(f); err != nil || ran != 1 {
		t.Errorf("live holder: %v, ran %d, want f run once", err, ran)
	}
	boom := errors.New("boom")
	if err := r.k.whileWritable(func() error { return boom }); !errors.Is(err, boom) {
		t.Errorf("whileWritable returned %v, want f's error", err)
	}
	// Past the deadline on the keeper's clock: refused, though no timer fired.
	clock.Advance(r.k.fenceAfter)
	if err := r.k.whileWritable(f); err == nil || ran != 1 || !strings.Contains(err.Error(), "read-only deadline") {
		t.Errorf("past the deadline: %v, ran %d, want a refusal", err, ran)
	}
	r.tick()
	if err := r.k.whileWritable(f); err != nil || ran != 2 {
		t.Errorf("renewed again: %v, ran %d", err, ran)
	}
	r.k.mu.Lock()
	r.k.handover = "mysql-1"
	r.k.mu.Unlock()
	if err := r.k.whileWritable(f); err == nil || ran != 2 || !strings.Contains(err.Error(), "handing the Lease over to mysql-1") {
		t.Errorf("during a handover: %v, ran %d, want a refusal", err, ran)
	}
}

// stackHas reports whether some goroutine is in fn now.
func stackHas(fn string) bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), fn)
}

// eventually polls cond every few milliseconds until it holds (true) or
// within is over (false).
func eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// A fence that comes while the server is being made writable waits for
// it: the two never overlap.
func TestLeaseKeeperFenceWaitsForWhileWritable(t *testing.T) {
	t.Parallel()
	api := kubetest.New(t)
	r := newKeeperRig(t, api, "mysql-0", leaseTestConfig(2*time.Second, 10*time.Second))
	var inF atomic.Bool
	var overlapped atomic.Bool
	r.hook = func() {
		if inF.Load() {
			overlapped.Store(true)
		}
	}
	r.tick()

	entered, release, wrote := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		wrote <- r.k.whileWritable(func() error {
			inF.Store(true)
			close(entered)
			<-release
			inF.Store(false)
			return nil
		})
	}()
	<-entered
	l := r.lease()
	l.HolderIdentity = "mysql-1"
	api.SetLease(*l)
	ticked := make(chan struct{})
	go func() { defer close(ticked); r.tick() }()

	// Wait until the tick's fence is under way (blocked on the gate).
	if !eventually(5*time.Second, func() bool { return stackHas("bootstrap.(*leaseKeeper).fence(") }) {
		close(release)
		t.Fatal("the tick never reached the fence")
	}
	if n := r.fences.Load(); n != 0 {
		t.Errorf("fenceServer ran %d times while whileWritable's f ran", n)
	}
	close(release)
	if err := <-wrote; err != nil {
		t.Errorf("whileWritable: %v", err)
	}
	select {
	case <-ticked:
	case <-time.After(5 * time.Second):
		t.Fatal("the tick did not end after f returned")
	}
	if n := r.fences.Load(); n != 1 || overlapped.Load() {
		t.Errorf("fenceServer ran %d times (want 1), overlapping f: %v", n, overlapped.Load())
	}
}

func TestLeaseKeeperRoleLabel(t *testing.T) {
	t.Parallel()
	api := kubetest.New(t)
	api.AddPod("mysql-0", "uid-0")
	r := newKeeperRig(t, api, "mysql-0", leaseTestConfig(2*time.Second, 10*time.Second))
	r.tick()
	if got := api.Labels("mysql-0")[RoleLabel]; got != "" {
		t.Errorf("label %s=%q before any was asked for", RoleLabel, got)
	}

	r.k.setLabel(roleLabelPrimary)
	select {
	case <-r.k.kick:
	default:
		t.Error("setLabel with a new value did not ask for a read now")
	}
	r.tick()
	if got := api.Labels("mysql-0")[RoleLabel]; got != roleLabelPrimary {
		t.Errorf("label %s=%q, want primary", RoleLabel, got)
	}
	r.k.setLabel(roleLabelPrimary)
	if len(r.k.kick) != 0 {
		t.Error("setLabel with the same value asked for a read")
	}

	api.Fail(http.MethodPatch, "/pods/mysql-0", http.StatusInternalServerError)
	r.k.setLabel(roleLabelReplica)
	r.tick()
	if got := api.Labels("mysql-0")[RoleLabel]; got != roleLabelPrimary {
		t.Errorf("label %s=%q after a failed patch, want primary still", RoleLabel, got)
	}
	if st := r.k.status(time.Now()); st.Label != roleLabelPrimary || !strings.Contains(st.Error, "label the pod") {
		t.Errorf("status after a failed patch = %+v, want label primary and the failure", st)
	}
	api.Fail(http.MethodPatch, "/pods/mysql-0", 0)
	r.tick()
	if got := api.Labels("mysql-0")[RoleLabel]; got != roleLabelReplica {
		t.Errorf("label %s=%q after the patch was retried, want replica", RoleLabel, got)
	}
	if st := r.k.status(time.Now()); st.Label != roleLabelReplica {
		t.Errorf("status label = %q, want replica", st.Label)
	}
}

func TestLeaseKeeperForbiddenNamesTheRole(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ method, path, what string }{
		{http.MethodGet, "/leases/mysql", "cannot read the Lease"},
		{http.MethodPost, "/leases", "cannot create the Lease"},
	} {
		t.Run(tc.method, func(t *testing.T) {
			t.Parallel()
			api := kubetest.New(t)
			api.Fail(tc.method, tc.path, http.StatusForbidden)
			r := newKeeperRig(t, api, "mysql-0", leaseTestConfig(2*time.Second, 10*time.Second))
			r.tick()
			v := r.view()
			if v.Holder != "" || !strings.Contains(v.Fence, tc.what) || !strings.Contains(v.Fence, "403") || !strings.Contains(v.Fence, "Role") {
				t.Errorf("view = %+v, want a fence with %q, the 403 and the Role to check", v, tc.what)
			}
			if st := r.k.status(time.Now()); !strings.Contains(st.Error, "Role") {
				t.Errorf("status error = %q, want the Role named", st.Error)
			}
			if strings.Contains(v.Fence, "kubetest-token") {
				t.Errorf("the token is in the fence: %s", v.Fence)
			}
		})
	}
}

// run reads the Lease at once, then every LEASE_RENEW_INTERVAL, and at
// once again when poked.
func TestLeaseKeeperRun(t *testing.T) {
	t.Parallel()
	start := func(t *testing.T, cfg *Config) *keeperRig {
		api := kubetest.New(t)
		r := newKeeperRig(t, api, "mysql-0", cfg)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); r.k.run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		if !eventually(5*time.Second, func() bool { _, ok := api.Lease("mysql"); return ok }) {
			t.Fatal("run did not create the Lease within 5s")
		}
		return r
	}
	t.Run("renews every interval", func(t *testing.T) {
		t.Parallel()
		r := start(t, leaseTestConfig(50*time.Millisecond, 400*time.Millisecond))
		first := r.lease().ResourceVersion
		if !eventually(5*time.Second, func() bool { return r.lease().ResourceVersion != first }) {
			t.Fatal("run did not renew the Lease within 5s")
		}
		if n := r.fences.Load(); n != 0 {
			t.Errorf("a renewing holder was fenced %d times", n)
		}
	})
	t.Run("poke reads at once", func(t *testing.T) {
		t.Parallel()
		// The interval is far longer than the test waits.
		r := start(t, leaseTestConfig(time.Minute, 10*time.Minute))
		first := r.lease().ResourceVersion
		r.k.poke()
		if !eventually(5*time.Second, func() bool { return r.lease().ResourceVersion != first }) {
			t.Fatal("poke did not make run read and renew the Lease")
		}
	})
}

// A holder whose Lease is deleted (pod 0 may recreate it and take
// writes) turns read-only at its next read, not at its deadline.
func TestLeaseKeeperLeaseDeletedFencesAtOnce(t *testing.T) {
	t.Parallel()
	api := kubetest.New(t)
	cfg := leaseTestConfig(2*time.Second, 10*time.Second)
	r := newKeeperRig(t, api, "mysql-1", cfg)
	api.SetLease(kube.Lease{Name: "mysql", HolderIdentity: "mysql-1", LeaseDurationSeconds: 10})
	r.tick()
	if v := r.view(); v != (leaseView{Holder: "mysql-1"}) {
		t.Fatalf("view = %+v, want mysql-1 holding it", v)
	}
	api.DeleteLease("mysql")
	r.tick()
	if n := r.fences.Load(); n != 1 {
		t.Errorf("fenceServer called %d times when the Lease went away, want 1 at once", n)
	}
	if v := r.view(); v.Fence == "" || strings.Count(v.Fence, "does not exist yet") != 1 {
		t.Errorf("view = %+v, want a fence saying once that the Lease does not exist", v)
	}
	r.tick()
	if n := r.fences.Load(); n != 1 {
		t.Errorf("fenceServer called %d times after another read, want still 1", n)
	}
}

// A fence that fails (the server refused the statement, a lost
// connection) is tried again at every read of the Lease until it works.
func TestLeaseKeeperRetriesAFailedFence(t *testing.T) {
	t.Parallel()
	api := kubetest.New(t)
	r := newKeeperRig(t, api, "mysql-0", leaseTestConfig(2*time.Second, 10*time.Second))
	r.tick()
	err := errors.New("lost connection")
	r.fenceErr.Store(&err)
	l := r.lease()
	l.HolderIdentity = "mysql-1"
	api.SetLease(*l)
	r.tick()
	if n := r.fences.Load(); n != 1 {
		t.Fatalf("fenceServer called %d times on losing the Lease, want 1", n)
	}
	r.tick()
	if n := r.fences.Load(); n != 2 {
		t.Errorf("fenceServer called %d times after a failed fence and another read, want 2", n)
	}
	r.fenceErr.Store(nil)
	r.tick()
	r.tick()
	if n := r.fences.Load(); n != 3 {
		t.Errorf("fenceServer called %d times, want 3: tried until it worked, then no more", n)
	}
}
