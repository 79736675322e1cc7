// Package fakesql is a scripted database/sql driver for tests: a Server
// answers the statements a test registered (by exact text, prefix or
// regular expression) with columns and rows, or with an error such as a
// *mysql.MySQLError, records every statement it is sent in order, and
// fails loudly on a statement nobody scripted.
//
//	srv := fakesql.New(t)
//	srv.On("SELECT VERSION()", fakesql.Rows([]string{"v"}, []any{"9.7.4"}))
//	srv.OnPrefix("SET GLOBAL ", fakesql.OK())
//	db := srv.DB()
//
// The last registered rule that matches wins, so a test can script a
// baseline and then override one answer. An unscripted statement gets an
// error naming it, and New's test fails at cleanup unless AllowUnscripted
// was called.
package fakesql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// Result is the answer to one statement: Err, or Columns and Rows (for a
// query) and RowsAffected (for an exec).
type Result struct {
	Columns      []string
	Rows         [][]any
	RowsAffected int64
	Err          error
}

// Rows is a query's answer. Values are driver values; ints are widened to
// int64 and strings stay strings (database/sql converts on Scan).
func Rows(cols []string, rows ...[]any) Result {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = make([]any, len(r))
		for j, v := range r {
			switch x := v.(type) {
			case int:
				v = int64(x)
			case uint64:
				v = int64(x)
			case int32:
				v = int64(x)
			case bool:
				if x {
					v = int64(1)
				} else {
					v = int64(0)
				}
			}
			out[i][j] = v
		}
	}
	return Result{Columns: cols, Rows: out}
}

// Row is a query's answer of one row, one column per value, named c1, c2…
func Row(vals ...any) Result {
	cols := make([]string, len(vals))
	for i := range cols {
		cols[i] = fmt.Sprintf("c%d", i+1)
	}
	return Rows(cols, vals)
}

// OK is the answer to a statement that succeeds without rows.
func OK() Result { return Result{} }

// Fail is the answer of an error.
func Fail(err error) Result { return Result{Err: err} }

// Responder computes an answer; it may block on ctx to play a slow server.
type Responder func(ctx context.Context, query string, args []any) Result

// Call is a statement the server received.
type Call struct {
	Query string
	Args  []any
	// Exec: sent with Exec, not Query.
	Exec bool
}

type rule struct {
	desc  string
	match func(string) bool
	resp  Responder
	times int // answers left; <0: unlimited
}

// Server is a scripted server. Its methods are safe for concurrent use.
type Server struct {
	mu         sync.Mutex
	rules      []*rule
	calls      []Call
	unscripted []string
	connectErr error
	pingErr    error
	connects   int
	t          testing.TB
}

// New returns a server that reports unscripted statements as t's failure
// when t ends (nil t: it does not).
func New(t testing.TB) *Server {
	s := &Server{t: t}
	if t != nil {
		t.Cleanup(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.unscripted) > 0 {
				t.Errorf("fakesql: unscripted statements: %q", s.unscripted)
			}
		})
	}
	return s
}

// AllowUnscripted forgets the unscripted statements seen so far, so that
// a test that provokes them on purpose does not fail.
func (s *Server) AllowUnscripted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.unscripted
	s.unscripted = nil
	return u
}

func (s *Server) add(desc string, match func(string) bool, resp Responder, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, &rule{desc: desc, match: match, resp: resp, times: times})
}

func fixed(r Result) Responder { return func(context.Context, string, []any) Result { return r } }

// On answers the statement q (exact text) with r.
func (s *Server) On(q string, r Result) {
	s.add(q, func(x string) bool { return x == q }, fixed(r), -1)
}

// Once answers q with r the next time only; the earlier rule for q (if
// any) answers after that.
func (s *Server) Once(q string, r Result) {
	s.add(q, func(x string) bool { return x == q }, fixed(r), 1)
}

// OnPrefix answers every statement that starts with prefix with r.
func (s *Server) OnPrefix(prefix string, r Result) {
	s.add(prefix+"…", func(x string) bool { return strings.HasPrefix(x, prefix) }, fixed(r), -1)
}

// OnRegexp answers every statement that matches re with r.
func (s *Server) OnRegexp(re string, r Result) {
	rx := regexp.MustCompile(re)
	s.add("/"+re+"/", rx.MatchString, fixed(r), -1)
}

// OnFunc answers every statement match accepts with what resp says.
func (s *Server) OnFunc(desc string, match func(string) bool, resp Responder) {
	s.add(desc, match, resp, -1)
}

// SetConnectError makes new connections fail with err (nil: succeed).
func (s *Server) SetConnectError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connectErr = err
}

// SetPingError makes Ping fail with err (nil: succeed).
func (s *Server) SetPingError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pingErr = err
}

// Calls returns the statements received, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Statements returns the text of the statements received, in order.
func (s *Server) Statements() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.calls))
	for i, c := range s.calls {
		out[i] = c.Query
	}
	return out
}

// Execs returns the text of the statements sent with Exec, in order.
func (s *Server) Execs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		if c.Exec {
			out = append(out, c.Query)
		}
	}
	return out
}

// Reset forgets the statements received (not the rules).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls, s.unscripted = nil, nil
}

// Connects is how many connections were opened so far.
func (s *Server) Connects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// Connector returns a driver.Connector for sql.OpenDB.
func (s *Server) Connector() driver.Connector { return connector{s} }

// DB opens a pool on the server; it is closed when t ends if New had one.
func (s *Server) DB() *sql.DB {
	db := sql.OpenDB(s.Connector())
	if s.t != nil {
		s.t.Cleanup(func() { _ = db.Close() })
	}
	return db
}

// ErrUnscripted is wrapped by the error an unscripted statement gets.
var ErrUnscripted = errors.New("fakesql: unscripted statement")

func (s *Server) answer(ctx context.Context, q string, args []driver.NamedValue, exec bool) Result {
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{Query: q, Args: vals, Exec: exec})
	var found *rule
	for i := len(s.rules) - 1; i >= 0; i-- {
		r := s.rules[i]
		if r.times != 0 && r.match(q) {
			found = r
			if r.times > 0 {
				r.times--
			}
			break
		}
	}
	if found == nil {
		s.unscripted = append(s.unscripted, q)
	}
	s.mu.Unlock()
	if found == nil {
		return Result{Err: fmt.Errorf("%w: %q", ErrUnscripted, q)}
	}
	if err := ctx.Err(); err != nil {
		return Result{Err: err}
	}
	return found.resp(ctx, q, vals)
}

type connector struct{ s *Server }

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.connectErr != nil {
		return nil, c.s.connectErr
	}
	c.s.connects++
	return &conn{s: c.s}, nil
}

func (c connector) Driver() driver.Driver { return drv{} }

type drv struct{}

func (drv) Open(string) (driver.Conn, error) {
	return nil, errors.New("fakesql: use sql.OpenDB with a Server's Connector")
}

type conn struct{ s *Server }

var (
	_ driver.QueryerContext = (*conn)(nil)
	_ driver.ExecerContext  = (*conn)(nil)
	_ driver.Pinger         = (*conn)(nil)
)

func (c *conn) Prepare(q string) (driver.Stmt, error) {
	return nil, errors.New("fakesql: prepared statements are not supported")
}

func (c *conn) Close() error { return nil }

func (c *conn) Begin() (driver.Tx, error) {
	return nil, errors.New("fakesql: transactions are not supported")
}

func (c *conn) Ping(ctx context.Context) error {
	c.s.mu.Lock()
	err := c.s.pingErr
	c.s.mu.Unlock()
	if err != nil {
		return err
	}
	return ctx.Err()
}

func (c *conn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	r := c.s.answer(ctx, q, args, false)
	if r.Err != nil {
		return nil, r.Err
	}
	return &rows{cols: r.Columns, rows: r.Rows}, nil
}

func (c *conn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	r := c.s.answer(ctx, q, args, true)
	if r.Err != nil {
		return nil, r.Err
	}
	return driver.RowsAffected(r.RowsAffected), nil
}

type rows struct {
	cols []string
	rows [][]any
	i    int
}

func (r *rows) Columns() []string { return r.cols }
func (r *rows) Close() error      { return nil }

func (r *rows) Next(dest []driver.Value) error {
	if r.i >= len(r.rows) {
		return io.EOF
	}
	row := r.rows[r.i]
	r.i++
	if len(row) != len(dest) {
		return fmt.Errorf("fakesql: a row of %d values for %d columns", len(row), len(dest))
	}
	for i, v := range row {
		if s, ok := v.(string); ok {
			v = []byte(s) // as the MySQL driver's text protocol does
		}
		dest[i] = v
	}
	return nil
}
