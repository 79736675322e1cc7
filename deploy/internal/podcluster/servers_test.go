package podcluster

import "testing"

func TestParseServerVersion(t *testing.T) {
	for _, tc := range []struct{ out, want string }{
		{"/usr/sbin/mysqld  Ver 9.7.4-2 for Linux on x86_64 ((Debian))\n", "mysql-9.7.4"},
		{"/usr/sbin/mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)\n2026-12-01 10:36:35 0 [Warning] failed to retrieve the MAC address\n", "mariadb-10.11.19"},
		{"/usr/sbin/mariadbd  Ver 11.8.9-MariaDB-0+deb13u1 from Debian for debian-linux-gnu on x86_64 (-- Please help get to 10k stars at https://github.com/MariaDB/Server)", "mariadb-11.8.9"},
		{"/usr/sbin/mysqld  Ver 8.4.6 for Linux on x86_64 (MySQL Community Server - GPL)", "mysql-8.4.6"},
	} {
		v, err := ParseServerVersion(tc.out)
		if err != nil || v.String() != tc.want {
			t.Errorf("ParseServerVersion(%q) = %v, %v; want %s", tc.out, v, err, tc.want)
		}
	}
	if _, err := ParseServerVersion("bash: mysqld: not found"); err == nil {
		t.Error("ParseServerVersion without a version: no error")
	}
}

func TestLookupServer(t *testing.T) {
	for _, tc := range []struct{ name, image, flavor string }{
		{"mysql-9.7", "mysql-bootstrap/mysql:9.7", "mysql"},
		{"mysql", "mysql-bootstrap/mysql:9.7", "mysql"},
		{"mariadb", "mysql-bootstrap/mariadb:10.11", "mariadb"},
		{"mariadb-11.8", "mysql-bootstrap/mariadb:11.8", "mariadb"},
		{"mysql-bootstrap/mariadb:11.8", "mysql-bootstrap/mariadb:11.8", "mariadb"},
		{"mysql:8.4", "mysql:8.4", "mysql"},
		{"docker.io/library/mariadb:11.4", "docker.io/library/mariadb:11.4", "mariadb"},
		{"example/db:1", "example/db:1", "auto"},
	} {
		s := LookupServer(tc.name)
		if s.Image != tc.image || s.Flavor != tc.flavor {
			t.Errorf("LookupServer(%q) = %+v, want image %s flavour %s", tc.name, s, tc.image, tc.flavor)
		}
	}
}
