package bootstrap

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/fakesql"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

func TestGatherPrimaryMySQL(t *testing.T) {
	s := newSeam(t, wire.RolePrimary)
	f := mysqlPrimary()
	f.readOnly, f.superRO, f.tables = true, true, []string{"app.t1"}
	d := script(t, s.local, f)
	o, gd := s.sc.rec.gather.gather(context.Background(), plan{testLogin: true})
	if gd == nil || gd.Server().Flavor != sqldialect.MySQL {
		t.Fatalf("dialect = %v", gd)
	}
	l := o.Local
	if !l.Up || l.Incomplete != "" || l.Unsupported != "" {
		t.Fatalf("local = %+v", l)
	}
	if !l.ReadOnly || !l.SuperReadOnly || l.OfflineMode || l.Origin != mysqlUUID {
		t.Errorf("local = %+v", l)
	}
	if got := l.GTIDs.String(); got != mysqlUUID+":1-42" {
		t.Errorf("GTIDs = %q", got)
	}
	if got := l.Purged.String(); got != mysqlUUID+":1-10" {
		t.Errorf("purged = %q", got)
	}
	if since := time.Since(l.StartedAt); since < 59*time.Minute || since > 61*time.Minute {
		t.Errorf("started %s ago, want an hour", since)
	}
	if !l.UserTablesRead || len(l.UserTables) != 1 || l.UserTables[0] != "app.t1" {
		t.Errorf("user tables = %v %v", l.UserTablesRead, l.UserTables)
	}
	a := o.Account
	if a == nil || !a.Exists || !a.Marked || a.RequireSSL || !a.LoginTested || !a.PasswordWorks {
		t.Errorf("account = %+v", a)
	}
	if !a.Grants.Replication || a.Grants.BackupAdmin {
		t.Errorf("grants = %+v", a.Grants)
	}
	// The clone account, its password tried (nothing remembered yet).
	c := o.CopyAccount
	if c == nil || !c.Exists || !c.Marked || !c.Grants.BackupAdmin || c.Grants.Replication || len(c.Grants.Extra) != 0 || !c.LoginTested || !c.PasswordWorks {
		t.Errorf("clone account = %+v", c)
	}
	if want := PasswordTag(seamRootPW, Secret(copyPassword(seamReplPW))); o.Credentials.CopyFP != want {
		t.Errorf("clone fingerprint %q, want %q", o.Credentials.CopyFP, want)
	}
	// Read-only: the peers are asked (the Service lists none).
	if o.Peers == nil || !o.Peers.Absent {
		t.Errorf("peers = %+v", o.Peers)
	}
	if o.Replica != nil {
		t.Errorf("a primary has replica facts: %+v", o.Replica)
	}
	aq := d.AccountQuery("repl", "%")
	hasInOrder(t, s.local.Statements(), "SELECT VERSION()", "SHOW GLOBAL STATUS LIKE 'Uptime'", d.ReadOnlyQuery(),
		"SELECT @@GLOBAL.offline_mode", d.OriginQuery(), d.GTIDExecutedQuery(), "SELECT @@GLOBAL.gtid_purged", aq.SQL,
		"SHOW GRANTS FOR 'repl'@'%'", d.CloneStatusQuery(), d.UserTablesQuery(userTablesShown))
	for _, c := range s.local.Calls() {
		if c.Query == aq.SQL && (len(c.Args) != 2 || (c.Args[0] != "repl" && c.Args[0] != decide.CloneAccountUser) || c.Args[1] != "%") {
			t.Errorf("account query args = %v", c.Args)
		}
	}
	// The login tests are a ping as each account, nothing else.
	if n := s.cloneLogin.Connects(); n != 1 || len(s.cloneLogin.Statements()) != 0 {
		t.Errorf("clone login connections = %d, statements %q; want 1 and none", n, s.cloneLogin.Statements())
	}
	if n := s.login.Connects(); n != 1 {
		t.Errorf("login connections = %d, want 1", n)
	}
}

func TestGatherPrimaryMariaDB(t *testing.T) {
	s := newSeam(t, wire.RolePrimary)
	s.cfg.Flavor = FlavorMariaDB
	f := mariadbPrimary()
	script(t, s.local, f)
	// The login is refused: the password is not the account's.
	s.login.SetPingError(&mysql.MySQLError{Number: 1045, Message: "Access denied for user 'repl'@'127.0.0.1' (using password: YES)"})
	o, d := s.sc.rec.gather.gather(context.Background(), plan{testLogin: true})
	if d == nil || d.Server().Flavor != sqldialect.MariaDB {
		t.Fatalf("dialect = %v", d)
	}
	l := o.Local
	if !l.Up || l.Incomplete != "" || l.ReadOnly || l.Origin != "100" {
		t.Fatalf("local = %+v", l)
	}
	if l.GTIDs.String() != "0-100-42" || l.Purged.String() != "0-100-10" {
		t.Errorf("gtids %q purged %q", l.GTIDs, l.Purged)
	}
	if a := o.Account; a == nil || !a.LoginTested || a.PasswordWorks || a.PasswordUnknown != "" {
		t.Errorf("account = %+v, want a refused login", a)
	}
	// A refused password: the peers are asked.
	if o.Peers == nil {
		t.Error("peers not asked")
	}
	hasInOrder(t, s.local.Statements(), "SELECT VERSION()", "SHOW BINARY LOGS", "SHOW BINLOG EVENTS IN 'mysql-bin.000001' LIMIT 5")
	for _, q := range s.local.Statements() {
		if strings.Contains(q, "offline_mode") || strings.Contains(q, "clone_status") {
			t.Errorf("MariaDB was asked %q", q)
		}
	}
}

func TestGatherLoginUnknown(t *testing.T) {
	s := newSeam(t, wire.RolePrimary)
	script(t, s.local, mysqlPrimary())
	s.login.SetPingError(&mysql.MySQLError{Number: 1040, Message: "Too many connections"})
	o, _ := s.sc.rec.gather.gather(context.Background(), plan{testLogin: true})
	if a := o.Account; a == nil || a.PasswordWorks || !strings.Contains(a.PasswordUnknown, "Too many connections") {
		t.Errorf("account = %+v, want the password unknown", a)
	}
}

func TestGatherServerDownOrUnsupported(t *testing.T) {
	s := newSeam(t, wire.RolePrimary)
	s.local.SetConnectError(errors.New("dial tcp 127.0.0.1:3306: connect: connection refused"))
	o, d := s.sc.rec.gather.gather(context.Background(), plan{})
	if o.Local.Up || d != nil || !strings.Contains(o.Local.Err, "connection refused") {
		t.Errorf("down: local = %+v", o.Local)
	}

	s = newSeam(t, wire.RolePrimary)
	s.local.On("SELECT VERSION()", fakesql.Row("5.7.44-log"))
	o, d = s.sc.rec.gather.gather(context.Background(), plan{})
	if !o.Local.Up || d != nil || o.Local.Unsupported == "" {
		t.Errorf("5.7: local = %+v", o.Local)
	}
	s.local.On("SELECT VERSION()", fakesql.Row("not a version"))
	o, _ = s.sc.rec.gather.gather(context.Background(), plan{})
	if o.Local.Unsupported == "" {
		t.Errorf("garbage version: local = %+v", o.Local)
	}
}

// Each fact that cannot be read makes the observation incomplete, named.
func TestGatherIncomplete(t *testing.T) {
	d := dialectFor(t, "9.7.4")
	denied := fakesql.Fail(&mysql.MySQLError{Number: 1227, Message: "Access denied; you need the SYSTEM_VARIABLES_ADMIN privilege"})
	aq := d.AccountQuery("repl", "%")
	for _, tc := range []struct {
		query, want string
		role        wire.Role
	}{
		{"SHOW GLOBAL STATUS LIKE 'Uptime'", "the server's uptime", wire.RolePrimary},
		{d.ReadOnlyQuery(), "read_only", wire.RolePrimary},
		{"SELECT @@GLOBAL.offline_mode", "offline_mode", wire.RolePrimary},
		{d.OriginQuery(), "the server's GTID origin", wire.RolePrimary},
		{d.GTIDExecutedQuery(), "the server's GTIDs", wire.RolePrimary},
		{"SELECT @@GLOBAL.gtid_purged", "what the binary logs no longer hold", wire.RolePrimary},
		{aq.SQL, "the replication account: look up the account", wire.RolePrimary},
		{"SHOW GRANTS FOR 'repl'@'%'", "the replication account: read its grants", wire.RolePrimary},
		{d.UserTablesQuery(userTablesShown), "the list of tables", wire.RolePrimary},
		{d.ReplicaStatusQuery(), "replication status", wire.RoleReplica},
		{d.AccountsQuery(), "the list of accounts", wire.RoleReplica},
	} {
		t.Run(tc.want, func(t *testing.T) {
			s := newSeam(t, tc.role)
			f := mysqlPrimary()
			f.readOnly = true
			script(t, s.local, f)
			s.primary.AllowUnscripted()
			scriptSource(s, d, mysqlUUID+":1-42", mysqlUUID+":1-10", false)
			s.local.On(tc.query, denied)
			o, _ := s.sc.rec.gather.gather(context.Background(), plan{})
			if !strings.HasPrefix(o.Local.Incomplete, tc.want+": ") || !strings.Contains(o.Local.Incomplete, "SYSTEM_VARIABLES_ADMIN") {
				t.Errorf("incomplete = %q, want %q", o.Local.Incomplete, tc.want)
			}
		})
	}
	t.Run("garbage GTIDs", func(t *testing.T) {
		s := newSeam(t, wire.RolePrimary)
		script(t, s.local, mysqlPrimary())
		s.local.On(d.GTIDExecutedQuery(), fakesql.Row("not-a-gtid-set"))
		o, _ := s.sc.rec.gather.gather(context.Background(), plan{})
		if !strings.HasPrefix(o.Local.Incomplete, "the server's GTIDs: ") {
			t.Errorf("incomplete = %q", o.Local.Incomplete)
		}
	})
	t.Run("MariaDB writers", func(t *testing.T) {
		s := newSeam(t, wire.RoleReplica)
		f := mariadbPrimary()
		md := script(t, s.local, f)
		q, _ := md.WritersQuery()
		s.local.On(q, denied)
		o, _ := s.sc.rec.gather.gather(context.Background(), plan{})
		if !strings.HasPrefix(o.Local.Incomplete, "the accounts that may write: ") {
			t.Errorf("incomplete = %q", o.Local.Incomplete)
		}
	})
}

// scriptSource makes the primary answer a replica's questions.
func scriptSource(s *seam, d *sqldialect.Dialect, gtids, purged string, readOnly bool) {
	s.primary.On(d.GTIDExecutedQuery(), fakesql.Row(gtids))
	s.primary.On(d.ReadOnlyQuery(), fakesql.Row(b2i(readOnly), b2i(readOnly)))
	if q, ok := d.GTIDPurgedQuery(); ok {
		s.primary.On(q, fakesql.Row(purged))
	}
}

func TestGatherReplicaMySQL(t *testing.T) {
	s := newSeam(t, wire.RoleReplica)
	f := mysqlPrimary()
	f.origin, f.gtids, f.purged, f.readOnly, f.superRO = mysqlUUID2, mysqlUUID+":1-40", "", true, true
	f.account, f.grants = nil, nil
	f.replicaCols, f.replicaRow = mysqlReplicaCols, mysqlReplicaRow(mysqlUUID+":1-40")
	d := script(t, s.local, f)
	scriptSource(s, d, mysqlUUID+":1-42", mysqlUUID+":1-10", false)
	o, _ := s.sc.rec.gather.gather(context.Background(), plan{})
	if o.Local.Incomplete != "" || o.Replica == nil {
		t.Fatalf("local = %+v", o.Local)
	}
	ch := o.Replica.Channel
	if !ch.Configured || ch.SourceHost != seamPrimaryHost || ch.SourcePort != 3306 || ch.IO != sqldialect.ThreadRunning ||
		ch.SQL != sqldialect.ThreadRunning || !ch.AutoPosition || ch.Lag == nil || *ch.Lag != 0 {
		t.Errorf("channel = %+v", ch)
	}
	src := o.Replica.Source
	if !src.Reached() || !src.StatusKnown || !src.Writable || !src.PurgedKnown || src.GTIDs.String() != mysqlUUID+":1-42" ||
		src.Purged.String() != mysqlUUID+":1-10" || src.FreshLogin {
		t.Errorf("source = %+v", src)
	}
	if o.Account != nil {
		t.Errorf("a replica looked at the account: %+v", o.Account)
	}
	// A configured channel: neither tables nor accounts are listed.
	for _, q := range s.local.Statements() {
		if q == d.AccountsQuery() {
			t.Errorf("accounts listed on a configured replica")
		}
	}
	hasInOrder(t, s.primary.Statements(), d.GTIDExecutedQuery(), d.ReadOnlyQuery(), "SELECT @@GLOBAL.gtid_purged")
}

func TestGatherReplicaNotConfigured(t *testing.T) {
	s := newSeam(t, wire.RoleReplica)
	f := mysqlPrimary()
	f.origin, f.gtids, f.purged, f.readOnly, f.superRO = mysqlUUID2, "", "", true, true
	f.tables, f.accounts = []string{"app.t1"}, []string{"app@%"}
	d := script(t, s.local, f)
	scriptSource(s, d, mysqlUUID+":1-42", mysqlUUID+":1-10", false)
	o, _ := s.sc.rec.gather.gather(context.Background(), plan{})
	r := o.Replica
	if r == nil || r.Channel.Configured || len(r.UserTables) != 1 || len(r.Accounts) != 1 || r.Accounts[0] != "app@%" {
		t.Fatalf("replica = %+v", r)
	}
	// Accounts on an unconfigured replica: it may need a donor; peers asked.
	if !decide.NeedsDonor(o) || o.Peers == nil {
		t.Errorf("needsDonor = %v, peers = %+v", decide.NeedsDonor(o), o.Peers)
	}
}

func TestGatherSourceFailures(t *testing.T) {
	d := dialectFor(t, "9.7.4")
	t.Run("refused", func(t *testing.T) {
		s := newSeam(t, wire.RoleReplica)
		s.primary.On(d.GTIDExecutedQuery(), fakesql.Fail(&mysql.MySQLError{Number: 1045, Message: "Access denied for user 'repl'"}))
		src := s.sc.rec.gather.gatherSource(context.Background(), d, true)
		if src.Reached() || !src.Refused || !src.FreshLogin || src.StatusKnown {
			t.Errorf("source = %+v", src)
		}
		if !s.sc.rec.gather.sourceFailed {
			t.Error("the failure is not remembered")
		}
		// Next time the idle connection is dropped: a new login.
		scriptSource(s, d, mysqlUUID+":1-42", "", true)
		before := s.primary.Connects()
		src = s.sc.rec.gather.gatherSource(context.Background(), d, false)
		if !src.Reached() || src.Writable || !src.StatusKnown || !src.Purged.IsEmpty() {
			t.Errorf("source = %+v", src)
		}
		if s.primary.Connects() == before {
			t.Error("no new connection after a failed pass")
		}
	})
	t.Run("garbage", func(t *testing.T) {
		s := newSeam(t, wire.RoleReplica)
		scriptSource(s, d, "garbage", "", false)
		src := s.sc.rec.gather.gatherSource(context.Background(), d, false)
		if src.Reached() || src.Refused {
			t.Errorf("source = %+v", src)
		}
	})
	t.Run("no answer", func(t *testing.T) {
		s := newSeam(t, wire.RoleReplica)
		s.primary.OnFunc("hang", func(string) bool { return true }, func(ctx context.Context, _ string, _ []any) fakesql.Result {
			<-ctx.Done()
			return fakesql.Fail(ctx.Err())
		})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		src := s.sc.rec.gather.gatherSource(ctx, d, false)
		if src.Reached() {
			t.Errorf("source = %+v", src)
		}
	})
	t.Run("MariaDB purged from the primary's status", func(t *testing.T) {
		md := dialectFor(t, "11.8.3-MariaDB")
		s := newSeam(t, wire.RoleReplica)
		s.primary.On(md.GTIDExecutedQuery(), fakesql.Row("0-100-42"))
		s.primary.On(md.ReadOnlyQuery(), fakesql.Fail(&mysql.MySQLError{Number: 1142, Message: "denied"}))
		s.sc.rec.gather.primaryStatus = func(context.Context) (*wire.Status, error) {
			return &wire.Status{Role: wire.RolePrimary, ServerUp: true, GTIDPurged: "0-100-7"}, nil
		}
		src := s.sc.rec.gather.gatherSource(context.Background(), md, false)
		if !src.Reached() || !src.StatusKnown || !src.Writable || !src.PurgedKnown || src.Purged.String() != "0-100-7" {
			t.Errorf("source = %+v", src)
		}
	})
}

func TestReplicaStatusParsing(t *testing.T) {
	d := dialectFor(t, "9.7.4")
	srv := fakesql.New(t)
	db := srv.DB()
	row := mysqlReplicaRow(mysqlUUID + ":1-40")
	row[5], row[7], row[8] = "Connecting", "2061", "Authentication plugin 'caching_sha2_password' reported error"
	srv.On(d.ReplicaStatusQuery(), fakesql.Rows(mysqlReplicaCols, row))
	ch, err := replicaStatus(context.Background(), db, d)
	if err != nil || ch.IO != sqldialect.ThreadConnecting || ch.LastIOErrno != 2061 || !decide.IsAuthError(ch.LastIOErrno) {
		t.Errorf("channel = %+v, %v", ch, err)
	}
	// A value that is no number is an error, not a zero.
	row[3] = "port"
	srv.On(d.ReplicaStatusQuery(), fakesql.Rows(mysqlReplicaCols, row))
	if _, err := replicaStatus(context.Background(), db, d); err == nil {
		t.Error("a bad port parsed")
	}
	srv.On(d.ReplicaStatusQuery(), fakesql.Fail(&mysql.MySQLError{Number: 1227, Message: "denied"}))
	if _, err := replicaStatus(context.Background(), db, d); !sqldialect.IsErrno(err, 1227) {
		t.Errorf("err = %v", err)
	}
}

// TestGatherSemiSync: with SEMI_SYNC the semi-sync state is read; without
// it (the default) no query about semi-sync is made.
func TestGatherSemiSync(t *testing.T) {
	for _, on := range []bool{false, true} {
		s := newSeam(t, wire.RoleReplica)
		f := mysqlPrimary()
		f.origin, f.gtids, f.purged, f.readOnly, f.superRO = mysqlUUID2, mysqlUUID+":1-40", "", true, true
		f.account, f.grants = nil, nil
		f.replicaCols, f.replicaRow = mysqlReplicaCols, mysqlReplicaRow(mysqlUUID+":1-40")
		d := script(t, s.local, f)
		scriptSource(s, d, mysqlUUID+":1-42", mysqlUUID+":1-10", false)
		q, err := d.SemiSyncQuery()
		if err != nil {
			t.Fatal(err)
		}
		s.local.On(q, fakesql.Row(0, 1))
		s.sc.rec.gather.semiSync = on
		o, _ := s.sc.rec.gather.gather(context.Background(), plan{})
		if o.Local.Incomplete != "" {
			t.Fatalf("semiSync %v: local = %+v", on, o.Local)
		}
		asked := false
		for _, st := range s.local.Statements() {
			asked = asked || strings.Contains(st, "rpl_semi_sync")
		}
		switch {
		case !on && (asked || o.Local.SemiSync != nil):
			t.Errorf("SEMI_SYNC off: semi-sync asked %v, facts %+v", asked, o.Local.SemiSync)
		case on && (o.Local.SemiSync == nil || o.Local.SemiSync.Source || !o.Local.SemiSync.Replica):
			t.Errorf("SEMI_SYNC on: facts %+v, want replica side only", o.Local.SemiSync)
		}
	}
}
