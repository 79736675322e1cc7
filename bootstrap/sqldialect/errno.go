package sqldialect

import (
	"errors"

	"github.com/go-sql-driver/mysql"
)

// Server error numbers the sidecar branches on. MySQL and MariaDB share
// them; the server's symbolic name is in each comment.
const (
	// ErrnoConCount: too many connections (ER_CON_COUNT_ERROR).
	ErrnoConCount uint16 = 1040
	// ErrnoDBAccessDenied: access denied to a database
	// (ER_DBACCESS_DENIED_ERROR).
	ErrnoDBAccessDenied uint16 = 1044
	// ErrnoAccessDenied: wrong user or password (ER_ACCESS_DENIED_ERROR).
	ErrnoAccessDenied uint16 = 1045
	// ErrnoBadDB: unknown database (ER_BAD_DB_ERROR).
	ErrnoBadDB uint16 = 1049
	// ErrnoServerShutdown: the server is shutting down
	// (ER_SERVER_SHUTDOWN).
	ErrnoServerShutdown uint16 = 1053
	// ErrnoParse: SQL syntax error, for example a statement the version
	// does not know (ER_PARSE_ERROR).
	ErrnoParse uint16 = 1064
	// ErrnoHostNotPrivileged: the client's host may not connect
	// (ER_HOST_NOT_PRIVILEGED).
	ErrnoHostNotPrivileged uint16 = 1130
	// ErrnoNonexistingGrant: SHOW GRANTS for an account that does not
	// exist (ER_NONEXISTING_GRANT).
	ErrnoNonexistingGrant uint16 = 1141
	// ErrnoNoSuchTable: the table does not exist (ER_NO_SUCH_TABLE).
	ErrnoNoSuchTable uint16 = 1146
	// ErrnoUnknownSystemVariable: the server does not have that variable,
	// such as super_read_only on MariaDB (ER_UNKNOWN_SYSTEM_VARIABLE).
	ErrnoUnknownSystemVariable uint16 = 1193
	// ErrnoReplicaMustStop: the statement needs the replication threads
	// stopped first (ER_SLAVE_MUST_STOP).
	ErrnoReplicaMustStop uint16 = 1198
	// ErrnoReplicaNotConfigured: no source configured yet, for example
	// START REPLICA before CHANGE … TO (ER_BAD_SLAVE).
	ErrnoReplicaNotConfigured uint16 = 1200
	// ErrnoLockWaitTimeout: lock wait timeout exceeded
	// (ER_LOCK_WAIT_TIMEOUT).
	ErrnoLockWaitTimeout uint16 = 1205
	// ErrnoLockDeadlock: deadlock found (ER_LOCK_DEADLOCK).
	ErrnoLockDeadlock uint16 = 1213
	// ErrnoSpecificAccessDenied: the account lacks a privilege the
	// statement needs (ER_SPECIFIC_ACCESS_DENIED_ERROR).
	ErrnoSpecificAccessDenied uint16 = 1227
	// ErrnoSourceFatalReadingBinlog: the source cannot send what the
	// replica asks for, typically because it purged those binary logs; seen
	// as the replica's Last_IO_Errno (ER_MASTER_FATAL_ERROR_READING_BINLOG).
	ErrnoSourceFatalReadingBinlog uint16 = 1236
	// ErrnoOptionPreventsStatement: refused because of a server option,
	// typically read_only or super_read_only
	// (ER_OPTION_PREVENTS_STATEMENT).
	ErrnoOptionPreventsStatement uint16 = 1290
	// ErrnoQueryInterrupted: the statement was killed
	// (ER_QUERY_INTERRUPTED).
	ErrnoQueryInterrupted uint16 = 1317
	// ErrnoCannotUser: CREATE/ALTER/DROP USER failed, for example creating
	// an account that exists without IF NOT EXISTS (ER_CANNOT_USER).
	ErrnoCannotUser uint16 = 1396
	// ErrnoChangeSourcePasswordLength: replication password longer than 32
	// characters (ER_CHANGE_MASTER_PASSWORD_LENGTH).
	ErrnoChangeSourcePasswordLength uint16 = 3056
)

// Errno returns the server error number carried by err (anywhere in its
// chain) and true, or 0 and false when err is not a *mysql.MySQLError.
func Errno(err error) (uint16, bool) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number, true
	}
	return 0, false
}

// IsErrno reports whether err carries one of the given server error
// numbers.
func IsErrno(err error, numbers ...uint16) bool {
	n, ok := Errno(err)
	if !ok {
		return false
	}
	for _, want := range numbers {
		if n == want {
			return true
		}
	}
	return false
}
