package fakesql

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestScriptedAnswersAndLog(t *testing.T) {
	s := New(t)
	s.On("SELECT VERSION()", Row("9.7.4"))
	s.OnPrefix("SET GLOBAL ", OK())
	s.OnRegexp(`^SHOW GRANTS FOR `, Rows([]string{"g"}, []any{"GRANT USAGE"}, []any{"GRANT REPLICATION SLAVE"}))
	db := s.DB()
	ctx := context.Background()

	var v string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil || v != "9.7.4" {
		t.Fatalf("version = %q, %v", v, err)
	}
	if _, err := db.ExecContext(ctx, "SET GLOBAL read_only = ON"); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, "SHOW GRANTS FOR 'r'@'%'")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			t.Fatal(err)
		}
		got = append(got, g)
	}
	rows.Close()
	if strings.Join(got, "|") != "GRANT USAGE|GRANT REPLICATION SLAVE" {
		t.Errorf("grants = %q", got)
	}
	want := []string{"SELECT VERSION()", "SET GLOBAL read_only = ON", "SHOW GRANTS FOR 'r'@'%'"}
	if strings.Join(s.Statements(), "\n") != strings.Join(want, "\n") {
		t.Errorf("statements = %q, want %q", s.Statements(), want)
	}
	if e := s.Execs(); len(e) != 1 || e[0] != want[1] {
		t.Errorf("execs = %q", e)
	}
}

func TestErrorsLastRuleWinsAndOnce(t *testing.T) {
	s := New(t)
	s.On("SELECT 1", Row(1))
	s.Once("SELECT 1", Fail(&mysql.MySQLError{Number: 1045, Message: "Access denied"}))
	db := s.DB()
	var n int
	err := db.QueryRow("SELECT 1").Scan(&n)
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1045 {
		t.Fatalf("first answer: %v, want 1045", err)
	}
	if err := db.QueryRow("SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("second answer: %d, %v", n, err)
	}
	s.On("SELECT 1", Row(2))
	if err := db.QueryRow("SELECT 1").Scan(&n); err != nil || n != 2 {
		t.Fatalf("overridden answer: %d, %v", n, err)
	}
}

func TestUnscriptedNamesTheStatement(t *testing.T) {
	s := New(t)
	_, err := s.DB().Exec("DROP DATABASE x")
	if !errors.Is(err, ErrUnscripted) || !strings.Contains(err.Error(), "DROP DATABASE x") {
		t.Fatalf("err = %v", err)
	}
	if u := s.AllowUnscripted(); len(u) != 1 || u[0] != "DROP DATABASE x" {
		t.Errorf("unscripted = %q", u)
	}
	// And a test that did not allow it fails.
	ft := &fakeT{TB: t}
	s2 := New(ft)
	_, _ = s2.DB().Exec("DROP TABLE y")
	ft.cleanup()
	if !strings.Contains(ft.failed, "DROP TABLE y") {
		t.Errorf("cleanup did not report the unscripted statement: %q", ft.failed)
	}
}

func TestConnectAndPingErrors(t *testing.T) {
	s := New(t)
	db := s.DB()
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	s.SetPingError(&mysql.MySQLError{Number: 1040, Message: "Too many connections"})
	if err := db.Ping(); err == nil {
		t.Fatal("ping succeeded")
	}
	s.SetPingError(nil)
	db.SetMaxIdleConns(0)
	s.SetConnectError(errors.New("dial tcp: connection refused"))
	if err := db.Ping(); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("ping = %v", err)
	}
	if s.Connects() != 1 {
		t.Errorf("connects = %d", s.Connects())
	}
}

func TestResponderSeesArgsAndContext(t *testing.T) {
	s := New(t)
	s.OnFunc("slow", func(q string) bool { return q == "SELECT SLEEP(?)" }, func(ctx context.Context, q string, args []any) Result {
		if len(args) != 1 || args[0] != int64(5) {
			return Fail(errors.New("bad args"))
		}
		<-ctx.Done()
		return Fail(ctx.Err())
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var n int
	err := s.DB().QueryRowContext(ctx, "SELECT SLEEP(?)", 5).Scan(&n)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// fakeT records Errorf and runs cleanups on demand.
type fakeT struct {
	testing.TB
	failed   string
	cleanups []func()
}

func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Errorf(format string, args ...any) {
	f.failed += format
	for _, a := range args {
		f.failed += " " + strings.TrimSpace(strings.ReplaceAll(fmtAny(a), "\n", " "))
	}
}
func (f *fakeT) cleanup() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func fmtAny(a any) string {
	if s, ok := a.([]string); ok {
		return strings.Join(s, ",")
	}
	return ""
}
