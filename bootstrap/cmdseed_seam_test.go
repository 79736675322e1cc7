package bootstrap

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/seed"
)

func seedCfg(t *testing.T) *Config {
	t.Helper()
	base := t.TempDir()
	cfg := seamConfig(filepath.Join(base, "state"))
	cfg.DataDir = filepath.Join(base, "data")
	cfg.SeedTimeout, cfg.SeedStallTimeout = 10*time.Second, 5*time.Second
	for _, d := range []string{cfg.StateDir, filepath.Join(cfg.DataDir, "mysql")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "ibdata1"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A requested copy that fails before it is complete leaves the data
// directory alone, says why (with the kind that lets the sidecar try
// another donor at once), and lets the server start.
func TestSeedBeforeStartFailedCopy(t *testing.T) {
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "another backup is running", http.StatusServiceUnavailable)
	}))
	defer busy.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	// The request names mysql-2's stable name, as the sidecar writes it;
	// the client reaches the test's servers through them as proxies.
	const donorURL = "http://mysql-2.mysql.db.svc.cluster.local:8081/backup"
	for _, tc := range []struct {
		name, proxy, kind string
	}{
		{"busy", busy.URL, decide.SeedBusy},
		{"gone", closed, decide.SeedLost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy, err := url.Parse(tc.proxy)
			if err != nil {
				t.Fatal(err)
			}
			seedClient = &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
			defer func() { seedClient = nil }()
			cfg := seedCfg(t)
			files := newSeedFiles(cfg.StateDir).signedWith(seedSecret(cfg, newCredentials(cfg)))
			if err := files.request(SeedRequest{Donor: "mysql-2", URL: donorURL, Why: "test", Requested: time.Now()}); err != nil {
				t.Fatal(err)
			}
			var log syncBuf
			if err := seedBeforeStart(context.Background(), cfg, slog.New(slog.NewJSONHandler(&log, nil))); err != nil {
				t.Fatalf("seedBeforeStart = %v", err)
			}
			f, err := files.facts()
			if err != nil || f.Running || f.Kind != tc.kind || f.Err == "" || f.Donor != "mysql-2" {
				t.Errorf("facts = %+v, %v", f, err)
			}
			if b, err := os.ReadFile(filepath.Join(cfg.DataDir, "ibdata1")); err != nil || string(b) != "old" {
				t.Errorf("the data directory changed: %q %v", b, err)
			}
			if strings.Contains(log.String(), seamReplPW) {
				t.Error("the replication password is in the log")
			}
		})
	}
}

// A copy recorded as complete that the data directory does not prove to
// hold stops the server from starting.
func TestSeedBeforeStartUnprovenCopy(t *testing.T) {
	cfg := seedCfg(t)
	files := newSeedFiles(cfg.StateDir).signedWith(func() string { return seamReplPW })
	if err := files.complete(seed.Result{Donor: "mysql-0", GTID: "0-100-9", Nonce: "n1"}); err != nil {
		t.Fatal(err)
	}
	var res SeedResult
	if ok, err := readJSON(files.path(seedResultFile), &res); !ok || err != nil || res.Donor != "mysql-0" || res.Nonce != "n1" {
		t.Fatalf("result = %+v %v", res, err)
	}
	// A later completion keeps the donor's pod name.
	if err := files.complete(seed.Result{Donor: "10.0.0.7", GTID: "0-100-10", Nonce: "n2"}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := readJSON(files.path(seedResultFile), &res); !ok || res.Donor != "mysql-0" || res.GTID != "0-100-10" {
		t.Errorf("result = %+v", res)
	}
	err := seedBeforeStart(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "does not prove to hold") {
		t.Errorf("seedBeforeStart = %v", err)
	}
	files.swapFailed(errors.New("rename: permission denied"))
	p, err := seed.ReadProgressFile(files.path(seedProgressFile))
	if err != nil || !strings.Contains(p.Phase, "swap failed") || !strings.Contains(p.Phase, "permission denied") {
		t.Errorf("progress = %+v, %v", p, err)
	}
	// Without STATE_DIR there is nothing to prove or record.
	none := seedFiles{}
	if none.complete(seed.Result{}) != nil || none.prove(cfg.DataDir, nil) != nil {
		t.Error("no STATE_DIR")
	}
	none.swapFailed(errors.New("x"))
}

func TestSeedExecCommand(t *testing.T) {
	for _, args := range [][]string{nil, {"--"}, {"-x", "--", "mariadbd"}, {"mariadbd"}} {
		if _, err := splitCommand("seed-exec", args); !errors.Is(err, ErrUsage) {
			t.Errorf("%q: %v", args, err)
		}
	}
	if cmd, err := splitCommand("seed-exec", []string{"--", "docker-entrypoint.sh", "mariadbd"}); err != nil || strings.Join(cmd, " ") != "docker-entrypoint.sh mariadbd" {
		t.Errorf("cmd = %q, %v", cmd, err)
	}
	cfg := seedCfg(t)
	env := map[string]string{"POD_NAME": "mysql-1", "MYSQL_ROOT_PASSWORD": seamRootPW, "REPLICATION_PASSWORD": seamReplPW,
		"STATE_DIR": cfg.StateDir, "DATA_DIR": cfg.DataDir, "LOG_FORMAT": "json", "HOSTS_FILE": filepath.Join(cfg.StateDir, "hosts")}
	var out, errOut syncBuf
	// Nothing to restore; the command does not exist, so nothing is exec'd.
	err := runSeedExec(context.Background(), []string{"--", "/nonexistent/mariadbd"}, Stdio{Out: &out, Err: &errOut}, Loader{Lookuper: envconfig.MapLookuper(env)})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/mariadbd") {
		t.Errorf("runSeedExec = %v", err)
	}
	// An unproven copy: the server is not started, and the log says why.
	if err := newSeedFiles(cfg.StateDir).signedWith(func() string { return seamReplPW }).complete(seed.Result{Donor: "mysql-0", Nonce: "n1"}); err != nil {
		t.Fatal(err)
	}
	err = runSeedExec(context.Background(), []string{"--", "/nonexistent/mariadbd"}, Stdio{Out: &out, Err: &errOut}, Loader{Lookuper: envconfig.MapLookuper(env)})
	if err == nil || !strings.Contains(err.Error(), "does not prove") || !strings.Contains(errOut.String(), "the server is not started") {
		t.Errorf("runSeedExec = %v\n%s", err, errOut.String())
	}
}

func TestBackupServerStartsAndStops(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"POD_NAME": "mysql-1", "POD_NAMESPACE": "db", "SERVICE_NAME": "mysql",
		"MYSQL_ROOT_PASSWORD": seamRootPW, "REPLICATION_PASSWORD": seamReplPW,
		"CONFIG_DIR": dir, "DATA_DIR": dir, "STATE_DIR": dir, "BACKUP_ADDR": freePort(t), "LOG_FORMAT": "json"}
	var out, errOut syncBuf
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- runBackupServer(runCtx, nil, Stdio{Out: &out, Err: &errOut}, Loader{Lookuper: envconfig.MapLookuper(env)})
	}()
	poll(t, 5*time.Second, "backup server started", func() bool {
		select {
		case err := <-done:
			t.Fatalf("runBackupServer = %v\n%s", err, errOut.String())
		default:
		}
		return strings.Contains(errOut.String(), "backup server started")
	})
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runBackupServer = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("runBackupServer did not return")
	}
	if !strings.Contains(errOut.String(), "backup server stopped") {
		t.Errorf("log:\n%s", errOut.String())
	}
	env["BACKUP_ADDR"] = "256.0.0.1:1"
	if err := runBackupServer(ctx, nil, Stdio{Out: &out, Err: &errOut}, Loader{Lookuper: envconfig.MapLookuper(env)}); err == nil {
		t.Error("a bad BACKUP_ADDR served")
	}
}

func TestInstallBinary(t *testing.T) {
	dir := t.TempDir()
	dst, err := installBinary(dir)
	if err != nil || dst != filepath.Join(dir, "mysql-bootstrap") {
		t.Fatalf("installBinary = %q, %v", dst, err)
	}
	fi, err := os.Stat(dst)
	if err != nil || fi.Mode().Perm() != 0o755 || fi.Size() == 0 {
		t.Errorf("installed: %v %v", fi, err)
	}
	if _, err := installBinary(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "TOOLS_DIR") {
		t.Errorf("missing dir: %v", err)
	}
}

// freePort is a loopback address whose port was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
