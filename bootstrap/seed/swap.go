package seed

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/internal/atomicfile"
)

const (
	// stagingName is the directory, inside the data directory, that a
	// stream is extracted and prepared in: on the same filesystem as the
	// data, so that its entries can be renamed into place (rename(2)
	// across mount points fails with EXDEV). The leading dot keeps it
	// apart from databases, whose directory names MariaDB encodes.
	stagingName = ".mysql-bootstrap-seed"
	// markerName, inside staging, says the copy in staging is complete and
	// prepared, and lists its entries.
	markerName = ".complete.json"
	// keepName is never touched at the top of a data directory: the
	// filesystem's own.
	keepName = "lost+found"
	// lastName is the entry removed first and put in place last: the
	// image's entrypoint (and people) take a datadir with a mysql
	// directory for an initialised one, so a datadir is without it for as
	// long as it holds a mix of old and new.
	lastName = "mysql"
	// proofName, at the top of a data directory, holds the nonce of the
	// copy whose swap completed there: it is written once every entry of
	// the copy is in place, and every swap removes the one before. A
	// recorded result is applied only to a data directory that proves to
	// hold it (SwapProof).
	proofName = ".mysql-bootstrap-swapped"
)

// StagingDir returns the staging directory of a data directory.
func StagingDir(dataDir string) string { return filepath.Join(dataDir, stagingName) }

// marker is the completion marker's content: the result, and the entries
// of the copy, which tell a resumed swap what is already in place.
type marker struct {
	Version int    `json:"version"`
	Donor   string `json:"donor"`
	// Nonce names this copy; the swap leaves it in the data directory
	// (proofName) once it is complete.
	Nonce    string    `json:"nonce,omitempty"`
	Bytes    int64     `json:"bytes"`
	SHA256   string    `json:"sha256"`
	Position Position  `json:"position"`
	Finished time.Time `json:"finished"`
	Entries  []string  `json:"entries"`
}

func (m marker) result() Result {
	return Result{Donor: m.Donor, Bytes: m.Bytes, SHA256: m.SHA256, GTID: m.Position.GTID, BinlogState: m.Position.BinlogState,
		Position: m.Position, Nonce: m.Nonce}
}

// newNonce returns 128 random bits in hex.
func newNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// SwapProof reads the nonce of the copy whose swap completed in dataDir;
// ok is false when there is none (no copy was ever swapped in, or a swap
// is under way).
func SwapProof(dataDir string) (nonce string, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dataDir, proofName))
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return strings.TrimSpace(string(b)), true, nil
}

func readMarker(staging string) (marker, bool, error) {
	var m marker
	b, err := os.ReadFile(filepath.Join(staging, markerName))
	if errors.Is(err, os.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, false, fmt.Errorf("completion marker: %w", err)
	}
	return m, true, nil
}

// writeMarker lists staging's entries and records them with the result.
// Everything in staging is made durable first (syncfs): a marker must
// never describe files that a power cut could still take away.
func writeMarker(staging string, m marker) error {
	entries, err := os.ReadDir(staging)
	if err != nil {
		return err
	}
	m.Version, m.Entries = 1, nil
	for _, e := range entries {
		if e.Name() != markerName {
			m.Entries = append(m.Entries, e.Name())
		}
	}
	if err := syncFS(staging); err != nil {
		return fmt.Errorf("sync the copy to disk: %w", err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(staging, markerName), append(b, '\n'), 0o600)
}

// swap replaces the data directory's contents with staging's. Each step is
// decided from what is on disk, so running it again after a crash at any
// point finishes the job:
//
//  1. remove every entry of dataDir except staging and lost+found that is
//     not a copied entry already moved out of staging (mysql first);
//  2. move each entry still in staging into dataDir (mysql last),
//     replacing an old entry of the same name;
//  3. sync dataDir, write the proof (the marker's nonce, proofName),
//     remove the marker, then staging.
//
// hook, when not nil, is called before each change with its description;
// an error stops the swap there (tests simulate crashes with it).
func swap(dataDir string, m marker, hook func(op string) error, log *slog.Logger) error {
	staging := StagingDir(dataDir)
	step := func(op string) error {
		if hook != nil {
			return hook(op)
		}
		return nil
	}
	copied := make(map[string]bool, len(m.Entries))
	for _, e := range m.Entries {
		copied[e] = true
	}
	inStaging := func(name string) (bool, error) {
		_, err := os.Lstat(filepath.Join(staging, name))
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}

	// 1. Old entries.
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.SortStableFunc(names, func(a, b string) int { return boolInt(b == lastName) - boolInt(a == lastName) })
	removed := 0
	for _, name := range names {
		if name == stagingName || name == keepName {
			continue
		}
		if copied[name] {
			staged, err := inStaging(name)
			if err != nil {
				return err
			}
			if !staged {
				continue // already moved into place
			}
		}
		if err := step("remove " + name); err != nil {
			return err
		}
		if err := os.RemoveAll(filepath.Join(dataDir, name)); err != nil {
			return fmt.Errorf("remove old %s: %w", name, err)
		}
		removed++
	}

	// 2. New entries.
	order := slices.Clone(m.Entries)
	slices.SortStableFunc(order, func(a, b string) int { return boolInt(a == lastName) - boolInt(b == lastName) })
	moved := 0
	for _, name := range order {
		staged, err := inStaging(name)
		if err != nil {
			return err
		}
		if !staged {
			continue
		}
		if name == lastName {
			// Everything else must be durable in place before the datadir
			// looks initialised.
			if err := atomicfile.SyncDir(dataDir); err != nil {
				return err
			}
		}
		if err := step("move " + name); err != nil {
			return err
		}
		dst := filepath.Join(dataDir, name)
		if err := os.RemoveAll(dst); err != nil {
			return fmt.Errorf("remove old %s: %w", name, err)
		}
		if err := os.Rename(filepath.Join(staging, name), dst); err != nil {
			return fmt.Errorf("move %s into place: %w", name, err)
		}
		moved++
	}

	// 3. Done: prove it, forget the marker, then staging.
	if err := atomicfile.SyncDir(dataDir); err != nil {
		return err
	}
	if err := step("write proof"); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dataDir, proofName), []byte(m.Nonce+"\n"), 0o640); err != nil {
		return fmt.Errorf("write the swap's proof: %w", err)
	}
	if err := step("remove marker"); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(staging, markerName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := step("remove staging"); err != nil {
		return err
	}
	if err := os.RemoveAll(staging); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(dataDir); err != nil {
		return err
	}
	log.Info("seed: copy in place", "datadir", dataDir, "removed", removed, "moved", moved)
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Resume finishes what an interrupted restore left in dataDir; call it at
// every start, before deciding anything from the data directory:
//
//   - no staging directory: nothing to do (resumed is false);
//   - a staging directory without the completion marker (an extraction
//     or preparation that did not finish, or a swap's last step): it is
//     removed, the data directory is as it was (resumed is false);
//   - a staging directory with the marker: the swap is finished and the
//     copy's result returned (resumed is true, Result.Duration is zero).
//     The caller must then give the server the result's GTID position, as
//     after Run.
func Resume(dataDir string, log *slog.Logger) (res Result, resumed bool, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	staging := StagingDir(dataDir)
	fi, err := os.Lstat(staging)
	if errors.Is(err, os.ErrNotExist) {
		return res, false, nil
	}
	if err != nil {
		return res, false, fmt.Errorf("resume seed: %w", err)
	}
	if !fi.IsDir() {
		return res, false, fmt.Errorf("resume seed: %s is not a directory", staging)
	}
	m, ok, err := readMarker(staging)
	if err != nil {
		return res, false, fmt.Errorf("resume seed: %w", err)
	}
	if !ok {
		log.Warn("seed: removing an incomplete copy", "staging", staging)
		if err := os.RemoveAll(staging); err != nil {
			return res, false, fmt.Errorf("resume seed: remove incomplete copy: %w", err)
		}
		return res, false, nil
	}
	log.Info("seed: finishing an interrupted swap", "donor", m.Donor, "gtid", m.Position.GTID)
	if m.Nonce == "" {
		// A marker of an older release: the copy gets its name now.
		if m.Nonce, err = newNonce(); err != nil {
			return res, false, fmt.Errorf("resume seed: %w", err)
		}
	}
	if err := swap(dataDir, m, nil, log); err != nil {
		return res, false, fmt.Errorf("resume seed: %w", err)
	}
	return m.result(), true, nil
}
