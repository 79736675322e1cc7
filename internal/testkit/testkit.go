// Package testkit holds the helpers this module's tests share, in
// bootstrap/ and deploy/ alike: polling with a deadline, a buffer that may
// be written while it is read, and the JSON log lines of the binary. It is
// not an API for other modules.
package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ErrGiveUp, wrapped in an error returned by an Eventually condition,
// stops the polling at once: the condition can no longer become true.
var ErrGiveUp = errors.New("giving up")

// PollInterval is how often Eventually asks.
const PollInterval = 200 * time.Millisecond

// callTimeout is what each call of an Eventually condition gets of its
// own, so that the last answer is a real one, not a victim of the overall
// deadline.
const callTimeout = 10 * time.Second

// Eventually calls cond every PollInterval until it returns nil, failing
// with its last error when timeout has passed, ctx ends, or cond's error
// wraps ErrGiveUp.
func Eventually(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for {
		cctx, ccancel := context.WithTimeout(ctx, callTimeout)
		err := cond(cctx)
		ccancel()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrGiveUp):
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-deadline.C:
			return fmt.Errorf("%s: not true after %s: %w", what, timeout, err)
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %v)", what, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// SyncBuffer is an output sink that may be written while a test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// LogRecords returns the JSON log records of output, in order; lines that
// are not JSON objects are skipped.
func LogRecords(output string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(output, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m != nil {
			out = append(out, m)
		}
	}
	return out
}

// LogLines returns the JSON log records of output whose "msg" is msg.
func LogLines(output, msg string) []map[string]any {
	return LogLinesFunc(output, func(m string) bool { return m == msg })
}

// LogLinesFunc returns the JSON log records of output whose "msg"
// satisfies match.
func LogLinesFunc(output string, match func(msg string) bool) []map[string]any {
	var out []map[string]any
	for _, m := range LogRecords(output) {
		if msg, ok := m["msg"].(string); ok && match(msg) {
			out = append(out, m)
		}
	}
	return out
}
