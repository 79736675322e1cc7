package bootstrap

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// A failed statement that holds a secret loses the server's message when
// it may quote the statement (a parse error does) but keeps its number;
// CLONE's errors (3707: the copy is in place; 3862: the donor's error) keep
// their text, which names no password and is what a user needs to read.
func TestRedactServerErrorKeepsTheNumber(t *testing.T) {
	secret := sqldialect.Statement{SQL: "CLONE INSTANCE FROM 'r'@'h':3306 IDENTIFIED BY 's3cret'", Redacted: "CLONE INSTANCE FROM 'r'@'h':3306 IDENTIFIED BY '<redacted>'"}
	plain := sqldialect.Statement{SQL: "STOP REPLICA", Redacted: "STOP REPLICA"}
	serverErr := &mysql.MySQLError{Number: 1064, Message: "You have an error in your SQL syntax; near 's3cret' at line 1"}
	donorErr := &mysql.MySQLError{Number: 3862, Message: "Clone Donor Error: Connect failed: 2003 : Can't connect to MySQL server on 'h:3306' (111)."}
	for _, tc := range []struct {
		name      string
		stmt      sqldialect.Statement
		err       error
		errno     uint16
		hasErrno  bool
		keepsText bool
	}{
		{"secret, parse error", secret, serverErr, 1064, true, false},
		{"secret, wrapped parse error", secret, fmt.Errorf("exec: %w", serverErr), 1064, true, false},
		{"secret, clone donor error", secret, donorErr, 3862, true, true},
		{"secret, wrapped clone donor error", secret, fmt.Errorf("exec: %w", donorErr), 3862, true, true},
		{"secret, network error", secret, errors.New("read tcp: connection reset"), 0, false, true},
		{"no secret", plain, serverErr, 1064, true, true},
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
