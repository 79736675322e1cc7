package bootstrap

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// Replication channel settings: retry every second, for a long time, and
// notice a silent source within seconds, so a primary that comes back on a
// new address is found again quickly by its stable name.
const (
	connectRetry    = time.Second
	retryCount      = 1_000_000
	heartbeatPeriod = 2 * time.Second
)

// replicationAccountHost is the host part of the replication account:
// replicas connect from pod addresses that change.
const replicationAccountHost = "%"

// reconciler observes the local server and moves it towards its role. One
// pass is one observation and at most a few corrective statements; every
// decision is made from what the server reports, not from memory, except
// counters and which facts were already logged.
type reconciler struct {
	s *Sidecar

	server       string // last server version seen, to log changes
	accountOK    bool   // replication account verified on this primary
	changes      uint64
	restarts     uint64
	errors       uint64
	lastReason   string
	lastErrant   string
	lastStartTry time.Time
	startBackoff time.Duration // grows while restarts keep failing
	caughtUp     bool          // the replica once held all of snapshot
	snapshot     string        // the primary's GTIDs when first compared
}

// Restart backoff for stopped replication threads: a failing IO thread
// (a purged binlog, a wrong password) is retried, but not every second.
const (
	minStartBackoff = time.Second
	maxStartBackoff = time.Minute
)

// pass runs one reconcile and publishes the resulting status.
func (r *reconciler) pass(ctx context.Context) Status {
	s := r.s
	st := s.box.get()
	st.LastReconcile = time.Now()
	st.ReconcileError = ""
	st.Ready, st.Reason = false, ""
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	err := r.observeAndFix(ctx, &st)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return st // shutting down
		}
		r.errors++
		st.ReconcileError = oneLine(err.Error())
		st.Ready = false
		if st.Reason == "" {
			st.Reason = oneLine(err.Error())
		}
	}
	st.ReconcileErrors = r.errors
	if st.Replication != nil {
		st.Replication.Changes = r.changes
		st.Replication.Restarts = r.restarts
	}
	// Log changes of readiness, and of the reason while not ready; a
	// ready replica's reason carries its lag, which changes all the time.
	key := "ready"
	if !st.Ready {
		key = st.Reason
	}
	if key != r.lastReason {
		args := []any{"ready", st.Ready, "reason", st.Reason, "role", st.Role}
		if st.Ready {
			s.log.Info("readiness changed", args...)
		} else {
			s.log.Warn("readiness changed", args...)
		}
		r.lastReason = key
	}
	s.box.set(st)
	return st
}

func (r *reconciler) observeAndFix(ctx context.Context, st *Status) error {
	s := r.s
	db := s.local
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		st.ServerUp = false
		st.Reason = "local server does not answer: " + oneLine(err.Error())
		st.Replication = nil
		r.accountOK = false
		return nil
	}
	st.ServerUp = true
	if started, err := serverStartedAt(ctx, db); err == nil {
		if !st.ServerStartedAt.IsZero() && started.Sub(st.ServerStartedAt) > restartTolerance {
			s.log.Info("local server restarted", "started_at", started.UTC().Format(time.RFC3339))
		}
		st.ServerStartedAt = started
	}
	server, err := sqldialect.ParseVersion(version)
	if err != nil {
		return fmt.Errorf("read the server version %q: %w", version, err)
	}
	d, err := sqldialect.New(server)
	if err != nil {
		st.Reason = err.Error()
		return err
	}
	st.Flavor, st.Version = server.Flavor.String(), version
	if version != r.server {
		s.log.Info("local server detected", "flavor", st.Flavor, "version", version)
		r.server = version
	}

	if s.id.IsPrimary() {
		st.Replication = nil
		return r.primary(ctx, d, st)
	}
	return r.replica(ctx, d, st)
}

// readOnly reads the server's read-only state into st.
func readOnly(ctx context.Context, db *sql.DB, d *sqldialect.Dialect, st *Status) error {
	var ro, sro int
	if err := db.QueryRowContext(ctx, d.ReadOnlyQuery()).Scan(&ro, &sro); err != nil {
		return fmt.Errorf("read read_only: %w", err)
	}
	st.ReadOnly, st.SuperReadOnly = ro != 0, sro != 0
	return nil
}

// exec runs statements, logging their redacted form.
func (r *reconciler) exec(ctx context.Context, what string, stmts ...sqldialect.Statement) error {
	for _, stmt := range stmts {
		if _, err := r.s.local.ExecContext(ctx, stmt.SQL); err != nil {
			if stmt.SQL != stmt.Redacted {
				// The server may quote the statement back ("near '...'"):
				// keep only its error number when the statement holds a secret.
				if errno, ok := mysqlErrno(err); ok {
					return fmt.Errorf("%s: %s: server error %d", what, stmt.Redacted, errno)
				}
			}
			return fmt.Errorf("%s: %s: %w", what, stmt.Redacted, err)
		}
		r.s.log.Info(what, "statement", stmt.Redacted)
	}
	return nil
}

// primary makes sure the replication account exists with its password and
// grant, then makes the server writable.
func (r *reconciler) primary(ctx context.Context, d *sqldialect.Dialect, st *Status) error {
	s := r.s
	if !r.accountOK {
		if err := r.ensureAccount(ctx, d); err != nil {
			st.Reason = "replication account not ready: " + oneLine(err.Error())
			return err
		}
		r.accountOK = true
	}
	if err := readOnly(ctx, s.local, d, st); err != nil {
		return err
	}
	if st.ReadOnly || st.SuperReadOnly {
		if err := r.exec(ctx, "made the primary writable", d.SetReadOnly(false)...); err != nil {
			return err
		}
		if err := readOnly(ctx, s.local, d, st); err != nil {
			return err
		}
	}
	if st.ReadOnly || st.SuperReadOnly {
		st.Ready, st.Reason = false, "primary is still read-only"
		return nil
	}
	st.Ready, st.Reason = true, "primary is writable"
	return nil
}

// ensureAccount creates the replication account, or repairs its password
// and grant, changing nothing when they are already right.
func (r *reconciler) ensureAccount(ctx context.Context, d *sqldialect.Dialect) error {
	s := r.s
	user, host, pw := s.cfg.ReplicationUser, replicationAccountHost, s.cfg.ReplicationPassword.Reveal()
	q := d.UserExistsQuery(user, host)
	var n int
	if err := s.local.QueryRowContext(ctx, q.SQL, q.Args...).Scan(&n); err != nil {
		return fmt.Errorf("look up the replication account: %w", err)
	}
	grant, err := d.GrantReplication(user, host)
	if err != nil {
		return err
	}
	if n == 0 {
		create, err := d.CreateReplicationUser(user, host, pw)
		if err != nil {
			return err
		}
		return r.exec(ctx, "created the replication account", create, grant)
	}
	if !r.passwordWorks(ctx) {
		alter, err := d.AlterUserPassword(user, host, pw)
		if err != nil {
			return err
		}
		if err := r.exec(ctx, "reset the replication account's password", alter); err != nil {
			return err
		}
	}
	show, err := d.ShowGrants(user, host)
	if err != nil {
		return err
	}
	grants, err := queryStrings(ctx, s.local, show)
	if err != nil {
		return fmt.Errorf("read the replication account's grants: %w", err)
	}
	if !sqldialect.HasReplicationGrant(grants) {
		return r.exec(ctx, "granted replication to the replication account", grant)
	}
	return nil
}

// passwordWorks logs in to the local server as the replication account:
// the only way to compare a password without reading its hash.
func (r *reconciler) passwordWorks(ctx context.Context) bool {
	s := r.s
	c := localDSN(s.cfg)
	c.User, c.Passwd = s.cfg.ReplicationUser, s.cfg.ReplicationPassword.Reveal()
	db := openDB(c)
	defer db.Close()
	err := db.PingContext(ctx)
	if err != nil {
		if errno, ok := mysqlErrno(err); ok && errno == errAccessDenied {
			return false
		}
		// Anything else (a connection limit, a network blip) is no reason
		// to write: treat the password as good and check again later.
		s.log.Warn("could not check the replication password", "error", oneLine(err.Error()))
	}
	return true
}

// replica keeps the server read-only and replicating from the primary.
func (r *reconciler) replica(ctx context.Context, d *sqldialect.Dialect, st *Status) error {
	s := r.s
	if err := readOnly(ctx, s.local, d, st); err != nil {
		return err
	}
	if !st.ReadOnly || (d.SuperReadOnlySupported() && !st.SuperReadOnly) {
		if err := r.exec(ctx, "made the replica read-only", d.SetReadOnly(true)...); err != nil {
			return err
		}
		if err := readOnly(ctx, s.local, d, st); err != nil {
			return err
		}
	}

	rs, err := replicaStatus(ctx, s.local, d)
	if err != nil {
		return err
	}
	port := s.cfg.MySQLPort
	if !rs.PointsAt(s.id.PrimaryHost, port, s.cfg.ReplicationUser) || authFailed(rs) {
		if err := r.pointAtPrimary(ctx, d, rs); err != nil {
			st.Replication = replicationStatus(rs, "")
			st.Ready, st.Reason = false, oneLine(err.Error())
			return err
		}
		if rs, err = replicaStatus(ctx, s.local, d); err != nil {
			return err
		}
	} else if rs.Running() || rs.IORunning == "Connecting" {
		r.startBackoff = 0
	} else if rs.LastSQLErrno == 0 {
		// Stopped: after a server restart (skip_replica_start), when the
		// IO thread ran out of retries, or by hand. An SQL error is not
		// retried: it needs a person, and skipping it would lose or
		// diverge data.
		if r.startBackoff == 0 || time.Since(r.lastStartTry) >= r.startBackoff {
			r.startBackoff = min(max(2*r.startBackoff, minStartBackoff), maxStartBackoff)
			r.lastStartTry = time.Now()
			r.restarts++
			if err := r.exec(ctx, "started replication", d.StartReplica()); err != nil {
				return err
			}
			if rs, err = replicaStatus(ctx, s.local, d); err != nil {
				return err
			}
		}
	}

	mine, theirs, compared := r.gtidSets(ctx, d)
	errant := ""
	if compared {
		errant = r.errantGTIDs(ctx, d, mine, theirs)
	}
	st.Replication = replicationStatus(rs, errant)
	st.Ready, st.Reason = replicaReadiness(st, s.cfg.MaxReplicationLag, s.id.PrimaryHost)
	if st.Ready && !r.caughtUp {
		// Seconds_Behind is 0 whenever the SQL thread has applied all it
		// has fetched, also while a new replica is still fetching a
		// backlog: the first time, require the primary's transactions as
		// they were when first seen.
		if r.snapshot == "" && compared {
			r.snapshot = theirs
		}
		if r.snapshot == "" || !compared || !r.contains(ctx, d, mine, r.snapshot) {
			st.Ready, st.Reason = false, "catching up with the primary's transactions"
		} else {
			r.caughtUp = true
		}
	}
	return nil
}

// authFailed reports an IO thread refused by the primary: after a password
// rotation the channel must be told the new password, which only CHANGE
// does. Access denied (1045) and "authentication requires a secure
// connection" (2061).
func authFailed(rs sqldialect.ReplicaStatus) bool {
	return rs.IORunning != "Yes" && (rs.LastIOErrno == 1045 || rs.LastIOErrno == 2061)
}

// pointAtPrimary (re)configures the replication channel: stop, CHANGE,
// start. It runs only when the channel points somewhere else.
func (r *reconciler) pointAtPrimary(ctx context.Context, d *sqldialect.Dialect, rs sqldialect.ReplicaStatus) error {
	s := r.s
	if rs.Configured {
		s.log.Info("replication points elsewhere or was refused by the primary: reconfiguring", "io_error", rs.LastError(), "source_host", rs.SourceHost, "source_port", rs.SourcePort,
			"source_user", rs.SourceUser, "auto_position", rs.AutoPosition, "want_host", s.id.PrimaryHost)
		if err := r.exec(ctx, "stopped replication", d.StopReplica()); err != nil {
			return err
		}
	}
	if missing := r.purgedOnPrimary(ctx, d); missing != "" {
		return fmt.Errorf("the primary has purged binary logs this replica still needs (%s): replication cannot start from here; rebuild this replica from a copy of the primary's data", missing)
	}
	stmt, err := d.ChangeSource(sqldialect.SourceOptions{
		Host:            s.id.PrimaryHost,
		Port:            s.cfg.MySQLPort,
		User:            s.cfg.ReplicationUser,
		Password:        s.cfg.ReplicationPassword.Reveal(),
		ConnectRetry:    connectRetry,
		RetryCount:      retryCount,
		HeartbeatPeriod: heartbeatPeriod,
		TLS:             s.cfg.ReplicationTLS,
	})
	if err != nil {
		return fmt.Errorf("build the replication statement: %w", err)
	}
	if err := r.exec(ctx, "pointed replication at the primary", stmt); err != nil {
		return err
	}
	r.changes++
	r.restarts++
	r.caughtUp, r.snapshot = false, ""
	r.lastStartTry = time.Now()
	return r.exec(ctx, "started replication", d.StartReplica())
}

// purgedOnPrimary returns the transactions the replica lacks that the
// primary no longer has in its binary logs (MySQL only: MariaDB reports the
// same as error 1236 once the channel connects). "" when none, or when the
// primary cannot be asked: the channel's own error then tells.
func (r *reconciler) purgedOnPrimary(ctx context.Context, d *sqldialect.Dialect) string {
	purgedQ, ok := d.GTIDPurgedQuery()
	subtractQ, ok2 := d.GTIDSubtractQuery()
	if !ok || !ok2 {
		return ""
	}
	s := r.s
	var mine, purged, missing string
	if err := s.local.QueryRowContext(ctx, d.GTIDExecutedQuery()).Scan(&mine); err != nil {
		return ""
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.primaryDB().QueryRowContext(pctx, purgedQ).Scan(&purged); err != nil {
		return ""
	}
	if err := s.local.QueryRowContext(ctx, subtractQ, purged, mine).Scan(&missing); err != nil {
		return ""
	}
	return oneLine(missing)
}

// replicaStatus reads SHOW REPLICA STATUS by column name.
func replicaStatus(ctx context.Context, db *sql.DB, d *sqldialect.Dialect) (sqldialect.ReplicaStatus, error) {
	rows, err := db.QueryContext(ctx, d.ReplicaStatusQuery())
	if err != nil {
		return sqldialect.ReplicaStatus{}, fmt.Errorf("read replication status: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return sqldialect.ReplicaStatus{}, fmt.Errorf("read replication status: %w", err)
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
		return sqldialect.ReplicaStatus{}, fmt.Errorf("read replication status: %w", err)
	}
	return sqldialect.ParseReplicaStatus(cols, vals)
}

// gtidSets reads the replica's transactions, then the primary's: anything
// the replica had then, the primary had earlier still, unless it is errant.
// ok is false when either cannot be read (the primary may be down).
func (r *reconciler) gtidSets(ctx context.Context, d *sqldialect.Dialect) (mine, theirs string, ok bool) {
	s := r.s
	if err := s.local.QueryRowContext(ctx, d.GTIDExecutedQuery()).Scan(&mine); err != nil {
		return "", "", false
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.primaryDB().QueryRowContext(pctx, d.GTIDExecutedQuery()).Scan(&theirs); err != nil {
		return "", "", false
	}
	return mine, theirs, true
}

// contains reports whether GTID set super holds every transaction of sub.
func (r *reconciler) contains(ctx context.Context, d *sqldialect.Dialect, super, sub string) bool {
	if d.Server().Flavor == sqldialect.MariaDB {
		ok, err := sqldialect.MariaDBGTIDSubset(sub, super)
		return err == nil && ok
	}
	q, ok := d.GTIDSubsetQuery()
	if !ok {
		return false
	}
	var in bool
	if err := r.s.local.QueryRowContext(ctx, q, sub, super).Scan(&in); err != nil {
		return false
	}
	return in
}

// errantGTIDs returns the replica's transactions the primary lacks ("" when
// none), logging when that changes.
func (r *reconciler) errantGTIDs(ctx context.Context, d *sqldialect.Dialect, mine, theirs string) string {
	s := r.s
	var errant string
	if d.Server().Flavor == sqldialect.MariaDB {
		ok, err := sqldialect.MariaDBGTIDSubset(mine, theirs)
		if err != nil || ok {
			return ""
		}
		errant = strings.TrimSpace(mine)
	} else if q, ok := d.GTIDSubtractQuery(); ok {
		if err := s.local.QueryRowContext(ctx, q, mine, theirs).Scan(&errant); err != nil {
			return ""
		}
	}
	errant = oneLine(errant)
	if errant != r.lastErrant {
		if errant != "" {
			s.log.Error("replica has transactions the primary lacks (errant GTIDs): it is not ready; rebuild it from the primary",
				"errant_gtids", errant)
		}
		r.lastErrant = errant
	}
	return errant
}

func replicationStatus(rs sqldialect.ReplicaStatus, errant string) *ReplicationStatus {
	return &ReplicationStatus{
		Configured:   rs.Configured,
		SourceHost:   rs.SourceHost,
		SourcePort:   rs.SourcePort,
		AutoPosition: rs.AutoPosition,
		IOState:      rs.IORunning,
		IORunning:    rs.IORunning == "Yes",
		SQLRunning:   rs.SQLRunning == "Yes",
		LagSeconds:   rs.Lag,
		LastError:    rs.LastError(),
		ErrantGTIDs:  errant,
	}
}

// replicaReadiness decides whether a replica may serve reads, with the
// reason in one line.
func replicaReadiness(st *Status, maxLag time.Duration, primary string) (bool, string) {
	r := st.Replication
	switch {
	case !st.ReadOnly || (st.Flavor == "mysql" && !st.SuperReadOnly):
		return false, "replica is not read-only"
	case r == nil || !r.Configured:
		return false, "replication is not configured"
	case r.ErrantGTIDs != "":
		return false, "replica has transactions the primary lacks: " + r.ErrantGTIDs
	case r.IOState == "Connecting" && r.SQLRunning:
		reason := "replication is connecting to " + primary
		if r.LastError != "" {
			reason += ": " + r.LastError
		}
		return false, reason
	case r.LastError != "":
		return false, "replication error: " + r.LastError
	case !r.IORunning || !r.SQLRunning:
		return false, fmt.Sprintf("replication threads not running (IO %s, SQL %s)", orNo(r.IOState), boolYesNo(r.SQLRunning))
	case r.LagSeconds == nil:
		return false, "replication lag unknown"
	case time.Duration(*r.LagSeconds)*time.Second > maxLag:
		return false, fmt.Sprintf("replication lag %ds exceeds MAX_REPLICATION_LAG %s", *r.LagSeconds, maxLag)
	}
	return true, fmt.Sprintf("replicating from %s, lag %ds", primary, *r.LagSeconds)
}

func orNo(s string) string {
	if s == "" {
		return "No"
	}
	return s
}

func boolYesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// oneLine folds an error message onto one line for logs and probes.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// queryStrings returns the first column of every row of q.
func queryStrings(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
