package sqldialect

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMariaDBGTIDList(t *testing.T) {
	tests := []struct {
		in   string
		want []MariaDBGTID
	}{
		{"", nil},
		{" \n\t", nil},
		{"0-1-100", []MariaDBGTID{{0, 1, 100}}},
		{"0-1-100,1-2-5", []MariaDBGTID{{0, 1, 100}, {1, 2, 5}}},
		{" 0-1-100 ,\n1-2-5\n", []MariaDBGTID{{0, 1, 100}, {1, 2, 5}}},
		{"4294967295-4294967295-18446744073709551615", []MariaDBGTID{{4294967295, 4294967295, 18446744073709551615}}},
	}
	for _, tc := range tests {
		got, err := ParseMariaDBGTIDList(tc.in)
		if err != nil {
			t.Errorf("ParseMariaDBGTIDList(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseMariaDBGTIDList(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
	for _, bad := range []string{
		"0-1", "0-1-2-3", "a-1-2", "0-1-", "-1-2", "0-1-2,", ",0-1-2", "0-1-2,,1-2-3",
		"0 -1-2", "+0-1-2", "0-+1-2", "4294967296-1-2", "0-4294967296-2", "0-1-18446744073709551616",
		"3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5",
	} {
		if got, err := ParseMariaDBGTIDList(bad); !errors.Is(err, ErrBadGTID) {
			t.Errorf("ParseMariaDBGTIDList(%q) = %v, %v; want ErrBadGTID", bad, got, err)
		}
	}
	if got := (MariaDBGTID{0, 101, 42}).String(); got != "0-101-42" {
		t.Errorf("String() = %q", got)
	}
}

func TestMariaDBGTIDSubset(t *testing.T) {
	tests := []struct {
		name             string
		replica, primary string
		want             bool
	}{
		{"both empty", "", "", true},
		{"empty replica", "", "0-100-5", true},
		{"equal", "0-100-5", "0-100-5", true},
		{"replica behind", "0-100-3", "0-100-5", true},
		{"replica ahead", "0-100-6", "0-100-5", false},
		{"errant local write", "0-100-5,0-101-6", "0-100-7", false},
		{"former primary's writes known", "0-100-5,0-101-6", "0-100-9,0-101-6", true},
		{"other domain missing on primary", "0-100-5,1-100-1", "0-100-5", false},
		{"several domains", "0-100-5,\n1-100-2", "1-100-3,\n0-100-5,0-102-1", true},
		{"non-empty replica, empty primary", "0-100-1", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MariaDBGTIDSubset(tc.replica, tc.primary)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("MariaDBGTIDSubset(%q, %q) = %t, want %t", tc.replica, tc.primary, got, tc.want)
			}
		})
	}
	if _, err := MariaDBGTIDSubset("x", ""); !errors.Is(err, ErrBadGTID) {
		t.Errorf("bad replica state: error = %v, want ErrBadGTID", err)
	}
	if _, err := MariaDBGTIDSubset("", "0-1"); !errors.Is(err, ErrBadGTID) {
		t.Errorf("bad primary state: error = %v, want ErrBadGTID", err)
	}
}
