package bootstrap

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
)

// overrideFile is where `mysql-bootstrap primary-override` leaves a
// person's choice for the primary, in STATE_DIR.
const overrideFile = "override.json"

// overrideFiles reads, writes and removes the override file. secret is
// the seed secret (seedSecret) that signs it.
type overrideFiles struct {
	dir    string
	secret func() string
}

func (f *overrideFiles) path() string { return filepath.Join(f.dir, overrideFile) }

// write signs o and writes it.
func (f *overrideFiles) write(o decide.Override) error {
	return writeSigned(f.path(), overrideFile, call(f.secret), &o, &o.MAC)
}

// read returns the override, if there is one. One that is not signed by
// the secret, or older than overrideMaxAge at now, is returned with Err
// saying why it is ignored (and nothing else of it is to be used); it is
// left in place, for a person to see (the next primary-override replaces
// it).
func (f *overrideFiles) read(now time.Time) (*decide.Override, error) {
	if f.dir == "" {
		return nil, nil
	}
	var o decide.Override
	ok, err := readJSON(f.path(), &o)
	if err != nil || !ok {
		return nil, err
	}
	if err := checkState(call(f.secret), overrideFile, &o, &o.MAC); err != nil {
		return &decide.Override{Err: err.Error() + ": ignored; run primary-override again"}, nil
	}
	if age := now.Sub(o.Created); age > overrideMaxAge {
		return &decide.Override{Err: overrideFile + " from " + o.Created.UTC().Format(time.RFC3339) + " is older than " + shortDuration(overrideMaxAge) +
			": ignored; run primary-override again"}, nil
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

// shortDuration writes d without zero minutes and seconds: 1h, 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// call returns f(), or "" for a nil f.
func call(f func() string) string {
	if f == nil {
		return ""
	}
	return f()
}
