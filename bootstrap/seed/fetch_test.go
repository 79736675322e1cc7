package seed

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
