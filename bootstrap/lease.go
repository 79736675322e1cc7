package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// PRIMARY=kubernetes: the primary is the holder of a Lease named after
// the StatefulSet. Every sidecar reads it every LEASE_RENEW_INTERVAL; the
// holder renews it then. The rules (README: The primary that can move):
//
//   - Only the holder may be writable, and only while its last renewal
//     began less than LEASE_DURATION - 2 x LEASE_RENEW_INTERVAL ago
//     (fenceAfter). A timer set at each renewal makes the server
//     read-only at that deadline, whatever the API or the reconcile loop
//     are doing; making the server writable and that fence take the same
//     lock (keeper.gate), so a decision taken just before the deadline
//     cannot lift read-only just after it.
//   - A pod that sees another holder never becomes writable: it fences
//     at once and replicates from the holder.
//   - The Lease moves only by a switchover, which the holder carries out
//     (switchover.go). Contenders judge a Lease's age on their own clock,
//     from when they saw it change, never from the renewTime a holder
//     wrote: clocks of different nodes need not agree, only run at about
//     the same rate.
//   - With no Lease, pod <statefulset>-0 creates it, holding it: a new
//     cluster starts as it does with PRIMARY=ordinal-0.

// Names on the pods and on the Lease.
const (
	// RoleLabel is the label each sidecar keeps on its own pod (primary
	// or replica); the <sts>-primary and <sts>-replicas Services select it.
	RoleLabel = "mysql-bootstrap/role"
	// SwitchoverAnnotation on the Lease is a pending switchover request
	// (switchoverRequest, JSON), which the holder carries out.
	SwitchoverAnnotation = "mysql-bootstrap/switchover"
	// SwitchoverResultAnnotation on the Lease is the last switchover's
	// outcome (wire.SwitchoverStatus, JSON).
	SwitchoverResultAnnotation = "mysql-bootstrap/switchover-result"
)

// leaseAPI is what the keeper asks of the Kubernetes API (kube.Client).
type leaseAPI interface {
	GetLease(ctx context.Context, name string) (*kube.Lease, error)
	CreateLease(ctx context.Context, l *kube.Lease) (*kube.Lease, error)
	UpdateLease(ctx context.Context, l *kube.Lease) (*kube.Lease, error)
	PatchPodLabels(ctx context.Context, pod string, labels map[string]*string) error
	GetPod(ctx context.Context, pod string) (*kube.PodMeta, error)
	CreateEvent(ctx context.Context, e kube.Event) error
}

// leaseView is what the reconcile loop needs of the Lease now.
type leaseView struct {
	// Holder is the pod that holds the Lease ("" when none is known or
	// it names no pod of this StatefulSet).
	Holder string
	// Fence, when set, is why this pod must not take writes now.
	Fence string
	// Hold (FAILOVER=auto): Holder is another pod that has not renewed
	// the Lease for its read-only deadline on this pod's clock: it takes
	// no writes now if it runs at all, and replicas stop receiving from
	// it. Lapsed: its Lease has expired, and a replica may take it.
	Hold, Lapsed bool
	// FailedOverFrom and FailedOverAddr: this pod holds the Lease by a
	// failover from that pod, at that address.
	FailedOverFrom, FailedOverAddr string
	// DiscardTail: the Lease records a failover away from this pod.
	DiscardTail bool
	// FailedOverReceived (FailedOverFrom) is what this pod held, relay
	// log included, when it took the Lease.
	FailedOverReceived string
}

// leaseKeeper reads, creates and renews the Lease, fences the local
// server when it must, and keeps the pod's role label.
type leaseKeeper struct {
	api        leaseAPI
	name       string // the Lease's name: the StatefulSet's
	self       string // this pod
	sts        string
	ordinal    uint64
	duration   time.Duration
	renew      time.Duration
	fenceAfter time.Duration
	log        *slog.Logger
	now        func() time.Time
	// fenceServer makes the local server read-only now.
	fenceServer func(ctx context.Context) error
	// changed wakes the reconcile loop: the holder or the fence changed.
	changed func()
	// ops carry out a switchover request found on the Lease while this
	// pod holds it (nil: requests are left alone).
	ops  switchoverOps
	kick chan struct{}
	// candidates (FAILOVER=auto; nil: off) says whether this pod takes an
	// expired Lease.
	candidates failoverOps

	// gate is held while the server is made writable and while it is
	// fenced: the two never overlap.
	gate sync.Mutex

	mu         sync.Mutex
	lease      *kube.Lease // last read or written
	readOnce   bool        // the Lease (or its absence) was seen
	observedAt time.Time   // when this pod saw its resourceVersion change
	// validAt is when this pod last saw the Lease change while it named a
	// pod of the StatefulSet (zero: never): that holder may take writes
	// until LEASE_DURATION after it, so a deleted or vacant Lease is not
	// taken before.
	validAt   time.Time
	renewedAt time.Time // start of the last write that kept this pod holder
	apiErr    string    // the last API call's failure ("" after a success)
	handover  string    // the pod a switchover hands over to
	// unsettled is the outcome of a switchover whose Lease write had no
	// known outcome (resolveHandover settles it).
	unsettled  *wire.SwitchoverStatus
	fenceTimer *time.Timer
	fenced     bool // a fence succeeded since the server was last made writable
	// refence: the last fence failed (why); every tick tries again until
	// one succeeds.
	refence   string
	fencedFor time.Time // renewedAt the last fence was for
	wantLabel string    // the role label this pod should carry
	label     string    // the role label set on the pod
	podUID    string
	// failoverWhy is why this pod does not take an expired Lease now.
	failoverWhy string
	// announced is the view the reconcile loop was last woken for.
	announced leaseView
}

// newLeaseKeeper prepares a keeper; run starts it.
func newLeaseKeeper(api leaseAPI, cfg *Config, id Identity, log *slog.Logger) *leaseKeeper {
	return &leaseKeeper{api: api, name: id.StatefulSet, self: id.Pod, sts: id.StatefulSet, ordinal: id.Ordinal,
		duration: cfg.LeaseDuration, renew: cfg.LeaseRenewInterval, fenceAfter: cfg.LeaseFenceAfter(),
		log: log, now: time.Now, kick: make(chan struct{}, 1), changed: func() {}}
}

// poke asks for a read of the Lease now.
func (k *leaseKeeper) poke() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

// run reads and renews the Lease until ctx ends.
func (k *leaseKeeper) run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-k.kick:
			t.Stop()
			if wait := minTickGap - time.Since(last); wait > 0 {
				// POST /wake is not authenticated: pokes cost at most one
				// read (and renewal) of the Lease per minTickGap.
				t.Reset(wait)
				continue
			}
		}
		last = time.Now()
		k.tick(ctx)
		t.Reset(k.nextTick())
	}
}

// minTickGap is the shortest time between two reads of the Lease.
const minTickGap = 100 * time.Millisecond

// call bounds one API call by the renew interval (at least a second).
func (k *leaseKeeper) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, max(k.renew, time.Second))
}

// tick reads the Lease, creates or renews it as this pod may, carries out
// a switchover request when this pod holds it, and keeps the label.
func (k *leaseKeeper) tick(ctx context.Context) {
	before := k.view(k.now())
	k.mu.Lock()
	pending := k.refence // a fence that failed before this read
	k.mu.Unlock()
	start := k.now()
	cctx, cancel := k.call(ctx)
	l, err := k.api.GetLease(cctx, k.name)
	cancel()
	switch {
	case errors.Is(err, kube.ErrNotFound):
		k.absent(ctx, start)
	case err != nil:
		k.failed("read the Lease "+k.name, err)
	default:
		k.seen(l)
		k.resolveHandover(ctx, l)
		if l.HolderIdentity == k.self {
			k.renewLease(ctx, start)
			k.serveRequest(ctx)
		} else if !k.validHolder(l.HolderIdentity) && k.ordinal == 0 {
			k.takeVacant(ctx, start, l)
		} else if k.view(k.now()).Lapsed {
			k.tryFailover(ctx, start, l)
		}
	}
	k.lostCheck()
	after := k.view(k.now())
	k.mu.Lock()
	fenced, refence := k.fenced, k.refence
	k.mu.Unlock()
	if pending != "" && refence != "" && (after.Holder != k.self || after.Fence != "") {
		_ = k.fence(refence + " (again: the last attempt failed)")
	} else if before.Holder == k.self && before.Fence == "" && (after.Holder != k.self || after.Fence != "") && !fenced && refence == "" {
		// It could take writes and may not any more (the Lease deleted,
		// taken, naming no pod): read-only now, not at the deadline.
		_ = k.fence("this pod may not take writes any more: " + firstNonEmpty(after.Fence, "the Lease is held by "+after.Holder))
	}
	k.syncLabel(ctx)
	k.mu.Lock()
	wake := after != k.announced
	k.announced = after
	k.mu.Unlock()
	if wake {
		k.changed()
	}
}

// annotated returns a copy of l without the annotations drop, with
// set's (as JSON) added.
func annotated(l *kube.Lease, set map[string]any, drop ...string) kube.Lease {
	n := *l
	n.Annotations = maps.Clone(l.Annotations)
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	for _, name := range drop {
		delete(n.Annotations, name)
	}
	for name, v := range set {
		b, _ := json.Marshal(v)
		n.Annotations[name] = string(b)
	}
	return n
}

// resolveHandover settles a switchover whose Lease write had no known
// outcome (carryOut left handover set): the Lease as read now says
// whether it moved. Until then the pod stays fenced.
func (k *leaseKeeper) resolveHandover(ctx context.Context, l *kube.Lease) {
	k.mu.Lock()
	res := k.unsettled
	if res != nil && l.HolderIdentity != k.self {
		// It moved (or another pod took it): the view follows the holder.
		k.unsettled, k.handover = nil, ""
	}
	k.mu.Unlock()
	if res == nil || l.HolderIdentity != k.self {
		return
	}
	// A read showing this pod as holder does not prove that the lost
	// write will not apply: it was conditioned on this resourceVersion.
	// Only a write at it makes that write fail; until one succeeds, this
	// pod stays fenced.
	out := *res
	out.State, out.Reason, out.Finished = wire.SwitchoverAborted, "the Lease write handing over to "+res.To+" had no known outcome, and the Lease did not move", k.now().UTC()
	n := annotated(l, map[string]any{SwitchoverResultAnnotation: out}, SwitchoverAnnotation)
	cctx, cancel := k.call(ctx)
	got, err := k.api.UpdateLease(cctx, &n)
	cancel()
	if err != nil {
		k.failed("settle the switchover whose Lease write had no known outcome (this pod stays read-only meanwhile)", err)
		return
	}
	k.seen(got)
	k.mu.Lock()
	k.unsettled, k.handover = nil, ""
	k.mu.Unlock()
	k.log.Warn("switchover aborted", "id", out.ID, "to", out.To, "reason", out.Reason)
	k.event(ctx, "Warning", "SwitchoverAborted", fmt.Sprintf("switchover %s to %s aborted: %s", out.ID, out.To, out.Reason))
	k.changed()
}

// absent: no Lease. Pod 0 creates it, holding it.
func (k *leaseKeeper) absent(ctx context.Context, start time.Time) {
	k.mu.Lock()
	k.readOnce = true
	k.lease = nil
	k.mu.Unlock()
	if k.ordinal != 0 {
		k.setErr("pod " + k.sts + "-0 creates it")
		return
	}
	if wait := k.holderMayWrite(); wait > 0 {
		k.setErr(fmt.Sprintf("it was deleted while a pod held it: pod %s-0 creates it once that holder's Lease has expired, in %s", k.sts, wait.Round(time.Second)))
		return
	}
	l := &kube.Lease{Name: k.name, HolderIdentity: k.self, LeaseDurationSeconds: int32(k.duration / time.Second),
		AcquireTime: start, RenewTime: start}
	cctx, cancel := k.call(ctx)
	got, err := k.api.CreateLease(cctx, l)
	cancel()
	if err != nil {
		k.failed("create the Lease "+k.name, err)
		return
	}
	k.log.Info("created the Lease: this pod is the primary", "lease", k.name)
	k.seen(got)
	k.renewed(start)
	k.event(ctx, "Normal", "LeaseCreated", "created the Lease "+k.name+": this pod is the primary")
}

// takeVacant: pod 0 takes a Lease that names no pod of the StatefulSet.
func (k *leaseKeeper) takeVacant(ctx context.Context, start time.Time, l *kube.Lease) {
	was := l.HolderIdentity
	if wait := k.holderMayWrite(); wait > 0 {
		k.log.Info("the Lease names no pod of this StatefulSet: taking it once the last holder's Lease has expired", "holder", was, "in", wait.Round(time.Second).String())
		return
	}
	n := *l
	n.HolderIdentity, n.AcquireTime, n.RenewTime = k.self, start, start
	n.LeaseDurationSeconds = int32(k.duration / time.Second)
	n.LeaseTransitions++
	n.Annotations = annotated(&n, nil, FailoverAnnotation).Annotations
	cctx, cancel := k.call(ctx)
	got, err := k.api.UpdateLease(cctx, &n)
	cancel()
	if err != nil {
		k.failed("take the Lease "+k.name, err)
		return
	}
	k.log.Warn("took the Lease, which named no pod of this StatefulSet", "lease", k.name, "holder_was", was)
	k.seen(got)
	k.renewed(start)
}

// holderMayWrite is how long the last valid holder this pod saw may still
// take writes (0: none, or its Lease has expired on this pod's clock).
func (k *leaseKeeper) holderMayWrite() time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.validAt.IsZero() {
		return 0
	}
	return max(k.validAt.Add(k.duration).Sub(k.now()), 0)
}

// renewLease writes a new renewTime; its start is what the read-only
// deadline counts from.
func (k *leaseKeeper) renewLease(ctx context.Context, start time.Time) {
	k.mu.Lock()
	if k.lease == nil || k.lease.HolderIdentity != k.self {
		k.mu.Unlock()
		return
	}
	n := *k.lease
	k.mu.Unlock()
	n.RenewTime = start
	n.LeaseDurationSeconds = int32(k.duration / time.Second)
	cctx, cancel := k.call(ctx)
	got, err := k.api.UpdateLease(cctx, &n)
	cancel()
	if err != nil {
		k.failed("renew the Lease "+k.name, err)
		return
	}
	k.seen(got)
	k.renewed(start)
}

// seen records the Lease as read or written.
func (k *leaseKeeper) seen(l *kube.Lease) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lease == nil || k.lease.ResourceVersion != l.ResourceVersion {
		k.observedAt = k.now()
		// Only a renewal or a new holder restarts its clock: a switchover
		// request written while the holder is frozen does not.
		renewed := k.lease == nil || k.lease.HolderIdentity != l.HolderIdentity || !k.lease.RenewTime.Equal(l.RenewTime)
		if k.validHolder(l.HolderIdentity) && renewed {
			k.validAt = k.observedAt
		}
	}
	if k.lease != nil && k.lease.HolderIdentity != l.HolderIdentity {
		k.log.Info("the Lease changed hands", "lease", k.name, "from", k.lease.HolderIdentity, "to", l.HolderIdentity)
	}
	k.lease, k.readOnce, k.apiErr = l, true, ""
}

// renewed records a successful write that kept this pod holder, started
// at start, and sets the fence for its deadline.
func (k *leaseKeeper) renewed(start time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.renewedAt = start
	wait := start.Add(k.fenceAfter).Sub(k.now())
	if k.fenceTimer != nil {
		k.fenceTimer.Stop()
	}
	k.fenceTimer = time.AfterFunc(max(wait, 0), func() { k.deadline(start) })
}

// deadline fires fenceAfter after the start of the renewal at start: if
// no later renewal succeeded, the server turns read-only now.
func (k *leaseKeeper) deadline(start time.Time) {
	k.mu.Lock()
	stale := !k.renewedAt.Equal(start)
	err := k.apiErr
	k.mu.Unlock()
	if stale {
		return
	}
	_ = k.fence(fmt.Sprintf("the Lease could not be renewed for %s (its read-only deadline): %s", k.fenceAfter, err))
	k.changed()
}

// lostCheck fences at once a pod that was writable and sees another
// holder.
func (k *leaseKeeper) lostCheck() {
	k.mu.Lock()
	lost := k.lease != nil && k.lease.HolderIdentity != k.self && !k.renewedAt.IsZero()
	if lost {
		k.renewedAt = time.Time{}
		if k.fenceTimer != nil {
			k.fenceTimer.Stop()
		}
	}
	holder := ""
	if k.lease != nil {
		holder = k.lease.HolderIdentity
	}
	k.mu.Unlock()
	if lost {
		_ = k.fence("the Lease is held by " + holder)
	}
}

// fence makes the local server read-only, under the gate; the error says
// it may still take writes.
func (k *leaseKeeper) fence(why string) error {
	k.gate.Lock()
	defer k.gate.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), fenceTimeout)
	defer cancel()
	if err := k.fenceServer(ctx); err != nil {
		k.log.Error("could not make the server read-only", "why", why, "error", sqldialect.OneLine(err.Error()))
		k.mu.Lock()
		k.refence = why
		k.mu.Unlock()
		return err
	}
	k.mu.Lock()
	k.fenced, k.refence = true, ""
	k.mu.Unlock()
	k.log.Warn("made the server read-only: this pod may not take writes", "why", why)
	return nil
}

// fenceTimeout bounds the read-only statement of a fence.
const fenceTimeout = 2 * time.Second

// whileWritable runs f (the statements that make the server writable)
// only while this pod may take writes, under the gate.
func (k *leaseKeeper) whileWritable(f func() error) error {
	k.gate.Lock()
	defer k.gate.Unlock()
	if v := k.view(k.now()); v.Fence != "" || v.Holder != k.self {
		return fmt.Errorf("not making the server writable: %s", firstNonEmpty(v.Fence, "the Lease is held by "+v.Holder))
	}
	if err := f(); err != nil {
		return err
	}
	k.mu.Lock()
	k.fenced = false
	k.mu.Unlock()
	return nil
}

// failed records an API failure.
func (k *leaseKeeper) failed(what string, err error) {
	msg := "cannot " + what + ": " + sqldialect.OneLine(err.Error())
	if errors.Is(err, kube.ErrForbidden) {
		msg += " (the pod's service account needs the Role the kubernetes-primary manifests ship)"
	}
	k.setErr(msg)
}

func (k *leaseKeeper) setErr(msg string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if msg != k.apiErr && msg != "" {
		k.log.Warn("Lease", "problem", msg)
	}
	k.apiErr = msg
}

// validHolder: h names a pod of this StatefulSet.
func (k *leaseKeeper) validHolder(h string) bool {
	sts, _, err := wire.ParsePodName(h)
	return err == nil && sts == k.sts
}

// view is what the reconcile loop must do now.
func (k *leaseKeeper) view(now time.Time) leaseView {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case !k.readOnce:
		return leaseView{Fence: "the Lease " + k.name + " has not been read yet" + errSuffix(k.apiErr)}
	case k.lease == nil:
		return leaseView{Fence: "the Lease " + k.name + " does not exist yet" + errSuffix(k.apiErr)}
	case !k.validHolder(k.lease.HolderIdentity):
		return leaseView{Fence: fmt.Sprintf("the Lease %s names no pod of StatefulSet %s (holder %q)", k.name, k.sts, k.lease.HolderIdentity)}
	case k.lease.HolderIdentity != k.self:
		v := leaseView{Holder: k.lease.HolderIdentity, Hold: k.unrenewedLocked(now, k.fenceAfter), Lapsed: k.unrenewedLocked(now, k.duration)}
		if r := k.failoverRecordLocked(); r != nil && r.From == k.self && r.To == k.lease.HolderIdentity && r.SemiSync {
			v.DiscardTail = true
		}
		return v
	case k.handover != "":
		return leaseView{Holder: k.self, Fence: "handing the Lease over to " + k.handover + " (switchover)"}
	case k.renewedAt.IsZero():
		return leaseView{Holder: k.self, Fence: "this pod holds the Lease but has not renewed it yet" + errSuffix(k.apiErr)}
	case now.Sub(k.renewedAt) >= k.fenceAfter:
		return leaseView{Holder: k.self, Fence: fmt.Sprintf("the Lease was last renewed %s ago, past its read-only deadline %s", now.Sub(k.renewedAt).Round(time.Millisecond), k.fenceAfter) + errSuffix(k.apiErr)}
	}
	v := leaseView{Holder: k.self}
	if r := k.failoverRecordLocked(); r != nil && r.To == k.self {
		v.FailedOverFrom, v.FailedOverAddr, v.FailedOverReceived = r.From, r.FromAddr, r.Received
	}
	return v
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return ": " + e
}

// setLabel says which role label the pod should carry; the keeper sets
// it at once.
func (k *leaseKeeper) setLabel(role string) {
	k.mu.Lock()
	changed := k.wantLabel != role
	k.wantLabel = role
	k.mu.Unlock()
	if changed {
		k.poke()
	}
}

// syncLabel patches the pod's role label when it differs.
func (k *leaseKeeper) syncLabel(ctx context.Context) {
	k.mu.Lock()
	want, have := k.wantLabel, k.label
	k.mu.Unlock()
	if v := k.view(k.now()); want == roleLabelPrimary && (v.Holder != k.self || v.Fence != "") {
		// The pass that asked for it is older than what the Lease says now.
		want = roleLabelReplica
	}
	if want == "" || want == have {
		return
	}
	cctx, cancel := k.call(ctx)
	err := k.api.PatchPodLabels(cctx, k.self, map[string]*string{RoleLabel: &want})
	cancel()
	if err != nil {
		k.failed("label the pod "+RoleLabel+"="+want, err)
		return
	}
	k.log.Info("labelled the pod", "label", RoleLabel, "value", want)
	k.mu.Lock()
	k.label = want
	k.mu.Unlock()
}

// status is the Lease as /status shows it.
func (k *leaseKeeper) status(now time.Time) *wire.LeaseStatus {
	v := k.view(now)
	k.mu.Lock()
	defer k.mu.Unlock()
	st := &wire.LeaseStatus{Name: k.name, Holder: v.Holder, Fence: v.Fence, Error: k.apiErr, Label: k.label}
	if k.lease != nil {
		st.Transitions = k.lease.LeaseTransitions
		if r := k.lease.Annotations[SwitchoverResultAnnotation]; r != "" {
			var s wire.SwitchoverStatus
			if json.Unmarshal([]byte(r), &s) == nil {
				st.LastSwitchover = &s
			}
		}
		st.LastFailover = k.failoverRecordLocked()
	}
	if v.Lapsed {
		st.Failover = k.failoverWhy
	}
	if !k.observedAt.IsZero() {
		st.ObservedAt = k.observedAt.UTC()
	}
	if !k.renewedAt.IsZero() {
		st.RenewedAt = k.renewedAt.UTC()
	}
	return st
}

// event records an Event on this pod (best effort: logged when it fails).
func (k *leaseKeeper) event(ctx context.Context, typ, reason, msg string) {
	k.eventOn(ctx, k.self, typ, reason, msg)
}

func (k *leaseKeeper) eventOn(ctx context.Context, pod, typ, reason, msg string) {
	cctx, cancel := k.call(ctx)
	defer cancel()
	uid := ""
	if pod == k.self {
		k.mu.Lock()
		uid = k.podUID
		k.mu.Unlock()
	}
	if uid == "" {
		if p, err := k.api.GetPod(cctx, pod); err == nil {
			uid = p.UID
			if pod == k.self {
				k.mu.Lock()
				k.podUID = uid
				k.mu.Unlock()
			}
		}
	}
	err := k.api.CreateEvent(cctx, kube.Event{Pod: pod, PodUID: uid, Type: typ, Reason: reason, Message: msg, Component: "mysql-bootstrap"})
	if err != nil {
		k.log.Info("could not record an Event", "pod", pod, "reason", reason, "error", sqldialect.OneLine(err.Error()))
	}
}
