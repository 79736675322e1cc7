package bootstrap

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
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

// executor runs decide's actions on the local server through the dialect.
type executor struct {
	db  *sql.DB
	cfg *Config
	id  Identity
	log *slog.Logger
}

// done is what the log says once an action's statements ran; tests look
// for some of these messages.
var done = map[ActionKind]string{
	ActMakeWritable:     "made the primary writable",
	ActMakeReadOnly:     "made the replica read-only",
	ActCreateAccount:    "created the replication account",
	ActSetPassword:      "reset the replication account's password",
	ActGrantReplication: "granted replication to the replication account",
	ActResetBinaryLogs:  "removed the replica's first-start GTIDs",
	ActStopReplica:      "stopped replication",
	ActChangeSource:     "pointed replication at the primary",
	ActStartReplica:     "started replication",
}

// run executes the actions in order and stops at the first failure.
func (e *executor) run(ctx context.Context, d *sqldialect.Dialect, actions []Action) error {
	for _, a := range actions {
		stmts, err := e.statements(d, a.Kind)
		if err != nil {
			return fmt.Errorf("%s: %w", a.Kind, err)
		}
		for _, stmt := range stmts {
			if _, err := e.db.ExecContext(ctx, stmt.SQL); err != nil {
				return fmt.Errorf("%s: %s: %w", a.Kind, stmt.Redacted, redactServerError(stmt, err))
			}
		}
		args := []any{"why", a.Why}
		for _, stmt := range stmts {
			args = append(args, "statement", stmt)
		}
		e.log.Info(done[a.Kind], args...)
	}
	return nil
}

// redactServerError keeps only the error number when the statement holds
// a secret: the server may quote the statement back ("near '...'").
func redactServerError(stmt sqldialect.Statement, err error) error {
	if stmt.SQL == stmt.Redacted {
		return err
	}
	if errno, ok := sqldialect.Errno(err); ok {
		return fmt.Errorf("server error %d", errno)
	}
	return err
}

func (e *executor) statements(d *sqldialect.Dialect, kind ActionKind) ([]sqldialect.Statement, error) {
	user, host, pw := e.cfg.ReplicationUser, replicationAccountHost, e.cfg.ReplicationPassword.Reveal()
	one := func(s sqldialect.Statement, err error) ([]sqldialect.Statement, error) {
		if err != nil {
			return nil, err
		}
		return []sqldialect.Statement{s}, nil
	}
	switch kind {
	case ActMakeWritable:
		return d.SetReadOnly(false), nil
	case ActMakeReadOnly:
		return d.SetReadOnly(true), nil
	case ActCreateAccount:
		return one(d.CreateReplicationUser(user, host, pw))
	case ActSetPassword:
		return one(d.AlterUserPassword(user, host, pw))
	case ActGrantReplication:
		return one(d.GrantReplication(user, host))
	case ActResetBinaryLogs:
		return one(d.ResetBinaryLogs(), nil)
	case ActStopReplica:
		return one(d.StopReplica(), nil)
	case ActStartReplica:
		return one(d.StartReplica(), nil)
	case ActChangeSource:
		return one(d.ChangeSource(sqldialect.SourceOptions{
			Host:            e.id.PrimaryHost,
			Port:            e.cfg.MySQLPort,
			User:            user,
			Password:        pw,
			ConnectRetry:    connectRetry,
			RetryCount:      retryCount,
			HeartbeatPeriod: heartbeatPeriod,
			TLS:             e.cfg.ReplicationTLS,
		}))
	}
	return nil, fmt.Errorf("unknown action %q", kind)
}

// checkAccount looks at the replication account on the local server:
// whether it exists, whether REPLICATION_PASSWORD logs in, its grants.
func (e *executor) checkAccount(ctx context.Context, d *sqldialect.Dialect) (AccountFacts, error) {
	var a AccountFacts
	user := e.cfg.ReplicationUser
	q := d.UserExistsQuery(user, replicationAccountHost)
	var n int
	if err := e.db.QueryRowContext(ctx, q.SQL, q.Args...).Scan(&n); err != nil {
		return a, fmt.Errorf("look up the account: %w", err)
	}
	if a.Exists = n > 0; !a.Exists {
		return a, nil
	}
	a.PasswordWorks, a.PasswordUnknown = e.passwordWorks(ctx)
	show, err := d.ShowGrants(user, replicationAccountHost)
	if err != nil {
		return a, err
	}
	grants, err := queryStrings(ctx, e.db, show)
	if err != nil {
		return a, fmt.Errorf("read its grants: %w", err)
	}
	a.HasReplication = sqldialect.HasReplicationGrant(grants)
	return a, nil
}

// passwordWorks logs in to the local server as the replication account:
// the only way to compare a password without reading its hash. Anything
// but access denied (a connection limit, a network blip) is no proof of a
// wrong password: unknown says what happened instead.
func (e *executor) passwordWorks(ctx context.Context) (works bool, unknown string) {
	c := localDSN(e.cfg)
	c.User, c.Passwd = e.cfg.ReplicationUser, e.cfg.ReplicationPassword.Reveal()
	db := openDB(c)
	defer db.Close()
	err := db.PingContext(ctx)
	switch {
	case err == nil:
		return true, ""
	case sqldialect.IsErrno(err, sqldialect.ErrnoAccessDenied):
		return false, ""
	}
	return false, oneLine(err.Error())
}
