package seed

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tree is a directory's files (path -> content; a trailing slash is an
// empty directory).
type tree map[string]string

func writeTree(t *testing.T, dir string, files tree) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

func readTree(t *testing.T, dir string) tree {
	t.Helper()
	out := tree{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "." {
			return nil
		}
		if e.IsDir() {
			if ents, _ := os.ReadDir(path); len(ents) == 0 {
				out[filepath.ToSlash(rel)+"/"] = ""
			}
			return nil
		}
		b, err := os.ReadFile(path)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	oldData = tree{
		"ibdata1":          "old ibdata",
		"mysql/user.frm":   "old user",
		"mysql/db.opt":     "old",
		"olddb/t.ibd":      "old table",
		"mysql-bin.000001": "old binlog",
		"mysql-bin.index":  "./mysql-bin.000001\n",
		"relay-bin.000002": "old relay log",
		"master.info":      "old channel",
		"lost+found/keep":  "the filesystem's",
	}
	newData = tree{
		"ibdata1":                "new ibdata",
		"ib_logfile0":            "new redo",
		"mysql/user.frm":         "new user",
		"mysql/global_priv.MAD":  "new",
		"newdb/t.ibd":            "new table",
		"newdb/empty/":           "",
		"xtrabackup_binlog_info": "mysql-bin.000009\t4\t0-1-9\n",
	}
)

// testNonce names the copy stage makes.
const testNonce = "0123456789abcdef0123456789abcdef"

func wantAfterSwap() tree {
	want := tree{"lost+found/keep": "the filesystem's", proofName: testNonce + "\n"}
	for p, c := range newData {
		want[p] = c
	}
	return want
}

// stage makes a data directory with old data and a complete copy in
// staging, as Run leaves them just before the swap.
func stage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, oldData)
	writeTree(t, StagingDir(dir), newData)
	m := marker{Donor: "mysql-0:8081", Nonce: testNonce, Bytes: 123, SHA256: "ab", Position: Position{GTID: "0-1-9"}, Finished: time.Now()}
	if err := writeMarker(StagingDir(dir), m); err != nil {
		t.Fatal(err)
	}
	return dir
}

func loadMarker(t *testing.T, dir string) marker {
	t.Helper()
	m, ok, err := readMarker(StagingDir(dir))
	if err != nil || !ok {
		t.Fatalf("marker: %v %v", ok, err)
	}
	return m
}

var errCrash = errors.New("simulated crash")

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestSwapCrashAnywhere stops the swap before each of its changes in turn
// (a crash there), checks that the data directory never looks initialised
// while it holds a mix, and that Resume then completes it.
func TestSwapCrashAnywhere(t *testing.T) {
	t.Parallel()
	// The list of changes, from an uninterrupted swap.
	var ops []string
	dir := stage(t)
	if err := swap(dir, loadMarker(t, dir), func(op string) error { ops = append(ops, op); return nil }, discard()); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantAfterSwap(), readTree(t, dir)); d != "" {
		t.Fatalf("after the swap (-want +got):\n%s", d)
	}
	if ops[0] != "remove mysql" || ops[len(ops)-4] != "move mysql" || ops[len(ops)-3] != "write proof" {
		t.Errorf("mysql is not removed first and moved last, or the proof is not written after it: %q", ops)
	}

	for i, op := range ops {
		t.Run(op, func(t *testing.T) {
			t.Parallel()
			dir := stage(t)
			n := 0
			err := swap(dir, loadMarker(t, dir), func(string) error {
				if n == i {
					return errCrash
				}
				n++
				return nil
			}, discard())
			if !errors.Is(err, errCrash) {
				t.Fatalf("swap = %v, want the simulated crash", err)
			}
			got := readTree(t, dir)
			for p := range got {
				if strings.HasPrefix(p, stagingName+"/") {
					delete(got, p)
				}
			}
			if nonce, ok, _ := SwapProof(dir); ok && nonce == testNonce && i < len(ops)-2 {
				t.Errorf("the proof is in place before the swap is complete (stopped before %q)", op)
			}
			newOnly := wantAfterSwap()
			delete(newOnly, proofName)
			delete(got, proofName)
			if _, initialised := got["mysql/user.frm"]; initialised &&
				cmp.Diff(oldData, got) != "" && cmp.Diff(newOnly, got) != "" {
				t.Errorf("the datadir looks initialised while it holds a mix of old and new: %v", got)
			}

			res, resumed, err := Resume(dir, discard())
			if err != nil {
				t.Fatal(err)
			}
			markerGone := i >= len(ops)-1 // crashed after removing the marker
			if resumed == markerGone {
				t.Errorf("resumed = %v, want %v", resumed, !markerGone)
			}
			if resumed && (res.GTID != "0-1-9" || res.Donor != "mysql-0:8081" || res.Bytes != 123 || res.Nonce != testNonce) {
				t.Errorf("Resume's result = %+v", res)
			}
			// Until the swap is complete the data directory proves nothing.
			if nonce, ok, err := SwapProof(dir); err != nil || !ok || nonce != testNonce {
				t.Errorf("SwapProof after Resume = %q %v %v, want %q", nonce, ok, err, testNonce)
			}
			if d := cmp.Diff(wantAfterSwap(), readTree(t, dir)); d != "" {
				t.Errorf("after Resume (-want +got):\n%s", d)
			}
			// Resuming again changes nothing.
			if _, again, err := Resume(dir, discard()); err != nil || again {
				t.Errorf("second Resume = %v, %v", again, err)
			}
		})
	}
}

func TestResumeRemovesIncompleteCopy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		old  tree
	}{
		{"over old data", oldData},
		{"in an empty datadir", tree{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, tc.old)
			writeTree(t, StagingDir(dir), tree{"ibdata1": "half of it", "newdb/t.ibd": "half"})
			_, resumed, err := Resume(dir, discard())
			if err != nil || resumed {
				t.Fatalf("Resume = %v, %v; want false, nil", resumed, err)
			}
			if d := cmp.Diff(tc.old, readTree(t, dir)); d != "" {
				t.Errorf("datadir changed (-want +got):\n%s", d)
			}
		})
	}
	t.Run("nothing to do", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeTree(t, dir, oldData)
		if _, resumed, err := Resume(dir, discard()); err != nil || resumed {
			t.Fatalf("Resume = %v, %v", resumed, err)
		}
		if d := cmp.Diff(oldData, readTree(t, dir)); d != "" {
			t.Errorf("datadir changed (-want +got):\n%s", d)
		}
	})
}

func TestRunRefusesPendingSwap(t *testing.T) {
	t.Parallel()
	dir := stage(t)
	r := &Restore{DataDir: dir, DonorURL: "http://127.0.0.1:1/backup", Secret: "x", Recipient: "db-1", DonorPod: "db-0"}
	if _, err := r.Run(t.Context()); !errors.Is(err, ErrSwapPending) {
		t.Fatalf("Run = %v, want ErrSwapPending", err)
	}
	if _, ok, _ := readMarker(StagingDir(dir)); !ok {
		t.Error("the complete copy is gone")
	}
}

func TestRunValidates(t *testing.T) {
	t.Parallel()
	r := &Restore{DataDir: "relative", DonorURL: "ftp://x", Secret: ""}
	_, err := r.Run(t.Context())
	if err == nil {
		t.Fatal("Run accepted nonsense")
	}
	for _, want := range []string{"data directory", "donor URL", "secret"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestChownLike(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	dir := t.TempDir()
	like := filepath.Join(dir, "datadir")
	staging := filepath.Join(dir, "staging")
	writeTree(t, staging, newData)
	if err := os.Mkdir(like, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(like, 999, 998); err != nil {
		t.Fatal(err)
	}
	if err := chownLike(staging, like); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(staging, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 999 || st.Gid != 998 {
			t.Errorf("%s owned by %d:%d, want 999:998", path, st.Uid, st.Gid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestProgressFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "progress.json")
	p := Progress{Donor: "mysql-0", Phase: PhaseFetch, Bytes: 10, Estimate: 100, Rate: 5,
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Updated: time.Date(2026, 1, 2, 3, 4, 7, 0, time.UTC)}
	for i := 0; i < 2; i++ {
		if err := WriteProgressFile(path, p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadProgressFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(p, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	b, _ := os.ReadFile(path)
	for _, key := range []string{`"donor"`, `"phase"`, `"bytes"`, `"estimate"`, `"rate"`, `"started"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("%s lacks %s", b, key)
		}
	}
}
