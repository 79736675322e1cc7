package testkit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestEventually(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := 0
	if err := Eventually(ctx, 5*time.Second, "third time", func(context.Context) error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || n != 3 {
		t.Errorf("err %v after %d calls", err, n)
	}
	err := Eventually(ctx, 300*time.Millisecond, "never", func(context.Context) error { return errors.New("still no") })
	if err == nil || !strings.Contains(err.Error(), "never: not true after 300ms: still no") {
		t.Errorf("timeout: %v", err)
	}
	n = 0
	err = Eventually(ctx, time.Minute, "hopeless", func(context.Context) error {
		n++
		return fmt.Errorf("%w: it exited", ErrGiveUp)
	})
	if !errors.Is(err, ErrGiveUp) || n != 1 {
		t.Errorf("give up: %v after %d calls", err, n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := Eventually(cctx, time.Minute, "cancelled", func(context.Context) error { return errors.New("x") }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestLogLines(t *testing.T) {
	t.Parallel()
	var b SyncBuffer
	fmt.Fprintln(&b, `{"msg":"a","n":1}`)
	fmt.Fprintln(&b, "not json")
	fmt.Fprintln(&b, `{"msg":"b"}`)
	fmt.Fprint(&b, `{"msg":"a","n":2}`)
	if got := LogLines(b.String(), "a"); len(got) != 2 || got[1]["n"] != float64(2) {
		t.Errorf("LogLines = %v", got)
	}
	if got := LogRecords(b.String()); len(got) != 3 {
		t.Errorf("LogRecords = %v", got)
	}
	if got := LogLinesFunc(b.String(), func(m string) bool { return m != "a" }); len(got) != 1 {
		t.Errorf("LogLinesFunc = %v", got)
	}
}
