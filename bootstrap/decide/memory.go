package decide

import (
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// Memory is what the sidecar carries from one pass to the next: counters,
// back-off of corrective actions, and the facts that a pass cannot observe
// again (how fresh a replica's data was when the primary was last heard
// from, the primary's GTIDs as last seen). decide reads a Memory and
// returns the next one; nothing else writes it.
type Memory struct {
	// DemotedWith (SEMI_SYNC) is what this pod held when it stopped being
	// a semi-sync source as a replica (a former primary): a failover may
	// discard only its own transactions among these (Policy.DiscardTail).
	// Not kept across a sidecar restart: it then keeps them.
	DemotedWith sqldialect.GTIDSet
	// ServerStartedAt is the local server's start as last observed: a
	// later start means it restarted since.
	ServerStartedAt time.Time
	// AccountVerified: the primary's replication account was found
	// right; its password is tried again after a server restart.
	AccountVerified bool
	// AccountFP is the tag (PasswordTag) of the password the account was last
	// found to accept (primary).
	AccountFP string
	// RotationSince is when the primary found the account's password to
	// differ from REPLICATION_PASSWORD, or kept an old one, and began to
	// wait for the replicas (zero when no change is under way).
	RotationSince time.Time
	// CopyAccountFP is the tag (PasswordTag) of the password the copy
	// account was last found to accept (primary); "" until it is checked,
	// and again after a server restart.
	CopyAccountFP string
	// ChannelFP is the tag (PasswordTag) of the password this sidecar last gave
	// the replication channel (replica); "" when unknown.
	ChannelFP string

	// Changes counts CHANGE REPLICATION SOURCE/MASTER statements;
	// Restarts counts replication (re)starts; Resets counts first-start
	// clean-ups.
	Changes, Restarts, Resets uint64
	// Change and Start pace the repeated corrective actions.
	Change, Start Backoff

	// CaughtUp: the replica has once held every transaction the primary
	// had when first compared (Snapshot). Until then a lag of 0 proves
	// nothing: it is 0 while a new replica is still fetching its backlog.
	CaughtUp bool
	Snapshot sqldialect.GTIDSet
	// FreshAsOf is the time the replica's data was last known complete:
	// when the primary last held no transaction it has not applied (the
	// newest of Samples it reached), kept while the primary cannot be
	// asked. Zero when unknown.
	FreshAsOf time.Time
	// Samples are the primary's GTID sets as observed at each pass that
	// the replica has not applied yet, oldest first.
	Samples []PrimarySample
	// PrimaryGTIDs is the primary's GTID set when last read; it stands in
	// for the primary while the primary cannot be asked.
	PrimaryGTIDs sqldialect.GTIDSet
	// Cleaned is what the last first-start clean-up removed.
	Cleaned string

	// Diverged: the primary's history no longer holds transactions this
	// replica got from it (the primary was replaced); replication stays
	// stopped until that changes (MySQL) or the replica is rebuilt.
	Diverged bool

	// Lineage is a primary's record of the data it takes writes with (its
	// GTID origin and transactions, as of the last pass that saw it
	// writable with its guard passed), kept in STATE_DIR across restarts;
	// Approved is the data its guard just let take writes, until a pass
	// sees it writable. A primary whose data neither proves its own runs
	// its guard again, even while writable.
	Lineage, Approved Lineage

	// Seed paces copies of a donor's data; SeedDonor is the pod the last
	// one came from; Seeds counts them.
	Seed      Backoff
	SeedDonor string
	Seeds     uint64
	// SeedAvoid are donors whose copies failed lately because they were
	// busy or stalled: another is tried at once while there is one.
	SeedAvoid []string
	// SeedStage, SeedMoved and SeedMovedAt are a running clone's stage and
	// bytes as last seen, and when they last changed (SEED_STALL_TIMEOUT).
	SeedStage   string
	SeedMoved   int64
	SeedMovedAt time.Time
	// SeedStopAt is when the running clone was first stopped for a stall
	// (ActAbortClone): until it ends, the pod is seed-stopping.
	SeedStopAt time.Time
}

// Backoff paces a corrective action that may not fix what it is meant
// to: each failed attempt doubles the wait before the next, up to a cap.
type Backoff struct {
	// Tries counts attempts since the action last worked.
	Tries int
	// Last is when it was last tried; Wait how long to wait after Last.
	Last time.Time
	Wait time.Duration
}

// Due reports whether the action may run at now.
func (b Backoff) Due(now time.Time) bool {
	return b.Tries == 0 || !now.Before(b.Last.Add(b.Wait))
}

// Next returns when the action may run again.
func (b Backoff) Next() time.Time { return b.Last.Add(b.Wait) }

// Tried records an attempt at now: the wait doubles from first to cap.
func (b Backoff) Tried(now time.Time, first, cap time.Duration) Backoff {
	b.Tries++
	b.Last = now
	if b.Wait == 0 {
		b.Wait = first
	} else {
		b.Wait = min(2*b.Wait, cap)
	}
	return b
}

// Lineage identifies the data a primary took writes with.
type Lineage struct {
	Known  bool
	Origin string
	GTIDs  sqldialect.GTIDSet
}

// lineageIntact reports whether the server l describes holds the data rec
// recorded: the same GTID origin (MySQL's server_uuid, which a new data
// directory changes; MariaDB's server_id) and every transaction recorded
// then.
func LineageIntact(rec Lineage, l LocalFacts) bool {
	return rec.Known && l.Up && l.Incomplete == "" && rec.Origin == l.Origin && l.GTIDs.Contains(rec.GTIDs)
}
