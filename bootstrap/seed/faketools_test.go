package seed

import (
	"archive/tar"
	"bytes"
	"encoding/hex"
	"errors"
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

	"github.com/google/go-cmp/cmp"
)

// fakeTools writes stand-ins for MariaDB's tools, so that Run's steps
// around the swap can be tested without them: mbstream extracts a tar
// stream, mariadb-backup --prepare does nothing. They need /bin/sh and
// tar.
func fakeTools(t *testing.T) (mbstream, mariaBackup string) {
	t.Helper()
	for _, tool := range []string{"/bin/sh", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: the stand-ins for mbstream and mariadb-backup need it: %v", tool, err)
		}
	}
	dir := t.TempDir()
	mbstream, mariaBackup = filepath.Join(dir, "mbstream"), filepath.Join(dir, "mariadb-backup")
	// mbstream -x -C DIR
	if err := os.WriteFile(mbstream, []byte("#!/bin/sh\nexec tar -x -f - -C \"$3\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mariaBackup, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return mbstream, mariaBackup
}

// tarDonor serves files as a tar stream with the trailers of a good
// backup, and returns its URL.
func tarDonor(t *testing.T, files tree) string {
	t.Helper()
	srv := gatedDonor(t, "x", "db-0", tarStream(t, files))
	return srv.URL + "/backup"
}

// tarStream answers a granted request with files as a tar stream and the
// trailers of a good backup.
func tarStream(t *testing.T, files tree) func(http.ResponseWriter, *http.Request, Grant) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasSuffix(n, "/") {
			if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
			continue
		}
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
	return func(w http.ResponseWriter, r *http.Request, g Grant) {
		mac := g.MAC()
		mac.Write(body)
		w.Header().Set("Trailer", strings.Join([]string{TrailerStatus, TrailerError, TrailerBytes, TrailerMAC}, ", "))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		w.Header().Set(TrailerStatus, statusOK)
		w.Header().Set(TrailerBytes, strconv.Itoa(len(body)))
		w.Header().Set(TrailerMAC, hex.EncodeToString(mac.Sum(nil)))
	}
}

// gatedDonor is a fake donor with the real donor's tokens (a Gate for pod
// with secret): POST /seed/nonce, and GET /backup, which serve answers
// once the token passed.
func gatedDonor(t *testing.T, secret, pod string, serve func(http.ResponseWriter, *http.Request, Grant)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(gated(secret, pod, serve))
	t.Cleanup(srv.Close)
	return srv
}

// gated is gatedDonor's handler.
func gated(secret, pod string, serve func(http.ResponseWriter, *http.Request, Grant)) http.Handler {
	gate := &Gate{Pod: pod, Secret: func() string { return secret }}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /seed/nonce", gate.ServeNonce)
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		g, status, why := gate.Check(r)
		if status != 0 {
			http.Error(w, why, status)
			return
		}
		serve(w, r, g)
	})
	return mux
}

// TestRunSwapFailsPartWay: a swap that fails part-way (EACCES on an old
// entry) leaves a data directory that is neither the old data nor the
// copy. Run must say so with ErrSwapPending, the data directory must not
// prove the copy, and Resume then finishes it.
func TestRunSwapFailsPartWay(t *testing.T) {
	t.Parallel()
	mbstream, mariaBackup := fakeTools(t)
	url := tarDonor(t, newData)
	dir := t.TempDir()
	writeTree(t, dir, oldData)
	var completed Result
	r := &Restore{DataDir: dir, DonorURL: url, Secret: "x", Recipient: "db-1", DonorPod: "db-0", MBStream: mbstream, MariaBackup: mariaBackup, Log: discard(),
		Complete: func(res Result) error { completed = res; return nil },
		swapHook: func(op string) error {
			if op == "remove olddb" {
				return &os.PathError{Op: "unlinkat", Path: filepath.Join(dir, "olddb"), Err: syscall.EACCES}
			}
			return nil
		}}
	res, err := r.Run(t.Context())
	if !errors.Is(err, ErrSwapPending) || !errors.Is(err, syscall.EACCES) {
		t.Fatalf("Run = %v, want ErrSwapPending and the swap's EACCES", err)
	}
	if completed.Nonce == "" || res.Nonce != completed.Nonce || res.GTID != "0-1-9" {
		t.Errorf("Run's result %+v, recorded %+v: want the same named copy", res, completed)
	}
	if _, err := os.Stat(filepath.Join(dir, "mysql")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("half swapped, the datadir has a mysql directory: %v", err)
	}
	if nonce, ok, err := SwapProof(dir); ok || err != nil {
		t.Errorf("SwapProof of a half-swapped datadir = %q %v %v", nonce, ok, err)
	}

	got, resumed, err := Resume(dir, discard())
	if err != nil || !resumed || got.Nonce != completed.Nonce {
		t.Fatalf("Resume = %+v %v %v", got, resumed, err)
	}
	want := tree{"lost+found/keep": "the filesystem's", proofName: completed.Nonce + "\n"}
	for p, c := range newData {
		want[p] = c
	}
	if d := cmp.Diff(want, readTree(t, dir)); d != "" {
		t.Errorf("after Resume (-want +got):\n%s", d)
	}
}
