package bootstrap

import (
	"context"
	"database/sql"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// followLease makes the sidecar follow the primary's Lease
// (PRIMARY=kubernetes) instead of ordinal 0. Until the Lease is read the
// pod is fenced: read-only, not ready. Call it before Serve.
func (s *Sidecar) followLease(api leaseAPI) {
	k := newLeaseKeeper(api, s.cfg, s.id, s.log)
	k.changed = s.wakeUp
	k.ops = sidecarSwitchover{s: s, id: s.id}
	if s.cfg.FailoverAuto {
		k.candidates = sidecarSwitchover{s: s, id: s.id}
	}
	// Its own pool (the loop's may be busy), with the same repair of the
	// sidecar's account as root when its login is refused.
	fdb := s.openLocal(s.accountDSN())
	fdb.SetMaxOpenConns(1)
	fdb.SetMaxIdleConns(1)
	s.fenceDB = fdb
	k.fenceServer = s.fence
	s.keeper = k
	s.rec.exec.writeGate = k.whileWritable
	s.rec.gather.readChannel = true
	// Who is primary is the Lease's to say, not the ordinal's.
	id := s.id
	id.Role, id.PrimaryHost = wire.RoleReplica, ""
	s.setIdentity(id)
	// Before Serve: nothing reads these concurrently yet.
	s.policy = s.rec.policy
	s.rec.policy.Fence = k.view(time.Now()).Fence
	snap := s.box.get()
	snap.status.Role, snap.status.PrimaryHost = id.Role, ""
	s.box.set(snap)
}

// fence makes the local server read-only on the fence's own connection
// (the reconcile loop's may be busy): MySQL's super_read_only, which
// also sets read_only, or MariaDB's read_only.
func (s *Sidecar) fence(ctx context.Context) error {
	if s.cfg.SemiSync {
		// A commit waiting for an acknowledgement holds up read-only
		// (and, once its Lease is gone, no replica of this pod will send
		// one): a wait of a second or more is not a healthy replica's,
		// and its session is ended, unacknowledged, first.
		if d, err := s.dialectOn(ctx, s.fenceDB); err == nil {
			if err := killSemiSyncWaiters(ctx, s.fenceDB, d, 1); err != nil {
				s.log.Warn("fence: could not end the sessions waiting for a semi-sync acknowledgement", "error", sqldialect.OneLine(err.Error()))
			}
		}
	}
	_, err := s.fenceDB.ExecContext(ctx, "SET GLOBAL super_read_only = ON")
	if sqldialect.IsErrno(err, 1193) { // unknown system variable: MariaDB
		_, err = s.fenceDB.ExecContext(ctx, "SET GLOBAL read_only = ON")
	}
	return err
}

// dialectOn is the local server's dialect: as the last pass saw it, or
// asked on db when no pass has.
func (s *Sidecar) dialectOn(ctx context.Context, db *sql.DB) (*sqldialect.Dialect, error) {
	if l := s.box.get().obs.Local; l.Up && l.Unsupported == "" && l.Server.Flavor != 0 {
		return sqldialect.New(l.Server)
	}
	var v string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return nil, err
	}
	srv, err := sqldialect.ParseVersion(v)
	if err != nil {
		return nil, err
	}
	return sqldialect.New(srv)
}

// syncRole takes the role and the primary from the Lease before a pass:
// a new holder gives the pod a new identity, and the reconcile loop
// starts over with it (memory of the old role is dropped).
func (s *Sidecar) syncRole() {
	if s.keeper == nil {
		return
	}
	v := s.keeper.view(time.Now())
	id := s.id
	switch v.Holder {
	case "":
		id.Role, id.PrimaryHost = wire.RoleReplica, ""
	case s.id.Pod:
		id.Role, id.PrimaryHost = wire.RolePrimary, s.id.PodHost
	default:
		id.Role, id.PrimaryHost = wire.RoleReplica, v.Holder+"."+s.id.ServiceHost
	}
	if id.Role != s.id.Role || id.PrimaryHost != s.id.PrimaryHost {
		s.log.Info("the primary's Lease gives this pod a new role", "role", id.Role, "primary_host", id.PrimaryHost, "was", s.id.Role)
		s.setIdentity(id)
		s.rec.mem = decide.Memory{}
		s.rec.restored = false
	}
	s.rec.policy.Fence = v.Fence
	s.rec.policy.Hold = ""
	if v.Hold || v.Lapsed {
		s.rec.policy.Hold = v.Holder
	}
	s.rec.policy.FailedOverFrom, s.rec.policy.FailedOverAddr, s.rec.policy.FailedOverReceived = v.FailedOverFrom, v.FailedOverAddr, v.FailedOverReceived
	s.rec.gather.hold = s.rec.policy.Hold
	if s.peers != nil {
		// The pod failed over from may be frozen: a pass must not wait
		// for its /status, until this pod takes writes (later passes, a
		// password rotation's among them, ask it again).
		skip := v.FailedOverAddr
		if st := s.box.get().status; st.Role == wire.RolePrimary && st.Ready && !st.ReadOnly {
			skip = ""
		}
		s.peers.setSkip(skip)
	}
	s.rec.policy.DiscardTail = v.DiscardTail && s.cfg.SemiSync
}

// setIdentity gives the reconcile loop's parts a new role and primary;
// only the loop reads them (probes read the policy of the last pass's
// snapshot).
func (s *Sidecar) setIdentity(id Identity) {
	s.id = id
	pol := policyFor(s.cfg, id)
	pol.Fence = s.rec.policy.Fence
	s.rec.id, s.rec.policy = id, pol
	s.rec.gather.role, s.rec.gather.channelGone = id.Role, false
	s.rec.exec.id = id
}

// labelRole tells the keeper which role label the pod should carry after
// a pass: primary once it takes writes, replica when it replicates or
// may not take writes; otherwise the label stays.
func (s *Sidecar) labelRole(st wire.Status) {
	if s.keeper == nil {
		return
	}
	switch {
	case st.Role == wire.RolePrimary && st.Ready && !st.ReadOnly:
		s.keeper.setLabel(roleLabelPrimary)
	case st.Role == wire.RoleReplica, st.Situation == string(decide.SitFenced):
		s.keeper.setLabel(roleLabelReplica)
	}
}

// policyNow is the policy a probe decides with: the pass's, with the
// fence as the Lease says now (a holder past its deadline is not ready at
// once, not a pass later).
func (s *Sidecar) policyNow(snap snapshot) decide.Policy {
	p := snap.policy
	if p.Role == "" {
		p = s.policy
	}
	if s.keeper != nil && p.Role == wire.RolePrimary {
		if v := s.keeper.view(time.Now()); v.Holder != s.keeper.self || v.Fence != "" {
			p.Fence = firstNonEmpty(v.Fence, "the Lease is held by "+v.Holder)
		}
	}
	return p
}

// Wake asks for a read of the Lease and a pass now (POST /wake).
func (s *Sidecar) Wake() {
	if s.keeper != nil {
		s.keeper.poke()
	}
	s.wakeUp()
}

// leaseStatus adds the Lease to a status (PRIMARY=kubernetes).
func (s *Sidecar) leaseStatus(st *wire.Status) {
	st.PrimaryMode = s.cfg.PrimaryMode
	if s.keeper != nil {
		st.Lease = s.keeper.status(time.Now())
	}
}
