package seed

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Phases of a restore, in order.
const (
	PhaseFetch   = "fetch"   // receiving and extracting the stream
	PhasePrepare = "prepare" // mariadb-backup --prepare
	PhaseSwap    = "swap"    // replacing the data directory's contents
	PhaseDone    = "done"
)

// Progress is how far a restore has come.
type Progress struct {
	Donor string `json:"donor"`
	Phase string `json:"phase"`
	// Bytes of the stream received so far; Estimate is the donor's guess
	// of the total (0 when it gave none).
	Bytes    int64 `json:"bytes"`
	Estimate int64 `json:"estimate"`
	// Rate is the average since Started, in bytes per second.
	Rate    float64   `json:"rate"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
}

// progressInterval is how often, at most, the callback hears of bytes;
// logInterval how often they are logged.
const (
	progressInterval = time.Second
	logInterval      = 5 * time.Second
)

// meter counts the bytes that pass through it and reports them, at most
// every progressInterval, to a callback and every logInterval to the log.
// It is used by one goroutine.
type meter struct {
	p       Progress
	report  func(Progress)
	log     *slog.Logger
	now     func() time.Time
	last    time.Time
	lastLog time.Time
}

func newMeter(donor string, estimate int64, report func(Progress), log *slog.Logger) *meter {
	now := time.Now()
	m := &meter{p: Progress{Donor: donor, Phase: PhaseFetch, Estimate: estimate, Started: now}, report: report, log: log,
		now: time.Now, last: now, lastLog: now}
	m.emit(now)
	return m
}

func (m *meter) Write(b []byte) (int, error) {
	m.p.Bytes += int64(len(b))
	if now := m.now(); now.Sub(m.last) >= progressInterval {
		m.emit(now)
		if now.Sub(m.lastLog) >= logInterval {
			m.lastLog = now
			m.log.Info("seed: receiving", "donor", m.p.Donor, "bytes", m.p.Bytes, "estimate", m.p.Estimate,
				"rate", rate(m.p.Bytes, now.Sub(m.p.Started)))
		}
	}
	return len(b), nil
}

// phase reports the start of another phase at once.
func (m *meter) phase(name string) {
	m.p.Phase = name
	m.emit(m.now())
}

func (m *meter) emit(now time.Time) {
	m.last = now
	m.p.Updated = now
	if d := now.Sub(m.p.Started).Seconds(); d > 0 {
		m.p.Rate = float64(m.p.Bytes) / d
	}
	if m.report != nil {
		m.report(m.p)
	}
}

// WriteProgressFile writes p as JSON to path atomically (a temporary file
// in the same directory, then rename), so that a reader in another process
// sees the previous or the new progress, never half of one. The file is
// readable by everyone and writable by the group (the sidecar, another
// uid, may remove it).
func WriteProgressFile(path string, p Progress) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o664, false)
}

// ReadProgressFile reads what WriteProgressFile wrote.
func ReadProgressFile(path string) (Progress, error) {
	var p Progress
	b, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// writeFileAtomic replaces path with data through a temporary file and a
// rename; durable also syncs the file and its directory.
func writeFileAtomic(path string, data []byte, mode os.FileMode, durable bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Chmod(mode)
	var serr error
	if durable {
		serr = f.Sync()
	}
	if err := errors.Join(werr, cerr, serr, f.Close()); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if durable {
		return syncDir(dir)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
