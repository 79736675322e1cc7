package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/seed"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// server-alive is the server container's startup and liveness probe:
//
//	exec: {command: ["/tools/mysql-bootstrap", "server-alive"]}
//
// It must never make the kubelet restart a server that is merely busy,
// refuses our password or lost its sidecar, so it logs in to nothing: a
// server that sends its greeting, or an error instead of one (too many
// connections, host blocked), is alive. It needs no variable at all and
// reads only MYSQL_HOST, MYSQL_PORT and STATE_DIR: the server container's
// environment is the image's, and a password file it names is none of the
// probe's business.
//
// While seed-exec restores a donor's copy before the server starts (hours,
// for a large copy), nothing listens on the port; the probe then looks at
// STATE_DIR/seed, where the copy was requested and where seed-exec reports
// its progress.

// Paces of server-alive.
const (
	// aliveTimeout bounds the whole check by default: the manifests give
	// the probe 5 s, and a check cut off by the kubelet says nothing.
	aliveTimeout = 3 * time.Second
	// seedStaleAfter is how long the seed files may stay unchanged before
	// a restore that no visible seed-exec process serves is given up as
	// dead. seed-exec rewrites progress.json about once a second while
	// bytes arrive and at every phase, but not in between: a donor may
	// send nothing for up to seed.Restore's IdleTimeout (10 minutes) and
	// mariadb-backup --prepare reports nothing until it ends. The running
	// seed-exec process is the signal that covers those; this bound is
	// for when the process cannot be seen, and for the moments between
	// the sidecar's request and the server's shutdown.
	seedStaleAfter = 15 * time.Minute
	// greetingReadLimit bounds what is read of the first packet: the
	// version string and an error message (at most 512 bytes) are at its
	// start, and a greeting is about 100 bytes.
	greetingReadLimit = 1024
)

// errNotAlive is returned after the reason was printed on stdout.
var errNotAlive = errors.New("the server is not alive")

// aliveConfig is the little server-alive reads from the environment.
type aliveConfig struct {
	Addr     string // MYSQL_HOST:MYSQL_PORT
	StateDir string
}

// loadAliveConfig reads MYSQL_HOST, MYSQL_PORT and STATE_DIR, and nothing
// else: Load would read the password files the server image's variables
// name and fail on any unrelated variable it does not like. Empty means
// the default, as for wait-dns.
func loadAliveConfig(loader Loader) (aliveConfig, error) {
	l := loader.withDefaults()
	get := func(name, def string) string {
		if v, _ := l.Lookuper.Lookup(name); v != "" {
			return v
		}
		return def
	}
	host := get("MYSQL_HOST", "127.0.0.1")
	port := get("MYSQL_PORT", "3306")
	stateDir := get("STATE_DIR", "/var/lib/mysql-bootstrap")
	var p []string
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		p = append(p, fmt.Sprintf("MYSQL_PORT=%q is invalid: expected a port from 1 to 65535", port))
	}
	if !filepath.IsAbs(stateDir) {
		p = append(p, fmt.Sprintf("STATE_DIR=%q is invalid: expected an absolute path", stateDir))
	}
	if len(p) > 0 {
		return aliveConfig{}, &configError{problems: p}
	}
	return aliveConfig{Addr: net.JoinHostPort(host, port), StateDir: stateDir}, nil
}

func runServerAlive(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	fs := newFlagSet("server-alive", stdio)
	timeout := fs.Duration("timeout", aliveTimeout, "how long the whole check may take")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: server-alive takes no arguments, got %q", ErrUsage, fs.Args())
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: --timeout=%s is invalid: expected a positive duration such as 3s", ErrUsage, *timeout)
	}
	cfg, err := loadAliveConfig(loader)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	f := gatherAlive(ctx, cfg, *timeout, "/proc", time.Now)
	alive, line := decideAlive(f)
	fmt.Fprintln(stdio.Out, line)
	if !alive {
		return errNotAlive
	}
	return nil
}

// aliveFacts is everything server-alive decides from.
type aliveFacts struct {
	Greeting greeting
	// Seed is read only when the server did not greet.
	Seed restoreFacts
}

// greetingKind is what the server's first packet was.
type greetingKind int

const (
	greetingNone      greetingKind = iota // refused, closed, timed out
	greetingHandshake                     // protocol 10 handshake
	greetingError                         // an error packet instead
	greetingGarbage                       // something that is no MySQL packet
)

// greeting is the outcome of reading the server's first packet.
type greeting struct {
	Kind    greetingKind
	Version string // handshake
	Code    int    // error packet
	Message string // error packet
	// Problem says what went wrong when Kind is greetingNone or
	// greetingGarbage.
	Problem string
}

// restoreFacts is what STATE_DIR/seed says of a restore.
type restoreFacts struct {
	Requested   bool
	Request     SeedRequest
	HasProgress bool
	Progress    seed.Progress
	// Age is the time since request.json or progress.json, the newer,
	// last changed.
	Age time.Duration
	// SeedExec: a seed-exec process is running in the container.
	SeedExec bool
	// Err: the files could not be read.
	Err error
}

// gatherAlive reads the server's greeting and, when there is none, the
// seed files and the processes under procDir.
// ctx bounds it; timeout is that bound, for the messages.
func gatherAlive(ctx context.Context, cfg aliveConfig, timeout time.Duration, procDir string, now func() time.Time) aliveFacts {
	var f aliveFacts
	f.Greeting = readGreeting(ctx, cfg.Addr, timeout)
	if f.Greeting.Kind == greetingHandshake || f.Greeting.Kind == greetingError {
		return f
	}
	f.Seed = gatherRestore(newSeedFiles(cfg.StateDir), procDir, now())
	return f
}

// readGreeting dials addr and reads the first packet without sending
// anything: a 4-byte header (3-byte little-endian payload length, 1-byte
// sequence number), then the payload.
func readGreeting(ctx context.Context, addr string, timeout time.Duration) greeting {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return greeting{Problem: "nothing answers on " + addr + ": " + dialProblem(ctx, err, timeout)}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return greeting{Problem: readFailure(addr, err, timeout, false)}
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if hdr[3] != 0 || n == 0 {
		return greeting{Kind: greetingGarbage, Problem: fmt.Sprintf("%s answers with something that is no MySQL greeting (header % x)", addr, hdr)}
	}
	payload := make([]byte, min(n, greetingReadLimit))
	if _, err := io.ReadFull(conn, payload); err != nil {
		return greeting{Kind: greetingGarbage, Problem: readFailure(addr, err, timeout, true)}
	}
	return parseGreeting(addr, payload)
}

// parseGreeting tells a handshake and an error packet from anything else.
func parseGreeting(addr string, p []byte) greeting {
	switch p[0] {
	case 0x0a:
		end := bytes.IndexByte(p[1:], 0)
		if end > 0 && printable(p[1:1+end]) {
			return greeting{Kind: greetingHandshake, Version: string(p[1 : 1+end])}
		}
		return greeting{Kind: greetingGarbage, Problem: addr + " sent a handshake without a readable server version"}
	case 0xff:
		if len(p) < 3 {
			return greeting{Kind: greetingGarbage, Problem: addr + " sent a truncated error packet"}
		}
		g := greeting{Kind: greetingError, Code: int(p[1]) | int(p[2])<<8}
		msg := p[3:]
		// Protocol 4.1 errors carry '#' and a 5-character SQLSTATE; errors
		// sent before the handshake often do not.
		if len(msg) >= 6 && msg[0] == '#' {
			msg = msg[6:]
		}
		g.Message = sqldialect.OneLine(strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f || r == '\uFFFD' {
				return ' '
			}
			return r
		}, string(msg)))
		return g
	default:
		return greeting{Kind: greetingGarbage, Problem: fmt.Sprintf("%s answers with something that is no MySQL greeting (first byte 0x%02x)", addr, p[0])}
	}
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// dialProblem is why a dial failed, without the addresses the line
// already shows: "connection refused", "no answer within 3s".
func dialProblem(ctx context.Context, err error, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return "no answer within " + timeout.String()
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "cannot resolve " + dnsErr.Name + ": " + dnsErr.Err
	}
	return sqldialect.OneLine(err.Error())
}

// readFailure says why no whole greeting came; partial: its header did.
func readFailure(addr string, err error, timeout time.Duration, partial bool) string {
	var ne net.Error
	eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	timedOut := errors.As(err, &ne) && ne.Timeout()
	switch {
	case eof && partial:
		return addr + " closed the connection in the middle of its greeting"
	case eof:
		return addr + " accepted the connection but closed it without a greeting"
	case timedOut && partial:
		return addr + " sent part of a greeting, then nothing within " + timeout.String()
	case timedOut:
		return addr + " accepted the connection but sent no greeting within " + timeout.String()
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return addr + " accepted the connection but reading its greeting failed: " + se.Err.Error()
	}
	return addr + " accepted the connection but reading its greeting failed: " + sqldialect.OneLine(err.Error())
}

// gatherRestore reads STATE_DIR/seed and looks for a running seed-exec.
// The request's MAC is not checked here: the probe obeys nothing (it only
// says whether the container lives while its server is down) and reads no
// secret; seed-exec, which acts on the request, checks it.
func gatherRestore(files seedFiles, procDir string, now time.Time) restoreFacts {
	var r restoreFacts
	if files.dir == "" {
		return r
	}
	ok, err := readJSON(files.path(seedRequestFile), &r.Request)
	if err != nil || !ok {
		r.Err = err
		return r
	}
	r.Requested = true
	var changed time.Time
	if fi, err := os.Stat(files.path(seedRequestFile)); err == nil {
		changed = fi.ModTime()
	}
	// seed-exec writes progress.json atomically: a reader sees a whole
	// file. It may be gone between the stat and the read (done).
	if fi, err := os.Stat(files.path(seedProgressFile)); err == nil {
		if fi.ModTime().After(changed) {
			changed = fi.ModTime()
		}
		if ok, err := readJSON(files.path(seedProgressFile), &r.Progress); err == nil && ok {
			r.HasProgress = true
		}
	}
	if !changed.IsZero() {
		r.Age = max(now.Sub(changed), 0)
	}
	r.SeedExec = seedExecRunning(procDir)
	return r
}

// seedExecRunning reports whether a process under procDir (/proc) is
// `mysql-bootstrap seed-exec`. The probe runs in the server container, so
// it sees the container's processes (the pod's, when they share a process
// namespace), of which seed-exec is the entrypoint until it execs the
// server.
func seedExecRunning(procDir string) bool {
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procDir, e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(string(b), "\x00")
		if len(argv) >= 2 && filepath.Base(argv[0]) == "mysql-bootstrap" && argv[1] == "seed-exec" {
			return true
		}
	}
	return false
}

// decideAlive is the verdict and the line the kubelet shows.
func decideAlive(f aliveFacts) (alive bool, line string) {
	g := f.Greeting
	switch g.Kind {
	case greetingHandshake:
		return true, "alive: server answers (" + describeVersion(g.Version) + ")"
	case greetingError:
		line := fmt.Sprintf("alive: server answers with error %d", g.Code)
		if g.Message != "" {
			line += ": " + g.Message
		}
		return true, line
	}
	s := f.Seed
	switch {
	case s.Err != nil:
		return false, fmt.Sprintf("not alive: %s; and the seed request in STATE_DIR cannot be read: %s", g.Problem, sqldialect.OneLine(unwrapPathError(s.Err).Error()))
	case !s.Requested:
		return false, "not alive: " + g.Problem
	case s.SeedExec || s.Age <= seedStaleAfter:
		return true, "alive: restoring a copy from " + s.donor() + " (" + s.phase() + ", " + strconv.FormatInt(s.Progress.Bytes, 10) + " bytes)"
	default:
		return false, fmt.Sprintf("not alive: %s; a copy from %s is requested in STATE_DIR but no seed-exec is running and its progress has not changed for %s",
			g.Problem, s.donor(), s.Age.Round(time.Second))
	}
}

func (s restoreFacts) donor() string {
	switch {
	case s.Request.Donor != "":
		return s.Request.Donor
	case s.Progress.Donor != "":
		return s.Progress.Donor
	}
	return "a donor"
}

func (s restoreFacts) phase() string {
	if s.HasProgress && s.Progress.Phase != "" {
		return s.Progress.Phase
	}
	return "starting"
}

// describeVersion names the server: MariaDB says so in its version
// (after "5.5.5-", which it sends for old replication clients).
func describeVersion(v string) string {
	if strings.Contains(v, "MariaDB") {
		return strings.TrimPrefix(v, "5.5.5-")
	}
	return "MySQL " + v
}
