package bootstrap

import (
	"errors"
	"os"
	"path/filepath"
	"time"
)

// overrideFile is where `mysql-bootstrap primary-override` leaves a
// person's choice for the primary, in STATE_DIR.
const overrideFile = "override.json"

// Override actions.
const (
	// OverrideOwnData: the primary takes writes with the data it has,
	// although peers hold transactions it lacks (they are given up) or do
	// not answer.
	OverrideOwnData = "use-own-data"
	// OverrideSeedFrom: the primary replaces its data with a copy of the
	// named peer's, although that peer does not hold every transaction of
	// every pod (the others' are given up).
	OverrideSeedFrom = "seed-from"
)

// Override is a person's choice for a primary whose peers hold
// transactions it lacks, disagree, or do not answer. It is used once.
type Override struct {
	Action  string    `json:"action"`
	From    string    `json:"from,omitempty"`
	Created time.Time `json:"created"`
	// Err is set when the file could not be read (observation only).
	Err string `json:"-"`
}

// overrideFiles reads, writes and removes the override file.
type overrideFiles struct{ dir string }

func (f *overrideFiles) path() string { return filepath.Join(f.dir, overrideFile) }

func (f *overrideFiles) read() (*Override, error) {
	if f.dir == "" {
		return nil, nil
	}
	var o Override
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
