package seed

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/internal/atomicfile"
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

// WriteProgressFile writes p as JSON to path atomically (atomicfile.Write),
// so that a reader in another process sees the previous or the new
// progress, never half of one. The file is readable by everyone and
// writable by the group (the sidecar, another uid, may remove it).
func WriteProgressFile(path string, p Progress) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o664)
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
