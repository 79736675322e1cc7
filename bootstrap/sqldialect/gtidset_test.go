package sqldialect

import (
	"errors"
	"testing"
)

const (
	uuidA = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	uuidB = "b7e9d9c2-0000-11ef-8000-000000000002"
)

func TestParseGTIDSetString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		flavor Flavor
		in     string
		want   string
		count  uint64
	}{
		{MySQL, "", "", 0},
		{MySQL, " \n", "", 0},
		{MySQL, uuidA + ":1-5", uuidA + ":1-5", 5},
		{MySQL, "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5", uuidA + ":1-5", 5},
		{MySQL, uuidA + ":7:1-5:6", uuidA + ":1-7", 7},
		{MySQL, uuidB + ":3,\n" + uuidA + ":1-2:4", uuidA + ":1-2:4," + uuidB + ":3", 4},
		{MySQL, uuidA + ":1-2:Tag_1:5-6:3", uuidA + ":1-2:tag_1:3:5-6", 5},
		{MySQL, uuidA + ":tag_1:5-6," + uuidA + ":1", uuidA + ":1:tag_1:5-6", 3},
		{MariaDB, "", "", 0},
		{MariaDB, "0-101-3,0-100-42", "0-100-42,0-101-3", 45},
		{MariaDB, "1-100-2,0-100-5,0-100-3", "0-100-5,1-100-2", 7},
	}
	for _, tc := range tests {
		g, err := ParseGTIDSet(tc.flavor, tc.in)
		if err != nil {
			t.Errorf("ParseGTIDSet(%v, %q): %v", tc.flavor, tc.in, err)
			continue
		}
		if got := g.String(); got != tc.want {
			t.Errorf("ParseGTIDSet(%v, %q).String() = %q, want %q", tc.flavor, tc.in, got, tc.want)
		}
		if got := g.Count(); got != tc.count {
			t.Errorf("ParseGTIDSet(%v, %q).Count() = %d, want %d", tc.flavor, tc.in, got, tc.count)
		}
		if g.IsEmpty() != (tc.count == 0) {
			t.Errorf("ParseGTIDSet(%v, %q).IsEmpty() = %v", tc.flavor, tc.in, g.IsEmpty())
		}
	}
	for _, bad := range []string{
		"x", uuidA, uuidA + ":", uuidA + ":0", uuidA + ":5-3", uuidA + ":1-", uuidA + ":-1", uuidA + ":1:",
		uuidA + ":tag", uuidA + ":1,", "," + uuidA + ":1", uuidA + ":1-2:t-g:3", uuidA + ":1:9tag:2",
		"3e11fa47-71ca-11e1-9e33-c80aa942956:1", "3e11fa47x71ca-11e1-9e33-c80aa9429562:1", "0-100-5",
	} {
		if _, err := ParseGTIDSet(MySQL, bad); !errors.Is(err, ErrBadGTID) {
			t.Errorf("ParseGTIDSet(MySQL, %q) = %v, want ErrBadGTID", bad, err)
		}
	}
	if _, err := ParseGTIDSet(MariaDB, uuidA+":1"); !errors.Is(err, ErrBadGTID) {
		t.Errorf("a MySQL set parsed as MariaDB: %v", err)
	}
	if _, err := ParseGTIDSet(Flavor(0), ""); !errors.Is(err, ErrBadGTID) {
		t.Errorf("unknown flavour: %v", err)
	}
}

func TestGTIDSetArithmetic(t *testing.T) {
	t.Parallel()
	my := func(s string) GTIDSet { return MustParseGTIDSet(MySQL, s) }
	ma := func(s string) GTIDSet { return MustParseGTIDSet(MariaDB, s) }
	tests := []struct {
		name           string
		a, b           GTIDSet
		minus, union   string
		aContainsB     bool
		bContainsA     bool
		originsOfMinus []string
	}{
		{name: "mysql equal", a: my(uuidA + ":1-5"), b: my(uuidA + ":1-5"), minus: "", union: uuidA + ":1-5", aContainsB: true, bContainsA: true},
		{name: "mysql behind", a: my(uuidA + ":1-3"), b: my(uuidA + ":1-5"), minus: "", union: uuidA + ":1-5", bContainsA: true},
		{name: "mysql errant", a: my(uuidA + ":1-5," + uuidB + ":1-2"), b: my(uuidA + ":1-9"),
			minus: uuidB + ":1-2", union: uuidA + ":1-9," + uuidB + ":1-2", originsOfMinus: []string{uuidB}},
		{name: "mysql holes", a: my(uuidA + ":1-10"), b: my(uuidA + ":2-3:5:9-12"), minus: uuidA + ":1:4:6-8",
			union: uuidA + ":1-12", originsOfMinus: []string{uuidA}},
		{name: "mysql tags are sources", a: my(uuidA + ":1-3:t:1"), b: my(uuidA + ":1-3"), minus: uuidA + ":t:1",
			union: uuidA + ":1-3:t:1", bContainsA: false, aContainsB: true, originsOfMinus: []string{uuidA}},
		{name: "mysql empty", a: my(""), b: my(uuidA + ":1"), minus: "", union: uuidA + ":1", bContainsA: true},
		{name: "zero set", a: GTIDSet{}, b: my(uuidA + ":1"), minus: "", union: uuidA + ":1", bContainsA: true},
		{name: "mariadb equal", a: ma("0-100-5"), b: ma("0-100-5"), minus: "", union: "0-100-5", aContainsB: true, bContainsA: true},
		{name: "mariadb behind", a: ma("0-100-3"), b: ma("0-100-5,0-101-1"), minus: "", union: "0-100-5,0-101-1", bContainsA: true},
		{name: "mariadb local write", a: ma("0-100-5,0-102-1"), b: ma("0-100-9"), minus: "0-102-1",
			union: "0-100-9,0-102-1", originsOfMinus: []string{"102"}},
		{name: "mariadb ahead of a replaced primary", a: ma("0-100-50"), b: ma("0-100-7"), minus: "0-100-50",
			union: "0-100-50", aContainsB: true, originsOfMinus: []string{"100"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.a.Minus(tc.b).String(); got != tc.minus {
				t.Errorf("Minus = %q, want %q", got, tc.minus)
			}
			if got := tc.a.Union(tc.b).String(); got != tc.union {
				t.Errorf("Union = %q, want %q", got, tc.union)
			}
			if got := tc.b.Union(tc.a).String(); got != tc.union {
				t.Errorf("Union reversed = %q, want %q", got, tc.union)
			}
			if got := tc.a.Contains(tc.b); got != tc.aContainsB {
				t.Errorf("a.Contains(b) = %v", got)
			}
			if got := tc.b.Contains(tc.a); got != tc.bContainsA {
				t.Errorf("b.Contains(a) = %v", got)
			}
			m := tc.a.Minus(tc.b)
			if got := m.Origins(); len(got) != len(tc.originsOfMinus) || len(got) > 0 && got[0] != tc.originsOfMinus[0] {
				t.Errorf("Minus.Origins() = %v, want %v", got, tc.originsOfMinus)
			}
			if len(tc.originsOfMinus) == 1 && !m.OnlyFrom(tc.originsOfMinus[0]) {
				t.Errorf("Minus.OnlyFrom(%s) = false", tc.originsOfMinus[0])
			}
		})
	}
	if n := ma("0-100-10,0-101-2").CountNotIn(ma("0-100-4")); n != 8 {
		t.Errorf("MariaDB CountNotIn = %d, want 8", n)
	}
	if n := my(uuidA + ":1-10").CountNotIn(my(uuidA + ":1-4")); n != 6 {
		t.Errorf("MySQL CountNotIn = %d, want 6", n)
	}
	if my(uuidA + ":1").Contains(ma("0-1-1")) {
		t.Error("a MySQL set contains a non-empty MariaDB set")
	}
	if got := my(uuidA + ":1-5," + uuidB + ":1").Without(uuidB).String(); got != uuidA+":1-5" {
		t.Errorf("MySQL Without = %q", got)
	}
	if got := ma("0-100-5,0-101-2").Without("101").String(); got != "0-100-5" {
		t.Errorf("MariaDB Without = %q", got)
	}
	if !ma("").OnlyFrom("100") || !ma("0-100-3,1-100-1").OnlyFrom("100") || ma("0-100-3,0-101-1").OnlyFrom("100") {
		t.Error("OnlyFrom")
	}
}

// FuzzGTIDSet checks the algebra on random MySQL sets: a - b and b are
// disjoint and together hold a; String parses back to the same set.
func FuzzGTIDSet(f *testing.F) {
	f.Add(uuidA+":1-5:9", uuidA+":3-12,"+uuidB+":1")
	f.Add(uuidA+":1:t:2-4", uuidA+":t:3")
	f.Fuzz(func(t *testing.T, as, bs string) {
		a, err1 := ParseGTIDSet(MySQL, as)
		b, err2 := ParseGTIDSet(MySQL, bs)
		if err1 != nil || err2 != nil {
			return
		}
		d := a.Minus(b)
		if !a.Contains(d) || !d.Minus(b).Contains(d) || !b.Union(d).Contains(a) {
			t.Fatalf("a=%s b=%s a-b=%s", a, b, d)
		}
		if !a.Union(b).Contains(a) || !a.Union(b).Contains(b) {
			t.Fatalf("union a=%s b=%s", a, b)
		}
		back, err := ParseGTIDSet(MySQL, a.String())
		if err != nil || back.String() != a.String() || !back.Contains(a) || !a.Contains(back) {
			t.Fatalf("round trip %q -> %q: %v", as, a.String(), err)
		}
	})
}

func TestAppliedUpTo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f           Flavor
		s, o        string
		want, equal bool
	}{
		{MySQL, "aaaaaaaa-0000-11ef-8000-000000000100:1-10", "aaaaaaaa-0000-11ef-8000-000000000100:1-10", true, true},
		{MySQL, "aaaaaaaa-0000-11ef-8000-000000000100:1-10", "aaaaaaaa-0000-11ef-8000-000000000100:1-12", false, false},
		{MySQL, "aaaaaaaa-0000-11ef-8000-000000000100:1-12", "aaaaaaaa-0000-11ef-8000-000000000100:1-5:7", true, false},
		{MariaDB, "0-100-10", "0-100-10", true, true},
		{MariaDB, "0-100-9", "0-100-10", false, false},
		// A seeded replica's state named fewer server_ids: the domain's
		// number says what it applied.
		{MariaDB, "0-100-50", "0-4242-7,0-100-50", true, false},
		{MariaDB, "0-100-50", "0-100-50,1-100-3", false, false},
		{MariaDB, "0-100-50,1-5-9", "0-100-40,1-100-9", true, false},
	} {
		s, o := MustParseGTIDSet(tc.f, tc.s), MustParseGTIDSet(tc.f, tc.o)
		if got := s.AppliedUpTo(o); got != tc.want {
			t.Errorf("%q.AppliedUpTo(%q) = %v, want %v", tc.s, tc.o, got, tc.want)
		}
		if got := s.Equal(o); got != tc.equal {
			t.Errorf("%q.Equal(%q) = %v, want %v", tc.s, tc.o, got, tc.equal)
		}
	}
	if !MustParseGTIDSet(MySQL, "aaaaaaaa-0000-11ef-8000-000000000100:1").AppliedUpTo(GTIDSet{}) {
		t.Error("the empty set is not applied")
	}
}
