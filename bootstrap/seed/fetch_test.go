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
	"time"

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
	emptySum := sha256.Sum256(nil)
	body := []byte("not an xbstream")
	bodySum := sha256.Sum256(body)
	trailers := func(w http.ResponseWriter, status, errText, n, sum string) {
		w.Header().Set("Trailer", strings.Join([]string{TrailerStatus, TrailerError, TrailerBytes, TrailerSHA256}, ", "))
		w.WriteHeader(http.StatusOK)
		w.Header().Set(TrailerStatus, status)
		w.Header().Set(TrailerError, errText)
		w.Header().Set(TrailerBytes, n)
		w.Header().Set(TrailerSHA256, sum)
	}
	cases := []struct {
		name    string
		handler http.HandlerFunc
		wantIs  error
		want    string
	}{
		{"no trailer", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) },
			ErrIncomplete, "no trailer"},
		{"donor failed", func(w http.ResponseWriter, r *http.Request) {
			trailers(w, statusFailed, "mariadb-backup: exit status 1: Access denied", "0", hex.EncodeToString(emptySum[:]))
		}, ErrIncomplete, "Access denied"},
		{"byte count differs", func(w http.ResponseWriter, r *http.Request) {
			trailers(w, statusOK, "", "1000", hex.EncodeToString(emptySum[:]))
		}, ErrIncomplete, "received 0 bytes, donor sent 1000"},
		{"hash differs", func(w http.ResponseWriter, r *http.Request) {
			trailers(w, statusOK, "", "0", strings.Repeat("0", 64))
		}, ErrIncomplete, "SHA-256"},
		{"busy", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, ErrBusy, "retry after 30s"},
		{"unauthorized", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) },
			ErrUnauthorized, ""},
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "backup not started: boom", http.StatusInternalServerError)
		}, nil, "500 Internal Server Error: backup not started: boom"},
		{"garbage that mbstream refuses", func(w http.ResponseWriter, r *http.Request) {
			trailers(w, statusOK, "", strconv.Itoa(len(body)), hex.EncodeToString(bodySum[:]))
			w.Write(body)
		}, nil, "mbstream"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var auth atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				auth.Store(r.Header.Get("Authorization"))
				tc.handler(w, r)
			}))
			t.Cleanup(srv.Close)
			dir := t.TempDir()
			old := tree{"ibdata1": "old", "mysql/user.frm": "old"}
			writeTree(t, dir, old)
			_, err := (&Restore{DataDir: dir, DonorURL: srv.URL + "/backup", Secret: secret}).Run(t.Context())
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
			if got, _ := auth.Load().(string); !validToken(secret, bearer(got), time.Now()) {
				t.Errorf("Authorization = %q: not a valid token", got)
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
	_, err := (&Restore{DataDir: dir, DonorURL: url + "/backup", Secret: "x"}).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "request") {
		t.Fatalf("Run = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, stagingName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging left: %v", err)
	}
}
