package bootstrap

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The seed directory is shared by the sidecar and the server container
// (different uids, one group): it must be group-writable whatever the
// process's umask, or seed-exec cannot record a failed copy.
func TestSeedDirGroupWritable(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	state := t.TempDir()
	files := newSeedFiles(state).signedWith(func() string { return "secret" })
	if err := files.request(SeedRequest{Donor: "mysql-1", URL: "http://mysql-1:8081/backup", Requested: time.Now()}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(state, seedDirName))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModePerm | os.ModeSetgid); got != 0o770|os.ModeSetgid {
		t.Errorf("seed directory mode %v, want drwxrws---", fi.Mode())
	}
	fi, err = os.Stat(files.path(seedRequestFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o060 != 0o060 {
		t.Errorf("request file mode %v, want group read-write", fi.Mode())
	}
}
