package bootstrap

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/seed"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/atomicfile"
)

// A MariaDB seed crosses containers: the sidecar decides it and asks for
// it, the server container's next start (mysql-bootstrap seed-exec,
// before the image's entrypoint) restores the copy, and the sidecar then
// gives the server its GTID position. They talk through files in
// STATE_DIR/seed, on the data volume:
//
//	request.json   the sidecar's request: donor, its backup URL, why
//	progress.json  the restore's progress, a seed.Progress (seed-exec
//	               writes it)
//	result.json    the copy is complete: donor, GTID position, bytes, and
//	               the nonce that names it
//	swapped.json   seed-exec found that nonce in the data directory (the
//	               swap's proof, seed.SwapProof) before it started the
//	               server: only then is the result applied
//	error.json     the last restore failed: why
const (
	seedDirName      = "seed"
	seedRequestFile  = "request.json"
	seedProgressFile = "progress.json"
	seedResultFile   = "result.json"
	seedSwappedFile  = "swapped.json"
	seedErrorFile    = "error.json"
)

// SeedRequest asks the server container to replace its data with a copy
// of a donor's. MAC signs it with the StatefulSet's secret (checkState):
// seed-exec restores nothing for a request without a valid one.
type SeedRequest struct {
	Donor     string    `json:"donor"`
	URL       string    `json:"url"`
	Why       string    `json:"why"`
	Requested time.Time `json:"requested"`
	MAC       string    `json:"mac,omitempty"`
}

// SeedResult says a copy is complete; it is in place once the data
// directory proves to hold Nonce (SeedSwapped).
type SeedResult struct {
	Donor string `json:"donor"`
	GTID  string `json:"gtid"`
	// BinlogState is the copy's gtid_binlog_state, every server_id of
	// every domain ("" from a donor that sent none: GTID stands in).
	BinlogState string    `json:"binlogState,omitempty"`
	Bytes       int64     `json:"bytes"`
	SHA256      string    `json:"sha256"`
	Nonce       string    `json:"nonce"`
	Finished    time.Time `json:"finished"`
	// MAC signs the rest (statemac.go): the sidecar applies the recorded
	// GTID position only from a result seed-exec wrote.
	MAC string `json:"mac,omitempty"`
}

// SeedSwapped says seed-exec found the result's nonce in the data
// directory before it started the server.
type SeedSwapped struct {
	Nonce string    `json:"nonce"`
	At    time.Time `json:"at"`
}

// SeedError says why the last restore failed, and whether another donor
// may be tried at once (Kind: SeedBusy, SeedStalled, SeedLost).
type SeedError struct {
	Donor string    `json:"donor"`
	Error string    `json:"error"`
	Kind  string    `json:"kind,omitempty"`
	At    time.Time `json:"at"`
}

// seedFiles reads and writes STATE_DIR/seed. secret is the seed secret
// (seedSecret), which signs the request and checks it (readRequest);
// without one no request is written, and none read is valid.
type seedFiles struct {
	dir    string
	secret func() string
}

// signedWith returns s with requests signed and checked with secret.
func (s seedFiles) signedWith(secret func() string) seedFiles {
	s.secret = secret
	return s
}

// readRequest reads the seed request: ok says there is one; invalid is
// why it is not to be obeyed (not signed by the secret) when it is not.
func (s seedFiles) readRequest() (req SeedRequest, ok bool, invalid, err error) {
	ok, err = readJSON(s.path(seedRequestFile), &req)
	if err != nil || !ok {
		return req, ok, nil, err
	}
	return req, true, checkState(call(s.secret), seedDirName+"/"+seedRequestFile, &req, &req.MAC), nil
}

func newSeedFiles(stateDir string) seedFiles {
	if stateDir == "" {
		return seedFiles{}
	}
	return seedFiles{dir: filepath.Join(stateDir, seedDirName)}
}

func (s seedFiles) path(name string) string { return filepath.Join(s.dir, name) }

// facts reads what the files say: a request being served, its progress,
// a result to apply, the last error.
func (s seedFiles) facts() (decide.SeedFacts, error) {
	var f decide.SeedFacts
	if s.dir == "" {
		return f, nil
	}
	req, hasReq, invalid, err := s.readRequest()
	if err != nil {
		return f, err
	}
	if invalid != nil {
		// Not the sidecar's: the server container's seed-exec refuses it
		// too. Not a copy under way; this sidecar asks for one of its own
		// when one is needed (which replaces it).
		hasReq = false
	}
	var res SeedResult
	hasRes, err := readJSON(s.path(seedResultFile), &res)
	if err != nil {
		return f, err
	}
	if hasRes {
		if bad := checkState(call(s.secret), seedDirName+"/"+seedResultFile, &res, &res.MAC); bad != nil {
			// Not seed-exec's: its GTID position is never applied.
			hasRes = false
			if invalid == nil {
				invalid = bad
			}
		}
	}
	var serr SeedError
	hasErr, err := readJSON(s.path(seedErrorFile), &serr)
	if err != nil {
		return f, err
	}
	switch {
	case hasReq:
		f.Running, f.Donor, f.Phase, f.Started = true, req.Donor, "waiting for the server container to restore", req.Requested
		var p seed.Progress
		if ok, err := readJSON(s.path(seedProgressFile), &p); err == nil && ok {
			f.Phase, f.Bytes, f.Estimate, f.Rate = p.Phase, p.Bytes, p.Estimate, p.Rate
			if !p.Started.IsZero() {
				f.Started = p.Started
			}
		}
	case hasRes:
		var sw SeedSwapped
		proven, err := readJSON(s.path(seedSwappedFile), &sw)
		if err != nil {
			return f, err
		}
		f.Donor, f.ResultGTID, f.ResultBinlogState, f.Bytes = res.Donor, res.GTID, res.BinlogState, res.Bytes
		if proven && res.Nonce != "" && sw.Nonce == res.Nonce {
			f.ResultPending = true
		} else {
			f.Unproven = true
		}
	}
	if hasErr && !hasReq {
		f.Err, f.Kind = serr.Error, serr.Kind
		if f.Donor == "" {
			f.Donor = serr.Donor
		}
	}
	if invalid != nil && f.Err == "" {
		f.Err = invalid.Error() + ": ignored"
	}
	return f, nil
}

// mkdir makes the seed directory, shared by the sidecar (uid 65532, group
// 999 through fsGroup) and the server container (uid 999): group-writable
// whatever the umask, and group 999 for what is made in it (setgid).
func (s seedFiles) mkdir() error {
	if err := os.MkdirAll(s.dir, 0o770); err != nil {
		return err
	}
	return os.Chmod(s.dir, 0o770|os.ModeSetgid)
}

// request writes a seed request; the directory is made if needed.
func (s seedFiles) request(r SeedRequest) error {
	if s.dir == "" {
		return errors.New("STATE_DIR is needed to seed a MariaDB replica (the request goes there for the server container)")
	}
	if err := s.mkdir(); err != nil {
		return err
	}
	_ = os.Remove(s.path(seedErrorFile))
	_ = os.Remove(s.path(seedProgressFile))
	_ = os.Remove(s.path(seedSwappedFile))
	return writeSigned(s.path(seedRequestFile), seedDirName+"/"+seedRequestFile, call(s.secret), &r, &r.MAC)
}

// applied removes the result and its proof once the server has its GTID
// position.
func (s seedFiles) applied() error {
	if s.dir == "" {
		return nil
	}
	for _, f := range []string{seedResultFile, seedSwappedFile} {
		if err := os.Remove(s.path(f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func readJSON(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	// Group-writable: the server container (uid 999) and the sidecar
	// (uid 65532, group 999 through fsGroup) both write here.
	_, err = atomicfile.WriteChanged(path, append(b, '\n'), 0o660)
	return err
}

// cloneMarkerFile, in STATE_DIR, says a MySQL clone lifted read-only
// behind offline_mode: it is written before the guard goes up and removed
// once read-only and offline_mode are as before (or the server restarted
// on the copy and the guard was put back). A sidecar that died in between
// leaves it for the next one.
const cloneMarkerFile = "clone.json"

// CloneMarker records a clone under way.
type CloneMarker struct {
	Donor   string    `json:"donor"`
	Started time.Time `json:"started"`
}

// cloneMarkers reads and writes the clone marker; a zero dir keeps none.
type cloneMarkers struct{ dir string }

func (c cloneMarkers) path() string { return filepath.Join(c.dir, cloneMarkerFile) }

func (c cloneMarkers) write(m CloneMarker) error {
	if c.dir == "" {
		return errors.New("STATE_DIR is needed to clone: a clone lifts read-only behind offline_mode, and the marker that has them put back if the sidecar stops goes there")
	}
	return writeJSON(c.path(), m)
}

func (c cloneMarkers) read() (CloneMarker, bool, error) {
	var m CloneMarker
	if c.dir == "" {
		return m, false, nil
	}
	ok, err := readJSON(c.path(), &m)
	return m, ok, err
}

func (c cloneMarkers) remove() error {
	if c.dir == "" {
		return nil
	}
	if err := os.Remove(c.path()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
