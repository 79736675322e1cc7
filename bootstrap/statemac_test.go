package bootstrap

import (
	"bytes"
	"encoding/json"
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

const (
	stateSecretA = "secret-of-this-statefulset"
	stateSecretB = "another-secret"
)

func fixedSecret(s string) func() string { return func() string { return s } }

// TestStateMAC: a signed file checks with its secret and name only; a
// missing MAC, another secret, a changed field or another file's name
// fail; the MAC reveals neither the secret nor the seed tokens' key.
func TestStateMAC(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 12, 6, 19, 0, 0, 123456789, time.FixedZone("x", 3600))
	req := ForgetRequest{Pod: "mysql-3", Created: created}
	if err := signState(stateSecretA, forgetPeerFile, &req, &req.MAC); err != nil {
		t.Fatal(err)
	}
	// As a reader finds it: through the file's JSON.
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	read := func() ForgetRequest {
		var r ForgetRequest
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := read()
	if err := checkState(stateSecretA, forgetPeerFile, &r, &r.MAC); err != nil {
		t.Errorf("signed request: %v", err)
	}
	if r.MAC != req.MAC {
		t.Error("checkState changed the MAC read")
	}
	r = read()
	if err := checkState(stateSecretB, forgetPeerFile, &r, &r.MAC); err == nil || !strings.Contains(err.Error(), "is not signed by this StatefulSet's secret") {
		t.Errorf("another secret: %v", err)
	}
	r = read()
	if err := checkState(stateSecretA, overrideFile, &r, &r.MAC); err == nil {
		t.Error("a MAC for forget-peer.json checked for override.json")
	}
	r = read()
	r.Pod = "mysql-2"
	if err := checkState(stateSecretA, forgetPeerFile, &r, &r.MAC); err == nil {
		t.Error("a changed pod checked")
	}
	r = read()
	r.Created = r.Created.Add(time.Nanosecond)
	if err := checkState(stateSecretA, forgetPeerFile, &r, &r.MAC); err == nil {
		t.Error("a changed time checked")
	}
	r = read()
	r.MAC = ""
	if err := checkState(stateSecretA, forgetPeerFile, &r, &r.MAC); err == nil || !strings.Contains(err.Error(), "has no MAC") {
		t.Errorf("no MAC: %v", err)
	}
	if err := checkState("", forgetPeerFile, &req, &req.MAC); err == nil {
		t.Error("checked without a secret")
	}
	if err := signState("", forgetPeerFile, &req, &req.MAC); err == nil {
		t.Error("signed without a secret")
	}
	// Nothing of the secret in the file, and a key of its own.
	if bytes.Contains(b, []byte(stateSecretA)) || strings.Contains(string(b), stateSecretA) {
		t.Error("the secret is in the file")
	}
	if bytes.Equal(stateKey(stateSecretA), seed.Key(stateSecretA)) {
		t.Error("state files and seed tokens share a key")
	}
	if strings.Contains(string(b), string(stateKey(stateSecretA))) {
		t.Error("the key is in the file")
	}
}

// TestOverrideSignedAndFresh: the sidecar uses only an override signed
// with its secret and at most overrideMaxAge old; anything else is
// reported (Override.Err, which decide turns into a problem) and left.
func TestOverrideSignedAndFresh(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	f := &overrideFiles{dir: dir, secret: fixedSecret(stateSecretA)}
	g := &gatherer{overrides: f}

	// Planted: the JSON of a valid override, without a MAC (SELECT … INTO
	// OUTFILE writes nothing else).
	if err := writeJSON(f.path(), decide.Override{Action: decide.OverrideOwnData, Created: now}); err != nil {
		t.Fatal(err)
	}
	o := g.override(now)
	if o == nil || o.Action != "" || !strings.Contains(o.Err, "override.json is not signed by this StatefulSet's secret") ||
		!strings.HasSuffix(o.Err, ": ignored; run primary-override again") {
		t.Errorf("unsigned override = %+v", o)
	}
	if _, err := os.Stat(f.path()); err != nil {
		t.Errorf("the ignored override was removed: %v", err)
	}

	// Signed with another StatefulSet's secret.
	other := &overrideFiles{dir: dir, secret: fixedSecret(stateSecretB)}
	if err := other.write(decide.Override{Action: decide.OverrideSeedFrom, From: "mysql-2", Created: now}); err != nil {
		t.Fatal(err)
	}
	if o := g.override(now); o == nil || o.Action != "" || o.From != "" || !strings.Contains(o.Err, "is not signed by this StatefulSet's secret") {
		t.Errorf("foreign override = %+v", o)
	}

	// Signed, but older than an hour.
	created := now.Add(-overrideMaxAge - time.Minute)
	if err := f.write(decide.Override{Action: decide.OverrideOwnData, Created: created}); err != nil {
		t.Fatal(err)
	}
	want := "override.json from " + created.UTC().Format(time.RFC3339) + " is older than 1h: ignored; run primary-override again"
	if o := g.override(now); o == nil || o.Action != "" || o.Err != want {
		t.Errorf("old override = %+v, want Err %q", o, want)
	}

	// Signed and fresh: used.
	if err := f.write(decide.Override{Action: decide.OverrideSeedFrom, From: "mysql-2", Created: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if o := g.override(now); o == nil || o.Err != "" || o.Action != decide.OverrideSeedFrom || o.From != "mysql-2" {
		t.Errorf("signed override = %+v", o)
	}
	if b, _ := os.ReadFile(f.path()); bytes.Contains(b, []byte(stateSecretA)) {
		t.Error("the secret is in override.json")
	}
}

// TestForgetRequestUnsigned: a forget-peer request without a valid MAC
// is not applied; why is returned (the sidecar logs it), and the file is
// left for a person to see.
func TestForgetRequestUnsigned(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		write func(path string, r ForgetRequest) error
	}{
		{"unsigned", func(path string, r ForgetRequest) error { return writeJSON(path, r) }},
		{"another secret", func(path string, r ForgetRequest) error {
			return writeSigned(path, forgetPeerFile, stateSecretB, &r, &r.MAC)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := &peerMemoryStore{dir: dir, secret: fixedSecret(stateSecretA)}
			if _, _, readErr, writeErr := s.update(decide.Peers{answered("mysql-1"), answered("mysql-2")}, "mysql-0", "mysql", pm0); readErr != nil || writeErr != nil {
				t.Fatal(readErr, writeErr)
			}
			path := filepath.Join(dir, forgetPeerFile)
			if err := tc.write(path, ForgetRequest{Pod: "mysql-2", Created: pm0.Add(time.Second)}); err != nil {
				t.Fatal(err)
			}
			m, ignored, readErr, writeErr := s.update(decide.Peers{answered("mysql-1")}, "mysql-0", "mysql", pm0.Add(2*time.Second))
			if readErr != nil || writeErr != nil {
				t.Fatal(readErr, writeErr)
			}
			if _, forgotten := m.Forgotten["mysql-2"]; forgotten || !strings.Contains(strings.Join(m.Known(), ","), "mysql-2") {
				t.Errorf("an unsigned request was applied: %+v", m)
			}
			if !strings.Contains(ignored, "forget-peer.json is not signed by this StatefulSet's secret") || !strings.Contains(ignored, "mysql-2 is not forgotten; run forget-peer again") {
				t.Errorf("ignored = %q", ignored)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("the ignored request was removed: %v", err)
			}
		})
	}
}

// TestSeedRequestUnsigned: seed-exec restores nothing for a request
// without a valid MAC (nothing connects to its donor): it records why as
// the seed's error and the server starts on its data; the sidecar does
// not take such a request for a copy under way.
func TestSeedRequestUnsigned(t *testing.T) {
	t.Parallel()
	var hit atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Store(true) }))
	defer srv.Close()
	for _, tc := range []struct {
		name  string
		write func(files seedFiles, r SeedRequest) error
		want  string
	}{
		{"unsigned", func(files seedFiles, r SeedRequest) error {
			if err := files.mkdir(); err != nil {
				return err
			}
			return writeJSON(files.path(seedRequestFile), r)
		}, "seed/request.json is not signed by this StatefulSet's secret (it has no MAC"},
		{"another secret", func(files seedFiles, r SeedRequest) error {
			return files.signedWith(fixedSecret(stateSecretB)).request(r)
		}, "seed/request.json is not signed by this StatefulSet's secret (written by something else"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			c := seedConfig(t, map[string]string{"DATA_DIR": filepath.Join(base, "data"), "STATE_DIR": base})
			if err := os.Mkdir(c.DataDir, 0o755); err != nil {
				t.Fatal(err)
			}
			files := newSeedFiles(c.StateDir)
			if err := tc.write(files, SeedRequest{Donor: "mysql-0", URL: srv.URL + "/backup", Why: "planted", Requested: time.Now()}); err != nil {
				t.Fatal(err)
			}
			// The sidecar's view: no copy under way, and why.
			sidecarFiles := files.signedWith(sidecarSeedSecret(c, newCredentials(c)))
			f, err := sidecarFiles.facts()
			if err != nil || f.Running || f.Donor != "" || !strings.Contains(f.Err, tc.want) {
				t.Errorf("sidecar facts = %+v, %v", f, err)
			}
			var log bytes.Buffer
			if err := restoreRequested(t.Context(), c, files, slog.New(slog.NewTextHandler(&log, nil))); err != nil {
				t.Fatalf("restoreRequested = %v, want the server started on its data", err)
			}
			var serr SeedError
			if ok, err := readJSON(files.path(seedErrorFile), &serr); !ok || err != nil || !strings.Contains(serr.Error, tc.want) || serr.Donor != "" {
				t.Errorf("error.json %+v %v %v, want %q", serr, ok, err, tc.want)
			}
			if _, err := os.Stat(files.path(seedRequestFile)); !os.IsNotExist(err) {
				t.Errorf("the refused request is still there: %v", err)
			}
			if strings.Contains(log.String(), "replpw") || strings.Contains(serr.Error, "replpw") {
				t.Error("the secret is in the log or the error")
			}
			if f, err := sidecarFiles.facts(); err != nil || f.Running || !strings.Contains(f.Err, tc.want) {
				t.Errorf("sidecar facts after seed-exec = %+v, %v", f, err)
			}
		})
	}
	if hit.Load() {
		t.Error("seed-exec connected to the donor of a request it refused")
	}
}

// TestStateSecretBothSides: what the sidecar signs, seed-exec and the
// person's commands check and sign with the same key: the replication
// password's file, or SEED_PASSWORD's when set, read by each process.
func TestStateSecretBothSides(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		extra func(dir string) map[string]string
	}{
		{"replication password file", func(dir string) map[string]string {
			return map[string]string{"REPLICATION_PASSWORD_FILE": filepath.Join(dir, "repl")}
		}},
		{"seed password file", func(dir string) map[string]string {
			return map[string]string{"REPLICATION_PASSWORD_FILE": filepath.Join(dir, "repl"), "SEED_PASSWORD_FILE": filepath.Join(dir, "seed")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, secrets := t.TempDir(), t.TempDir()
			for _, f := range []string{"repl", "seed"} {
				if err := os.WriteFile(filepath.Join(secrets, f), []byte(f+"-secret-1\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			extra := tc.extra(secrets)
			extra["STATE_DIR"] = dir
			sidecarCfg, execCfg := seedConfig(t, extra), seedConfig(t, extra)
			sidecarCreds := newCredentials(sidecarCfg)
			sidecarCreds.refresh()
			sidecar := newSeedFiles(dir).signedWith(sidecarSeedSecret(sidecarCfg, sidecarCreds))
			if err := sidecar.request(SeedRequest{Donor: "mysql-0", URL: "http://mysql-0.mysql.default.svc.cluster.local:8081/backup", Requested: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if f, err := sidecar.facts(); err != nil || !f.Running || f.Err != "" {
				t.Errorf("sidecar facts = %+v, %v", f, err)
			}
			req, ok, invalid, err := newSeedFiles(dir).signedWith(seedSecret(execCfg, newCredentials(execCfg))).readRequest()
			if err != nil || !ok || invalid != nil || req.Donor != "mysql-0" {
				t.Errorf("seed-exec reads %+v %v %v %v", req, ok, invalid, err)
			}
			b, _ := os.ReadFile(filepath.Join(dir, seedDirName, seedRequestFile))
			if bytes.Contains(b, []byte("secret-1")) {
				t.Error("the secret is in request.json")
			}
			// A person's override, signed in another process, is the
			// sidecar's.
			person := &overrideFiles{dir: dir, secret: seedSecret(execCfg, newCredentials(execCfg))}
			if err := person.write(decide.Override{Action: decide.OverrideOwnData, Created: time.Now()}); err != nil {
				t.Fatal(err)
			}
			g := &gatherer{overrides: &overrideFiles{dir: dir, secret: sidecarSeedSecret(sidecarCfg, sidecarCreds)}}
			if o := g.override(time.Now()); o == nil || o.Err != "" || o.Action != decide.OverrideOwnData {
				t.Errorf("override = %+v", o)
			}
		})
	}
}
