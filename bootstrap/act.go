package bootstrap

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
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

// executor runs decide's actions on the local server through the dialect.
type executor struct {
	db    *sql.DB
	cfg   *Config
	id    Identity
	log   *slog.Logger
	creds *credentials
	// dsn is the local server's address without credentials, for login
	// tests.
	dsn func() *mysql.Config
	// longDSN is the sidecar account's connection without read and write timeouts, for
	// a clone.
	// rootDSN is root's connection to the local server, for the KILLs
	// of a former semi-sync primary's sessions: on MySQL only an account
	// with SYSTEM_USER may end those of one that has it (root, often the
	// clients'); nil: the sidecar account's pool (tests).
	rootDSN func() *mysql.Config
	longDSN func() *mysql.Config
	// killTimeout bounds stopping a clone (abortClone); 0 means
	// cloneKillTimeout.
	killTimeout time.Duration
	clone       *cloneJob
	cloneMarks  cloneMarkers
	seeds       seedFiles
	overrides   *overrideFiles
	// seedSecret reads the seed secret (sidecarSeedSecret), from which
	// the copy account's password is derived; set on first use.
	seedSecret func() string
	// writeGate, when set (PRIMARY=kubernetes), runs the statements that
	// make the server writable only while the pod may take writes, never
	// at the same time as a fence.
	writeGate func(func() error) error
	// copyFPOf and copyFPVal cache the tag of the copy account's password:
	// a slow derivation, worth doing only when it (or root's) changes.
	copyFPOf, copyFPVal string
}

// copyAccount is the copy account's name and host on the server d
// speaks to: MySQL's clone account at '%' (recipients connect from pod
// addresses that change); MariaDB's backup account at the address
// backup-server connects from (localAccountHost: the loopback source
// address when MYSQL_HOST is a loopback, the server container's own
// network), else '%'.
func (e *executor) copyAccount(d *sqldialect.Dialect) (user, host string) {
	if d.CloneSupported() {
		return decide.CloneAccountUser, "%"
	}
	return decide.BackupAccountUser, localAccountHost(e.cfg.MySQLHost)
}

// copyPasswordLabel separates the copy account's password from every
// other use of the seed secret.
const copyPasswordLabel = "mysql-bootstrap copy account password v1"

// copyPassword derives the copy account's password from the seed secret:
// 32 hex characters (HMAC-SHA256), within every server's password limits
// whatever the secret's length, and not the secret itself, which also
// keys the seed tokens and signs STATE_DIR's files.
func copyPassword(seedSecret string) string {
	if seedSecret == "" {
		return ""
	}
	m := hmac.New(sha256.New, []byte(seedSecret))
	m.Write([]byte(copyPasswordLabel))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// copyPassword is the copy account's password now (read from the seed
// secret's file, when it has one).
func (e *executor) copyPassword() string {
	if e.seedSecret == nil {
		e.seedSecret = sidecarSeedSecret(e.cfg, e.creds)
	}
	return copyPassword(e.seedSecret())
}

// copyFP is the tag (PasswordTag, keyed by the root password as the
// replication password's is) of the copy account's password now.
func (e *executor) copyFP() string {
	root, pw := e.creds.root.Get(), e.copyPassword()
	if key := root.Reveal() + "\x00" + pw; key != e.copyFPOf || e.copyFPVal == "" {
		e.copyFPOf, e.copyFPVal = key, PasswordTag(root, Secret(pw))
	}
	return e.copyFPVal
}

// done is what the log says once an action's statements ran; tests look
// for some of these messages.
var done = map[decide.ActionKind]string{
	decide.ActMakeWritable:        "made the primary writable",
	decide.ActMakeReadOnly:        "made the server read-only",
	decide.ActCreateAccount:       "created the replication account",
	decide.ActSetPassword:         "reset the replication account's password",
	decide.ActRotatePassword:      "changed the replication account's password, keeping the old one until the replicas use the new one",
	decide.ActDiscardOld:          "discarded the replication account's old password",
	decide.ActMarkAccount:         "marked the replication account as mysql-bootstrap's",
	decide.ActRequireSSL:          "made the replication account require TLS",
	decide.ActCreateCopyAccount:   "created the copy account (the clone account on MySQL, the backup account on MariaDB), with its privileges only",
	decide.ActSetCopyPassword:     "gave the copy account the password derived from the seed secret",
	decide.ActGrantCopyAccount:    "granted the copy account its privileges",
	decide.ActCloneRequireSSL:     "made the clone account require TLS",
	decide.ActRevokeBackupAdmin:   "revoked BACKUP_ADMIN from the replication account: only the clone account can clone this server",
	decide.ActClone:               "seeding: started cloning the donor's data",
	decide.ActRequestSeed:         "seeding: asked the server container to restore a copy of the donor's data, and stopped the server",
	decide.ActApplySeed:           "seeding: gave the restored server the copy's GTID position",
	decide.ActShutdown:            "stopped the server so that its container restarts it",
	decide.ActEndClone:            "seeding: put read-only back and let clients in again after a clone",
	decide.ActAbortClone:          "seeding: stopped a clone that moved no byte for SEED_STALL_TIMEOUT",
	decide.ActConsumeOverride:     "used the person's override for the primary",
	decide.ActGrantReplication:    "granted replication to the replication account",
	decide.ActResetBinaryLogs:     "removed the replica's first-start GTIDs",
	decide.ActStopReplica:         "stopped replication",
	decide.ActChangeSource:        "pointed replication at the primary",
	decide.ActStartReplica:        "started replication",
	decide.ActResetReplica:        "removed the replication channel: this pod is the primary now",
	decide.ActAdoptBinlogPosition: "gave gtid_slave_pos what the binary log holds, before the first CHANGE",
	decide.ActSemiSyncSource:      "semi-sync: turned the source side on (every commit waits for a replica's acknowledgement), the replica side off",
	decide.ActSemiSyncReplica:     "semi-sync: turned the replica side on (it acknowledges what it receives), the source side off",
	decide.ActRestartReceiver:     "restarted the replication receiver (IO thread), so that it reconnects as a semi-sync replica",
	decide.ActEndSemiSyncSource:   "semi-sync: ended every client session, then turned the source side off and made the server read-only (a former primary)",
	decide.ActStopReceiver:        "stopped the replication receiver (IO thread): the primary's Lease expired",
	decide.ActStartApplier:        "started the applier (SQL thread) to apply the relay log",
}

// run executes the actions in order and stops at the first failure.
func (e *executor) run(ctx context.Context, d *sqldialect.Dialect, actions []decide.Action) error {
	for _, a := range actions {
		switch a.Kind {
		case decide.ActClone:
			// The donor's host first: CLONE sends it the clone
			// account's password.
			if _, err := e.id.PeerPod(a.Donor.Host); err != nil {
				return fmt.Errorf("%s: %w", a.Kind, err)
			}
			if err := e.startClone(d, a.Donor); err != nil {
				return fmt.Errorf("%s: %w", a.Kind, err)
			}
			e.log.Info(done[a.Kind], "why", a.Why, "donor", a.Donor.Pod)
			continue
		case decide.ActRequestSeed:
			if _, err := e.id.PeerPod(a.Donor.Host); err != nil {
				return fmt.Errorf("%s: %w", a.Kind, err)
			}
			req := SeedRequest{Donor: a.Donor.Pod, URL: e.backupURL(a.Donor), Why: a.Why, Requested: time.Now()}
			if err := e.seeds.request(req); err != nil {
				return fmt.Errorf("%s: %w", a.Kind, err)
			}
			e.shutdown(ctx, d)
			e.log.Info(done[a.Kind], "why", a.Why, "donor", a.Donor.Pod, "url", req.URL)
			continue
		case decide.ActConsumeOverride:
			if err := e.overrides.consume(); err != nil {
				return fmt.Errorf("%s: %w", a.Kind, err)
			}
			e.log.Warn(done[a.Kind], "why", a.Why)
			continue
		case decide.ActShutdown:
			e.shutdown(ctx, d)
			e.clone.clear()
			e.log.Info(done[a.Kind], "why", a.Why)
			continue
		case decide.ActEndSemiSyncSource:
			if err := e.endSemiSyncSource(ctx, d); err != nil {
				return fmt.Errorf("%s: %w", a.Kind, err)
			}
			e.log.Warn(done[a.Kind], "why", a.Why)
			continue
		case decide.ActAbortClone:
			e.clone.markKilled()
			stmt := d.KillQuery(a.Thread)
			if err := e.abortClone(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %s: %w", a.Kind, stmt.Redacted, err)
			}
			e.log.Warn(done[a.Kind], "why", a.Why, "donor", a.Donor.Pod, "statement", stmt)
			continue
		case decide.ActEndClone:
			// Read-only first, then clients in; the marker goes last, once
			// both are as they were.
			for _, stmt := range d.CloneGuard(false) {
				if _, err := e.db.ExecContext(ctx, stmt.SQL); err != nil {
					return fmt.Errorf("%s: %s: %w", a.Kind, stmt.Redacted, err)
				}
			}
			if err := e.cloneMarks.remove(); err != nil {
				return fmt.Errorf("%s: %w", a.Kind, err)
			}
			e.log.Warn(done[a.Kind], "why", a.Why)
			continue
		case decide.ActApplySeed:
			facts, err := e.seeds.facts()
			if err == nil && !facts.ResultPending {
				err = errors.New("no seed result to apply")
			}
			var stmts []sqldialect.Statement
			if err == nil {
				stmts, err = d.ApplySeedPosition(facts.ResultGTID, facts.ResultBinlogState)
			}
			for _, stmt := range stmts {
				if err != nil {
					break
				}
				if _, err = e.db.ExecContext(ctx, stmt.SQL); err != nil {
					err = fmt.Errorf("%s: %w", stmt.Redacted, err)
				}
			}
			if err == nil {
				err = e.seeds.applied()
			}
			if err != nil {
				return fmt.Errorf("%s: %w", a.Kind, err)
			}
			e.log.Info(done[a.Kind], "why", a.Why, "gtid", facts.ResultGTID, "binlog_state", facts.ResultBinlogState)
			continue
		}
		stmts, err := e.statements(d, a.Kind)
		if err != nil {
			return fmt.Errorf("%s: %w", a.Kind, err)
		}
		exec := func() error {
			for _, stmt := range stmts {
				if _, err := e.db.ExecContext(ctx, stmt.SQL); err != nil {
					return fmt.Errorf("%s: %s: %w", a.Kind, stmt.Redacted, redactServerError(stmt, err))
				}
			}
			return nil
		}
		if e.writeGate != nil && (a.Kind == decide.ActMakeWritable || e.id.Role == wire.RolePrimary && a.Kind != decide.ActMakeReadOnly) {
			// PRIMARY=kubernetes: a primary's statements are written to
			// its binary log, and must not be once it may no longer take
			// writes (a switchover's fence, a lapsed Lease): a decision
			// taken before the fence is not carried out after it.
			err = e.writeGate(exec)
		} else {
			err = exec()
		}
		if err != nil {
			return err
		}
		args := []any{"why", a.Why}
		for _, stmt := range stmts {
			args = append(args, "statement", stmt)
		}
		e.log.Info(done[a.Kind], args...)
	}
	return nil
}

// endSemiSyncSource turns a former primary's semi-sync source side off
// so that no client is told OK for a write no replica has (measured on
// MySQL 9.7 and MariaDB 10.11 and 11.8): turning it off answers OK to
// every session still waiting, and so does MySQL's shutdown; KILL QUERY
// answers OK on MariaDB and is ignored on MySQL; KILL CONNECTION closes
// the client's socket first, so its client gets an error. MySQL keeps a
// killed session waiting until the source side is off, and its
// super_read_only cannot take effect before: offline_mode keeps new
// clients out meanwhile (those with CONNECTION_ADMIN aside). MariaDB's
// read_only waits for the waiting sessions and does not bind SUPER:
// its clients are ended before and after it.
func (e *executor) endSemiSyncSource(ctx context.Context, d *sqldialect.Dialect) error {
	off, err := d.SetSemiSync(false, false)
	if err != nil {
		return err
	}
	exec := func(stmts ...sqldialect.Statement) error {
		for _, stmt := range stmts {
			if _, err := e.db.ExecContext(ctx, stmt.SQL); err != nil {
				return fmt.Errorf("%s: %w", stmt.Redacted, err)
			}
		}
		return nil
	}
	killer := e.db
	if e.rootDSN != nil {
		killer = openDB(e.rootDSN())
		killer.SetMaxOpenConns(1)
		defer func() { _ = killer.Close() }()
	}
	ends := func() error { return killSessions(ctx, killer, d.ClientSessionsQuery(SidecarAccountUser), d) }
	if d.Server().Flavor == sqldialect.MariaDB {
		if err := ends(); err != nil {
			return err
		}
		// read_only waits for every waiting commit, the sidecar
		// account's included (its sessions are otherwise left alone).
		if err := killSessions(ctx, killer, d.SemiSyncWaitersQuery(0), d); err != nil {
			return err
		}
		if err := exec(d.SetReadOnly(true)...); err != nil {
			return err
		}
		if err := ends(); err != nil {
			return err
		}
		return exec(off...)
	}
	if err := exec(sqldialect.Statement{SQL: "SET GLOBAL offline_mode = ON", Redacted: "SET GLOBAL offline_mode = ON"}); err != nil {
		return err
	}
	defer func() {
		// On a context of its own: offline_mode left ON would keep the
		// pod's clients out (situation offline-mode).
		octx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		if _, err := e.db.ExecContext(octx, "SET GLOBAL offline_mode = OFF"); err != nil {
			e.log.Error("could not turn offline_mode off again", "error", sqldialect.OneLine(err.Error()))
		}
	}()
	if err := ends(); err != nil {
		return err
	}
	if err := exec(off...); err != nil {
		return err
	}
	return exec(d.SetReadOnly(true)...)
}

// killSemiSyncWaiters ends (KILL CONNECTION) every session whose commit
// has waited for a semi-sync acknowledgement for minSeconds or more.
func killSemiSyncWaiters(ctx context.Context, db *sql.DB, d *sqldialect.Dialect, minSeconds int) error {
	return killSessions(ctx, db, d.SemiSyncWaitersQuery(minSeconds), d)
}

// killSessions ends (KILL CONNECTION) every session query lists.
func killSessions(ctx context.Context, db *sql.DB, query string, d *sqldialect.Dialect) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("list the sessions to end: %w", err)
	}
	var ids []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	_ = rows.Close()
	// Every session is tried; the first failure is returned.
	var first error
	for _, id := range ids {
		stmt := d.KillConnection(id)
		if _, err := db.ExecContext(ctx, stmt.SQL); err != nil && !sqldialect.IsErrno(err, 1094) && first == nil { // 1094: gone already
			first = fmt.Errorf("%s: %w", stmt.Redacted, err)
		}
	}
	return first
}

// redactServerError keeps only the error number when the statement holds
// a secret: the server may quote the statement back ("near '...'").
func redactServerError(stmt sqldialect.Statement, err error) error {
	if stmt.SQL == stmt.Redacted {
		return err
	}
	if errno, ok := sqldialect.Errno(err); ok && !sqldialect.MessageQuotesNoStatement(errno) {
		// The number stays, for the callers that branch on it; the
		// message may quote the statement.
		return &mysql.MySQLError{Number: errno, Message: "message withheld: the statement holds a secret"}
	}
	return err
}

func (e *executor) statements(d *sqldialect.Dialect, kind decide.ActionKind) ([]sqldialect.Statement, error) {
	user, host, pw := e.cfg.ReplicationUser, replicationAccountHost, e.creds.replication.Get().Reveal()
	one := func(s sqldialect.Statement, err error) ([]sqldialect.Statement, error) {
		if err != nil {
			return nil, err
		}
		return []sqldialect.Statement{s}, nil
	}
	switch kind {
	case decide.ActMakeWritable:
		return d.SetReadOnly(false), nil
	case decide.ActMakeReadOnly:
		return d.SetReadOnly(true), nil
	case decide.ActCreateAccount:
		return d.CreateReplicationUser(user, host, pw, e.cfg.TLSCAFile != "")
	case decide.ActSetPassword:
		return one(d.AlterUserPassword(user, host, pw, false))
	case decide.ActRotatePassword:
		return one(d.AlterUserPassword(user, host, pw, true))
	case decide.ActDiscardOld:
		return one(d.DiscardOldPassword(user, host))
	case decide.ActMarkAccount:
		return d.MarkAccount(user, host)
	case decide.ActRequireSSL:
		return one(d.RequireSSL(user, host, true))
	case decide.ActCreateCopyAccount:
		cu, ch := e.copyAccount(d)
		create, err := d.CreateReplicationUser(cu, ch, e.copyPassword(), e.cfg.TLSCAFile != "" && d.CloneSupported())
		if err != nil {
			return nil, err
		}
		grant, err := d.GrantCopyAccount(cu, ch)
		return append(create, grant), err
	case decide.ActSetCopyPassword:
		cu, ch := e.copyAccount(d)
		return one(d.AlterUserPassword(cu, ch, e.copyPassword(), false))
	case decide.ActGrantCopyAccount:
		cu, ch := e.copyAccount(d)
		return one(d.GrantCopyAccount(cu, ch))
	case decide.ActCloneRequireSSL:
		cu, ch := e.copyAccount(d)
		return one(d.RequireSSL(cu, ch, true))
	case decide.ActRevokeBackupAdmin:
		return one(d.RevokeBackupAdmin(user, host))
	case decide.ActGrantReplication:
		return one(d.GrantReplication(user, host))
	case decide.ActResetBinaryLogs:
		return one(d.ResetBinaryLogs(), nil)
	case decide.ActStopReplica:
		return one(d.StopReplica(), nil)
	case decide.ActStartReplica:
		return one(d.StartReplica(), nil)
	case decide.ActResetReplica:
		return one(d.ResetReplicaAll(), nil)
	case decide.ActAdoptBinlogPosition:
		return one(d.AdoptBinlogPosition())
	case decide.ActSemiSyncSource:
		return d.SetSemiSync(true, false)
	case decide.ActSemiSyncReplica:
		return d.SetSemiSync(false, true)
	case decide.ActRestartReceiver:
		return d.RestartReceiver(), nil
	case decide.ActStopReceiver:
		return one(d.StopReceiver(), nil)
	case decide.ActStartApplier:
		return one(d.StartApplier(), nil)
	case decide.ActChangeSource:
		return one(d.ChangeSource(sqldialect.SourceOptions{
			Host:            e.id.PrimaryHost,
			Port:            e.cfg.MySQLPort,
			User:            user,
			Password:        pw,
			ConnectRetry:    connectRetry,
			RetryCount:      retryCount,
			HeartbeatPeriod: heartbeatPeriod,
			TLS:             e.cfg.ReplicationTLS,
			TLSCA:           e.cfg.TLSCAFile,
			TLSCert:         e.cfg.TLSCertFile,
			TLSKey:          e.cfg.TLSKeyFile,
		}))
	}
	return nil, fmt.Errorf("unknown action %q", kind)
}

// shutdown stops the local server; it answers by closing the connection,
// which is no error here.
func (e *executor) shutdown(ctx context.Context, d *sqldialect.Dialect) {
	if _, err := e.db.ExecContext(ctx, d.Shutdown().SQL); err != nil {
		e.log.Info("shutdown", "answer", sqldialect.OneLine(err.Error()))
	}
}

// backupURL is where a MariaDB donor's backup-server serves its stream:
// https whenever a CA is configured (seedScheme).
func (e *executor) backupURL(donor decide.Donor) string {
	_, port, _ := net.SplitHostPort(e.cfg.BackupAddr)
	return seedScheme(e.cfg) + "://" + net.JoinHostPort(strings.TrimSuffix(donor.Host, "."), port) + "/backup"
}

// checkAccount looks at the replication account on the local server:
// whether it exists and is marked as ours, its TLS requirement and old
// password, its grants, and, when testLogin, whether REPLICATION_PASSWORD
// logs in.
func (e *executor) checkAccount(ctx context.Context, d *sqldialect.Dialect, testLogin bool) (decide.AccountFacts, error) {
	return e.lookAtAccount(ctx, d, e.cfg.ReplicationUser, replicationAccountHost, testLogin, func() string { return e.creds.replication.Get().Reveal() })
}

// checkCopyAccount looks at the copy account (copyAccount) as
// checkAccount does, trying the password derived from the seed secret
// when testLogin.
func (e *executor) checkCopyAccount(ctx context.Context, d *sqldialect.Dialect, testLogin bool) (decide.AccountFacts, error) {
	cu, ch := e.copyAccount(d)
	return e.lookAtAccount(ctx, d, cu, ch, testLogin, e.copyPassword)
}

func (e *executor) lookAtAccount(ctx context.Context, d *sqldialect.Dialect, user, host string, testLogin bool, password func() string) (decide.AccountFacts, error) {
	var a decide.AccountFacts
	q := d.AccountQuery(user, host)
	var sslType, marker string
	var old int
	switch err := e.db.QueryRowContext(ctx, q.SQL, q.Args...).Scan(&sslType, &old, &marker); {
	case errors.Is(err, sql.ErrNoRows):
		return a, nil
	case err != nil:
		return a, fmt.Errorf("look up the account: %w", err)
	}
	a.Exists, a.RequireSSL, a.OldPasswordRetained, a.Marked = true, sslType != "", old != 0, marker == sqldialect.AccountMarker
	show, err := d.ShowGrants(user, host)
	if err != nil {
		return a, err
	}
	lines, err := queryStrings(ctx, e.db, show)
	if err != nil {
		return a, fmt.Errorf("read its grants: %w", err)
	}
	a.Grants = sqldialect.ClassifyGrants(lines)
	if testLogin || !a.Marked {
		a.LoginTested = true
		a.PasswordWorks, a.PasswordUnknown = e.passwordWorks(ctx, user, password())
	}
	return a, nil
}

// passwordWorks logs in to the local server as user: the only way to
// compare a password without reading its hash. Anything but access denied
// (a connection limit, a network blip) is no proof of a wrong password:
// unknown says what happened instead. The login uses TLS when the account
// requires it.
func (e *executor) passwordWorks(ctx context.Context, user, password string) (works bool, unknown string) {
	c := e.dsn()
	c.User, c.Passwd = user, password
	c.TLSConfig, c.TLS = "preferred", nil
	db := openDB(c)
	defer db.Close()
	err := db.PingContext(ctx)
	switch {
	case err == nil:
		return true, ""
	case sqldialect.IsErrno(err, sqldialect.ErrnoAccessDenied):
		return false, ""
	}
	return false, sqldialect.OneLine(err.Error())
}

// abortClone sends stmt (KILL QUERY of the clone's session) on a
// connection of its own, never one of the loop's pool, answered within
// cloneKillTimeout or given up: a KILL that hangs (the CI saw one wait
// past the pool's 10 s read timeout, three passes in a row) costs a pass
// that long and no pooled connection. KILL QUERY is enough, and KILL
// CONNECTION would be no better: on MySQL 9.7 both answer within 0.5 s
// and the clone then ends when its read from the lost donor times out
// (30 s at most, the clone plugin's floor); KILL CONNECTION only drops
// this sidecar's CLONE statement at once while the server's clone runs
// on, refusing another clone meanwhile (3634).
func (e *executor) abortClone(ctx context.Context, stmt sqldialect.Statement) error {
	timeout := e.killTimeout
	if timeout <= 0 {
		timeout = cloneKillTimeout
	}
	c := e.longDSN()
	c.ReadTimeout, c.WriteTimeout = timeout, timeout
	db := openDB(c)
	defer db.Close()
	kctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := db.ExecContext(kctx, stmt.SQL)
	if err != nil && (kctx.Err() != nil || errors.Is(err, mysql.ErrInvalidConn)) {
		return fmt.Errorf("no answer within %s (the server may still carry it out): %w", timeout, err)
	}
	return err
}

// cloneJob is a CLONE INSTANCE statement this sidecar runs: it lasts as
// long as the copy, so it runs beside the passes, which watch it.
type cloneJob struct {
	mu       sync.Mutex
	running  bool
	donor    string
	started  time.Time
	finished time.Time
	err      error
	// killed: this sidecar stopped the clone for moving no byte
	// (ActAbortClone); kind classifies its error (cloneFailureKind).
	killed bool
	kind   string
}

// failureKind is the kind of the job's failure.
func (j *cloneJob) failureKind() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.kind
}

// markKilled records that the clone is being stopped for a stall.
func (j *cloneJob) markKilled() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.running {
		j.killed = true
	}
}

// state returns what the job is doing.
func (j *cloneJob) state() (running bool, donor string, started, finished time.Time, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.running, j.donor, j.started, j.finished, j.err
}

// clear forgets a finished job.
func (j *cloneJob) clear() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.running {
		j.donor, j.err, j.started, j.finished, j.killed, j.kind = "", nil, time.Time{}, time.Time{}, false, ""
	}
}

// startClone runs the clone statements on a connection of their own,
// without the pool's read timeout (a large copy takes hours), bounded by
// SEED_TIMEOUT. CLONE drops the recipient's own schemas, which
// super_read_only forbids, so read-only is lifted for it, behind
// offline_mode (sqldialect.CloneGuard): no client but an administrator
// can connect, so no write is acknowledged and then replaced by the
// donor's data. A failed clone puts both back. STATE_DIR/clone.json is
// written before read-only is lifted and removed once both are back, so a
// sidecar that dies in between leaves the next one what it must undo.
func (e *executor) startClone(d *sqldialect.Dialect, donor decide.Donor) error {
	stmts, err := d.Clone(sqldialect.CloneOptions{
		Host: donor.Host, Port: e.cfg.MySQLPort, User: decide.CloneAccountUser,
		Password: e.copyPassword(), TLSCA: e.cfg.TLSCAFile,
	})
	if err != nil {
		return err
	}
	j := e.clone
	j.mu.Lock()
	if j.running {
		j.mu.Unlock()
		return nil
	}
	// The marker first: if this sidecar stops while read-only is lifted,
	// the next one sees it and puts the guard back.
	started := time.Now()
	if err := e.cloneMarks.write(CloneMarker{Donor: donor.Pod, Started: started}); err != nil {
		j.mu.Unlock()
		return err
	}
	j.running, j.donor, j.started, j.finished, j.err, j.killed, j.kind = true, donor.Pod, started, time.Time{}, nil, false, ""
	j.mu.Unlock()
	go func() {
		c := e.longDSN()
		db := openDB(c)
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.SeedTimeout)
		defer cancel()
		var err error
		for _, stmt := range append(d.CloneGuard(true), stmts...) {
			e.log.Info("seeding: clone", "donor", donor.Pod, "statement", stmt)
			if _, err = db.ExecContext(ctx, stmt.SQL); err != nil {
				err = fmt.Errorf("%s: %w", stmt.Redacted, redactServerError(stmt, err))
				break
			}
		}
		if sqldialect.IsErrno(err, sqldialect.ErrnoCloneRestart) {
			err = nil // the copy is in place; the container restarts the server
		}
		if err != nil {
			// The server did not restart on a copy: read-only again, then
			// clients back in. Bounded on its own: ctx may be what ended.
			uctx, ucancel := context.WithTimeout(context.Background(), cloneUnguardTimeout)
			undone := true
			for _, stmt := range d.CloneGuard(false) {
				if _, uerr := db.ExecContext(uctx, stmt.SQL); uerr != nil {
					e.log.Warn("seeding: could not undo the clone's guard: offline_mode keeps clients out until a pass puts it back", "statement", stmt, "error", sqldialect.OneLine(uerr.Error()))
					undone = false
					break
				}
				e.log.Info("seeding: clone", "donor", donor.Pod, "statement", stmt)
			}
			ucancel()
			if undone {
				if rerr := e.cloneMarks.remove(); rerr != nil {
					e.log.Warn("seeding: could not remove the clone marker", "error", sqldialect.OneLine(rerr.Error()))
				}
			}
		}
		j.mu.Lock()
		j.running, j.finished, j.err = false, time.Now(), err
		if err != nil {
			errno, _ := sqldialect.Errno(err)
			j.kind = cloneFailureKind(errno, err.Error(), j.killed)
		}
		j.mu.Unlock()
		if err != nil {
			e.log.Warn("seeding: clone failed", "donor", donor.Pod, "error", sqldialect.OneLine(err.Error()))
		} else {
			e.log.Info("seeding: clone done", "donor", donor.Pod, "elapsed", time.Since(j.started).Round(time.Millisecond).String())
		}
	}()
	return nil
}
