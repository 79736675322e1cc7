// Package atomicfile replaces files so that a reader, or a machine that
// loses power, sees the old content or the new, never a part of either.
// It is the one writer of the module's state, configuration and seed
// files (bootstrap, bootstrap/seed and deploy's tools alike).
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write replaces path with data: it writes a temporary file in the same
// directory, gives it mode perm (whatever the umask), syncs it, renames it
// over path and syncs the directory, so that the rename itself survives a
// crash. On an error path is unchanged and no temporary file is left.
func Write(path string, data []byte, perm os.FileMode) error {
	return WriteFrom(path, bytes.NewReader(data), perm)
}

// WriteChanged is Write that leaves a file already holding data alone
// (its modification time too), and reports whether it wrote.
func WriteChanged(path string, data []byte, perm os.FileMode) (changed bool, err error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err := Write(path, data, perm); err != nil {
		return false, err
	}
	return true, nil
}

// WriteFrom is Write with the content read from r.
func WriteFrom(path string, r io.Reader, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create a file in %s: %w (is it a writable volume?)", dir, unwrapPathError(err))
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	_, werr := io.Copy(f, r)
	if werr == nil {
		werr = f.Chmod(perm)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, unwrapLinkError(err))
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// SyncDir makes the entries of dir (names created, renamed or removed in
// it) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

func unwrapPathError(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}

func unwrapLinkError(err error) error {
	if le, ok := errors.AsType[*os.LinkError](err); ok {
		return le.Err
	}
	return err
}
