package seed

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadPosition(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		files   map[string]string
		want    Position
		wantErr bool
	}{
		{
			name:  "10.11 primary",
			files: map[string]string{"xtrabackup_binlog_info": "mysql-bin.000001\t1435\t0-7-7\n"},
			want:  Position{GTID: "0-7-7", BinlogFile: "mysql-bin.000001", BinlogPos: 1435},
		},
		{
			name:  "11.x names, several domains",
			files: map[string]string{"mariadb_backup_binlog_info": "mysql-bin.000003\t42\t0-1-100,1-2-7\n"},
			want:  Position{GTID: "0-1-100,1-2-7", BinlogFile: "mysql-bin.000003", BinlogPos: 42},
		},
		{
			name:  "a line per binary log, the last one holds the position",
			files: map[string]string{"mariadb_backup_binlog_info": "mysql-bin.000001\t900\t[]\nmysql-bin.000002\t330\t0-1-12\n"},
			want:  Position{GTID: "0-1-12", BinlogFile: "mysql-bin.000002", BinlogPos: 330},
		},
		{
			name: "new name wins over the old",
			files: map[string]string{
				"mariadb_backup_binlog_info": "mysql-bin.000002\t1\t0-1-2\n",
				"xtrabackup_binlog_info":     "mysql-bin.000001\t1\t0-1-1\n",
			},
			want: Position{GTID: "0-1-2", BinlogFile: "mysql-bin.000002", BinlogPos: 1},
		},
		{
			name: "replica donor: the binlog's position describes the data",
			files: map[string]string{
				"xtrabackup_binlog_info": "mysql-bin.000004\t777\t0-1-50,0-3-2\n",
				"xtrabackup_slave_info":  "SET GLOBAL gtid_slave_pos = '0-1-50';\nCHANGE MASTER TO master_use_gtid = slave_pos\n",
			},
			want: Position{GTID: "0-1-50,0-3-2", BinlogFile: "mysql-bin.000004", BinlogPos: 777, DonorSlavePos: "0-1-50"},
		},
		{
			name:  "replica donor without a binary log",
			files: map[string]string{"mariadb_backup_slave_info": "SET GLOBAL gtid_slave_pos = '0-1-9, 2-1-3';\nCHANGE MASTER TO master_use_gtid = slave_pos\n"},
			want:  Position{GTID: "0-1-9,2-1-3", DonorSlavePos: "0-1-9,2-1-3"},
		},
		{
			name:  "replica by file and position: no GTID",
			files: map[string]string{"xtrabackup_slave_info": "CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000002', MASTER_LOG_POS=4\n"},
			want:  Position{},
		},
		{
			name:  "binary log without GTIDs",
			files: map[string]string{"xtrabackup_binlog_info": "mysql-bin.000001\t328\n"},
			want:  Position{BinlogFile: "mysql-bin.000001", BinlogPos: 328},
		},
		{name: "nothing recorded", want: Position{}},
		{name: "garbage GTID", files: map[string]string{"xtrabackup_binlog_info": "f\t1\t0-1-1'; DROP\n"}, wantErr: true},
		{name: "garbage position", files: map[string]string{"xtrabackup_binlog_info": "f\tx\t0-1-1\n"}, wantErr: true},
		{name: "empty file", files: map[string]string{"xtrabackup_binlog_info": "\n"}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, c := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadPosition(dir)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ReadPosition = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ReadPosition (-want +got):\n%s", d)
			}
		})
	}
}

func TestTailReason(t *testing.T) {
	t.Parallel()
	tl := newTail()
	for i := 0; i < 100; i++ {
		tl.Write([]byte("[01] 2026-12-01 11:15:16 Streaming ./db/t.ibd\n"))
	}
	tl.Write([]byte("[00] 2026-12-01 11:17:52 Failed to connect to MariaDB server: Access denied for user 'seed'@'localhost' (pw hunter2).\n"))
	tl.Write([]byte("[00] 2026-12-01 11:17:52 done\n"))
	if n := len(tl.Lines()); n != tailLines {
		t.Errorf("%d lines kept, want %d", n, tailLines)
	}
	want := "Failed to connect to MariaDB server: Access denied for user 'seed'@'localhost' (pw ***)."
	if got := tl.Reason("hunter2"); got != want {
		t.Errorf("Reason = %q, want %q", got, want)
	}
}

func TestMergeBinlogState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, pos, donor, want string
	}{
		{"no state from the donor: the position", "0-100-42", "", "0-100-42"},
		{"every server_id the copy holds", "0-100-42", "0-4242-7,0-100-45", "0-4242-7,0-100-42"},
		{"a server_id whose last GTID came after the copy is left out", "0-100-42", "0-100-43,0-7-44", "0-100-42"},
		{"several domains, the position's GTID last in each", "0-100-42,1-100-9", "1-5-3,0-100-50,0-4242-7,1-100-9,2-100-1", "0-4242-7,0-100-42,1-5-3,1-100-9"},
		{"a donor whose position is itself every server_id", "0-1-50,0-3-2", "0-1-60,0-3-2", "0-3-2,0-1-50"},
	} {
		got, err := MergeBinlogState(tc.pos, tc.donor)
		if err != nil || got != tc.want {
			t.Errorf("%s: MergeBinlogState(%q, %q) = %q %v, want %q", tc.name, tc.pos, tc.donor, got, err, tc.want)
		}
	}
	if _, err := MergeBinlogState("0-100-42", "not a list"); err == nil {
		t.Error("a malformed donor state was accepted")
	}
}
