package bootstrap_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/podtest"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/testdns"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// podEnv is a valid environment for pod name with CONFIG_DIR and DATA_DIR
// in fresh temporary directories.
func podEnv(t *testing.T, name string) (podtest.Env, string, string) {
	t.Helper()
	dir := t.TempDir()
	conf, data := filepath.Join(dir, "conf.d"), filepath.Join(dir, "data")
	for _, d := range []string{conf, data} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(data, "ibdata1"), []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	resolv := filepath.Join(dir, "resolv.conf")
	// Nothing listens there: DNS queries time out.
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.254\noptions timeout:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return podtest.Env{
		"POD_NAME": name, "POD_NAMESPACE": "db", "SERVICE_NAME": "mysql",
		"MYSQL_ROOT_PASSWORD": "root-pw-secret", "REPLICATION_PASSWORD": "repl-pw-secret",
		"CONFIG_DIR": conf, "DATA_DIR": data, "RESOLV_CONF": resolv, "HOSTS_FILE": filepath.Join(dir, "hosts"), "LOG_FORMAT": "json",
	}, conf, data
}

func dirListing(t *testing.T, dirs ...string) string {
	t.Helper()
	var out []string
	for _, d := range dirs {
		_ = filepath.Walk(d, func(p string, info os.FileInfo, err error) error {
			if err == nil {
				out = append(out, p+" "+info.Mode().String()+" "+info.ModTime().String())
			}
			return nil
		})
	}
	return strings.Join(out, "\n")
}

func TestIdentityCommand(t *testing.T) {
	t.Parallel()
	env, _, _ := podEnv(t, "my-db-mysql-12")
	res := podtest.Run(t, 30*time.Second, env, "identity")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	var id map[string]any
	if err := json.Unmarshal([]byte(res.Stdout), &id); err != nil {
		t.Fatalf("identity output is not JSON: %v\n%s", err, res.Stdout)
	}
	want := map[string]any{"pod": "my-db-mysql-12", "statefulSet": "my-db-mysql", "ordinal": float64(12), "role": "replica",
		"serverId": float64(112), "namespace": "db", "service": "mysql",
		"podHost": "my-db-mysql-12.mysql.db.svc.cluster.local", "primaryHost": "my-db-mysql-0.mysql.db.svc.cluster.local"}
	for k, v := range want {
		if id[k] != v {
			t.Errorf("%s = %v, want %v", k, id[k], v)
		}
	}
	res = podtest.Run(t, 30*time.Second, env.With("SERVER_ID_BASE", "1000"), "identity", "--format", "env")
	if res.Code != 0 || !strings.Contains(res.Stdout, "ORDINAL=12\n") || !strings.Contains(res.Stdout, "SERVER_ID=1012\n") ||
		!strings.Contains(res.Stdout, "ROLE=replica\n") || !strings.Contains(res.Stdout, "PRIMARY_HOST=my-db-mysql-0.mysql.db.svc.cluster.local\n") {
		t.Errorf("identity --format env: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}

func TestBadInputExits2AndChangesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		kv   []string
		want string
	}{
		{name: "missing replication password", kv: []string{"REPLICATION_PASSWORD", ""}, want: "REPLICATION_PASSWORD is required"},
		{name: "hostname without ordinal", kv: []string{"POD_NAME", "mysql"}, want: `POD_NAME: pod name has no ordinal: "mysql" is not <statefulset>-<ordinal>`},
		{name: "unreadable password file", kv: []string{"MYSQL_ROOT_PASSWORD_FILE", "/nonexistent/secret"}, want: `MYSQL_ROOT_PASSWORD_FILE="/nonexistent/secret" cannot be read`},
		{name: "bad wait timeout", kv: []string{"WAIT_TIMEOUT", "soon"}, want: `WAIT_TIMEOUT="soon" is invalid`},
		{name: "missing service", kv: []string{"SERVICE_NAME", ""}, want: "SERVICE_NAME is required"},
		{name: "server id out of range", kv: []string{"SERVER_ID_BASE", "4294967295"}, want: "out of range: expected 1..4294967295"},
		{name: "unknown flag", args: []string{"--nope"}, want: "flag provided but not defined"},
		{name: "replication password too long", kv: []string{"REPLICATION_PASSWORD", strings.Repeat("x", 33)}, want: "REPLICATION_PASSWORD is invalid: replication password is 33 characters"},
		{name: "root as replication user", kv: []string{"REPLICATION_USER", "root"}, want: `REPLICATION_USER="root" is invalid: expected a dedicated account`},
	}
	for _, tc := range tests {
		for _, cmd := range []string{"init", "sidecar"} {
			t.Run(cmd+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				env, conf, data := podEnv(t, "mysql-1")
				before := dirListing(t, conf, data)
				res := podtest.Run(t, 30*time.Second, env.With(tc.kv...), append([]string{cmd}, tc.args...)...)
				if res.Code != 2 {
					t.Fatalf("exit %d, want 2; stderr:\n%s", res.Code, res.Stderr)
				}
				lines := strings.Split(strings.TrimSpace(res.Stderr), "\n")
				last := lines[len(lines)-1]
				if !strings.Contains(last, tc.want) {
					t.Errorf("error line %q does not contain %q", last, tc.want)
				}
				if strings.Contains(res.Stderr, "root-pw-secret") || strings.Contains(res.Stderr, "repl-pw-secret") {
					t.Errorf("a password leaked: %s", res.Stderr)
				}
				if after := dirListing(t, conf, data); after != before {
					t.Errorf("bad input changed files:\nbefore\n%s\nafter\n%s", before, after)
				}
			})
		}
	}
}

func TestSubcommandHelpChangesNothing(t *testing.T) {
	t.Parallel()
	env, conf, _ := podEnv(t, "mysql-0")
	for _, cmd := range []string{"init", "sidecar", "identity"} {
		res := podtest.Run(t, 30*time.Second, env, cmd, "-h")
		if res.Code != 0 || !strings.Contains(res.Stdout, "Usage:\n  mysql-bootstrap "+cmd) {
			t.Errorf("%s -h: exit %d\n%s%s", cmd, res.Code, res.Stdout, res.Stderr)
		}
	}
	if entries, _ := os.ReadDir(conf); len(entries) != 0 {
		t.Errorf("init -h wrote %v", entries)
	}
}

func TestInitPrimaryWritesConfig(t *testing.T) {
	t.Parallel()
	env, conf, _ := podEnv(t, "mysql-0")
	res := podtest.Run(t, 30*time.Second, env, "init")
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	b, err := os.ReadFile(filepath.Join(conf, "50-mysql-bootstrap.cnf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server_id = 100\n", "report_host = mysql-0.mysql.db.svc.cluster.local\n", "read_only = ON\n", "loose-gtid_mode = ON\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("configuration lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(res.Stderr, "root-pw-secret") || strings.Contains(string(b), "repl-pw-secret") {
		t.Error("a password leaked into the log or the configuration")
	}
}

// TestInitReplicaDoesNotWait: by default a new replica's init writes the
// configuration and returns at once, without looking the primary up (its
// resolver here answers nothing): the sidecar connects replication later.
func TestInitReplicaDoesNotWait(t *testing.T) {
	t.Parallel()
	env, conf, _ := podEnv(t, "mysql-1")
	start := time.Now()
	res := podtest.Run(t, 30*time.Second, env, "init")
	if res.Code != 0 {
		t.Fatalf("exit %d, want 0 without waiting for the primary; stderr:\n%s", res.Code, res.Stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("init took %s: it must not wait for the primary", d)
	}
	if !strings.Contains(res.Stderr, "not waiting for the primary") {
		t.Errorf("init does not say it does not wait:\n%s", res.Stderr)
	}
	if _, err := os.Stat(filepath.Join(conf, "50-mysql-bootstrap.cnf")); err != nil {
		t.Error(err)
	}
}

func TestInitReplicaTimesOut(t *testing.T) {
	t.Parallel()
	env, conf, _ := podEnv(t, "mysql-1")
	start := time.Now()
	res := podtest.Run(t, 60*time.Second, env.With("WAIT_TIMEOUT", "3s", "INIT_WAIT_FOR_PRIMARY", "true"), "init")
	if res.Code != 3 {
		t.Fatalf("exit %d, want 3 (timed out); stderr:\n%s", res.Code, res.Stderr)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("init took %s to time out after 3s", time.Since(start))
	}
	if !strings.Contains(res.Stderr, "mysql-0.mysql.db.svc.cluster.local") {
		t.Errorf("timeout error does not name the primary:\n%s", res.Stderr)
	}
	// The configuration is written before the wait: the server can start
	// as soon as the wait ends, and a retried init finds it unchanged.
	if _, err := os.Stat(filepath.Join(conf, "50-mysql-bootstrap.cnf")); err != nil {
		t.Error(err)
	}
}

// TestInitReplicaWaitsForDNS runs init with INIT_WAIT_FOR_PRIMARY against
// a DNS server that answers NXDOMAIN until the primary's record appears.
func TestInitReplicaWaitsForDNS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to serve DNS on port 53 of a loopback address")
	}
	t.Parallel()
	srv := testdns.Start(t, "127.0.0.154:53")
	ln := listen(t, "127.0.0.155:3306")
	defer ln.Close()
	env, _, _ := podEnv(t, "mysql-1")
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("search db.svc.cluster.local svc.cluster.local\nnameserver 127.0.0.154\noptions ndots:5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := podtest.Start(t, env.With("RESOLV_CONF", resolv, "WAIT_TIMEOUT", "2m", "INIT_WAIT_FOR_PRIMARY", "true"), "init")
	podtest.Eventually(t, 30*time.Second, "init asks for the primary", func() error {
		if srv.Queries("mysql-0.mysql.db.svc.cluster.local") == 0 {
			return os.ErrNotExist
		}
		return nil
	})
	srv.Set("mysql-0.mysql.db.svc.cluster.local", netip.MustParseAddr("127.0.0.155"))
	if code := p.Wait(30 * time.Second); code != 0 {
		t.Fatalf("init exit %d:\n%s", code, p.Output())
	}
	if !strings.Contains(p.Output(), "NXDOMAIN") || !strings.Contains(p.Output(), "primary is reachable") {
		t.Errorf("init log should show the NXDOMAIN it waited through and the primary reachable:\n%s", p.Output())
	}
	if n := srv.Queries("mysql-0.mysql.db.svc.cluster.local.db.svc.cluster.local"); n != 0 {
		t.Errorf("the absolute name was expanded through the search list %d times", n)
	}
}

func TestSidecarWithoutServer(t *testing.T) {
	t.Parallel()
	env, _, _ := podEnv(t, "mysql-0")
	addr := "127.0.0.156:18080"
	p := podtest.Start(t, env.With("MYSQL_HOST", "127.0.0.157", "HTTP_ADDR", addr, "WAIT_TIMEOUT", "1m"), "sidecar")
	podtest.Eventually(t, 30*time.Second, "sidecar serves HTTP", func() error {
		_, _, err := podtest.Get(addr, "/healthz")
		return err
	})
	for _, path := range []string{bootstrap.PathHealthz, bootstrap.PathReadyz} {
		code, body, err := podtest.Get(addr, path)
		if err != nil || code != http.StatusServiceUnavailable {
			t.Errorf("%s = %d %q %v, want 503 while the server is down", path, code, body, err)
		}
	}
	code, body, err := podtest.Get(addr, bootstrap.PathStatus)
	if err != nil || code != 200 || !strings.Contains(body, `"serverUp": false`) || !strings.Contains(body, `"role": "primary"`) {
		t.Errorf("/status = %d %v\n%s", code, err, body)
	}
	if code, body, err := podtest.Get(addr, bootstrap.PathMetrics); err != nil || code != 200 || !strings.Contains(body, "mysql_bootstrap_server_up 0") {
		t.Errorf("/metrics = %d %v\n%s", code, err, body)
	}
	start := time.Now()
	if code := p.Terminate(10 * time.Second); code != 0 {
		t.Errorf("sidecar exit %d after SIGTERM:\n%s", code, p.Output())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("sidecar took %s to stop", d)
	}
	if strings.Contains(p.Output(), "root-pw-secret") {
		t.Error("root password in the sidecar's log")
	}
}

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	res := podtest.Run(t, 30*time.Second, podtest.Env{}, "--help")
	if res.Code != 0 {
		t.Fatalf("--help exit %d", res.Code)
	}
	for _, v := range bootstrap.Variables() {
		if !strings.Contains(res.Stdout, v.Name) {
			t.Errorf("--help does not list %s", v.Name)
		}
	}
	if res := podtest.Run(t, 30*time.Second, podtest.Env{}, "version"); res.Code != 0 || !strings.HasPrefix(res.Stdout, "mysql-bootstrap ") {
		t.Errorf("version: %d %q", res.Code, res.Stdout)
	}
	if res := podtest.Run(t, 30*time.Second, podtest.Env{}, "frobnicate"); res.Code != 2 || !strings.Contains(res.Stderr, `unknown command "frobnicate"`) ||
		strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 {
		t.Errorf("unknown command: %d %q", res.Code, res.Stderr)
	}
	if res := podtest.Run(t, 30*time.Second, podtest.Env{}); res.Code != 2 {
		t.Errorf("no command: exit %d, want 2", res.Code)
	}
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}

// TestPeersCommand runs `mysql-bootstrap peers` against a real DNS server
// that lists the Service's pods and real HTTP servers answering /status.
func TestPeersCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to serve DNS on port 53 of a loopback address")
	}
	t.Parallel()
	srv := testdns.Start(t, "127.0.0.158:53")
	lag := int64(2)
	statuses := map[string]wire.Status{
		"127.0.0.161": {Pod: "mysql-0", Ordinal: 0, Role: wire.RolePrimary, Ready: true, Version: "9.7.4",
			GTIDExecuted: "aaaaaaaa-0000-11ef-8000-000000000100:1-42", Reason: "primary is writable"},
		"127.0.0.162": {Pod: "mysql-1", Ordinal: 1, Role: wire.RoleReplica, Ready: false, Version: "9.7.4", Reason: "catching up",
			GTIDExecuted: "aaaaaaaa-0000-11ef-8000-000000000100:1-40",
			Replication:  &wire.ReplicationStatus{SourceHost: "mysql-0.mysql.db.svc.cluster.local", LagSeconds: &lag, LastError: "IO error 2003: gone"}},
	}
	var addrs []netip.Addr
	for ip, st := range statuses {
		ln, err := net.Listen("tcp", ip+":18090")
		if err != nil {
			t.Fatal(err)
		}
		st := st
		hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(st)
		})}
		go func() { _ = hs.Serve(ln) }()
		t.Cleanup(func() { _ = hs.Close() })
		addrs = append(addrs, netip.MustParseAddr(ip))
	}
	addrs = append(addrs, netip.MustParseAddr("127.0.0.163")) // listed, not answering
	srv.Set("mysql.db.svc.cluster.local", addrs...)
	env, _, _ := podEnv(t, "mysql-1")
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.158\noptions timeout:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env = env.With("RESOLV_CONF", resolv, "HTTP_ADDR", ":18090", "MYSQL_ROOT_PASSWORD", "", "REPLICATION_PASSWORD", "")

	res := podtest.Run(t, 30*time.Second, env, "peers")
	if res.Code != 0 {
		t.Fatalf("peers exit %d:\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "POD") ||
		!strings.Contains(lines[1], "mysql-0") || !strings.Contains(lines[1], "primary") || !strings.Contains(lines[1], "aaaaaaaa…:1-42") ||
		!strings.Contains(lines[2], "mysql-1") || !strings.Contains(lines[2], "2s") || !strings.Contains(lines[2], "IO error 2003") ||
		!strings.Contains(lines[3], "127.0.0.163") {
		t.Errorf("peers table:\n%s", res.Stdout)
	}
	res = podtest.Run(t, 30*time.Second, env, "peers", "--format", "json")
	var got []struct {
		Address string       `json:"address"`
		Status  *wire.Status `json:"status"`
		Error   string       `json:"error"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil || res.Code != 0 || len(got) != 3 ||
		got[0].Status.Pod != "mysql-0" || got[1].Status.Replication.SourceHost == "" || got[2].Error == "" {
		t.Errorf("peers --format json: exit %d, %v:\n%s", res.Code, err, res.Stdout)
	}
	res = podtest.Run(t, 30*time.Second, env.With("SERVICE_NAME", "nothing"), "peers")
	if res.Code != 1 || !strings.Contains(res.Stderr, "nothing.db.svc.cluster.local") || !strings.Contains(res.Stderr, "NXDOMAIN") {
		t.Errorf("peers of an unknown Service: exit %d:\n%s", res.Code, res.Stderr)
	}
	if res := podtest.Run(t, 10*time.Second, env, "peers", "--format", "xml"); res.Code != 2 {
		t.Errorf("bad --format: exit %d", res.Code)
	}
}

// TestServerStopNeverBlocksTermination: the preStop hook exits 0 whatever
// it finds (no password, no server), says so in one line, and exits 2 only
// for a malformed call.
func TestServerStopNeverBlocksTermination(t *testing.T) {
	t.Parallel()
	env, _, _ := podEnv(t, "mysql-0")
	res := podtest.Run(t, 30*time.Second, env.With("MYSQL_ROOT_PASSWORD", ""), "server-stop")
	if res.Code != 0 || !strings.Contains(res.Stdout, "MYSQL_ROOT_PASSWORD is required") || !strings.Contains(res.Stdout, "stops as usual") {
		t.Errorf("without a password: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	res = podtest.Run(t, 30*time.Second, env.With("MYSQL_HOST", "127.0.0.254", "MYSQL_PORT", "1"), "server-stop", "--timeout", "2s")
	if res.Code != 0 || !strings.Contains(res.Stdout, "cannot be asked") || strings.Contains(res.Stdout+res.Stderr, "root-pw-secret") {
		t.Errorf("without a server: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	for _, args := range [][]string{{"server-stop", "--nope"}, {"server-stop", "extra"}, {"server-stop", "--timeout", "0s"}} {
		if res := podtest.Run(t, 30*time.Second, env, args...); res.Code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, res.Code, res.Stderr)
		}
	}
}
