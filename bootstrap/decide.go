package bootstrap

import (
	"fmt"
	"strings"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// Policy is what decide needs to know about the pod and its settings.
type Policy struct {
	Role Role
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
	ActGrantReplication ActionKind = "grant-replication"
	ActResetBinaryLogs  ActionKind = "reset-binary-logs"
	ActStopReplica      ActionKind = "stop-replica"
	ActChangeSource     ActionKind = "change-source"
	ActStartReplica     ActionKind = "start-replica"
)

// Action is one corrective step, with the reason it is taken (logged).
type Action struct {
	Kind ActionKind
	Why  string
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
	// Problems are the conditions worth a log line when they appear and
	// when they clear, by a stable key.
	Problems map[string]string
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
}

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
	restartTolerance = 2 * time.Second
)

// Server error numbers that decisions branch on, from one place.
const (
	errAccessDenied   = sqldialect.ErrnoAccessDenied
	errSecureAuthOnly = sqldialect.ErrnoAuthRequiresSecureConnection
	errFatalBinlog    = sqldialect.ErrnoSourceFatalReadingBinlog
	errFatalBinlogNew = sqldialect.ErrnoSourceFatalReadingBinlogMySQL
)

// decide turns an observation and the memory of earlier passes into the
// actions to take and the readiness verdict. It does no I/O: every
// situation it handles is a row of decide_test.go. now is the time of the
// decision; on the probe path it is later than o.At.
func decide(o Observation, m Memory, p Policy, now time.Time) Decision {
	d := Decision{Memory: m, Problems: map[string]string{}}
	l := o.Local
	switch {
	case !l.Up:
		d.Memory.AccountVerified = false
		d.Problems["local"] = "the local server does not answer: " + l.Err
		return d.notReady("local server does not answer: " + l.Err)
	case l.Unsupported != "":
		d.Problems["local"] = l.Unsupported
		return d.notReady(l.Unsupported)
	case l.Incomplete != "":
		d.Problems["local"] = "could not read " + l.Incomplete
		return d.notReady("could not read " + l.Incomplete)
	}
	if age := now.Sub(o.At); age > p.StaleAfter {
		return d.notReady(fmt.Sprintf("last check was %s ago", age.Round(time.Second)))
	}
	restarted := !m.ServerStartedAt.IsZero() && l.StartedAt.Sub(m.ServerStartedAt) > restartTolerance
	if o.Partial {
		if restarted {
			return d.notReady("local server restarted since the last check")
		}
	} else {
		if restarted {
			// A restarted server comes back as its configuration says
			// (read-only, replication stopped): look at everything again.
			d.Memory.AccountVerified = false
			d.Memory.Start = Backoff{}
		}
		d.Memory.ServerStartedAt = l.StartedAt
	}
	if p.Role == RolePrimary {
		return decidePrimary(o, d)
	}
	return decideReplica(o, d, p, now)
}

func (d Decision) notReady(reason string) Decision {
	d.Ready, d.Reason = false, reason
	return d
}

func (d *Decision) do(kind ActionKind, why string) {
	d.Actions = append(d.Actions, Action{Kind: kind, Why: why})
}

func decidePrimary(o Observation, d Decision) Decision {
	l := o.Local
	if a := o.Account; a != nil {
		switch {
		case !a.Exists:
			d.do(ActCreateAccount, "the replication account does not exist")
			d.do(ActGrantReplication, "a new replication account")
			return d.notReady("creating the replication account")
		case !a.PasswordWorks && a.PasswordUnknown == "":
			d.do(ActSetPassword, "logging in with REPLICATION_PASSWORD is refused")
			return d.notReady("setting the replication account's password")
		case !a.HasReplication:
			d.do(ActGrantReplication, "the replication account lacks REPLICATION SLAVE")
			return d.notReady("granting replication to the replication account")
		case a.PasswordUnknown != "":
			// Not proof of a wrong password: leave it, look again next pass.
			d.Problems["account"] = "could not check the replication password: " + a.PasswordUnknown
		default:
			d.Memory.AccountVerified = true
		}
	}
	if l.ReadOnly || l.SuperReadOnly {
		d.do(ActMakeWritable, "the primary is read-only (as every pod starts)")
		return d.notReady("primary is read-only: making it writable")
	}
	d.Ready, d.Reason = true, "primary is writable"
	return d
}

func decideReplica(o Observation, d Decision, p Policy, now time.Time) Decision {
	l := o.Local
	r := o.Replica
	if r == nil {
		return d.notReady("replication state not observed yet")
	}
	ch := r.Channel
	flavor := l.Server.Flavor
	m := &d.Memory
	view := &ReplicaView{SourceError: r.Source.Err}
	d.Replica = view

	// Read-only before anything else: nothing may write to a replica.
	if !l.ReadOnly || flavor == sqldialect.MySQL && !l.SuperReadOnly {
		d.do(ActMakeReadOnly, "a replica must refuse client writes")
		return d.notReady("replica is writable: making it read-only")
	}

	// The primary's transactions as far as they are known: asked now, or
	// as last seen plus what the channel fetched from it since.
	src := r.Source
	var primary sqldialect.GTIDSet
	known := false
	if src.Reached() {
		primary, known = src.GTIDs, true
		m.PrimaryGTIDs = src.GTIDs
	} else {
		d.Problems["source"] = "cannot ask the primary " + p.PrimaryHost + " for its transactions: " + src.Err
		if m.PrimaryGTIDs.Flavor() != 0 {
			primary, known = m.PrimaryGTIDs, true
			if got, err := sqldialect.ParseGTIDSet(flavor, ch.RetrievedGTIDSet); err == nil && ch.Configured {
				primary = primary.Union(got)
			}
		}
	}
	var errant sqldialect.GTIDSet
	if known {
		errant = l.GTIDs.Minus(primary)
		view.Errant, view.ErrantKnown = errant.String(), true
	}

	// A replica that never replicated holds only what its own first start
	// wrote, or data of its own.
	if !ch.Configured && !l.GTIDs.IsEmpty() && (!known || !errant.IsEmpty()) {
		own := l.GTIDs
		if known {
			own = errant
		}
		if own.OnlyFrom(l.Origin) && len(r.UserTables) == 0 {
			// Time zones, accounts and empty databases that the image's
			// first start binary-logged: they stay in the tables, only
			// their GTIDs go, so that the primary's history is the
			// replica's. Nothing else was ever written here.
			d.do(ActResetBinaryLogs, fmt.Sprintf("the replica never replicated and its only transactions (%s) are its first start's: no table outside the system schemas", l.GTIDs))
			m.Resets++
			m.Cleaned = l.GTIDs.String()
			view.Errant = ""
			return d.notReady("removing the GTIDs of this replica's first start (" + l.GTIDs.String() + ") before it replicates")
		}
		if !known {
			return d.notReady("waiting to compare this replica's transactions with the primary's before it replicates: " + src.Err)
		}
		why := "transactions " + errant.String()
		if len(r.UserTables) > 0 {
			why += " and tables " + strings.Join(r.UserTables, ", ")
		}
		d.Problems["own-data"] = "this replica never replicated but holds data the primary lacks: " + why
		return d.notReady("replica never replicated but holds data of its own the primary lacks (" + why +
			"): it is neither reset nor replicated into; rebuild it from an empty volume, or remove that data and run " + sqldialectReset(flavor))
	}

	pointsRight := ch.PointsAt(p.PrimaryHost, p.Port, p.User)
	refused := ch.IO != sqldialect.ThreadRunning && (ch.LastIOErrno == int(errAccessDenied) || ch.LastIOErrno == int(errSecureAuthOnly))
	var note string // what is being done about the channel, for the reason
	switch {
	case !pointsRight || refused:
		why := "replication is not configured"
		switch {
		case refused:
			why = fmt.Sprintf("the primary refuses this replica's replication login (IO error %d): this pod's REPLICATION_PASSWORD (or REPLICATION_USER) differs from the primary's account", ch.LastIOErrno)
		case ch.Configured:
			why = fmt.Sprintf("replication points at %s:%d as %q, not at %s:%d as %q with GTID auto-positioning",
				ch.SourceHost, ch.SourcePort, ch.SourceUser, p.PrimaryHost, p.Port, p.User)
		}
		if src.Reached() {
			if missing := src.Purged.Minus(l.GTIDs); !missing.IsEmpty() {
				d.Problems["purged"] = "the primary has purged binary logs this replica needs: " + missing.String()
				note = "the primary has purged binary logs this replica still needs (" + missing.String() +
					"): replication cannot start from here; rebuild this replica from a copy of the primary's data"
				break
			}
		}
		if !m.Change.Due(now) {
			view.ChangeTries, view.NextChange = m.Change.Tries, m.Change.Next()
			note = fmt.Sprintf("%s; CHANGE tried %d time(s) without fixing it, next at %s", why, m.Change.Tries, m.Change.Next().UTC().Format(time.TimeOnly))
			d.Problems["channel"] = why
			break
		}
		if ch.Configured {
			d.do(ActStopReplica, why)
		}
		d.do(ActChangeSource, why)
		d.do(ActStartReplica, "after CHANGE")
		m.Changes++
		m.Restarts++
		if ch.Configured && !refused {
			// Another source's data: the comparison starts over.
			m.CaughtUp, m.Snapshot = false, sqldialect.GTIDSet{}
		}
		// Pointing a channel at its source is what CHANGE is for; a
		// refused login may not be fixed by it, so that is paced.
		if refused {
			m.Change = m.Change.Tried(now, changeBackoffFirst, changeBackoffMax)
			view.ChangeTries, view.NextChange = m.Change.Tries, m.Change.Next()
		}
		note = why + ": reconfiguring"
	case ch.IO == sqldialect.ThreadRunning:
		// Connected with its password: whatever CHANGE was pending worked.
		m.Change = Backoff{}
		if ch.SQL == sqldialect.ThreadRunning {
			m.Start, m.StuckOn = Backoff{}, ""
		}
	}
	if pointsRight && !refused {
		note = decideThreads(ch, &d, m, known, primary, errant, now, note)
	}
	if ch.LastIOErrno != 0 {
		d.Problems["io"] = "replication IO error: " + ch.LastError()
	}
	if ch.LastSQLErrno != 0 {
		d.Problems["sql"] = "replication SQL error " + fmt.Sprint(ch.LastSQLErrno) + ": " + oneLine(ch.LastSQLError)
	}
	if known && !errant.IsEmpty() {
		d.Problems["errant"] = "replica has transactions the primary lacks (errant GTIDs): " + errant.String() + "; rebuild it from the primary"
	}

	// What the replica's data is worth.
	if !m.CaughtUp && src.Reached() {
		if m.Snapshot.Flavor() == 0 {
			m.Snapshot = src.GTIDs
		}
		m.CaughtUp = l.GTIDs.Contains(m.Snapshot)
	}
	var staleness *time.Duration
	if pointsRight && ch.IO == sqldialect.ThreadRunning && ch.Lag != nil {
		lag := time.Duration(*ch.Lag) * time.Second
		m.FreshAsOf = o.At.Add(-lag)
		staleness = &lag
	} else if !m.FreshAsOf.IsZero() {
		s := max(now.Sub(m.FreshAsOf), 0).Round(time.Second)
		staleness = &s
	}
	view.Staleness = staleness

	reason := func(s string) string {
		if note != "" {
			return s + "; " + note
		}
		return s
	}
	switch {
	case !ch.Configured:
		return d.notReady(reason("replication is not configured yet"))
	case !pointsRight:
		return d.notReady(reason("replication does not point at the primary"))
	case !known:
		return d.notReady(reason("cannot compare this replica's transactions with the primary's: " + src.Err))
	case !errant.IsEmpty():
		return d.notReady(reason("replica has transactions the primary lacks: " + errant.String()))
	case ch.LastSQLErrno != 0:
		return d.notReady(reason("replication error: " + ch.LastError()))
	case ch.SQL != sqldialect.ThreadRunning:
		return d.notReady(reason(fmt.Sprintf("replication threads not running (IO %s, SQL %s)", ch.IO, ch.SQL)))
	case !m.CaughtUp:
		return d.notReady(reason(fmt.Sprintf("catching up with the primary's transactions (%d to go)", m.Snapshot.CountNotIn(l.GTIDs))))
	case staleness == nil:
		return d.notReady(reason("how old this replica's data is, is unknown: replication " + ioDescription(ch)))
	case *staleness > p.MaxLag:
		if ch.IO == sqldialect.ThreadRunning {
			return d.notReady(reason(fmt.Sprintf("replication lag %s exceeds MAX_REPLICATION_LAG %s", *staleness, p.MaxLag)))
		}
		return d.notReady(reason(fmt.Sprintf("data may be %s old, more than MAX_REPLICATION_LAG %s: replication %s", *staleness, p.MaxLag, ioDescription(ch))))
	case ch.IO == sqldialect.ThreadRunning:
		d.Ready, d.Reason = true, reason(fmt.Sprintf("replicating from %s, lag %s", p.PrimaryHost, *staleness))
	default:
		d.Ready, d.Reason = true, reason(fmt.Sprintf("serving data at most %s old (MAX_REPLICATION_LAG %s) while replication %s", *staleness, p.MaxLag, ioDescription(ch)))
	}
	return d
}

// decideThreads restarts stopped replication threads, except after an
// applier error (that needs a person: skipping it would lose or diverge
// data) and after a receiver error that retrying cannot fix until the
// primary's transactions change.
func decideThreads(ch sqldialect.ReplicaStatus, d *Decision, m *Memory, known bool, primary, errant sqldialect.GTIDSet, now time.Time, note string) string {
	if ch.Running() || ch.IO == sqldialect.ThreadConnecting && ch.SQL == sqldialect.ThreadRunning {
		return note
	}
	if ch.LastSQLErrno != 0 {
		return "the applier stopped on an error that needs a person: it is not restarted"
	}
	if known && !errant.IsEmpty() {
		return "not restarting replication into a replica with transactions the primary lacks"
	}
	fatal := ch.IO == sqldialect.ThreadStopped && (ch.LastIOErrno == int(errFatalBinlog) || ch.LastIOErrno == int(errFatalBinlogNew))
	if fatal && known {
		if m.StuckOn == primary.String() {
			return "the primary cannot send what this replica asks for; replication is started again once the primary's transactions change"
		}
		m.StuckOn = primary.String()
	}
	if !m.Start.Due(now) {
		return fmt.Sprintf("replication stopped; next start at %s", m.Start.Next().UTC().Format(time.TimeOnly))
	}
	d.do(ActStartReplica, fmt.Sprintf("replication threads stopped (IO %s, SQL %s)", ch.IO, ch.SQL))
	m.Start = m.Start.Tried(now, startBackoffFirst, startBackoffMax)
	m.Restarts++
	return note
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
		s += fmt.Sprintf(" (IO error %d: %s)", ch.LastIOErrno, oneLine(ch.LastIOError))
	}
	return s
}

func sqldialectReset(f sqldialect.Flavor) string {
	if f == sqldialect.MariaDB {
		return "RESET MASTER"
	}
	return "RESET BINARY LOGS AND GTIDS"
}
