package bootstrap

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// Observation is everything one reconcile pass knows: facts read from the
// local server and, on a replica, from the primary. It is plain data, so
// that decide can be tested with any situation written out by hand.
type Observation struct {
	// At is when the facts were gathered.
	At time.Time
	// Local is the pod's own server.
	Local LocalFacts
	// Account is the replication account on a primary, when it was
	// looked at in this pass (nil once it has been verified, until the
	// server restarts).
	Account *AccountFacts
	// Replica is set on replicas.
	Replica *ReplicaFacts
	// Credentials are the passwords as read in this pass.
	Credentials CredentialFacts
	// Peers are the StatefulSet's pods, when this pass needed them (a
	// primary rotating the replication password, a replica choosing a
	// donor); nil otherwise.
	Peers *PeerFacts
	// Seed is a copy of a donor's data into this pod, running or done.
	Seed SeedFacts
	// Override is a person's choice for a primary whose peers hold
	// transactions it lacks (STATE_DIR/override.json); nil when none.
	Override *Override
	// PeerMemory is what this pod remembers of its peers, for /status.
	PeerMemory PeerMemory
	// Partial marks an observation made on the probe path: only Local's
	// Up, StartedAt and read-only fields are fresh, the rest is the last
	// pass's.
	Partial bool
}

// LocalFacts describe the local server.
type LocalFacts struct {
	// Up is false when the server did not answer; Err says why.
	Up  bool
	Err string
	// Version is SELECT VERSION(); Server its parsed form. Unsupported
	// is set when no dialect drives that version.
	Version     string
	Server      sqldialect.Server
	Unsupported string
	// StartedAt is when the server process started (now - Uptime).
	StartedAt time.Time
	// ReadOnly and SuperReadOnly (MySQL only) as the server reports them.
	ReadOnly, SuperReadOnly bool
	// OfflineMode (MySQL only): the server refuses every client without
	// CONNECTION_ADMIN, as it does while a clone replaces its data.
	OfflineMode bool
	// Origin is the name the server's own transactions carry in GTIDs:
	// MySQL's server_uuid, MariaDB's server_id.
	Origin string
	// GTIDs is gtid_executed (MySQL) or gtid_binlog_state (MariaDB).
	GTIDs sqldialect.GTIDSet
	// Purged is what the server's binary logs no longer hold: MySQL's
	// gtid_purged, MariaDB's GTID list at the head of its oldest binary
	// log. A replica that lacks any of it cannot catch up from this server.
	Purged sqldialect.GTIDSet
	// UserTables lists a few tables outside the system schemas; it is
	// read on a read-only primary (UserTablesRead), whose guard tells an
	// emptied pod's first start from data of its own.
	UserTables     []string
	UserTablesRead bool
	// Incomplete names a fact that could not be read although the server
	// answered; decisions that need it are not taken.
	Incomplete string
}

// SeedFacts describe a copy of a donor's data into this pod.
type SeedFacts struct {
	// Running: the copy is under way (MySQL: this sidecar's CLONE
	// statement runs; MariaDB: a request waits for, or is being served
	// by, the server container's restore).
	Running bool `json:"running"`
	// Donor is the pod copied from; Phase what the copy is doing.
	Donor string `json:"donor,omitempty"`
	Phase string `json:"phase,omitempty"`
	// Bytes copied, of Estimate (0 when unknown), at Rate bytes/s.
	Bytes    int64     `json:"bytes"`
	Estimate int64     `json:"estimate"`
	Rate     float64   `json:"rate"`
	Started  time.Time `json:"started,omitzero"`
	// RestartNeeded: a clone is in place and the server must restart on
	// it (MySQL without a supervisor, error 3707).
	RestartNeeded bool `json:"restartNeeded,omitempty"`
	// ResultPending and ResultGTID: a MariaDB restore is in place (the
	// data directory proved to hold it); its GTID position must still be
	// given to the server.
	ResultPending bool   `json:"resultPending,omitempty"`
	ResultGTID    string `json:"resultGtid,omitempty"`
	// ResultBinlogState is the copy's gtid_binlog_state (every server_id
	// of every domain; "" when unknown: ResultGTID stands in).
	ResultBinlogState string `json:"resultBinlogState,omitempty"`
	// Guarded: a MySQL clone lifted read-only behind offline_mode
	// (STATE_DIR/clone.json, written before); until the guard is put
	// back, the server must not count as read-only or as taking writes.
	Guarded bool `json:"guarded,omitempty"`
	// Unproven: a MariaDB copy is recorded as complete, but the server
	// container has not proven that the data directory holds it (its
	// swap may have failed part-way): nothing is applied or done.
	Unproven bool `json:"unproven,omitempty"`
	// Err is why the last copy failed ("" when it did not); Kind says
	// whether another donor may be tried at once (SeedBusy, SeedStalled).
	Err  string `json:"error,omitempty"`
	Kind string `json:"kind,omitempty"`
	// Stage is the stage of a MySQL clone in progress (FILE COPY, …);
	// Moved counts the bytes it has copied and received so far, which
	// must keep moving; PID is the session running it (KILL QUERY).
	Stage string `json:"stage,omitempty"`
	Moved int64  `json:"-"`
	PID   uint64 `json:"-"`
}

// Kinds of a failed copy after which another donor is tried at once.
const (
	// SeedBusy: the donor was serving another copy (MySQL: one clone per
	// donor, error 3634 inside 3862; MariaDB: 503).
	SeedBusy = "busy"
	// SeedStalled: no byte moved for SEED_STALL_TIMEOUT (the donor is
	// gone or hangs), and the copy was abandoned.
	SeedStalled = "stalled"
	// SeedLost: the connection to the donor failed (MySQL: CLONE's
	// "Connect failed" or a lost connection, in 3862 or on its own): the
	// donor is gone, another may be tried at once.
	SeedLost = "lost"
)

// cloneNetworkErrnos are the client and server errors of a connection
// that failed or broke: unknown host 2005, cannot connect 2003, gone 2006,
// lost 2013, and the server's read/write errors 1158-1161.
var cloneNetworkErrnos = []uint16{2003, 2005, 2006, 2013, 1158, 1159, 1160, 1161}

// describe is the readiness reason while a copy runs.
func (s SeedFacts) describe() string {
	r := "seeding from " + s.Donor
	if s.Phase != "" {
		r += " (" + s.Phase + ")"
	}
	r += ": " + humanBytes(s.Bytes)
	if s.Estimate > 0 {
		r += "/" + humanBytes(s.Estimate)
	}
	if s.Rate > 0 {
		r += " (" + humanBytes(int64(s.Rate)) + "/s)"
	}
	return r
}

// humanBytes writes n in B, KiB, MiB, GiB or TiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGT"[exp])
}

// AccountFacts describe the replication account on a primary.
type AccountFacts struct {
	Exists bool
	// Marked: created (or adopted) by mysql-bootstrap, see
	// sqldialect.AccountMarker.
	Marked bool
	// RequireSSL: the account refuses connections without TLS.
	RequireSSL bool
	// OldPasswordRetained: MySQL still accepts the password from before
	// the last change (dual passwords).
	OldPasswordRetained bool
	// LoginTested: a login with REPLICATION_PASSWORD was tried in this
	// pass. PasswordWorks: it succeeded. PasswordUnknown says why it could
	// not tell (not access denied: a connection limit, say): then the
	// password is left alone.
	LoginTested     bool
	PasswordWorks   bool
	PasswordUnknown string
	// Grants is what SHOW GRANTS says of it.
	Grants sqldialect.Grants
}

// CredentialFacts describe the passwords as read from their variables or
// files in this pass.
type CredentialFacts struct {
	// ReplicationFP is the fingerprint of REPLICATION_PASSWORD.
	ReplicationFP string
	// Problems are files that could not be read again (the last good
	// value is kept), by variable.
	Problems map[string]string
}

// PeerFacts are the pods the headless Service lists.
type PeerFacts struct {
	// Err is why the Service could not be resolved; Absent says the name
	// proved not to exist (NXDOMAIN, no address), which is no proof that
	// no peer exists, only that none is listed. Any other failure (a
	// timeout, SERVFAIL) says nothing about the peers.
	Err    string
	Absent bool
	Peers  Peers
	// Memory is what this pod remembers of its peers, this listing
	// included (STATE_DIR/peers.json); MemoryErr says it could not be
	// kept there.
	Memory    PeerMemory
	MemoryErr error
}

// ReplicaFacts describe a replica's channel and its view of the primary.
type ReplicaFacts struct {
	// Channel is SHOW REPLICA STATUS.
	Channel sqldialect.ReplicaStatus
	// UserTables lists a few tables outside the system schemas, and
	// Accounts the accounts besides the servers' own; both are read only
	// while the channel was never configured.
	UserTables []string
	Accounts   []string
	// Writers are the accounts that can write despite read_only
	// (MariaDB: holders of SUPER or READ_ONLY ADMIN).
	Writers []string
	// Source is what the primary said when asked.
	Source SourceFacts
}

// SourceFacts are the primary's GTID sets, as the replica's sidecar read
// them with the replication account.
type SourceFacts struct {
	// Err is why the primary could not be asked ("" when it answered).
	Err string
	// GTIDs is the primary's gtid_executed / gtid_binlog_state.
	GTIDs sqldialect.GTIDSet
	// Purged is what the primary's binary logs no longer hold (MySQL's
	// gtid_purged; on MariaDB as the primary's /status publishes it);
	// PurgedKnown is false when it could not be read.
	Purged      sqldialect.GTIDSet
	PurgedKnown bool
	// Refused: the primary refused this pod's REPLICATION_PASSWORD (a
	// login made in this pass, when FreshLogin).
	Refused bool
	// FreshLogin: the answer came from a login made in this pass with the
	// current password, not from an older connection.
	FreshLogin bool
	// StatusKnown: whether the primary takes writes is known; Writable:
	// it does (read_only and super_read_only off, as its sidecar leaves it
	// once its own checks pass). Read over SQL with the replication
	// account; from the primary's /status only when SQL cannot say.
	StatusKnown, Writable bool
}

// Reached reports whether the primary answered.
func (s SourceFacts) Reached() bool { return s.Err == "" }

// userTablesShown is how many user tables an observation lists.
const userTablesShown = 5

// gatherer reads the facts; its fields are the connections it reads from.
type gatherer struct {
	local   *sql.DB
	primary func() *sql.DB // lazily opened pool to the primary
	role    Role
	account accountChecker
	creds   *credentials
	peers   func(context.Context) (Peers, error)
	// primaryStatus fetches the primary's /status (MariaDB replicas learn
	// what the primary purged from it).
	primaryStatus func(context.Context) (*Status, error)
	// clone is the sidecar's running CLONE (MySQL); seeds the files of a
	// MariaDB seed.
	clone      *cloneJob
	cloneMarks cloneMarkers
	seeds      seedFiles
	overrides  *overrideFiles
	// peerMem remembers the peers seen (STATE_DIR/peers.json); self and
	// statefulSet tell which answers are peers; peersAt is when they were
	// last listed.
	peerMem     *peerMemoryStore
	self        string
	statefulSet string
	peersAt     time.Time
	// sourceFailed: the primary did not answer the last pass.
	sourceFailed bool
}

// accountChecker looks at the replication account (primary only),
// logging in with REPLICATION_PASSWORD when testLogin.
type accountChecker func(ctx context.Context, d *sqldialect.Dialect, testLogin bool) (AccountFacts, error)

// plan says which of the costlier facts a pass needs, from memory.
type plan struct {
	// testLogin: a primary tries REPLICATION_PASSWORD by logging in.
	testLogin bool
	// freshSourceLogin: a replica asks the primary on a new connection,
	// so that the answer tells whether the current password works.
	freshSourceLogin bool
	// lineage and approved are a primary's records of the data it took
	// writes with (Memory): a writable primary whose data they do not
	// prove its own asks its peers (the guard runs).
	lineage, approved Lineage
}

// planFor derives the plan from memory and the password's fingerprint.
func planFor(m Memory, fp string) plan {
	return plan{
		testLogin:        !m.AccountVerified || m.AccountFP != fp,
		freshSourceLogin: m.ChannelFP != "" && m.ChannelFP != fp,
		lineage:          m.Lineage,
		approved:         m.Approved,
	}
}

// gather observes the local server and, on a replica, the primary. It
// never fails: what it cannot read is recorded in the observation, and
// decide fails closed on it.
func (g *gatherer) gather(ctx context.Context, pl plan) (Observation, *sqldialect.Dialect) {
	o := Observation{At: time.Now()}
	o.Credentials = g.creds.facts()
	o.Seed = g.seedFiles()
	o.Override = g.override()
	if g.peerMem != nil {
		// Unreadable, it is taken as empty here; the listing that updates
		// it says why (PeerFacts.Err).
		o.PeerMemory, _ = g.peerMem.get()
	}
	l := &o.Local
	if err := g.local.QueryRowContext(ctx, "SELECT VERSION()").Scan(&l.Version); err != nil {
		l.Err = oneLine(err.Error())
		return o, nil
	}
	l.Up = true
	server, err := sqldialect.ParseVersion(l.Version)
	if err == nil {
		l.Server = server
		var d *sqldialect.Dialect
		if d, err = sqldialect.New(server); err == nil {
			g.gatherLocal(ctx, d, l)
			if l.Incomplete != "" {
				return o, d
			}
			if g.role == RolePrimary {
				a, err := g.account(ctx, d, pl.testLogin)
				if err != nil {
					l.Incomplete = "the replication account: " + oneLine(err.Error())
					return o, d
				}
				o.Account = &a
				g.gatherClone(ctx, d, l, &o.Seed)
				if primaryNeedsPeers(*l, a, pl.lineage, pl.approved) || g.peersDue(o.At) {
					// A password change waits for, or is finished by, the
					// replicas; a primary about to take writes, or taking
					// them with data it cannot prove its own, checks that
					// no peer holds transactions it lacks: ask them. And
					// now and then, to remember them.
					o.Peers = g.gatherPeers(ctx)
				}
				if l.ReadOnly || l.SuperReadOnly {
					if l.UserTables, err = queryStrings(ctx, g.local, d.UserTablesQuery(userTablesShown)); err != nil {
						l.Incomplete = "the list of tables: " + oneLine(err.Error())
						return o, d
					}
					l.UserTablesRead = true
				}
				return o, d
			}
			o.Replica = g.gatherReplica(ctx, d, l, pl)
			if l.Incomplete == "" {
				g.gatherClone(ctx, d, l, &o.Seed)
				if needsDonor(o) || g.peersDue(o.At) {
					o.Peers = g.gatherPeers(ctx)
				}
			}
			return o, d
		}
	}
	l.Unsupported = oneLine(err.Error())
	return o, nil
}

func (g *gatherer) gatherLocal(ctx context.Context, d *sqldialect.Dialect, l *LocalFacts) {
	started, err := serverStartedAt(ctx, g.local)
	if err != nil {
		l.Incomplete = "the server's uptime: " + oneLine(err.Error())
		return
	}
	l.StartedAt = started
	var ro, sro int
	if err := g.local.QueryRowContext(ctx, d.ReadOnlyQuery()).Scan(&ro, &sro); err != nil {
		l.Incomplete = "read_only: " + oneLine(err.Error())
		return
	}
	l.ReadOnly, l.SuperReadOnly = ro != 0, sro != 0
	if q, ok := d.OfflineModeQuery(); ok {
		var off int
		if err := g.local.QueryRowContext(ctx, q).Scan(&off); err != nil {
			l.Incomplete = "offline_mode: " + oneLine(err.Error())
			return
		}
		l.OfflineMode = off != 0
	}
	if err := g.local.QueryRowContext(ctx, d.OriginQuery()).Scan(&l.Origin); err != nil {
		l.Incomplete = "the server's GTID origin: " + oneLine(err.Error())
		return
	}
	var gtids string
	if err := g.local.QueryRowContext(ctx, d.GTIDExecutedQuery()).Scan(&gtids); err != nil {
		l.Incomplete = "the server's GTIDs: " + oneLine(err.Error())
		return
	}
	if l.GTIDs, err = sqldialect.ParseGTIDSet(d.Server().Flavor, gtids); err != nil {
		l.Incomplete = "the server's GTIDs: " + oneLine(err.Error())
		return
	}
	purged, err := localPurged(ctx, g.local, d)
	if err == nil {
		l.Purged, err = sqldialect.ParseGTIDSet(d.Server().Flavor, purged)
	}
	if err != nil {
		l.Incomplete = "what the binary logs no longer hold: " + oneLine(err.Error())
	}
}

// localPurged reads the transactions the server's binary logs no longer
// hold (see LocalFacts.Purged).
func localPurged(ctx context.Context, db *sql.DB, d *sqldialect.Dialect) (string, error) {
	if !d.PurgedFromBinlogs() {
		q, _ := d.GTIDPurgedQuery()
		var s string
		return s, db.QueryRowContext(ctx, q).Scan(&s)
	}
	logs, err := queryStrings(ctx, db, d.BinaryLogsQuery())
	if err != nil || len(logs) == 0 {
		return "", err
	}
	rows, err := db.QueryContext(ctx, d.BinlogEventsQuery(logs[0], 5))
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ, info sql.NullString
		var pos, serverID, end sql.NullInt64
		if err := rows.Scan(&name, &pos, &typ, &serverID, &end, &info); err != nil {
			return "", err
		}
		if typ.String == "Gtid_list" {
			return sqldialect.GTIDListInfo(info.String), nil
		}
	}
	return "", rows.Err()
}

func (g *gatherer) gatherReplica(ctx context.Context, d *sqldialect.Dialect, l *LocalFacts, pl plan) *ReplicaFacts {
	r := &ReplicaFacts{}
	ch, err := replicaStatus(ctx, g.local, d)
	if err != nil {
		l.Incomplete = "replication status: " + oneLine(err.Error())
		return r
	}
	r.Channel = ch
	if !ch.Configured {
		if r.UserTables, err = queryStrings(ctx, g.local, d.UserTablesQuery(userTablesShown)); err != nil {
			l.Incomplete = "the list of tables: " + oneLine(err.Error())
			return r
		}
		if r.Accounts, err = queryStrings(ctx, g.local, d.AccountsQuery()); err != nil {
			l.Incomplete = "the list of accounts: " + oneLine(err.Error())
			return r
		}
	}
	if q, ok := d.WritersQuery(); ok {
		if r.Writers, err = queryStrings(ctx, g.local, q); err != nil {
			l.Incomplete = "the accounts that may write: " + oneLine(err.Error())
			return r
		}
	}
	refused := ch.IO != sqldialect.ThreadRunning && isAuthError(ch.LastIOErrno)
	r.Source = g.gatherSource(ctx, d, pl.freshSourceLogin || refused)
	return r
}

// peersDue reports whether the peers were last listed peerRefreshEvery
// ago or more: they are listed that often at least, to be remembered.
func (g *gatherer) peersDue(now time.Time) bool {
	return g.peers != nil && now.Sub(g.peersAt) >= peerRefreshEvery
}

// gatherPeers lists the StatefulSet's pods, briefly, and remembers those
// that answered (STATE_DIR/peers.json).
func (g *gatherer) gatherPeers(ctx context.Context) *PeerFacts {
	if g.peers == nil {
		return &PeerFacts{Err: "peers are not looked up"}
	}
	g.peersAt = time.Now()
	ctx, cancel := context.WithTimeout(ctx, sourceQueryTimeout)
	defer cancel()
	peers, err := g.peers(ctx)
	pf := &PeerFacts{Peers: peers}
	if err != nil {
		pf.Err, pf.Absent = oneLine(err.Error()), errors.Is(err, errServiceAbsent)
	}
	if g.peerMem != nil {
		mem, readErr, writeErr := g.peerMem.update(peers, g.self, g.statefulSet, g.peersAt)
		pf.Memory, pf.MemoryErr = mem, writeErr
		if readErr != nil {
			// What is remembered cannot be read: the guard must not take
			// that for "no peer remembered".
			pf.Err, pf.Absent = "the peers remembered in STATE_DIR: "+oneLine(readErr.Error()), false
		}
	}
	return pf
}

// override reads a person's choice for the primary, if any.
func (g *gatherer) override() *Override {
	if g.overrides == nil {
		return nil
	}
	o, err := g.overrides.read()
	if err != nil {
		return &Override{Err: "read " + overrideFile + ": " + oneLine(err.Error())}
	}
	return o
}

// seedFiles reads a MariaDB seed's files (they speak while the server is
// down, too).
func (g *gatherer) seedFiles() SeedFacts {
	f, err := g.seeds.facts()
	if err != nil {
		f.Err = "read the seed files in STATE_DIR: " + oneLine(err.Error())
	}
	return f
}

// gatherClone adds what the server and this sidecar know of a MySQL clone
// to f: running, restart needed, failed, progress.
func (g *gatherer) gatherClone(ctx context.Context, d *sqldialect.Dialect, l *LocalFacts, f *SeedFacts) {
	if g.clone == nil || !d.CloneSupported() {
		return
	}
	running, donor, started, _, jobErr := g.clone.state()
	switch mark, ok, err := g.cloneMarks.read(); {
	case err != nil:
		// Unreadable: the guard may be up; treat it so (fail closed).
		f.Guarded = true
		l.Incomplete = "the clone marker in STATE_DIR: " + oneLine(err.Error())
		return
	case ok:
		f.Guarded, f.Donor = true, mark.Donor
	}
	var state, source, msg string
	var errno, sinceEnd int64
	var pid uint64
	err := g.local.QueryRowContext(ctx, d.CloneStatusQuery()).Scan(&state, &source, &errno, &msg, &sinceEnd, &pid)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		// No clone plugin (not loaded) or no performance_schema: only this
		// sidecar's own knowledge counts.
		state = ""
	}
	uptime := time.Since(l.StartedAt)
	endedSinceStart := sinceEnd >= 0 && time.Duration(sinceEnd)*time.Second < uptime
	switch {
	case running || state == "In Progress":
		f.Running, f.Phase, f.Started = true, "clone", started
		if f.Donor = donor; donor == "" {
			f.Donor = source
		}
		if state == "In Progress" {
			f.PID = pid
		}
		var data, estimate, network int64
		var speed float64
		var stage string
		if err := g.local.QueryRowContext(ctx, d.CloneProgressQuery()).Scan(&data, &estimate, &speed, &network, &stage); err == nil {
			f.Bytes, f.Estimate, f.Rate, f.Moved, f.Stage = data, estimate, speed, data+network, stage
		}
	case jobErr != nil:
		f.Err, f.Donor, f.Kind = oneLine(jobErr.Error()), donor, g.clone.failureKind()
	case endedSinceStart && (state == "Completed" || errno == int64(sqldialect.ErrnoCloneRestart)):
		f.RestartNeeded, f.Donor = true, firstNonEmpty(donor, source)
	case endedSinceStart && state == "Failed":
		f.Err, f.Donor = fmt.Sprintf("clone error %d: %s", errno, oneLine(msg)), firstNonEmpty(donor, source)
		f.Kind = cloneFailureKind(uint16(errno), msg, false)
	}
}

// cloneFailureKind classifies a failed clone: a donor serving another
// clone (3634, or 3862 carrying it) is busy; one that this sidecar
// stopped for moving no byte (killed, 1317) stalled.
func cloneFailureKind(errno uint16, msg string, killed bool) string {
	switch {
	case killed || errno == sqldialect.ErrnoQueryInterrupted:
		return SeedStalled
	case errno == sqldialect.ErrnoCloneTooMany,
		errno == sqldialect.ErrnoCloneDonor && strings.Contains(msg, strconv.Itoa(int(sqldialect.ErrnoCloneTooMany))):
		return SeedBusy
	case slices.Contains(cloneNetworkErrnos, errno),
		errno == sqldialect.ErrnoCloneDonor && cloneNetworkMessage(msg):
		return SeedLost
	}
	return ""
}

// cloneNetworkMessage: a 3862 message about the connection to the donor
// ("Clone Donor Error: Connect failed: 2005 : Unknown MySQL server host").
func cloneNetworkMessage(msg string) bool {
	if strings.Contains(msg, "Connect failed") {
		return true
	}
	for _, n := range cloneNetworkErrnos {
		if strings.Contains(msg, ": "+strconv.Itoa(int(n))+" :") {
			return true
		}
	}
	return false
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// isAuthError: the server refused the login (access denied, or
// caching_sha2_password refusing a plain connection without the RSA key).
func isAuthError(errno int) bool {
	return errno == int(sqldialect.ErrnoAccessDenied) || errno == int(sqldialect.ErrnoAuthRequiresSecureConnection)
}

// gatherSource asks the primary for its GTID sets, briefly: a primary that
// is down must not hold up the pass (or a probe waiting for it). fresh
// drops the pool's idle connections first, so the answer comes from a
// login with the current password.
func (g *gatherer) gatherSource(ctx context.Context, d *sqldialect.Dialect, fresh bool) SourceFacts {
	ctx, cancel := context.WithTimeout(ctx, sourceQueryTimeout)
	defer cancel()
	s := SourceFacts{FreshLogin: fresh}
	db := g.primary()
	if fresh || g.sourceFailed {
		// A new login; or the last answer did not come, and the idle
		// connection may be one a cut network left dead, which would
		// cost this pass its whole timeout too.
		db.SetMaxIdleConns(0)
		db.SetMaxIdleConns(1)
	}
	defer func() { g.sourceFailed = s.Err != "" }()
	var gtids, purged string
	err := db.QueryRowContext(ctx, d.GTIDExecutedQuery()).Scan(&gtids)
	if err == nil {
		// Whether the primary takes writes (its sidecar lifts read-only
		// only once its own checks pass), over the replication account's
		// own connection: a replica must see a replaced history even when
		// the primary's HTTP port is closed to it (a NetworkPolicy, a
		// crash-looping sidecar).
		var ro, sro int
		if qerr := db.QueryRowContext(ctx, d.ReadOnlyQuery()).Scan(&ro, &sro); qerr == nil {
			s.StatusKnown, s.Writable = true, ro == 0 && sro == 0
		}
	}
	var pst *Status
	if g.primaryStatus != nil && (!s.StatusKnown || d.PurgedFromBinlogs()) {
		// On MariaDB what the primary's binary logs lack (the replication
		// account may not read them), from its /status; and whether it is
		// writable when SQL could not say.
		if st, perr := g.primaryStatus(ctx); perr == nil {
			pst = st
			if !s.StatusKnown {
				s.StatusKnown, s.Writable = true, st.Role == RolePrimary && st.ServerUp && !st.ReadOnly
			}
		}
	}
	if err == nil {
		if q, ok := d.GTIDPurgedQuery(); ok && !d.PurgedFromBinlogs() {
			err = db.QueryRowContext(ctx, q).Scan(&purged)
			s.PurgedKnown = err == nil
		} else if pst != nil {
			purged, s.PurgedKnown = pst.GTIDPurged, true
		}
	}
	if err == nil {
		s.GTIDs, err = sqldialect.ParseGTIDSet(d.Server().Flavor, gtids)
	}
	if err == nil {
		s.Purged, err = sqldialect.ParseGTIDSet(d.Server().Flavor, purged)
	}
	if err != nil {
		if n, ok := sqldialect.Errno(err); ok && isAuthError(int(n)) {
			s.Refused = true
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", sourceQueryTimeout)
		}
		s.Err = oneLine(err.Error())
	}
	return s
}

func serverStartedAt(ctx context.Context, db *sql.DB) (time.Time, error) {
	var name string
	var uptime int64
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Uptime'").Scan(&name, &uptime); err != nil {
		return time.Time{}, err
	}
	return time.Now().Add(-time.Duration(uptime) * time.Second), nil
}

// replicaStatus reads SHOW REPLICA STATUS by column name.
func replicaStatus(ctx context.Context, db *sql.DB, d *sqldialect.Dialect) (sqldialect.ReplicaStatus, error) {
	rows, err := db.QueryContext(ctx, d.ReplicaStatusQuery())
	if err != nil {
		return sqldialect.ReplicaStatus{}, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return sqldialect.ReplicaStatus{}, err
	}
	if !rows.Next() {
		return sqldialect.ReplicaStatus{}, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return sqldialect.ReplicaStatus{}, err
	}
	return sqldialect.ParseReplicaStatus(cols, vals)
}

// queryStrings returns the first column of every row of q (other columns
// are read and dropped).
func queryStrings(ctx context.Context, db *sql.DB, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, string(vals[0]))
	}
	return out, rows.Err()
}

// oneLine folds a message onto one line for logs and probes.
var oneLine = sqldialect.OneLine
