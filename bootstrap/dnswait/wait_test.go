package dnswait_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/miekg/dns"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/dnswait"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/testdns"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

// logLines returns the JSON log records written to b so far.
func logLines(b *testkit.SyncBuffer) []map[string]any { return testkit.LogRecords(b.String()) }

func newWaiter(r *dnswait.Resolver, logs *testkit.SyncBuffer) *dnswait.Waiter {
	w := &dnswait.Waiter{Resolver: r}
	if logs != nil {
		w.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	}
	return w
}

func TestWaitResolveRecordAppears(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	const name = "mysql-0.mysql.default.svc.cluster.local"
	var logs testkit.SyncBuffer
	w := newWaiter(newResolver(t, time.Second, s.Addr()), &logs)

	time.AfterFunc(300*time.Millisecond, func() { s.Set(name, addr("127.0.0.2")) })
	start := time.Now()
	got, err := w.WaitResolve(testContext(t, 30*time.Second), name)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("WaitResolve: %v", err)
	}
	if diff := cmp.Diff([]netip.Addr{addr("127.0.0.2")}, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}
	// Polls are at least MinBackoff (100ms) apart, so the count is bounded
	// by the time the wait took, whatever the machine's load.
	queries := s.Queries(name)
	if limit := int(elapsed/dnswait.DefaultMinBackoff) + 2; queries < 2 || queries > limit {
		t.Errorf("%d queries in %s, want 2 to %d", queries, elapsed, limit)
	}
	if elapsed < 300*time.Millisecond {
		t.Errorf("resolved after %s, before the record was set", elapsed)
	}
	lines := logLines(&logs)
	if limit := 2 + int(elapsed/dnswait.DefaultLogEvery); len(lines) < 2 || len(lines) > limit {
		t.Fatalf("got %d log lines, want 2 (waiting, done) to %d:\n%v", len(lines), limit, lines)
	}
	if a, _ := lines[0]["last_answer"].(string); !strings.HasPrefix(a, "NXDOMAIN from "+s.Addr()) {
		t.Errorf("first log line last_answer = %q, want NXDOMAIN from %s", a, s.Addr())
	}
	if diff := cmp.Diff([]any{"127.0.0.2"}, lines[len(lines)-1]["addrs"]); diff != "" {
		t.Errorf("done log line addrs (-want +got):\n%s", diff)
	}
}

func TestWaitResolveAtOnce(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	s.Set("db.test", addr("127.0.0.2"))
	var logs testkit.SyncBuffer
	w := newWaiter(newResolver(t, time.Second, s.Addr()), &logs)
	if _, err := w.WaitResolve(testContext(t, 30*time.Second), "db.test."); err != nil {
		t.Fatal(err)
	}
	if n := len(logLines(&logs)); n != 1 {
		t.Errorf("got %d log lines, want 1", n)
	}
	if n := s.TotalQueries(); n != 1 {
		t.Errorf("got %d queries, want 1", n)
	}
}

func TestWaitResolveTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(s *testdns.Server, name string)
		want  []string // in the error message
	}{
		{"NXDOMAIN", func(*testdns.Server, string) {}, []string{"NXDOMAIN from", "publishNotReadyAddresses: true"}},
		{"SERVFAIL", func(s *testdns.Server, n string) { s.SetRcode(n, dns.RcodeServerFailure) }, []string{"SERVFAIL from", "cluster DNS"}},
		{"timeout", func(s *testdns.Server, n string) { s.Drop(n, true) }, []string{"timeout (no answer) from", "reachable"}},
		{"no address records", func(s *testdns.Server, n string) { s.Set(n) }, []string{"no address records from", "has no address"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := testdns.Start(t, "127.0.0.1:0")
			const name = "mysql-0.mysql.default.svc.cluster.local."
			tc.setup(s, name)
			w := newWaiter(newResolver(t, 200*time.Millisecond, s.Addr()), nil)
			const wait = 1500 * time.Millisecond
			start := time.Now()
			_, err := w.WaitResolve(testContext(t, wait), name)
			elapsed := time.Since(start)
			if !errors.Is(err, dnswait.ErrWaitTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error = %v, want ErrWaitTimeout and DeadlineExceeded", err)
			}
			msg := err.Error()
			for _, want := range append([]string{"timed out after ", "waiting for " + name + " to resolve", s.Addr()}, tc.want...) {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q is not one line", msg)
			}
			if elapsed > 20*time.Second {
				t.Errorf("WaitResolve returned %s after a %s deadline", elapsed, wait)
			}
			// Backoff from 100ms by x1.5: about 6 polls in 1.5s (A, and AAAA
			// for a name without A records).
			if n := s.TotalQueries(); n < 1 || n > 2*(int(elapsed/dnswait.DefaultMinBackoff)+1) {
				t.Errorf("%d queries in %s", n, elapsed)
			}
		})
	}
}

func TestWaitResolveCancelled(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	w := newWaiter(newResolver(t, time.Second, s.Addr()), nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err := w.WaitResolve(ctx, "missing.test")
	if !errors.Is(err, context.Canceled) || errors.Is(err, dnswait.ErrWaitTimeout) {
		t.Fatalf("error = %v, want context.Canceled and not ErrWaitTimeout", err)
	}
	if !strings.Contains(err.Error(), "missing.test") {
		t.Errorf("error %q does not name what was waited for", err)
	}
}

func TestWaitResolveInvalidName(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	w := newWaiter(newResolver(t, time.Second, s.Addr()), nil)
	_, err := w.WaitResolve(testContext(t, 30*time.Second), "mysql-0..mysql")
	if err == nil || errors.Is(err, dnswait.ErrWaitTimeout) || !strings.Contains(err.Error(), "invalid DNS name") {
		t.Fatalf("error = %v, want an invalid-name error", err)
	}
	if _, err := w.WaitReachable(testContext(t, 30*time.Second), "db.test", 0); err == nil {
		t.Fatal("WaitReachable with port 0 succeeded")
	}
	if n := s.TotalQueries(); n != 0 {
		t.Errorf("%d queries, want 0", n)
	}
}

// freePort returns a port on which nothing listens at ip (loopback).
func freePort(t *testing.T, ip string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// listenLater starts listening on ip:port after delay and closes the
// listener at the end of the test.
func listenLater(t *testing.T, ip string, port int, delay time.Duration) {
	t.Helper()
	var mu sync.Mutex
	var ln net.Listener
	timer := time.AfterFunc(delay, func() {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			t.Errorf("listen: %v", err)
			return
		}
		mu.Lock()
		ln = l
		mu.Unlock()
	})
	t.Cleanup(func() {
		timer.Stop()
		mu.Lock()
		defer mu.Unlock()
		if ln != nil {
			ln.Close()
		}
	})
}

func TestWaitReachableListenerAppears(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	const name = "primary.test"
	const ip = "127.0.95.1"
	s.Set(name, addr(ip))
	port := freePort(t, ip)
	listenLater(t, ip, port, 300*time.Millisecond)

	var logs testkit.SyncBuffer
	w := newWaiter(newResolver(t, time.Second, s.Addr()), &logs)
	got, err := w.WaitReachable(testContext(t, 30*time.Second), name, port)
	if err != nil {
		t.Fatalf("WaitReachable: %v", err)
	}
	if want := netip.AddrPortFrom(addr(ip), uint16(port)); got != want {
		t.Errorf("WaitReachable = %v, want %v", got, want)
	}
	lines := logLines(&logs)
	if len(lines) < 2 {
		t.Fatalf("got %d log lines, want a waiting line and a done line", len(lines))
	}
	if e, _ := lines[0]["last_error"].(string); !strings.Contains(e, "refused") {
		t.Errorf("first log line last_error = %q, want connection refused", e)
	}
}

func TestWaitReachableAddressChanges(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	const name = "primary.test"
	// The listener is on .3 from the start; the name first points at .2,
	// where nothing listens, and then moves (a rescheduled pod).
	ln, err := net.Listen("tcp", "127.0.95.3:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	s.Set(name, addr("127.0.95.2"))
	time.AfterFunc(300*time.Millisecond, func() { s.Set(name, addr("127.0.95.3")) })

	w := newWaiter(newResolver(t, time.Second, s.Addr()), nil)
	got, err := w.WaitReachable(testContext(t, 30*time.Second), name, port)
	if err != nil {
		t.Fatalf("WaitReachable: %v", err)
	}
	if want := netip.AddrPortFrom(addr("127.0.95.3"), uint16(port)); got != want {
		t.Errorf("WaitReachable = %v, want %v", got, want)
	}
	if n := s.Queries(name); n < 2 {
		t.Errorf("%d queries, want the name looked up again on each attempt", n)
	}
}

func TestWaitReachableTimeout(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	s.Set("refusing.test", addr("127.0.95.4"))
	port := freePort(t, "127.0.95.4")
	w := newWaiter(newResolver(t, time.Second, s.Addr()), nil)

	tests := []struct {
		name string
		want []string
	}{
		{"refusing.test", []string{"waiting for refusing.test:" + strconv.Itoa(port) + " to accept connections", "resolved to 127.0.95.4 but port " + strconv.Itoa(port) + " refused connections", "connection refused", "(check that the server behind refusing.test is running"}},
		{"missing.test", []string{"waiting for missing.test:" + strconv.Itoa(port), "missing.test did not resolve, last answer NXDOMAIN from " + s.Addr(), "publishNotReadyAddresses"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Several attempts: on a loaded machine one query can go
			// unanswered within the resolver's second, and the error
			// names the last answer.
			_, err := w.WaitReachable(testContext(t, 4*time.Second), tc.name, port)
			if !errors.Is(err, dnswait.ErrWaitTimeout) {
				t.Fatalf("error = %v, want ErrWaitTimeout", err)
			}
			for _, want := range append([]string{"timed out after "}, tc.want...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

// TestWaitLogging checks that the log carries the first answer, each
// change and a progress line at most every LogEvery, not a line per poll.
func TestWaitLogging(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	const name = "mysql-1.mysql.default.svc.cluster.local."
	var logs testkit.SyncBuffer
	w := newWaiter(newResolver(t, time.Second, s.Addr()), &logs)
	w.MaxBackoff = 100 * time.Millisecond // poll often: 30 polls or so
	w.LogEvery = 500 * time.Millisecond

	// NXDOMAIN, then SERVFAIL after 1.5s, then the address after 3s.
	time.AfterFunc(1500*time.Millisecond, func() { s.SetRcode(name, dns.RcodeServerFailure) })
	time.AfterFunc(3000*time.Millisecond, func() {
		s.Set(name, addr("127.0.0.2"))
		s.SetRcode(name, dns.RcodeSuccess)
	})
	start := time.Now()
	if _, err := w.WaitResolve(testContext(t, 60*time.Second), name); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)

	lines := logLines(&logs)
	queries := s.Queries(name)
	// first + one change + done, plus at most one progress line per LogEvery.
	if limit := 3 + int(elapsed/w.LogEvery); len(lines) > limit || len(lines) >= queries {
		t.Errorf("%d log lines for %d polls in %s, want at most %d", len(lines), queries, elapsed, limit)
	}
	var sawProgress, sawServFail bool
	for i, l := range lines[:len(lines)-1] {
		for _, key := range []string{"name", "attempt", "elapsed", "last_answer"} {
			if _, ok := l[key]; !ok {
				t.Errorf("log line %d has no %q: %v", i, key, l)
			}
		}
		if l["name"] != name {
			t.Errorf("log line %d name = %v, want %s", i, l["name"], name)
		}
		answer, _ := l["last_answer"].(string)
		msg, _ := l["msg"].(string)
		switch {
		case i == 0 && !strings.HasPrefix(answer, "NXDOMAIN"):
			t.Errorf("first log line answer = %q, want NXDOMAIN", answer)
		case strings.HasPrefix(answer, "SERVFAIL") && strings.Contains(msg, "changed"):
			sawServFail = true
		case i > 0 && strings.HasPrefix(msg, "still waiting") && !strings.Contains(msg, "changed"):
			sawProgress = true
		}
	}
	if !sawProgress || !sawServFail {
		t.Errorf("progress line seen: %v, SERVFAIL change seen: %v; log:\n%v", sawProgress, sawServFail, lines)
	}
	last := lines[len(lines)-1]
	if diff := cmp.Diff([]any{"127.0.0.2"}, last["addrs"]); diff != "" {
		t.Errorf("done line addrs (-want +got):\n%s\n%v", diff, last)
	}
}
