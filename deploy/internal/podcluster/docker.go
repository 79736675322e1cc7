package podcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// LabelRun marks everything a Cluster creates with its run id.
const LabelRun = "org.mysql-bootstrap.e2e"

// Images are the images a cluster runs. Nothing is ever pulled: they must
// exist locally (images/build.sh builds the defaults).
type Images struct {
	Server    string // E2E_SERVER_IMAGE: the MariaDB (or MySQL) server
	Bootstrap string // E2E_BOOTSTRAP_IMAGE: mysql-bootstrap, FROM scratch
	Pause     string // E2E_PAUSE_IMAGE: holds a pod's network namespace; needs bash
	Client    string // E2E_CLIENT_IMAGE: runs the mariadb (or mysql) client; default Server
}

// DefaultImages returns the images named by the E2E_*_IMAGE variables, or
// the ones images/build.sh builds (the server: DefaultServer).
func DefaultImages() Images {
	return DefaultImagesFor(envOrServer("E2E_SERVER_IMAGE", DefaultServer))
}

// DefaultImagesFor returns the images of a cluster running server: the
// E2E_BOOTSTRAP_IMAGE, E2E_PAUSE_IMAGE and E2E_CLIENT_IMAGE variables, or
// the ones images/build.sh builds (the client: the server's image).
func DefaultImagesFor(server Server) Images {
	return Images{
		Server:    server.Image,
		Bootstrap: envOr("E2E_BOOTSTRAP_IMAGE", "mysql-bootstrap:dev"),
		Pause:     envOr("E2E_PAUSE_IMAGE", "mysql-bootstrap/debian:bookworm"),
		Client:    envOr("E2E_CLIENT_IMAGE", server.Image),
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// NewDockerClient connects to the engine named by the usual DOCKER_*
// variables, negotiating the API version (Docker 20.10 speaks 1.41).
func NewDockerClient() (*client.Client, error) {
	return client.New(client.FromEnv, client.WithAPIVersionNegotiation())
}

// Available reports why the Docker engine cannot be used, or nil.
func Available(ctx context.Context) error {
	cli, err := NewDockerClient()
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("docker engine: %w", err)
	}
	return nil
}

// ImageCreated returns when the local image ref was built, or an error
// when it does not exist locally.
func ImageCreated(ctx context.Context, ref string) (time.Time, error) {
	cli, err := NewDockerClient()
	if err != nil {
		return time.Time{}, err
	}
	defer cli.Close()
	res, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		return time.Time{}, err
	}
	created, err := time.Parse(time.RFC3339Nano, res.Created)
	if err != nil {
		return time.Time{}, fmt.Errorf("image %s: created %q: %w", ref, res.Created, err)
	}
	return created, nil
}

// quietLogger keeps testcontainers' progress lines out of the test output.
var quietLogger = tclog.NewNoopLogger()

// Mount is a named volume mounted into a container.
type Mount struct {
	Volume   string
	Target   string
	ReadOnly bool
}

// Spec describes one container.
type Spec struct {
	Name       string
	Image      string
	Entrypoint []string
	Cmd        []string
	Env        map[string]string
	User       string
	GroupAdd   []string
	Hostname   string
	Mounts     []Mount
	Files      []testcontainers.ContainerFile // copied in before start
	// NetworkMode: "none", "container:<id>" or a network name, which must
	// then be Networks[0]: the one network with Aliases and IP; further
	// Networks are connected after creation, without aliases.
	NetworkMode string
	Networks    []string
	Aliases     []string
	IP          netip.Addr
	// Ports are published on 127.0.0.1, on random host ports.
	Ports []string
	// Restricted applies the manifest's securityContext: no capabilities,
	// no privilege escalation, read-only root.
	Restricted   bool
	ReadOnlyRoot bool
	StopTimeout  int
	// RestartAlways restarts the container when it exits, as the kubelet
	// does (restartPolicy: Always). Docker does not restart a container
	// that was stopped or killed through its API.
	RestartAlways bool
	Modify        func(*testcontainers.ContainerRequest) // last word
}

// start creates and starts a container; the cluster removes it at cleanup.
func (c *Cluster) start(ctx context.Context, s Spec) (string, error) {
	labels := map[string]string{LabelRun: c.RunID}
	req := testcontainers.ContainerRequest{
		Name:       s.Name,
		Image:      s.Image,
		Entrypoint: s.Entrypoint,
		Cmd:        s.Cmd,
		Env:        s.Env,
		Labels:     labels,
		Files:      s.Files,
		ConfigModifier: func(cfg *container.Config) {
			cfg.User = s.User
			cfg.Hostname = s.Hostname
			if s.StopTimeout > 0 {
				st := s.StopTimeout
				cfg.StopTimeout = &st
			}
		},
		Networks:     s.Networks,
		ExposedPorts: s.Ports,
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.NetworkMode = container.NetworkMode(s.NetworkMode)
			if len(s.Ports) > 0 {
				hc.PortBindings = network.PortMap{}
				for _, p := range s.Ports {
					hc.PortBindings[network.MustParsePort(p)] = []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1")}}
				}
			}
			hc.GroupAdd = s.GroupAdd
			if s.Restricted {
				hc.CapDrop = []string{"ALL"}
				hc.SecurityOpt = []string{"no-new-privileges:true"}
			}
			hc.ReadonlyRootfs = s.ReadOnlyRoot
			if s.RestartAlways {
				hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyAlways}
			}
		},
	}
	if len(s.Networks) > 0 {
		req.NetworkAliases = map[string][]string{s.Networks[0]: s.Aliases}
		req.EndpointSettingsModifier = func(eps map[string]*network.EndpointSettings) {
			if ep := eps[s.Networks[0]]; ep != nil && s.IP.IsValid() {
				ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: s.IP}
			}
		}
	}
	for _, m := range s.Mounts {
		req.Mounts = append(req.Mounts, testcontainers.ContainerMount{
			Source:   testcontainers.GenericVolumeMountSource{Name: m.Volume},
			Target:   testcontainers.ContainerMountTarget(m.Target),
			ReadOnly: m.ReadOnly,
		})
	}
	if s.Modify != nil {
		s.Modify(&req)
	}
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req,
		Started:          true,
		Logger:           quietLogger,
	})
	if ctr != nil && ctr.GetContainerID() != "" {
		c.track(ctr.GetContainerID(), s.Name)
	}
	if err != nil {
		return "", fmt.Errorf("start container %s (%s): %w", s.Name, s.Image, err)
	}
	return ctr.GetContainerID(), nil
}

// Result is the outcome of a container run to completion.
type Result struct {
	Code   int
	Stdout string
	Stderr string
}

// Output is stdout followed by stderr.
func (r Result) Output() string { return r.Stdout + r.Stderr }

// Run starts a container, waits at most timeout for it to exit, and
// returns its exit code and output. The container is removed afterwards.
func (c *Cluster) Run(ctx context.Context, timeout time.Duration, s Spec) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id, err := c.start(ctx, s)
	if err != nil {
		return Result{}, err
	}
	defer c.remove(id)
	code, err := c.wait(ctx, id)
	res := c.logs(id)
	res.Code = code
	if err != nil {
		return res, fmt.Errorf("%s did not exit within %s: %w\n%s", s.Name, timeout, err, res.Output())
	}
	return res, nil
}

// wait waits until container id has exited and returns its exit code.
func (c *Cluster) wait(ctx context.Context, id string) (int, error) {
	w := c.docker.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		if r.Error != nil && r.Error.Message != "" {
			return int(r.StatusCode), errors.New(r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-w.Error:
		return -1, err
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

// logs returns the container's stdout and stderr so far.
func (c *Cluster) logs(id string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rc, err := c.docker.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return Result{Stderr: fmt.Sprintf("(logs of %s: %v)", short(id), err)}
	}
	defer rc.Close()
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, rc); err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(&errb, "(logs of %s: %v)", short(id), err)
	}
	return Result{Stdout: out.String(), Stderr: errb.String()}
}

// inspect returns the container's state.
func (c *Cluster) inspect(ctx context.Context, id string) (container.InspectResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err := c.docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	return res.Container, err
}

// running reports whether container id is running.
func (c *Cluster) running(ctx context.Context, id string) (bool, error) {
	in, err := c.inspect(ctx, id)
	if err != nil {
		return false, err
	}
	return in.State != nil && in.State.Running, nil
}

// kill sends sig and waits for the container to stop.
func (c *Cluster) kill(ctx context.Context, id, sig string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := c.docker.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: sig}); err != nil {
		return fmt.Errorf("kill -%s %s: %w", sig, short(id), err)
	}
	_, err := c.wait(ctx, id)
	return err
}

// stop sends SIGTERM, then SIGKILL after grace, and returns the exit code.
func (c *Cluster) stop(ctx context.Context, id string, grace time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, grace+60*time.Second)
	defer cancel()
	secs := int(grace / time.Second)
	if _, err := c.docker.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return -1, fmt.Errorf("stop %s: %w", short(id), err)
	}
	in, err := c.inspect(ctx, id)
	if err != nil {
		return -1, err
	}
	return in.State.ExitCode, nil
}

// remove force-removes a container (SIGKILL if running) and its
// anonymous volumes.
func (c *Cluster) remove(id string) {
	if id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := c.docker.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		c.t.Logf("podcluster: remove container %s: %v", short(id), err)
	}
	c.untrack(id)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
