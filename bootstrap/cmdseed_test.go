package bootstrap

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/podtest"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/seed"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// nobody is the unprivileged user seed-exec runs as when the test runs as
// root, so that a root-owned entry in the data directory cannot be
// removed, as in a server container (uid 999).
const nobody = 65534

// copyFiles is the copy the fake donor serves: a prepared MariaDB data
// directory as far as the swap can tell.
var copyFiles = map[string]string{
	"ibdata1":                "new ibdata",
	"mysql/user.frm":         "new user",
	"newdb/t.ibd":            "new table",
	"xtrabackup_binlog_info": "mysql-bin.000009\t4\t0-1-9\n",
}

// seedDonorURL is the donor's backup URL in the seed requests of these
// tests: the stable name of mysql-2, which seed-exec checks. seed-exec
// reaches the test's fake donor through it as an HTTP proxy (HTTP_PROXY,
// proxyEnv).
const seedDonorURL = "http://mysql-2.mysql.default.svc.cluster.local:8081/backup"

// proxyEnv is what seed-exec needs to find the fake donor at srv under
// seedDonorURL's name: the stable names' parts, and srv as its proxy.
func proxyEnv(srv *httptest.Server) []string {
	return []string{"SERVICE_NAME=mysql", "POD_NAMESPACE=default", "CLUSTER_DOMAIN=cluster.local", "HTTP_PROXY=" + srv.URL}
}

// gatedDonor is a fake mysql-2 with the real donor's tokens, keyed by
// secret: POST /seed/nonce, and GET /backup, which serve answers once the
// token passed.
func gatedDonor(t *testing.T, secret string, serve func(http.ResponseWriter, *http.Request, seed.Grant)) *httptest.Server {
	t.Helper()
	gate := &seed.Gate{Pod: "mysql-2", Secret: func() string { return secret }}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /seed/nonce", gate.ServeNonce)
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		g, status, why := gate.Check(r)
		if status != 0 {
			t.Logf("fake donor: refused: %s", why)
			http.Error(w, http.StatusText(status), status)
			return
		}
		serve(w, r, g)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// tarDonor serves files as a tar stream with the trailers of a good
// backup (seed.Donor's) to a token keyed by secret.
func tarDonor(t *testing.T, secret string, files map[string]string) *httptest.Server {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o640, Size: int64(len(files[n]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	body := buf.Bytes()
	return gatedDonor(t, secret, func(w http.ResponseWriter, r *http.Request, g seed.Grant) {
		mac := g.MAC()
		mac.Write(body)
		w.Header().Set("Trailer", strings.Join([]string{seed.TrailerStatus, seed.TrailerError, seed.TrailerBytes, seed.TrailerMAC}, ", "))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		w.Header().Set(seed.TrailerStatus, "ok")
		w.Header().Set(seed.TrailerBytes, strconv.Itoa(len(body)))
		w.Header().Set(seed.TrailerMAC, hex.EncodeToString(mac.Sum(nil)))
	})
}

// fakeRestoreTools writes stand-ins for mbstream (tar extracts the stream)
// and mariadb-backup (--prepare does nothing) into dir.
func fakeRestoreTools(t *testing.T, dir string) {
	t.Helper()
	for _, tool := range []string{"/bin/sh", "tar", "/bin/echo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: this test's stand-ins for mbstream and mariadb-backup need it: %v", tool, err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "mbstream"), []byte("#!/bin/sh\nexec tar -x -f - -C \"$3\"\n"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "mariadb-backup"), []byte("#!/bin/sh\nexit 0\n"), 0o755))
}

// TestSeedExecFailedSwapNeverStarts runs seed-exec as the server
// container does, with a copy whose swap fails part-way (an entry of the
// old data directory it may not remove, as a root-owned one): the
// entrypoint must never run on the half-swapped data directory, the
// container's restarts must not run it either, and once the entry can be
// removed the swap finishes, the data directory proves to hold the copy
// and only then is its result offered to the sidecar.
func TestSeedExecFailedSwapNeverStarts(t *testing.T) {
	t.Parallel()
	root := os.Geteuid() == 0
	base := t.TempDir()
	// seed-exec runs as nobody: it must reach the test's directories.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tools, dataDir, stateDir := filepath.Join(base, "tools"), filepath.Join(base, "data"), filepath.Join(base, "state")
	for _, d := range []string{tools, dataDir, filepath.Join(stateDir, seedDirName)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fakeRestoreTools(t, tools)
	old := map[string]string{"ibdata1": "old ibdata", "mysql/user.frm": "old user", "olddb/t.ibd": "old table"}
	for p, c := range old {
		if err := os.MkdirAll(filepath.Join(dataDir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dataDir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files := newSeedFiles(stateDir).signedWith(func() string { return "repl-pw" })
	donor := tarDonor(t, "repl-pw", copyFiles)
	if err := files.request(SeedRequest{Donor: "mysql-2", URL: seedDonorURL, Why: "test", Requested: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// The obstacle: olddb/t.ibd cannot be removed by seed-exec.
	olddb := filepath.Join(dataDir, "olddb")
	chownAll := func(dir string) {
		t.Helper()
		if !root {
			return
		}
		if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if p == olddb || strings.HasPrefix(p, olddb+"/") {
				return filepath.SkipDir
			}
			return os.Lchown(p, nobody, nobody)
		}); err != nil {
			t.Fatal(err)
		}
	}
	chownAll(dataDir)
	chownAll(stateDir)
	if !root {
		if err := os.Chmod(olddb, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(olddb, 0o755) })
	}

	// A copy of the binary where nobody may run it.
	bin := filepath.Join(tools, "mysql-bootstrap")
	b, err := os.ReadFile(podtest.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + tools + ":" + os.Getenv("PATH"), "POD_NAME=mysql-1", "MYSQL_ROOT_PASSWORD=root-pw", "REPLICATION_PASSWORD=repl-pw",
		"DATA_DIR=" + dataDir, "STATE_DIR=" + stateDir, "HOSTS_FILE=" + filepath.Join(base, "no-hosts")}
	env = append(env, proxyEnv(donor)...)
	seedExec := func() (int, string, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "seed-exec", "--", "/bin/echo", "SERVER-STARTED")
		cmd.Env = env
		if root {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0, stdout.String(), stderr.String()
		case errors.As(err, &ee):
			return ee.ExitCode(), stdout.String(), stderr.String()
		}
		t.Fatalf("seed-exec: %v", err)
		return 0, "", ""
	}

	// The copy, then the swap that fails, then the container's restarts.
	for start := 1; start <= 2; start++ {
		code, stdout, stderr := seedExec()
		if code == 0 || strings.Contains(stdout, "SERVER-STARTED") {
			t.Fatalf("start %d: seed-exec exited %d and ran the entrypoint (%q) over a half-swapped data directory:\n%s", start, code, stdout, stderr)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "mysql")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("start %d: the half-swapped data directory looks initialised (mysql exists): %v", start, err)
		}
		f, err := files.facts()
		if err != nil || f.ResultPending || !f.Running || !strings.Contains(f.Phase, "swap failed") {
			t.Errorf("start %d: the sidecar would see %+v (%v): want the seed still running, its swap failed, no result to apply", start, f, err)
		}
		t.Logf("start %d: exit %d, progress %q", start, code, f.Phase)
	}

	// The obstacle goes: the next start finishes the swap, proves it and
	// runs the entrypoint.
	if root {
		if err := filepath.Walk(olddb, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, nobody, nobody)
		}); err != nil {
			t.Fatal(err)
		}
	} else if err := os.Chmod(olddb, 0o755); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := seedExec()
	if code != 0 || !strings.Contains(stdout, "SERVER-STARTED") {
		t.Fatalf("seed-exec exited %d (%q) once the swap could finish:\n%s", code, stdout, stderr)
	}
	for p, c := range copyFiles {
		if b, err := os.ReadFile(filepath.Join(dataDir, p)); err != nil || string(b) != c {
			t.Errorf("%s after the swap: %q %v, want %q", p, b, err, c)
		}
	}
	if _, err := os.Stat(olddb); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the old data is still there: %v", err)
	}
	var res SeedResult
	var sw SeedSwapped
	if ok, err := readJSON(files.path(seedResultFile), &res); !ok || err != nil || res.Nonce == "" || res.Donor != "mysql-2" {
		t.Errorf("result.json %+v %v %v", res, ok, err)
	}
	if ok, err := readJSON(files.path(seedSwappedFile), &sw); !ok || err != nil || sw.Nonce != res.Nonce {
		t.Errorf("swapped.json %+v %v %v, want the result's nonce %q", sw, ok, err, res.Nonce)
	}
	if f, err := files.facts(); err != nil || !f.ResultPending || f.ResultGTID != "0-1-9" || f.Running {
		t.Errorf("the sidecar would see %+v (%v): want the copy's position to apply", f, err)
	}
}

// TestSeedResultNeedsProof: a result without the data directory's proof is
// never offered to the sidecar to apply.
func TestSeedResultNeedsProof(t *testing.T) {
	t.Parallel()
	files := newSeedFiles(t.TempDir()).signedWith(func() string { return "repl-secret" })
	if err := files.mkdir(); err != nil {
		t.Fatal(err)
	}
	if err := files.result("mysql-2", seed.Result{GTID: "0-100-9", Nonce: "n1"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		swapped *SeedSwapped
		pending bool
	}{
		{name: "no proof"},
		{name: "proof of another copy", swapped: &SeedSwapped{Nonce: "n0"}},
		{name: "proof of this copy", swapped: &SeedSwapped{Nonce: "n1"}, pending: true},
	} {
		if tc.swapped != nil {
			if err := writeJSON(files.path(seedSwappedFile), tc.swapped); err != nil {
				t.Fatal(err)
			}
		}
		f, err := files.facts()
		if err != nil || f.ResultPending != tc.pending || f.Unproven == tc.pending {
			t.Errorf("%s: facts %+v %v, want pending %v", tc.name, f, err, tc.pending)
		}
		// A MariaDB replica's sidecar, its server up on the restored copy.
		at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		srv, err := sqldialect.ParseVersion("11.8.3-MariaDB")
		if err != nil {
			t.Fatal(err)
		}
		o := decide.Observation{At: at, Local: decide.LocalFacts{Up: true, Server: srv, StartedAt: at.Add(-time.Minute)}, Seed: f}
		p := decide.Policy{Role: wire.RoleReplica, Pod: "mysql-1", StaleAfter: time.Minute}
		d := decide.Decide(o, decide.Memory{}, p, o.At)
		if got := len(d.Actions) == 1 && d.Actions[0].Kind == decide.ActApplySeed; got != tc.pending || d.Ready {
			t.Errorf("%s: %v, want the position applied: %v", tc.name, d, tc.pending)
		}
	}
}

// TestSeedExecStalledDonor: a donor that stops sending (deleted, hung)
// is given up after SEED_STALL_TIMEOUT, not minutes: seed-exec records
// the failure as stalled (so that the sidecar tries another donor at
// once) and starts the server on the data directory as it was.
func TestSeedExecStalledDonor(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	tools, dataDir, stateDir := filepath.Join(base, "tools"), filepath.Join(base, "data"), filepath.Join(base, "state")
	for _, d := range []string{tools, filepath.Join(dataDir, "mysql"), filepath.Join(stateDir, seedDirName)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fakeRestoreTools(t, tools)
	if err := os.WriteFile(filepath.Join(dataDir, "mysql", "user.frm"), []byte("old user"), 0o644); err != nil {
		t.Fatal(err)
	}
	gone := make(chan struct{})
	srv := gatedDonor(t, "repl-pw", func(w http.ResponseWriter, r *http.Request, _ seed.Grant) {
		w.Header().Set("Trailer", strings.Join([]string{seed.TrailerStatus, seed.TrailerError, seed.TrailerBytes, seed.TrailerMAC}, ", "))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(make([]byte, 512)) // a tar block, then nothing
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
		case <-gone:
		}
	})
	t.Cleanup(func() { close(gone) })
	files := newSeedFiles(stateDir).signedWith(func() string { return "repl-pw" })
	if err := files.request(SeedRequest{Donor: "mysql-2", URL: seedDonorURL, Requested: time.Now()}); err != nil {
		t.Fatal(err)
	}
	env := podtest.Env{"PATH": tools + ":" + os.Getenv("PATH"), "POD_NAME": "mysql-1", "MYSQL_ROOT_PASSWORD": "root-pw",
		"REPLICATION_PASSWORD": "repl-pw", "DATA_DIR": dataDir, "STATE_DIR": stateDir, "HOSTS_FILE": filepath.Join(base, "no-hosts"),
		"SEED_STALL_TIMEOUT": "5s"}
	for _, kv := range proxyEnv(srv) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	start := time.Now()
	res := podtest.Run(t, 60*time.Second, env, "seed-exec", "--", "/bin/echo", "SERVER-STARTED")
	took := time.Since(start)
	if res.Code != 0 || !strings.Contains(res.Stdout, "SERVER-STARTED") {
		t.Fatalf("seed-exec exited %d (%q) after a stalled copy, want the server started on its data:\n%s", res.Code, res.Stdout, res.Stderr)
	}
	if took > 30*time.Second {
		t.Errorf("the stalled donor was given up after %s, want about SEED_STALL_TIMEOUT (5s)", took.Round(time.Millisecond))
	}
	var serr SeedError
	if ok, err := readJSON(files.path(seedErrorFile), &serr); !ok || err != nil || serr.Kind != decide.SeedStalled || serr.Donor != "mysql-2" {
		t.Errorf("error.json %+v %v %v, want mysql-2 stalled", serr, ok, err)
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, "mysql", "user.frm")); err != nil || string(b) != "old user" {
		t.Errorf("the data directory changed: %q %v", b, err)
	}
	t.Logf("a stalled donor given up after %s: %s", took.Round(time.Millisecond), serr.Error)
}

func TestRestoreFailureKind(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"busy", fmt.Errorf("restore: %w", seed.ErrBusy), decide.SeedBusy},
		{"stalled", fmt.Errorf("restore: %w", seed.ErrStalled), decide.SeedStalled},
		{"refused", fmt.Errorf("GET /backup: %w", refused), decide.SeedLost},
		{"no such host", fmt.Errorf("GET /backup: %w", &net.DNSError{Err: "no such host", Name: "mysql-2.mysql", IsNotFound: true}), decide.SeedLost},
		{"cut", fmt.Errorf("%w: after 5 bytes: %w", seed.ErrIncomplete, io.ErrUnexpectedEOF), decide.SeedLost},
		{"reset", fmt.Errorf("%w: after 5 bytes: %w", seed.ErrIncomplete, syscall.ECONNRESET), decide.SeedLost},
		{"bytes", fmt.Errorf("%w: received 5 bytes, donor sent 6", seed.ErrIncomplete), ""},
		{"altered", fmt.Errorf("restore: %w (5 bytes, SHA-256 a)", seed.ErrAltered), decide.SeedAltered},
		{"unauthorized", fmt.Errorf("restore: %w", seed.ErrUnauthorized), ""},
		{"disk", fmt.Errorf("swap: %w", &os.PathError{Op: "rename", Path: "/var/lib/mysql/x", Err: syscall.EACCES}), ""},
	} {
		if got := restoreFailureKind(tc.err); got != tc.want {
			t.Errorf("%s: restoreFailureKind(%v) = %q, want %q", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestPlantedSeedResultIgnored: a result.json (with a matching
// swapped.json) that seed-exec did not sign, such as one SQL with the
// FILE privilege wrote, is never offered to the sidecar to apply: its
// GTID position would reset the server's binary logs and GTID state.
func TestPlantedSeedResultIgnored(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		secret string // what signed it; "" for none
	}{
		{"unsigned", ""},
		{"signed with another secret", "another-secret"},
	} {
		files := newSeedFiles(t.TempDir()).signedWith(func() string { return "repl-secret" })
		if err := files.mkdir(); err != nil {
			t.Fatal(err)
		}
		res := SeedResult{Donor: "mysql-2", GTID: "0-100-999", Nonce: "n1"}
		if tc.secret != "" {
			if err := writeSigned(files.path(seedResultFile), seedDirName+"/"+seedResultFile, tc.secret, &res, &res.MAC); err != nil {
				t.Fatal(err)
			}
		} else if err := writeJSON(files.path(seedResultFile), res); err != nil {
			t.Fatal(err)
		}
		if err := writeJSON(files.path(seedSwappedFile), SeedSwapped{Nonce: "n1"}); err != nil {
			t.Fatal(err)
		}
		f, err := files.facts()
		if err != nil || f.ResultPending || f.Unproven || f.ResultGTID != "" || !strings.Contains(f.Err, "seed/result.json is not signed") {
			t.Errorf("%s: facts %+v %v, want the result ignored with the reason", tc.name, f, err)
		}
	}
}
