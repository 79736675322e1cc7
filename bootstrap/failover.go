package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// FAILOVER=auto (with PRIMARY=kubernetes and SEMI_SYNC=true): a replica
// takes the Lease of a holder that stopped renewing it. The rules
// (README: Automatic failover):
//
//   - Every replica judges the Lease expired on its own clock,
//     LEASE_DURATION after it last saw it change. The holder turned
//     read-only LEASE_DURATION - 2 x LEASE_RENEW_INTERVAL after its last
//     renewal began, if it could run at all.
//   - Each replica then stops its receiver (decide: Policy.Hold) and
//     publishes everything it holds or received (/status failoverHold).
//     With its receiver stopped it acknowledges nothing more: every write
//     the old primary acknowledged is now in some replica's published
//     set (semi-sync, one acknowledgement).
//   - A replica takes the Lease only when every other replica it knows of
//     (STATE_DIR's peers, the Service's listing) publishes its set, its
//     own set holds every one of theirs, and no replica with the same set
//     has a lower ordinal. The write is conditioned on the resourceVersion
//     it read, so at most one wins, and the holder renewing in between
//     makes it fail.
//   - The winner records the failover on the Lease (FailoverAnnotation),
//     applies its relay log, ends its channel and becomes writable; its
//     guard skips the old holder. The old holder, when it runs again,
//     turns read-only (its deadline passed, another holds the Lease), ends
//     the sessions still waiting for an acknowledgement, and rejoins as a
//     replica; what it holds that the new primary lacks was never
//     acknowledged, and a copy replaces it (decide: Policy.DiscardTail).

// FailoverAnnotation on the Lease is the automatic failover that gave it
// to its holder (wire.FailoverRecord, JSON); a switchover removes it.
const FailoverAnnotation = "mysql-bootstrap/failover"

// failoverOps is what the keeper asks of the sidecar for a failover.
type failoverOps interface {
	// candidate says whether this pod may take the Lease from holder now:
	// the record to write, or why not.
	candidate(ctx context.Context, holder string) (wire.FailoverRecord, string)
}

// unrenewedLocked: FAILOVER=auto and another pod has held the Lease
// unrenewed for d on this pod's clock (k.mu held).
func (k *leaseKeeper) unrenewedLocked(now time.Time, d time.Duration) bool {
	return k.candidates != nil && k.lease != nil && k.lease.HolderIdentity != k.self && k.validHolder(k.lease.HolderIdentity) &&
		!k.validAt.IsZero() && !now.Before(k.validAt.Add(d))
}

// failoverRecordLocked is the failover the Lease records (nil: none).
func (k *leaseKeeper) failoverRecordLocked() *wire.FailoverRecord {
	if k.lease == nil || k.lease.Annotations[FailoverAnnotation] == "" {
		return nil
	}
	var r wire.FailoverRecord
	if json.Unmarshal([]byte(k.lease.Annotations[FailoverAnnotation]), &r) != nil || r.From == "" || r.To == "" {
		return nil
	}
	return &r
}

// tryFailover takes l, whose holder's Lease expired, when this pod is
// the candidate.
func (k *leaseKeeper) tryFailover(ctx context.Context, start time.Time, l *kube.Lease) {
	from := l.HolderIdentity
	rec, why := k.candidates.candidate(ctx, from)
	k.mu.Lock()
	changed := k.failoverWhy != why
	k.failoverWhy = why
	k.mu.Unlock()
	if why != "" {
		if changed {
			k.log.Info("the primary's Lease expired; this pod does not take it now", "holder", from, "why", why)
		}
		return
	}
	rec.From, rec.To, rec.At, rec.SemiSync = from, k.self, k.now().UTC(), true
	n := annotated(l, map[string]any{FailoverAnnotation: rec}, SwitchoverAnnotation)
	n.HolderIdentity, n.AcquireTime, n.RenewTime = k.self, start, start
	n.LeaseDurationSeconds = int32(k.duration / time.Second)
	n.LeaseTransitions++
	cctx, cancel := k.call(ctx)
	got, err := k.api.UpdateLease(cctx, &n)
	cancel()
	if err != nil {
		// A conflict: the holder renewed, or another pod took it first.
		k.failed("take the expired Lease from "+from, err)
		return
	}
	k.mu.Lock()
	k.failoverWhy = ""
	k.mu.Unlock()
	k.log.Warn("took the Lease by automatic failover: this pod is the primary once it has applied its relay log",
		"from", from, "received", rec.Received, "compared", strings.Join(rec.Compared, ","))
	k.seen(got)
	k.renewed(start)
	k.event(ctx, "Warning", "FailoverTookLease", fmt.Sprintf("took the Lease from %s, which stopped renewing it (FAILOVER=auto); compared with %s",
		from, firstNonEmpty(strings.Join(rec.Compared, ", "), "no other replica")))
}

// nextTick is how long the keeper waits before its next read: the renew
// interval; with FAILOVER=auto on a pod that does not hold the Lease,
// half of it (the later a renewal is seen, the later its expiry is),
// less when the holder's read-only deadline or its expiry comes sooner,
// and failoverPoll once it has expired (the candidates compare at once).
func (k *leaseKeeper) nextTick() time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.candidates == nil || k.lease == nil || k.lease.HolderIdentity == k.self || !k.validHolder(k.lease.HolderIdentity) || k.validAt.IsZero() {
		return k.renew
	}
	now := k.now()
	if k.unrenewedLocked(now, k.duration) {
		return min(k.renew, failoverPoll)
	}
	next := k.renew / 2
	for _, at := range []time.Time{k.validAt.Add(k.fenceAfter), k.validAt.Add(k.duration)} {
		if wait := at.Sub(now); wait > 0 {
			next = min(next, wait+10*time.Millisecond)
		}
	}
	return next
}

// failoverPoll is how often the Lease and the peers are read while a
// holder's Lease has expired.
const failoverPoll = 250 * time.Millisecond

// notProvenSinceStart says why a replica whose server started (or
// restarted) and was not proven caught up with the holder since blocks a
// failover (wire.FailoverHold.Restarted). The proof comes with a reconcile
// pass a second or more after the start (Uptime counts whole seconds), so
// the first seconds of a new cluster block it too.
func notProvenSinceStart(who, holder string) string {
	return who + "'s server started (or restarted) and was not proven caught up with " + holder +
		" since: a restart drops the relay log, which may have held writes " + holder +
		" acknowledged; no automatic failover (README: Automatic failover)"
}

// candidate: this pod takes the Lease when it has stopped receiving, is
// errant-free and can apply its relay log, and every other replica it
// knows of has stopped receiving too and holds nothing it lacks; on a
// tie the lowest ordinal wins.
func (o sidecarSwitchover) candidate(ctx context.Context, holder string) (wire.FailoverRecord, string) {
	s := o.s
	var rec wire.FailoverRecord
	if s.peers == nil {
		return rec, "this pod cannot find its peers (no SERVICE_NAME)"
	}
	snap := s.box.get()
	flavor := snap.obs.Local.Server.Flavor
	h := snap.status.FailoverHold
	switch {
	case h == nil || h.Holder != holder:
		return rec, "this pod has not stopped receiving from " + holder + " yet"
	case h.Errant != "":
		return rec, "this pod holds transactions " + holder + " lacked (errant GTIDs " + h.Errant + ")"
	case h.ApplierError != "":
		return rec, "this pod's applier stopped on an error: " + h.ApplierError
	case h.Restarted:
		return rec, notProvenSinceStart("this pod", holder)
	}
	mine, err := sqldialect.ParseGTIDSet(flavor, h.Received)
	if err != nil {
		return rec, "cannot read this pod's transactions: " + err.Error()
	}
	found := map[string]*wire.Status{}
	// The holder, frozen perhaps, is not asked: its /status would cost
	// every poll the peer timeout.
	holderAddr := s.peers.addrOf(ctx, o.hostOf(holder)+".")
	if peers, err := s.peers.findExcept(ctx, holderAddr); err == nil {
		for _, p := range peers {
			if p.Status != nil && p.Status.Pod != "" {
				found[p.Status.Pod] = p.Status
			}
		}
	}
	names := map[string]bool{}
	for _, n := range snap.obs.PeerMemory.Known() {
		names[n] = true
	}
	for n := range found {
		names[n] = true
	}
	delete(names, o.id.Pod)
	delete(names, holder)
	for _, name := range slices.Sorted(maps.Keys(names)) {
		st := found[name]
		if st == nil {
			if st, err = s.peers.statusOf(ctx, o.hostOf(name)+"."); err != nil {
				return rec, "waiting for " + name + ", which does not answer: every replica's transactions are compared before one takes over (" + sqldialect.OneLine(err.Error()) + ")"
			}
		}
		th := st.FailoverHold
		if th == nil || th.Holder != holder {
			return rec, "waiting for " + name + " to stop receiving from " + holder
		}
		if th.Restarted {
			return rec, notProvenSinceStart(name, holder)
		}
		theirs, err := sqldialect.ParseGTIDSet(flavor, th.Received)
		if err != nil {
			return rec, "cannot read " + name + "'s transactions: " + err.Error()
		}
		switch {
		case !mine.Contains(theirs) && theirs.Contains(mine):
			return rec, name + " holds more (" + theirs.Minus(mine).String() + "): it takes over"
		case !mine.Contains(theirs):
			return rec, "the replicas hold different transactions (" + name + " holds " + theirs.Minus(mine).String() + ", this pod holds " +
				mine.Minus(theirs).String() + "): no automatic failover; a person chooses (README: Automatic failover)"
		case theirs.Contains(mine) && st.Ordinal < o.id.Ordinal && th.Errant == "" && th.ApplierError == "":
			return rec, name + " holds the same transactions and has a lower ordinal: it takes over"
		}
		rec.Compared = append(rec.Compared, name)
	}
	rec.Received = h.Received
	rec.FromAddr = holderAddr
	return rec, ""
}

// failoverHold is what a holding replica publishes (nil until its
// receiver is seen stopped).
func failoverHold(holder string, o decide.Observation, dec decide.Decision) *wire.FailoverHold {
	r := o.Replica
	if r == nil || !o.Local.Up || o.Partial || r.Channel.IO == sqldialect.ThreadRunning || r.Channel.IO == sqldialect.ThreadConnecting {
		return nil
	}
	got, err := sqldialect.ParseGTIDSet(o.Local.Server.Flavor, r.Channel.RetrievedGTIDSet)
	if err != nil {
		return nil
	}
	h := &wire.FailoverHold{Holder: holder, Received: o.Local.GTIDs.Union(got).String()}
	if dec.Replica != nil {
		h.Errant = dec.Replica.Errant
	}
	if r.Channel.LastSQLErrno != 0 {
		h.ApplierError = r.Channel.LastSQLError
	}
	// Its data proven complete against the primary since its server
	// started (Memory.FreshAsOf): whatever it had acknowledged before a
	// restart was fetched again then. Without that proof, a restart may
	// have dropped a relay log holding acknowledged writes.
	fresh := dec.Memory.FreshAsOf
	h.Restarted = fresh.IsZero() || fresh.Before(o.Local.StartedAt.Add(decide.RestartTolerance))
	return h
}
