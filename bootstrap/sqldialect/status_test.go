package sqldialect

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Column lists as the servers send them.
var (
	mysql84Columns = []string{
		"Replica_IO_State", "Source_Host", "Source_User", "Source_Port", "Connect_Retry",
		"Source_Log_File", "Read_Source_Log_Pos", "Relay_Log_File", "Relay_Log_Pos",
		"Relay_Source_Log_File", "Replica_IO_Running", "Replica_SQL_Running", "Replicate_Do_DB",
		"Replicate_Ignore_DB", "Replicate_Do_Table", "Replicate_Ignore_Table",
		"Replicate_Wild_Do_Table", "Replicate_Wild_Ignore_Table", "Last_Errno", "Last_Error",
		"Skip_Counter", "Exec_Source_Log_Pos", "Relay_Log_Space", "Until_Condition",
		"Until_Log_File", "Until_Log_Pos", "Source_SSL_Allowed", "Source_SSL_CA_File",
		"Source_SSL_CA_Path", "Source_SSL_Cert", "Source_SSL_Cipher", "Source_SSL_Key",
		"Seconds_Behind_Source", "Source_SSL_Verify_Server_Cert", "Last_IO_Errno", "Last_IO_Error",
		"Last_SQL_Errno", "Last_SQL_Error", "Replicate_Ignore_Server_Ids", "Source_Server_Id",
		"Source_UUID", "Source_Info_File", "SQL_Delay", "SQL_Remaining_Delay",
		"Replica_SQL_Running_State", "Source_Retry_Count", "Source_Bind",
		"Last_IO_Error_Timestamp", "Last_SQL_Error_Timestamp", "Source_SSL_Crl",
		"Source_SSL_Crlpath", "Retrieved_Gtid_Set", "Executed_Gtid_Set", "Auto_Position",
		"Replicate_Rewrite_DB", "Channel_Name", "Source_TLS_Version", "Source_public_key_path",
		"Get_Source_public_key", "Network_Namespace",
	}
	mariadb1011Columns = []string{
		"Slave_IO_State", "Master_Host", "Master_User", "Master_Port", "Connect_Retry",
		"Master_Log_File", "Read_Master_Log_Pos", "Relay_Log_File", "Relay_Log_Pos",
		"Relay_Master_Log_File", "Slave_IO_Running", "Slave_SQL_Running", "Replicate_Rewrite_DB",
		"Replicate_Do_DB", "Replicate_Ignore_DB", "Replicate_Do_Table", "Replicate_Ignore_Table",
		"Replicate_Wild_Do_Table", "Replicate_Wild_Ignore_Table", "Last_Errno", "Last_Error",
		"Skip_Counter", "Exec_Master_Log_Pos", "Relay_Log_Space", "Until_Condition",
		"Until_Log_File", "Until_Log_Pos", "Master_SSL_Allowed", "Master_SSL_CA_File",
		"Master_SSL_CA_Path", "Master_SSL_Cert", "Master_SSL_Cipher", "Master_SSL_Key",
		"Seconds_Behind_Master", "Master_SSL_Verify_Server_Cert", "Last_IO_Errno", "Last_IO_Error",
		"Last_SQL_Errno", "Last_SQL_Error", "Replicate_Ignore_Server_Ids", "Master_Server_Id",
		"Master_SSL_Crl", "Master_SSL_Crlpath", "Using_Gtid", "Gtid_IO_Pos",
		"Replicate_Do_Domain_Ids", "Replicate_Ignore_Domain_Ids", "Parallel_Mode", "SQL_Delay",
		"SQL_Remaining_Delay", "Slave_SQL_Running_State", "Slave_DDL_Groups",
		"Slave_Non_Transactional_Groups", "Slave_Transactional_Groups",
	}
)

// row builds a row for columns from name -> value; a value of nil is NULL,
// columns not mentioned are "".
func row(t *testing.T, columns []string, values map[string]any) []sql.NullString {
	t.Helper()
	r := make([]sql.NullString, len(columns))
	seen := 0
	for i, c := range columns {
		v, ok := values[c]
		if !ok {
			r[i] = sql.NullString{Valid: true}
			continue
		}
		seen++
		if v != nil {
			r[i] = sql.NullString{String: fmt.Sprint(v), Valid: true}
		}
	}
	if seen != len(values) {
		t.Fatalf("values name columns that are not in the list: %v", values)
	}
	return r
}

func ptr(n int64) *int64 { return &n }

func TestParseReplicaStatus(t *testing.T) {
	const host = "mysql-0.mysql.db.svc.cluster.local."
	tests := []struct {
		name    string
		columns []string
		values  map[string]any // nil map: no row
		want    ReplicaStatus
		running bool
		lastErr string
	}{
		{
			name:    "no row",
			columns: mysql84Columns,
			want:    ReplicaStatus{},
		},
		{
			name:    "MySQL 8.4 running",
			columns: mysql84Columns,
			values: map[string]any{
				"Replica_IO_State": "Waiting for source to send event", "Source_Host": host,
				"Source_User": "repl", "Source_Port": 3306, "Connect_Retry": 1,
				"Replica_IO_Running": "Yes", "Replica_SQL_Running": "Yes",
				"Seconds_Behind_Source": 0, "Last_IO_Errno": 0, "Last_SQL_Errno": 0,
				"Replica_SQL_Running_State": "Replica has read all relay log; waiting for more updates",
				"Retrieved_Gtid_Set":        "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5",
				"Executed_Gtid_Set":         "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,\n4E11FA47-71CA-11E1-9E33-C80AA9429562:1-2",
				"Auto_Position":             1,
			},
			want: ReplicaStatus{
				Configured: true, SourceHost: host, SourcePort: 3306, SourceUser: "repl",
				IO: ThreadRunning, SQL: ThreadRunning,
				SQLRunningState: "Replica has read all relay log; waiting for more updates",
				Lag:             ptr(0), AutoPosition: true, GTIDMode: "1",
				RetrievedGTIDSet: "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5",
				ExecutedGTIDSet:  "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,4E11FA47-71CA-11E1-9E33-C80AA9429562:1-2",
				ConnectRetry:     1,
			},
			running: true,
		},
		{
			name:    "MySQL 8.4 connecting, NULL lag",
			columns: mysql84Columns,
			values: map[string]any{
				"Source_Host": host, "Source_User": "repl", "Source_Port": 3306, "Connect_Retry": 1,
				"Replica_IO_Running": "Connecting", "Replica_SQL_Running": "Yes",
				"Seconds_Behind_Source": nil, "Last_IO_Errno": 2005,
				"Last_IO_Error": "Error connecting to source 'repl@mysql-0.mysql.db.svc.cluster.local.:3306'.\nThis was attempt 3/86400, with a delay of 1 seconds between attempts. Message: Unknown MySQL server host 'mysql-0.mysql.db.svc.cluster.local.' (-2)",
				"Auto_Position": 1,
			},
			want: ReplicaStatus{
				Configured: true, SourceHost: host, SourcePort: 3306, SourceUser: "repl",
				IO: ThreadConnecting, SQL: ThreadRunning, LastIOErrno: 2005,
				LastIOError:  "Error connecting to source 'repl@mysql-0.mysql.db.svc.cluster.local.:3306'.\nThis was attempt 3/86400, with a delay of 1 seconds between attempts. Message: Unknown MySQL server host 'mysql-0.mysql.db.svc.cluster.local.' (-2)",
				AutoPosition: true, GTIDMode: "1", ConnectRetry: 1,
			},
			lastErr: "IO error 2005: Error connecting to source 'repl@mysql-0.mysql.db.svc.cluster.local.:3306'. This was attempt 3/86400, with a delay of 1 seconds between attempts. Message: Unknown MySQL server host 'mysql-0.mysql.db.svc.cluster.local.' (-2)",
		},
		{
			name:    "MySQL 8.4 SQL thread stopped on error",
			columns: mysql84Columns,
			values: map[string]any{
				"Source_Host": host, "Source_User": "repl", "Source_Port": 3306,
				"Replica_IO_Running": "Yes", "Replica_SQL_Running": "No",
				"Seconds_Behind_Source": nil, "Last_SQL_Errno": 1062,
				"Last_SQL_Error": "Could not execute Write_rows event on table db.t; Duplicate entry '1' for key 't.PRIMARY'",
				"Auto_Position":  0,
			},
			want: ReplicaStatus{
				Configured: true, SourceHost: host, SourcePort: 3306, SourceUser: "repl",
				IO: ThreadRunning, SQL: ThreadStopped, LastSQLErrno: 1062,
				LastSQLError: "Could not execute Write_rows event on table db.t; Duplicate entry '1' for key 't.PRIMARY'",
				GTIDMode:     "0",
			},
			lastErr: "SQL error 1062: Could not execute Write_rows event on table db.t; Duplicate entry '1' for key 't.PRIMARY'",
		},
		{
			name:    "MariaDB 10.11 running with lag",
			columns: mariadb1011Columns,
			values: map[string]any{
				"Slave_IO_State": "Waiting for master to send event", "Master_Host": "mysql-0.mysql",
				"Master_User": "repl", "Master_Port": 3306, "Connect_Retry": 1,
				"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Seconds_Behind_Master": 12,
				"Using_Gtid": "Slave_Pos", "Gtid_IO_Pos": "0-100-42",
				"Slave_SQL_Running_State": "Slave has read all relay log; waiting for more updates",
			},
			want: ReplicaStatus{
				Configured: true, SourceHost: "mysql-0.mysql", SourcePort: 3306, SourceUser: "repl",
				IO: ThreadRunning, SQL: ThreadRunning,
				SQLRunningState: "Slave has read all relay log; waiting for more updates",
				Lag:             ptr(12), AutoPosition: true, GTIDMode: "Slave_Pos",
				RetrievedGTIDSet: "0-100-42", ConnectRetry: 1,
			},
			running: true,
		},
		{
			name:    "MariaDB 10.11 both threads failing, current_pos",
			columns: mariadb1011Columns,
			values: map[string]any{
				"Master_Host": "mysql-0.mysql", "Master_User": "repl", "Master_Port": 3306,
				"Connect_Retry": 60, "Slave_IO_Running": "No", "Slave_SQL_Running": "No",
				"Seconds_Behind_Master": nil, "Last_IO_Errno": 1236,
				"Last_IO_Error":  "Got fatal error 1236 from master when reading data from binary log: 'Error: connecting slave requested to start from GTID 0-101-5, which is not in the master's binlog'",
				"Last_SQL_Errno": 1146, "Last_SQL_Error": "Table 'db.t' doesn't exist",
				"Using_Gtid": "Current_Pos",
			},
			want: ReplicaStatus{
				Configured: true, SourceHost: "mysql-0.mysql", SourcePort: 3306, SourceUser: "repl",
				IO: ThreadStopped, SQL: ThreadStopped, LastIOErrno: 1236,
				LastIOError:  "Got fatal error 1236 from master when reading data from binary log: 'Error: connecting slave requested to start from GTID 0-101-5, which is not in the master's binlog'",
				LastSQLErrno: 1146, LastSQLError: "Table 'db.t' doesn't exist",
				GTIDMode: "Current_Pos", ConnectRetry: 60,
			},
			lastErr: "IO error 1236: Got fatal error 1236 from master when reading data from binary log: 'Error: connecting slave requested to start from GTID 0-101-5, which is not in the master's binlog'; SQL error 1146: Table 'db.t' doesn't exist",
		},
		{
			name:    "MariaDB SHOW ALL REPLICAS STATUS extra columns",
			columns: slices.Concat([]string{"Connection_name"}, mariadb1011Columns, []string{"Gtid_Slave_Pos"}),
			values: map[string]any{
				"Connection_name": "", "Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes",
				"Seconds_Behind_Master": 0, "Using_Gtid": "slave_pos", "Gtid_Slave_Pos": "0-100-42,1-7-3",
			},
			want: ReplicaStatus{
				Configured: true, IO: ThreadRunning, SQL: ThreadRunning, Lag: ptr(0),
				AutoPosition: true, GTIDMode: "slave_pos", ExecutedGTIDSet: "0-100-42,1-7-3",
			},
			running: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r []sql.NullString
			if tc.values != nil {
				r = row(t, tc.columns, tc.values)
			}
			got, err := ParseReplicaStatus(tc.columns, r)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.Running() != tc.running {
				t.Errorf("Running() = %t, want %t", got.Running(), tc.running)
			}
			if got.LastError() != tc.lastErr {
				t.Errorf("LastError() = %q\nwant          %q", got.LastError(), tc.lastErr)
			}
		})
	}
}

func TestParseReplicaStatusErrors(t *testing.T) {
	tests := []struct {
		name    string
		columns []string
		row     []sql.NullString
	}{
		{"length mismatch", []string{"Replica_IO_Running", "Replica_SQL_Running"}, []sql.NullString{{String: "Yes", Valid: true}}},
		{"not a status row", []string{"Variable_name", "Value"}, []sql.NullString{{String: "a", Valid: true}, {String: "b", Valid: true}}},
		{"bad port", []string{"Slave_IO_Running", "Master_Port"}, []sql.NullString{{String: "Yes", Valid: true}, {String: "x", Valid: true}}},
		{"bad lag", []string{"Replica_IO_Running", "Seconds_Behind_Source"}, []sql.NullString{{String: "Yes", Valid: true}, {String: "1.5", Valid: true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseReplicaStatus(tc.columns, tc.row)
			if !errors.Is(err, ErrBadReplicaStatus) {
				t.Fatalf("error = %v, want ErrBadReplicaStatus", err)
			}
		})
	}
}

func TestNullLagIsNotZero(t *testing.T) {
	for _, cols := range [][]string{mysql84Columns, mariadb1011Columns} {
		lagCol, ioCol := "Seconds_Behind_Source", "Replica_IO_Running"
		if cols[0] == "Slave_IO_State" {
			lagCol, ioCol = "Seconds_Behind_Master", "Slave_IO_Running"
		}
		got, err := ParseReplicaStatus(cols, row(t, cols, map[string]any{lagCol: nil, ioCol: "Connecting"}))
		if err != nil {
			t.Fatal(err)
		}
		if got.Lag != nil {
			t.Errorf("%s NULL parsed as %d, want nil", lagCol, *got.Lag)
		}
	}
}

func TestPointsAt(t *testing.T) {
	base := ReplicaStatus{
		Configured: true, SourceHost: "mysql-0.mysql.db.svc.cluster.local", SourcePort: 3306,
		SourceUser: "repl", AutoPosition: true,
	}
	tests := []struct {
		name string
		edit func(*ReplicaStatus)
		host string
		port int
		user string
		want bool
	}{
		{"same", func(*ReplicaStatus) {}, "mysql-0.mysql.db.svc.cluster.local", 3306, "repl", true},
		{"trailing dot asked", func(*ReplicaStatus) {}, "mysql-0.mysql.db.svc.cluster.local.", 3306, "repl", true},
		{"trailing dot configured", func(s *ReplicaStatus) { s.SourceHost += "." }, "mysql-0.mysql.db.svc.cluster.local", 3306, "repl", true},
		{"host case", func(*ReplicaStatus) {}, "MySQL-0.mysql.DB.svc.cluster.local", 3306, "repl", true},
		{"other host", func(*ReplicaStatus) {}, "mysql-1.mysql.db.svc.cluster.local", 3306, "repl", false},
		{"short name", func(*ReplicaStatus) {}, "mysql-0.mysql", 3306, "repl", false},
		{"other port", func(*ReplicaStatus) {}, "mysql-0.mysql.db.svc.cluster.local", 3307, "repl", false},
		{"user case matters", func(*ReplicaStatus) {}, "mysql-0.mysql.db.svc.cluster.local", 3306, "Repl", false},
		{"no auto position", func(s *ReplicaStatus) { s.AutoPosition = false }, "mysql-0.mysql.db.svc.cluster.local", 3306, "repl", false},
		{"not configured", func(s *ReplicaStatus) { s.Configured = false }, "mysql-0.mysql.db.svc.cluster.local", 3306, "repl", false},
		{"empty status", func(s *ReplicaStatus) { *s = ReplicaStatus{} }, "", 0, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.edit(&s)
			if got := s.PointsAt(tc.host, tc.port, tc.user); got != tc.want {
				t.Errorf("PointsAt(%q, %d, %q) = %t, want %t", tc.host, tc.port, tc.user, got, tc.want)
			}
		})
	}
}

func ExampleParseReplicaStatus() {
	// As read from SHOW REPLICA STATUS on MariaDB while the source restarts.
	columns := []string{"Master_Host", "Master_Port", "Master_User", "Slave_IO_Running",
		"Slave_SQL_Running", "Seconds_Behind_Master", "Last_IO_Errno", "Last_IO_Error", "Using_Gtid"}
	row := []sql.NullString{
		{String: "mysql-0.mysql.db.svc.cluster.local.", Valid: true},
		{String: "3306", Valid: true},
		{String: "repl", Valid: true},
		{String: "Connecting", Valid: true},
		{String: "Yes", Valid: true},
		{}, // NULL
		{String: "2003", Valid: true},
		{String: "error connecting to master 'repl@mysql-0.mysql.db.svc.cluster.local.:3306' - retry-time: 1  maximum-retries: 100000  message: Can't connect to server on 'mysql-0.mysql.db.svc.cluster.local.' (111 \"Connection refused\")", Valid: true},
		{String: "Slave_Pos", Valid: true},
	}
	s, err := ParseReplicaStatus(columns, row)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Running(), s.Lag == nil, s.PointsAt("mysql-0.mysql.db.svc.cluster.local", 3306, "repl"))
	fmt.Println(s.LastError())
	// Output:
	// false true true
	// IO error 2003: error connecting to master 'repl@mysql-0.mysql.db.svc.cluster.local.:3306' - retry-time: 1 maximum-retries: 100000 message: Can't connect to server on 'mysql-0.mysql.db.svc.cluster.local.' (111 "Connection refused")
}
