package bootstrap

import (
	"testing"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
)

func TestCloneFailureKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		errno  uint16
		msg    string
		killed bool
		want   string
	}{
		{3862, "Clone Donor Error: 3634 : Too many concurrent clone operations. Maximum allowed - 1.", false, decide.SeedBusy},
		{3634, "Too many concurrent clone operations. Maximum allowed - 1.", false, decide.SeedBusy},
		{1317, "Query execution was interrupted", false, decide.SeedStalled},
		{3862, "Clone Donor Error: 1045 : Access denied", true, decide.SeedStalled},
		{3862, "Clone Donor Error: 1045 : Access denied", false, ""},
		{3707, "Restart server failed (mysqld is not managed by supervisor process).", false, ""},
		{3862, "Clone Donor Error: Connect failed: 2005 : Unknown MySQL server host 'mysql-2.mysql.default.svc.cluster.local' (-2).", false, decide.SeedLost},
		{3862, "Clone Donor Error: 2013 : Lost connection to MySQL server during query.", false, decide.SeedLost},
		{2013, "Lost connection to MySQL server during query", false, decide.SeedLost},
		{1158, "Got an error reading communication packets", false, decide.SeedLost},
		{3862, "Clone Donor Error: 1227 : Access denied; you need (at least one of) the BACKUP_ADMIN privilege(s)", false, ""},
	} {
		if got := cloneFailureKind(tc.errno, tc.msg, tc.killed); got != tc.want {
			t.Errorf("cloneFailureKind(%d, %q, %v) = %q, want %q", tc.errno, tc.msg, tc.killed, got, tc.want)
		}
	}
}
