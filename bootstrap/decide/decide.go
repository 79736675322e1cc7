package decide

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// Policy is what decide needs to know about the pod and its settings.
type Policy struct {
	Role wire.Role
	// PrimaryHost, Port and User are where a replica's channel must point.
	PrimaryHost string
	Port        int
	User        string
	// MaxLag is MAX_REPLICATION_LAG: the oldest data a ready replica may
	// serve.
	MaxLag time.Duration
	// StaleAfter is how old an observation may be before its verdict is
	// no longer trusted (a stuck loop must not keep a pod ready).
	StaleAfter time.Duration
	// TLS is REPLICATION_TLS; TLSCA, TLSCert and TLSKey the files of
	// verified TLS (TLSCA also makes the account REQUIRE SSL).
	TLS                    bool
	TLSCA, TLSCert, TLSKey string
	// Pod is this pod's name; AutoReseed is AUTO_RESEED.
	Pod        string
	AutoReseed bool
	// SeedStall is SEED_STALL_TIMEOUT: a clone that moves no byte for so
	// long is stopped, and another donor tried at once.
	SeedStall time.Duration
	// PrimaryMoves: PRIMARY=kubernetes, the primary can move. A peer's
	// own transactions may then be the writes it acknowledged as primary,
	// and a peer that still says it is primary may still take writes: the
	// guard counts both.
	PrimaryMoves bool
	// Fence, when set, is why this pod must not take writes now, whatever
	// its role (PRIMARY=kubernetes: the Lease lapsed, is being handed
	// over, or was never read): the server is made read-only.
	Fence string
	// Hold (FAILOVER=auto, a replica) is the primary whose Lease expired:
	// the receiver stays stopped until another pod holds the Lease, so
	// that the old primary gets no acknowledgement the candidates did
	// not see.
	Hold string
	// FailedOverFrom (FAILOVER=auto) is the pod this primary took the
	// Lease from by a failover: its guard neither waits for it nor
	// counts its transactions (those no replica had were never
	// acknowledged).
	FailedOverFrom string
	// FailedOverAddr is that pod's address when it was failed over from
	// (the Service still lists a frozen pod, answering nothing).
	FailedOverAddr string
	// FailedOverReceived is what this pod held, relay log included, when
	// it took the Lease by a failover: it takes no writes without all of
	// it (a restart drops the relay log).
	FailedOverReceived string
	// DiscardTail (FAILOVER=auto, a replica): the Lease records a
	// failover away from this pod, with SEMI_SYNC. Its own transactions
	// the new primary lacks were never acknowledged, and a copy may
	// replace them.
	DiscardTail bool
	// SemiSync is SEMI_SYNC: the primary acts as a semi-synchronous
	// source (it waits for a replica's acknowledgement of every commit)
	// and replicas as semi-synchronous replicas; LocalFacts.SemiSync is
	// read only when it is set.
	SemiSync bool
}

// ActionKind names a corrective action.
type ActionKind string

// The actions decide can ask for; the executor (act.go) turns each into
// statements for the server's dialect.
const (
	ActMakeWritable     ActionKind = "make-writable"
	ActMakeReadOnly     ActionKind = "make-read-only"
	ActCreateAccount    ActionKind = "create-account"
	ActSetPassword      ActionKind = "set-account-password"
	ActRotatePassword   ActionKind = "rotate-account-password"
	ActDiscardOld       ActionKind = "discard-old-password"
	ActMarkAccount      ActionKind = "mark-account"
	ActRequireSSL       ActionKind = "require-ssl"
	ActGrantReplication ActionKind = "grant-replication"
	ActResetBinaryLogs  ActionKind = "reset-binary-logs"
	ActStopReplica      ActionKind = "stop-replica"
	ActChangeSource     ActionKind = "change-source"
	ActStartReplica     ActionKind = "start-replica"
	// ActResetReplica removes the replication channel (RESET REPLICA
	// ALL) of a pod that became primary.
	ActResetReplica ActionKind = "reset-replica"
	// ActAdoptBinlogPosition (MariaDB) makes gtid_slave_pos what the
	// server's binary log holds, before its first CHANGE, when it has
	// transactions of its history it did not get as a replica (a former
	// primary, whose own writes are only in its binary log).
	ActAdoptBinlogPosition ActionKind = "adopt-binlog-position"
	// ActCreateCopyAccount creates the copy account: MySQL's clone
	// account, which CLONE's recipients log in to a donor with; MariaDB's
	// backup account, as which backup-server runs mariadb-backup. It
	// holds the flavour's copy privileges only, its password derived
	// from the seed secret.
	ActCreateCopyAccount ActionKind = "create-copy-account"
	// ActSetCopyPassword gives the copy account the password derived
	// from the current seed secret.
	ActSetCopyPassword ActionKind = "set-copy-account-password"
	// ActGrantCopyAccount grants the copy account its privileges.
	ActGrantCopyAccount ActionKind = "grant-copy-account"
	// ActCloneRequireSSL makes the clone account REQUIRE SSL.
	ActCloneRequireSSL ActionKind = "clone-account-require-ssl"
	// ActRevokeBackupAdmin takes BACKUP_ADMIN from the replication
	// account, which releases before the clone account granted it.
	ActRevokeBackupAdmin ActionKind = "revoke-backup-admin"
	// ActClone copies Action.Donor's data into this server with MySQL's
	// CLONE INSTANCE (the server must restart on it afterwards).
	ActClone ActionKind = "clone"
	// ActRequestSeed asks the server container to replace its data with a
	// copy of Action.Donor's (MariaDB): a request file, then a shutdown;
	// the container's next start restores the copy before the server runs.
	ActRequestSeed ActionKind = "request-seed"
	// ActApplySeed gives a MariaDB server restored from a copy the GTID
	// position of that copy.
	ActApplySeed ActionKind = "apply-seed"
	// ActShutdown stops the local server so that its container restarts
	// it (after a clone: on the copied data).
	ActShutdown ActionKind = "shutdown"
	// ActEndClone puts a clone's guard back (read-only, then offline_mode
	// OFF) and removes its marker, when no clone runs any more.
	ActEndClone ActionKind = "end-clone"
	// ActAbortClone stops a MySQL clone that moved no byte for
	// SEED_STALL_TIMEOUT (KILL QUERY Action.Thread): its donor is gone or
	// hangs, and another is tried as soon as it has ended (seed-stopping
	// until then).
	ActAbortClone ActionKind = "abort-clone"
	// ActConsumeOverride removes a person's override once it is acted on.
	ActConsumeOverride ActionKind = "consume-override"
	// ActSemiSyncSource (SEMI_SYNC) turns the semi-sync replica side off
	// and the source side on: every commit waits for a replica's
	// acknowledgement. A primary does it before it is made writable.
	ActSemiSyncSource ActionKind = "semi-sync-source"
	// ActSemiSyncReplica (SEMI_SYNC) turns the source side off and the
	// replica side on, which takes effect when the receiver next
	// connects (ActRestartReceiver, or the START of a stopped channel).
	ActSemiSyncReplica ActionKind = "semi-sync-replica"
	// ActRestartReceiver stops and starts a replica's receiver (IO
	// thread), so that it reconnects with the semi-sync replica side on.
	ActRestartReceiver ActionKind = "restart-receiver"
	// ActEndSemiSyncSource (SEMI_SYNC) turns the semi-sync source side
	// off on a replica (a former primary) without telling any client that
	// a write no replica has committed: every client session is ended
	// first (KILL CONNECTION), with new ones kept out meanwhile where the
	// server can (MySQL's offline_mode), and read-only is set.
	ActEndSemiSyncSource ActionKind = "end-semi-sync-source"
	// ActStopReceiver stops a replica's receiver (IO thread) only: the
	// applier goes on with the relay log (FAILOVER=auto, Policy.Hold).
	ActStopReceiver ActionKind = "stop-receiver"
	// ActStartApplier starts a replica's applier (SQL thread) only: a new
	// primary applies its relay log before it takes writes.
	ActStartApplier ActionKind = "start-applier"
)

// Action is one corrective step, with the reason it is taken (logged).
type Action struct {
	Kind ActionKind
	Why  string
	// Donor is the pod a seed copies from (ActClone, ActRequestSeed,
	// ActAbortClone).
	Donor Donor
	// Thread is the session running the clone that ActAbortClone stops.
	Thread uint64
}

// Donor is a pod whose data a seed copies.
type Donor struct {
	Pod string
	// Host is its stable DNS name.
	Host string
}

// Decision is what decide concluded from one observation.
type Decision struct {
	// Actions to run, in order.
	Actions []Action
	// Ready and Reason are the pod's readiness verdict.
	Ready  bool
	Reason string
	// Memory is the memory to carry to the next pass.
	Memory Memory
	// Replica holds what decide worked out about a replica, for /status.
	Replica *ReplicaView
	// Account holds what decide worked out about a primary's replication
	// account, for /status.
	Account *AccountView
	// Seed is the copy of a donor's data under way, for /status.
	Seed *SeedFacts
	// Problems are the conditions worth a log line when they appear and
	// when they clear, by a stable key.
	Problems map[string]string
	// Guard is why a primary does not take writes yet (a Guard* code), or
	// "": for /status and /metrics, where alerts can point at it.
	Guard string
	// Situation names the decision: exactly one code of situations.
	Situation Situation
}

// AccountView is what decide derived about the replication account.
type AccountView struct {
	// ExtraGrants are privileges beyond replication.
	ExtraGrants []string
	// WaitingFor names the replicas a password change waits for.
	WaitingFor []string
}

// ReplicaView is what decide derived about a replica's data.
type ReplicaView struct {
	// Errant lists transactions the replica has and the primary lacks;
	// ErrantKnown is false when they could not be compared.
	Errant      string
	ErrantKnown bool
	// Staleness is how old the served data may be; nil when unknown.
	Staleness *time.Duration
	// SourceError is why the primary could not be asked ("" if it was).
	SourceError string
	// ChangeTries counts CHANGE attempts that have not fixed the channel
	// yet; NextChange is when the next may run (zero when none waits).
	ChangeTries int
	NextChange  time.Time
	// Writers are accounts that can write despite read_only (MariaDB).
	Writers []string
}

// peerWaitMax bounds how long a password change waits for replicas that
// do not answer or do not move: a Secret reaches every pod's volume
// within the kubelet's sync period (about a minute), so after that a
// replica is either down or stuck, and waiting longer helps nobody.
const peerWaitMax = 2 * time.Minute

// Back-off of corrective actions that may fail to fix what they are for.
const (
	// A CHANGE that leaves the channel refused (a password that differs
	// from the primary's) is repeated after 5 s, 10 s, 20 s … up to 5 min.
	changeBackoffFirst = 5 * time.Second
	changeBackoffMax   = 5 * time.Minute
	// A stopped thread is restarted after 1 s, 2 s, … up to 1 min.
	startBackoffFirst = time.Second
	startBackoffMax   = time.Minute
	// restartTolerance absorbs the one-second resolution of Uptime.
	RestartTolerance = 2 * time.Second
	// A seed that failed is tried again after 30 s, 1 min, … up to 10 min,
	// from another donor when there is one.
	seedBackoffFirst = 30 * time.Second
	seedBackoffMax   = 10 * time.Minute
)

// Server error numbers that decisions branch on, from one place.
const (
	errFatalBinlog    = sqldialect.ErrnoSourceFatalReadingBinlog
	errFatalBinlogNew = sqldialect.ErrnoSourceFatalReadingBinlogMySQL
)

// receiverFatal reports whether the receiver stopped on an error from
// the primary that it cannot serve this replica (its binary logs lack
// what the replica needs, or the replica is ahead of it).
func receiverFatal(ch sqldialect.ReplicaStatus) bool {
	return ch.IO == sqldialect.ThreadStopped && (ch.LastIOErrno == int(errFatalBinlog) || ch.LastIOErrno == int(errFatalBinlogNew))
}

// needsDonor reports whether a replica may have to be seeded, so that
// its peers (the candidate donors) are worth asking: the observer asks
// them when this holds, and decideReplica seeds on the same facts.
func NeedsDonor(o Observation) bool {
	r := o.Replica
	if r == nil {
		return false
	}
	ch := r.Channel
	return receiverFatal(ch) || r.Source.PurgedKnown && !r.Source.Purged.Minus(o.Local.GTIDs).IsEmpty() ||
		!ch.Configured && len(r.Accounts) > 0
}

// dataUnproven reports whether a primary's data is neither what it took
// writes with (lineage) nor what its guard last approved.
func dataUnproven(l LocalFacts, lineage, approved Lineage) bool {
	return !LineageIntact(lineage, l) && !LineageIntact(approved, l)
}

// primaryNeedsPeers reports whether decidePrimary will look at the
// peers: a password change waits for, or is finished by, the replicas; a
// primary about to take writes, or taking them with data it cannot prove
// its own, checks that no peer holds transactions it lacks. The observer
// asks them when this holds (and now and then, to remember them).
func PrimaryNeedsPeers(l LocalFacts, a AccountFacts, lineage, approved Lineage) bool {
	return a.LoginTested && !a.PasswordWorks || a.OldPasswordRetained || l.ReadOnly || l.SuperReadOnly || dataUnproven(l, lineage, approved)
}

// decide turns an observation and the memory of earlier passes into the
// actions to take and the readiness verdict. It does no I/O: every
// situation it handles is a row of decide_test.go. now is the time of the
// decision; on the probe path it is later than o.At.
func Decide(o Observation, m Memory, p Policy, now time.Time) Decision {
	d := Decision{Memory: m, Problems: map[string]string{}}
	l := o.Local
	if sd := o.Seed; sd.Running {
		// Copying a donor's data: the server may be down or replaced
		// meanwhile, and nothing else is done to it, unless it stalls.
		d.Seed = &sd
		if stalled, ok := cloneStalled(sd, &d.Memory, p, o.At); ok {
			d.Actions = append(d.Actions, Action{Kind: ActAbortClone, Thread: sd.PID, Donor: Donor{Pod: sd.Donor}, Why: stalled})
			if d.Memory.SeedStopAt.IsZero() {
				d.Memory.SeedStopAt = o.At
			}
			d.Problems["seed"] = "seeding: " + stalled
			return d.notReady(SitSeedStalled, "seeding from "+sd.Donor+": "+stalled+": stopping it to copy from another donor")
		}
		if at := d.Memory.SeedStopAt; !at.IsZero() {
			// Stopped, and still running: a killed clone ends only when
			// its read from the lost donor times out (MySQL's floor, 30 s).
			return d.notReady(SitSeedStopping, fmt.Sprintf("seeding from %s: stopping the clone (KILL QUERY %s ago): MySQL ends it once its read from the donor times out, within about 30s; then another donor",
				sd.Donor, o.At.Sub(at).Round(time.Second)))
		}
		return d.notReady(SitSeeding, sd.Describe())
	}
	switch {
	case !l.Up:
		d.Memory.AccountVerified, d.Memory.CopyAccountFP = false, ""
		d.Problems["local"] = "the local server does not answer: " + l.Err
		return d.notReady(SitServerDown, "local server does not answer: "+l.Err)
	case l.Unsupported != "":
		d.Problems["local"] = l.Unsupported
		return d.notReady(SitServerUnsupported, l.Unsupported)
	case l.Incomplete != "":
		d.Problems["local"] = "could not read " + l.Incomplete
		return d.notReady(SitObservationIncomplete, "could not read "+l.Incomplete)
	}
	if age := now.Sub(o.At); age > p.StaleAfter {
		return d.notReady(SitObservationStale, fmt.Sprintf("last check was %s ago", age.Round(time.Second)))
	}
	restarted := !m.ServerStartedAt.IsZero() && l.StartedAt.Sub(m.ServerStartedAt) > RestartTolerance
	if o.Partial {
		if restarted {
			return d.notReady(SitServerRestarted, "local server restarted since the last check")
		}
	} else {
		if restarted {
			// A restarted server comes back as its configuration says
			// (read-only, replication stopped): look at everything again.
			d.Memory.AccountVerified, d.Memory.CopyAccountFP = false, ""
			d.Memory.Start = Backoff{}
		}
		d.Memory.ServerStartedAt = l.StartedAt
	}
	for name, problem := range o.Credentials.Problems {
		d.Problems["secret "+name] = problem
	}
	// A copy of a donor's data is in place: finish it first.
	if dec, done := finishSeed(o, &d); done {
		return dec
	}
	if l.OfflineMode && !(p.SemiSync && p.Role == wire.RoleReplica && l.SemiSync != nil && l.SemiSync.Source) {
		// (A former semi-sync primary whose sidecar stopped in the middle
		// of ending its source side goes on with it: that ends with
		// offline_mode OFF.)
		//
		// Every application is refused: not ready, whatever the role, and
		// a primary does not count as taking writes (a person set it, or a
		// clone's guard whose marker is gone).
		msg := "offline_mode is ON: the server refuses every client without CONNECTION_ADMIN"
		d.Problems["offline"] = msg
		return d.notReady(SitOfflineMode, msg)
	}
	if p.Fence != "" {
		return fenced(o, d, p)
	}
	if p.Role == wire.RolePrimary {
		return decidePrimary(o, d, p, now)
	}
	return decideReplica(o, d, p, now)
}

// fenced keeps a pod that must not take writes read-only, whatever its
// role (Policy.Fence).
func fenced(o Observation, d Decision, p Policy) Decision {
	l := o.Local
	if !l.ReadOnly || l.Server.Flavor == sqldialect.MySQL && !l.SuperReadOnly {
		d.do(ActMakeReadOnly, p.Fence)
	}
	d.Problems["fence"] = p.Fence
	return d.notReady(SitFenced, "not taking writes: "+p.Fence)
}

// endReplication: a pod that became primary ends the channel it had as
// a replica once it has applied everything the channel received (the
// new primary's history is this pod's data). It returns the decision
// and true while there is something to do.
func endReplication(o Observation, d *Decision) (Decision, bool) {
	ch := o.PrimaryChannel
	if ch == nil || !ch.Configured || o.Partial {
		return Decision{}, false
	}
	l := o.Local
	got, err := sqldialect.ParseGTIDSet(l.Server.Flavor, ch.RetrievedGTIDSet)
	if err == nil && !l.GTIDs.Contains(got) {
		// What it received may be writes the old primary acknowledged
		// (SEMI_SYNC): they are applied before the channel goes.
		unapplied := got.Minus(l.GTIDs).String()
		switch {
		case ch.SQL == sqldialect.ThreadRunning:
		case ch.LastSQLErrno != 0:
			msg := "this pod holds the Lease but its applier stopped on an error before applying what its channel received (" + unapplied + "): " +
				ch.LastSQLError + "; it takes no writes and keeps its relay log: fix the error and START REPLICA SQL_THREAD, or move the Lease with a switchover"
			d.Problems["relay-log"] = msg
			return d.notReady(SitPrimaryApplyingRelay, msg), true
		default:
			d.do(ActStartApplier, "this pod holds the Lease and its relay log holds transactions it has not applied")
		}
		return d.notReady(SitPrimaryApplyingRelay, "this pod holds the Lease: applying what its replication channel received ("+
			unapplied+") before it takes writes"), true
	}
	if ch.IO != sqldialect.ThreadStopped || ch.SQL != sqldialect.ThreadStopped {
		d.do(ActStopReplica, "this pod holds the Lease: it replicates no more")
	}
	d.do(ActResetReplica, "this pod holds the Lease: its replication channel goes")
	return d.notReady(SitPrimaryEndingReplication, "this pod holds the Lease: ending the replication channel it had as a replica"), true
}

// finishSeed finishes a copy of a donor's data that is in place: the
// server restarts on it, a clone's guard is put back, a restored copy
// gets its GTID position (unless it is unproven). It returns the
// decision and true when that is all this pass does.
func finishSeed(o Observation, d *Decision) (Decision, bool) {
	switch sd := o.Seed; {
	case o.Partial:
		return Decision{}, false
	case sd.RestartNeeded:
		d.Memory.SeedAvoid = nil
		d.do(ActShutdown, "the copy of "+sd.Donor+"'s data is in place; the server restarts on it")
		return d.notReady(SitSeedRestarting, "seeded from "+sd.Donor+": restarting the server on the copied data"), true
	case sd.Guarded:
		// A clone lifted read-only behind offline_mode, and none runs now:
		// its sidecar stopped midway, it failed and could not undo it, or
		// the server restarted on the copy. Until the guard is back the
		// server counts neither as read-only nor as taking writes.
		d.do(ActEndClone, "a clone from "+sd.Donor+" lifted read-only behind offline_mode and no clone runs now: read-only first, then clients back in")
		d.Problems["clone"] = "a clone's guard is still up (read-only lifted, offline_mode ON): putting it back"
		return d.notReady(SitCloneGuardUp, "ending the guard of a clone from "+sd.Donor+": read-only, then offline_mode OFF"), true
	case sd.ResultPending:
		d.Memory.SeedAvoid = nil
		d.do(ActApplySeed, "the server was restored from "+sd.Donor+"'s copy at GTID "+sd.ResultGTID)
		return d.notReady(SitSeedApplying, "seeded from "+sd.Donor+": applying its GTID position "+sd.ResultGTID), true
	case sd.Unproven:
		// Its swap may have failed part-way and the server started on
		// what was left: giving it the copy's position would make a server
		// that lacks the data look as if it had it.
		msg := "a copy from " + sd.Donor + " is recorded as complete, but the server container has not proven that the data directory holds it " +
			"(STATE_DIR/seed/swapped.json): its GTID position is not applied and nothing else is done; the server container's seed-exec checks it at its next start"
		d.Problems["seed"] = msg
		return d.notReady(SitSeedUnproven, msg), true
	case sd.Err != "":
		d.Problems["seed"] = "seeding failed: " + sd.Err
	}
	return Decision{}, false
}

func (d Decision) notReady(s Situation, reason string) Decision {
	d.Situation, d.Ready, d.Reason = s, false, reason
	return d
}

func (d *Decision) do(kind ActionKind, why string) {
	d.Actions = append(d.Actions, Action{Kind: kind, Why: why})
}

func decidePrimary(o Observation, d Decision, p Policy, now time.Time) Decision {
	l := o.Local
	m := &d.Memory
	if dec, stop := endReplication(o, &d); stop {
		return dec
	}
	intact := LineageIntact(m.Lineage, l)
	if l.ReadOnly || l.SuperReadOnly {
		if why := lacksFailoverSet(o, p); why != "" {
			d.Problems["failover"] = why
			return d.notReady(SitPrimaryLacksFailoverSet, why)
		}
		// Writable first (once no peer holds what this pod lacks): account
		// statements fail under super_read_only, which a MySQL primary with
		// data starts with. The account is seen to in the next round.
		if g, stop := guard(o, &d, p, now, intact); stop {
			return g
		}
		if p.SemiSync && !semiSyncSource(l) && accountSettled(o, *m, p) {
			// Before writes are taken, so that none is acknowledged
			// without a replica's acknowledgement. With an account still to
			// create or change, those writes would wait for a replica that
			// cannot log in yet: the source side comes on after them
			// (primary-enabling-semi-sync), the primary not ready meanwhile.
			d.do(ActSemiSyncSource, "SEMI_SYNC: every commit waits for a replica's acknowledgement, from before the primary takes writes")
		}
		d.do(ActMakeWritable, "the primary is read-only (as every pod starts), and no peer holds a transaction it lacks")
		m.Approved = Lineage{Known: true, Origin: l.Origin, GTIDs: l.GTIDs}
		return d.notReady(SitPrimaryMakingWritable, "primary is read-only: making it writable")
	}
	if dataUnproven(l, m.Lineage, m.Approved) {
		// Writable, but not with data this sidecar let take writes: it
		// restarted after the data changed (a clone that finished while no
		// sidecar watched, a volume restored), or read-only was lifted by
		// hand. The guard decides now; if it holds, read-only again first.
		g, stop := guard(o, &d, p, now, false)
		if stop {
			g.Actions = []Action{{Kind: ActMakeReadOnly, Why: "the primary is writable with data it cannot prove it took writes with, and its guard holds: " + g.Reason}}
			g.Reason = "primary is writable with data it cannot prove its own: making it read-only until its guard passes; " + g.Reason
			return g
		}
	}
	m.Lineage, m.Approved = Lineage{Known: true, Origin: l.Origin, GTIDs: l.GTIDs}, Lineage{}
	var notes []string
	if a := o.Account; a != nil && !o.Partial {
		var stop bool
		var dec Decision
		if notes, dec, stop = decideAccount(o, &d, p, now, a); stop {
			return dec
		}
	}
	if len(d.Actions) > 0 {
		return d.notReady(SitPrimaryCorrectingAcct, "correcting the replication account")
	}
	sit, note := decideCopyAccount(o, &d, p)
	if p.SemiSync && !semiSyncSource(l) {
		if len(d.Actions) == 0 {
			d.do(ActSemiSyncSource, "SEMI_SYNC: every commit waits for a replica's acknowledgement")
		}
		return d.notReady(SitPrimaryEnablingSemiSync, "SEMI_SYNC: the primary is writable but does not wait for a replica's acknowledgement yet: enabling it")
	}
	if sit == "" {
		sit = SitPrimaryWritable
	}
	if note != "" {
		notes = append(notes, note)
	}
	d.Situation, d.Ready, d.Reason = sit, true, strings.Join(append([]string{"primary is writable"}, notes...), "; ")
	return d
}

// decideCopyAccount sees to a primary's copy account: on MySQL the clone
// account, through which recipients CLONE a donor; on MariaDB the backup
// account, as which backup-server runs mariadb-backup. Every pod has it:
// it is created on the primary and replicates. It must exist, be this
// tool's, hold the flavour's privileges (sqldialect CopyAccountPrivileges)
// and the password derived from the seed secret, and (the clone account)
// require TLS when the replication account does. BACKUP_ADMIN, which
// releases before this one granted to the replication account, is taken
// from it: the replication password alone must not fetch a copy. None of
// it stops the primary taking writes; it returns the situation ("" for
// none of its own) and a note for the reason.
func decideCopyAccount(o Observation, d *Decision, p Policy) (Situation, string) {
	c := o.CopyAccount
	if c == nil || o.Partial {
		return "", ""
	}
	dl, err := sqldialect.New(o.Local.Server)
	if err != nil {
		return "", ""
	}
	user := CopyAccountUser(o.Local.Server.Flavor)
	what := "the backup account " + user
	if dl.CloneSupported() {
		what = "the clone account " + user
	}
	m, fp := &d.Memory, o.Credentials.CopyFP
	before := len(d.Actions)
	var sit Situation
	var note string
	switch {
	case !c.Exists:
		d.do(ActCreateCopyAccount, "copies of this server's data are taken through an account of their own, holding "+strings.Join(dl.CopyAccountPrivileges(), ", ")+" only")
		m.CopyAccountFP = fp
	case !c.Marked:
		note = what + " exists but mysql-bootstrap did not create it: it is left alone, and copies from this server may fail; drop it so that the sidecar creates its own"
		d.Problems["copy-account"] = note
		sit = SitPrimaryCopyAcctForeign
	default:
		if c.LoginTested {
			switch {
			case c.PasswordWorks:
				m.CopyAccountFP = fp
			case c.PasswordUnknown != "":
				d.Problems["copy-account"] = "could not check the password of " + what + ": " + c.PasswordUnknown
			default:
				// No old password is retained: a copy with the old seed
				// secret is refused and retried.
				d.do(ActSetCopyPassword, "the seed secret changed (or the password of "+what+" was changed by hand)")
				m.CopyAccountFP = fp
			}
		}
		complete, extra := dl.CopyAccountGrants(c.Grants)
		if !complete {
			d.do(ActGrantCopyAccount, what+" lacks some of "+strings.Join(dl.CopyAccountPrivileges(), ", "))
		}
		if dl.CloneSupported() && p.TLSCA != "" && !c.RequireSSL {
			d.do(ActCloneRequireSSL, "REPLICATION_TLS_CA_FILE is set: clones without TLS are refused")
		}
		if len(extra) > 0 {
			d.Problems["copy-grants"] = fmt.Sprintf("%s has privileges beyond %s: %s (revoke them)",
				what, strings.Join(dl.CopyAccountPrivileges(), ", "), strings.Join(extra, ", "))
		}
	}
	if a := o.Account; a != nil && a.Marked && a.Grants.BackupAdmin {
		d.do(ActRevokeBackupAdmin, "the clone account holds BACKUP_ADMIN now: the replication password alone must not be able to clone this server")
	}
	if sit == "" && len(d.Actions) > before {
		sit, note = SitPrimaryCorrectingCopyAcct, "correcting "+what
	}
	return sit, note
}

// CloneAccountUser is MySQL's copy account (host '%'): recipients log in
// to their donor with it, from pod addresses that change.
const CloneAccountUser = "mysql-bootstrap-clone"

// BackupAccountUser is MariaDB's copy account: backup-server runs
// mariadb-backup as it, on the local server.
const BackupAccountUser = "mysql-bootstrap-backup"

// CopyAccountUser is the copy account of a flavour.
func CopyAccountUser(f sqldialect.Flavor) string {
	if f == sqldialect.MySQL {
		return CloneAccountUser
	}
	return BackupAccountUser
}

// decideAccount sees to a writable primary's replication account: it
// exists, is this tool's, has this pod's password (moved to it without
// stranding a replica) and the grants replication needs. It returns the
// notes for the reason, or the decision and true when that is all.
func decideAccount(o Observation, d *Decision, p Policy, now time.Time, a *AccountFacts) ([]string, Decision, bool) {
	m, fp := &d.Memory, o.Credentials.ReplicationFP
	view := &AccountView{ExtraGrants: a.Grants.Extra}
	d.Account = view
	if !a.Exists {
		d.do(ActCreateAccount, "the replication account does not exist")
		d.do(ActGrantReplication, "a new replication account")
		m.AccountVerified, m.AccountFP = true, fp
		return nil, d.notReady(SitPrimaryCorrectingAcct, "creating the replication account"), true
	}
	if !a.Marked {
		if dec, stop := adoptAccount(d, p, a); stop {
			return nil, dec, true
		}
	}
	rotating, notes := accountPassword(o, d, now, a, view)
	switch {
	case a.OldPasswordRetained:
		if m.RotationSince.IsZero() {
			m.RotationSince = now
		}
		waiting := replicasNotUsing(o.Peers, fp, func(c *wire.CredentialStatus) string { return c.ChannelTag })
		if len(waiting) == 0 || now.Sub(m.RotationSince) >= peerWaitMax {
			d.do(ActDiscardOld, "every replica replicates with the new password (or "+peerWaitMax.String()+" passed)")
			m.RotationSince = time.Time{}
		} else {
			view.WaitingFor = waiting
			notes = append(notes, "the old replication password keeps working until "+strings.Join(waiting, ", ")+" use the new one")
		}
	case !rotating && m.AccountVerified && m.AccountFP == fp:
		m.RotationSince = time.Time{}
	}
	if !a.Grants.Replication {
		d.do(ActGrantReplication, "the replication account lacks REPLICATION SLAVE on *.*")
	}
	if extra := replicationExtra(a); len(extra) > 0 {
		view.ExtraGrants = extra
		d.Problems["grants"] = fmt.Sprintf("the replication account %q has privileges beyond replication: %s (revoke them, or use another account for them)",
			p.User, strings.Join(extra, ", "))
	}
	if p.TLSCA != "" && !a.RequireSSL {
		d.do(ActRequireSSL, "REPLICATION_TLS_CA_FILE is set: replication logins without TLS are refused")
	}
	return notes, Decision{}, false
}

// adoptAccount takes over an account this tool did not create only when
// nothing about it would change (an account made by a release that did
// not mark its accounts yet); never resets its password. It returns the
// decision and true when the account is left alone.
func adoptAccount(d *Decision, p Policy, a *AccountFacts) (Decision, bool) {
	var why []string
	if a.LoginTested && !a.PasswordWorks {
		why = append(why, "REPLICATION_PASSWORD does not log into it")
	}
	if !a.Grants.Replication {
		why = append(why, "it lacks REPLICATION SLAVE on *.*")
	}
	if extra := replicationExtra(a); len(extra) > 0 {
		why = append(why, "it has other privileges: "+strings.Join(extra, ", "))
	}
	if !a.LoginTested {
		why = append(why, "its password was not checked yet")
	}
	if len(why) > 0 {
		msg := fmt.Sprintf("REPLICATION_USER %q names an existing account that mysql-bootstrap did not create (%s): its password and grants are left alone; "+
			"set REPLICATION_USER to another name, or drop that account so that the sidecar creates its own", p.User, strings.Join(why, "; "))
		d.Problems["account"] = msg
		return d.notReady(SitPrimaryAccountForeign, msg), true
	}
	d.do(ActMarkAccount, "the account has just the replication grant and REPLICATION_PASSWORD logs into it: adopting it")
	return Decision{}, false
}

// accountPassword moves the account to REPLICATION_PASSWORD when the
// login test says it has another, without stranding a replica that still
// uses the old one. rotating is true when it did not work; notes say
// what is waited for.
func accountPassword(o Observation, d *Decision, now time.Time, a *AccountFacts, view *AccountView) (rotating bool, notes []string) {
	m, fp := &d.Memory, o.Credentials.ReplicationFP
	if !a.LoginTested {
		return false, nil
	}
	switch {
	case a.PasswordWorks:
		m.AccountVerified, m.AccountFP = true, fp
	case a.PasswordUnknown != "":
		// Not proof of a wrong password: leave it, look again next pass.
		d.Problems["account"] = "could not check the replication password: " + a.PasswordUnknown
	default:
		// REPLICATION_PASSWORD changed (or the account was changed by
		// hand): move the account to it without stranding a replica that
		// still uses the old one.
		if m.RotationSince.IsZero() {
			m.RotationSince = now
		}
		waiting := replicasNotUsing(o.Peers, fp, func(c *wire.CredentialStatus) string { return c.ReplicationTag })
		switch {
		case dualPasswords(o.Local.Server):
			d.do(ActRotatePassword, "REPLICATION_PASSWORD changed; the old password keeps working until every replica uses the new one")
			m.AccountVerified, m.AccountFP = true, fp
		case len(waiting) == 0 || now.Sub(m.RotationSince) >= peerWaitMax:
			d.do(ActSetPassword, "REPLICATION_PASSWORD changed and every replica has read it (or "+peerWaitMax.String()+" passed)")
			m.AccountVerified, m.AccountFP, m.RotationSince = true, fp, time.Time{}
		default:
			view.WaitingFor = waiting
			notes = append(notes, "the replication account keeps its password until "+strings.Join(waiting, ", ")+
				" read the new REPLICATION_PASSWORD (MariaDB has no dual passwords)")
		}
		return true, notes
	}
	return false, nil
}

// replicationExtra lists the replication account's privileges beyond
// replication: BACKUP_ADMIN among them on an account this tool did not
// create (on one it did, releases before the clone account granted it,
// and decideCopyAccount takes it back).
func replicationExtra(a *AccountFacts) []string {
	if a.Grants.BackupAdmin && !a.Marked {
		return append([]string{"BACKUP_ADMIN ON *.*"}, a.Grants.Extra...)
	}
	return a.Grants.Extra
}

// dualPasswords reports whether the server can keep an old password.
func dualPasswords(s sqldialect.Server) bool {
	d, err := sqldialect.New(s)
	return err == nil && d.DualPasswordsSupported()
}

// replicasNotUsing names the replicas among peers whose password (as
// field reads it from their /status) is not fp, and those that did not
// answer; when the peers could not be listed, that is said instead.
func replicasNotUsing(pf *PeerFacts, fp string, field func(*wire.CredentialStatus) string) []string {
	switch {
	case pf == nil:
		return []string{"the replicas (not looked up)"}
	case pf.Err != "":
		return []string{"the replicas (" + pf.Err + ")"}
	}
	var out []string
	for _, peer := range pf.Peers {
		st := peer.Status
		switch {
		case st == nil:
			out = append(out, peer.Name()+" (no answer)")
		case st.Role != wire.RoleReplica:
		case st.Credentials == nil || field(st.Credentials) != fp:
			out = append(out, peer.Name())
		}
	}
	return out
}

// replicaPass is one decision about a replica: the observation, the
// decision being made, and the facts computed once from them.
type replicaPass struct {
	o   Observation
	d   *Decision
	p   Policy
	now time.Time
	replicaFacts
}

// replicaFacts are what decideReplica's steps look at, computed once.
type replicaFacts struct {
	l      LocalFacts
	r      *ReplicaFacts
	ch     sqldialect.ReplicaStatus
	src    SourceFacts
	flavor sqldialect.Flavor
	// primary is the primary's transactions as far as they are known
	// (known): asked now, or as last seen plus what the channel fetched.
	primary sqldialect.GTIDSet
	known   bool
	// errant: transactions this replica has and the primary lacks;
	// foreign: those of them it got from others (not its own writes).
	errant, foreign sqldialect.GTIDSet
	// missing: transactions the replica lacks that the primary's binary
	// logs no longer hold.
	missing sqldialect.GTIDSet
	// fatalIO: the receiver stopped on an error that the primary cannot
	// serve it; staleFatal: that error may be older than the primary's
	// data (see replicaFactsOf).
	fatalIO, staleFatal bool
	// fp is this pod's replication password's tag; pointsAt and
	// pointsRight say the channel points at the primary (with the right
	// TLS); refused: the primary refuses the channel's login; moved: the
	// password changed since the channel was given one.
	fp                    string
	pointsAt, pointsRight bool
	refused, moved        bool
}

func decideReplica(o Observation, d Decision, p Policy, now time.Time) Decision {
	l := o.Local
	if o.Replica == nil {
		return d.notReady(SitReplicaNotObserved, "replication state not observed yet")
	}
	d.Replica = &ReplicaView{SourceError: o.Replica.Source.Err}
	if p.SemiSync && l.SemiSync != nil && l.SemiSync.Source {
		// A former primary. Its commits that wait for an acknowledgement
		// hold up read-only (MySQL until the source side is off), and
		// turning the source side off tells their clients OK: for writes
		// no replica has when a failover moved the Lease away. Their
		// sessions end first.
		d.do(ActEndSemiSyncSource, "a replica must not be a semi-sync source, and its waiting commits must not be acknowledged")
		// What it holds now bounds the tail a failover may discard.
		d.Memory.DemotedWith = l.GTIDs
		return d.notReady(SitReplicaEndingSemiSyncSource, "this former primary is still a semi-sync source: ending every client session, then turning the source side off and making it read-only")
	}
	// Read-only before anything else: nothing may write to a replica.
	if !l.ReadOnly || l.Server.Flavor == sqldialect.MySQL && !l.SuperReadOnly {
		d.do(ActMakeReadOnly, "a replica must refuse client writes")
		return d.notReady(SitReplicaMakingReadOnly, "replica is writable: making it read-only")
	}
	if p.Hold != "" {
		return holdForFailover(o, d, p)
	}
	if p.SemiSync && !semiSyncReplica(l) {
		// Before any CHANGE or START of this pass, which then connect
		// with it on; a receiver already connected reconnects.
		d.do(ActSemiSyncReplica, "SEMI_SYNC: a replica acknowledges what it receives, and is no semi-sync source")
		if io := o.Replica.Channel.IO; io == sqldialect.ThreadRunning || io == sqldialect.ThreadConnecting {
			d.do(ActRestartReceiver, "the semi-sync replica side takes effect when the receiver reconnects")
		}
	}
	rp := &replicaPass{o: o, d: &d, p: p, now: now}
	rp.replicaFacts = replicaFactsOf(o, &d, p)
	for _, step := range []func() (Decision, bool){rp.discardTail, rp.neverReplicated, rp.diverged, rp.primaryLacks, rp.needsSeed} {
		if dec, ok := step(); ok {
			return dec
		}
	}
	note := rp.channel()
	switch {
	case rp.staleFatal && rp.src.StatusKnown && !rp.src.Writable:
		note = "replication stopped on an error from the primary, which takes no writes yet: it is restarted once the primary does"
	case rp.pointsRight && !rp.refused:
		note = decideThreads(rp.ch, &d, &d.Memory, rp.known, rp.errant, now, note)
	}
	rp.problems()
	staleness, lag := rp.freshness()
	return rp.verdict(note, staleness, lag)
}

// replicaFactsOf computes a replica's facts; asking the primary failed
// is logged, and the primary's transactions remembered when it answered.
func replicaFactsOf(o Observation, d *Decision, p Policy) replicaFacts {
	l, r := o.Local, o.Replica
	f := replicaFacts{l: l, r: r, ch: r.Channel, src: r.Source, flavor: l.Server.Flavor}
	m, ch, src := &d.Memory, f.ch, f.src
	if src.Reached() {
		f.primary, f.known = src.GTIDs, true
		m.PrimaryGTIDs = src.GTIDs
	} else {
		d.Problems["source"] = "cannot ask the primary " + p.PrimaryHost + " for its transactions: " + src.Err + refusedHint(src, p)
		if m.PrimaryGTIDs.Flavor() != 0 {
			f.primary, f.known = m.PrimaryGTIDs, true
			if got, err := sqldialect.ParseGTIDSet(f.flavor, ch.RetrievedGTIDSet); err == nil && ch.Configured {
				f.primary = f.primary.Union(got)
			}
		}
	}
	if f.known {
		f.errant = l.GTIDs.Minus(f.primary)
		if !src.Reached() {
			// The remembered set is older than what the replica has
			// applied since: only its own writes can be told errant
			// without asking the primary.
			f.errant = f.errant.Minus(f.errant.Without(l.Origin))
		}
		d.Replica.Errant, d.Replica.ErrantKnown = f.errant.String(), true
		// Transactions this replica got from others (not its own writes)
		// that the primary lacks: the primary's history was replaced (an
		// emptied or rolled-back primary), or the primary is recovering
		// from its peers.
		f.foreign = f.errant.Without(l.Origin)
	}
	if src.Reached() && src.PurgedKnown {
		f.missing = src.Purged.Minus(l.GTIDs)
	}
	f.fatalIO = receiverFatal(ch)
	// The receiver's error can be older than the primary's data: it was
	// refused by a primary that was recovering (restored from an older
	// copy: "Replica has more GTIDs than the source has"), which now holds
	// everything again. When the primary's purged transactions are known
	// and the replica lacks none of them, replication is restarted once
	// (decideThreads) before a copy is taken; the error coming back then
	// (the restart is remembered in Memory.Start) means a seed. That one
	// restart waits until the primary takes writes: until then it may
	// still be putting its data and GTID position in place.
	f.staleFatal = f.fatalIO && f.missing.IsEmpty() && src.Reached() && src.PurgedKnown && m.Start.Tries == 0
	f.fp = o.Credentials.ReplicationFP
	f.pointsAt = ch.PointsAt(p.PrimaryHost, p.Port, p.User)
	f.pointsRight = f.pointsAt && ch.TLSMatches(p.TLS, p.TLSCA, p.TLSCert, p.TLSKey)
	f.refused = ch.IO != sqldialect.ThreadRunning && IsAuthError(ch.LastIOErrno)
	// The password changed since this sidecar gave the channel one, and a
	// login made now tells whether the primary takes the new one.
	f.moved = m.ChannelFP != "" && m.ChannelFP != f.fp
	return f
}

// lacksFailoverSet says why a pod that took the Lease by a failover may
// not take writes: it does not hold everything it had received when it
// took it ("" when it does, or a person chose its own data). Its relay
// log, which a server restart drops, may have held acknowledged writes.
func lacksFailoverSet(o Observation, p Policy) string {
	if p.FailedOverReceived == "" || o.Override != nil && o.Override.Err == "" && o.Override.Action == OverrideOwnData {
		return ""
	}
	l := o.Local
	want, err := sqldialect.ParseGTIDSet(l.Server.Flavor, p.FailedOverReceived)
	switch {
	case err != nil:
		return "this pod took the Lease by a failover, and the transactions it recorded then (" + p.FailedOverReceived + ") cannot be read: " + err.Error() + "; not taking writes"
	case !l.GTIDs.Contains(want):
		return "this pod took the Lease by a failover holding " + p.FailedOverReceived + " (its relay log included), and lacks " + want.Minus(l.GTIDs).String() +
			" now (a restart of its server drops the relay log): they may be writes the old primary acknowledged; not taking writes. " +
			"Bring back the pod that holds them, or, to take writes without them: mysql-bootstrap primary-override --use-own-data"
	}
	return ""
}

// holdForFailover: FAILOVER=auto and the primary is past its Lease's
// read-only deadline (it takes no writes if it runs at all). The
// receiver stops and stays stopped, so that every transaction the old
// primary can still have acknowledged is in what this replica and its
// peers publish; the applier goes on. Nothing else is done until the
// Lease has a holder again.
func holdForFailover(o Observation, d Decision, p Policy) Decision {
	ch := o.Replica.Channel
	// Its errant transactions, for /status failoverHold: a replica with
	// some does not take over.
	replicaFactsOf(o, &d, p)
	why := "the primary " + p.Hold + " has not renewed its Lease past its read-only deadline (FAILOVER=auto): "
	if ch.IO == sqldialect.ThreadRunning || ch.IO == sqldialect.ThreadConnecting {
		d.do(ActStopReceiver, why+"nothing more is received from it, so that it gets no acknowledgement the candidates do not see")
		return d.notReady(SitReplicaHoldingForFailover, why+"stopping the receiver")
	}
	return d.notReady(SitReplicaHoldingForFailover, why+"the receiver is stopped; once the Lease expires, the most advanced replica takes it, when every replica has stopped receiving")
}

// discardTail: FAILOVER=auto, this pod lost its Lease to a failover and
// holds transactions of its own the new primary lacks. With SEMI_SYNC
// none of them was acknowledged: the new primary's set held every
// replica's, and every acknowledged commit was in some replica's. A
// copy of a donor's data replaces them.
func (rp *replicaPass) discardTail() (Decision, bool) {
	l, m := rp.l, &rp.d.Memory
	// Only once the new primary takes writes (it has applied its relay
	// log, which may hold what this pod committed and some replica
	// acknowledged), and only transactions this pod held when it stopped
	// being a semi-sync source (Memory.DemotedWith): a write made on it
	// since, by hand, is no unacknowledged tail.
	if !rp.p.DiscardTail || !rp.known || !rp.src.Reached() || !rp.src.StatusKnown || !rp.src.Writable ||
		rp.errant.IsEmpty() || !rp.errant.OnlyFrom(l.Origin) || m.DemotedWith.Flavor() == 0 || !m.DemotedWith.Contains(rp.errant) {
		return Decision{}, false
	}
	why := "this pod was the primary until a failover; it holds transactions the new primary lacks (" + rp.errant.String() +
		"), which no replica acknowledged (SEMI_SYNC): no client was told they committed, and a copy of a donor's data replaces them"
	rp.d.Problems["unacknowledged-tail"] = why
	dec := seedReplica(rp.o, rp.d, rp.p, rp.now, rp.src.Purged, why)
	if dec.Situation == SitReplicaSeedStarting {
		dec.Situation = SitReplicaDiscardingTail
	}
	return dec, true
}

// neverReplicated: a replica that never replicated holds only what its
// own first start wrote, or data of its own.
func (rp *replicaPass) neverReplicated() (Decision, bool) {
	l, r, d, m := rp.l, rp.r, rp.d, &rp.d.Memory
	if rp.ch.Configured || l.GTIDs.IsEmpty() || rp.known && rp.errant.IsEmpty() {
		return Decision{}, false
	}
	own := l.GTIDs
	if rp.known {
		own = rp.errant
	}
	if own.OnlyFrom(l.Origin) && len(r.UserTables) == 0 && len(r.Accounts) > 0 {
		// The image's first start created accounts: the primary's
		// history creates them too (the same pod template), and CREATE
		// USER cannot be applied twice. A copy of a donor's data
		// replaces them with the primary's.
		why := "the replica never replicated and its first start created accounts (" + strings.Join(r.Accounts, ", ") +
			") that the primary's history creates too: copying a donor's data instead of replaying that history"
		return seedReplica(rp.o, d, rp.p, rp.now, sqldialect.GTIDSet{}, why), true
	}
	if own.OnlyFrom(l.Origin) && len(r.UserTables) == 0 {
		// Time zones and empty databases that the image's
		// first start binary-logged: they stay in the tables, only
		// their GTIDs go, so that the primary's history is the
		// replica's. Nothing else was ever written here.
		d.do(ActResetBinaryLogs, fmt.Sprintf("the replica never replicated and its only transactions (%s) are its first start's: no table outside the system schemas", l.GTIDs))
		m.Resets++
		m.Cleaned = l.GTIDs.String()
		d.Replica.Errant = ""
		return d.notReady(SitReplicaResettingFirst, "removing the GTIDs of this replica's first start ("+l.GTIDs.String()+") before it replicates"), true
	}
	if !rp.known {
		return d.notReady(SitReplicaSourceUnknown, "waiting to compare this replica's transactions with the primary's before it replicates: "+rp.src.Err), true
	}
	why := "transactions " + rp.errant.String()
	if len(r.UserTables) > 0 {
		why += " and tables " + strings.Join(r.UserTables, ", ")
	}
	d.Problems["own-data"] = "this replica never replicated but holds data the primary lacks: " + why
	return d.notReady(SitReplicaOwnData, "replica never replicated but holds data of its own the primary lacks ("+why+
		"): it is neither reset nor replicated into; rebuild it from an empty volume, or remove that data and run "+resetAdvice(l.Server)), true
}

// diverged: the primary takes writes without transactions this replica
// got from it (remembered until the primary holds them again, MySQL).
func (rp *replicaPass) diverged() (Decision, bool) {
	d, m, ch, foreign := rp.d, &rp.d.Memory, rp.ch, rp.foreign
	switch {
	case !foreign.IsEmpty() && rp.src.StatusKnown && rp.src.Writable:
		m.Diverged = true
	case m.Diverged && rp.flavor == sqldialect.MySQL && rp.known && foreign.IsEmpty():
		// MySQL's GTID sets are exact: the primary holds this replica's
		// history again (it was recovered), so following it is safe.
		// MariaDB's sequence numbers are not: a replaced primary's counter
		// passing the replica's looks the same, so there it never ends by
		// itself.
		m.Diverged = false
	}
	if !m.Diverged {
		return Decision{}, false
	}
	if ch.IO != sqldialect.ThreadStopped || ch.SQL != sqldialect.ThreadStopped {
		d.do(ActStopReplica, "the primary's history no longer holds transactions this replica got from it")
	}
	which := ""
	if !foreign.IsEmpty() {
		// Empty on MariaDB once the new history's sequence numbers
		// pass this replica's: the divergence is remembered.
		which = " (" + foreign.String() + ")"
	}
	msg := "the primary's history no longer holds transactions this replica got from it" + which +
		": replication is stopped and is not resumed on its own; if the primary is right, rebuild this replica (empty its volume); " +
		"if this replica holds the data, recover the primary from it (see README: an empty primary)"
	d.Problems["diverged"] = msg
	return d.notReady(SitReplicaDiverged, msg), true
}

// primaryLacks: the primary lacks what it once sent, but it does not
// take writes (it is recovering, or cannot be asked): touch nothing,
// serve reads while the data is fresh enough.
func (rp *replicaPass) primaryLacks() (Decision, bool) {
	d, m := rp.d, &rp.d.Memory
	if rp.foreign.IsEmpty() {
		return Decision{}, false
	}
	var staleness *time.Duration
	if !m.FreshAsOf.IsZero() {
		s := max(rp.now.Sub(m.FreshAsOf), 0).Round(time.Second)
		staleness = &s
	}
	d.Replica.Staleness = staleness
	why := "the primary lacks transactions this replica holds (" + rp.foreign.String() + ") and takes no writes: it is recovering, or must be"
	if m.CaughtUp && staleness != nil && *staleness <= rp.p.MaxLag {
		d.Situation, d.Ready, d.Reason = SitReplicaServingRecovering, true, fmt.Sprintf("serving data at most %s old (MAX_REPLICATION_LAG %s) while %s", *staleness, rp.p.MaxLag, why)
		return *d, true
	}
	return d.notReady(SitReplicaPrimaryRecovering, why), true
}

// needsSeed: transactions the replica lacks that the primary's binary
// logs no longer hold: replication cannot bring it up to date, a copy
// can.
func (rp *replicaPass) needsSeed() (Decision, bool) {
	if (!rp.missing.IsEmpty() || rp.fatalIO && !rp.staleFatal) && rp.known && rp.errant.IsEmpty() {
		return decideSeed(rp.o, *rp.d, rp.p, rp.now, rp.missing), true
	}
	return Decision{}, false
}

// channel points the channel at the primary with this pod's password
// when it must and may, and returns what is being done about it, for the
// reason.
func (rp *replicaPass) channel() string {
	d, m, ch, src := rp.d, &rp.d.Memory, rp.ch, rp.src
	if rp.moved {
		// A new password deserves a CHANGE at once, whatever the old one
		// cost in back-off.
		m.Change = Backoff{}
	}
	switch {
	case (rp.refused || rp.moved) && rp.pointsRight && src.FreshLogin && src.Refused:
		// CHANGE cannot help: the primary refuses this password too.
		if !rp.refused {
			return "the primary does not accept the new REPLICATION_PASSWORD yet: replication keeps the password it has"
		}
		note := "the primary refuses this pod's REPLICATION_PASSWORD (or REPLICATION_USER): it differs from the primary's account"
		if rp.p.TLSCA == "" {
			note += ", or the account requires TLS (REQUIRE SSL) and this pod has no REPLICATION_TLS_CA_FILE"
		}
		note += "; waiting for this pod's Secret or the primary's account to change"
		d.Problems["channel"] = note
		return note
	case rp.moved && rp.pointsRight && !rp.refused && !src.Reached():
		// Whether the primary takes the new password is unknown: keep
		// what works.
	case !rp.pointsRight || rp.refused || rp.moved:
		return rp.change(rp.changeWhy())
	case ch.IO == sqldialect.ThreadRunning:
		// Connected with its password: whatever CHANGE was pending worked.
		m.Change = Backoff{}
		if ch.SQL == sqldialect.ThreadRunning {
			m.Start = Backoff{}
		}
	}
	return ""
}

// changeWhy says why the channel needs a CHANGE.
func (rp *replicaPass) changeWhy() string {
	ch, p := rp.ch, rp.p
	switch {
	case rp.refused:
		return fmt.Sprintf("the primary refuses this replica's replication login (IO error %d): this pod's REPLICATION_PASSWORD (or REPLICATION_USER) differs from the primary's account", ch.LastIOErrno)
	case !rp.pointsAt && ch.Configured:
		return fmt.Sprintf("replication points at %s:%d as %q, not at %s:%d as %q with GTID auto-positioning",
			ch.SourceHost, ch.SourcePort, ch.SourceUser, p.PrimaryHost, p.Port, p.User)
	case ch.Configured && !rp.pointsRight:
		return "replication's TLS settings differ from REPLICATION_TLS*"
	case rp.moved:
		return "REPLICATION_PASSWORD changed and the primary accepts the new one"
	}
	return "replication is not configured"
}

// change runs CHANGE (stop, change, start) for why, unless its back-off
// holds, and returns the note for the reason.
func (rp *replicaPass) change(why string) string {
	d, m, ch, view, now := rp.d, &rp.d.Memory, rp.ch, rp.d.Replica, rp.now
	if !m.Change.Due(now) {
		view.ChangeTries, view.NextChange = m.Change.Tries, m.Change.Next()
		d.Problems["channel"] = why
		return fmt.Sprintf("%s; CHANGE tried %d time(s) without fixing it, next at %s", why, m.Change.Tries, m.Change.Next().UTC().Format(time.TimeOnly))
	}
	if ch.Configured {
		d.do(ActStopReplica, why)
	}
	if !ch.Configured && rp.flavor == sqldialect.MariaDB && !rp.l.GTIDs.IsEmpty() && rp.known && rp.errant.IsEmpty() {
		// Its binary log holds transactions of the primary's history that
		// gtid_slave_pos does not (a former primary's own writes):
		// MASTER_USE_GTID=slave_pos would fetch them again.
		d.do(ActAdoptBinlogPosition, "the server's binary log holds "+rp.l.GTIDs.String()+" of the primary's history, which replication must not fetch again")
	}
	d.do(ActChangeSource, why)
	d.do(ActStartReplica, "after CHANGE")
	m.Changes++
	m.Restarts++
	m.ChannelFP = rp.fp
	if ch.Configured && !rp.pointsAt {
		// Another source's data: the comparison starts over.
		m.CaughtUp, m.Snapshot = false, sqldialect.GTIDSet{}
	}
	// Pointing a channel at its source is what CHANGE is for; a
	// refused login may not be fixed by it, so that is paced.
	if rp.refused {
		m.Change = m.Change.Tried(now, changeBackoffFirst, changeBackoffMax)
		view.ChangeTries, view.NextChange = m.Change.Tries, m.Change.Next()
	}
	return why + ": reconfiguring"
}

// problems records the replica's conditions worth a log line.
func (rp *replicaPass) problems() {
	d, ch, r := rp.d, rp.ch, rp.r
	if ch.LastIOErrno != 0 {
		d.Problems["io"] = "replication IO error: " + ch.LastError()
	}
	if ch.LastSQLErrno != 0 {
		d.Problems["sql"] = "replication SQL error " + fmt.Sprint(ch.LastSQLErrno) + ": " + OneLine(ch.LastSQLError)
	}
	if rp.known && !rp.errant.IsEmpty() {
		d.Problems["errant"] = "replica has transactions the primary lacks (errant GTIDs): " + rp.errant.String() + "; rebuild it from the primary"
	}
	if len(r.Writers) > 0 {
		d.Replica.Writers = r.Writers
		d.Problems["writers"] = "these accounts can write on this read-only replica (SUPER or READ_ONLY ADMIN), and a write would be an errant transaction: " +
			strings.Join(r.Writers, ", ")
	}
}

// freshness works out what the replica's data is worth: how long ago the
// primary held no more than it has applied (staleness, from the samples
// of the primary's GTID set the data holds), and the applier's lag,
// reported beside it. Seconds_Behind_Source cannot say it: it is 0
// whenever the applier has caught up with a receiver that may itself be
// minutes behind (a slow link), and right after a restart it can be the
// age of an old event.
func (rp *replicaPass) freshness() (staleness, lag *time.Duration) {
	m, l, src, ch := &rp.d.Memory, rp.l, rp.src, rp.ch
	if !m.CaughtUp && src.Reached() {
		if m.Snapshot.Flavor() == 0 {
			m.Snapshot = src.GTIDs
		}
		m.CaughtUp = l.GTIDs.AppliedUpTo(m.Snapshot)
	}
	if src.Reached() {
		m.Samples = addSample(m.Samples, rp.o.At, src.GTIDs)
	}
	m.FreshAsOf, m.Samples = freshness(m.FreshAsOf, m.Samples, l.GTIDs)
	if rp.pointsRight && ch.IO == sqldialect.ThreadRunning && ch.Lag != nil {
		l := time.Duration(*ch.Lag) * time.Second
		lag = &l
	}
	if !m.FreshAsOf.IsZero() {
		// The proof alone: the data holds every transaction the primary
		// had at FreshAsOf. Seconds_Behind_Source is not added: it cannot
		// make data older than that proof says (it would be the age of an
		// event the replica applies after holding everything up to
		// FreshAsOf), and right after a restart MariaDB reports the age
		// of an old event for a moment, which made a replica that had
		// been ready leave the Service for a pass.
		s := max(rp.now.Sub(m.FreshAsOf), 0).Round(time.Second)
		staleness = &s
	}
	rp.d.Replica.Staleness = staleness
	return staleness, lag
}

// verdict is the replica's readiness, with note (what is being done
// about the channel) after the reason.
func (rp *replicaPass) verdict(note string, staleness, lag *time.Duration) Decision {
	d, m, ch, p, src := rp.d, &rp.d.Memory, rp.ch, rp.p, rp.src
	reason := func(s string) string {
		if note != "" {
			return s + "; " + note
		}
		return s
	}
	switch {
	case !ch.Configured:
		return d.notReady(SitReplicaNotConfigured, reason("replication is not configured yet"))
	case !rp.pointsAt:
		return d.notReady(SitReplicaWrongSource, reason("replication does not point at the primary"))
	case !rp.known:
		return d.notReady(SitReplicaSourceUnknown, reason("cannot compare this replica's transactions with the primary's: "+src.Err+refusedHint(src, p)))
	case !rp.errant.IsEmpty():
		return d.notReady(SitReplicaErrant, reason("replica has transactions the primary lacks: "+rp.errant.String()))
	case ch.LastSQLErrno != 0:
		return d.notReady(SitReplicaSQLError, reason("replication error: "+ch.LastError()))
	case ch.SQL != sqldialect.ThreadRunning:
		return d.notReady(SitReplicaThreadsStopped, reason(fmt.Sprintf("replication threads not running (IO %s, SQL %s)", ch.IO, ch.SQL)))
	case !m.CaughtUp:
		return d.notReady(SitReplicaCatchingUp, reason(fmt.Sprintf("catching up with the primary's transactions (%d to go)", m.Snapshot.CountNotIn(rp.l.GTIDs))))
	case rp.provenBeforeStart():
		return d.notReady(SitReplicaCatchingUp, reason(fmt.Sprintf("catching up with what the primary wrote while this server was down (%d to go): "+
			"its data was last proven complete before the server started, %s ago", src.GTIDs.CountNotIn(rp.l.GTIDs), *staleness)))
	case staleness == nil:
		return d.notReady(SitReplicaStalenessUnknown, reason("how old this replica's data is, is unknown: replication "+ioDescription(ch)))
	case *staleness > p.MaxLag && ch.IO == sqldialect.ThreadRunning:
		return d.notReady(SitReplicaLagging, reason(fmt.Sprintf("data may be %s old, more than MAX_REPLICATION_LAG %s: it has not applied what the primary held then "+
			"(its applier's lag, Seconds_Behind_Source, is %s: the receiver is behind)", *staleness, p.MaxLag, lagString(lag))))
	case *staleness > p.MaxLag:
		return d.notReady(SitReplicaLagging, reason(fmt.Sprintf("data may be %s old, more than MAX_REPLICATION_LAG %s: replication %s", *staleness, p.MaxLag, ioDescription(ch))))
	case ch.IO == sqldialect.ThreadRunning:
		d.Situation, d.Ready, d.Reason = SitReplicaReplicating, true, reason(fmt.Sprintf("replicating from %s, data at most %s old", p.PrimaryHost, *staleness))
	default:
		d.Situation, d.Ready, d.Reason = SitReplicaServingStaleOK, true, reason(fmt.Sprintf("serving data at most %s old (MAX_REPLICATION_LAG %s) while replication %s", *staleness, p.MaxLag, ioDescription(ch)))
	}
	return *d
}

// provenBeforeStart reports whether the primary answers while the only
// proof of the replica's freshness predates its server's start (kept over
// a restart, or restored from STATE_DIR); the data then lacks what the
// primary holds now (holding it makes this pass the proof, freshness).
// That proof serves while the primary cannot be asked
// (a replica restarted during an outage serves reads); while the primary
// answers, replication brings a proof of this run within the catch-up,
// and turning ready on the old one would leave only what is left of
// MAX_REPLICATION_LAG: the replica would leave the Service again unless
// it caught up first, and a StatefulSet roll restarts the primary as soon
// as the replica is Ready (k8s e2e case 5: two pods down).
// RestartTolerance absorbs the one-second resolution of Uptime.
func (rp *replicaPass) provenBeforeStart() bool {
	fresh := rp.d.Memory.FreshAsOf
	return rp.src.Reached() && !fresh.IsZero() && fresh.Before(rp.l.StartedAt.Add(-RestartTolerance))
}

// maxSamples bounds the primary's GTID sets a replica keeps: dropping the
// oldest only ever makes its data look older than it is.
const maxSamples = 64

// PrimarySample is the primary's transactions as observed at At.
type PrimarySample struct {
	At    time.Time
	GTIDs sqldialect.GTIDSet
}

// addSample records the primary's transactions seen at at: a set equal to
// the last one only moves its time on. The list is new (memory is shared
// with the probe path).
func addSample(list []PrimarySample, at time.Time, g sqldialect.GTIDSet) []PrimarySample {
	if n := len(list); n > 0 && list[n-1].GTIDs.Equal(g) {
		out := slices.Clone(list)
		out[n-1].At = at
		return out
	}
	out := append(slices.Clip(list), PrimarySample{At: at, GTIDs: g})
	if len(out) > maxSamples {
		out = slices.Clone(out[len(out)-maxSamples:])
	}
	return out
}

// freshness returns when the replica's data (local) was last complete:
// the time of the newest sample of the primary's transactions it has
// applied (or fresh, if later), and the samples newer than that, which it
// has still to reach.
func freshness(fresh time.Time, list []PrimarySample, local sqldialect.GTIDSet) (time.Time, []PrimarySample) {
	for i := len(list) - 1; i >= 0; i-- {
		if local.AppliedUpTo(list[i].GTIDs) {
			if list[i].At.After(fresh) {
				fresh = list[i].At
			}
			return fresh, slices.Clone(list[i+1:])
		}
	}
	return fresh, list
}

// lagString writes Seconds_Behind_Source, or says it is unknown.
func lagString(lag *time.Duration) string {
	if lag == nil {
		return "unknown"
	}
	return lag.String()
}

// decideThreads restarts stopped replication threads, except after an
// applier error (that needs a person: skipping it would lose or diverge
// data) and in a replica with transactions the primary lacks. (A receiver
// that the primary cannot serve any more never gets here: decideSeed
// handles it.)
func decideThreads(ch sqldialect.ReplicaStatus, d *Decision, m *Memory, known bool, errant sqldialect.GTIDSet, now time.Time, note string) string {
	if ch.Running() || ch.IO == sqldialect.ThreadConnecting && ch.SQL == sqldialect.ThreadRunning {
		return note
	}
	if ch.LastSQLErrno != 0 {
		return "the applier stopped on an error that needs a person: it is not restarted"
	}
	if known && !errant.IsEmpty() {
		return "not restarting replication into a replica with transactions the primary lacks"
	}
	if !m.Start.Due(now) {
		return fmt.Sprintf("replication stopped; next start at %s", m.Start.Next().UTC().Format(time.TimeOnly))
	}
	d.do(ActStartReplica, fmt.Sprintf("replication threads stopped (IO %s, SQL %s)", ch.IO, ch.SQL))
	m.Start = m.Start.Tried(now, startBackoffFirst, startBackoffMax)
	m.Restarts++
	return note
}

// refusedHint says what to check when the primary refuses the sidecar's
// own login.
func refusedHint(src SourceFacts, p Policy) string {
	if !src.Refused {
		return ""
	}
	h := " (the primary refuses this pod's login: REPLICATION_PASSWORD or REPLICATION_USER differ from the primary's account"
	if p.TLSCA == "" {
		h += ", or the account requires TLS (REQUIRE SSL) and this pod has no REPLICATION_TLS_CA_FILE"
	}
	return h + ")"
}

// ioDescription says what the receiver is doing, for reasons.
func ioDescription(ch sqldialect.ReplicaStatus) string {
	var s string
	switch ch.IO {
	case sqldialect.ThreadRunning:
		s = "is connected"
	case sqldialect.ThreadConnecting:
		s = "is reconnecting to " + ch.SourceHost
	default:
		s = "is stopped"
	}
	if ch.LastIOErrno != 0 {
		s += fmt.Sprintf(" (IO error %d: %s)", ch.LastIOErrno, OneLine(ch.LastIOError))
	}
	return s
}

// resetAdvice is the statement a person runs to empty a replica's GTID
// history, as the executor would for the server's version (RESET BINARY
// LOGS AND GTIDS exists from MySQL 8.2 only).
func resetAdvice(s sqldialect.Server) string {
	d, err := sqldialect.New(s)
	if err != nil {
		return "RESET MASTER"
	}
	return d.ResetBinaryLogs().SQL
}

// decideSeed replaces a replica's data with a copy of a donor's: the
// primary no longer has transactions the replica lacks (missing; empty
// when only the receiver's error says so). Only a replica whose every
// transaction the primary has comes here: one with transactions of its own
// is reported, never copied over.
func decideSeed(o Observation, d Decision, p Policy, now time.Time, missing sqldialect.GTIDSet) Decision {
	l, ch := o.Local, o.Replica.Channel
	why := "the primary cannot send what this replica needs (" + ch.LastError() + ")"
	if !missing.IsEmpty() {
		why = "the primary's binary logs no longer hold transactions this replica lacks (" + missing.String() + ")"
	}
	behind := !l.GTIDs.IsEmpty() // it holds replicated data, it is not new
	if behind && !p.AutoReseed {
		d.Problems["seed"] = why + "; AUTO_RESEED=false"
		return d.notReady(SitReplicaSeedDisabled, why+": AUTO_RESEED=false, so it is not re-seeded; empty its volume to rebuild it from a donor, or set AUTO_RESEED=true")
	}
	return seedReplica(o, &d, p, now, o.Replica.Source.Purged, why)
}

// seedReplica copies a donor's data into a replica, paced by the seed
// back-off, except right after a copy whose donor was busy or stalled:
// then another donor, if there is one, is tried at once.
func seedReplica(o Observation, d *Decision, p Policy, now time.Time, need sqldialect.GTIDSet, why string) Decision {
	m := &d.Memory
	fast := failedFast(o.Seed)
	if fast {
		m.SeedAvoid = appendUnique(m.SeedAvoid, o.Seed.Donor)
	}
	// A copy replaces everything this replica holds: the donor must hold
	// it too (its own writes aside, which a replica that has any never
	// reaches here with). A primary restored from an older copy answers a
	// replica that is ahead of it with 1236 too: it is no donor for it.
	keep := o.Local.GTIDs.Without(o.Local.Origin)
	primarySet := m.PrimaryGTIDs
	if src := o.Replica.Source; src.Reached() {
		primarySet = src.GTIDs
	}
	donor, fresh, ok := chooseDonor(o.Peers, p, o.Local.Server.Flavor, m.SeedDonor, m.SeedAvoid, need, keep, primarySet)
	if !ok {
		msg := why + "; but no donor holds every transaction this replica has (" + keep.String() + "): nothing is copied over them; " +
			"waiting for the primary or a ready replica that holds them"
		d.Problems["seed"] = msg
		return d.notReady(SitReplicaSeedNoDonor, msg)
	}
	switch {
	case fast && fresh:
		why += "; the last copy's donor " + o.Seed.Donor + " was " + o.Seed.Kind + ", so another is tried at once"
	case !m.Seed.Due(now):
		return d.notReady(SitReplicaSeedWaiting, fmt.Sprintf("%s; the last seed from %s failed, next attempt at %s", why, m.SeedDonor, m.Seed.Next().UTC().Format(time.TimeOnly)))
	default:
		// A paced attempt: every donor may be tried again.
		m.SeedAvoid = nil
	}
	return startSeed(o, d, SitReplicaSeedStarting, donor, now, why, "seeding from ")
}

// failedFast reports whether the last copy failed in a way that another
// donor may be tried at once: its donor was busy with another copy, moved
// no byte for SEED_STALL_TIMEOUT, or could not be reached.
func failedFast(sd SeedFacts) bool {
	return !sd.Running && sd.Err != "" && sd.Donor != "" && (sd.Kind == SeedBusy || sd.Kind == SeedStalled || sd.Kind == SeedLost)
}

// appendUnique returns list with s added once, in a new array (memory is
// shared with the probe path, which must not see it change).
func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(slices.Clip(list), s)
}

// cloneNetworkStages are the stages of a MySQL clone that move bytes from
// the donor; the others (DROP DATA, FILE SYNC, RESTART, RECOVERY) are
// local and may take long without moving any.
var cloneNetworkStages = map[string]bool{"FILE COPY": true, "PAGE COPY": true, "REDO COPY": true}

// cloneStalled tracks a running MySQL clone's bytes in m and reports
// (with why) when it moved none for SEED_STALL_TIMEOUT in a stage that
// copies from the donor: the donor is gone or hangs (CLONE itself would
// wait minutes for it).
func cloneStalled(sd SeedFacts, m *Memory, p Policy, at time.Time) (string, bool) {
	if sd.PID == 0 || p.SeedStall <= 0 {
		return "", false
	}
	if sd.Stage != m.SeedStage || sd.Moved != m.SeedMoved || m.SeedMovedAt.IsZero() {
		// Moving (again): no KILL of it took, if one was sent.
		m.SeedStage, m.SeedMoved, m.SeedMovedAt, m.SeedStopAt = sd.Stage, sd.Moved, at, time.Time{}
		return "", false
	}
	idle := at.Sub(m.SeedMovedAt)
	if !cloneNetworkStages[sd.Stage] || idle < p.SeedStall {
		return "", false
	}
	m.SeedMovedAt = at // the next KILL, if this one does not take, after another SEED_STALL_TIMEOUT
	return fmt.Sprintf("the clone from %s moved no byte for %s (%s, SEED_STALL_TIMEOUT %s)", sd.Donor, idle.Round(time.Second), sd.Stage, p.SeedStall), true
}

// chooseDonor picks whose data a seed copies: a ready replica holding
// every transaction the primary purged (need, so that the primary's binary
// logs can bring the copy up to date), every one the recipient holds
// (keep: a copy replaces them) and none of its own (a copy must bring only
// the cluster's history, and the primary is there instead), which spares
// the primary; not the one that failed last nor one in avoid (busy or
// stalled lately) when there is another; else the primary itself, if its
// transactions as last known (primarySet) hold keep. fresh is false when
// every candidate failed lately; ok is false when there is none.
func chooseDonor(pf *PeerFacts, p Policy, f sqldialect.Flavor, lastFailed string, avoid []string, need, keep, primarySet sqldialect.GTIDSet) (donor Donor, fresh, ok bool) {
	var candidates []Donor
	if pf != nil {
		for _, peer := range pf.Peers {
			st := peer.Status
			if st == nil || st.Role != wire.RoleReplica || !st.Ready || st.Pod == p.Pod || st.PodHost == "" || hasOwnTransactions(st, f) {
				continue
			}
			if f != 0 {
				have, err := sqldialect.ParseGTIDSet(f, st.GTIDExecuted)
				if err != nil || !have.Contains(need) || !have.Contains(keep) {
					continue
				}
			}
			candidates = append(candidates, Donor{Pod: st.Pod, Host: st.PodHost})
		}
	}
	if keep.IsEmpty() || primarySet.Contains(keep) {
		candidates = append(candidates, Donor{Pod: primaryPod(p.PrimaryHost), Host: p.PrimaryHost})
	}
	if len(candidates) == 0 {
		return Donor{}, false, false
	}
	for _, c := range candidates {
		if c.Pod != lastFailed && !slices.Contains(avoid, c.Pod) {
			return c, true, true
		}
	}
	for _, c := range candidates {
		if c.Pod != lastFailed {
			return c, false, true
		}
	}
	return candidates[len(candidates)-1], false, true
}

// hasOwnTransactions reports whether a peer's /status shows transactions
// that are not the cluster's history: written under its own GTID origin,
// or reported errant. (One that cannot be read counts as having some.)
func hasOwnTransactions(st *wire.Status, f sqldialect.Flavor) bool {
	if st.Replication != nil && st.Replication.ErrantGTIDs != "" {
		return true
	}
	if f == 0 {
		return false
	}
	set, err := sqldialect.ParseGTIDSet(f, st.GTIDExecuted)
	if err != nil {
		return true
	}
	return st.GTIDOrigin != "" && !set.Minus(set.Without(st.GTIDOrigin)).IsEmpty()
}

// primaryPod is the pod name in the primary's stable name.
func primaryPod(host string) string {
	if i := strings.IndexByte(host, '.'); i > 0 {
		return host[:i]
	}
	return host
}

// guard keeps ordinal 0 from taking writes while a pod of the StatefulSet
// holds transactions it lacks: an empty or rolled-back primary would
// otherwise become the history every replica follows. It returns the
// decision and true when the primary must not become writable now.
//
//   - Every peer's transactions are counted without its own writes (a
//     replica's first start, a stray local write): those were never the
//     primary's history. A replica in the middle of a seed is not counted
//     at all: its data is on its way from another pod.
//   - A brand-new cluster (nobody holds anything) passes at once.
//   - A peer that does not answer is waited for: it may hold the newest
//     data. So is every peer this pod or an answering peer remembers
//     (STATE_DIR/peers.json) that the Service does not list now (a pod
//     Pending or being rescheduled has no address), and every peer when
//     the Service cannot be looked up (a timeout, SERVFAIL: only a proven
//     "no such name" lists nobody).
//   - Unless intact: this pod's data is provably what it took writes with
//     (same identity, every transaction recorded then: lineageIntact).
//     Its peers only ever got their data from it, so one that does not
//     answer cannot hold more; it takes writes without waiting for them.
//     Answering peers are still compared with it.
//   - When the peer holding most holds everything the others and this pod
//     hold, this pod seeds itself from it, then takes writes.
//   - When no single pod holds everything, nothing is written or wiped:
//     the reason says who holds what, and a person chooses with
//     `mysql-bootstrap primary-override`.
func guard(o Observation, d *Decision, p Policy, now time.Time, intact bool) (Decision, bool) {
	ov := o.Override
	if ov != nil && ov.Err != "" {
		d.Problems["override"] = ov.Err
		ov = nil
	}
	if ov != nil && ov.Action == OverrideOwnData {
		d.do(ActConsumeOverride, "a person chose to take writes with this pod's own data ("+ov.Created.Format(time.RFC3339)+")")
		d.Problems["guard"] = "taking writes with this pod's own data, as a person chose: transactions only peers held are given up"
		return *d, false
	}
	pf := o.Peers
	switch {
	case pf == nil:
		return d.notReady(SitPrimaryLookingAtPeers, "looking at the other pods before taking writes"), true
	case pf.Err != "" && !pf.Absent && !intact:
		// Nobody can be asked: that proves nothing about the peers.
		msg := "cannot list the other pods (" + pf.Err + "): not taking writes until they can be asked, as they may hold transactions this pod lacks; " +
			"to take writes without them, run in this pod's sidecar: mysql-bootstrap primary-override --use-own-data"
		d.Problems["guard"] = msg
		d.Guard = wire.GuardWaitingForPeers
		return d.notReady(SitPrimaryWaitingForPeers, msg), true
	}
	t := tallyPeers(o.Local, pf, p)
	if ov != nil && ov.Action == OverrideSeedFrom {
		for _, h := range t.holders {
			if h.pod == ov.From {
				d.Guard = wire.GuardRecovering
				d.do(ActConsumeOverride, "a person chose to seed this pod from "+h.pod)
				return seedPrimary(o, d, Donor{Pod: h.pod, Host: h.host}, now, "a person chose to replace this pod's data with "+h.pod+"'s"), true
			}
		}
		d.Guard = wire.GuardWaitingForPeers
		return d.notReady(SitPrimaryWaitingForPeers, "a person chose to seed this pod from "+ov.From+", which does not answer as a replica yet"), true
	}
	switch {
	case len(t.silent) > 0 && intact:
		// Its data is what it took writes with: the silent peers got
		// theirs from it and cannot hold more (README: the residual risk
		// of a volume restored from an older copy while all are silent).
		d.Problems["guard"] = "taking writes without " + strings.Join(t.silent, ", ") + ": this pod's data is what it took writes with (same identity, every transaction recorded then)"
	case len(t.silent) > 0:
		d.Guard = wire.GuardWaitingForPeers
		d.Problems["guard"] = "waiting for " + strings.Join(t.silent, ", ") + " before taking writes"
		return d.notReady(SitPrimaryWaitingForPeers, "not taking writes until "+strings.Join(t.silent, ", ")+" answer: they may hold transactions this pod lacks; "+
			"to take writes without them, run in this pod's sidecar: mysql-bootstrap primary-override --use-own-data "+
			"(a pod removed for good: mysql-bootstrap forget-peer POD)"), true
	}
	if len(t.lacking) == 0 {
		return *d, false
	}
	return guardLacking(o, d, now, t), true
}

// peerTally is what the guard counted of the peers: what each answering
// replica holds (without its own writes), who is silent, and who holds
// transactions this pod lacks; firstStart: this pod's data is only its
// own first start's.
type peerTally struct {
	holders         []holding
	silent, lacking []string
	firstStart      bool
}

// tallyPeers counts the peers for the guard (see guard for the rules).
func tallyPeers(l LocalFacts, pf *PeerFacts, p Policy) peerTally {
	own := l.GTIDs
	// A pod whose data is only its own first start (the image
	// binary-logged its time zone tables or accounts; no table outside the
	// system schemas) holds nothing of the cluster's: an emptied primary
	// on the mysql image looks so. Those transactions are not weighed
	// against the peers'; a copy of a peer's data replaces them.
	t := peerTally{firstStart: l.UserTablesRead && len(l.UserTables) == 0 && own.OnlyFrom(l.Origin)}
	answered := map[string]bool{p.Pod: true}
	remembered := map[string]bool{}
	for _, name := range pf.Memory.Known() {
		remembered[name] = true
	}
	if p.FailedOverFrom != "" {
		// The pod this one took the Lease from by a failover: what it
		// holds that the replicas did not is what no client was told
		// committed; it is not waited for.
		answered[p.FailedOverFrom] = true
	}
	for _, peer := range pf.Peers {
		st := peer.Status
		if st == nil {
			if pf.Memory.WasOwn(peer.Addr) || p.FailedOverAddr != "" && peer.Addr.String() == p.FailedOverAddr {
				// This pod's former address, still in the Service's
				// cached records after it was recreated.
				continue
			}
			t.silent = append(t.silent, peer.Name())
			continue
		}
		answered[st.Pod] = true
		for _, name := range st.KnownPeers {
			if _, forgotten := pf.Memory.Forgotten[name]; !forgotten {
				remembered[name] = true
			}
		}
		if st.Pod == p.Pod || st.Role != wire.RoleReplica && !p.PrimaryMoves || st.Pod == p.FailedOverFrom {
			continue
		}
		if st.Role != wire.RoleReplica && !st.ReadOnly {
			// A former primary that may still take writes (PrimaryMoves):
			// whatever it takes, this pod would lack.
			t.silent = append(t.silent, st.Pod+" (still writable as a primary)")
			continue
		}
		if st.Seed != nil && (st.Seed.State == "running" || st.Seed.State == "restarting" || st.Seed.State == "applying") {
			// Its data is being replaced by a copy of another pod's:
			// that pod is the one that counts.
			continue
		}
		set, err := sqldialect.ParseGTIDSet(l.Server.Flavor, st.GTIDExecuted)
		if err != nil || !st.ServerUp {
			t.silent = append(t.silent, st.Pod+" (its server does not answer)")
			continue
		}
		if !p.PrimaryMoves {
			// A replica's own writes were never the primary's history;
			// where the primary moves, they may be (a former primary's).
			set = set.Without(st.GTIDOrigin)
		}
		t.holders = append(t.holders, holding{pod: st.Pod, host: st.PodHost, set: set, own: hasOwnTransactions(st, l.Server.Flavor)})
		if !own.Contains(set) {
			t.lacking = append(t.lacking, fmt.Sprintf("%s (%d)", st.Pod, set.CountNotIn(own)))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(remembered)) {
		if !answered[name] {
			t.silent = append(t.silent, name+" (seen before, no answer from it now)")
		}
	}
	if pf.Err != "" && !pf.Absent {
		t.silent = append(t.silent, "every pod ("+pf.Err+")")
	}
	return t
}

// guardLacking is the guard's verdict when peers hold transactions this
// pod lacks: it recovers from the one that holds every pod's, or, when
// none does, waits for a person.
func guardLacking(o Observation, d *Decision, now time.Time, t peerTally) Decision {
	own := o.Local.GTIDs
	// Whatever it recorded of the data it took writes with is not the
	// cluster's newest (a volume restored from an older copy). From now on
	// it waits for silent peers as an emptied primary does, until it takes
	// writes again.
	d.Memory.Lineage = Lineage{}
	// Does one peer hold everything the others and this pod hold?
	var all sqldialect.GTIDSet = own
	if t.firstStart {
		all = sqldialect.GTIDSet{}
	}
	for _, h := range t.holders {
		all = all.Union(h.set)
	}
	// A holder without transactions of its own first: a copy of one with
	// some would make them the cluster's history.
	full := slices.SortedStableFunc(slices.Values(t.holders), func(a, b holding) int { return boolInt(a.own) - boolInt(b.own) })
	for _, h := range full {
		if h.set.Contains(all) {
			why := "this pod lacks transactions peers hold: " + strings.Join(t.lacking, ", ") + "; " + h.pod + " holds every pod's"
			if t.firstStart && !own.IsEmpty() {
				why += " (this pod's own " + own.String() + " are only its first start's: no table outside the system schemas)"
			}
			d.Problems["guard"] = why
			d.Guard = wire.GuardRecovering
			return seedPrimary(o, d, Donor{Pod: h.pod, Host: h.host}, now, why)
		}
	}
	var who []string
	var peersHold sqldialect.GTIDSet
	for _, h := range t.holders {
		peersHold = peersHold.Union(h.set)
	}
	if only := own.Minus(peersHold); !only.IsEmpty() {
		who = append(who, "this pod alone holds "+only.String())
	}
	for _, h := range t.holders {
		if only := h.set.Minus(own); !only.IsEmpty() {
			who = append(who, h.pod+" holds "+only.String()+" that this pod lacks")
		}
	}
	example := "POD"
	if len(t.holders) > 0 {
		example = t.holders[0].pod
	}
	overrideHint := "to choose, run in this pod's sidecar: mysql-bootstrap primary-override --use-own-data, or --seed-from " + example
	msg := "the pods disagree and none holds every transaction: " + strings.Join(who, "; ") +
		"; nothing is written or wiped until a person chooses (" + overrideHint + ")"
	d.Problems["guard"] = msg
	d.Guard = wire.GuardWaitingForPerson
	return d.notReady(SitPrimaryWaitingForPerson, msg)
}

// seedPrimary replaces the primary's data with donor's before it takes
// writes, paced by the seed back-off.
func seedPrimary(o Observation, d *Decision, donor Donor, now time.Time, why string) Decision {
	m := &d.Memory
	if !m.Seed.Due(now) {
		return d.notReady(SitPrimaryRecovering, fmt.Sprintf("%s; the last seed from %s failed, next attempt at %s", why, m.SeedDonor, m.Seed.Next().UTC().Format(time.TimeOnly)))
	}
	return startSeed(o, d, SitPrimaryRecovering, donor, now, why, "recovering from ")
}

// startSeed replaces this pod's data with a copy of donor's (MySQL:
// CLONE; MariaDB: a request to the server container's restore); the
// caller has seen to its pace. The reason is prefix + donor + ": " + why.
func startSeed(o Observation, d *Decision, sit Situation, donor Donor, now time.Time, why, prefix string) Decision {
	m := &d.Memory
	kind := ActRequestSeed
	if o.Local.Server.Flavor == sqldialect.MySQL {
		kind = ActClone
	}
	d.Actions = append(d.Actions, Action{Kind: kind, Why: why, Donor: donor})
	m.Seed = m.Seed.Tried(now, seedBackoffFirst, seedBackoffMax)
	m.SeedDonor = donor.Pod
	m.Seeds++
	m.SeedStage, m.SeedMoved, m.SeedMovedAt, m.SeedStopAt = "", 0, time.Time{}, time.Time{}
	m.CaughtUp, m.Snapshot, m.FreshAsOf, m.Samples = false, sqldialect.GTIDSet{}, time.Time{}, nil
	suffix := ""
	if prefix == "recovering from " {
		suffix = " before taking writes"
	}
	return d.notReady(sit, prefix+donor.Pod+suffix+": "+why)
}

// holding is what one peer holds, for the guard: set without its own
// transactions; own says it has some.
type holding struct {
	pod, host string
	set       sqldialect.GTIDSet
	own       bool
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// semiSyncSource reports whether the server waits for a replica's
// acknowledgement of every commit and does not acknowledge as a replica.
func semiSyncSource(l LocalFacts) bool {
	return l.SemiSync != nil && l.SemiSync.Source && !l.SemiSync.Replica
}

// semiSyncReplica reports whether the server acknowledges what it
// receives and is no semi-sync source.
func semiSyncReplica(l LocalFacts) bool {
	return l.SemiSync != nil && l.SemiSync.Replica && !l.SemiSync.Source
}

// accountSettled reports whether a primary's replication account needs
// no statement: it was not looked at in this pass, or it exists, is this
// tool's, has the replication grant, takes REPLICATION_PASSWORD (tested
// now, or last verified with this password: the first pass after a
// restart plans no login test, the memory of before it saying verified)
// and no other, and requires TLS when it must.
func accountSettled(o Observation, m Memory, p Policy) bool {
	a := o.Account
	if a == nil {
		return true
	}
	password := a.PasswordWorks
	if !a.LoginTested {
		password = m.AccountFP != "" && m.AccountFP == o.Credentials.ReplicationFP
	}
	return a.Exists && a.Marked && a.Grants.Replication && password &&
		!a.OldPasswordRetained && (p.TLSCA == "" || a.RequireSSL)
}
