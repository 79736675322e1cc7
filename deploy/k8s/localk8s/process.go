package localk8s

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/internal/atomicfile"
)

// proc is one process Up started, as recorded in run/state.json.
type proc struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// Exe is the executable it was started from: a PID is signalled only
	// while /proc/PID/exe still is that file (PIDs are reused).
	Exe string `json:"exe"`
}

// state is what a run leaves for Down and for the next Up.
type state struct {
	Started time.Time `json:"started"`
	Procs   []proc    `json:"procs"`
	// Sysctls are the values before the run, restored by Down.
	Sysctls map[string]string `json:"sysctls"`
}

func (c *Cluster) statePath() string { return c.path("run", "state.json") }

func (c *Cluster) readState() (*state, error) {
	b, err := os.ReadFile(c.statePath())
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", c.statePath(), err)
	}
	return &s, nil
}

func (c *Cluster) writeState(s *state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(c.statePath(), b, 0o600)
}

// writeFileAtomic makes path's directory and writes path with
// atomicfile.Write, so a crash leaves the old file or the new one.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, b, mode)
}

// alive reports whether p still runs the executable it was started from.
func (p proc) alive() bool {
	if p.PID <= 0 {
		return false
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(p.PID) + "/exe")
	if err != nil {
		return false
	}
	// A replaced binary shows as "path (deleted)".
	exe = strings.TrimSuffix(exe, " (deleted)")
	if exe != p.Exe {
		return false
	}
	// A zombie has exited already.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/stat")
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
		return false
	}
	return true
}

// start runs a component in its own session, its output in logs/NAME.log,
// and records it. It outlives the calling process: Down stops it.
func (c *Cluster) start(s *state, name, exe string, args ...string) error {
	if err := os.MkdirAll(c.LogDir(), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(c.LogDir(), name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	abs, err := exec.LookPath(exe)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	if abs, err = filepath.Abs(abs); err != nil {
		return err
	}
	cmd := exec.Command(abs, args...)
	cmd.Dir = c.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "K8S_DIR="+c.Dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	s.Procs = append(s.Procs, proc{Name: name, PID: cmd.Process.Pid, Exe: abs})
	// Reap it if it exits while this process still runs; afterwards init
	// does.
	go func() { _ = cmd.Wait() }()
	return c.writeState(s)
}

// stop ends a recorded process: SIGTERM, then SIGKILL after grace.
func (p proc) stop(grace time.Duration) {
	if !p.alive() {
		return
	}
	_ = syscall.Kill(p.PID, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !p.alive() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	for i := 0; i < 50 && p.alive(); i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

// poll calls cond every interval until it returns nil, ctx ends or
// timeout passes; the error then names what was awaited and cond's last
// answer.
func poll(ctx context.Context, timeout, interval time.Duration, what string, cond func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if last = cond(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not within %s: %w", what, timeout, last)
		case <-t.C:
		}
	}
}

// run runs a command to completion and returns its combined output; the
// error carries the output's last lines.
func run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, tail(string(out), 5))
	}
	return string(out), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// errRunning is returned by Up while a cluster runs.
var errRunning = errors.New("a local cluster is running already")

// lock takes run/lock for the duration of Up or Down, so that two of them
// never interleave.
func (c *Cluster) lock() (func(), error) {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(c.path(".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another localk8s up or down is under way in %s (%s is locked)", c.Dir, f.Name())
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
