package sqldialect

import (
	"slices"
	"strings"
	"testing"
)

func TestClassifyGrants(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		repl  bool
		extra []string
	}{
		{"none", nil, false, nil},
		{"MySQL replication only", []string{"GRANT USAGE ON *.* TO `repl`@`%`", "GRANT REPLICATION SLAVE ON *.* TO `repl`@`%`"}, true, nil},
		{"MySQL replication and clone donor", []string{"GRANT REPLICATION SLAVE ON *.* TO `repl`@`%`", "GRANT BACKUP_ADMIN ON *.* TO `repl`@`%`"}, true, nil},
		{"MariaDB with password and marker role", []string{"GRANT `mysql_bootstrap_managed` TO `repl`@`%`",
			"GRANT REPLICATION SLAVE ON *.* TO `repl`@`%` IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19' REQUIRE SSL"}, true, nil},
		{"MariaDB REPLICATION REPLICA", []string{"GRANT REPLICATION REPLICA ON *.* TO 'repl'@'%'"}, true, nil},
		{"in a list", []string{"GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `u`@`%`"}, true,
			[]string{"SELECT ON *.*", "RELOAD ON *.*", "REPLICATION CLIENT ON *.*"}},
		{"lower case, extra spaces", []string{"grant select,  replication   slave on *.* to 'u'@'%'"}, true, []string{"SELECT ON *.*"}},
		{"ALL PRIVILEGES is not ours", []string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"}, false,
			[]string{"ALL PRIVILEGES ON *.*"}},
		{"usage only", []string{"GRANT USAGE ON *.* TO `repl`@`%`"}, false, nil},
		{"REPLICATION SLAVE ADMIN is not it", []string{"GRANT REPLICATION SLAVE ADMIN ON *.* TO `repl`@`%`"}, false,
			[]string{"REPLICATION SLAVE ADMIN ON *.*"}},
		{"replication on one database does not count", []string{"GRANT REPLICATION SLAVE ON `app`.* TO `app`@`%`"}, false,
			[]string{"REPLICATION SLAVE ON `app`.*"}},
		{"a MySQL role", []string{"GRANT `app_role`@`%` TO `repl`@`%`"}, false, []string{"role `app_role`"}},
		{"a MariaDB role", []string{"GRANT `app_role` TO `repl`@`%`"}, false, []string{"role `app_role`"}},
		{"proxy", []string{"GRANT PROXY ON ''@'' TO 'root'@'localhost' WITH GRANT OPTION"}, false, []string{"PROXY ON ''@''"}},
		{"column list with ON inside", []string{"GRANT SELECT (`a ON *.* b`, c), INSERT ON `db`.`t` TO `u`@`%`"}, false,
			[]string{"SELECT (`A ON *.* B`, C) ON `db`.`t`", "INSERT ON `db`.`t`"}},
		{"garbage", []string{"", "GRANT"}, false, []string{"unrecognised grant", "unrecognised grant"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := ClassifyGrants(tc.lines)
			if g.Replication != tc.repl || !slices.Equal(g.Extra, tc.extra) {
				t.Errorf("ClassifyGrants(%q) = %+v, want replication %t, extra %q", tc.lines, g, tc.repl, tc.extra)
			}
			for _, e := range g.Extra {
				if strings.Contains(e, "PASSWORD") {
					t.Errorf("a password hash leaked into %q", e)
				}
			}
		})
	}
}

// FuzzClassifyGrants checks that no input makes the grant parser
// panic or loop.
func FuzzClassifyGrants(f *testing.F) {
	for _, s := range []string{
		"GRANT REPLICATION SLAVE ON *.* TO `repl`@`%`",
		"GRANT SELECT (`a`, `b`) ON `d`.`t` TO 'u'@'%'",
		"GRANT 'x\\' ON *.* TO", "GRANT ( ON *.*", "GRANT ` ON *.* TO",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		ClassifyGrants([]string{line})
	})
}
