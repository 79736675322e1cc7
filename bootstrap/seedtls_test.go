package bootstrap

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/seed"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testtls"
)

// The stable name of the pod the backup-server tests run as.
const seedTLSPodHost = "mysql-1.mysql.db.svc.cluster.local"

// TestSeedTLSVariablesInvalid: SEED_TLS_CERT_FILE and SEED_TLS_KEY_FILE
// are checked like the other TLS files: every problem exits 2 with one line
// that names the variable.
func TestSeedTLSVariablesInvalid(t *testing.T) {
	t.Parallel()
	ca := testtls.NewCA(t)
	cert, key := ca.Issue(t, "server", seedTLSPodHost)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	withCA := func(m map[string]string) map[string]string {
		m["REPLICATION_TLS_CA_FILE"] = ca.CertFile
		return m
	}
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"relative certificate", withCA(map[string]string{"SEED_TLS_CERT_FILE": "tls.crt", "SEED_TLS_KEY_FILE": key}),
			`SEED_TLS_CERT_FILE="tls.crt" is invalid: expected an absolute path`},
		{"missing key file", withCA(map[string]string{"SEED_TLS_CERT_FILE": cert, "SEED_TLS_KEY_FILE": "/nonexistent/tls.key"}),
			`SEED_TLS_KEY_FILE="/nonexistent/tls.key" cannot be read`},
		{"certificate not PEM", withCA(map[string]string{"SEED_TLS_CERT_FILE": notPEM, "SEED_TLS_KEY_FILE": key}),
			`SEED_TLS_CERT_FILE="` + notPEM + `" is invalid: expected a PEM file with a CERTIFICATE`},
		{"a certificate as the key", withCA(map[string]string{"SEED_TLS_CERT_FILE": cert, "SEED_TLS_KEY_FILE": cert}),
			`SEED_TLS_KEY_FILE="` + cert + `" is invalid: expected a PEM file with a PRIVATE KEY`},
		{"certificate without key", withCA(map[string]string{"SEED_TLS_CERT_FILE": cert}),
			"SEED_TLS_CERT_FILE and SEED_TLS_KEY_FILE go together"},
		{"key without certificate", withCA(map[string]string{"SEED_TLS_KEY_FILE": key}),
			"SEED_TLS_CERT_FILE and SEED_TLS_KEY_FILE go together"},
		{"certificate without a CA", map[string]string{"SEED_TLS_CERT_FILE": cert, "SEED_TLS_KEY_FILE": key},
			"SEED_TLS_CERT_FILE needs REPLICATION_TLS_CA_FILE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := validEnv()
			for k, v := range tc.set {
				env[k] = v
			}
			_, err := loader(env).Load(context.Background(), Need{})
			if err == nil {
				t.Fatal("no error")
			}
			if ExitCode(err) != ExitInvalid || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q (exit %d), want one line with %q, exit 2", err, ExitCode(err), tc.want)
			}
		})
	}
	env := withCA(validEnv())
	env["SEED_TLS_CERT_FILE"], env["SEED_TLS_KEY_FILE"] = cert, key
	c, err := loader(env).Load(context.Background(), Need{})
	if err != nil || c.SeedTLSCertFile != cert || c.SeedTLSKeyFile != key {
		t.Errorf("Load = %+v, %v", c, err)
	}
}

// backupServerEnv is a pod's environment for backup-server on a free
// loopback port, without TLS.
func backupServerEnv(t *testing.T) (map[string]string, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return map[string]string{
		"POD_NAME": "mysql-1", "SERVICE_NAME": "mysql", "POD_NAMESPACE": "db", "CLUSTER_DOMAIN": "cluster.local",
		"MYSQL_ROOT_PASSWORD": seamRootPW, "REPLICATION_PASSWORD": seamReplPW, "HOSTS_FILE": "/nonexistent/hosts",
		"BACKUP_ADDR": addr, "LOG_FORMAT": "json", "DATA_DIR": t.TempDir(),
	}, addr
}

// runBackupServerWith runs backup-server until stop is called, and returns
// its log and how it ended.
func runBackupServerWith(t *testing.T, env map[string]string) (stop func() (error, string), logs *syncBuf) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuf{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"backup-server"}, Stdio{Out: io.Discard, Err: logs}, Loader{Lookuper: envconfig.MapLookuper(env)})
	}()
	stopped := false
	stop = func() (error, string) {
		if !stopped {
			stopped = true
			cancel()
		}
		select {
		case err := <-done:
			return err, logs.String()
		case <-time.After(ShutdownTimeout + 10*time.Second):
			t.Fatal("backup-server did not stop")
			return nil, ""
		}
	}
	t.Cleanup(func() {
		if !stopped {
			_, _ = stop()
		}
	})
	return stop, logs
}

// nonceOver asks for a nonce at addr with client until it is answered or
// the deadline passes; it returns the last error.
func nonceOver(client *http.Client, url string, deadline time.Time) error {
	var err error
	for time.Now().Before(deadline) {
		var resp *http.Response
		resp, err = client.Post(url+"/seed/nonce", "text/plain", nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			return errors.New(resp.Status)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) { // not listening yet
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// TestBackupServerTLS runs backup-server: with a CA it serves TLS with
// SEED_TLS_CERT_FILE, which a client verifies for the pod's stable name,
// and nothing in clear; with a CA and no certificate it exits 2 with one
// line naming both variables; without a CA it serves plain HTTP and warns
// once.
func TestBackupServerTLS(t *testing.T) {
	t.Parallel()
	ca := testtls.NewCA(t)
	cert, key := ca.Issue(t, "server", seedTLSPodHost)
	_, otherKey := ca.Issue(t, "other", "mysql-2.mysql.db.svc.cluster.local")

	t.Run("CA without certificate", func(t *testing.T) {
		t.Parallel()
		env, _ := backupServerEnv(t)
		env["REPLICATION_TLS_CA_FILE"] = ca.CertFile
		stop, _ := runBackupServerWith(t, env)
		err, _ := stop()
		if ExitCode(err) != ExitInvalid || strings.Contains(err.Error(), "\n") ||
			!strings.Contains(err.Error(), "SEED_TLS_CERT_FILE") || !strings.Contains(err.Error(), "SEED_TLS_KEY_FILE") {
			t.Errorf("backup-server = %v (exit %d), want exit 2 with one line naming SEED_TLS_CERT_FILE and SEED_TLS_KEY_FILE", err, ExitCode(err))
		}
	})
	t.Run("key of another certificate", func(t *testing.T) {
		t.Parallel()
		env, _ := backupServerEnv(t)
		env["REPLICATION_TLS_CA_FILE"], env["SEED_TLS_CERT_FILE"], env["SEED_TLS_KEY_FILE"] = ca.CertFile, cert, otherKey
		stop, _ := runBackupServerWith(t, env)
		err, _ := stop()
		if ExitCode(err) != ExitInvalid || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "SEED_TLS_KEY_FILE") {
			t.Errorf("backup-server = %v (exit %d), want exit 2 with one line naming SEED_TLS_KEY_FILE", err, ExitCode(err))
		}
	})
	t.Run("TLS", func(t *testing.T) {
		t.Parallel()
		env, addr := backupServerEnv(t)
		env["REPLICATION_TLS_CA_FILE"], env["SEED_TLS_CERT_FILE"], env["SEED_TLS_KEY_FILE"] = ca.CertFile, cert, key
		stop, logs := runBackupServerWith(t, env)
		pool, err := seedTLS(&Config{TLSCAFile: ca.CertFile})
		if err != nil {
			t.Fatal(err)
		}
		verified := func(name string) *http.Client {
			c := pool.Clone()
			c.ServerName = name
			return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: c}}
		}
		deadline := time.Now().Add(20 * time.Second)
		if err := nonceOver(verified(seedTLSPodHost), "https://"+addr, deadline); err != nil {
			t.Fatalf("nonce over TLS: %v\n%s", err, logs.String())
		}
		if err := nonceOver(verified("mysql-2.mysql.db.svc.cluster.local"), "https://"+addr, deadline); err == nil {
			t.Error("the certificate verified for another pod's name")
		}
		if err := nonceOver(&http.Client{Timeout: 5 * time.Second}, "http://"+addr, deadline); err == nil {
			t.Error("a nonce was served in clear")
		}
		err, out := stop()
		if err != nil {
			t.Errorf("backup-server = %v", err)
		}
		if !strings.Contains(out, `"tls":true`) || strings.Contains(out, "travel in clear") {
			t.Errorf("log, want tls:true and no warning:\n%s", out)
		}
	})
	t.Run("no CA", func(t *testing.T) {
		t.Parallel()
		env, addr := backupServerEnv(t)
		stop, logs := runBackupServerWith(t, env)
		if err := nonceOver(&http.Client{Timeout: 5 * time.Second}, "http://"+addr, time.Now().Add(20*time.Second)); err != nil {
			t.Fatalf("nonce over http: %v\n%s", err, logs.String())
		}
		err, out := stop()
		if err != nil {
			t.Errorf("backup-server = %v", err)
		}
		if n := strings.Count(out, "seed copies travel in clear: set REPLICATION_TLS_CA_FILE"); n != 1 {
			t.Errorf("the warning is logged %d times, want once:\n%s", n, out)
		}
	})
}

// TestSeedRequestSchemeFollowsCA: with a CA the sidecar asks for an https
// URL and seed-exec refuses an http one (the copy is refused, nothing is
// fetched, the server starts on its data); without one, http as before.
func TestSeedRequestSchemeFollowsCA(t *testing.T) {
	t.Parallel()
	ca := testtls.NewCA(t)
	donor := decide.Donor{Pod: "mysql-2", Host: "mysql-2.mysql.db.svc.cluster.local."}

	plain := seedCfg(t)
	e := &executor{cfg: plain}
	if got, want := e.backupURL(donor), "http://mysql-2.mysql.db.svc.cluster.local:3307/backup"; got != want {
		t.Errorf("backupURL without a CA = %q, want %q", got, want)
	}
	withCA := seedCfg(t)
	withCA.TLSCAFile = ca.CertFile
	e = &executor{cfg: withCA}
	url := e.backupURL(donor)
	if want := "https://mysql-2.mysql.db.svc.cluster.local:3307/backup"; url != want {
		t.Errorf("backupURL with a CA = %q, want %q", url, want)
	}
	withCA.PodName = "mysql-1"
	if pod, err := requestDonor(withCA, SeedRequest{Donor: "mysql-2", URL: url}); err != nil || pod != "mysql-2" {
		t.Errorf("requestDonor(https) = %q, %v", pod, err)
	}
	if _, err := requestDonor(withCA, SeedRequest{Donor: "mysql-2", URL: strings.Replace(url, "https:", "http:", 1)}); err == nil ||
		!strings.Contains(err.Error(), "want https://") || !strings.Contains(err.Error(), "REPLICATION_TLS_CA_FILE") {
		t.Errorf("requestDonor(http with a CA) = %v", err)
	}
	plain.PodName = "mysql-1"
	if _, err := requestDonor(plain, SeedRequest{Donor: "mysql-2", URL: url}); err == nil || !strings.Contains(err.Error(), "give seed-exec the same CA") {
		t.Errorf("requestDonor(https without a CA) = %v, want it refused, saying why", err)
	}

	// seed-exec with a CA and a signed request for http: refused before
	// any connection, recorded for the sidecar, the data left alone.
	var hits atomic.Int64
	srv := http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	files := newSeedFiles(withCA.StateDir).signedWith(seedSecret(withCA, newCredentials(withCA)))
	if err := files.request(SeedRequest{Donor: "mysql-2", URL: "http://127.0.0.1:" + port + "/backup", Why: "test", Requested: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := seedBeforeStart(context.Background(), withCA, slog.New(slog.NewJSONHandler(&log, nil))); err != nil {
		t.Fatalf("seedBeforeStart = %v", err)
	}
	f, err := files.facts()
	if err != nil || f.Running || !strings.Contains(f.Err, "want https://") {
		t.Errorf("facts = %+v, %v", f, err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the http donor", n)
	}
	if b, err := os.ReadFile(filepath.Join(withCA.DataDir, "ibdata1")); err != nil || string(b) != "old" {
		t.Errorf("the data directory changed: %q %v", b, err)
	}
}

// TestSeedPlaintextWarning: on MariaDB without a CA the sidecar says once
// in its log, and at every pass on /status, that copies travel in clear;
// not with a CA, and not on MySQL (CLONE goes over the server's own TLS).
func TestSeedPlaintextWarning(t *testing.T) {
	t.Parallel()
	up := func(f sqldialect.Flavor) decide.Observation {
		var o decide.Observation
		o.Local.Up = true
		o.Local.Server = sqldialect.Server{Flavor: f}
		return o
	}
	for _, tc := range []struct {
		name   string
		flavor sqldialect.Flavor
		ca     string
		want   bool
	}{
		{"mariadb without a CA", sqldialect.MariaDB, "", true},
		{"mariadb with a CA", sqldialect.MariaDB, "/etc/mysql-tls/ca.crt", false},
		{"mysql without a CA", sqldialect.MySQL, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var log syncBuf
			r := &reconciler{log: slog.New(slog.NewJSONHandler(&log, nil)), policy: decide.Policy{TLSCA: tc.ca}}
			var got []string
			for _, o := range []decide.Observation{up(tc.flavor), {}, up(tc.flavor)} { // the server goes down between
				got = r.warnings(o)
				if has := len(got) == 1 && strings.HasPrefix(got[0], wire.WarningSeedPlaintext+": seed copies travel in clear"); has != tc.want {
					t.Errorf("warnings = %q, want the seed-plaintext one: %v", got, tc.want)
				}
			}
			n := strings.Count(log.String(), "seed copies travel in clear")
			if want := map[bool]int{true: 1, false: 0}[tc.want]; n != want {
				t.Errorf("logged %d times, want %d:\n%s", n, want, log.String())
			}
		})
	}
}

// TestSeedExecOverTLS: seed-exec fetches a requested copy over TLS,
// verifying the donor against REPLICATION_TLS_CA_FILE for the donor's
// stable name: a donor with its own certificate gets the token (it
// answers busy here, which the sidecar reads as such); one whose
// certificate names another pod gets nothing, and the copy's error says
// why.
func TestSeedExecOverTLS(t *testing.T) {
	ca := testtls.NewCA(t)
	const donorHost = "mysql-2.mysql.db.svc.cluster.local"
	good, goodKey := ca.Issue(t, "donor", donorHost)
	other, otherKey := ca.Issue(t, "other", "mysql-0.mysql.db.svc.cluster.local")
	for _, tc := range []struct {
		name, cert, key string
		granted         bool
		kind, want      string
	}{
		{"the donor's certificate", good, goodKey, true, decide.SeedBusy, "busy"},
		{"another pod's certificate", other, otherKey, false, "", "donor not verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := seedCfg(t)
			cfg.PodName, cfg.TLSCAFile = "mysql-1", ca.CertFile
			gate := &seed.Gate{Pod: "mysql-2", Secret: func() string { return seamReplPW }}
			var granted atomic.Int64
			mux := http.NewServeMux()
			mux.HandleFunc("POST /seed/nonce", gate.ServeNonce)
			mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
				if _, status, why := gate.Check(r); status != 0 {
					http.Error(w, why, status)
					return
				}
				granted.Add(1)
				http.Error(w, "another backup is running", http.StatusServiceUnavailable)
			})
			srvTLS, err := seed.ServerTLS(tc.cert, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
			go func() { _ = srv.Serve(tls.NewListener(ln, srvTLS)) }()
			defer srv.Close()
			// The donor's stable name reaches the test's listener.
			seedClient = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}}
			defer func() { seedClient = nil }()

			files := newSeedFiles(cfg.StateDir).signedWith(seedSecret(cfg, newCredentials(cfg)))
			if err := files.request(SeedRequest{Donor: "mysql-2", URL: "https://" + donorHost + ":8081/backup", Why: "test", Requested: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if err := seedBeforeStart(context.Background(), cfg, slog.New(slog.DiscardHandler)); err != nil {
				t.Fatalf("seedBeforeStart = %v", err)
			}
			f, err := files.facts()
			if err != nil || f.Kind != tc.kind || !strings.Contains(f.Err, tc.want) {
				t.Errorf("facts = %+v, %v; want kind %q and an error with %q", f, err, tc.kind, tc.want)
			}
			if got := granted.Load() > 0; got != tc.granted {
				t.Errorf("the donor granted a token: %v, want %v", got, tc.granted)
			}
		})
	}
}
