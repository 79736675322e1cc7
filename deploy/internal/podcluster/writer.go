package podcluster

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

// WriterOptions bound a Writer.
type WriterOptions struct {
	// Open returns a new pool to the primary, through whatever its
	// published port is now. Called again after every failure.
	Open func(context.Context) (*sql.DB, error)
	// FirstID is the first id written; ids then count up by one per
	// attempt, never reused (an attempt that failed may have committed).
	FirstID int64
	MaxRows int           // at most this many attempts (default 20000)
	MaxTime time.Duration // stop after this long at the latest (default 3m)
	Pace    time.Duration // pause between inserts (default 10ms)
}

// Ack is one acknowledged write.
type Ack struct {
	ID int64
	At time.Time
}

// Writer inserts numbered rows into AppDatabase.writes on the primary, one
// transaction each, and records every id whose COMMIT returned nil.
type Writer struct {
	opts   WriterOptions
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	acked    []Ack
	attempts int
	failures int
	lastErr  error
	lastFail time.Time
}

// StartWriter starts a writer; Stop ends it.
func StartWriter(ctx context.Context, opts WriterOptions) *Writer {
	if opts.MaxRows <= 0 {
		opts.MaxRows = 20000
	}
	if opts.MaxTime <= 0 {
		opts.MaxTime = 3 * time.Minute
	}
	if opts.Pace <= 0 {
		opts.Pace = 10 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, opts.MaxTime)
	w := &Writer{opts: opts, cancel: cancel, done: make(chan struct{})}
	go w.run(ctx)
	return w
}

func (w *Writer) run(ctx context.Context) {
	defer close(w.done)
	var db *sql.DB
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	pause := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	id := w.opts.FirstID
	for n := 0; n < w.opts.MaxRows && ctx.Err() == nil; {
		if db == nil {
			var err error
			if db, err = w.opts.Open(ctx); err != nil {
				w.fail(err)
				db = nil
				if !pause(200 * time.Millisecond) {
					return
				}
				continue
			}
		}
		n++
		err := w.insert(ctx, db, id)
		id++
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.fail(err)
			db.Close()
			db = nil
			if !pause(200 * time.Millisecond) {
				return
			}
			continue
		}
		if !pause(w.opts.Pace) {
			return
		}
	}
}

func (w *Writer) insert(ctx context.Context, db *sql.DB, id int64) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	w.mu.Lock()
	w.attempts++
	w.mu.Unlock()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+AppDatabase+".writes (id, v) VALUES (?, ?)", id, fmt.Sprintf("row %d", id)); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.mu.Lock()
	w.acked = append(w.acked, Ack{ID: id, At: time.Now()})
	w.mu.Unlock()
	return nil
}

func (w *Writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failures++
	w.lastErr = err
	w.lastFail = time.Now()
}

// AckedSince returns how many writes were acknowledged after t.
func (w *Writer) AckedSince(t time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for i := len(w.acked) - 1; i >= 0 && w.acked[i].At.After(t); i-- {
		n++
	}
	return n
}

// AckedIDsSince returns the ids acknowledged after t.
func (w *Writer) AckedIDsSince(t time.Time) []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []int64
	for _, a := range w.acked {
		if a.At.After(t) {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// FirstAckAfter returns when the first write after t was acknowledged (the
// zero time if none was).
func (w *Writer) FirstAckAfter(t time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.acked {
		if a.At.After(t) {
			return a.At
		}
	}
	return time.Time{}
}

// LongestGapSince returns the longest interval between two consecutive
// acknowledged writes after t (the first of them may be before t): how
// long writes were refused. Zero times when fewer than two acks follow t.
func (w *Writer) LongestGapSince(t time.Time) (from, to time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := 1; i < len(w.acked); i++ {
		if !w.acked[i].At.After(t) {
			continue
		}
		if gap := w.acked[i].At.Sub(w.acked[i-1].At); gap > to.Sub(from) {
			from, to = w.acked[i-1].At, w.acked[i].At
		}
	}
	return from, to
}

// WaitAcked waits until n writes were acknowledged after t.
func (w *Writer) WaitAcked(ctx context.Context, n int, t time.Time, timeout time.Duration) error {
	return testkit.Eventually(ctx, timeout, fmt.Sprintf("writer: %d writes acknowledged after %s", n, t.Format("15:04:05.000")), func(context.Context) error {
		select {
		case <-w.done:
			return fmt.Errorf("writer stopped: %s", w.Summary())
		default:
		}
		if got := w.AckedSince(t); got < n {
			return fmt.Errorf("%d so far (%s)", got, w.Summary())
		}
		return nil
	})
}

// Stop ends the writer, waits for it, and returns the acknowledged ids.
func (w *Writer) Stop() []int64 {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]int64, len(w.acked))
	for i, a := range w.acked {
		ids[i] = a.ID
	}
	return ids
}

// Summary says how the writer has fared.
func (w *Writer) Summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := fmt.Sprintf("%d attempts, %d acknowledged, %d failures", w.attempts, len(w.acked), w.failures)
	if w.lastErr != nil {
		s += fmt.Sprintf(", last failure %s ago: %v", time.Since(w.lastFail).Round(time.Millisecond), w.lastErr)
	}
	return s
}
