package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/seed"
)

// seedConfig is mysql-1's configuration, loaded from env plus extra.
func seedConfig(t *testing.T, extra map[string]string) *Config {
	t.Helper()
	env := validEnv()
	for k, v := range extra {
		env[k] = v
	}
	c, err := loader(env).Load(context.Background(), Need{Service: true, Passwords: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPeerPod: a donor host is another pod of this pod's StatefulSet by
// its stable name, or the configured PRIMARY_HOST; anything else is
// refused with the host and the expected pattern.
func TestPeerPod(t *testing.T) {
	t.Parallel()
	id, err := NewIdentity(seedConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	const want = "mysql-<N>.mysql.default.svc.cluster.local"
	for _, tc := range []struct {
		host, pod string
	}{
		{"mysql-0.mysql.default.svc.cluster.local", "mysql-0"},
		{"mysql-0.mysql.default.svc.cluster.local.", "mysql-0"},
		{"mysql-12.mysql.default.svc.cluster.local", "mysql-12"},
		{"mysql-1.mysql.default.svc.cluster.local", ""}, // itself
		{"evil.example.com", ""},
		{"127.0.0.1", ""},
		{"mysql-0", ""},
		{"mysql-0.mysql", ""},
		{"mysql-0.mysql.other.svc.cluster.local", ""},
		{"mysql-0.other.default.svc.cluster.local", ""},
		{"mysql-0.mysql.default.svc.cluster.local.evil.com", ""},
		{"other-0.mysql.default.svc.cluster.local", ""},
		{"mysql-x-0.mysql.default.svc.cluster.local", ""},
		{"mysql-00.mysql.default.svc.cluster.local", ""},
		{"mysql-a.mysql.default.svc.cluster.local", ""},
		{"MYSQL-0.mysql.default.svc.cluster.local", ""},
		{"", ""},
	} {
		pod, err := id.PeerPod(tc.host)
		switch {
		case tc.pod != "" && (err != nil || pod != tc.pod):
			t.Errorf("PeerPod(%q) = %q, %v; want %q", tc.host, pod, err, tc.pod)
		case tc.pod == "" && err == nil:
			t.Errorf("PeerPod(%q) = %q: accepted", tc.host, pod)
		case tc.pod == "" && (!strings.Contains(err.Error(), fmt.Sprintf("%q", tc.host)) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n")):
			t.Errorf("PeerPod(%q): %q, want one line naming the host and %s", tc.host, err, want)
		}
	}

	// PRIMARY_HOST, the person's own choice, is taken as it is.
	over, err := NewIdentity(seedConfig(t, map[string]string{"PRIMARY_HOST": "db-primary.example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	if pod, err := over.PeerPod("db-primary.example.com"); err != nil || pod != "db-primary" {
		t.Errorf("PeerPod(PRIMARY_HOST) = %q, %v", pod, err)
	}
	if _, err := over.PeerPod("db-other.example.com"); err == nil {
		t.Error("PeerPod accepted a host that is neither a pod's nor PRIMARY_HOST")
	}

	// Without SERVICE_NAME nothing is a pod's stable name.
	c := seedConfig(t, nil)
	c.ServiceName = ""
	bare, err := NewIdentity(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.PeerPod("mysql-0.mysql.default.svc.cluster.local"); err == nil || !strings.Contains(err.Error(), "SERVICE_NAME") {
		t.Errorf("PeerPod without SERVICE_NAME: %v", err)
	}
}

// TestSeedExecRefusesDonorHost: a seed request whose URL is not a pod of
// this StatefulSet is refused before any connection; the refusal is
// recorded as the copy's error and the server starts on its data.
func TestSeedExecRefusesDonorHost(t *testing.T) {
	t.Parallel()
	var hit atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Store(true) }))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, donor, url, want string
	}{
		{"an address", "mysql-2", srv.URL + "/backup", `donor host "127.0.0.1" refused`},
		{"another name", "mysql-2", "http://evil.example.com:8081/backup", `donor host "evil.example.com" refused`},
		{"another pod than the donor", "mysql-2", "http://mysql-0.mysql.default.svc.cluster.local:8081/backup", `donor "mysql-2", but its URL names`},
		{"not http", "mysql-2", "file:///etc/passwd", "want http://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			c := seedConfig(t, map[string]string{"DATA_DIR": filepath.Join(base, "data"), "STATE_DIR": base})
			if err := os.Mkdir(c.DataDir, 0o755); err != nil {
				t.Fatal(err)
			}
			files := newSeedFiles(c.StateDir).signedWith(seedSecret(c, newCredentials(c)))
			if err := files.request(SeedRequest{Donor: tc.donor, URL: tc.url, Requested: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if err := restoreRequested(t.Context(), c, files, slog.New(slog.DiscardHandler)); err != nil {
				t.Fatalf("restoreRequested = %v, want the server started on its data", err)
			}
			var serr SeedError
			if ok, err := readJSON(files.path(seedErrorFile), &serr); !ok || err != nil || !strings.Contains(serr.Error, tc.want) {
				t.Errorf("error.json %+v %v %v, want %q", serr, ok, err, tc.want)
			}
			if _, err := os.Stat(files.path(seedRequestFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the refused request is still there: %v", err)
			}
		})
	}
	if hit.Load() {
		t.Error("seed-exec connected to a refused donor")
	}
}

// TestExecutorRefusesDonorHost: the sidecar neither clones from nor asks
// for a copy of a donor that is not a pod of its StatefulSet (a peer's
// /status names its own host): nothing is written, nothing connects.
func TestExecutorRefusesDonorHost(t *testing.T) {
	t.Parallel()
	c := seedConfig(t, map[string]string{"STATE_DIR": t.TempDir()})
	id, err := NewIdentity(c)
	if err != nil {
		t.Fatal(err)
	}
	e := &executor{cfg: c, id: id, log: slog.New(slog.DiscardHandler), seeds: newSeedFiles(c.StateDir),
		cloneMarks: cloneMarkers{dir: c.StateDir}, clone: &cloneJob{}}
	for _, kind := range []decide.ActionKind{decide.ActClone, decide.ActRequestSeed} {
		err := e.run(t.Context(), nil, []decide.Action{{Kind: kind, Donor: decide.Donor{Pod: "mysql-0", Host: "attacker.example.com"}}})
		if err == nil || !strings.Contains(err.Error(), `"attacker.example.com"`) {
			t.Errorf("%s from attacker.example.com: %v, want it refused", kind, err)
		}
	}
	for _, f := range []string{e.seeds.path(seedRequestFile), cloneMarkers{dir: c.StateDir}.path()} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written for a refused donor: %v", f, err)
		}
	}
}

// TestSeedPassword: with SEED_PASSWORD set, only it keys seed tokens: a
// recipient that has only the replication password is refused; without
// it, the replication password keys them. The secret shows nowhere.
func TestSeedPassword(t *testing.T) {
	t.Parallel()
	const seedPW = "the-seed-secret"
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "seed-password")
	if err := os.WriteFile(pwFile, []byte(seedPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		extra map[string]string
		key   string // what keys the donor's tokens
	}{
		{"SEED_PASSWORD", map[string]string{"SEED_PASSWORD": seedPW}, seedPW},
		{"SEED_PASSWORD_FILE", map[string]string{"SEED_PASSWORD_FILE": pwFile, "SEED_PASSWORD": "loses"}, seedPW},
		{"unset", nil, "replpw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := seedConfig(t, tc.extra)
			if got := seedSecret(c, newCredentials(c))(); got != tc.key {
				t.Fatalf("seedSecret = %q, want %q", got, tc.key)
			}
			if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, seedPW) {
				t.Errorf("the configuration prints the seed secret: %s", s)
			}
			logs := &strings.Builder{}
			donor := &seed.Donor{Pod: "mysql-2", Secret: seedSecret(c, newCredentials(c)), MariaBackup: "/nonexistent/mariadb-backup",
				Log: slog.New(slog.NewTextHandler(logs, nil))}
			srv := httptest.NewServer(donor.Handler())
			t.Cleanup(srv.Close)
			fetch := func(secret string) error {
				data := t.TempDir()
				_, err := (&seed.Restore{DataDir: data, DonorURL: srv.URL + "/backup", Secret: secret, Recipient: "mysql-1", DonorPod: "mysql-2",
					Client: &http.Client{}}).Run(t.Context())
				return err
			}
			// The replication password alone.
			err := fetch("replpw")
			if tc.key != "replpw" && !errors.Is(err, seed.ErrUnauthorized) {
				t.Errorf("a token keyed by the replication password: %v, want ErrUnauthorized", err)
			}
			// The right secret gets as far as the tool (absent here).
			if err := fetch(tc.key); err == nil || errors.Is(err, seed.ErrUnauthorized) || !strings.Contains(err.Error(), "backup not started") {
				t.Errorf("a token keyed by the right secret: %v, want the donor to try the backup", err)
			}
			if strings.Contains(logs.String(), seedPW) || (err != nil && strings.Contains(err.Error(), seedPW)) {
				t.Errorf("the seed secret shows in the donor's log or the error: %s", logs.String())
			}
		})
	}
	// An empty file is refused at load, naming the variable only.
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := validEnv()
	env["SEED_PASSWORD_FILE"] = empty
	if _, err := loader(env).Load(context.Background(), Need{Passwords: true}); err == nil || !strings.Contains(err.Error(), "SEED_PASSWORD_FILE") {
		t.Errorf("an empty SEED_PASSWORD_FILE: %v", err)
	}
}
