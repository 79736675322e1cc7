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

// TestCopyAccountGrants: the copy account is complete with exactly its
// flavour's privileges (in any spelling SHOW GRANTS uses); anything else
// is extra.
func TestCopyAccountGrants(t *testing.T) {
	t.Parallel()
	mysql, err := New(Server{Flavor: MySQL, Major: 9, Minor: 7, Patch: 4})
	if err != nil {
		t.Fatal(err)
	}
	maria, err := New(Server{Flavor: MariaDB, Major: 11, Minor: 8, Patch: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		d        *Dialect
		lines    []string
		complete bool
		extra    []string
	}{
		{"mysql complete", mysql, []string{"GRANT USAGE ON *.* TO `c`@`%`", "GRANT BACKUP_ADMIN ON *.* TO `c`@`%`"}, true, nil},
		{"mysql missing", mysql, []string{"GRANT USAGE ON *.* TO `c`@`%`"}, false, nil},
		{"mysql extra", mysql, []string{"GRANT SELECT, REPLICATION SLAVE ON *.* TO `c`@`%`", "GRANT BACKUP_ADMIN ON *.* TO `c`@`%`"}, true,
			[]string{"REPLICATION SLAVE ON *.*", "SELECT ON *.*"}},
		{"mariadb complete", maria, []string{"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, REPLICATION SLAVE ADMIN ON *.* TO `b`@`127.0.0.1` IDENTIFIED BY PASSWORD '*AB'",
			"GRANT `mysql_bootstrap_managed` TO `b`@`127.0.0.1`"}, true, nil},
		{"mariadb aliases", maria, []string{"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, REPLICA MONITOR, REPLICATION REPLICA ADMIN ON *.* TO `b`@`127.0.0.1`"}, true, nil},
		{"mariadb missing one", maria, []string{"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO `b`@`127.0.0.1`"}, false, nil},
		{"mariadb on a schema is not enough, and SELECT is extra", maria, []string{"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO `b`@`127.0.0.1`",
			"GRANT SELECT, REPLICATION SLAVE ADMIN ON `app`.* TO `b`@`127.0.0.1`"}, false, []string{"SELECT ON `app`.*", "REPLICATION SLAVE ADMIN ON `app`.*"}},
	} {
		complete, extra := tc.d.CopyAccountGrants(ClassifyGrants(tc.lines))
		if complete != tc.complete || !slices.Equal(extra, tc.extra) {
			t.Errorf("%s: complete %v, extra %q; want %v, %q", tc.name, complete, extra, tc.complete, tc.extra)
		}
	}
}
