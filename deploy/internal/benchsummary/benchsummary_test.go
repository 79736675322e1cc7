package benchsummary

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		v, max float64
		want   string
	}{
		{1, 0, "-"}, {1, 2, "yes"}, {2, 2, "yes"}, {2.1, 2, "NO"}, {math.NaN(), 2, "NO"},
	} {
		if got := Verdict(tc.v, tc.max); got != tc.want {
			t.Errorf("Verdict(%v, %v) = %q, want %q", tc.v, tc.max, got, tc.want)
		}
	}
}

func TestAppend(t *testing.T) {
	f := filepath.Join(t.TempDir(), "summary.tsv")
	t.Setenv("BENCH_SUMMARY", f)
	Append(t, Row{Figure: "a", Value: "1.0 s", N: 3, Target: "<= 2 s", Met: "yes"})
	Append(t, Row{Figure: "b", Value: "x", N: 1, Target: "-", Met: "-"})
	got, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\t1.0 s\t3\t<= 2 s\tyes\nb\tx\t1\t-\t-\n"; string(got) != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}
