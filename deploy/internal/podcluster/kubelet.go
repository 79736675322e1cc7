package podcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// ServerProbe is the exec command of the server container's startup and
// liveness probes in deploy/kustomize/base/statefulset.yaml: it needs no
// password and not the sidecar (deploy/deploytest checks the manifest).
var ServerProbe = []string{Tool, "server-alive"}

// Exec runs cmd in the pod's init, server, backup or sidecar container, as
// the kubelet runs an exec probe, and returns its exit code and output.
func (p *Pod) Exec(ctx context.Context, which string, timeout time.Duration, cmd ...string) (Result, error) {
	id := p.containerID(which)
	if id == "" {
		return Result{}, fmt.Errorf("%s has no %s container", p.Name, which)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cli := p.c.docker
	ex, err := cli.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return Result{}, fmt.Errorf("exec in %s %s: %w", p.Name, which, err)
	}
	att, err := cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return Result{}, fmt.Errorf("exec in %s %s: %w", p.Name, which, err)
	}
	defer att.Close()
	var out, errb bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&out, &errb, att.Reader)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, io.EOF) {
			return Result{}, fmt.Errorf("exec in %s %s: %w", p.Name, which, err)
		}
	case <-ctx.Done():
		return Result{Stdout: out.String(), Stderr: errb.String()}, fmt.Errorf("exec in %s %s: %w", p.Name, which, ctx.Err())
	}
	in, err := cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil {
		return Result{}, fmt.Errorf("exec in %s %s: %w", p.Name, which, err)
	}
	return Result{Code: in.ExitCode, Stdout: out.String(), Stderr: errb.String()}, nil
}

// ServerStartedAt is when the server container last started (Docker's
// State.StartedAt): a restart, by Docker or by a liveness probe, changes it.
func (p *Pod) ServerStartedAt(ctx context.Context) (time.Time, error) {
	in, err := p.Inspect(ctx, "server")
	if err != nil {
		return time.Time{}, err
	}
	if in.StartedAt.IsZero() {
		return time.Time{}, fmt.Errorf("%s server: no start time", p.Name)
	}
	return in.StartedAt, nil
}

// Liveness runs a liveness probe on a container as the kubelet does.
type Liveness struct {
	Period    time.Duration
	Threshold int           // consecutive failures before a restart
	Timeout   time.Duration // of one probe
	Command   []string

	mu       sync.Mutex
	restarts int
	failures []string
	stop     context.CancelFunc
	done     chan struct{}
}

// Restarts is how many times the probe restarted the container.
func (l *Liveness) Restarts() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.restarts
}

// Failures are the outputs of the failed probes so far.
func (l *Liveness) Failures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.failures...)
}

// Stop ends the probing and waits for the prober to return.
func (l *Liveness) Stop() {
	l.stop()
	<-l.done
}

// WatchServer probes the server container with l until l.Stop, restarting
// it (docker restart, which keeps its volumes, as the kubelet keeps the
// pod's) after l.Threshold consecutive failures.
func (p *Pod) WatchServer(l *Liveness) *Liveness {
	ctx, cancel := context.WithCancel(context.Background())
	l.stop, l.done = cancel, make(chan struct{})
	if l.Timeout == 0 {
		l.Timeout = 5 * time.Second
	}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(l.Period)
		defer tick.Stop()
		failed := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			res, err := p.Exec(ctx, "server", l.Timeout, l.Command...)
			if ctx.Err() != nil {
				return
			}
			if err == nil && res.Code == 0 {
				failed = 0
				continue
			}
			failed++
			l.mu.Lock()
			l.failures = append(l.failures, fmt.Sprintf("exit %d %v: %s", res.Code, err, Tail(res.Output(), 2)))
			l.mu.Unlock()
			if failed < l.Threshold {
				continue
			}
			failed = 0
			id := p.containerID("server")
			secs := 10
			if _, err := p.c.docker.ContainerRestart(ctx, id, client.ContainerRestartOptions{Timeout: &secs}); err == nil {
				l.mu.Lock()
				l.restarts++
				l.mu.Unlock()
			}
		}
	}()
	return l
}
