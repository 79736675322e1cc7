package bootstrap

// The seam: tests put a scripted server (internal/fakesql) behind every
// pool openDB opens, and build the sidecar's own gatherer, executor and
// reconciler on it, without a server, root or Docker.

import (
	"bytes"
	"context"
	"database/sql/driver"
	"fmt"
	"log/slog"
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

const (
	seamRootPW      = "root-pw-s3cret"
	seamReplPW      = "repl-pw-s3cret"
	seamPrimaryHost = "mysql-0.mysql.db.svc.cluster.local"
	mysqlUUID       = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	mysqlUUID2      = "4f22ab58-82db-22f2-af44-d91bb0530673"
)

// seam is a pod whose servers are scripted: local answers root's pool,
// login the replication account's login test on the local server,
// cloneLogin the clone account's, primary a replica's pool to the
// primary.
type seam struct {
	t                                 *testing.T
	local, login, cloneLogin, primary *fakesql.Server
	cfg                               *Config
	id                                Identity
	logBuf                            *syncBuf
	sc                                *Sidecar
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// useFakeServers routes openDB to the scripted servers by user and address
// until t ends.
func useFakeServers(t *testing.T, route func(c *mysql.Config) *fakesql.Server) {
	old := newConnector
	newConnector = func(c *mysql.Config) (driver.Connector, error) {
		s := route(c)
		if s == nil {
			return nil, fmt.Errorf("no fake server for %s@%s", c.User, c.Addr)
		}
		return s.Connector(), nil
	}
	t.Cleanup(func() { newConnector = old })
}

func seamConfig(dir string) *Config {
	return &Config{
		PodName: "mysql-0", Namespace: "db", ServiceName: "mysql", ClusterDomain: "cluster.local",
		MySQLHost: "127.0.0.1", MySQLPort: 3306, RootPassword: seamRootPW,
		ReplicationUser: "repl", ReplicationPassword: seamReplPW,
		StateDir: dir, WaitTimeout: 5 * time.Second, HTTPAddr: "127.0.0.1:0",
		ReconcileInterval: 10 * time.Second, MaxReplicationLag: 30 * time.Second,
		SeedTimeout: time.Minute, SeedStallTimeout: time.Minute, BackupAddr: ":3307",
		AutoReseed: true, ServerIDBase: 100,
	}
}

func seamIdentity(role wire.Role) Identity {
	id := Identity{Pod: "mysql-0", StatefulSet: "mysql", Ordinal: 0, Role: role, ServerID: 100, Namespace: "db", Service: "mysql",
		PodHost: seamPrimaryHost, PrimaryHost: seamPrimaryHost, ServiceHost: "mysql.db.svc.cluster.local"}
	if role == wire.RoleReplica {
		id.Pod, id.Ordinal, id.ServerID, id.PodHost = "mysql-1", 1, 101, "mysql-1.mysql.db.svc.cluster.local"
	}
	return id
}

// newSeam builds a sidecar for role on scripted servers; nothing answers
// until the test scripts it.
func newSeam(t *testing.T, role wire.Role) *seam {
	t.Helper()
	s := &seam{t: t, local: fakesql.New(t), login: fakesql.New(t), cloneLogin: fakesql.New(t), primary: fakesql.New(t), logBuf: &syncBuf{}}
	s.cfg = seamConfig(t.TempDir())
	s.id = seamIdentity(role)
	useFakeServers(t, func(c *mysql.Config) *fakesql.Server {
		switch {
		case c.User == "root" || c.User == SidecarAccountUser:
			return s.local
		case c.User == "repl" && strings.HasPrefix(c.Addr, seamPrimaryHost):
			return s.primary
		case c.User == "repl":
			return s.login
		case c.User == decide.CloneAccountUser || c.User == decide.BackupAccountUser:
			return s.cloneLogin
		}
		return nil
	})
	log := slog.New(slog.NewJSONHandler(s.logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.sc = NewSidecar(s.cfg, s.id, log, nil)
	t.Cleanup(s.sc.Close)
	// No peers: the headless Service lists none.
	s.sc.rec.gather.peers = func(context.Context) (decide.Peers, error) {
		return nil, fmt.Errorf("lookup mysql: %w", errServiceAbsent)
	}
	t.Cleanup(func() {
		for _, secret := range []string{seamRootPW, seamReplPW} {
			if strings.Contains(s.logBuf.String(), secret) {
				t.Errorf("a password is in the log:\n%s", s.logBuf.String())
			}
		}
	})
	return s
}

// serverFacts is what a scripted server says of itself.
type serverFacts struct {
	version               string // SELECT VERSION()
	uptime                int64
	readOnly, superRO     bool
	offline               bool
	origin, gtids, purged string
	// account: the replication account's row (nil: none), grants its SHOW
	// GRANTS.
	account *accountRow
	grants  []string
	// cloneAccount and copyGrants: the same of the clone account (MySQL).
	copyAccount *accountRow
	copyGrants  []string
	tables      []string
	// replica: SHOW REPLICA STATUS's columns and row (nil: not configured).
	replicaCols []string
	replicaRow  []any
	accounts    []string
	writers     []string
}

type accountRow struct {
	ssl    string
	old    int
	marker string
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func dialectFor(t *testing.T, version string) *sqldialect.Dialect {
	t.Helper()
	sv, err := sqldialect.ParseVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	d, err := sqldialect.New(sv)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// script makes srv answer the gatherer's queries with f.
func script(t *testing.T, srv *fakesql.Server, f serverFacts) *sqldialect.Dialect {
	t.Helper()
	d := dialectFor(t, f.version)
	srv.On("SELECT VERSION()", fakesql.Row(f.version))
	srv.On("SHOW GLOBAL STATUS LIKE 'Uptime'", fakesql.Rows([]string{"Variable_name", "Value"}, []any{"Uptime", fmt.Sprint(f.uptime)}))
	srv.On(d.ReadOnlyQuery(), fakesql.Row(b2i(f.readOnly), b2i(f.superRO)))
	if q, ok := d.OfflineModeQuery(); ok {
		srv.On(q, fakesql.Row(b2i(f.offline)))
	}
	srv.On(d.OriginQuery(), fakesql.Row(f.origin))
	srv.On(d.GTIDExecutedQuery(), fakesql.Row(f.gtids))
	if d.PurgedFromBinlogs() {
		srv.On(d.BinaryLogsQuery(), fakesql.Rows([]string{"Log_name", "File_size"}, []any{"mysql-bin.000001", 1024}))
		srv.On(d.BinlogEventsQuery("mysql-bin.000001", 5), fakesql.Rows(
			[]string{"Log_name", "Pos", "Event_type", "Server_id", "End_log_pos", "Info"},
			[]any{"mysql-bin.000001", 4, "Format_desc", 100, 256, "Server ver: 11.8.3-MariaDB, Binlog ver: 4"},
			[]any{"mysql-bin.000001", 256, "Gtid_list", 100, 285, "[" + f.purged + "]"}))
	} else {
		q, _ := d.GTIDPurgedQuery()
		srv.On(q, fakesql.Row(f.purged))
	}
	if d.CloneSupported() {
		srv.On(d.CloneStatusQuery(), fakesql.Rows([]string{"STATE", "SOURCE", "ERROR_NO", "ERROR_MESSAGE", "SINCE_END", "PID"}))
	}
	aq := d.AccountQuery("repl", "%")
	srv.OnFunc("account", func(q string) bool { return q == aq.SQL }, func(_ context.Context, _ string, args []any) fakesql.Result {
		row := f.account
		if len(args) >= 2 && (args[len(args)-2] == decide.CloneAccountUser || args[len(args)-2] == decide.BackupAccountUser) {
			row = f.copyAccount
		}
		if row == nil {
			return fakesql.Rows([]string{"ssl_type", "old", "marker"})
		}
		return fakesql.Rows([]string{"ssl_type", "old", "marker"}, []any{row.ssl, row.old, row.marker})
	})
	show, _ := d.ShowGrants("repl", "%")
	srv.On(show, stringRows("Grants for repl@%", f.grants))
	show, _ = d.ShowGrants(decide.CloneAccountUser, "%")
	if !d.CloneSupported() {
		show, _ = d.ShowGrants(decide.BackupAccountUser, "127.0.0.1")
	}
	srv.On(show, stringRows("Grants", f.copyGrants))
	srv.On(d.UserTablesQuery(userTablesShown), stringRows("t", f.tables))
	srv.On(d.AccountsQuery(), stringRows("a", f.accounts))
	if q, ok := d.WritersQuery(); ok {
		srv.On(q, stringRows("GRANTEE", f.writers))
	}
	if f.replicaCols != nil {
		srv.On(d.ReplicaStatusQuery(), fakesql.Rows(f.replicaCols, f.replicaRow))
	} else {
		srv.On(d.ReplicaStatusQuery(), fakesql.Rows([]string{"Replica_IO_State"}))
	}
	return d
}

func stringRows(col string, vals []string) fakesql.Result {
	rows := make([][]any, len(vals))
	for i, v := range vals {
		rows[i] = []any{v}
	}
	return fakesql.Rows([]string{col}, rows...)
}

// mysqlGrants are the grants of a complete MySQL replication account.
var mysqlGrants = []string{"GRANT REPLICATION SLAVE ON *.* TO `repl`@`%`"}

// mysqlCloneGrants are those of a complete MySQL clone account.
var mysqlCloneGrants = []string{"GRANT USAGE ON *.* TO `mysql-bootstrap-clone`@`%`", "GRANT BACKUP_ADMIN ON *.* TO `mysql-bootstrap-clone`@`%`"}

// mariadbGrants are those of a complete MariaDB replication account.
var mariadbGrants = []string{"GRANT REPLICATION SLAVE ON *.* TO `repl`@`%`", "GRANT `mysql_bootstrap_managed` TO `repl`@`%`"}

// mysqlPrimary is a writable MySQL 9.7 primary whose account is complete.
func mysqlPrimary() serverFacts {
	return serverFacts{version: "9.7.4", uptime: 3600, origin: mysqlUUID,
		gtids: mysqlUUID + ":1-42", purged: mysqlUUID + ":1-10",
		account: &accountRow{marker: sqldialect.AccountMarker}, grants: mysqlGrants,
		copyAccount: &accountRow{marker: sqldialect.AccountMarker}, copyGrants: mysqlCloneGrants}
}

// mariadbCopyGrants are those of a complete MariaDB backup account.
var mariadbCopyGrants = []string{"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, REPLICATION SLAVE ADMIN ON *.* TO `mysql-bootstrap-backup`@`127.0.0.1`",
	"GRANT `mysql_bootstrap_managed` TO `mysql-bootstrap-backup`@`127.0.0.1`"}

// mariadbPrimary is a writable MariaDB 11.8 primary whose accounts are complete.
func mariadbPrimary() serverFacts {
	return serverFacts{version: "11.8.3-MariaDB-ubu2404-log", uptime: 3600, origin: "100",
		gtids: "0-100-42", purged: "0-100-10",
		account: &accountRow{marker: sqldialect.AccountMarker}, grants: mariadbGrants,
		copyAccount: &accountRow{marker: sqldialect.AccountMarker}, copyGrants: mariadbCopyGrants}
}

// mysqlReplicaCols are the columns of SHOW REPLICA STATUS the tests fill.
var mysqlReplicaCols = []string{"Replica_IO_State", "Source_Host", "Source_User", "Source_Port", "Connect_Retry",
	"Replica_IO_Running", "Replica_SQL_Running", "Last_IO_Errno", "Last_IO_Error", "Last_SQL_Errno", "Last_SQL_Error",
	"Seconds_Behind_Source", "Retrieved_Gtid_Set", "Executed_Gtid_Set", "Auto_Position", "Source_SSL_Allowed",
	"Replica_SQL_Running_State"}

// mysqlReplicaRow is a healthy channel to the primary.
func mysqlReplicaRow(gtids string) []any {
	return []any{"Waiting for source to send event", seamPrimaryHost, "repl", "3306", "1",
		"Yes", "Yes", "0", "", "0", "", "0", gtids, gtids, "1", "No",
		"Replica has read all relay log; waiting for more updates"}
}

func hasInOrder(t *testing.T, got []string, want ...string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("statements lack %q (in order) after %q:\n%s", want[i], want[:i], strings.Join(got, "\n"))
	}
}
