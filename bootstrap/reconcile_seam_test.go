package bootstrap

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/fakesql"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// livePrimary makes s.local a MySQL primary whose read-only state, and
// replication and clone accounts, follow the statements it runs.
type livePrimary struct {
	mu      sync.Mutex
	ro, sro bool
	// account, backup: the replication account exists, holds BACKUP_ADMIN;
	// clone, cloneBackup: the same of the clone account.
	account, backup    bool
	clone, cloneBackup bool
}

func (p *livePrimary) script(t *testing.T, s *seam, f serverFacts) *sqldialect.Dialect {
	d := script(t, s.local, f)
	p.ro, p.sro = f.readOnly, f.superRO
	s.local.OnFunc("read_only", func(q string) bool { return q == d.ReadOnlyQuery() }, func(context.Context, string, []any) fakesql.Result {
		p.mu.Lock()
		defer p.mu.Unlock()
		return fakesql.Row(b2i(p.ro), b2i(p.sro))
	})
	aq := d.AccountQuery("repl", "%").SQL
	s.local.OnFunc("account", func(q string) bool { return q == aq }, func(_ context.Context, _ string, args []any) fakesql.Result {
		p.mu.Lock()
		defer p.mu.Unlock()
		exists := p.account
		if args[0] == decide.CloneAccountUser {
			exists = p.clone
		}
		if !exists {
			return fakesql.Rows([]string{"ssl_type", "old", "marker"})
		}
		return fakesql.Rows([]string{"ssl_type", "old", "marker"}, []any{"", 0, sqldialect.AccountMarker})
	})
	s.local.OnFunc("grants", func(q string) bool { return q == "SHOW GRANTS FOR 'repl'@'%'" }, func(context.Context, string, []any) fakesql.Result {
		p.mu.Lock()
		defer p.mu.Unlock()
		rows := [][]any{{"GRANT USAGE ON *.* TO `repl`@`%`"}}
		if p.account {
			rows = append(rows, []any{"GRANT REPLICATION SLAVE ON *.* TO `repl`@`%`"})
		}
		if p.backup {
			rows = append(rows, []any{"GRANT BACKUP_ADMIN ON *.* TO `repl`@`%`"})
		}
		return fakesql.Rows([]string{"g"}, rows...)
	})
	s.local.OnFunc("clone grants", func(q string) bool { return q == "SHOW GRANTS FOR 'mysql-bootstrap-clone'@'%'" }, func(context.Context, string, []any) fakesql.Result {
		p.mu.Lock()
		defer p.mu.Unlock()
		rows := [][]any{{"GRANT USAGE ON *.* TO `mysql-bootstrap-clone`@`%`"}}
		if p.cloneBackup {
			rows = append(rows, []any{"GRANT BACKUP_ADMIN ON *.* TO `mysql-bootstrap-clone`@`%`"})
		}
		return fakesql.Rows([]string{"g"}, rows...)
	})
	s.local.OnFunc("writes", func(q string) bool {
		for _, prefix := range []string{"SET GLOBAL ", "CREATE USER ", "GRANT ", "REVOKE ", "ALTER USER "} {
			if strings.HasPrefix(q, prefix) {
				return true
			}
		}
		return false
	}, func(_ context.Context, q string, _ []any) fakesql.Result {
		p.mu.Lock()
		defer p.mu.Unlock()
		clone := strings.Contains(q, "'"+decide.CloneAccountUser+"'")
		switch {
		case q == "SET GLOBAL super_read_only = OFF":
			p.sro = false
		case q == "SET GLOBAL read_only = OFF":
			p.ro, p.sro = false, false
		case q == "SET GLOBAL super_read_only = ON":
			p.ro, p.sro = true, true
		case strings.HasPrefix(q, "CREATE USER ") && clone:
			p.clone = true
		case strings.HasPrefix(q, "CREATE USER "):
			p.account = true
		case strings.HasPrefix(q, "GRANT BACKUP_ADMIN") && clone:
			p.cloneBackup = true
		case strings.HasPrefix(q, "GRANT BACKUP_ADMIN"):
			p.backup = true
		case strings.HasPrefix(q, "REVOKE BACKUP_ADMIN") && !clone:
			p.backup = false
		}
		return fakesql.OK()
	})
	return d
}

func TestReconcileFirstStartOfAPrimary(t *testing.T) {
	s := newSeam(t, wire.RolePrimary)
	var p livePrimary
	f := mysqlPrimary()
	f.readOnly, f.superRO, f.account, f.gtids, f.purged = true, true, nil, "", ""
	p.script(t, s, f)
	ctx := context.Background()
	st := s.sc.rec.pass(ctx)
	want := []string{"SET GLOBAL super_read_only = OFF", "SET GLOBAL read_only = OFF",
		`CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY '` + seamReplPW + `' ATTRIBUTE '{"managed_by": "mysql-bootstrap"}'`,
		"GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'",
		// Then the clone account: BACKUP_ADMIN only, the password derived
		// from the seed secret (here the replication password).
		`CREATE USER IF NOT EXISTS 'mysql-bootstrap-clone'@'%' IDENTIFIED BY '` + copyPassword(seamReplPW) + `' ATTRIBUTE '{"managed_by": "mysql-bootstrap"}'`,
		"GRANT BACKUP_ADMIN ON *.* TO 'mysql-bootstrap-clone'@'%'"}
	if got := s.local.Execs(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("first pass:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !st.Ready || st.Situation != string(decide.SitPrimaryCorrectingCopyAcct) || st.Role != wire.RolePrimary || !st.ServerUp || st.Flavor != "mysql" || st.Version != "9.7.4" || st.ReadOnly ||
		st.GTIDOrigin != mysqlUUID || st.Account == nil || st.Credentials == nil || st.Credentials.ReplicationTag != PasswordTag(seamRootPW, seamReplPW) {
		t.Errorf("first pass status = %+v", st)
	}
	s.local.Reset()
	st = s.sc.rec.pass(ctx)
	if !st.Ready || st.Account == nil || !st.Account.Exists || !st.Account.Managed || st.ReconcileError != "" {
		t.Errorf("second pass status = %+v (reason %q)", st, st.Reason)
	}
	if got := s.local.Execs(); len(got) != 0 {
		t.Errorf("second pass ran %q", got)
	}
	if got := s.sc.Current(); !got.Ready {
		t.Errorf("current = %+v", got)
	}
	if ok, why := s.sc.Readiness(ctx); !ok {
		t.Errorf("readiness = %v %q", ok, why)
	}
	// The lineage it took writes with is kept in STATE_DIR, and a new
	// sidecar restores it.
	if _, ok, err := s.sc.rec.state.load(); !ok || err != nil {
		t.Fatalf("state file: %v %v", ok, err)
	}
	s2 := newSeam(t, wire.RolePrimary)
	s2.cfg.StateDir = s.cfg.StateDir
	s2.sc.rec.state.dir = s.cfg.StateDir
	var p2 livePrimary
	f.readOnly, f.superRO = false, false
	p2.account, p2.clone, p2.cloneBackup = true, true, true
	p2.script(t, s2, f)
	if st := s2.sc.rec.pass(ctx); !st.Ready {
		t.Errorf("after a restart: %+v", st)
	}
	if !strings.Contains(s2.logBuf.String(), "restored the lineage this primary took writes with") {
		t.Errorf("no restore in the log:\n%s", s2.logBuf.String())
	}
}

// A failed action: the pass stops there, says why, and counts it.
func TestReconcileActionFails(t *testing.T) {
	s := newSeam(t, wire.RolePrimary)
	f := mysqlPrimary()
	f.readOnly, f.superRO = true, true
	script(t, s.local, f)
	s.local.OnPrefix("SET GLOBAL ", fakesql.Fail(&mysql.MySQLError{Number: 1227, Message: "Access denied; you need (at least one of) the SUPER or SYSTEM_VARIABLES_ADMIN privilege(s)"}))
	st := s.sc.rec.pass(context.Background())
	if st.Ready || st.ReconcileErrors != 1 || !strings.Contains(st.ReconcileError, "SYSTEM_VARIABLES_ADMIN") || st.Reason != st.ReconcileError || st.Situation != string(decide.SitActionFailed) {
		t.Errorf("status = %+v", st)
	}
	if got := s.local.Execs(); len(got) != 1 {
		t.Errorf("statements after the failure: %q", got)
	}
	if !strings.Contains(s.logBuf.String(), "reconcile action failed") {
		t.Error("the failure is not logged")
	}
}

func TestReconcileServerDown(t *testing.T) {
	s := newSeam(t, wire.RoleReplica)
	s.local.SetConnectError(errors.New("dial tcp 127.0.0.1:3306: connect: connection refused"))
	st := s.sc.rec.pass(context.Background())
	if st.Ready || st.ServerUp || !strings.Contains(st.Reason, "connection refused") {
		t.Errorf("status = %+v", st)
	}
	if _, ok, _ := s.sc.rec.state.load(); ok {
		t.Error("a state file was written without a server")
	}
}

// A new replica points its channel at the primary and starts it; a
// running channel is ready and remembered in STATE_DIR.
func TestReconcileReplica(t *testing.T) {
	s := newSeam(t, wire.RoleReplica)
	f := mysqlPrimary()
	f.origin, f.gtids, f.purged, f.readOnly, f.superRO, f.account, f.grants = mysqlUUID2, "", "", true, true, nil, nil
	d := script(t, s.local, f)
	scriptSource(s, d, mysqlUUID+":1-42", "", false)
	s.local.OnPrefix("CHANGE REPLICATION SOURCE TO ", fakesql.OK())
	s.local.On("START REPLICA", fakesql.OK())
	s.local.On("STOP REPLICA", fakesql.OK())
	s.local.OnPrefix("SET GLOBAL ", fakesql.OK())
	ctx := context.Background()
	st := s.sc.rec.pass(ctx)
	hasInOrder(t, s.local.Execs(), "START REPLICA")
	var change string
	for _, q := range s.local.Execs() {
		if strings.HasPrefix(q, "CHANGE REPLICATION SOURCE TO ") {
			change = q
		}
	}
	if !strings.Contains(change, "SOURCE_HOST='"+seamPrimaryHost+"'") || !strings.Contains(change, "SOURCE_AUTO_POSITION=1") {
		t.Errorf("CHANGE = %q", change)
	}
	if st.Ready || st.Replication == nil {
		t.Errorf("status after CHANGE = %+v", st)
	}
	// The channel runs and has caught up.
	s.local.On(d.ReplicaStatusQuery(), fakesql.Rows(mysqlReplicaCols, mysqlReplicaRow(mysqlUUID+":1-42")))
	s.local.On(d.GTIDExecutedQuery(), fakesql.Row(mysqlUUID+":1-42"))
	s.local.Reset()
	st = s.sc.rec.pass(ctx)
	r := st.Replication
	if !st.Ready || r == nil || !r.Configured || !r.IORunning || !r.SQLRunning || r.SourceHost != seamPrimaryHost || r.LagSeconds == nil || !r.CaughtUp {
		t.Errorf("status = %+v, replication %+v", st, r)
	}
	if st.Credentials == nil || st.Credentials.ChannelTag == "" || st.Credentials.ChannelCurrent == nil || !*st.Credentials.ChannelCurrent {
		t.Errorf("credentials = %+v", st.Credentials)
	}
	if got := s.local.Execs(); len(got) != 0 {
		t.Errorf("a healthy replica ran %q", got)
	}
	if _, ok, err := s.sc.rec.state.load(); !ok || err != nil {
		t.Errorf("state file: %v %v", ok, err)
	}
}

func TestReconcileProblemsAreLoggedOnce(t *testing.T) {
	r := &reconciler{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var buf syncBuf
	r.log = slog.New(slog.NewTextHandler(&buf, nil))
	r.problem("io", "error reconnecting to source (attempt 1)")
	r.problem("io", "error reconnecting to source (attempt 2)")
	r.problem("io", "")
	r.problem("io", "")
	out := buf.String()
	if strings.Count(out, "problem=io") != 2 || !strings.Contains(out, "problem cleared") {
		t.Errorf("log:\n%s", out)
	}
	if !sameButNumbers("a 1", "a 2") || sameButNumbers("a", "b") || sameButNumbers("", "") {
		t.Error("sameButNumbers")
	}
	if got := (decide.Decision{Ready: true, Reason: "ok"}).String(); !strings.Contains(got, `reason="ok"`) {
		t.Errorf("Decision.String = %q", got)
	}
}

func TestSeedStatus(t *testing.T) {
	if seedStatus(decide.SeedFacts{}, decide.Memory{}) != nil {
		t.Error("a seed status without a seed")
	}
	now := time.Now()
	for _, tc := range []struct {
		f     decide.SeedFacts
		state string
	}{
		{decide.SeedFacts{Running: true, Donor: "mysql-0", Started: now}, "running"},
		{decide.SeedFacts{RestartNeeded: true}, "restarting"},
		{decide.SeedFacts{ResultPending: true}, "applying"},
		{decide.SeedFacts{Err: "boom"}, "failed"},
		{decide.SeedFacts{}, ""},
	} {
		s := seedStatus(tc.f, decide.Memory{Seeds: 1, SeedDonor: "mysql-2"})
		if s == nil || s.State != tc.state || s.Seeds != 1 || s.Donor == "" {
			t.Errorf("%+v: %+v", tc.f, s)
		}
	}
	if d := (decide.SeedFacts{Donor: "mysql-0", Phase: "restore", Bytes: 3 << 20, Estimate: 10 << 30, Rate: 2048}).Describe(); d != "seeding from mysql-0 (restore): 3.0 MiB/10.0 GiB (2.0 KiB/s)" {
		t.Errorf("describe = %q", d)
	}
}

// A new REPLICATION_PASSWORD on a primary: the account gets it while
// keeping the old one (MySQL dual passwords), and the old one is discarded
// once no replica needs it.
func TestReconcileRotation(t *testing.T) {
	s := newSeam(t, wire.RolePrimary)
	f := mysqlPrimary()
	d := script(t, s.local, f)
	retained := false
	aq := d.AccountQuery("repl", "%").SQL
	s.local.OnFunc("account", func(q string) bool { return q == aq }, func(context.Context, string, []any) fakesql.Result {
		return fakesql.Rows([]string{"ssl_type", "old", "marker"}, []any{"", b2i(retained), sqldialect.AccountMarker})
	})
	s.local.OnFunc("alter", func(q string) bool { return strings.HasPrefix(q, "ALTER USER ") }, func(_ context.Context, q string, _ []any) fakesql.Result {
		retained = strings.HasSuffix(q, "RETAIN CURRENT PASSWORD")
		return fakesql.OK()
	})
	// The account does not take the password this sidecar has.
	s.login.SetPingError(&mysql.MySQLError{Number: 1045, Message: "Access denied for user 'repl'"})
	ctx := context.Background()
	st := s.sc.rec.pass(ctx)
	want := "ALTER USER 'repl'@'%' IDENTIFIED BY '" + seamReplPW + "' RETAIN CURRENT PASSWORD"
	if got := s.local.Execs(); len(got) != 1 || got[0] != want {
		t.Fatalf("pass 1 ran %q, want %q", got, want)
	}
	if !st.Ready || !strings.Contains(st.Reason, "the old replication password keeps working") {
		t.Errorf("pass 1: ready=%v %q", st.Ready, st.Reason)
	}
	// A replica still on the old password: the old one stays.
	s.login.SetPingError(nil)
	replica := func(fp string) decide.Peers {
		return decide.Peers{{Addr: netip.MustParseAddr("127.0.0.2"), Status: &wire.Status{Pod: "mysql-1", Ordinal: 1, Role: wire.RoleReplica, Ready: true,
			Credentials: &wire.CredentialStatus{ChannelTag: fp}}}}
	}
	s.sc.rec.gather.peers = func(context.Context) (decide.Peers, error) {
		return replica(PasswordTag(seamRootPW, "the-old-one")), nil
	}
	s.local.Reset()
	st = s.sc.rec.pass(ctx)
	if got := s.local.Execs(); len(got) != 0 || st.Account == nil || !st.Account.OldPasswordRetained || len(st.Account.WaitingFor) != 1 {
		t.Errorf("pass 2 ran %q; account %+v", got, st.Account)
	}
	// Every replica uses the new one: the old one goes.
	s.sc.rec.gather.peers = func(context.Context) (decide.Peers, error) { return replica(PasswordTag(seamRootPW, seamReplPW)), nil }
	s.local.Reset()
	st = s.sc.rec.pass(ctx)
	if got := s.local.Execs(); len(got) != 1 || got[0] != "ALTER USER 'repl'@'%' DISCARD OLD PASSWORD" {
		t.Errorf("pass 3 ran %q", got)
	}
	if retained || !st.Ready {
		t.Errorf("after the discard: retained %v, status %+v", retained, st)
	}
}

var mariadbReplicaCols = []string{"Slave_IO_State", "Master_Host", "Master_User", "Master_Port", "Connect_Retry",
	"Slave_IO_Running", "Slave_SQL_Running", "Last_IO_Errno", "Last_IO_Error", "Last_SQL_Errno", "Last_SQL_Error",
	"Seconds_Behind_Master", "Using_Gtid", "Gtid_IO_Pos", "Slave_SQL_Running_State"}

// A MariaDB replica whose channel runs is ready; restarted while the
// primary is away, it restores what the last sidecar knew from STATE_DIR.
func TestReconcileMariaDBReplicaRestart(t *testing.T) {
	s := newSeam(t, wire.RoleReplica)
	f := mariadbPrimary()
	f.origin, f.gtids, f.purged, f.readOnly, f.account, f.grants = "101", "0-100-42", "0-100-10", true, nil, nil
	f.replicaCols = mariadbReplicaCols
	f.replicaRow = []any{"Waiting for master to send event", seamPrimaryHost, "repl", "3306", "1", "Yes", "Yes", "0", "", "0", "", "0",
		"Slave_Pos", "0-100-42", "Slave has read all relay log; waiting for more updates"}
	d := script(t, s.local, f)
	s.primary.On(d.GTIDExecutedQuery(), fakesql.Row("0-100-42"))
	s.primary.On(d.ReadOnlyQuery(), fakesql.Row(0, 0))
	s.sc.rec.gather.primaryStatus = func(context.Context) (*wire.Status, error) {
		return &wire.Status{Role: wire.RolePrimary, ServerUp: true, GTIDPurged: "0-100-10"}, nil
	}
	ctx := context.Background()
	st := s.sc.rec.pass(ctx)
	r := st.Replication
	if !st.Ready || st.Flavor != "mariadb" || r == nil || !r.AutoPosition || !r.IORunning || !r.CaughtUp || len(s.local.Execs()) != 0 {
		t.Fatalf("status = %+v, replication %+v, ran %q", st, r, s.local.Execs())
	}

	s2 := newSeam(t, wire.RoleReplica)
	s2.sc.rec.state.dir = s.cfg.StateDir
	script(t, s2.local, f)
	s2.primary.SetConnectError(errors.New("dial tcp: lookup " + seamPrimaryHost + ": no such host"))
	s2.sc.rec.gather.primaryStatus = func(context.Context) (*wire.Status, error) { return nil, errors.New("no such host") }
	st = s2.sc.rec.pass(ctx)
	if !strings.Contains(s2.logBuf.String(), "restored what the last sidecar knew") {
		t.Errorf("no restore:\n%s", s2.logBuf.String())
	}
	if st.Replication == nil || st.Replication.PrimaryError == "" || !st.Replication.CaughtUp {
		t.Errorf("status = %+v, replication %+v", st, st.Replication)
	}
	// Data that lacks transactions it held then is not what was saved.
	s3 := newSeam(t, wire.RoleReplica)
	s3.sc.rec.state.dir = s.cfg.StateDir
	f.gtids = "0-100-30"
	script(t, s3.local, f)
	s3.primary.SetConnectError(errors.New("no such host"))
	s3.sc.rec.pass(ctx)
	if log := s3.logBuf.String(); strings.Contains(log, "restored what the last sidecar knew") || !strings.Contains(log, "it was written for other data") {
		t.Errorf("restored for other data:\n%s", log)
	}
	// A corrupt state file is ignored, and said so.
	if err := os.WriteFile(filepath.Join(s.cfg.StateDir, stateFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	s4 := newSeam(t, wire.RoleReplica)
	s4.sc.rec.state.dir = s.cfg.StateDir
	script(t, s4.local, f)
	s4.primary.SetConnectError(errors.New("no such host"))
	s4.sc.rec.pass(ctx)
	if log := s4.logBuf.String(); !strings.Contains(log, "ignoring the state file") {
		t.Errorf("corrupt state file:\n%s", log)
	}
}

// An upgraded MySQL primary: its replication account holds the
// BACKUP_ADMIN that releases before the clone account granted; the pass
// creates the clone account and revokes BACKUP_ADMIN from the replication
// account, staying ready. Then the seed secret (SEED_PASSWORD_FILE)
// changes: the clone account refuses the new derived password, and the
// next pass gives it to the account, without retaining the old one.
func TestReconcileCloneAccountUpgradeAndRotation(t *testing.T) {
	s := newSeam(t, wire.RolePrimary)
	seedFile := filepath.Join(t.TempDir(), "seed")
	if err := os.WriteFile(seedFile, []byte("seed-one-s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cfg.SeedPassword, s.cfg.SeedPasswordFile = "seed-one-s3cret", seedFile
	p := livePrimary{account: true, backup: true}
	p.script(t, s, mysqlPrimary())
	ctx := context.Background()
	st := s.sc.rec.pass(ctx)
	want := []string{
		`CREATE USER IF NOT EXISTS 'mysql-bootstrap-clone'@'%' IDENTIFIED BY '` + copyPassword("seed-one-s3cret") + `' ATTRIBUTE '{"managed_by": "mysql-bootstrap"}'`,
		"GRANT BACKUP_ADMIN ON *.* TO 'mysql-bootstrap-clone'@'%'",
		"REVOKE BACKUP_ADMIN ON *.* FROM 'repl'@'%'"}
	if got := s.local.Execs(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("upgrade pass:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !st.Ready || p.backup {
		t.Errorf("upgrade pass: ready %v, situation %q (%s), replication BACKUP_ADMIN %v", st.Ready, st.Situation, st.Reason, p.backup)
	}
	s.local.Reset()
	if st = s.sc.rec.pass(ctx); len(s.local.Execs()) != 0 || st.Situation != string(decide.SitPrimaryWritable) {
		t.Errorf("second pass ran %q, situation %q", s.local.Execs(), st.Situation)
	}
	// The seed secret changes; the account still has the old password.
	if err := os.WriteFile(seedFile, []byte("seed-two-s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cloneLogin.SetPingError(&mysql.MySQLError{Number: 1045, Message: "Access denied for user 'mysql-bootstrap-clone'"})
	s.local.Reset()
	st = s.sc.rec.pass(ctx)
	want = []string{"ALTER USER 'mysql-bootstrap-clone'@'%' IDENTIFIED BY '" + copyPassword("seed-two-s3cret") + "'"}
	if got := s.local.Execs(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rotation pass:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !st.Ready {
		t.Errorf("rotation pass: not ready (%s)", st.Reason)
	}
	// Remembered: no login test, nothing to do.
	s.local.Reset()
	logins := s.cloneLogin.Connects()
	if st = s.sc.rec.pass(ctx); len(s.local.Execs()) != 0 || s.cloneLogin.Connects() != logins || st.Situation != string(decide.SitPrimaryWritable) {
		t.Errorf("after the rotation: ran %q, %d login(s), situation %q", s.local.Execs(), s.cloneLogin.Connects()-logins, st.Situation)
	}
	for _, secret := range []string{"seed-one-s3cret", "seed-two-s3cret", copyPassword("seed-one-s3cret"), copyPassword("seed-two-s3cret")} {
		if strings.Contains(s.logBuf.String(), secret) {
			t.Errorf("the log holds a clone secret:\n%s", s.logBuf.String())
		}
	}
}
