//go:build linux && (amd64 || arm64)

package seed

import (
	"os"
	"syscall"
)

// syncFS flushes the whole filesystem dir is on (syncfs(2)): one call
// instead of an fsync per extracted file.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, _, errno := syscall.Syscall(sysSyncfs, f.Fd(), 0, 0); errno != 0 {
		return errno
	}
	return nil
}
