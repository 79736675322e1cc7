package sqldialect

import (
	"errors"

	"github.com/go-sql-driver/mysql"
)

// Error numbers the sidecar branches on, in one place. MySQL and MariaDB
// share them unless a comment says otherwise; the server's symbolic name is
// in each comment.
const (
	// ErrnoConCount: too many connections (ER_CON_COUNT_ERROR). The
	// server is up, just full.
	ErrnoConCount uint16 = 1040
	// ErrnoQueryInterrupted: the statement was stopped by KILL QUERY
	// (ER_QUERY_INTERRUPTED), as a stalled CLONE is.
	ErrnoQueryInterrupted uint16 = 1317
	// ErrnoAccessDenied: wrong user or password (ER_ACCESS_DENIED_ERROR);
	// also a replica's Last_IO_Errno when its source refuses the login.
	ErrnoAccessDenied uint16 = 1045
	// ErrnoSourceFatalReadingBinlog: the source cannot send what the
	// replica asks for, typically because it purged those binary logs
	// (ER_MASTER_FATAL_ERROR_READING_BINLOG); MariaDB's Last_IO_Errno for
	// it, MySQL's before 8.0.
	ErrnoSourceFatalReadingBinlog uint16 = 1236
	// ErrnoOptionPreventsStatement: refused because of a server option,
	// typically read_only or super_read_only
	// (ER_OPTION_PREVENTS_STATEMENT).
	ErrnoOptionPreventsStatement uint16 = 1290
	// ErrnoAuthRequiresSecureConnection: caching_sha2_password refused a
	// plain connection without the server's RSA key (client error
	// CR_AUTH_PLUGIN_ERR, "Authentication requires secure connection"),
	// also seen as a MySQL replica's Last_IO_Errno.
	ErrnoAuthRequiresSecureConnection uint16 = 2061
	// ErrnoCloneRestart: the clone is in place but no supervisor process
	// can restart the server on it (ER_CLONE_RESTART_NO_SUPERVISOR... in
	// the manual: "Restart server failed (mysqld is not managed by
	// supervisor process)"): the copy succeeded, the server must be
	// restarted by its container.
	ErrnoCloneRestart uint16 = 3707
	// ErrnoCloneTooMany: a server runs one clone at a time
	// (ER_CLONE_TOO_MANY_CONCURRENT_CLONES); a donor already serving one
	// answers it inside ErrnoCloneDonor.
	ErrnoCloneTooMany uint16 = 3634
	// ErrnoCloneDonor: the donor refused or failed the clone
	// (ER_CLONE_DONOR, "Clone Donor Error: <the donor's errno> : <its
	// message>").
	ErrnoCloneDonor uint16 = 3862
	// ErrnoSourceFatalReadingBinlogMySQL: MySQL 8's Last_IO_Errno for the
	// same condition as ErrnoSourceFatalReadingBinlog
	// (ER_SERVER_SOURCE_FATAL_ERROR_READING_BINLOG).
	ErrnoSourceFatalReadingBinlogMySQL uint16 = 13114
)

// MessageQuotesNoStatement reports whether the server's message for errno
// is made from a template that never quotes the statement (so it cannot
// hold a password the statement carried): MySQL's CLONE errors, from
// ER_CLONE_DONOR (3862, "Clone Donor Error: <the donor's error>") to
// ER_CLONE_DISALLOWED (3875), its restart note, and the access and option
// refusals, which name the account and the option only. A parse error
// (1064) quotes the statement and is not among them.
func MessageQuotesNoStatement(errno uint16) bool {
	if errno >= 3862 && errno <= 3875 {
		return true
	}
	switch errno {
	case ErrnoCloneRestart, ErrnoAccessDenied, ErrnoOptionPreventsStatement, ErrnoConCount:
		return true
	}
	return false
}

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
