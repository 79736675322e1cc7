package bootstrap

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
)

// overrideFile is where `mysql-bootstrap primary-override` leaves a
// person's choice for the primary, in STATE_DIR.
const overrideFile = "override.json"

// overrideFiles reads, writes and removes the override file.
type overrideFiles struct{ dir string }

func (f *overrideFiles) path() string { return filepath.Join(f.dir, overrideFile) }

func (f *overrideFiles) read() (*decide.Override, error) {
	if f.dir == "" {
		return nil, nil
	}
	var o decide.Override
	ok, err := readJSON(f.path(), &o)
	if err != nil || !ok {
		return nil, err
	}
	return &o, nil
}

func (f *overrideFiles) consume() error {
	err := os.Remove(f.path())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
