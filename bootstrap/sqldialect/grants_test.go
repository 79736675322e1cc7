package sqldialect

import "testing"

func TestHasReplicationGrant(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  bool
	}{
		{"none", nil, false},
		{"MySQL replication only", []string{"GRANT REPLICATION SLAVE ON *.* TO `repl`@`%`"}, true},
		{"MariaDB with password", []string{"GRANT REPLICATION SLAVE ON *.* TO `repl`@`%` IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'"}, true},
		{"MariaDB REPLICATION REPLICA", []string{"GRANT REPLICATION REPLICA ON *.* TO 'repl'@'%'"}, true},
		{"in a list", []string{"GRANT USAGE ON *.* TO `u`@`%`", "GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `u`@`%`"}, true},
		{"lower case, extra spaces", []string{"grant select,  replication   slave on *.* to 'u'@'%'"}, true},
		{"ALL PRIVILEGES", []string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"}, true},
		{"ALL", []string{"GRANT ALL ON *.* TO 'root'@'%'"}, true},
		{"usage only", []string{"GRANT USAGE ON *.* TO `repl`@`%`"}, false},
		{"REPLICATION CLIENT is not enough", []string{"GRANT REPLICATION CLIENT ON *.* TO `repl`@`%`"}, false},
		{"REPLICATION SLAVE ADMIN is not it", []string{"GRANT REPLICATION SLAVE ADMIN ON *.* TO `repl`@`%`"}, false},
		{"ALL on one database", []string{"GRANT ALL PRIVILEGES ON `app`.* TO `app`@`%`"}, false},
		{"database named *", []string{"GRANT ALL PRIVILEGES ON `*`.* TO `app`@`%`"}, false},
		{"role grant", []string{"GRANT `replication_role`@`%` TO `repl`@`%`"}, false},
		{"proxy", []string{"GRANT PROXY ON ''@'' TO 'root'@'localhost' WITH GRANT OPTION"}, false},
		{"column list with ON inside", []string{"GRANT SELECT (`a ON *.* b`, c), INSERT ON `db`.`t` TO `u`@`%`"}, false},
		{"dynamic privileges", []string{"GRANT REPLICATION_APPLIER,REPLICATION_SLAVE_ADMIN ON *.* TO `u`@`%`"}, false},
		{"garbage", []string{"", "GRANT", "REPLICATION SLAVE ON *.*", "GRANT REPLICATION SLAVE ON"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := HasReplicationGrant(tc.lines); got != tc.want {
				t.Errorf("HasReplicationGrant(%q) = %t, want %t", tc.lines, got, tc.want)
			}
		})
	}
}

// FuzzHasReplicationGrant checks that no input makes the grant parser
// panic or loop.
func FuzzHasReplicationGrant(f *testing.F) {
	for _, s := range []string{
		"GRANT REPLICATION SLAVE ON *.* TO `repl`@`%`",
		"GRANT SELECT (`a`, `b`) ON `d`.`t` TO 'u'@'%'",
		"GRANT 'x\\' ON *.* TO", "GRANT ( ON *.*", "GRANT ` ON *.* TO",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		HasReplicationGrant([]string{line})
	})
}
