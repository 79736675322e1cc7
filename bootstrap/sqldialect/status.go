package sqldialect

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ReplicaStatus is the part of SHOW REPLICA STATUS the sidecar acts on,
// with MySQL's and MariaDB's column names mapped to one set of fields.
type ReplicaStatus struct {
	// Configured is false when the server returned no row: it has never
	// been pointed at a source (or was RESET REPLICA ALL).
	Configured bool
	// SourceHost, SourcePort and SourceUser are where the replica connects
	// (Source_Host/Master_Host, Source_Port/Master_Port,
	// Source_User/Master_User).
	SourceHost string
	SourcePort int
	SourceUser string
	// IO is the receiver thread's state (Replica_IO_Running /
	// Slave_IO_Running): ThreadRunning, ThreadConnecting or ThreadStopped.
	IO ThreadState
	// SQL is the applier thread's state (Replica_SQL_Running /
	// Slave_SQL_Running): ThreadRunning or ThreadStopped.
	SQL ThreadState
	// SQLRunningState is the applier's activity text
	// (Replica_SQL_Running_State/Slave_SQL_Running_State).
	SQLRunningState string
	// Lag is Seconds_Behind_Source/Seconds_Behind_Master, nil when the
	// server reports NULL: a thread is stopped or reconnecting, so the lag
	// is unknown. NULL is not 0: do not read it as "caught up".
	Lag *int64
	// LastIOErrno/LastIOError and LastSQLErrno/LastSQLError are the last
	// receiver and applier errors; 0 and "" when there is none.
	LastIOErrno  int
	LastIOError  string
	LastSQLErrno int
	LastSQLError string
	// AutoPosition is true when the replica positions by GTID the way
	// ChangeSource sets it up: MySQL Auto_Position=1, MariaDB
	// Using_Gtid=Slave_Pos.
	AutoPosition bool
	// GTIDMode is the raw value AutoPosition was derived from: Using_Gtid on
	// MariaDB ("No", "Slave_Pos", "Current_Pos"), Auto_Position on MySQL
	// ("0", "1").
	GTIDMode string
	// RetrievedGTIDSet is what the receiver has fetched (MySQL
	// Retrieved_Gtid_Set, MariaDB Gtid_IO_Pos). ExecutedGTIDSet is what
	// has been applied (MySQL Executed_Gtid_Set; MariaDB Gtid_Slave_Pos,
	// which only SHOW ALL REPLICAS STATUS has, so usually empty there).
	// MySQL's line breaks after commas are removed.
	RetrievedGTIDSet string
	ExecutedGTIDSet  string
	// ConnectRetry is the wait in seconds between reconnection attempts.
	ConnectRetry int
	// SSLAllowed is Source_SSL_Allowed/Master_SSL_Allowed: "Yes" when the
	// channel uses TLS ("No", or "Ignored" where the server has no TLS).
	// SSLCAFile, SSLCert and SSLKey are the files it was given, and
	// SSLVerifyServerCert whether it verifies the source's certificate.
	SSLAllowed          string
	SSLCAFile           string
	SSLCert             string
	SSLKey              string
	SSLVerifyServerCert bool
}

// TLSMatches reports whether the channel's TLS settings are what
// ChangeSource with these options would set: TLS on when tls or ca, and
// with ca verification against exactly those files. A channel with TLS
// on is never wanted off.
func (s ReplicaStatus) TLSMatches(tls bool, ca, cert, key string) bool {
	switch {
	case ca != "":
		return strings.EqualFold(s.SSLAllowed, "Yes") && s.SSLVerifyServerCert &&
			s.SSLCAFile == ca && s.SSLCert == cert && s.SSLKey == key
	case tls:
		return strings.EqualFold(s.SSLAllowed, "Yes")
	}
	return true
}

// ThreadState is the state of a replication thread as SHOW REPLICA STATUS
// reports it.
type ThreadState string

// Thread states, as the servers spell them.
const (
	// ThreadStopped: "No", the thread is not running.
	ThreadStopped ThreadState = "No"
	// ThreadRunning: "Yes", running (the receiver is connected).
	ThreadRunning ThreadState = "Yes"
	// ThreadConnecting: the receiver runs but is not connected to its
	// source (reconnecting, or never connected yet).
	ThreadConnecting ThreadState = "Connecting"
)

// parseThreadState maps a Replica_*_Running value; anything unknown
// (including "" and NULL) reads as stopped.
func parseThreadState(v string) ThreadState {
	switch {
	case strings.EqualFold(v, "Yes"):
		return ThreadRunning
	case strings.EqualFold(v, "Connecting"):
		return ThreadConnecting
	}
	return ThreadStopped
}

// Running reports whether both replication threads are running.
func (s ReplicaStatus) Running() bool {
	return s.IO == ThreadRunning && s.SQL == ThreadRunning
}

// LastError returns the last receiver and applier errors on one line, like
// "IO error 2005: Unknown MySQL server host …; SQL error 1062: …", or "" if
// there is none.
func (s ReplicaStatus) LastError() string {
	var parts []string
	if s.LastIOErrno != 0 || s.LastIOError != "" {
		parts = append(parts, fmt.Sprintf("IO error %d: %s", s.LastIOErrno, OneLine(s.LastIOError)))
	}
	if s.LastSQLErrno != 0 || s.LastSQLError != "" {
		parts = append(parts, fmt.Sprintf("SQL error %d: %s", s.LastSQLErrno, OneLine(s.LastSQLError)))
	}
	return strings.Join(parts, "; ")
}

// OneLine folds a message (an error, a server's text) onto one line for
// logs, probes and reasons.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// PointsAt reports whether the replica is configured to replicate from
// host:port as user with GTID auto-positioning, that is, whether
// ChangeSource with these values would change nothing that matters. Host
// names compare case-insensitively and without a trailing dot.
func (s ReplicaStatus) PointsAt(host string, port int, user string) bool {
	return s.Configured && s.AutoPosition &&
		strings.EqualFold(strings.TrimSuffix(s.SourceHost, "."), strings.TrimSuffix(host, ".")) &&
		s.SourcePort == port && s.SourceUser == user
}

// statusField tells ParseReplicaStatus where a column's value goes.
type statusField int

const (
	fieldIgnored statusField = iota
	fieldSourceHost
	fieldSourcePort
	fieldSourceUser
	fieldIORunning
	fieldSQLRunning
	fieldSQLRunningState
	fieldLag
	fieldLastIOErrno
	fieldLastIOError
	fieldLastSQLErrno
	fieldLastSQLError
	fieldAutoPosition // MySQL Auto_Position
	fieldUsingGTID    // MariaDB Using_Gtid
	fieldRetrieved
	fieldExecuted
	fieldConnectRetry
	fieldSSLAllowed
	fieldSSLCAFile
	fieldSSLCert
	fieldSSLKey
	fieldSSLVerify
)

// statusColumns maps both naming schemes; lookups are case-insensitive.
var statusColumns = map[string]statusField{
	"source_host":                   fieldSourceHost,
	"master_host":                   fieldSourceHost,
	"source_port":                   fieldSourcePort,
	"master_port":                   fieldSourcePort,
	"source_user":                   fieldSourceUser,
	"master_user":                   fieldSourceUser,
	"replica_io_running":            fieldIORunning,
	"slave_io_running":              fieldIORunning,
	"replica_sql_running":           fieldSQLRunning,
	"slave_sql_running":             fieldSQLRunning,
	"replica_sql_running_state":     fieldSQLRunningState,
	"slave_sql_running_state":       fieldSQLRunningState,
	"seconds_behind_source":         fieldLag,
	"seconds_behind_master":         fieldLag,
	"last_io_errno":                 fieldLastIOErrno,
	"last_io_error":                 fieldLastIOError,
	"last_sql_errno":                fieldLastSQLErrno,
	"last_sql_error":                fieldLastSQLError,
	"auto_position":                 fieldAutoPosition,
	"using_gtid":                    fieldUsingGTID,
	"retrieved_gtid_set":            fieldRetrieved,
	"gtid_io_pos":                   fieldRetrieved,
	"executed_gtid_set":             fieldExecuted,
	"gtid_slave_pos":                fieldExecuted,
	"connect_retry":                 fieldConnectRetry,
	"source_ssl_allowed":            fieldSSLAllowed,
	"master_ssl_allowed":            fieldSSLAllowed,
	"source_ssl_ca_file":            fieldSSLCAFile,
	"master_ssl_ca_file":            fieldSSLCAFile,
	"source_ssl_cert":               fieldSSLCert,
	"master_ssl_cert":               fieldSSLCert,
	"source_ssl_key":                fieldSSLKey,
	"master_ssl_key":                fieldSSLKey,
	"source_ssl_verify_server_cert": fieldSSLVerify,
	"master_ssl_verify_server_cert": fieldSSLVerify,
}

// ErrBadReplicaStatus is wrapped by ParseReplicaStatus's errors.
var ErrBadReplicaStatus = errors.New("unrecognised replica status")

// ParseReplicaStatus maps one row of SHOW REPLICA STATUS (or SHOW SLAVE
// STATUS), read by column name since the order differs between versions.
// columns is rows.Columns(); row holds the values scanned into
// sql.NullString, one per column. A nil row means the query returned no
// row: the replica is not configured. Unknown columns are ignored.
//
//	cols, _ := rows.Columns()
//	var row []sql.NullString
//	if rows.Next() {
//		row = make([]sql.NullString, len(cols))
//		ptrs := make([]any, len(cols))
//		for i := range row {
//			ptrs[i] = &row[i]
//		}
//		err = rows.Scan(ptrs...)
//	}
//	status, err := sqldialect.ParseReplicaStatus(cols, row)
func ParseReplicaStatus(columns []string, row []sql.NullString) (ReplicaStatus, error) {
	if row == nil {
		return ReplicaStatus{}, nil
	}
	if len(row) != len(columns) {
		return ReplicaStatus{}, fmt.Errorf("%w: %d values for %d columns", ErrBadReplicaStatus, len(row), len(columns))
	}
	s := ReplicaStatus{Configured: true}
	sawIO := false
	for i, col := range columns {
		field := statusColumns[strings.ToLower(col)]
		if field == fieldIgnored {
			continue
		}
		v := row[i]
		var err error
		switch field {
		case fieldSourceHost:
			s.SourceHost = v.String
		case fieldSourcePort:
			s.SourcePort, err = atoi(v)
		case fieldSourceUser:
			s.SourceUser = v.String
		case fieldIORunning:
			s.IO, sawIO = parseThreadState(v.String), true
		case fieldSQLRunning:
			s.SQL = parseThreadState(v.String)
		case fieldSQLRunningState:
			s.SQLRunningState = v.String
		case fieldLag:
			if v.Valid && v.String != "" {
				var lag int64
				lag, err = strconv.ParseInt(v.String, 10, 64)
				s.Lag = &lag
			}
		case fieldLastIOErrno:
			s.LastIOErrno, err = atoi(v)
		case fieldLastIOError:
			s.LastIOError = v.String
		case fieldLastSQLErrno:
			s.LastSQLErrno, err = atoi(v)
		case fieldLastSQLError:
			s.LastSQLError = v.String
		case fieldAutoPosition:
			s.GTIDMode = v.String
			s.AutoPosition = v.String == "1"
		case fieldUsingGTID:
			s.GTIDMode = v.String
			s.AutoPosition = strings.EqualFold(v.String, "Slave_Pos")
		case fieldRetrieved:
			s.RetrievedGTIDSet = joinLines(v.String)
		case fieldExecuted:
			s.ExecutedGTIDSet = joinLines(v.String)
		case fieldConnectRetry:
			s.ConnectRetry, err = atoi(v)
		case fieldSSLAllowed:
			s.SSLAllowed = v.String
		case fieldSSLCAFile:
			s.SSLCAFile = v.String
		case fieldSSLCert:
			s.SSLCert = v.String
		case fieldSSLKey:
			s.SSLKey = v.String
		case fieldSSLVerify:
			s.SSLVerifyServerCert = strings.EqualFold(v.String, "Yes") || v.String == "1"
		}
		if err != nil {
			return ReplicaStatus{}, fmt.Errorf("%w: column %s: %q is not a number", ErrBadReplicaStatus, col, v.String)
		}
	}
	if !sawIO {
		return ReplicaStatus{}, fmt.Errorf("%w: no Replica_IO_Running or Slave_IO_Running column in %d columns", ErrBadReplicaStatus, len(columns))
	}
	return s, nil
}

// atoi parses an integer column; NULL and "" read as 0.
func atoi(v sql.NullString) (int, error) {
	if !v.Valid || v.String == "" {
		return 0, nil
	}
	return strconv.Atoi(v.String)
}

// joinLines removes the line breaks MySQL puts after the commas of long
// GTID sets for display.
func joinLines(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}
