package dnswait

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// Defaults for the zero fields of a Waiter.
const (
	DefaultMinBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff  = time.Second
	DefaultLogEvery    = 5 * time.Second
	DefaultDialTimeout = time.Second
)

// ErrWaitTimeout is returned, wrapped in an error that says what was
// waited for and what was last seen, when ctx's deadline passes before the
// wait succeeds. The error also matches context.DeadlineExceeded.
var ErrWaitTimeout = errors.New("wait timed out")

// Waiter polls until a name resolves or a port answers, backing off
// between attempts from MinBackoff up to MaxBackoff (x1.5 each time), so
// that a record that appears is seen within about MaxBackoff without
// hammering the DNS servers.
//
// It logs the first outcome, every change of outcome, a progress line at
// most every LogEvery, and the success; never every poll. Its methods do
// not modify it, so one Waiter may serve several goroutines.
type Waiter struct {
	// Resolver does the lookups; required.
	Resolver *Resolver
	// Logger receives the progress; nil discards it.
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the pause between attempts; zero
	// means DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// LogEvery is the least time between two progress lines while nothing
	// changes; zero means DefaultLogEvery.
	LogEvery time.Duration
	// DialTimeout bounds one TCP connection attempt; zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration
}

// WaitResolve looks name up until it resolves and returns its addresses
// (see Resolver.Lookup). It returns an error matching ErrWaitTimeout when
// ctx's deadline passes first, ctx's error (wrapped) when ctx is cancelled,
// and an error at once for an invalid name.
func (w *Waiter) WaitResolve(ctx context.Context, name string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	err := w.wait(ctx, name, 0, func(ctx context.Context) (attempt, bool, error) {
		res, err := w.Resolver.Lookup(ctx, name)
		if err != nil {
			return attempt{}, false, err
		}
		addrs = res.Addrs
		return attempt{res: res}, res.Outcome == Resolved, nil
	})
	if err != nil {
		return nil, err
	}
	return addrs, nil
}

// WaitReachable waits until name resolves and a TCP connection to port on
// one of its addresses succeeds, and returns that address; the connection
// is closed at once. The name is looked up again before every connection
// attempt, because the address may change (a rescheduled pod). Errors are
// as for WaitResolve.
func (w *Waiter) WaitReachable(ctx context.Context, name string, port int) (netip.AddrPort, error) {
	if port < 1 || port > 65535 {
		return netip.AddrPort{}, fmt.Errorf("wait for %s:%d: port out of range 1..65535", name, port)
	}
	dialTimeout := or(w.DialTimeout, DefaultDialTimeout)
	var reached netip.AddrPort
	err := w.wait(ctx, name, port, func(ctx context.Context) (attempt, bool, error) {
		res, err := w.Resolver.Lookup(ctx, name)
		if err != nil {
			return attempt{}, false, err
		}
		a := attempt{res: res, port: port}
		if res.Outcome != Resolved {
			return a, false, nil
		}
		for _, addr := range res.Addrs {
			ap := netip.AddrPortFrom(addr, uint16(port))
			d := net.Dialer{Timeout: dialTimeout}
			conn, err := d.DialContext(ctx, "tcp", ap.String())
			if err == nil {
				_ = conn.Close()
				reached = ap
				a.addr, a.dialErr = ap, nil
				return a, true, nil
			}
			if ctx.Err() != nil {
				a.addr, a.dialErr, a.dialTimeout = ap, errDialInterrupted, dialTimeout
				return a, false, ctx.Err()
			}
			a.addr, a.dialErr, a.dialTimeout = ap, err, dialTimeout
		}
		return a, false, nil
	})
	if err != nil {
		return netip.AddrPort{}, err
	}
	return reached, nil
}

// errDialInterrupted stands for a connection attempt that ctx's end cut
// short.
var errDialInterrupted = errors.New("the connection attempt did not complete")

// attempt is what one poll saw.
type attempt struct {
	res         Result
	port        int            // 0 when only resolving
	addr        netip.AddrPort // the address dialled last
	dialErr     error          // why the last dial failed
	dialTimeout time.Duration
}

// key identifies the state an attempt saw, to log changes only. It leaves
// out details that vary from poll to poll (such as local ports).
func (a attempt) key() string {
	k := a.res.Outcome.String() + "|" + rcodeName(a.res.Rcode) + "|" + a.res.Server + "|" + a.res.Name
	if a.res.Outcome == Resolved {
		k += "|" + a.res.String()
	}
	if a.dialErr != nil {
		k += "|" + a.dialErr.Error()
	}
	return k
}

// answer describes the DNS result for name, naming the expanded name when
// it was not name itself.
func answer(name string, res Result) string {
	s := res.String()
	if res.Name != "" && !strings.EqualFold(res.Name, dns.Fqdn(name)) && res.Outcome != Resolved {
		s += " for " + res.Name
	}
	return s
}

// wait runs try until it succeeds, fails, or ctx ends, with backoff and
// logging.
func (w *Waiter) wait(ctx context.Context, name string, port int, try func(context.Context) (attempt, bool, error)) error {
	if w.Resolver == nil {
		return errors.New("dnswait: Waiter has no Resolver")
	}
	log := w.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	target, what := name, "to resolve"
	if port != 0 {
		target, what = net.JoinHostPort(name, strconv.Itoa(port)), "to accept connections"
		log = log.With("name", name, "port", port)
	} else {
		log = log.With("name", name)
	}
	minB, maxB := or(w.MinBackoff, DefaultMinBackoff), or(w.MaxBackoff, DefaultMaxBackoff)
	maxB = max(maxB, minB)
	logEvery := or(w.LogEvery, DefaultLogEvery)

	start := time.Now()
	var (
		last    *attempt
		lastKey string
		lastLog time.Time
	)
	backoff := minB
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	for n := 1; ; n++ {
		a, ok, err := try(ctx)
		if err != nil {
			if ctx.Err() == nil {
				return fmt.Errorf("wait for %s %s: %w", target, what, err)
			}
			if a.dialErr != nil && (last == nil || last.dialErr == nil) {
				last = &a // at least say that the name resolved
			}
			return w.stopped(ctx, name, target, what, time.Since(start), last)
		}
		last = &a
		elapsed := time.Since(start).Round(time.Millisecond)
		attrs := []any{"attempt", n, "elapsed", elapsed.String()}
		if ok {
			if port != 0 {
				attrs = append(attrs, "addr", a.addr.String())
			} else {
				attrs = append(attrs, "addrs", addrStrings(a.res.Addrs))
			}
			log.Info("done waiting for "+target+" "+what, attrs...)
			return nil
		}
		attrs = append(attrs, "last_answer", answer(name, a.res))
		if a.dialErr != nil {
			attrs = append(attrs, "last_error", a.dialErr.Error())
		}
		now := time.Now()
		switch k := a.key(); {
		case n == 1:
			log.Info("waiting for "+target+" "+what, attrs...)
			lastKey, lastLog = k, now
		case k != lastKey:
			log.Info("still waiting for "+target+" "+what+", answer changed", attrs...)
			lastKey, lastLog = k, now
		case now.Sub(lastLog) >= logEvery:
			log.Info("still waiting for "+target+" "+what, attrs...)
			lastLog = now
		}

		timer.Reset(backoff)
		select {
		case <-ctx.Done():
			return w.stopped(ctx, name, target, what, time.Since(start), last)
		case <-timer.C:
		}
		backoff = min(backoff*3/2, maxB)
	}
}

// stopped builds the error for a wait that ctx ended.
func (w *Waiter) stopped(ctx context.Context, name, target, what string, elapsed time.Duration, last *attempt) error {
	seen := "no attempt completed"
	hint := "check that the DNS servers " + strings.Join(w.Resolver.Servers(), ", ") + " are reachable"
	if last != nil {
		seen, hint = w.describe(name, *last)
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("wait for %s %s stopped after %s (%s): %w", target, what, roundElapsed(elapsed), seen, ctx.Err())
	}
	return &timeoutError{
		msg:   fmt.Sprintf("timed out after %s waiting for %s %s: %s (%s)", roundElapsed(elapsed), target, what, seen, hint),
		cause: ctx.Err(),
	}
}

// describe says what an attempt saw and what to check about it.
func (w *Waiter) describe(name string, a attempt) (seen, hint string) {
	res := a.res
	if res.Outcome != Resolved {
		seen = "last answer " + answer(name, res)
		if a.port != 0 {
			seen = name + " did not resolve, " + seen
		}
		switch res.Outcome {
		case NXDomain:
			hint = "check that the headless Service exists, that the StatefulSet's serviceName names it, and that it sets publishNotReadyAddresses: true"
		case NoAddress:
			hint = "the name exists but has no address: check that the pod exists and that the headless Service sets publishNotReadyAddresses: true"
		case ServFail, OtherRcode:
			hint = "check that the cluster DNS (CoreDNS) pods are running, and their logs"
		default:
			hint = "check that the DNS servers " + strings.Join(w.Resolver.Servers(), ", ") + " are reachable and that the cluster DNS pods are running"
		}
		return seen, hint
	}
	port := strconv.Itoa(a.port)
	seen = "resolved to " + a.addr.Addr().String()
	hint = "check that the server behind " + name + " is running and listens on port " + port
	var ne net.Error
	switch {
	case errors.Is(a.dialErr, errDialInterrupted):
		seen += " but the connection to port " + port + " did not complete"
	case errors.Is(a.dialErr, syscall.ECONNREFUSED):
		seen += " but port " + port + " refused connections: " + a.dialErr.Error()
	case errors.As(a.dialErr, &ne) && ne.Timeout():
		seen += " but port " + port + " did not answer within " + a.dialTimeout.String() + ": " + a.dialErr.Error()
		hint += ", and that no network policy blocks it"
	default:
		seen += " but connecting to port " + port + " failed: " + a.dialErr.Error()
	}
	return seen, hint
}

// timeoutError is a wait that ctx's deadline ended: one line for people,
// ErrWaitTimeout and context.DeadlineExceeded for errors.Is.
type timeoutError struct {
	msg   string
	cause error
}

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Unwrap() []error { return []error{ErrWaitTimeout, e.cause} }

func roundElapsed(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(10 * time.Millisecond)
}

func addrStrings(addrs []netip.Addr) []string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return s
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
