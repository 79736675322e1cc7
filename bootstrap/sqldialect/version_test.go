package sqldialect

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want Server
		str  string
	}{
		{"8.0.22", Server{MySQL, 8, 0, 22, "8.0.22"}, "MySQL 8.0.22"},
		{"8.0.36-log", Server{MySQL, 8, 0, 36, "8.0.36-log"}, "MySQL 8.0.36"},
		{"8.4.3", Server{MySQL, 8, 4, 3, "8.4.3"}, "MySQL 8.4.3"},
		{"9.1.0", Server{MySQL, 9, 1, 0, "9.1.0"}, "MySQL 9.1.0"},
		{"8.0.36-28", Server{MySQL, 8, 0, 36, "8.0.36-28"}, "MySQL 8.0.36"},
		{" 8.0.36-0ubuntu0.22.04.1\n", Server{MySQL, 8, 0, 36, "8.0.36-0ubuntu0.22.04.1"}, "MySQL 8.0.36"},
		{"10.11.19-MariaDB-0+deb12u1", Server{MariaDB, 10, 11, 19, "10.11.19-MariaDB-0+deb12u1"}, "MariaDB 10.11.19"},
		{"11.4.2-MariaDB-ubu2404", Server{MariaDB, 11, 4, 2, "11.4.2-MariaDB-ubu2404"}, "MariaDB 11.4.2"},
		{"10.11.6-MariaDB-log", Server{MariaDB, 10, 11, 6, "10.11.6-MariaDB-log"}, "MariaDB 10.11.6"},
		{"10.6.16-mariadb", Server{MariaDB, 10, 6, 16, "10.6.16-mariadb"}, "MariaDB 10.6.16"},
		{"5.5.5-10.11.6-MariaDB-1:10.11.6+maria~ubu2204", Server{MariaDB, 10, 11, 6, "5.5.5-10.11.6-MariaDB-1:10.11.6+maria~ubu2204"}, "MariaDB 10.11.6"},
		// A real MySQL 5.5.5 is not mistaken for a handshake prefix.
		{"5.5.5-log", Server{MySQL, 5, 5, 5, "5.5.5-log"}, "MySQL 5.5.5"},
		{"5.7.44", Server{MySQL, 5, 7, 44, "5.7.44"}, "MySQL 5.7.44"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseVersion(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseVersion(%q) (-want +got):\n%s", tc.in, diff)
			}
			if got.String() != tc.str {
				t.Errorf("String() = %q, want %q", got.String(), tc.str)
			}
		})
	}
}

func TestParseVersionErrors(t *testing.T) {
	for _, in := range []string{
		"", "   ", "MariaDB", "8", "8.0", "8.0.", "8..1", "v8.0.36", "8.0.x", "8.0.36log",
		"8.0.36.1", "-8.0.36", "99999999999999999999.0.0", "8.0.36 MySQL",
	} {
		t.Run(in, func(t *testing.T) {
			s, err := ParseVersion(in)
			if err == nil {
				t.Fatalf("ParseVersion(%q) = %v, want error", in, s)
			}
			if !errors.Is(err, ErrBadVersion) {
				t.Errorf("error %v does not wrap ErrBadVersion", err)
			}
		})
	}
}

func TestFlavorString(t *testing.T) {
	got := []string{MySQL.String(), MariaDB.String(), Flavor(0).String()}
	if diff := cmp.Diff([]string{"mysql", "mariadb", "unknown"}, got); diff != "" {
		t.Error(diff)
	}
}

func TestAtLeast(t *testing.T) {
	s := Server{Flavor: MySQL, Major: 8, Minor: 0, Patch: 22}
	for _, tc := range []struct {
		v    [3]int
		want bool
	}{
		{[3]int{8, 0, 22}, true},
		{[3]int{8, 0, 21}, true},
		{[3]int{8, 0, 23}, false},
		{[3]int{7, 9, 99}, true},
		{[3]int{8, 1, 0}, false},
		{[3]int{9, 0, 0}, false},
	} {
		if got := s.AtLeast(tc.v[0], tc.v[1], tc.v[2]); got != tc.want {
			t.Errorf("%v.AtLeast(%v) = %t, want %t", s, tc.v, got, tc.want)
		}
	}
}
