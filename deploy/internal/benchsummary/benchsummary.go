// Package benchsummary writes the rows of make bench's summary table
// (deploy/bench/run.sh prints them): the Go benchmarks of deploy/bench and
// of deploy/k8s/e2e append to the file named by BENCH_SUMMARY.
package benchsummary

import (
	"fmt"
	"math"
	"os"
)

// Row is one line of the table.
type Row struct {
	Figure string
	Value  string // the median with its unit
	N      int    // how many samples
	Target string
	Met    string // "yes", "NO" or "-" (no target)
}

// Logger is the part of testing.TB that Append reports to.
type Logger interface {
	Logf(format string, args ...any)
}

// Append adds rows, tab separated, to the file named by BENCH_SUMMARY (if
// set); a file that cannot be written is logged, not fatal.
func Append(l Logger, rows ...Row) {
	f := os.Getenv("BENCH_SUMMARY")
	if f == "" {
		return
	}
	fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		l.Logf("summary: %v", err)
		return
	}
	defer fh.Close()
	for _, r := range rows {
		fmt.Fprintf(fh, "%s\t%s\t%d\t%s\t%s\n", r.Figure, r.Value, r.N, r.Target, r.Met)
	}
}

// Verdict is the Met word for a value with an upper bound (0: no target;
// NaN, a missing value, misses).
func Verdict(v, max float64) string {
	switch {
	case max == 0:
		return "-"
	case math.IsNaN(v):
		return "NO"
	case v <= max:
		return "yes"
	}
	return "NO"
}
