package sqldialect

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// RedactedLiteral is what a secret literal is replaced with in
// Statement.Redacted.
const RedactedLiteral = "'<redacted>'"

// Statement is one SQL statement to execute, with a form that is safe to
// log. The fmt and slog methods print only the redacted form.
type Statement struct {
	// SQL is the text to send to the server. Never log it.
	SQL string
	// Redacted is SQL with every secret literal replaced by '<redacted>'.
	// It equals SQL when the statement carries no secret.
	Redacted string
}

// String returns the redacted form, so %v and %s never print a secret.
func (s Statement) String() string { return s.Redacted }

// GoString returns the redacted form, so %#v never prints a secret.
func (s Statement) GoString() string {
	return "sqldialect.Statement(" + strconv.Quote(s.Redacted) + ")"
}

// LogValue returns the redacted form, so slog never prints a secret.
func (s Statement) LogValue() slog.Value { return slog.StringValue(s.Redacted) }

// plain returns a Statement without secrets.
func plain(sql string) Statement { return Statement{SQL: sql, Redacted: sql} }

// Query is a read-only query with placeholder arguments, for
// db.QueryContext(ctx, q.SQL, q.Args...).
type Query struct {
	SQL  string
	Args []any
}

// stmtBuilder writes the SQL and Redacted forms side by side.
type stmtBuilder struct{ sql, red strings.Builder }

func (b *stmtBuilder) raw(s string) {
	b.sql.WriteString(s)
	b.red.WriteString(s)
}

func (b *stmtBuilder) secret(s string) {
	b.sql.WriteString(QuoteString(s))
	b.red.WriteString(RedactedLiteral)
}

func (b *stmtBuilder) statement() Statement {
	return Statement{SQL: b.sql.String(), Redacted: b.red.String()}
}

// ErrUnsupportedServer is wrapped by New's error for a server this package
// cannot drive.
var ErrUnsupportedServer = errors.New("unsupported server")

// Dialect renders statements for one server flavour and version. Create it
// with New; it is immutable and safe for concurrent use.
type Dialect struct {
	server Server
	// replicaKeywords: START/STOP REPLICA and SHOW REPLICA STATUS.
	replicaKeywords bool
	// sourceKeywords: CHANGE REPLICATION SOURCE TO with SOURCE_* options.
	sourceKeywords bool
}

// New returns the dialect for s. Supported are MySQL 8.0 and later (8.0.x,
// 8.4, 9.x) and MariaDB 10.5 and later; anything else is an error wrapping
// ErrUnsupportedServer.
func New(s Server) (*Dialect, error) {
	supported := false
	switch s.Flavor {
	case MySQL:
		supported = s.AtLeast(8, 0, 0)
	case MariaDB:
		supported = s.AtLeast(10, 5, 0)
	}
	if !supported {
		name := s.String()
		if s.Raw != "" {
			name += fmt.Sprintf(" (%q)", s.Raw)
		}
		return nil, fmt.Errorf("%w %s: need MySQL 8.0 or later, or MariaDB 10.5 or later", ErrUnsupportedServer, name)
	}
	d := &Dialect{server: s}
	switch s.Flavor {
	case MySQL:
		d.replicaKeywords = s.AtLeast(8, 0, 22)
		d.sourceKeywords = s.AtLeast(8, 0, 23)
	case MariaDB:
		d.replicaKeywords = s.AtLeast(10, 5, 1)
	}
	return d, nil
}

// Server returns the server the dialect was made for.
func (d *Dialect) Server() Server { return d.server }

// SourceOptions says where and how a replica connects to its source.
type SourceOptions struct {
	// Host is the source's stable DNS name (a trailing dot is fine).
	Host string
	// Port is the source's TCP port, 1 to 65535.
	Port int
	// User and Password are the replication account's credentials.
	User, Password string
	// ConnectRetry is the wait between reconnection attempts, rounded up to
	// whole seconds (at least 1). Zero leaves the server's setting alone
	// (the server default is 60 s, much too slow for a rescheduled primary).
	ConnectRetry time.Duration
	// RetryCount is how many reconnection attempts a MySQL replica makes
	// before its IO thread gives up. Zero leaves the server's setting
	// alone. MariaDB has no such CHANGE MASTER option (it is the server
	// option master_retry_count), so it is ignored there.
	RetryCount int
	// HeartbeatPeriod is how often the source sends a heartbeat when idle,
	// rounded up to milliseconds. Zero leaves the server's setting alone
	// (by default half of replica_net_timeout / slave_net_timeout).
	HeartbeatPeriod time.Duration
	// TLS requires an encrypted replication connection (SOURCE_SSL=1 /
	// MASTER_SSL=1). Without it MySQL gets GET_SOURCE_PUBLIC_KEY=1 so that
	// caching_sha2_password works over plain TCP even after the source's
	// restart empties its authentication cache. False never turns TLS off:
	// an earlier setting or the server default (recent MariaDB defaults to
	// TLS) stays.
	TLS bool
	// TLSCA, as the replica's server sees the file, turns on verification
	// of the source's certificate against it (SOURCE_SSL_CA,
	// SOURCE_SSL_VERIFY_SERVER_CERT=1; it implies TLS): the certificate
	// must name Host. TLSCert and TLSKey are an optional client
	// certificate and its key (SOURCE_SSL_CERT, SOURCE_SSL_KEY).
	TLSCA, TLSCert, TLSKey string
}

// Bounds on the CHANGE … TO intervals, from the MySQL manual.
const (
	maxConnectRetry    = 31536000 * time.Second // one year
	maxHeartbeatPeriod = 4294967 * time.Second
)

func (d *Dialect) validateSource(o SourceOptions) error {
	var errs []error
	maxHost := maxHostLen
	if d.server.Flavor == MySQL && !d.server.AtLeast(8, 0, 17) {
		maxHost = maxHostLenOldMySQL
	}
	switch {
	case o.Host == "":
		errs = append(errs, fmt.Errorf("%w: source host is empty", ErrInvalidArgument))
	case strings.ContainsAny(o.Host, " \t"):
		errs = append(errs, fmt.Errorf("%w: source host %q contains white space", ErrInvalidArgument, o.Host))
	case utf8.RuneCountInString(o.Host) > maxHost:
		errs = append(errs, fmt.Errorf("%w: source host %q is longer than %s accepts (%d characters)", ErrInvalidArgument, o.Host, d.server, maxHost))
	default:
		if err := checkName("source host", o.Host); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Port < 1 || o.Port > 65535 {
		errs = append(errs, fmt.Errorf("%w: source port %d is not in 1..65535", ErrInvalidArgument, o.Port))
	}
	if err := d.checkUser(o.User); err != nil {
		errs = append(errs, err)
	}
	if err := checkPassword(o.Password); err != nil {
		errs = append(errs, err)
	}
	if o.ConnectRetry < 0 || o.ConnectRetry > maxConnectRetry {
		errs = append(errs, fmt.Errorf("%w: connect retry %s is not in 0..%s", ErrInvalidArgument, o.ConnectRetry, maxConnectRetry))
	}
	if o.RetryCount < 0 {
		errs = append(errs, fmt.Errorf("%w: retry count %d is negative", ErrInvalidArgument, o.RetryCount))
	}
	if o.HeartbeatPeriod < 0 || o.HeartbeatPeriod > maxHeartbeatPeriod {
		errs = append(errs, fmt.Errorf("%w: heartbeat period %s is not in 0..%s", ErrInvalidArgument, o.HeartbeatPeriod, maxHeartbeatPeriod))
	}
	for _, f := range []struct{ what, path string }{{"TLS CA file", o.TLSCA}, {"TLS certificate file", o.TLSCert}, {"TLS key file", o.TLSKey}} {
		if f.path != "" {
			if err := checkName(f.what, f.path); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if (o.TLSCert == "") != (o.TLSKey == "") || o.TLSCert != "" && o.TLSCA == "" {
		errs = append(errs, fmt.Errorf("%w: a TLS client certificate needs its key and a CA", ErrInvalidArgument))
	}
	return errors.Join(errs...)
}

// ChangeSource returns the statement that points a stopped replica at its
// source with GTID auto-positioning:
//
//   - MySQL 8.0.23 and later: CHANGE REPLICATION SOURCE TO SOURCE_HOST=…,
//     SOURCE_AUTO_POSITION=1, …
//   - MySQL before 8.0.23: CHANGE MASTER TO MASTER_HOST=…,
//     MASTER_AUTO_POSITION=1, …
//   - MariaDB: CHANGE MASTER TO MASTER_HOST=…, MASTER_USE_GTID=slave_pos
//
// The password is redacted in Statement.Redacted. Invalid options give an
// error wrapping ErrInvalidArgument that lists every problem.
func (d *Dialect) ChangeSource(o SourceOptions) (Statement, error) {
	if err := d.validateSource(o); err != nil {
		return Statement{}, fmt.Errorf("change source: %w", err)
	}
	prefix, head := "MASTER_", "CHANGE MASTER TO "
	if d.sourceKeywords {
		prefix, head = "SOURCE_", "CHANGE REPLICATION SOURCE TO "
	}
	var b stmtBuilder
	b.raw(head)
	b.raw(prefix + "HOST=" + QuoteString(o.Host))
	b.raw(", " + prefix + "PORT=" + strconv.Itoa(o.Port))
	b.raw(", " + prefix + "USER=" + QuoteString(o.User))
	b.raw(", " + prefix + "PASSWORD=")
	b.secret(o.Password)
	if d.server.Flavor == MySQL {
		b.raw(", " + prefix + "AUTO_POSITION=1")
	}
	if o.ConnectRetry > 0 {
		secs := int64((o.ConnectRetry + time.Second - 1) / time.Second)
		b.raw(", " + prefix + "CONNECT_RETRY=" + strconv.FormatInt(secs, 10))
	}
	if o.RetryCount > 0 && d.server.Flavor == MySQL {
		b.raw(", " + prefix + "RETRY_COUNT=" + strconv.Itoa(o.RetryCount))
	}
	if o.HeartbeatPeriod > 0 {
		b.raw(", " + prefix + "HEARTBEAT_PERIOD=" + formatSeconds(o.HeartbeatPeriod))
	}
	if d.server.Flavor == MariaDB {
		b.raw(", MASTER_USE_GTID=slave_pos")
	}
	switch {
	case o.TLS || o.TLSCA != "":
		b.raw(", " + prefix + "SSL=1")
		if o.TLSCA != "" {
			b.raw(", " + prefix + "SSL_CA=" + QuoteString(o.TLSCA))
			if o.TLSCert != "" {
				b.raw(", " + prefix + "SSL_CERT=" + QuoteString(o.TLSCert) + ", " + prefix + "SSL_KEY=" + QuoteString(o.TLSKey))
			}
			b.raw(", " + prefix + "SSL_VERIFY_SERVER_CERT=1")
		}
	case d.server.Flavor == MariaDB:
	case d.sourceKeywords:
		b.raw(", GET_SOURCE_PUBLIC_KEY=1")
	default:
		b.raw(", GET_MASTER_PUBLIC_KEY=1")
	}
	return b.statement(), nil
}

// formatSeconds renders d, rounded up to milliseconds, as decimal seconds
// without trailing zeros: 1500ms -> "1.5", 2s -> "2".
func formatSeconds(d time.Duration) string {
	ms := int64((d + time.Millisecond - 1) / time.Millisecond)
	s := strconv.FormatInt(ms/1000, 10)
	if frac := ms % 1000; frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%03d", frac), "0")
	}
	return s
}

// StartReplica returns START REPLICA (MySQL 8.0.22+, MariaDB 10.5.1+) or
// START SLAVE.
func (d *Dialect) StartReplica() Statement {
	if d.replicaKeywords {
		return plain("START REPLICA")
	}
	return plain("START SLAVE")
}

// StopReplica returns STOP REPLICA (MySQL 8.0.22+, MariaDB 10.5.1+) or
// STOP SLAVE.
func (d *Dialect) StopReplica() Statement {
	if d.replicaKeywords {
		return plain("STOP REPLICA")
	}
	return plain("STOP SLAVE")
}

// ResetReplicaAll returns RESET REPLICA ALL (or RESET SLAVE ALL): the
// channel and its relay logs go, as on a pod that became primary.
func (d *Dialect) ResetReplicaAll() Statement {
	if d.replicaKeywords {
		return plain("RESET REPLICA ALL")
	}
	return plain("RESET SLAVE ALL")
}

// AdoptBinlogPosition returns, on MariaDB, the statement that makes
// gtid_slave_pos what the binary log holds (a former primary, whose own
// writes are only there, before its first CHANGE MASTER ...
// MASTER_USE_GTID=slave_pos). MySQL's auto-positioning reads
// gtid_executed, and needs none.
func (d *Dialect) AdoptBinlogPosition() (Statement, error) {
	if d.server.Flavor != MariaDB {
		return Statement{}, fmt.Errorf("%w: gtid_slave_pos is MariaDB's", ErrInvalidArgument)
	}
	return plain("SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos"), nil
}

// ReplicaStatusQuery returns SHOW REPLICA STATUS (MySQL 8.0.22+, MariaDB
// 10.5.1+) or SHOW SLAVE STATUS. Feed its result to ParseReplicaStatus.
func (d *Dialect) ReplicaStatusQuery() string {
	if d.replicaKeywords {
		return "SHOW REPLICA STATUS"
	}
	return "SHOW SLAVE STATUS"
}

// SuperReadOnlySupported reports whether the server has super_read_only
// (MySQL does, MariaDB does not: there read_only already binds everyone
// without READ ONLY ADMIN, and replication is always exempt).
func (d *Dialect) SuperReadOnlySupported() bool { return d.server.Flavor == MySQL }

// SetReadOnly returns the statements that make the server read-only (on)
// or writable (off), in order:
//
//   - MySQL on: SET GLOBAL super_read_only = ON (which implies read_only).
//   - MySQL off: SET GLOBAL super_read_only = OFF, then read_only = OFF
//     (turning super_read_only off leaves read_only on).
//   - MariaDB: SET GLOBAL read_only = ON or OFF.
func (d *Dialect) SetReadOnly(on bool) []Statement {
	if d.server.Flavor == MariaDB {
		if on {
			return []Statement{plain("SET GLOBAL read_only = ON")}
		}
		return []Statement{plain("SET GLOBAL read_only = OFF")}
	}
	if on {
		return []Statement{plain("SET GLOBAL super_read_only = ON")}
	}
	return []Statement{
		plain("SET GLOBAL super_read_only = OFF"),
		plain("SET GLOBAL read_only = OFF"),
	}
}

// ReadOnlyQuery returns a query whose single row has two integer columns,
// read_only and super_read_only, each 0 or 1. MariaDB selects 0 for the
// second. MariaDB 12 turned read_only into an enum (OFF, ON, NO_LOCK,
// NO_LOCK_NO_ADMIN) that reads back as text, so there the value is folded to
// 0 (OFF) or 1 (any read-only level).
func (d *Dialect) ReadOnlyQuery() string {
	if d.server.Flavor == MariaDB {
		return "SELECT CASE WHEN UPPER(CAST(@@GLOBAL.read_only AS CHAR)) IN ('0', 'OFF') THEN 0 ELSE 1 END, 0"
	}
	return "SELECT @@GLOBAL.read_only, @@GLOBAL.super_read_only"
}

func (d *Dialect) checkUser(user string) error {
	if user == "" {
		return fmt.Errorf("%w: user name is empty", ErrInvalidArgument)
	}
	if err := checkName("user name", user); err != nil {
		return err
	}
	if d.server.Flavor == MySQL && utf8.RuneCountInString(user) > maxMySQLUserLen {
		return fmt.Errorf("%w: user name %q is longer than MySQL accepts (%d characters)", ErrInvalidArgument, user, maxMySQLUserLen)
	}
	return nil
}

// account validates user and host (empty host means DefaultHost) and
// returns the quoted account name.
func (d *Dialect) account(user, host string) (string, error) {
	if host == "" {
		host = DefaultHost
	}
	err := d.checkUser(user)
	if err == nil {
		err = checkName("host", host)
	}
	if err == nil && utf8.RuneCountInString(host) > maxHostLen {
		err = fmt.Errorf("%w: host %q is longer than %d characters", ErrInvalidArgument, host, maxHostLen)
	}
	if err != nil {
		return "", err
	}
	return Account(user, host), nil
}

// AccountMarker is the mark of an account mysql-bootstrap created: on
// MySQL the ATTRIBUTE {"managed_by": "mysql-bootstrap"}, on MariaDB (which
// has no account attributes) a grant of the role of that name with no
// privileges.
const AccountMarker = "mysql-bootstrap"

// SidecarAccountUser is the account the sidecar works through on its own
// server (EnsureSidecarAccount).
const SidecarAccountUser = "mysql-bootstrap"

// MarkerRole is the MariaDB role that marks an account as mysql-bootstrap's.
const MarkerRole = "mysql_bootstrap_managed"

// AccountQuery returns a query for the account user@host: no row when it
// does not exist, else one row of three columns: ssl_type ("" for no TLS
// requirement, ANY for REQUIRE SSL), whether it holds a second (old)
// password besides its current one (MySQL's dual passwords; 0 on MariaDB),
// and the marker ("mysql-bootstrap" when this tool created or adopted it,
// else ""). An empty host means DefaultHost.
func (d *Dialect) AccountQuery(user, host string) Query {
	if host == "" {
		host = DefaultHost
	}
	if d.server.Flavor == MariaDB {
		return Query{
			SQL: "SELECT u.ssl_type, 0, IF(EXISTS(SELECT 1 FROM mysql.roles_mapping r WHERE r.User = u.User AND r.Host = u.Host AND r.Role = ?), ?, '') " +
				"FROM mysql.user u WHERE u.User = ? AND u.Host = ?",
			Args: []any{MarkerRole, AccountMarker, user, host},
		}
	}
	return Query{
		SQL: "SELECT ssl_type, COALESCE(JSON_CONTAINS_PATH(User_attributes, 'one', '$.additional_password'), 0), " +
			"COALESCE(JSON_UNQUOTE(JSON_EXTRACT(User_attributes, '$.metadata.managed_by')), '') " +
			"FROM mysql.user WHERE User = ? AND Host = ?",
		Args: []any{user, host},
	}
}

// DualPasswordsSupported reports whether an account can hold an old
// password beside the new one (MySQL 8.0.14 and later: RETAIN CURRENT
// PASSWORD, DISCARD OLD PASSWORD). MariaDB cannot.
func (d *Dialect) DualPasswordsSupported() bool {
	return d.server.Flavor == MySQL && d.server.AtLeast(8, 0, 14)
}

// CreateReplicationUser returns the statements that create the replication
// account user@host with password, using the server's default
// authentication plugin, marked as this tool's (see AccountMarker), and
// with REQUIRE SSL when requireSSL: CREATE USER IF NOT EXISTS … (MySQL:
// … ATTRIBUTE '{"managed_by": "mysql-bootstrap"}'; MariaDB: then CREATE
// ROLE IF NOT EXISTS and GRANT of the marker role). An empty host means
// DefaultHost. The password must fit the replication limits (32
// characters, see ChangeSource) since this account exists to be used in
// CHANGE … TO.
func (d *Dialect) CreateReplicationUser(user, host, password string, requireSSL bool) ([]Statement, error) {
	tail := ""
	if requireSSL {
		tail = " REQUIRE SSL"
	}
	if d.server.Flavor == MySQL {
		tail += " ATTRIBUTE '{\"managed_by\": \"" + AccountMarker + "\"}'"
	}
	create, err := d.identified("create user", "CREATE USER IF NOT EXISTS ", user, host, password, tail)
	if err != nil {
		return nil, err
	}
	out := []Statement{create}
	if d.server.Flavor == MariaDB {
		mark, err := d.MarkAccount(user, host)
		if err != nil {
			return nil, err
		}
		out = append(out, mark...)
	}
	return out, nil
}

// MarkAccount returns the statements that mark an existing account as this
// tool's (see AccountMarker).
func (d *Dialect) MarkAccount(user, host string) ([]Statement, error) {
	acct, err := d.account(user, host)
	if err != nil {
		return nil, fmt.Errorf("mark account: %w", err)
	}
	if d.server.Flavor == MariaDB {
		return []Statement{
			plain("CREATE ROLE IF NOT EXISTS " + MarkerRole),
			plain("GRANT " + MarkerRole + " TO " + acct),
		}, nil
	}
	return []Statement{plain("ALTER USER " + acct + " ATTRIBUTE '{\"managed_by\": \"" + AccountMarker + "\"}'")}, nil
}

// AlterUserPassword returns ALTER USER user@host IDENTIFIED BY password,
// with RETAIN CURRENT PASSWORD when retain (only where
// DualPasswordsSupported: the old password keeps working until
// DiscardOldPassword). An empty host means DefaultHost.
func (d *Dialect) AlterUserPassword(user, host, password string, retain bool) (Statement, error) {
	tail := ""
	if retain {
		if !d.DualPasswordsSupported() {
			return Statement{}, fmt.Errorf("%w: %s cannot retain an old password", ErrInvalidArgument, d.server)
		}
		tail = " RETAIN CURRENT PASSWORD"
	}
	return d.identified("alter user", "ALTER USER ", user, host, password, tail)
}

// DiscardOldPassword returns ALTER USER user@host DISCARD OLD PASSWORD
// (MySQL 8.0.14 and later).
func (d *Dialect) DiscardOldPassword(user, host string) (Statement, error) {
	if !d.DualPasswordsSupported() {
		return Statement{}, fmt.Errorf("%w: %s has no dual passwords", ErrInvalidArgument, d.server)
	}
	acct, err := d.account(user, host)
	if err != nil {
		return Statement{}, fmt.Errorf("discard old password: %w", err)
	}
	return plain("ALTER USER " + acct + " DISCARD OLD PASSWORD"), nil
}

// RequireSSL returns ALTER USER user@host REQUIRE SSL (on) or REQUIRE NONE.
func (d *Dialect) RequireSSL(user, host string, on bool) (Statement, error) {
	acct, err := d.account(user, host)
	if err != nil {
		return Statement{}, fmt.Errorf("require ssl: %w", err)
	}
	if on {
		return plain("ALTER USER " + acct + " REQUIRE SSL"), nil
	}
	return plain("ALTER USER " + acct + " REQUIRE NONE"), nil
}

func (d *Dialect) identified(op, head, user, host, password, tail string) (Statement, error) {
	acct, err := d.account(user, host)
	if err == nil {
		err = checkPassword(password)
	}
	if err != nil {
		return Statement{}, fmt.Errorf("%s: %w", op, err)
	}
	var b stmtBuilder
	b.raw(head + acct + " IDENTIFIED BY ")
	b.secret(password)
	b.raw(tail)
	return b.statement(), nil
}

// WritersQuery returns a query for the accounts that can write on a
// read-only MariaDB server, one "'user'@'host'" per row: holders of SUPER
// or READ_ONLY ADMIN (which read_only exempts). ok is false on MySQL,
// where super_read_only binds everyone.
func (d *Dialect) WritersQuery() (query string, ok bool) {
	if d.server.Flavor != MariaDB {
		return "", false
	}
	return "SELECT DISTINCT GRANTEE FROM information_schema.USER_PRIVILEGES " +
		"WHERE PRIVILEGE_TYPE IN ('SUPER', 'READ_ONLY ADMIN') ORDER BY GRANTEE", true
}

// GrantReplication returns GRANT REPLICATION SLAVE ON *.* TO user@host:
// the one privilege a replica's IO thread needs on its source. Every
// supported version accepts that spelling (MariaDB's REPLICATION REPLICA is
// an alias, MySQL has no other). An empty host means DefaultHost.
func (d *Dialect) GrantReplication(user, host string) (Statement, error) {
	acct, err := d.account(user, host)
	if err != nil {
		return Statement{}, fmt.Errorf("grant replication: %w", err)
	}
	return plain("GRANT REPLICATION SLAVE ON *.* TO " + acct), nil
}

// ShowGrants returns SHOW GRANTS FOR user@host. Scan each row's single
// column into a string and pass them to ClassifyGrants. The server answers
// an error when the account does not exist: look it up first. An empty
// host means DefaultHost.
func (d *Dialect) ShowGrants(user, host string) (string, error) {
	acct, err := d.account(user, host)
	if err != nil {
		return "", fmt.Errorf("show grants: %w", err)
	}
	return "SHOW GRANTS FOR " + acct, nil
}

// GTIDExecutedQuery returns a query for the server's executed GTIDs, to
// compare a replica with its source:
//
//   - MySQL: SELECT @@GLOBAL.gtid_executed, a GTID set (ParseGTIDSet).
//   - MariaDB: SELECT @@GLOBAL.gtid_binlog_state, for ParseGTIDSet or
//     MariaDBGTIDSubset.
//     gtid_binlog_state keeps the last GTID of every (domain, server_id)
//     pair in the binary log, so a local write on a replica shows up under
//     the replica's own server_id even after later replicated transactions.
//     gtid_current_pos and gtid_slave_pos keep only the last GTID per
//     domain and would hide it. It needs log_bin on; with binary logging
//     off it is empty and the comparison proves nothing.
func (d *Dialect) GTIDExecutedQuery() string {
	if d.server.Flavor == MariaDB {
		return "SELECT @@GLOBAL.gtid_binlog_state"
	}
	return "SELECT @@GLOBAL.gtid_executed"
}

// GTIDPurgedQuery returns SELECT @@GLOBAL.gtid_purged on MySQL: the GTIDs
// no longer in the server's binary logs, which a new replica cannot fetch.
// MariaDB has no equivalent variable (what was purged is only recorded in
// the Gtid_list event at the head of the oldest binary log), so ok is false
// and the query empty there.
func (d *Dialect) GTIDPurgedQuery() (query string, ok bool) {
	if d.server.Flavor == MariaDB {
		return "", false
	}
	return "SELECT @@GLOBAL.gtid_purged", true
}

// PurgedFromBinlogs reports whether the server's purged transactions must
// be read from its oldest binary log (MariaDB, see GTIDListInfo) rather
// than from GTIDPurgedQuery (MySQL).
func (d *Dialect) PurgedFromBinlogs() bool { return d.server.Flavor == MariaDB }

// BinaryLogsQuery returns SHOW BINARY LOGS: one row per binary log, oldest
// first, the name in the first column.
func (d *Dialect) BinaryLogsQuery() string { return "SHOW BINARY LOGS" }

// BinlogEventsQuery returns SHOW BINLOG EVENTS IN file LIMIT n. Its columns
// are Log_name, Pos, Event_type, Server_id, End_log_pos, Info.
func (d *Dialect) BinlogEventsQuery(file string, n int) string {
	return fmt.Sprintf("SHOW BINLOG EVENTS IN %s LIMIT %d", QuoteString(file), max(n, 1))
}

// GTIDListInfo turns the Info of a MariaDB Gtid_list event, "[0-100-5,1-100-3]",
// into a GTID list. The Gtid_list event at the head of a binary log holds
// the server's GTID state when that log began: every transaction up to it
// was in earlier logs, so in the oldest log it is what was purged.
func GTIDListInfo(info string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(info), "["), "]")
}

// OriginQuery returns a query for the name under which the server writes
// its own transactions' GTIDs, as GTIDSet.Origins reports them: MySQL's
// server_uuid, MariaDB's server_id in decimal.
func (d *Dialect) OriginQuery() string {
	if d.server.Flavor == MariaDB {
		return "SELECT CAST(@@GLOBAL.server_id AS CHAR)"
	}
	return "SELECT @@GLOBAL.server_uuid"
}

// systemSchemas hold no user data: the server's own schemas on both
// flavours.
const systemSchemas = "'mysql', 'sys', 'performance_schema', 'information_schema'"

// UserTablesQuery returns a query for up to limit tables (and views)
// outside the system schemas, one "schema.table" per row: a server that
// answers none holds no user data, only what initialising it created
// (accounts, time zones, empty databases).
func (d *Dialect) UserTablesQuery(limit int) string {
	return fmt.Sprintf("SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES "+
		"WHERE TABLE_SCHEMA NOT IN (%s) ORDER BY TABLE_SCHEMA, TABLE_NAME LIMIT %d", systemSchemas, max(limit, 1))
}

// AccountsQuery returns a query for the accounts a person or an image's
// first start created, one "user@host" per row: every account but the
// servers' own (root, mysql.*, mariadb.sys, the official MariaDB image's
// healthcheck), the sidecar's (SidecarAccountUser: created outside the
// binary log, it is no transaction of the server's) and roles.
func (d *Dialect) AccountsQuery() string {
	q := "SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User NOT IN ('', 'root', 'mysql.sys', 'mysql.session', " +
		"'mysql.infoschema', 'mariadb.sys', 'healthcheck', 'PUBLIC', '" + SidecarAccountUser + "')"
	if d.server.Flavor == MariaDB {
		q += " AND is_role = 'N'"
	}
	return q + " ORDER BY User, Host"
}

// ResetBinaryLogs returns the statement that deletes every binary log and
// empties the server's GTID history (gtid_executed and gtid_purged on
// MySQL, gtid_binlog_state on MariaDB), leaving the tables as they are:
// RESET BINARY LOGS AND GTIDS on MySQL 8.2 and later, RESET MASTER before
// and on MariaDB. It is only ever run on a replica whose own transactions
// are nothing but its first start's.
func (d *Dialect) ResetBinaryLogs() Statement {
	if d.server.Flavor == MySQL && d.server.AtLeast(8, 2, 0) {
		return plain("RESET BINARY LOGS AND GTIDS")
	}
	return plain("RESET MASTER")
}

// CloneOptions say where a MySQL clone copies from.
type CloneOptions struct {
	// Host and Port are the donor's stable name and MySQL port.
	Host string
	Port int
	// User and Password are an account on the donor with BACKUP_ADMIN
	// (this tool's clone account).
	User, Password string
	// TLSCA, when set, makes the clone connection verified TLS (REQUIRE
	// SSL, clone_ssl_ca).
	TLSCA string
}

// CloneSupported reports whether the server has the clone plugin's
// statements (MySQL 8.0.17 and later).
func (d *Dialect) CloneSupported() bool {
	return d.server.Flavor == MySQL && d.server.AtLeast(8, 0, 17)
}

// Clone returns, in order, the statements that replace this server's data
// with a copy of the donor's: SET GLOBAL clone_valid_donor_list, (with TLS)
// SET GLOBAL clone_ssl_ca, then CLONE INSTANCE FROM … IDENTIFIED BY …
// [REQUIRE SSL]. The last one runs as long as the copy takes; it ends with
// ErrnoCloneRestart when no supervisor restarts the server on the copy.
func (d *Dialect) Clone(o CloneOptions) ([]Statement, error) {
	if !d.CloneSupported() {
		return nil, fmt.Errorf("%w: %s has no clone plugin", ErrInvalidArgument, d.server)
	}
	var errs []error
	if err := checkName("donor host", o.Host); err != nil || o.Host == "" {
		errs = append(errs, fmt.Errorf("%w: donor host %q", ErrInvalidArgument, o.Host))
	}
	if o.Port < 1 || o.Port > 65535 {
		errs = append(errs, fmt.Errorf("%w: donor port %d is not in 1..65535", ErrInvalidArgument, o.Port))
	}
	if err := d.checkUser(o.User); err != nil {
		errs = append(errs, err)
	}
	if err := checkPassword(o.Password); err != nil {
		errs = append(errs, err)
	}
	if o.TLSCA != "" {
		if err := checkName("TLS CA file", o.TLSCA); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("clone: %w", err)
	}
	hostPort := strings.TrimSuffix(o.Host, ".") + ":" + strconv.Itoa(o.Port)
	out := []Statement{plain("SET GLOBAL clone_valid_donor_list = " + QuoteString(hostPort))}
	if o.TLSCA != "" {
		out = append(out, plain("SET GLOBAL clone_ssl_ca = "+QuoteString(o.TLSCA)))
	}
	var b stmtBuilder
	b.raw("CLONE INSTANCE FROM " + QuoteString(o.User) + "@" + QuoteString(strings.TrimSuffix(o.Host, ".")) + ":" + strconv.Itoa(o.Port) + " IDENTIFIED BY ")
	b.secret(o.Password)
	if o.TLSCA != "" {
		b.raw(" REQUIRE SSL")
	}
	return append(out, b.statement()), nil
}

// OfflineModeQuery returns SELECT @@GLOBAL.offline_mode (MySQL), one
// integer column, 1 while the server disconnects and refuses every client
// without CONNECTION_ADMIN (or SUPER), as CloneGuard(true) leaves it.
// MariaDB has no such mode: ok is false and the query empty.
func (d *Dialect) OfflineModeQuery() (query string, ok bool) {
	if d.server.Flavor != MySQL {
		return "", false
	}
	return "SELECT @@GLOBAL.offline_mode", true
}

// CloneGuard returns the statements that surround a CLONE into this
// server. CLONE drops the recipient's own schemas first, which
// super_read_only forbids, so on lifts read-only, but sets offline_mode
// before: until the server restarts on the copy it disconnects and refuses
// every client without CONNECTION_ADMIN (or SUPER), so no application
// write is taken and then replaced by the donor's data. off (after a
// failed clone) makes it read-only again, then lets clients back in. The
// restart on a copy clears offline_mode by itself.
func (d *Dialect) CloneGuard(on bool) []Statement {
	if on {
		return append([]Statement{plain("SET GLOBAL offline_mode = ON")}, d.SetReadOnly(false)...)
	}
	return append(d.SetReadOnly(true), plain("SET GLOBAL offline_mode = OFF"))
}

// GrantBackupAdmin returns GRANT BACKUP_ADMIN ON *.* TO user@host: what a
// donor's account needs to be cloned from (MySQL; this tool's clone
// account).
func (d *Dialect) GrantBackupAdmin(user, host string) (Statement, error) {
	acct, err := d.account(user, host)
	if err != nil {
		return Statement{}, fmt.Errorf("grant backup_admin: %w", err)
	}
	return plain("GRANT BACKUP_ADMIN ON *.* TO " + acct), nil
}

// backupPrivileges are what mariadb-backup needs for a full backup of a
// primary or (--slave-info, --safe-slave-backup) a replica: BACKUP STAGE
// and FLUSH (RELOAD), the process list (PROCESS), LOCK TABLES, the binary
// log position (BINLOG MONITOR), the replica's position (SLAVE MONITOR)
// and stopping and starting its applier (REPLICATION SLAVE ADMIN). No
// SELECT: the files are read from the data directory, not through SQL.
var backupPrivileges = []string{"RELOAD", "PROCESS", "LOCK TABLES", "BINLOG MONITOR", "SLAVE MONITOR", "REPLICATION SLAVE ADMIN"}

// privilegeAliases are other spellings of backupPrivileges SHOW GRANTS
// may use.
var privilegeAliases = map[string]string{"REPLICA MONITOR": "SLAVE MONITOR", "REPLICATION REPLICA ADMIN": "REPLICATION SLAVE ADMIN"}

// CopyAccountPrivileges lists what the copy account holds on *.*: MySQL's
// clone account BACKUP_ADMIN, which a CLONE donor's account needs;
// MariaDB's backup account what mariadb-backup needs (backupPrivileges).
func (d *Dialect) CopyAccountPrivileges() []string {
	if d.server.Flavor == MySQL {
		return []string{"BACKUP_ADMIN"}
	}
	return slices.Clone(backupPrivileges)
}

// GrantCopyAccount returns GRANT <CopyAccountPrivileges> ON *.* TO
// user@host.
func (d *Dialect) GrantCopyAccount(user, host string) (Statement, error) {
	acct, err := d.account(user, host)
	if err != nil {
		return Statement{}, fmt.Errorf("grant copy account: %w", err)
	}
	return plain("GRANT " + strings.Join(d.CopyAccountPrivileges(), ", ") + " ON *.* TO " + acct), nil
}

// CopyAccountGrants reads the copy account's grants (ClassifyGrants):
// complete when it holds every CopyAccountPrivileges on *.*; extra lists
// what it holds beyond them.
func (d *Dialect) CopyAccountGrants(g Grants) (complete bool, extra []string) {
	if g.Replication {
		extra = append(extra, "REPLICATION SLAVE ON *.*")
	}
	if d.server.Flavor == MySQL {
		return g.BackupAdmin, append(extra, g.Extra...)
	}
	held := map[string]bool{}
	for _, e := range g.Extra {
		p, ok := strings.CutSuffix(e, " ON *.*")
		if a, alias := privilegeAliases[p]; alias {
			p = a
		}
		if ok && slices.Contains(backupPrivileges, p) {
			held[p] = true
			continue
		}
		extra = append(extra, e)
	}
	if g.BackupAdmin {
		extra = append(extra, "BACKUP_ADMIN ON *.*")
	}
	return len(held) == len(backupPrivileges), extra
}

// RevokeBackupAdmin returns REVOKE BACKUP_ADMIN ON *.* FROM user@host:
// the replication account gives it up once the clone account holds it.
func (d *Dialect) RevokeBackupAdmin(user, host string) (Statement, error) {
	acct, err := d.account(user, host)
	if err != nil {
		return Statement{}, fmt.Errorf("revoke backup_admin: %w", err)
	}
	return plain("REVOKE BACKUP_ADMIN ON *.* FROM " + acct), nil
}

// CloneStatusQuery returns a query for the last clone into this server,
// one row (none before the first): STATE (Not Started, In Progress,
// Completed, Failed), SOURCE, ERROR_NO, ERROR_MESSAGE, the seconds since
// it ended (-1 while it runs), and PID, the processlist id of the session
// running it (KillQuery stops it).
func (d *Dialect) CloneStatusQuery() string {
	return "SELECT STATE, COALESCE(SOURCE, ''), COALESCE(ERROR_NO, 0), COALESCE(ERROR_MESSAGE, ''), " +
		"COALESCE(TIMESTAMPDIFF(SECOND, END_TIME, NOW()), -1), COALESCE(PID, 0) FROM performance_schema.clone_status"
}

// CloneProgressQuery returns a query for the clone's progress summed over
// its stages: bytes copied, bytes estimated, bytes per second now, bytes
// received over the network, and the stage in progress ("" between
// stages): DROP DATA, FILE COPY, PAGE COPY, REDO COPY, FILE SYNC, RESTART,
// RECOVERY.
func (d *Dialect) CloneProgressQuery() string {
	return "SELECT COALESCE(SUM(DATA), 0), COALESCE(SUM(ESTIMATE), 0), COALESCE(MAX(CASE WHEN STATE = 'In Progress' THEN DATA_SPEED END), 0), " +
		"COALESCE(SUM(NETWORK), 0), COALESCE(MAX(CASE WHEN STATE = 'In Progress' THEN STAGE END), '') " +
		"FROM performance_schema.clone_progress"
}

// KillQuery returns KILL QUERY id: the statement session id runs stops
// (a CLONE among them, which then fails with ER_QUERY_INTERRUPTED); the
// session stays.
func (d *Dialect) KillQuery(id uint64) Statement {
	return plain("KILL QUERY " + strconv.FormatUint(id, 10))
}

// Shutdown returns SHUTDOWN: the server stops, and its container's restart
// brings it back.
func (d *Dialect) Shutdown() Statement { return plain("SHUTDOWN") }

// ApplySeedPosition returns the statements that give a MariaDB server
// restored from a copy the copy's GTID state: its binary log starts at
// binlogState, the copy's gtid_binlog_state with every server_id of every
// domain (gtid when empty), and replication continues after gtid, its last
// GTID per domain (RESET MASTER, SET GLOBAL gtid_binlog_state, SET GLOBAL
// gtid_slave_pos), after the replication configuration the copy brought
// along is dropped (STOP SLAVE, RESET SLAVE ALL).
func (d *Dialect) ApplySeedPosition(gtid, binlogState string) ([]Statement, error) {
	if d.server.Flavor != MariaDB {
		return nil, fmt.Errorf("%w: only MariaDB is seeded from a backup", ErrInvalidArgument)
	}
	if _, err := ParseMariaDBGTIDList(gtid); err != nil {
		return nil, err
	}
	if strings.TrimSpace(binlogState) == "" {
		binlogState = gtid
	}
	if _, err := ParseMariaDBGTIDList(binlogState); err != nil {
		return nil, err
	}
	q := QuoteString(strings.Join(strings.Fields(gtid), ""))
	return []Statement{
		plain("STOP SLAVE"),
		plain("RESET SLAVE ALL"),
		plain("RESET MASTER"),
		plain("SET GLOBAL gtid_binlog_state = " + QuoteString(strings.Join(strings.Fields(binlogState), ""))),
		plain("SET GLOBAL gtid_slave_pos = " + q),
	}, nil
}

// SidecarAccountPrivileges lists what the sidecar's own account holds on
// this flavour, by level, as GrantSidecarAccount grants it:
//
//   - MySQL: SELECT on mysql.* and performance_schema.*; on *.* with
//     GRANT OPTION (it creates the replication and clone accounts and
//     passes these on; MySQL's grant option covers every privilege held
//     at *.*) CREATE USER, REPLICATION SLAVE, BACKUP_ADMIN; on *.*
//     REPLICATION CLIENT, RELOAD, SHUTDOWN, SYSTEM_VARIABLES_ADMIN,
//     CONNECTION_ADMIN, REPLICATION_SLAVE_ADMIN, CLONE_ADMIN and
//     REFERENCES (only so that information_schema.TABLES shows every
//     table to the empty-primary checks).
//   - MariaDB: SELECT on mysql.*; on *.* with GRANT OPTION CREATE USER,
//     REPLICATION SLAVE and the backup account's privileges; on *.*
//     BINLOG ADMIN (RESET MASTER), REPLICATION MASTER ADMIN (setting
//     gtid_binlog_state), READ_ONLY ADMIN, CONNECTION ADMIN (KILL of a
//     session waiting for a semi-sync acknowledgement), SHUTDOWN,
//     REFERENCES; and the
//     marker role WITH ADMIN OPTION, to mark the accounts it creates.
func (d *Dialect) SidecarAccountPrivileges() (selectOn []string, grantable, plain []string) {
	if d.server.Flavor == MariaDB {
		return []string{"mysql.*"},
			append([]string{"CREATE USER", "REPLICATION SLAVE"}, backupPrivileges...),
			[]string{"BINLOG ADMIN", "REPLICATION MASTER ADMIN", "READ_ONLY ADMIN", "CONNECTION ADMIN", "SHUTDOWN", "REFERENCES"}
	}
	return []string{"mysql.*", "performance_schema.*"},
		[]string{"CREATE USER", "REPLICATION SLAVE", "BACKUP_ADMIN"},
		[]string{"REPLICATION CLIENT", "RELOAD", "SHUTDOWN", "SYSTEM_VARIABLES_ADMIN", "CONNECTION_ADMIN",
			"REPLICATION_SLAVE_ADMIN", "CLONE_ADMIN", "REFERENCES"}
}

// EnsureSidecarAccount returns the statements, for root, that create the
// sidecar's account user@host or bring an existing one back to password
// and the privileges of SidecarAccountPrivileges, idempotently: CREATE
// USER IF NOT EXISTS, ALTER USER … IDENTIFIED BY, the marker, the GRANTs.
// It takes nothing away: privileges granted by hand beyond these stay.
// Run them with binary logging off for the session (SessionBinlog): the
// account is each server's own.
func (d *Dialect) EnsureSidecarAccount(user, host, password string) ([]Statement, error) {
	out, err := d.CreateReplicationUser(user, host, password, false)
	if err != nil {
		return nil, err
	}
	alter, err := d.AlterUserPassword(user, host, password, false)
	if err != nil {
		return nil, err
	}
	acct, _ := d.account(user, host)
	out = append(out, alter)
	if d.server.Flavor == MariaDB {
		// CreateReplicationUser marked it; the sidecar marks the accounts
		// it creates, which needs the role's ADMIN OPTION.
		out = append(out, plain("GRANT "+MarkerRole+" TO "+acct+" WITH ADMIN OPTION"))
	} else {
		mark, err := d.MarkAccount(user, host)
		if err != nil {
			return nil, err
		}
		out = append(out, mark...)
	}
	sel, grantable, rest := d.SidecarAccountPrivileges()
	for _, on := range sel {
		out = append(out, plain("GRANT SELECT ON "+on+" TO "+acct))
	}
	out = append(out,
		plain("GRANT "+strings.Join(grantable, ", ")+" ON *.* TO "+acct+" WITH GRANT OPTION"),
		plain("GRANT "+strings.Join(rest, ", ")+" ON *.* TO "+acct))
	return out, nil
}

// SessionBinlog returns SET sql_log_bin = 1 or 0: whether this session's
// changes go to the binary log (both flavours; needs SUPER or, on MySQL,
// SYSTEM_VARIABLES_ADMIN or SESSION_VARIABLES_ADMIN).
func (d *Dialect) SessionBinlog(on bool) Statement {
	if on {
		return plain("SET sql_log_bin = 1")
	}
	return plain("SET sql_log_bin = 0")
}

// SuperReadOnlyQuery returns a query for @@GLOBAL.super_read_only (one
// integer column); ok is false where SuperReadOnlySupported is.
func (d *Dialect) SuperReadOnlyQuery() (query string, ok bool) {
	if !d.SuperReadOnlySupported() {
		return "", false
	}
	return "SELECT @@GLOBAL.super_read_only", true
}

// SetSuperReadOnly returns SET GLOBAL super_read_only = ON or OFF (MySQL).
// Turning it off leaves read_only as it is.
func (d *Dialect) SetSuperReadOnly(on bool) Statement {
	if on {
		return plain("SET GLOBAL super_read_only = ON")
	}
	return plain("SET GLOBAL super_read_only = OFF")
}

// SemiSyncSupported reports whether the server has semi-synchronous
// replication under the names the sidecar uses: MySQL 8.0.26 and later
// (the semisync_source and semisync_replica plugins, which init loads),
// MariaDB (built in since 10.3).
func (d *Dialect) SemiSyncSupported() bool {
	return d.server.Flavor == MariaDB || d.server.AtLeast(8, 0, 26)
}

// semiSyncVars returns the names of the source's and the replica's
// semi-sync enabled flags.
func (d *Dialect) semiSyncVars() (source, replica string, err error) {
	switch {
	case d.server.Flavor == MariaDB:
		return "rpl_semi_sync_master_enabled", "rpl_semi_sync_slave_enabled", nil
	case d.SemiSyncSupported():
		return "rpl_semi_sync_source_enabled", "rpl_semi_sync_replica_enabled", nil
	}
	return "", "", fmt.Errorf("%w: semi-synchronous replication needs MySQL 8.0.26 or later (semisync_source/semisync_replica), not %s", ErrInvalidArgument, d.server)
}

// SemiSyncQuery returns a query whose single row has two integer
// columns, 0 or 1: whether the server acts as a semi-synchronous source
// (waits for a replica's acknowledgement) and as a semi-synchronous
// replica (acknowledges what it receives). On MySQL it fails (unknown
// system variable) when the plugins are not loaded.
func (d *Dialect) SemiSyncQuery() (string, error) {
	source, replica, err := d.semiSyncVars()
	if err != nil {
		return "", err
	}
	return "SELECT @@GLOBAL." + source + ", @@GLOBAL." + replica, nil
}

// SetSemiSync returns the statements that turn the semi-sync source and
// replica flags on or off, the one turned off first (a pod is never both
// at once). The replica flag takes effect when the receiver (IO thread)
// next starts: see RestartReceiver.
func (d *Dialect) SetSemiSync(source, replica bool) ([]Statement, error) {
	sv, rv, err := d.semiSyncVars()
	if err != nil {
		return nil, err
	}
	set := func(name string, on bool) Statement {
		if on {
			return plain("SET GLOBAL " + name + " = ON")
		}
		return plain("SET GLOBAL " + name + " = OFF")
	}
	if source {
		return []Statement{set(rv, replica), set(sv, true)}, nil
	}
	return []Statement{set(sv, false), set(rv, replica)}, nil
}

// StopReceiver returns STOP REPLICA IO_THREAD (or STOP SLAVE IO_THREAD):
// nothing more is received; the applier goes on.
func (d *Dialect) StopReceiver() Statement {
	if d.replicaKeywords {
		return plain("STOP REPLICA IO_THREAD")
	}
	return plain("STOP SLAVE IO_THREAD")
}

// StartApplier returns START REPLICA SQL_THREAD (or START SLAVE
// SQL_THREAD).
func (d *Dialect) StartApplier() Statement {
	if d.replicaKeywords {
		return plain("START REPLICA SQL_THREAD")
	}
	return plain("START SLAVE SQL_THREAD")
}

// SemiSyncWaitersQuery returns a query listing the sessions (one id per
// row) whose commit has waited for a semi-sync replica's acknowledgement
// for at least minSeconds, this session aside. MySQL names the state
// "Waiting for semi-sync ACK from replica" (from 8.0.26; its sessions are
// read from performance_schema, which the sidecar account may read),
// MariaDB "Waiting for semi-sync ACK from slave".
func (d *Dialect) SemiSyncWaitersQuery(minSeconds int) string {
	if d.server.Flavor == MariaDB {
		return "SELECT ID FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for semi-sync ACK%' AND ID <> CONNECTION_ID() AND TIME >= " + strconv.Itoa(minSeconds)
	}
	return "SELECT PROCESSLIST_ID FROM performance_schema.threads WHERE TYPE = 'FOREGROUND' AND PROCESSLIST_STATE LIKE 'Waiting for semi-sync ACK%' " +
		"AND PROCESSLIST_ID <> CONNECTION_ID() AND PROCESSLIST_TIME >= " + strconv.Itoa(minSeconds)
}

// ClientSessionsQuery returns a query listing every client session (one
// id per row) but this one and skipUser's: not the server's own threads,
// not the replicas' binary log dumps.
func (d *Dialect) ClientSessionsQuery(skipUser string) string {
	if d.server.Flavor == MariaDB {
		return "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND USER NOT IN ('system user', 'event_scheduler', 'unauthenticated user', " +
			QuoteString(skipUser) + ") AND COMMAND NOT IN ('Daemon', 'Binlog Dump', 'Slave_IO', 'Slave_SQL', 'Slave_worker', 'Killed')"
	}
	return "SELECT PROCESSLIST_ID FROM performance_schema.threads WHERE TYPE = 'FOREGROUND' AND PROCESSLIST_ID <> CONNECTION_ID() " +
		"AND PROCESSLIST_USER IS NOT NULL AND PROCESSLIST_USER NOT IN ('event_scheduler', " + QuoteString(skipUser) + ") " +
		"AND PROCESSLIST_COMMAND NOT IN ('Daemon', 'Binlog Dump', 'Binlog Dump GTID', 'Killed')"
}

// KillConnection returns KILL CONNECTION id: the session is ended and
// its socket closed, so its client is told no outcome (KILL QUERY of a
// commit waiting for a semi-sync acknowledgement answers OK on MariaDB).
func (d *Dialect) KillConnection(id uint64) Statement {
	return plain("KILL CONNECTION " + strconv.FormatUint(id, 10))
}

// RestartReceiver returns STOP REPLICA IO_THREAD, START REPLICA IO_THREAD
// (or the SLAVE forms): the receiver reconnects to the source, which is
// when a replica's semi-sync flag takes effect.
func (d *Dialect) RestartReceiver() []Statement {
	kw := "SLAVE"
	if d.replicaKeywords {
		kw = "REPLICA"
	}
	return []Statement{plain("STOP " + kw + " IO_THREAD"), plain("START " + kw + " IO_THREAD")}
}
