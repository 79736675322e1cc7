package sqldialect

import (
	"errors"
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestErrno(t *testing.T) {
	wrapped := fmt.Errorf("set read only: %w", &mysql.MySQLError{Number: 1290, Message: "The MySQL server is running with the --super-read-only option"})
	if n, ok := Errno(wrapped); !ok || n != ErrnoOptionPreventsStatement {
		t.Errorf("Errno(wrapped 1290) = %d, %t", n, ok)
	}
	if !IsErrno(wrapped, ErrnoAccessDenied, ErrnoOptionPreventsStatement) {
		t.Error("IsErrno(wrapped 1290, 1045, 1290) = false")
	}
	if IsErrno(wrapped, ErrnoAccessDenied) {
		t.Error("IsErrno(wrapped 1290, 1045) = true")
	}
	for _, err := range []error{nil, errors.New("1290"), mysql.ErrInvalidConn} {
		if n, ok := Errno(err); ok {
			t.Errorf("Errno(%v) = %d, true", err, n)
		}
		if IsErrno(err, 0, ErrnoOptionPreventsStatement) {
			t.Errorf("IsErrno(%v) = true", err)
		}
	}
}
