package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeTB records failures instead of stopping the test.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Errorf(string, ...any) { f.failed = true }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }
func (f *fakeTB) Fatal(...any)          { f.failed = true }

func TestGeneratedBlock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "README.md")
	const begin, end = "<!-- t:begin -->\n", "<!-- t:end -->"
	if err := os.WriteFile(path, []byte("intro\n"+begin+"old\n"+end+"\nrest\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stale := &fakeTB{TB: t}
	GeneratedBlock(stale, path, begin, end, "new\n", false, "go test -update")
	if !stale.failed {
		t.Error("a stale block passed")
	}
	GeneratedBlock(t, path, begin, end, "new\n", true, "")
	b, _ := os.ReadFile(path)
	if got, want := string(b), "intro\n"+begin+"new\n"+end+"\nrest\n"; got != want {
		t.Errorf("rewritten: %q, want %q", got, want)
	}
	GeneratedBlock(t, path, begin, end, "new\n", false, "")
	missing := &fakeTB{TB: t}
	GeneratedBlock(missing, path, "<!-- x:begin -->", end, "", false, "")
	if !missing.failed {
		t.Error("a missing block passed")
	}
}
