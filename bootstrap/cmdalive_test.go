package bootstrap

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/seed"
)

// packet frames a payload as the server's first packet (sequence 0).
func packet(payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), 0}, payload...)
}

// handshakeV10 is a protocol 10 handshake as a server sends it, byte by
// byte (MariaDB fills the reserved bytes with its extended capabilities).
func handshakeV10(version string) []byte {
	var p bytes.Buffer
	p.WriteByte(0x0a)
	p.WriteString(version)
	p.WriteByte(0)
	_ = binary.Write(&p, binary.LittleEndian, uint32(42))     // connection id
	p.WriteString("abcdefgh")                                 // auth-plugin-data, part 1
	p.WriteByte(0)                                            // filler
	_ = binary.Write(&p, binary.LittleEndian, uint16(0xf7fe)) // capabilities, low half
	p.WriteByte(45)                                           // utf8mb4_general_ci
	_ = binary.Write(&p, binary.LittleEndian, uint16(0x0002)) // SERVER_STATUS_AUTOCOMMIT
	_ = binary.Write(&p, binary.LittleEndian, uint16(0x81bf)) // capabilities, high half
	p.WriteByte(21)                                           // length of the auth-plugin-data
	p.Write(make([]byte, 10))                                 // reserved
	p.WriteString("ijklmnopqrst\x00")                         // auth-plugin-data, part 2
	p.WriteString("mysql_native_password\x00")
	return packet(p.Bytes())
}

// errorPacket is an error packet sent instead of a handshake; state ""
// leaves out the '#' and SQLSTATE, as servers do before the handshake.
func errorPacket(code uint16, state, msg string) []byte {
	p := []byte{0xff, byte(code), byte(code >> 8)}
	if state != "" {
		p = append(p, '#')
		p = append(p, state...)
	}
	return packet(append(p, msg...))
}

// fakeServer listens on 127.0.0.1 and hands every connection to serve,
// which need not close it: everything is closed at the end of the test.
func fakeServer(t *testing.T, serve func(net.Conn)) (port string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				serve(c)
				<-done
				c.Close()
			}()
		}
	}()
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port
}

// writes returns a server that sends b and keeps the connection open.
func writes(b []byte) func(net.Conn) {
	return func(c net.Conn) { _, _ = c.Write(b) }
}

// closedPort is a port on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

type aliveRun struct {
	code        int
	err         error
	out, stderr string
	elapsed     time.Duration
}

// runAlive runs `server-alive args...` through Run with exactly env.
func runAlive(t *testing.T, env map[string]string, args ...string) aliveRun {
	t.Helper()
	var out, errb bytes.Buffer
	start := time.Now()
	err := Run(context.Background(), append([]string{"server-alive"}, args...), Stdio{Out: &out, Err: &errb}, loader(env))
	return aliveRun{code: ExitCode(err), err: err, out: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
}

// writeSeed writes STATE_DIR/seed/request.json (and progress.json unless
// p is nil) last changed at mtime.
func writeSeed(t *testing.T, stateDir string, req SeedRequest, p *seed.Progress, mtime time.Time) {
	t.Helper()
	files := newSeedFiles(stateDir)
	if err := os.MkdirAll(files.dir, 0o770); err != nil {
		t.Fatal(err)
	}
	paths := []string{files.path(seedRequestFile)}
	if err := writeJSON(paths[0], req); err != nil {
		t.Fatal(err)
	}
	if p != nil {
		paths = append(paths, files.path(seedProgressFile))
		if err := writeJSON(paths[1], p); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range paths {
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

func TestServerAliveGreetings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		serve func(net.Conn)
		args  []string
		code  int
		want  string // the line, with PORT for the server's port
	}{
		{name: "mariadb handshake", serve: writes(handshakeV10("5.5.5-10.11.19-MariaDB")),
			want: "alive: server answers (10.11.19-MariaDB)"},
		{name: "mariadb 11 handshake", serve: writes(handshakeV10("11.8.2-MariaDB-ubu2404")),
			want: "alive: server answers (11.8.2-MariaDB-ubu2404)"},
		{name: "mysql handshake", serve: writes(handshakeV10("9.7.4")),
			want: "alive: server answers (MySQL 9.7.4)"},
		{name: "too many connections", serve: writes(errorPacket(1040, "08004", "Too many connections")),
			want: "alive: server answers with error 1040: Too many connections"},
		{name: "host blocked, no sqlstate", serve: writes(errorPacket(1129, "", "Host '127.0.0.1' is blocked because of many connection errors")),
			want: "alive: server answers with error 1129: Host '127.0.0.1' is blocked because of many connection errors"},
		{name: "error message on two lines", serve: writes(errorPacket(1130, "HY000", "Host is not allowed\nto connect")),
			want: "alive: server answers with error 1130: Host is not allowed to connect"},
		{name: "greeting in pieces", serve: func(c net.Conn) {
			b := handshakeV10("9.7.4")
			for i := range b {
				if _, err := c.Write(b[i : i+1]); err != nil {
					return
				}
			}
		}, want: "alive: server answers (MySQL 9.7.4)"},
		{name: "closes at once", serve: func(c net.Conn) { c.Close() }, code: ExitFailure,
			want: "not alive: 127.0.0.1:PORT accepted the connection but closed it without a greeting"},
		{name: "never writes", serve: func(net.Conn) {}, args: []string{"--timeout", "300ms"}, code: ExitFailure,
			want: "not alive: 127.0.0.1:PORT accepted the connection but sent no greeting within 300ms"},
		{name: "http server", serve: writes([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")), code: ExitFailure,
			want: "not alive: 127.0.0.1:PORT answers with something that is no MySQL greeting (header 48 54 54 50)"},
		{name: "unknown packet", serve: writes(packet([]byte{0x00, 0x00, 0x00})), code: ExitFailure,
			want: "not alive: 127.0.0.1:PORT answers with something that is no MySQL greeting (first byte 0x00)"},
		{name: "handshake without version", serve: writes(packet([]byte{0x0a, 'x'})), code: ExitFailure,
			want: "not alive: 127.0.0.1:PORT sent a handshake without a readable server version"},
		{name: "truncated packet", serve: func(c net.Conn) { _, _ = c.Write(handshakeV10("9.7.4")[:20]); c.Close() }, code: ExitFailure,
			want: "not alive: 127.0.0.1:PORT closed the connection in the middle of its greeting"},
		{name: "part of a greeting", serve: writes(handshakeV10("9.7.4")[:20]), args: []string{"--timeout", "300ms"}, code: ExitFailure,
			want: "not alive: 127.0.0.1:PORT sent part of a greeting, then nothing within 300ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := fakeServer(t, tc.serve)
			r := runAlive(t, map[string]string{"MYSQL_PORT": port, "STATE_DIR": t.TempDir()}, tc.args...)
			want := strings.ReplaceAll(tc.want, "PORT", port) + "\n"
			if r.code != tc.code || r.out != want {
				t.Errorf("exit %d, stdout %q; want exit %d, stdout %q (err %v, stderr %q)", r.code, r.out, tc.code, want, r.err, r.stderr)
			}
			if r.elapsed > 2*time.Second {
				t.Errorf("the check took %s", r.elapsed)
			}
		})
	}
}

func TestServerAliveClosedPort(t *testing.T) {
	t.Parallel()
	fresh := time.Now().Add(-10 * time.Second)
	req := SeedRequest{Donor: "mysql-0", URL: "http://mysql-0.mysql.db.svc.cluster.local:8081/backup", Why: "new replica", Requested: fresh}
	tests := []struct {
		name string
		seed func(t *testing.T, stateDir string)
		code int
		want string
	}{
		{name: "no seed dir", code: ExitFailure,
			want: "not alive: nothing answers on 127.0.0.1:PORT: connection refused"},
		{name: "empty seed dir", seed: func(t *testing.T, dir string) {
			if err := os.MkdirAll(filepath.Join(dir, seedDirName), 0o770); err != nil {
				t.Fatal(err)
			}
		}, code: ExitFailure, want: "not alive: nothing answers on 127.0.0.1:PORT: connection refused"},
		{name: "restoring", seed: func(t *testing.T, dir string) {
			writeSeed(t, dir, req, &seed.Progress{Donor: "10.0.0.7:8081", Phase: "fetch", Bytes: 123456789, Started: fresh}, fresh)
		}, want: "alive: restoring a copy from mysql-0 (fetch, 123456789 bytes)"},
		{name: "requested, restore not started", seed: func(t *testing.T, dir string) {
			writeSeed(t, dir, req, nil, fresh)
		}, want: "alive: restoring a copy from mysql-0 (starting, 0 bytes)"},
		{name: "unreadable request", seed: func(t *testing.T, dir string) {
			writeSeed(t, dir, req, nil, fresh)
			if err := os.WriteFile(filepath.Join(dir, seedDirName, seedRequestFile), []byte("{"), 0o660); err != nil {
				t.Fatal(err)
			}
		}, code: ExitFailure, want: "not alive: nothing answers on 127.0.0.1:PORT: connection refused; and the seed request in STATE_DIR cannot be read: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port, stateDir := closedPort(t), t.TempDir()
			if tc.seed != nil {
				tc.seed(t, stateDir)
			}
			r := runAlive(t, map[string]string{"MYSQL_PORT": port, "STATE_DIR": stateDir})
			want := strings.ReplaceAll(tc.want, "PORT", port)
			if r.code != tc.code || !strings.HasPrefix(r.out, want) || strings.Count(r.out, "\n") != 1 {
				t.Errorf("exit %d, stdout %q; want exit %d and one line starting %q (err %v)", r.code, r.out, tc.code, want, r.err)
			}
		})
	}
}

// TestServerAliveStaleSeed runs the real check with stale seed files: it
// holds only where no seed-exec process is visible (a machine running
// MariaDB pods in Docker shows theirs); TestGatherRestoreAlive covers the
// same with a /proc of its own.
func TestServerAliveStaleSeed(t *testing.T) {
	t.Parallel()
	if seedExecRunning("/proc") {
		t.Skip("a seed-exec process runs on this machine")
	}
	port, stateDir := closedPort(t), t.TempDir()
	old := time.Now().Add(-time.Hour)
	writeSeed(t, stateDir, SeedRequest{Donor: "mysql-2", Requested: old}, &seed.Progress{Phase: "prepare", Bytes: 99}, old)
	r := runAlive(t, map[string]string{"MYSQL_PORT": port, "STATE_DIR": stateDir})
	want := "not alive: nothing answers on 127.0.0.1:" + port + ": connection refused; a copy from mysql-2 is requested in STATE_DIR but no seed-exec is running and its progress has not changed for 1h0m0s\n"
	if r.code != ExitFailure || r.out != want {
		t.Errorf("exit %d, stdout %q; want exit 1, stdout %q", r.code, r.out, want)
	}
}

// fakeProc is a /proc with one process per command line.
func fakeProc(t *testing.T, cmdlines ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i, cl := range cmdlines {
		pid := filepath.Join(dir, strconv.Itoa(i+1))
		if err := os.Mkdir(pid, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pid, "cmdline"), []byte(cl), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not a process.
	if err := os.WriteFile(filepath.Join(dir, "uptime"), []byte("1.0 1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSeedExecRunningAlive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cmdlines []string
		want     bool
	}{
		{name: "entrypoint", cmdlines: []string{"/tools/mysql-bootstrap\x00seed-exec\x00--\x00docker-entrypoint.sh\x00mariadbd\x00"}, want: true},
		{name: "beside others", cmdlines: []string{"/pause\x00", "sh\x00-c\x00sleep 1\x00", "mysql-bootstrap\x00seed-exec\x00--\x00x\x00"}, want: true},
		{name: "server started", cmdlines: []string{"mariadbd\x00"}},
		{name: "other commands", cmdlines: []string{"/tools/mysql-bootstrap\x00server-alive\x00", "/mysql-bootstrap\x00sidecar\x00", "/bin/echo\x00seed-exec\x00"}},
		{name: "zombie", cmdlines: []string{""}},
		{name: "no processes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := seedExecRunning(fakeProc(t, tc.cmdlines...)); got != tc.want {
				t.Errorf("seedExecRunning = %v, want %v", got, tc.want)
			}
		})
	}
	if seedExecRunning(filepath.Join(t.TempDir(), "missing")) {
		t.Error("a missing /proc shows a seed-exec")
	}
}

// TestGatherRestoreAlive reads real seed files against a /proc of its own.
func TestGatherRestoreAlive(t *testing.T) {
	t.Parallel()
	now := time.Now()
	seedExec := "/tools/mysql-bootstrap\x00seed-exec\x00--\x00docker-entrypoint.sh\x00mariadbd\x00"
	tests := []struct {
		name   string
		age    time.Duration
		procs  []string
		alive  bool
		prefix string
	}{
		{name: "fresh", age: time.Minute, alive: true, prefix: "alive: restoring a copy from mysql-1 (prepare, 5000 bytes)"},
		{name: "stale", age: seedStaleAfter + time.Second, prefix: "not alive: refused; a copy from mysql-1 is requested in STATE_DIR but no seed-exec is running and its progress has not changed for 15m1s"},
		{name: "stale, seed-exec preparing", age: 3 * time.Hour, procs: []string{seedExec}, alive: true, prefix: "alive: restoring a copy from mysql-1 (prepare, 5000 bytes)"},
		{name: "stale, server started by hand", age: 3 * time.Hour, procs: []string{"mariadbd\x00"}, prefix: "not alive: refused; a copy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stateDir := t.TempDir()
			writeSeed(t, stateDir, SeedRequest{Donor: "mysql-1"}, &seed.Progress{Phase: "prepare", Bytes: 5000}, now.Add(-tc.age))
			f := aliveFacts{Greeting: greeting{Problem: "refused"}, Seed: gatherRestore(newSeedFiles(stateDir), fakeProc(t, tc.procs...), now)}
			alive, line := decideAlive(f)
			if alive != tc.alive || !strings.HasPrefix(line, tc.prefix) {
				t.Errorf("decideAlive = %v %q, want %v %q...", alive, line, tc.alive, tc.prefix)
			}
		})
	}
}

func TestDecideAlive(t *testing.T) {
	t.Parallel()
	refused := greeting{Problem: "nothing answers on 127.0.0.1:3306: connection refused"}
	tests := []struct {
		name  string
		f     aliveFacts
		alive bool
		line  string
	}{
		{name: "handshake", f: aliveFacts{Greeting: greeting{Kind: greetingHandshake, Version: "8.4.6"}}, alive: true,
			line: "alive: server answers (MySQL 8.4.6)"},
		{name: "error without message", f: aliveFacts{Greeting: greeting{Kind: greetingError, Code: 1040}}, alive: true,
			line: "alive: server answers with error 1040"},
		{name: "handshake wins over a stale seed", f: aliveFacts{Greeting: greeting{Kind: greetingHandshake, Version: "11.8.2-MariaDB"},
			Seed: restoreFacts{Requested: true, Age: time.Hour}}, alive: true, line: "alive: server answers (11.8.2-MariaDB)"},
		{name: "refused", f: aliveFacts{Greeting: refused},
			line: "not alive: nothing answers on 127.0.0.1:3306: connection refused"},
		{name: "garbage", f: aliveFacts{Greeting: greeting{Kind: greetingGarbage, Problem: "127.0.0.1:3306 answers with something that is no MySQL greeting (first byte 0x00)"}},
			line: "not alive: 127.0.0.1:3306 answers with something that is no MySQL greeting (first byte 0x00)"},
		{name: "restoring", f: aliveFacts{Greeting: refused, Seed: restoreFacts{Requested: true, Request: SeedRequest{Donor: "mysql-0"},
			HasProgress: true, Progress: seed.Progress{Phase: "fetch", Bytes: 1 << 30}, Age: 2 * time.Second}}, alive: true,
			line: "alive: restoring a copy from mysql-0 (fetch, 1073741824 bytes)"},
		{name: "restoring, donor from progress", f: aliveFacts{Greeting: refused, Seed: restoreFacts{Requested: true,
			HasProgress: true, Progress: seed.Progress{Donor: "10.1.2.3:8081", Phase: "swap", Bytes: 7}, Age: seedStaleAfter}}, alive: true,
			line: "alive: restoring a copy from 10.1.2.3:8081 (swap, 7 bytes)"},
		{name: "seed-exec silent for hours", f: aliveFacts{Greeting: refused, Seed: restoreFacts{Requested: true, Request: SeedRequest{Donor: "mysql-0"},
			HasProgress: true, Progress: seed.Progress{Phase: "prepare", Bytes: 9}, Age: 5 * time.Hour, SeedExec: true}}, alive: true,
			line: "alive: restoring a copy from mysql-0 (prepare, 9 bytes)"},
		{name: "stale", f: aliveFacts{Greeting: refused, Seed: restoreFacts{Requested: true, Request: SeedRequest{Donor: "mysql-0"}, Age: seedStaleAfter + 30*time.Second}},
			line: "not alive: nothing answers on 127.0.0.1:3306: connection refused; a copy from mysql-0 is requested in STATE_DIR but no seed-exec is running and its progress has not changed for 15m30s"},
		{name: "seed files unreadable", f: aliveFacts{Greeting: refused, Seed: restoreFacts{Err: &os.PathError{Op: "open", Path: "/x/seed/request.json", Err: os.ErrPermission}}},
			line: "not alive: nothing answers on 127.0.0.1:3306: connection refused; and the seed request in STATE_DIR cannot be read: permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			alive, line := decideAlive(tc.f)
			if alive != tc.alive || line != tc.line {
				t.Errorf("decideAlive = %v %q\nwant           %v %q", alive, line, tc.alive, tc.line)
			}
		})
	}
}

func TestServerAliveBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{name: "port not a number", env: map[string]string{"MYSQL_PORT": "mysql"}, want: `MYSQL_PORT="mysql" is invalid: expected a port from 1 to 65535`},
		{name: "port zero", env: map[string]string{"MYSQL_PORT": "0"}, want: `MYSQL_PORT="0" is invalid: expected a port from 1 to 65535`},
		{name: "port too big", env: map[string]string{"MYSQL_PORT": "65536"}, want: `MYSQL_PORT="65536" is invalid: expected a port from 1 to 65535`},
		{name: "relative state dir", env: map[string]string{"STATE_DIR": "state"}, want: `STATE_DIR="state" is invalid: expected an absolute path`},
		{name: "both", env: map[string]string{"MYSQL_PORT": "x", "STATE_DIR": "state"},
			want: `MYSQL_PORT="x" is invalid: expected a port from 1 to 65535; STATE_DIR="state" is invalid: expected an absolute path`},
		{name: "zero timeout", args: []string{"--timeout", "0s"}, want: "--timeout=0s is invalid"},
		{name: "argument", args: []string{"now"}, want: `server-alive takes no arguments, got ["now"]`},
		{name: "unknown flag", args: []string{"--user", "root"}, want: "flag provided but not defined: -user"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runAlive(t, tc.env, tc.args...)
			if r.code != ExitInvalid || r.err == nil || !strings.Contains(r.err.Error(), tc.want) || strings.Contains(r.err.Error(), "\n") {
				t.Errorf("exit %d, error %v; want exit 2 and one line containing %q", r.code, r.err, tc.want)
			}
			if r.out != "" {
				t.Errorf("printed %q before the configuration was valid", r.out)
			}
		})
	}
	r := runAlive(t, map[string]string{"MYSQL_PORT": "x"})
	if !errors.Is(r.err, ErrInvalidConfig) {
		t.Errorf("bad MYSQL_PORT: %v is not ErrInvalidConfig", r.err)
	}
}

// TestServerAliveNeedsNoConfig: the server container's environment is the
// image's. Nothing is required, and nothing but MYSQL_HOST, MYSQL_PORT
// and STATE_DIR is read: password files that do not exist, a bad
// SERVICE_NAME or LOG_LEVEL change nothing, and no password is printed.
func TestServerAliveNeedsNoConfig(t *testing.T) {
	t.Parallel()
	port := fakeServer(t, writes(handshakeV10("5.5.5-10.11.19-MariaDB")))
	env := map[string]string{
		"MYSQL_PORT":                 port,
		"STATE_DIR":                  t.TempDir(),
		"MYSQL_ROOT_PASSWORD":        "root-pw-secret",
		"MYSQL_ROOT_PASSWORD_FILE":   "/nonexistent/root-password",
		"MARIADB_ROOT_PASSWORD_FILE": "/nonexistent/root-password",
		"REPLICATION_PASSWORD_FILE":  "/nonexistent/replication-password",
		"SERVICE_NAME":               "Not_A_Service",
		"LOG_LEVEL":                  "loud",
		"WAIT_TIMEOUT":               "soon",
	}
	r := runAlive(t, env)
	if r.code != ExitOK || r.out != "alive: server answers (10.11.19-MariaDB)\n" {
		t.Errorf("exit %d, stdout %q, err %v", r.code, r.out, r.err)
	}
	if strings.Contains(r.out+r.stderr, "pw-secret") {
		t.Errorf("a password was printed: %q %q", r.out, r.stderr)
	}

	// Nothing set at all: 127.0.0.1:3306, which may or may not answer on
	// this machine, but the configuration is never the problem.
	r = runAlive(t, map[string]string{}, "--timeout", "500ms")
	if r.code != ExitOK && r.code != ExitFailure {
		t.Fatalf("empty environment: exit %d, err %v", r.code, r.err)
	}
	if !strings.HasPrefix(r.out, "alive: ") && !strings.HasPrefix(r.out, "not alive: ") || strings.Count(r.out, "\n") != 1 {
		t.Errorf("empty environment: stdout %q", r.out)
	}
	if r.code == ExitFailure && !strings.Contains(r.out, "127.0.0.1:3306") {
		t.Errorf("empty environment: %q does not name 127.0.0.1:3306", r.out)
	}
}

func TestServerAliveHelp(t *testing.T) {
	t.Parallel()
	r := runAlive(t, map[string]string{"MYSQL_PORT": "x"}, "-h")
	if r.code != ExitOK || !strings.Contains(r.out, "Usage:\n  mysql-bootstrap server-alive") || !strings.Contains(r.out, "-timeout") || r.stderr != "" {
		t.Errorf("server-alive -h: exit %d, stdout %q, stderr %q", r.code, r.out, r.stderr)
	}
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"help"}, Stdio{Out: &out, Err: &out}, loader(nil)); err != nil || !strings.Contains(out.String(), "mysql-bootstrap server-alive [--timeout D]") {
		t.Errorf("help does not list server-alive (%v):\n%s", err, out.String())
	}
}
