// Package podtest runs the built mysql-bootstrap binary as a black box for
// tests: environment in; exit code, files, HTTP and logs out.
package podtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/mysql-bootstrap once per test process and returns its
// path. MYSQL_BOOTSTRAP_BIN names a prebuilt binary instead.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("MYSQL_BOOTSTRAP_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %v", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "mysql-bootstrap-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "mysql-bootstrap")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/mysql-bootstrap")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Env is a process environment as a map.
type Env map[string]string

// With returns a copy of e with kv pairs ("KEY", "value", ...) set; an
// empty value removes the key.
func (e Env) With(kv ...string) Env {
	out := make(Env, len(e)+len(kv)/2)
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func (e Env) list() []string {
	l := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range e {
		l = append(l, k+"="+v)
	}
	return l
}

// Result is the outcome of one run.
type Result struct {
	Code   int
	Stdout string
	Stderr string
}

// Run runs the binary to completion (at most timeout) and returns its exit
// code and output.
func Run(t testing.TB, timeout time.Duration, env Env, args ...string) Result {
	t.Helper()
	bin := Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env.list()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		t.Fatalf("run %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%v did not finish within %s; stderr:\n%s", args, timeout, res.Stderr)
	}
	return res
}

// Process is a binary running in the background (init waiting, a sidecar).
type Process struct {
	t    testing.TB
	cmd  *exec.Cmd
	out  *testkit.SyncBuffer
	done chan struct{}
	err  error
}

// Start starts the binary in the background; it is killed at cleanup if
// still running.
func Start(t testing.TB, env Env, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = env.list()
	out := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", args, err)
	}
	p := &Process{t: t, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Output is everything the process wrote so far (stdout and stderr).
func (p *Process) Output() string { return p.out.String() }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits at most d for the process to exit and returns its exit code.
func (p *Process) Wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("process %v still running after %s; output:\n%s", p.cmd.Args, d, p.Output())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		p.t.Fatalf("wait %v: %v", p.cmd.Args, p.err)
	}
	return 0
}

// Terminate sends SIGTERM and returns the exit code, failing the test if
// the process takes longer than d to exit.
func (p *Process) Terminate(d time.Duration) int {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	return p.Wait(d)
}

// Eventually polls cond until it returns nil, failing the test with its
// last error after timeout (testkit.Eventually with a test to fail).
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := testkit.Eventually(context.Background(), timeout, what, func(context.Context) error { return cond() }); err != nil {
		t.Fatal(err)
	}
}

var client = &http.Client{Timeout: 3 * time.Second}

// Get fetches http://addr/path and returns the status code and body.
func Get(addr, path string) (int, string, error) {
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// Status fetches and decodes /status into a generic map.
func Status(addr string) (map[string]any, error) {
	code, body, err := Get(addr, "/status")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("/status: %d %s", code, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return nil, fmt.Errorf("/status: %v: %s", err, body)
	}
	return m, nil
}

// LogLines returns the JSON log lines of output whose "msg" is msg.
func LogLines(output, msg string) []map[string]any { return testkit.LogLines(output, msg) }
