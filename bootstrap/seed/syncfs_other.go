//go:build !(linux && (amd64 || arm64))

package seed

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// syncFS makes everything under dir durable, one fsync per file and
// directory, where syncfs(2) is not at hand.
func syncFS(dir string) error {
	return filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && !e.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		return errors.Join(f.Sync(), f.Close())
	})
}
