package seed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not found (apt-get install mariadb-backup): %v", n, err)
		}
	}
}

// TestFetchVerifies runs Restore against fake donors whose streams are
// well formed (empty: mbstream accepts it) but whose ends do not vouch
// for them. Only mbstream is needed.
func TestFetchVerifies(t *testing.T) {
	t.Parallel()
	needTool(t, "mbstream")
	const secret = "shared"
	body := []byte("not an xbstream")
	macOf := func(g Grant, b []byte) string {
		m := g.MAC()
		m.Write(b)
		return hex.EncodeToString(m.Sum(nil))
	}
	trailers := func(w http.ResponseWriter, status, errText, n, mac string) {
		w.Header().Set("Trailer", strings.Join([]string{TrailerStatus, TrailerError, TrailerBytes, TrailerMAC}, ", "))
		w.WriteHeader(http.StatusOK)
		w.Header().Set(TrailerStatus, status)
		w.Header().Set(TrailerError, errText)
		w.Header().Set(TrailerBytes, n)
		w.Header().Set(TrailerMAC, mac)
	}
	cases := []struct {
		name    string
		handler func(http.ResponseWriter, *http.Request, Grant)
		wantIs  error
		want    string
	}{
		{"no trailer", func(w http.ResponseWriter, r *http.Request, g Grant) { w.WriteHeader(http.StatusOK) },
			ErrIncomplete, "no trailer"},
		{"donor failed", func(w http.ResponseWriter, r *http.Request, g Grant) {
			trailers(w, statusFailed, "mariadb-backup: exit status 1: Access denied", "0", macOf(g, nil))
		}, ErrIncomplete, "Access denied"},
		{"byte count differs", func(w http.ResponseWriter, r *http.Request, g Grant) {
			trailers(w, statusOK, "", "1000", macOf(g, nil))
		}, ErrIncomplete, "received 0 bytes, donor sent 1000"},
		{"MAC differs", func(w http.ResponseWriter, r *http.Request, g Grant) {
			trailers(w, statusOK, "", "0", strings.Repeat("0", 64))
		}, ErrAltered, "MAC"},
		{"unkeyed SHA-256 instead of the MAC", func(w http.ResponseWriter, r *http.Request, g Grant) {
			sum := sha256.Sum256(nil)
			trailers(w, statusOK, "", "0", hex.EncodeToString(sum[:]))
		}, ErrAltered, "MAC"},
		{"MAC of another key", func(w http.ResponseWriter, r *http.Request, g Grant) {
			m := StreamMAC(Key("other"), g.Nonce)
			trailers(w, statusOK, "", "0", hex.EncodeToString(m.Sum(nil)))
		}, ErrAltered, "MAC"},
		{"MAC of another nonce", func(w http.ResponseWriter, r *http.Request, g Grant) {
			m := StreamMAC(Key(secret), strings.Repeat("0", 32))
			trailers(w, statusOK, "", "0", hex.EncodeToString(m.Sum(nil)))
		}, ErrAltered, "MAC"},
		{"busy", func(w http.ResponseWriter, r *http.Request, g Grant) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, ErrBusy, "retry after 30s"},
		{"unauthorized", func(w http.ResponseWriter, r *http.Request, g Grant) { w.WriteHeader(http.StatusUnauthorized) },
			ErrUnauthorized, ""},
		{"server error", func(w http.ResponseWriter, r *http.Request, g Grant) {
			http.Error(w, "backup not started: boom", http.StatusInternalServerError)
		}, nil, "500 Internal Server Error: backup not started: boom"},
		{"garbage that mbstream refuses", func(w http.ResponseWriter, r *http.Request, g Grant) {
			trailers(w, statusOK, "", strconv.Itoa(len(body)), macOf(g, body))
			w.Write(body)
		}, nil, "mbstream"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var served atomic.Bool
			srv := gatedDonor(t, secret, "db-0", func(w http.ResponseWriter, r *http.Request, g Grant) {
				served.Store(true)
				if g.Recipient != "db-1" {
					t.Errorf("grant for %q, want db-1", g.Recipient)
				}
				tc.handler(w, r, g)
			})
			dir := t.TempDir()
			old := tree{"ibdata1": "old", "mysql/user.frm": "old"}
			writeTree(t, dir, old)
			_, err := (&Restore{DataDir: dir, DonorURL: srv.URL + "/backup", Secret: secret, Recipient: "db-1", DonorPod: "db-0"}).Run(t.Context())
			if err == nil {
				t.Fatal("Run succeeded")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("Run = %v, want %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %q, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
			if !served.Load() {
				t.Error("the donor refused the recipient's token")
			}
			if d := cmp.Diff(old, readTree(t, dir)); d != "" {
				t.Errorf("datadir changed or staging left (-want +got):\n%s", d)
			}
		})
	}
}

func TestFetchNoDonor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := (&Restore{DataDir: dir, DonorURL: url + "/backup", Secret: "x", Recipient: "db-1", DonorPod: "db-0"}).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "request") {
		t.Fatalf("Run = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, stagingName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging left: %v", err)
	}
}

// TestTamperedStreamRefused puts a man in the middle between a real Donor
// (its mariadb-backup a stand-in that streams a tar of a directory) and a
// Restore: a clean relay restores the copy; a relay that changes bytes of
// the stream and sends an unkeyed SHA-256 that matches them is refused
// before anything is prepared; the token it saw is worth nothing to it
// afterwards, neither as it was nor with a fresh nonce.
func TestTamperedStreamRefused(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"/bin/sh", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: the stand-ins need it: %v", tool, err)
		}
	}
	const secret = "seed-secret"
	base := t.TempDir()
	src, tools, prepared := filepath.Join(base, "src"), filepath.Join(base, "tools"), filepath.Join(base, "prepared")
	writeTree(t, src, newData)
	if err := os.Mkdir(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(tools, "mariadb-backup")
	script := "#!/bin/sh\nfor a; do case \"$a\" in\n" +
		"--backup) exec tar -c -f - -C '" + src + "' . ;;\n" +
		"--prepare) echo >> '" + prepared + "'; exit 0 ;;\n" +
		"esac; done\nexit 1\n"
	if err := os.WriteFile(backup, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	mbstream, _ := fakeTools(t)
	donor := &Donor{Host: "127.0.0.1", Port: 1, User: "root", Pod: "db-0", Secret: func() string { return secret },
		MariaBackup: backup, Log: discard()}
	dsrv := httptest.NewServer(donor.Handler())
	t.Cleanup(dsrv.Close)

	// The relay forwards both requests, keeps what it saw, and alters the
	// stream when told to.
	var alter atomic.Bool
	var sniffed atomic.Value
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, dsrv.URL+r.URL.Path, nil)
		req.Header = r.Header.Clone()
		if a := r.Header.Get("Authorization"); a != "" {
			sniffed.Store(a)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if alter.Load() && r.URL.Path == "/backup" {
			i := bytes.Index(body, []byte("new table"))
			if i < 0 {
				t.Error("the relay found nothing to alter")
			} else {
				body[i] ^= 0x20 // "New table"
			}
		}
		sum := sha256.Sum256(body)
		names := []string{"Seed-Sha256"}
		for k := range resp.Trailer {
			names = append(names, k)
		}
		w.Header().Set("Trailer", strings.Join(names, ", "))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
		for k, v := range resp.Trailer {
			w.Header()[k] = v
		}
		w.Header().Set("Seed-Sha256", hex.EncodeToString(sum[:]))
	}))
	t.Cleanup(relay.Close)

	restore := func(dir string) (Result, error) {
		return (&Restore{DataDir: dir, DonorURL: relay.URL + "/backup", Secret: secret, Recipient: "db-1", DonorPod: "db-0",
			MBStream: mbstream, MariaBackup: backup, Log: discard()}).Run(t.Context())
	}

	// Altered in flight: refused before prepare, nothing changed.
	alter.Store(true)
	dir := t.TempDir()
	writeTree(t, dir, oldData)
	_, err := restore(dir)
	if !errors.Is(err, ErrAltered) {
		t.Fatalf("Run through an altering relay = %v, want ErrAltered", err)
	}
	if _, serr := os.Stat(prepared); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("the altered copy was prepared (%v)", serr)
	}
	if d := cmp.Diff(oldData, readTree(t, dir)); d != "" {
		t.Errorf("datadir changed or staging left (-want +got):\n%s", d)
	}
	t.Logf("altered stream: %v", err)

	// The relay replays what it saw: the nonce is spent.
	auth, _ := sniffed.Load().(string)
	replay := func(auth string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, dsrv.URL+"/backup", nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := replay(auth); got != http.StatusUnauthorized {
		t.Errorf("the sniffed token replayed: %d, want 401", got)
	}
	// With a fresh nonce of its own in place of the spent one.
	f := strings.Split(strings.TrimPrefix(auth, "Bearer "), ".")
	if len(f) != 6 {
		t.Fatalf("sniffed %q: not a token", auth)
	}
	f[3] = nonceFrom(t, dsrv.URL)
	if got := replay("Bearer " + strings.Join(f, ".")); got != http.StatusUnauthorized {
		t.Errorf("the sniffed MAC with a fresh nonce: %d, want 401", got)
	}

	// A clean relay: the copy arrives, verified.
	alter.Store(false)
	res, err := restore(dir)
	if err != nil {
		t.Fatalf("Run through a clean relay: %v", err)
	}
	if _, err := os.Stat(prepared); err != nil {
		t.Errorf("the clean copy was not prepared: %v", err)
	}
	if got := readTree(t, dir)["newdb/t.ibd"]; got != "new table" || res.GTID != "0-1-9" {
		t.Errorf("after the clean restore: newdb/t.ibd %q, GTID %q", got, res.GTID)
	}
}
