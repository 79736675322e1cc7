package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "x.json")
	if err := Write(p, []byte("a\n"), 0o660); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("b\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "b\n" {
		t.Errorf("content %q, want %q", b, "b\n")
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the last write's 0640", fi.Mode().Perm())
	}
	assertOnly(t, dir, "x.json")
}

// The mode is the one asked for, whatever the umask: the group-writable
// seed files rely on it.
func TestWriteModeIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	p := filepath.Join(t.TempDir(), "x")
	if err := Write(p, []byte("a"), 0o664); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o664 {
		t.Fatalf("mode %v (%v), want 0664", fi.Mode().Perm(), err)
	}
}

func TestWriteChanged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "x.cnf")
	for i, want := range []bool{true, false} {
		changed, err := WriteChanged(p, []byte("a\n"), 0o644)
		if err != nil || changed != want {
			t.Fatalf("write %d: changed=%v err=%v, want changed=%v", i, changed, err, want)
		}
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	if changed, err := WriteChanged(p, []byte("a\n"), 0o644); err != nil || changed {
		t.Fatalf("same content: changed=%v err=%v", changed, err)
	}
	if fi, _ := os.Stat(p); !fi.ModTime().Equal(old) {
		t.Errorf("an unchanged file was touched: mtime %v, want %v", fi.ModTime(), old)
	}
	if changed, err := WriteChanged(p, []byte("b\n"), 0o644); err != nil || !changed {
		t.Fatalf("changed content: changed=%v err=%v", changed, err)
	}
	assertOnly(t, dir, "x.cnf")
}

func TestWriteFrom(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "tool")
	if err := WriteFrom(p, strings.NewReader("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v (%v), want 0755", fi.Mode().Perm(), err)
	}
}

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := Write(filepath.Join(dir, "missing", "x.cnf"), []byte("a"), 0o644); err == nil || !strings.Contains(err.Error(), "writable volume") {
		t.Errorf("write into a missing directory: %v, want an error that says what to check", err)
	}
	// A directory in the way: the rename fails, the old entry stays and
	// no temporary file is left.
	p := filepath.Join(dir, "d")
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "keep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("a"), 0o644); err == nil || !strings.Contains(err.Error(), "rename into") {
		t.Errorf("write over a directory: %v, want a rename error", err)
	}
	assertOnly(t, dir, "d")
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %v, want %v (temporary files left behind?)", dir, got, names)
	}
}
