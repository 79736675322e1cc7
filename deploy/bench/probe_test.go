package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/benchsummary"
	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

// pollEvery is how often the benchmarks look: the error of every time
// below is at most this, plus one round trip through Docker's port proxy.
const pollEvery = 20 * time.Millisecond

// endpoints are a pod sandbox's published ports, looked up once: asking
// Docker on every poll (as podcluster's Pod.Ready does) would cost more
// than what is measured.
type endpoints struct {
	pod   *podcluster.Pod
	http  string
	mysql string
}

func endpointsOf(ctx context.Context, p *podcluster.Pod) (endpoints, error) {
	h, err := p.HTTPAddr(ctx)
	if err != nil {
		return endpoints{}, err
	}
	m, err := p.MySQLAddr(ctx)
	if err != nil {
		return endpoints{}, err
	}
	return endpoints{pod: p, http: h, mysql: m}, nil
}

// ready reports whether the sidecar's /readyz answers 200.
func (e endpoints) ready(ctx context.Context) bool {
	code, _, err := e.get(ctx, "/readyz")
	return err == nil && code == http.StatusOK
}

func (e endpoints) get(ctx context.Context, path string) (int, string, error) {
	return podcluster.HTTPGet(ctx, e.http, path)
}

// root opens a small pool to the pod's server as root with short
// timeouts, for polling.
func (e endpoints) root(c *podcluster.Cluster) *sql.DB {
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = e.mysql
	cfg.User = "root"
	cfg.Passwd = c.RootPassword
	cfg.Timeout = time.Second
	cfg.ReadTimeout = 3 * time.Second
	cfg.WriteTimeout = 3 * time.Second
	cfg.InterpolateParams = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		panic(err) // only a malformed configuration fails here
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	return db
}

// watch calls cond every pollEvery until it returns true, and returns when
// it first did; it fails when ctx ends first.
func watch(ctx context.Context, what string, cond func(context.Context) bool) (time.Time, error) {
	return watchEvery(ctx, pollEvery, what, cond)
}

// Marks are the rows the benchmarks write on the primary and look for on
// the replicas.
const (
	markSchema = "CREATE DATABASE IF NOT EXISTS bench"
	markTable  = "CREATE TABLE IF NOT EXISTS bench.marks (id INT PRIMARY KEY, at DATETIME(6) NOT NULL)"
	markInsert = "INSERT INTO bench.marks (id, at) VALUES (?, NOW(6))"
	markSelect = "SELECT COUNT(*) FROM bench.marks WHERE id = ?"
)

func writeMark(ctx context.Context, db *sql.DB, id int, withSchema bool) error {
	stmts := []string{markInsert}
	if withSchema {
		stmts = []string{markSchema, markTable, markInsert}
	}
	for _, s := range stmts {
		var args []any
		if s == markInsert {
			args = []any{id}
		}
		if _, err := db.ExecContext(ctx, s, args...); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// serverWatch polls a server as root. It records when the server first
// answered (any answer from the server, errors included, means it is up and
// took our password) and when mark id was first readable.
type serverWatch struct {
	Up, Row time.Time
}

func watchServer(ctx context.Context, db *sql.DB, id int, needRow bool) (serverWatch, error) {
	var w serverWatch
	_, err := watch(ctx, "server", func(ctx context.Context) bool {
		var n int
		err := db.QueryRowContext(ctx, markSelect, id).Scan(&n)
		var me *mysql.MySQLError
		if err == nil || errors.As(err, &me) {
			if w.Up.IsZero() {
				w.Up = time.Now()
			}
		}
		if err == nil && n > 0 {
			w.Row = time.Now()
			return true
		}
		return !needRow && !w.Up.IsZero()
	})
	return w, err
}

// logTime returns when the container logged msg (its first line with that
// message), from the JSON log's time field.
func logTime(out, msg string) (time.Time, bool) {
	lines := testkit.LogLines(out, msg)
	if len(lines) == 0 {
		return time.Time{}, false
	}
	s, _ := lines[0]["time"].(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// busyCPU returns the CPU time the whole machine (every container, Docker
// itself and this process) has spent not idle, from /proc/stat.
func busyCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100) // USER_HZ
}

// samples collects named series of seconds (or other values).
type samples struct {
	mu sync.Mutex
	m  map[string][]float64
}

func (s *samples) add(name string, v float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]float64{}
	}
	s.m[name] = append(s.m[name], v)
}

func (s *samples) since(name string, from, to time.Time) {
	if from.IsZero() || to.IsZero() {
		return
	}
	s.add(name, to.Sub(from).Seconds())
}

func (s *samples) median(name string) (float64, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return median(s.m[name]), len(s.m[name])
}

// report reports the median of every series as a metric named after it,
// and logs the samples.
func (s *samples) report(b *testing.B) {
	s.mu.Lock()
	names := make([]string, 0, len(s.m))
	for n := range s.m {
		names = append(names, n)
	}
	s.mu.Unlock()
	sort.Strings(names)
	for _, n := range names {
		m, _ := s.median(n)
		b.ReportMetric(m, n)
		s.mu.Lock()
		b.Logf("%-44s median %8.3f of %v", n, m, fmtAll(s.m[n]))
		s.mu.Unlock()
	}
	// The time per iteration is setup, not a figure.
	b.ReportMetric(0, "ns/op")
}

func fmtAll(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'f', 3, 64)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// summaryRow is one line of run.sh's table.
type summaryRow = benchsummary.Row

// summarize appends rows to the file named by BENCH_SUMMARY.
func summarize(b *testing.B, rows ...summaryRow) { benchsummary.Append(b, rows...) }

// secondsRow is a summary row for a series in seconds with an upper bound
// (0: no target).
func secondsRow(s *samples, name, figure string, max float64, target string) summaryRow {
	m, n := s.median(name)
	return summaryRow{Figure: figure, Value: fmt.Sprintf("%.2f s", m), N: n, Target: target, Met: verdict(m, max)}
}

func verdict(v, max float64) string { return benchsummary.Verdict(v, max) }
