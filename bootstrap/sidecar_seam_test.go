package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/sethvargo/go-envconfig"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/fakesql"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

func httpGet(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// poll calls cond every 10 ms until it holds or the deadline passes.
func poll(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The sidecar serves its API on a loopback port while it reconciles a
// scripted primary, and stops when its context ends.
func TestSidecarServe(t *testing.T) {
	s := newSeam(t, wire.RolePrimary)
	script(t, s.local, mysqlPrimary())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- s.sc.Serve(serveCtx, ln) }()

	poll(t, 10*time.Second, "/readyz 200", func() bool {
		code, _, err := httpGet(ctx, base+PathReadyz)
		return err == nil && code == http.StatusOK
	})
	code, body, err := httpGet(ctx, base+PathStatus)
	if err != nil || code != http.StatusOK {
		t.Fatalf("/status = %d %v", code, err)
	}
	var st wire.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if !st.Ready || !st.ServerUp || st.Version != "9.7.4" || st.GTIDExecuted != mysqlUUID+":1-42" || st.Account == nil || !st.Account.Managed {
		t.Errorf("/status = %s", body)
	}
	if strings.Contains(body, seamReplPW) || strings.Contains(body, seamRootPW) {
		t.Error("a password in /status")
	}
	if code, _, err := httpGet(ctx, base+PathHealthz); err != nil || code != http.StatusOK {
		t.Errorf("/healthz = %d %v", code, err)
	}
	// A server that stops answering fails liveness; one that refuses the
	// login (a changed root password) does not.
	s.local.SetPingError(&mysql.MySQLError{Number: 1045, Message: "Access denied for user 'root'"})
	if err := s.sc.Healthz(ctx); err != nil {
		t.Errorf("healthz with access denied: %v", err)
	}
	s.local.SetPingError(errors.New("invalid connection"))
	if err := s.sc.Healthz(ctx); err == nil {
		t.Error("healthz without a server: nil")
	}
	s.local.SetPingError(nil)
	// A restarted server (read-only again) is not vouched for by the probe,
	// which wakes the loop: its pass may lift read-only again.
	s.local.OnPrefix("SET GLOBAL ", fakesql.OK())
	s.local.On("SELECT @@GLOBAL.read_only, @@GLOBAL.super_read_only", fakesql.Row(1, 1))
	if ok, why := s.sc.Readiness(ctx); ok || why == "" {
		t.Errorf("readiness of a read-only primary = %v %q", ok, why)
	}
	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Serve did not return")
	}
	if !strings.Contains(s.logBuf.String(), "sidecar stopped") || !strings.Contains(s.logBuf.String(), "local server answers") {
		t.Errorf("log:\n%s", s.logBuf.String())
	}
}

// A server that never answers within WAIT_TIMEOUT ends Serve with
// ErrWaitTimeout, and /status says why meanwhile.
func TestSidecarWaitTimeout(t *testing.T) {
	s := newSeam(t, wire.RoleReplica)
	s.cfg.WaitTimeout = 300 * time.Millisecond
	s.local.SetPingError(&mysql.MySQLError{Number: 1045, Message: "Access denied for user 'root'@'localhost'"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = s.sc.Serve(ctx, ln)
	if !errors.Is(err, ErrWaitTimeout) || !strings.Contains(err.Error(), "WAIT_TIMEOUT 300ms") {
		t.Errorf("Serve = %v", err)
	}
	// The first attempt is logged with what to check (the last one may be
	// cut by the deadline instead).
	if log := s.logBuf.String(); !strings.Contains(log, "waiting for the local server") || !strings.Contains(log, "check MYSQL_ROOT_PASSWORD") {
		t.Errorf("log:\n%s", log)
	}
	st := s.sc.Current()
	if st.Ready || st.ServerUp || !strings.Contains(st.Reason, "local server does not answer") {
		t.Errorf("status = %+v", st)
	}
}

// runSidecar, as the command line starts it, against a scripted server.
func TestRunSidecarInProcess(t *testing.T) {
	local := fakesql.New(t)
	seen := make(chan struct{}, 1)
	local.OnFunc("version", func(q string) bool { return q == "SELECT VERSION()" }, func(context.Context, string, []any) fakesql.Result {
		select {
		case seen <- struct{}{}:
		default:
		}
		return fakesql.Row("9.7.4")
	})
	local.AllowUnscripted()
	useFakeServers(t, func(c *mysql.Config) *fakesql.Server { return local })
	dir := t.TempDir()
	for _, d := range []string{"conf", "data", "state"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.254\noptions timeout:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"POD_NAME": "mysql-1", "POD_NAMESPACE": "db", "SERVICE_NAME": "mysql",
		"MYSQL_ROOT_PASSWORD": seamRootPW, "REPLICATION_PASSWORD": seamReplPW,
		"CONFIG_DIR": filepath.Join(dir, "conf"), "DATA_DIR": filepath.Join(dir, "data"), "STATE_DIR": filepath.Join(dir, "state"),
		"RESOLV_CONF": resolv, "HOSTS_FILE": filepath.Join(dir, "hosts"), "LOG_FORMAT": "json", "HTTP_ADDR": "127.0.0.1:0",
	}
	var out, errOut syncBuf
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- runSidecar(runCtx, nil, Stdio{Out: &out, Err: &errOut}, Loader{Lookuper: envconfig.MapLookuper(env)})
	}()
	select {
	case <-seen:
	case err := <-done:
		t.Fatalf("runSidecar = %v\n%s", err, errOut.String())
	case <-ctx.Done():
		t.Fatalf("the sidecar never asked the server\n%s", errOut.String())
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runSidecar = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("runSidecar did not return")
	}
	log := errOut.String()
	if !strings.Contains(log, `"msg":"sidecar started"`) || strings.Contains(log, seamRootPW) || strings.Contains(log, seamReplPW) {
		t.Errorf("log:\n%s", log)
	}
	local.AllowUnscripted()
}
