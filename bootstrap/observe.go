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

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// cloneNetworkErrnos are the client and server errors of a connection
// that failed or broke: unknown host 2005, cannot connect 2003, gone 2006,
// lost 2013, and the server's read/write errors 1158-1161.
var cloneNetworkErrnos = []uint16{2003, 2005, 2006, 2013, 1158, 1159, 1160, 1161}

// userTablesShown is how many user tables an observation lists.
const userTablesShown = 5

// gatherer reads the facts; its fields are the connections it reads from.
type gatherer struct {
	local   *sql.DB
	primary func() *sql.DB // lazily opened pool to the primary
	role    wire.Role
	account accountChecker
	// copyAccount looks at the copy account (MySQL: the clone account;
	// MariaDB: the backup account) on a primary; copyFP
	// tags its password now; nil in tests that do without.
	copyAccount accountChecker
	copyFP      func() string
	creds       *credentials
	peers       func(context.Context) (decide.Peers, error)
	// primaryStatus fetches the primary's /status (MariaDB replicas learn
	// what the primary purged from it).
	primaryStatus func(context.Context) (*wire.Status, error)
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
	// readChannel: a primary's replication channel is read too (the
	// primary can move: a pod that was a replica still has one), until it
	// is seen gone (channelGone; a new role reads it again).
	readChannel bool
	channelGone bool
	// semiSync (SEMI_SYNC): the semi-sync state is read too; without it
	// no query about semi-sync is made.
	semiSync bool
	// hold (FAILOVER=auto) is the primary whose Lease expired: it is not
	// asked (it does not answer, and a pass must not wait for it).
	hold string
}

// accountChecker looks at the replication account (primary only),
// logging in with REPLICATION_PASSWORD when testLogin.
type accountChecker func(ctx context.Context, d *sqldialect.Dialect, testLogin bool) (decide.AccountFacts, error)

// plan says which of the costlier facts a pass needs, from memory.
type plan struct {
	// testLogin: a primary tries REPLICATION_PASSWORD by logging in.
	testLogin bool
	// freshSourceLogin: a replica asks the primary on a new connection,
	// so that the answer tells whether the current password works.
	freshSourceLogin bool
	// copyAccountFP is the tag of the password the copy account
	// was last found to accept: a primary tries the password again when
	// it differs from the current one.
	copyAccountFP string
	// lineage and approved are a primary's records of the data it took
	// writes with (Memory): a writable primary whose data they do not
	// prove its own asks its peers (the guard runs).
	lineage, approved decide.Lineage
}

// planFor derives the plan from memory and the password's tag.
func planFor(m decide.Memory, fp string) plan {
	return plan{
		testLogin:        !m.AccountVerified || m.AccountFP != fp,
		freshSourceLogin: m.ChannelFP != "" && m.ChannelFP != fp,
		copyAccountFP:    m.CopyAccountFP,
		lineage:          m.Lineage,
		approved:         m.Approved,
	}
}

// gather observes the local server and, on a replica, the primary. It
// never fails: what it cannot read is recorded in the observation, and
// decide fails closed on it.
func (g *gatherer) gather(ctx context.Context, pl plan) (decide.Observation, *sqldialect.Dialect) {
	o := decide.Observation{At: time.Now()}
	o.Credentials = g.creds.facts()
	o.Seed = g.seedFiles()
	o.Override = g.override(o.At)
	if g.peerMem != nil {
		// Unreadable, it is taken as empty here; the listing that updates
		// it says why (PeerFacts.Err).
		o.PeerMemory, _ = g.peerMem.get()
	}
	l := &o.Local
	if err := g.local.QueryRowContext(ctx, "SELECT VERSION()").Scan(&l.Version); err != nil {
		l.Err = sqldialect.OneLine(err.Error())
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
			if g.role == wire.RolePrimary {
				if g.readChannel && !g.channelGone {
					ch, err := replicaStatus(ctx, g.local, d)
					if err != nil {
						l.Incomplete = "the replication channel: " + sqldialect.OneLine(err.Error())
						return o, d
					}
					o.PrimaryChannel = &ch
					g.channelGone = !ch.Configured
				}
				a, err := g.account(ctx, d, pl.testLogin)
				if err != nil {
					l.Incomplete = "the replication account: " + sqldialect.OneLine(err.Error())
					return o, d
				}
				o.Account = &a
				if g.copyAccount != nil {
					o.Credentials.CopyFP = g.copyFP()
					testLogin := pl.copyAccountFP == "" || pl.copyAccountFP != o.Credentials.CopyFP
					c, err := g.copyAccount(ctx, d, testLogin)
					if err != nil {
						l.Incomplete = "the copy account: " + sqldialect.OneLine(err.Error())
						return o, d
					}
					o.CopyAccount = &c
				}
				g.gatherClone(ctx, d, l, &o.Seed)
				if decide.PrimaryNeedsPeers(*l, a, pl.lineage, pl.approved) || g.peersDue(o.At) {
					// A password change waits for, or is finished by, the
					// replicas; a primary about to take writes, or taking
					// them with data it cannot prove its own, checks that
					// no peer holds transactions it lacks: ask them. And
					// now and then, to remember them.
					o.Peers = g.gatherPeers(ctx)
				}
				if l.ReadOnly || l.SuperReadOnly {
					if l.UserTables, err = queryStrings(ctx, g.local, d.UserTablesQuery(userTablesShown)); err != nil {
						l.Incomplete = "the list of tables: " + sqldialect.OneLine(err.Error())
						return o, d
					}
					l.UserTablesRead = true
				}
				return o, d
			}
			o.Replica = g.gatherReplica(ctx, d, l, pl)
			if l.Incomplete == "" {
				g.gatherClone(ctx, d, l, &o.Seed)
				if decide.NeedsDonor(o) || g.peersDue(o.At) {
					o.Peers = g.gatherPeers(ctx)
				}
			}
			return o, d
		}
	}
	l.Unsupported = sqldialect.OneLine(err.Error())
	return o, nil
}

func (g *gatherer) gatherLocal(ctx context.Context, d *sqldialect.Dialect, l *decide.LocalFacts) {
	started, err := serverStartedAt(ctx, g.local)
	if err != nil {
		l.Incomplete = "the server's uptime: " + sqldialect.OneLine(err.Error())
		return
	}
	l.StartedAt = started
	var ro, sro int
	if err := g.local.QueryRowContext(ctx, d.ReadOnlyQuery()).Scan(&ro, &sro); err != nil {
		l.Incomplete = "read_only: " + sqldialect.OneLine(err.Error())
		return
	}
	l.ReadOnly, l.SuperReadOnly = ro != 0, sro != 0
	if q, ok := d.OfflineModeQuery(); ok {
		var off int
		if err := g.local.QueryRowContext(ctx, q).Scan(&off); err != nil {
			l.Incomplete = "offline_mode: " + sqldialect.OneLine(err.Error())
			return
		}
		l.OfflineMode = off != 0
	}
	if err := g.local.QueryRowContext(ctx, d.OriginQuery()).Scan(&l.Origin); err != nil {
		l.Incomplete = "the server's GTID origin: " + sqldialect.OneLine(err.Error())
		return
	}
	var gtids string
	if err := g.local.QueryRowContext(ctx, d.GTIDExecutedQuery()).Scan(&gtids); err != nil {
		l.Incomplete = "the server's GTIDs: " + sqldialect.OneLine(err.Error())
		return
	}
	if l.GTIDs, err = sqldialect.ParseGTIDSet(d.Server().Flavor, gtids); err != nil {
		l.Incomplete = "the server's GTIDs: " + sqldialect.OneLine(err.Error())
		return
	}
	purged, err := localPurged(ctx, g.local, d)
	if err == nil {
		l.Purged, err = sqldialect.ParseGTIDSet(d.Server().Flavor, purged)
	}
	if err != nil {
		l.Incomplete = "what the binary logs no longer hold: " + sqldialect.OneLine(err.Error())
		return
	}
	if g.semiSync {
		// Unreadable (MySQL without the semisync plugins: unknown system
		// variable), nothing is decided: a primary takes no writes.
		q, err := d.SemiSyncQuery()
		var source, replica int
		if err == nil {
			err = g.local.QueryRowContext(ctx, q).Scan(&source, &replica)
		}
		if err != nil {
			l.Incomplete = "the semi-sync state (SEMI_SYNC=true): " + sqldialect.OneLine(err.Error())
			return
		}
		l.SemiSync = &decide.SemiSyncFacts{Source: source != 0, Replica: replica != 0}
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

func (g *gatherer) gatherReplica(ctx context.Context, d *sqldialect.Dialect, l *decide.LocalFacts, pl plan) *decide.ReplicaFacts {
	r := &decide.ReplicaFacts{}
	ch, err := replicaStatus(ctx, g.local, d)
	if err != nil {
		l.Incomplete = "replication status: " + sqldialect.OneLine(err.Error())
		return r
	}
	r.Channel = ch
	if !ch.Configured {
		if r.UserTables, err = queryStrings(ctx, g.local, d.UserTablesQuery(userTablesShown)); err != nil {
			l.Incomplete = "the list of tables: " + sqldialect.OneLine(err.Error())
			return r
		}
		if r.Accounts, err = queryStrings(ctx, g.local, d.AccountsQuery()); err != nil {
			l.Incomplete = "the list of accounts: " + sqldialect.OneLine(err.Error())
			return r
		}
	}
	if q, ok := d.WritersQuery(); ok {
		if r.Writers, err = queryStrings(ctx, g.local, q); err != nil {
			l.Incomplete = "the accounts that may write: " + sqldialect.OneLine(err.Error())
			return r
		}
	}
	refused := ch.IO != sqldialect.ThreadRunning && decide.IsAuthError(ch.LastIOErrno)
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
func (g *gatherer) gatherPeers(ctx context.Context) *decide.PeerFacts {
	if g.peers == nil {
		return &decide.PeerFacts{Err: "peers are not looked up"}
	}
	g.peersAt = time.Now()
	ctx, cancel := context.WithTimeout(ctx, sourceQueryTimeout)
	defer cancel()
	peers, err := g.peers(ctx)
	pf := &decide.PeerFacts{Peers: peers}
	if err != nil {
		pf.Err, pf.Absent = sqldialect.OneLine(err.Error()), errors.Is(err, errServiceAbsent)
	}
	if g.peerMem != nil {
		mem, ignored, readErr, writeErr := g.peerMem.update(peers, g.self, g.statefulSet, g.peersAt)
		pf.Memory, pf.MemoryErr, pf.ForgetIgnored = mem, writeErr, ignored
		if readErr != nil {
			// What is remembered cannot be read: the guard must not take
			// that for "no peer remembered".
			pf.Err, pf.Absent = "the peers remembered in STATE_DIR: "+sqldialect.OneLine(readErr.Error()), false
		}
	}
	return pf
}

// override reads a person's choice for the primary, if any.
func (g *gatherer) override(now time.Time) *decide.Override {
	if g.overrides == nil {
		return nil
	}
	o, err := g.overrides.read(now)
	if err != nil {
		return &decide.Override{Err: "read " + overrideFile + ": " + sqldialect.OneLine(err.Error())}
	}
	return o
}

// seedFiles reads a MariaDB seed's files (they speak while the server is
// down, too).
func (g *gatherer) seedFiles() decide.SeedFacts {
	f, err := g.seeds.facts()
	if err != nil {
		f.Err = "read the seed files in STATE_DIR: " + sqldialect.OneLine(err.Error())
	}
	return f
}

// gatherClone adds what the server and this sidecar know of a MySQL clone
// to f: running, restart needed, failed, progress.
func (g *gatherer) gatherClone(ctx context.Context, d *sqldialect.Dialect, l *decide.LocalFacts, f *decide.SeedFacts) {
	if g.clone == nil || !d.CloneSupported() {
		return
	}
	running, donor, started, _, jobErr := g.clone.state()
	switch mark, ok, err := g.cloneMarks.read(); {
	case err != nil:
		// Unreadable: the guard may be up; treat it so (fail closed).
		f.Guarded = true
		l.Incomplete = "the clone marker in STATE_DIR: " + sqldialect.OneLine(err.Error())
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
		f.Err, f.Donor, f.Kind = sqldialect.OneLine(jobErr.Error()), donor, g.clone.failureKind()
	case endedSinceStart && (state == "Completed" || errno == int64(sqldialect.ErrnoCloneRestart)):
		f.RestartNeeded, f.Donor = true, firstNonEmpty(donor, source)
	case endedSinceStart && state == "Failed":
		f.Err, f.Donor = fmt.Sprintf("clone error %d: %s", errno, sqldialect.OneLine(msg)), firstNonEmpty(donor, source)
		f.Kind = cloneFailureKind(uint16(errno), msg, false)
	}
}

// cloneFailureKind classifies a failed clone: a donor serving another
// clone (3634, or 3862 carrying it) is busy; one that this sidecar
// stopped for moving no byte (killed, 1317) stalled.
func cloneFailureKind(errno uint16, msg string, killed bool) string {
	switch {
	case killed || errno == sqldialect.ErrnoQueryInterrupted:
		return decide.SeedStalled
	case errno == sqldialect.ErrnoCloneTooMany,
		errno == sqldialect.ErrnoCloneDonor && strings.Contains(msg, strconv.Itoa(int(sqldialect.ErrnoCloneTooMany))):
		return decide.SeedBusy
	case slices.Contains(cloneNetworkErrnos, errno),
		errno == sqldialect.ErrnoCloneDonor && cloneNetworkMessage(msg):
		return decide.SeedLost
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

// gatherSource asks the primary for its GTID sets, briefly: a primary that
// is down must not hold up the pass (or a probe waiting for it). fresh
// drops the pool's idle connections first, so the answer comes from a
// login with the current password.
func (g *gatherer) gatherSource(ctx context.Context, d *sqldialect.Dialect, fresh bool) decide.SourceFacts {
	if g.hold != "" {
		return decide.SourceFacts{FreshLogin: fresh, Err: "not asked: " + g.hold + "'s Lease expired (FAILOVER=auto)"}
	}
	ctx, cancel := context.WithTimeout(ctx, sourceQueryTimeout)
	defer cancel()
	s := decide.SourceFacts{FreshLogin: fresh}
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
	var pst *wire.Status
	if g.primaryStatus != nil && (!s.StatusKnown || d.PurgedFromBinlogs()) {
		// On MariaDB what the primary's binary logs lack (the replication
		// account may not read them), from its /status; and whether it is
		// writable when SQL could not say.
		if st, perr := g.primaryStatus(ctx); perr == nil {
			pst = st
			if !s.StatusKnown {
				s.StatusKnown, s.Writable = true, st.Role == wire.RolePrimary && st.ServerUp && !st.ReadOnly
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
		if n, ok := sqldialect.Errno(err); ok && decide.IsAuthError(int(n)) {
			s.Refused = true
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", sourceQueryTimeout)
		}
		s.Err = sqldialect.OneLine(err.Error())
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
