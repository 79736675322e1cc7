package bootstrap

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/fakesql"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

func (s *seam) run(t *testing.T, d *sqldialect.Dialect, kinds ...decide.ActionKind) error {
	t.Helper()
	var acts []decide.Action
	for _, k := range kinds {
		acts = append(acts, decide.Action{Kind: k, Why: "test"})
	}
	return s.sc.rec.exec.run(context.Background(), d, acts)
}

func TestRunStatementsInOrder(t *testing.T) {
	d := dialectFor(t, "9.7.4")
	s := newSeam(t, wire.RolePrimary)
	s.local.OnPrefix("SET GLOBAL ", fakesql.OK())
	s.local.OnPrefix("CREATE USER ", fakesql.OK())
	s.local.OnPrefix("ALTER USER ", fakesql.OK())
	s.local.OnPrefix("GRANT ", fakesql.OK())
	s.local.OnPrefix("REVOKE ", fakesql.OK())
	s.cfg.TLSCAFile = "/tls/ca.crt"
	if err := s.run(t, d, decide.ActCreateAccount, decide.ActGrantReplication, decide.ActCreateCopyAccount, decide.ActSetCopyPassword,
		decide.ActGrantCopyAccount, decide.ActCloneRequireSSL, decide.ActRevokeBackupAdmin, decide.ActMarkAccount, decide.ActRequireSSL,
		decide.ActRotatePassword, decide.ActDiscardOld, decide.ActSetPassword, decide.ActMakeWritable, decide.ActMakeReadOnly); err != nil {
		t.Fatal(err)
	}
	clonePW := copyPassword(seamReplPW)
	want := []string{
		`CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY '` + seamReplPW + `' REQUIRE SSL ATTRIBUTE '{"managed_by": "mysql-bootstrap"}'`,
		"GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'",
		`CREATE USER IF NOT EXISTS 'mysql-bootstrap-clone'@'%' IDENTIFIED BY '` + clonePW + `' REQUIRE SSL ATTRIBUTE '{"managed_by": "mysql-bootstrap"}'`,
		"GRANT BACKUP_ADMIN ON *.* TO 'mysql-bootstrap-clone'@'%'",
		"ALTER USER 'mysql-bootstrap-clone'@'%' IDENTIFIED BY '" + clonePW + "'",
		"GRANT BACKUP_ADMIN ON *.* TO 'mysql-bootstrap-clone'@'%'",
		"ALTER USER 'mysql-bootstrap-clone'@'%' REQUIRE SSL",
		"REVOKE BACKUP_ADMIN ON *.* FROM 'repl'@'%'",
		`ALTER USER 'repl'@'%' ATTRIBUTE '{"managed_by": "mysql-bootstrap"}'`,
		"ALTER USER 'repl'@'%' REQUIRE SSL",
		"ALTER USER 'repl'@'%' IDENTIFIED BY '" + seamReplPW + "' RETAIN CURRENT PASSWORD",
		"ALTER USER 'repl'@'%' DISCARD OLD PASSWORD",
		"ALTER USER 'repl'@'%' IDENTIFIED BY '" + seamReplPW + "'",
		"SET GLOBAL super_read_only = OFF", "SET GLOBAL read_only = OFF",
		"SET GLOBAL super_read_only = ON",
	}
	if got := s.local.Execs(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("statements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	log := s.logBuf.String()
	for _, msg := range []string{done[decide.ActRotatePassword], done[decide.ActMakeWritable], done[decide.ActRevokeBackupAdmin], "<redacted>"} {
		if !strings.Contains(log, msg) {
			t.Errorf("log lacks %q", msg)
		}
	}
	if strings.Contains(log, clonePW) {
		t.Errorf("the clone password is in the log:\n%s", log)
	}
}

func TestRunReplicaStatements(t *testing.T) {
	d := dialectFor(t, "9.7.4")
	s := newSeam(t, wire.RoleReplica)
	s.local.OnPrefix("", fakesql.OK())
	if err := s.run(t, d, decide.ActStopReplica, decide.ActResetBinaryLogs, decide.ActChangeSource, decide.ActStartReplica); err != nil {
		t.Fatal(err)
	}
	got := s.local.Execs()
	if len(got) != 4 || got[0] != "STOP REPLICA" || got[1] != "RESET BINARY LOGS AND GTIDS" || got[3] != "START REPLICA" ||
		!strings.HasPrefix(got[2], "CHANGE REPLICATION SOURCE TO SOURCE_HOST='"+seamPrimaryHost+"', SOURCE_PORT=3306, SOURCE_USER='repl', SOURCE_PASSWORD='"+seamReplPW+"'") {
		t.Errorf("statements:\n%s", strings.Join(got, "\n"))
	}
	if err := s.sc.rec.exec.run(context.Background(), d, []decide.Action{{Kind: "frobnicate"}}); err == nil || !strings.Contains(err.Error(), "unknown action") {
		t.Errorf("unknown action: %v", err)
	}
}

// A failed statement that holds the password: neither the error nor the
// log shows it, whatever the server quoted back; the number stays.
func TestRunRedactsTheSecret(t *testing.T) {
	d := dialectFor(t, "9.7.4")
	for _, kind := range []decide.ActionKind{decide.ActCreateAccount, decide.ActSetPassword, decide.ActRotatePassword} {
		t.Run(string(kind), func(t *testing.T) {
			s := newSeam(t, wire.RolePrimary)
			s.local.OnPrefix("", fakesql.Fail(&mysql.MySQLError{Number: 1064,
				Message: "You have an error in your SQL syntax; check the manual near '" + seamReplPW + "' at line 1"}))
			err := s.run(t, d, kind, decide.ActMakeWritable)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), seamReplPW) {
				t.Errorf("the secret is in the error: %v", err)
			}
			if !sqldialect.IsErrno(err, 1064) || !strings.Contains(err.Error(), "<redacted>") || !strings.HasPrefix(err.Error(), string(kind)+": ") {
				t.Errorf("err = %v", err)
			}
			// It stopped at the first failure.
			if n := len(s.local.Execs()); n != 1 {
				t.Errorf("%d statements after a failure, want 1", n)
			}
		})
	}
	// A statement without a secret keeps the server's message.
	s := newSeam(t, wire.RolePrimary)
	s.local.OnPrefix("", fakesql.Fail(&mysql.MySQLError{Number: 1227, Message: "Access denied; you need SUPER"}))
	if err := s.run(t, d, decide.ActMakeWritable); err == nil || !strings.Contains(err.Error(), "you need SUPER") {
		t.Errorf("err = %v", err)
	}
}

func TestRunSpecialActions(t *testing.T) {
	d := dialectFor(t, "9.7.4")
	s := newSeam(t, wire.RolePrimary)
	ctx := context.Background()
	s.local.On("KILL QUERY 77", fakesql.OK())
	s.local.On("SHUTDOWN", fakesql.Fail(errors.New("invalid connection")))
	s.local.OnPrefix("SET GLOBAL ", fakesql.OK())
	marks := s.sc.rec.exec.cloneMarks
	if err := marks.write(CloneMarker{Donor: "mysql-2", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.sc.rec.exec.run(ctx, d, []decide.Action{
		{Kind: decide.ActAbortClone, Thread: 77, Donor: decide.Donor{Pod: "mysql-2"}},
		{Kind: decide.ActEndClone},
		{Kind: decide.ActShutdown},
		{Kind: decide.ActConsumeOverride},
	}); err != nil {
		t.Fatal(err)
	}
	want := "KILL QUERY 77\nSET GLOBAL super_read_only = ON\nSET GLOBAL offline_mode = OFF\nSHUTDOWN"
	if got := strings.Join(s.local.Execs(), "\n"); got != want {
		t.Errorf("statements:\n%s\nwant:\n%s", got, want)
	}
	if _, ok, _ := marks.read(); ok {
		t.Error("the clone marker outlived ActEndClone")
	}
	// A failed guard keeps the marker: the next pass must put it back.
	if err := marks.write(CloneMarker{Donor: "mysql-2"}); err != nil {
		t.Fatal(err)
	}
	s.local.On("SET GLOBAL offline_mode = OFF", fakesql.Fail(&mysql.MySQLError{Number: 1227, Message: "denied"}))
	if err := s.sc.rec.exec.run(ctx, d, []decide.Action{{Kind: decide.ActEndClone}}); err == nil {
		t.Error("no error")
	}
	if _, ok, _ := marks.read(); !ok {
		t.Error("the marker went although offline_mode is still ON")
	}
	s.local.On("KILL QUERY 78", fakesql.Fail(&mysql.MySQLError{Number: 1094, Message: "Unknown thread id: 78"}))
	if err := s.sc.rec.exec.run(ctx, d, []decide.Action{{Kind: decide.ActAbortClone, Thread: 78}}); !sqldialect.IsErrno(err, 1094) {
		t.Errorf("kill: %v", err)
	}
	// The override file is removed once used.
	of := s.sc.rec.exec.overrides
	if err := of.write(decide.Override{Action: decide.OverrideOwnData, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if o, err := of.read(time.Now()); err != nil || o == nil || o.Action != decide.OverrideOwnData {
		t.Fatalf("override = %+v, %v", o, err)
	}
	if err := s.sc.rec.exec.run(ctx, d, []decide.Action{{Kind: decide.ActConsumeOverride}}); err != nil {
		t.Fatal(err)
	}
	if o, err := of.read(time.Now()); err != nil || o != nil {
		t.Errorf("override after use = %+v, %v", o, err)
	}
}

// Stopping a stalled clone: the KILL goes on a connection of its own,
// and one the server does not answer is given up after killTimeout, with
// the loop's pool free all along.
func TestAbortCloneOnItsOwnBoundedConnection(t *testing.T) {
	d := dialectFor(t, "9.7.4")
	s := newSeam(t, wire.RoleReplica)
	ctx := context.Background()
	e := s.sc.rec.exec
	e.killTimeout = 200 * time.Millisecond
	s.local.On("KILL QUERY 77", fakesql.OK())
	s.local.OnFunc("a KILL that hangs", func(q string) bool { return q == "KILL QUERY 78" },
		func(ctx context.Context, _ string, _ []any) fakesql.Result {
			<-ctx.Done()
			return fakesql.Fail(mysql.ErrInvalidConn)
		})
	s.local.On("SELECT 1", fakesql.Row(1))
	if _, err := e.db.ExecContext(ctx, "SELECT 1"); err != nil { // the pool's connection is open
		t.Fatal(err)
	}
	before := s.local.Connects()
	if err := e.run(ctx, d, []decide.Action{{Kind: decide.ActAbortClone, Thread: 77, Donor: decide.Donor{Pod: "mysql-2"}}}); err != nil {
		t.Fatal(err)
	}
	if n := s.local.Connects() - before; n != 1 {
		t.Errorf("the KILL opened %d connections, want 1 of its own", n)
	}
	start := time.Now()
	err := e.run(ctx, d, []decide.Action{{Kind: decide.ActAbortClone, Thread: 78, Donor: decide.Donor{Pod: "mysql-2"}}})
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("a hanging KILL held the pass %s, want about killTimeout (200ms)", elapsed)
	}
	if err == nil || !strings.Contains(err.Error(), "KILL QUERY 78: no answer within 200ms") {
		t.Errorf("err = %v", err)
	}
	// The pool answers as before: the hanging KILL held none of it.
	if _, err := e.db.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Errorf("the pool after a hanging KILL: %v", err)
	}
	if st := e.db.Stats(); st.InUse != 0 {
		t.Errorf("pool connections in use after the KILLs: %d", st.InUse)
	}
}

func TestRunMariaDBSeed(t *testing.T) {
	d := dialectFor(t, "11.8.3-MariaDB")
	s := newSeam(t, wire.RoleReplica)
	s.local.On("SHUTDOWN", fakesql.OK())
	ctx := context.Background()
	donor := decide.Donor{Pod: "mysql-0", Host: seamPrimaryHost + "."}
	if err := s.sc.rec.exec.run(ctx, d, []decide.Action{{Kind: decide.ActRequestSeed, Donor: donor, Why: "empty"}}); err != nil {
		t.Fatal(err)
	}
	f, err := s.sc.rec.exec.seeds.facts()
	if err != nil || !f.Running || f.Donor != "mysql-0" {
		t.Errorf("seed facts = %+v, %v", f, err)
	}
	var req SeedRequest
	if ok, err := readJSON(s.sc.rec.exec.seeds.path(seedRequestFile), &req); !ok || err != nil || req.URL != "http://"+seamPrimaryHost+":3307/backup" {
		t.Errorf("request = %+v, %v", req, err)
	}
	if got := s.local.Execs(); len(got) != 1 || got[0] != "SHUTDOWN" {
		t.Errorf("statements = %q", got)
	}

	// Nothing to apply: an error, no statement.
	s.local.Reset()
	if err := s.sc.rec.exec.run(ctx, d, []decide.Action{{Kind: decide.ActApplySeed}}); err == nil || len(s.local.Execs()) != 0 {
		t.Errorf("apply without a result: %v, %q", err, s.local.Execs())
	}
	// A proven result: its position is given to the server.
	seeds := s.sc.rec.exec.seeds
	_ = os.Remove(seeds.path(seedRequestFile))
	res := SeedResult{Donor: "mysql-0", GTID: "0-100-42", Nonce: "n1"}
	if err := writeSigned(seeds.path(seedResultFile), seedDirName+"/"+seedResultFile, call(seeds.secret), &res, &res.MAC); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(seeds.path(seedSwappedFile), SeedSwapped{Nonce: "n1"}); err != nil {
		t.Fatal(err)
	}
	s.local.OnPrefix("", fakesql.OK())
	if err := s.sc.rec.exec.run(ctx, d, []decide.Action{{Kind: decide.ActApplySeed}}); err != nil {
		t.Fatal(err)
	}
	hasInOrder(t, s.local.Execs(), "STOP SLAVE", "RESET SLAVE ALL", "RESET MASTER", "SET GLOBAL gtid_binlog_state = '0-100-42'", "SET GLOBAL gtid_slave_pos = '0-100-42'")
	if f, _ := seeds.facts(); f.ResultPending {
		t.Errorf("the result is still pending: %+v", f)
	}
}

// waitClone polls the clone job until it has finished.
func waitClone(t *testing.T, j *cloneJob) (err error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		running, _, _, finished, err := j.state()
		if !running && !finished.IsZero() {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the clone did not finish within 10 s")
	return nil
}

// CLONE: the marker, then offline_mode ON before read-only is lifted, then
// the clone statements; 3707 (restart needed) is success and leaves the
// marker for the restarted server's first pass.
func TestCloneGuardOrderAnd3707(t *testing.T) {
	d := dialectFor(t, "9.7.4")
	s := newSeam(t, wire.RoleReplica)
	s.local.OnPrefix("SET GLOBAL ", fakesql.OK())
	s.local.OnPrefix("CLONE INSTANCE FROM ", fakesql.Fail(&mysql.MySQLError{Number: 3707,
		Message: "Restart server failed (mysqld is not managed by supervisor process)."}))
	donor := decide.Donor{Pod: "mysql-0", Host: seamPrimaryHost}
	if err := s.sc.rec.exec.run(context.Background(), d, []decide.Action{{Kind: decide.ActClone, Donor: donor}}); err != nil {
		t.Fatal(err)
	}
	if err := waitClone(t, s.sc.rec.exec.clone); err != nil {
		t.Fatalf("3707 counted as a failure: %v", err)
	}
	want := []string{"SET GLOBAL offline_mode = ON", "SET GLOBAL super_read_only = OFF", "SET GLOBAL read_only = OFF",
		"SET GLOBAL clone_valid_donor_list = '" + seamPrimaryHost + ":3306'",
		"CLONE INSTANCE FROM 'mysql-bootstrap-clone'@'" + seamPrimaryHost + "':3306 IDENTIFIED BY '" + copyPassword(seamReplPW) + "'"}
	if got := s.local.Execs(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("statements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if m, ok, err := s.sc.rec.exec.cloneMarks.read(); !ok || err != nil || m.Donor != "mysql-0" {
		t.Errorf("marker = %+v %v %v", m, ok, err)
	}
	if !strings.Contains(s.logBuf.String(), "seeding: clone done") {
		t.Error("no 'clone done' in the log")
	}
}

// A failed CLONE: read-only back first, then offline_mode OFF, then the
// marker goes; the error is classified and holds no secret.
func TestCloneFailureUndoesTheGuard(t *testing.T) {
	d := dialectFor(t, "9.7.4")
	for _, tc := range []struct {
		name     string
		err      *mysql.MySQLError
		kind     string
		undoFail bool
	}{
		{"lost donor", &mysql.MySQLError{Number: 3862, Message: "Clone Donor Error: Connect failed: 2003 : Can't connect to MySQL server on 'mysql-0:3306' (111)."}, decide.SeedLost, false},
		{"busy donor", &mysql.MySQLError{Number: 3862, Message: "Clone Donor Error: 3634 : Too many concurrent clone operations. Maximum allowed - 1."}, decide.SeedBusy, false},
		{"syntax quoting the password", &mysql.MySQLError{Number: 1064, Message: "near '" + seamReplPW + "'"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSeam(t, wire.RoleReplica)
			s.local.OnPrefix("SET GLOBAL ", fakesql.OK())
			s.local.OnPrefix("CLONE INSTANCE FROM ", fakesql.Fail(tc.err))
			if tc.undoFail {
				s.local.On("SET GLOBAL super_read_only = ON", fakesql.Fail(errors.New("invalid connection")))
			}
			donor := decide.Donor{Pod: "mysql-0", Host: seamPrimaryHost}
			if err := s.sc.rec.exec.run(context.Background(), d, []decide.Action{{Kind: decide.ActClone, Donor: donor}}); err != nil {
				t.Fatal(err)
			}
			err := waitClone(t, s.sc.rec.exec.clone)
			if err == nil || strings.Contains(err.Error(), seamReplPW) {
				t.Fatalf("err = %v", err)
			}
			if k := s.sc.rec.exec.clone.failureKind(); k != tc.kind {
				t.Errorf("kind = %q, want %q", k, tc.kind)
			}
			got := s.local.Execs()
			tail := got[5:]
			if tc.undoFail {
				if len(tail) != 1 || tail[0] != "SET GLOBAL super_read_only = ON" {
					t.Errorf("undo = %q", tail)
				}
				if _, ok, _ := s.sc.rec.exec.cloneMarks.read(); !ok {
					t.Error("the marker went although the guard is still up")
				}
				return
			}
			if strings.Join(tail, "|") != "SET GLOBAL super_read_only = ON|SET GLOBAL offline_mode = OFF" {
				t.Errorf("undo = %q", tail)
			}
			if _, ok, _ := s.sc.rec.exec.cloneMarks.read(); ok {
				t.Error("the marker outlived the undone guard")
			}
			// The gatherer reports the failure with its kind.
			script(t, s.local, serverFacts{version: "9.7.4", uptime: 10, readOnly: true, superRO: true, origin: mysqlUUID2})
			var f decide.SeedFacts
			var l decide.LocalFacts
			s.sc.rec.gather.gatherClone(context.Background(), d, &l, &f)
			if f.Err == "" || f.Kind != tc.kind || f.Donor != "mysql-0" {
				t.Errorf("seed facts = %+v", f)
			}
			// A second start while none runs begins again; clear forgets.
			s.sc.rec.exec.clone.clear()
			if r, donor, _, _, err := s.sc.rec.exec.clone.state(); r || donor != "" || err != nil {
				t.Errorf("after clear: %v %q %v", r, donor, err)
			}
		})
	}
}

func TestGatherCloneStatus(t *testing.T) {
	d := dialectFor(t, "9.7.4")
	cols := []string{"STATE", "SOURCE", "ERROR_NO", "ERROR_MESSAGE", "SINCE_END", "PID"}
	for _, tc := range []struct {
		name  string
		row   []any
		check func(t *testing.T, f decide.SeedFacts)
	}{
		{"in progress", []any{"In Progress", "mysql-0:3306", 0, "", -1, 42}, func(t *testing.T, f decide.SeedFacts) {
			if !f.Running || f.PID != 42 || f.Donor != "mysql-0:3306" || f.Bytes != 100 || f.Estimate != 1000 || f.Moved != 150 || f.Stage != "FILE COPY" {
				t.Errorf("facts = %+v", f)
			}
		}},
		{"completed since start", []any{"Completed", "mysql-0:3306", 0, "", 5, 0}, func(t *testing.T, f decide.SeedFacts) {
			if !f.RestartNeeded || f.Running {
				t.Errorf("facts = %+v", f)
			}
		}},
		{"3707 since start", []any{"Failed", "mysql-0:3306", 3707, "Restart server failed", 5, 0}, func(t *testing.T, f decide.SeedFacts) {
			if !f.RestartNeeded {
				t.Errorf("facts = %+v", f)
			}
		}},
		{"failed busy", []any{"Failed", "mysql-0:3306", 3862, "Clone Donor Error: 3634 : Too many", 5, 0}, func(t *testing.T, f decide.SeedFacts) {
			if f.Kind != decide.SeedBusy || !strings.HasPrefix(f.Err, "clone error 3862: ") {
				t.Errorf("facts = %+v", f)
			}
		}},
		{"completed before the server started", []any{"Completed", "mysql-0:3306", 0, "", 99999, 0}, func(t *testing.T, f decide.SeedFacts) {
			if f.RestartNeeded || f.Running || f.Err != "" {
				t.Errorf("facts = %+v", f)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSeam(t, wire.RoleReplica)
			s.local.On(d.CloneStatusQuery(), fakesql.Rows(cols, tc.row))
			s.local.On(d.CloneProgressQuery(), fakesql.Row(100, 1000, 12.5, 50, "FILE COPY"))
			l := decide.LocalFacts{StartedAt: time.Now().Add(-time.Hour)}
			var f decide.SeedFacts
			s.sc.rec.gather.gatherClone(context.Background(), d, &l, &f)
			tc.check(t, f)
		})
	}
	t.Run("marker", func(t *testing.T) {
		s := newSeam(t, wire.RoleReplica)
		s.local.On(d.CloneStatusQuery(), fakesql.Fail(&mysql.MySQLError{Number: 1146, Message: "Table 'performance_schema.clone_status' doesn't exist"}))
		_ = s.sc.rec.exec.cloneMarks.write(CloneMarker{Donor: "mysql-2"})
		var l decide.LocalFacts
		var f decide.SeedFacts
		s.sc.rec.gather.gatherClone(context.Background(), d, &l, &f)
		if !f.Guarded || f.Donor != "mysql-2" || l.Incomplete != "" {
			t.Errorf("facts = %+v, local %+v", f, l)
		}
		// An unreadable marker: guarded, and incomplete.
		if err := os.WriteFile(s.sc.rec.exec.cloneMarks.path(), []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		f = decide.SeedFacts{}
		s.sc.rec.gather.gatherClone(context.Background(), d, &l, &f)
		if !f.Guarded || !strings.HasPrefix(l.Incomplete, "the clone marker in STATE_DIR: ") {
			t.Errorf("facts = %+v, local %+v", f, l)
		}
	})
}

// With SEED_PASSWORD set, a recipient clones through the clone account
// with the password derived from it, never the replication password: that
// one alone cannot clone a donor.
func TestCloneThroughCloneAccountWithSeedPassword(t *testing.T) {
	const seedPW = "seed-pw-s3cret"
	d := dialectFor(t, "9.7.4")
	s := newSeam(t, wire.RoleReplica)
	s.cfg.SeedPassword = seedPW
	s.local.OnPrefix("SET GLOBAL ", fakesql.OK())
	s.local.OnPrefix("CLONE INSTANCE FROM ", fakesql.Fail(&mysql.MySQLError{Number: 3707, Message: "Restart server failed"}))
	donor := decide.Donor{Pod: "mysql-0", Host: seamPrimaryHost}
	if err := s.sc.rec.exec.run(context.Background(), d, []decide.Action{{Kind: decide.ActClone, Donor: donor}}); err != nil {
		t.Fatal(err)
	}
	if err := waitClone(t, s.sc.rec.exec.clone); err != nil {
		t.Fatal(err)
	}
	want := "CLONE INSTANCE FROM 'mysql-bootstrap-clone'@'" + seamPrimaryHost + "':3306 IDENTIFIED BY '" + copyPassword(seedPW) + "'"
	execs := s.local.Execs()
	if len(execs) == 0 || execs[len(execs)-1] != want {
		t.Errorf("statements %q, want the last %q", execs, want)
	}
	for _, secret := range []string{seedPW, copyPassword(seedPW), copyPassword(seamReplPW)} {
		if strings.Contains(s.logBuf.String(), secret) {
			t.Errorf("the log holds a clone secret:\n%s", s.logBuf.String())
		}
	}
	if copyPassword(seedPW) == copyPassword(seamReplPW) || len(copyPassword(seedPW)) != 32 || strings.Contains(copyPassword(seedPW), seedPW) {
		t.Errorf("clone password %q: want 32 characters, not the secret, different per secret", copyPassword(seedPW))
	}
}

// MariaDB's copy account is the backup account backup-server runs
// mariadb-backup as: at MYSQL_HOST's loopback address, marked by the
// role, with mariadb-backup's privileges and no SELECT, its password
// derived from the seed secret.
func TestRunBackupAccountStatements(t *testing.T) {
	d := dialectFor(t, "11.8.3-MariaDB-ubu2404-log")
	s := newSeam(t, wire.RolePrimary)
	s.cfg.Flavor = FlavorMariaDB
	s.local.OnPrefix("", fakesql.OK())
	if err := s.run(t, d, decide.ActCreateCopyAccount, decide.ActSetCopyPassword, decide.ActGrantCopyAccount); err != nil {
		t.Fatal(err)
	}
	pw := copyPassword(seamReplPW)
	grant := "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, REPLICATION SLAVE ADMIN ON *.* TO 'mysql-bootstrap-backup'@'127.0.0.1'"
	want := []string{
		"CREATE USER IF NOT EXISTS 'mysql-bootstrap-backup'@'127.0.0.1' IDENTIFIED BY '" + pw + "'",
		"CREATE ROLE IF NOT EXISTS mysql_bootstrap_managed",
		"GRANT mysql_bootstrap_managed TO 'mysql-bootstrap-backup'@'127.0.0.1'",
		grant,
		"ALTER USER 'mysql-bootstrap-backup'@'127.0.0.1' IDENTIFIED BY '" + pw + "'",
		grant,
	}
	if got := s.local.Execs(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("statements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, tc := range []struct{ mysqlHost, want string }{{"127.0.0.1", "127.0.0.1"}, {"localhost", "localhost"}, {"::1", "::1"}, {"10.1.2.3", "%"}, {"mysql.db", "%"}} {
		if got := localAccountHost(tc.mysqlHost); got != tc.want {
			t.Errorf("localAccountHost(%q) = %q, want %q", tc.mysqlHost, got, tc.want)
		}
	}
}

// A former semi-sync primary ends every client session before its
// source side goes off (which would tell a waiting commit OK): MySQL
// keeps new ones out with offline_mode meanwhile, and sets
// super_read_only once the waiting commits are released; MariaDB sets
// read_only between two rounds of KILLs (SUPER ignores read_only).
func TestEndSemiSyncSource(t *testing.T) {
	for _, tc := range []struct {
		version, sessions, want string
	}{
		{"9.7.4", "SELECT PROCESSLIST_ID FROM performance_schema.threads",
			"SET GLOBAL offline_mode = ON\nKILL CONNECTION 31\nKILL CONNECTION 32\nSET GLOBAL rpl_semi_sync_source_enabled = OFF\n" +
				"SET GLOBAL rpl_semi_sync_replica_enabled = OFF\nSET GLOBAL super_read_only = ON\nSET GLOBAL offline_mode = OFF"},
		{"11.8.9-MariaDB", "SELECT ID FROM information_schema.PROCESSLIST",
			"KILL CONNECTION 31\nKILL CONNECTION 32\nKILL CONNECTION 31\nKILL CONNECTION 32\nSET GLOBAL read_only = ON\nKILL CONNECTION 31\nKILL CONNECTION 32\n" +
				"SET GLOBAL rpl_semi_sync_master_enabled = OFF\nSET GLOBAL rpl_semi_sync_slave_enabled = OFF"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			d := dialectFor(t, tc.version)
			s := newSeam(t, wire.RoleReplica)
			s.local.OnPrefix(tc.sessions, fakesql.Rows([]string{"ID"}, []any{int64(31)}, []any{int64(32)}))
			s.local.OnPrefix("KILL CONNECTION ", fakesql.OK())
			s.local.OnPrefix("SET GLOBAL ", fakesql.OK())
			if err := s.sc.rec.exec.run(context.Background(), d, []decide.Action{{Kind: decide.ActEndSemiSyncSource}}); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(s.local.Execs(), "\n"); got != tc.want {
				t.Errorf("statements:\n%s\nwant:\n%s", got, tc.want)
			}
			for _, q := range s.local.Statements() {
				// The client sessions (not the semi-sync waiters, of any account).
				if strings.HasPrefix(q, tc.sessions) && !strings.Contains(q, "semi-sync ACK") && !strings.Contains(q, "'"+SidecarAccountUser+"'") {
					t.Errorf("the sessions listed include the sidecar's own: %s", q)
				}
			}
		})
	}
	// A KILL refused (not the owner) fails the action before the source
	// side is touched.
	d := dialectFor(t, "9.7.4")
	s := newSeam(t, wire.RoleReplica)
	s.local.OnPrefix("SELECT PROCESSLIST_ID", fakesql.Rows([]string{"ID"}, []any{int64(30)}))
	s.local.OnPrefix("KILL CONNECTION ", fakesql.Fail(&mysql.MySQLError{Number: 1095, Message: "You are not owner of thread 30"}))
	s.local.OnPrefix("SET GLOBAL ", fakesql.OK())
	if err := s.sc.rec.exec.run(context.Background(), d, []decide.Action{{Kind: decide.ActEndSemiSyncSource}}); !sqldialect.IsErrno(err, 1095) {
		t.Fatalf("err = %v, want the refused KILL", err)
	}
	for _, q := range s.local.Execs() {
		if strings.Contains(q, "rpl_semi_sync") {
			t.Errorf("the source side was touched after a refused KILL: %s", q)
		}
	}
}
