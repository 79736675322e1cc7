package bootstrap

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// A failed statement that holds a secret loses the server's message (it
// may quote the statement) but keeps its number: CLONE's 3707 (the copy is
// in place, the container restarts the server) must still read as one.
func TestRedactServerErrorKeepsTheNumber(t *testing.T) {
	secret := sqldialect.Statement{SQL: "CLONE INSTANCE FROM 'r'@'h':3306 IDENTIFIED BY 's3cret'", Redacted: "CLONE INSTANCE FROM 'r'@'h':3306 IDENTIFIED BY '<redacted>'"}
	plain := sqldialect.Statement{SQL: "STOP REPLICA", Redacted: "STOP REPLICA"}
	serverErr := &mysql.MySQLError{Number: sqldialect.ErrnoCloneRestart, Message: "near 's3cret': Restart server failed"}
	for _, tc := range []struct {
		name      string
		stmt      sqldialect.Statement
		err       error
		errno     uint16
		hasErrno  bool
		keepsText bool
	}{
		{"secret, server error", secret, serverErr, sqldialect.ErrnoCloneRestart, true, false},
		{"secret, wrapped server error", secret, fmt.Errorf("exec: %w", serverErr), sqldialect.ErrnoCloneRestart, true, false},
		{"secret, network error", secret, errors.New("read tcp: connection reset"), 0, false, true},
		{"no secret", plain, serverErr, sqldialect.ErrnoCloneRestart, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := redactServerError(tc.stmt, tc.err)
			n, ok := sqldialect.Errno(got)
			if ok != tc.hasErrno || n != tc.errno {
				t.Errorf("Errno = %d, %v; want %d, %v", n, ok, tc.errno, tc.hasErrno)
			}
			if tc.stmt.SQL != tc.stmt.Redacted && strings.Contains(got.Error(), "s3cret") {
				t.Errorf("the secret is in %q", got)
			}
			if keeps := got.Error() == tc.err.Error(); keeps != tc.keepsText {
				t.Errorf("%q from %q: message kept %v, want %v", got, tc.err, keeps, tc.keepsText)
			}
		})
	}
}
