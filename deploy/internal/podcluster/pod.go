package podcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

// Pod is one pod of the StatefulSet. Its volumes outlive its containers,
// as a PersistentVolumeClaim outlives the pods that use it.
type Pod struct {
	c       *Cluster
	Name    string
	Ordinal int

	ConfigVolume string
	DataVolume   string
	// StateVolume is STATE_DIR (the claim's subPath bootstrap), ToolsVolume
	// the pod's tools emptyDir.
	StateVolume string
	ToolsVolume string

	mu          sync.Mutex
	hostNet     string // per-pod network carrying the published ports
	incarnation int    // how many pause containers this pod has had
	seq         int    // container name counter
	ip          netip.Addr
	pause       string
	init        string
	server      string
	backup      string
	sidecar     string
}

// aliases are the pod's names on the cluster network: its stable name,
// and the Service's short and full names, which therefore list every pod
// (as the headless Service's records do, publishNotReadyAddresses on).
func (p *Pod) aliases() []string {
	o := p.c.opts
	return []string{p.Host(), o.Service, o.Service + "." + o.Namespace + ".svc.cluster.local"}
}

// Host is the pod's stable DNS name.
func (p *Pod) Host() string { return p.c.PodHost(p.Name) }

// ServerID is the server_id init derives for the pod (SERVER_ID_BASE 100).
func (p *Pod) ServerID() int { return 100 + p.Ordinal }

// BootstrapEnv is the environment of the pod's init and sidecar
// containers, as the manifest sets it.
func (p *Pod) BootstrapEnv() map[string]string {
	o := p.c.opts
	env := map[string]string{
		"POD_NAME":                  p.Name,
		"POD_NAMESPACE":             o.Namespace,
		"SERVICE_NAME":              o.Service,
		"FLAVOR":                    o.Flavor,
		"MYSQL_ROOT_PASSWORD_FILE":  RootPasswordFile,
		"REPLICATION_PASSWORD_FILE": ReplicationPasswordFile,
	}
	if o.TLS {
		env["REPLICATION_TLS_CA_FILE"] = TLSCAFile
	}
	return env
}

// slot is where the id of the pod's container which is kept; call with
// p.mu held.
func (p *Pod) slot(which string) *string {
	switch which {
	case "pause":
		return &p.pause
	case "init":
		return &p.init
	case "server":
		return &p.server
	case "backup":
		return &p.backup
	case "sidecar":
		return &p.sidecar
	}
	return nil
}

func (p *Pod) containerID(which string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id := p.slot(which); id != nil {
		return *id
	}
	return ""
}

// startContainer starts s in the pod's sandbox as its container which,
// replacing the one it had.
func (p *Pod) startContainer(ctx context.Context, which string, s Spec) error {
	s, err := p.inSandbox(s)
	if err != nil {
		return err
	}
	if old := p.containerID(which); old != "" {
		p.c.remove(old)
	}
	id, err := p.c.start(ctx, s)
	if err != nil {
		return err
	}
	p.mu.Lock()
	*p.slot(which) = id
	p.mu.Unlock()
	return nil
}

func (p *Pod) name(which string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	return fmt.Sprintf("%s-%s-%s-%d", p.c.RunID, p.Name, which, p.seq)
}

// Exists reports whether the pod has a sandbox (pause container).
func (p *Pod) Exists() bool { return p.containerID("pause") != "" }

// CreateSandbox starts a new pause container for the pod: a new
// incarnation with a new address under the same names.
func (p *Pod) CreateSandbox(ctx context.Context) error {
	c := p.c
	p.mu.Lock()
	if p.pause != "" {
		p.mu.Unlock()
		return fmt.Errorf("%s already has a sandbox", p.Name)
	}
	if p.incarnation >= 16 {
		p.mu.Unlock()
		return fmt.Errorf("%s: at most 16 incarnations", p.Name)
	}
	p.incarnation++
	// 16 addresses per ordinal, one per incarnation: a new pod never gets
	// an address an earlier one had.
	ip := c.addr(16 + 16*p.Ordinal + p.incarnation - 1)
	hostNet := p.hostNet
	p.mu.Unlock()

	if hostNet == "" {
		hostNet = c.RunID + "-" + p.Name + "-host"
		if _, err := c.docker.NetworkCreate(ctx, hostNet, client.NetworkCreateOptions{
			Driver: "bridge",
			Labels: map[string]string{LabelRun: c.RunID},
		}); err != nil {
			return fmt.Errorf("create network %s: %w", hostNet, err)
		}
		p.mu.Lock()
		p.hostNet = hostNet
		p.mu.Unlock()
	}
	id, err := c.start(ctx, Spec{
		Name:  p.name("pause"),
		Image: c.opts.Images.Pause,
		// Holds the namespace; exits on SIGTERM.
		Entrypoint:   []string{"bash", "-c", "trap 'exit 0' TERM INT; sleep infinity & wait"},
		User:         "65535:65535",
		Hostname:     p.Name,
		Restricted:   true,
		ReadOnlyRoot: true,
		NetworkMode:  c.Network,
		Networks:     []string{c.Network, hostNet},
		Aliases:      p.aliases(),
		IP:           ip,
		Ports:        []string{"3306/tcp", "8080/tcp"},
	})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.pause, p.ip = id, ip
	p.mu.Unlock()
	return nil
}

// IP is the pod's current address on the cluster network, as Docker
// reports it.
func (p *Pod) IP(ctx context.Context) (netip.Addr, error) {
	id := p.containerID("pause")
	if id == "" {
		return netip.Addr{}, fmt.Errorf("%s has no sandbox", p.Name)
	}
	in, err := p.c.inspect(ctx, id)
	if err != nil {
		return netip.Addr{}, err
	}
	if in.NetworkSettings == nil || in.NetworkSettings.Networks[p.c.Network] == nil {
		return netip.Addr{}, fmt.Errorf("%s is not on %s", p.Name, p.c.Network)
	}
	return in.NetworkSettings.Networks[p.c.Network].IPAddress, nil
}

// addr returns 127.0.0.1:<host port> for a published container port.
func (p *Pod) addr(ctx context.Context, port string) (string, error) {
	id := p.containerID("pause")
	if id == "" {
		return "", fmt.Errorf("%s has no sandbox", p.Name)
	}
	in, err := p.c.inspect(ctx, id)
	if err != nil {
		return "", err
	}
	if in.NetworkSettings != nil {
		for _, b := range in.NetworkSettings.Ports[network.MustParsePort(port)] {
			if b.HostPort != "" && b.HostPort != "0" {
				return net.JoinHostPort("127.0.0.1", b.HostPort), nil
			}
		}
	}
	return "", fmt.Errorf("%s: %s is not published", p.Name, port)
}

// MySQLAddr is the host address of the pod's port 3306.
func (p *Pod) MySQLAddr(ctx context.Context) (string, error) { return p.addr(ctx, "3306/tcp") }

// HTTPAddr is the host address of the sidecar's port 8080.
func (p *Pod) HTTPAddr(ctx context.Context) (string, error) { return p.addr(ctx, "8080/tcp") }

// InitSpec is the pod's init container as the manifest describes it,
// without a network: a test may change it and give it to Cluster.Run.
func (p *Pod) InitSpec() Spec {
	c := p.c
	return Spec{
		Name:         p.name("init"),
		Image:        c.opts.Images.Bootstrap,
		Cmd:          []string{"init"},
		Env:          withEnv(withEnv(p.BootstrapEnv(), map[string]string{"TOOLS_DIR": ToolsDir}), c.opts.InitEnv),
		User:         BootstrapUID + ":" + BootstrapUID,
		GroupAdd:     []string{ServerGID},
		Restricted:   true,
		ReadOnlyRoot: true,
		Mounts: []Mount{
			{Volume: p.ConfigVolume, Target: ConfigDir},
			{Volume: p.DataVolume, Target: DataDir},
			{Volume: p.ToolsVolume, Target: ToolsDir},
			c.CredentialsMount(),
		},
	}
}

// withEnv returns env with more added.
func withEnv(env, more map[string]string) map[string]string {
	for k, v := range more {
		env[k] = v
	}
	return env
}

// Seeding reports whether the pods have the MariaDB overlay's seeding
// layout: the server container starts through seed-exec and a backup
// container serves copies to peers. (MySQL seeds with its clone plugin
// and needs neither.)
func (c *Cluster) Seeding() bool { return c.opts.Flavor == "mariadb" }

func (p *Pod) inSandbox(s Spec) (Spec, error) {
	id := p.containerID("pause")
	if id == "" {
		return s, fmt.Errorf("%s has no sandbox", p.Name)
	}
	s.NetworkMode = "container:" + id
	return s, nil
}

// StartInit starts the init container in the background.
func (p *Pod) StartInit(ctx context.Context) error {
	return p.startContainer(ctx, "init", p.InitSpec())
}

// InitRunning reports whether the init container is still running.
func (p *Pod) InitRunning(ctx context.Context) (bool, error) {
	id := p.containerID("init")
	if id == "" {
		return false, fmt.Errorf("%s has no init container", p.Name)
	}
	return p.c.running(ctx, id)
}

// WaitInit waits at most timeout for the init container to exit.
func (p *Pod) WaitInit(ctx context.Context, timeout time.Duration) (Result, error) {
	id := p.containerID("init")
	if id == "" {
		return Result{}, fmt.Errorf("%s has no init container", p.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	code, err := p.c.wait(ctx, id)
	res := p.c.logs(id)
	res.Code = code
	if err != nil {
		return res, fmt.Errorf("init of %s did not finish within %s: %w\n%s", p.Name, timeout, err, res.Output())
	}
	return res, nil
}

// RunInit runs the init container to completion and requires exit 0.
func (p *Pod) RunInit(ctx context.Context, timeout time.Duration) (Result, error) {
	if err := p.StartInit(ctx); err != nil {
		return Result{}, err
	}
	res, err := p.WaitInit(ctx, timeout)
	if err == nil && res.Code != 0 {
		err = fmt.Errorf("init of %s exited %d:\n%s", p.Name, res.Code, res.Output())
	}
	return res, err
}

// ServerSpec is the pod's server container as the manifest describes it:
// restarted when it exits (the sidecar shuts the server down after a
// copy), and on MariaDB started through seed-exec.
func (p *Pod) ServerSpec() Spec {
	c := p.c
	env := map[string]string{
		// Both names: the mariadb images read either, mysql the second.
		// No MARIADB_DATABASE/MARIADB_USER: see the manifest. Nothing else:
		// the image's first start does what it does by default (the mysql
		// image loads its time zone tables with binary logging on).
		"MARIADB_ROOT_PASSWORD_FILE": RootPasswordFile,
		"MYSQL_ROOT_PASSWORD_FILE":   RootPasswordFile,
	}
	for k, v := range c.opts.ServerEnv {
		env[k] = v
	}
	s := Spec{
		Name:          p.name("server"),
		Image:         c.opts.Images.Server,
		Env:           env,
		User:          ServerUID + ":" + ServerGID,
		Restricted:    true,
		StopTimeout:   60,
		RestartAlways: true,
		Mounts: []Mount{
			{Volume: p.ConfigVolume, Target: ConfigDir},
			{Volume: p.DataVolume, Target: DataDir},
			{Volume: p.ToolsVolume, Target: ToolsDir, ReadOnly: true},
			c.CredentialsMount(),
		},
	}
	if c.opts.TLS {
		// The manifests put these in a configuration file; arguments do
		// the same here without another volume.
		s.Cmd = []string{"mysqld", "--ssl-ca=" + TLSCAFile, "--ssl-cert=" + TLSCertFile, "--ssl-key=" + TLSKeyFile}
		if c.opts.Flavor == "mariadb" {
			s.Cmd[0] = "mariadbd"
		}
		s.Env["REPLICATION_TLS_CA_FILE"] = TLSCAFile
	}
	if c.Seeding() {
		// seed-exec restores a copy the sidecar asked for (in STATE_DIR),
		// then execs the image's entrypoint.
		s.Entrypoint = []string{Tool, "seed-exec", "--", "docker-entrypoint.sh"}
		if s.Cmd == nil {
			s.Cmd = []string{"mariadbd"}
		}
		s.Env["REPLICATION_PASSWORD_FILE"] = ReplicationPasswordFile
		// It accepts only a donor under its StatefulSet's stable names: a
		// kubelet's hosts file names the Service and namespace, Docker's
		// does not.
		s.Env["SERVICE_NAME"], s.Env["POD_NAMESPACE"] = c.opts.Service, c.opts.Namespace
		s.Mounts = append(s.Mounts, Mount{Volume: p.StateVolume, Target: StateDir})
	}
	return s
}

// StartServer starts the server container.
func (p *Pod) StartServer(ctx context.Context) error {
	return p.startContainer(ctx, "server", p.ServerSpec())
}

// StartBackup starts the backup container of the MariaDB layout: the
// server image running backup-server from the tools volume, with the data
// volume at the server's path.
func (p *Pod) StartBackup(ctx context.Context) error {
	c := p.c
	env := map[string]string{"BACKUP_ADDR": ":" + BackupPort}
	if c.opts.TLS {
		// With a CA the stream is served over TLS with the server's own
		// certificate.
		env["SEED_TLS_CERT_FILE"], env["SEED_TLS_KEY_FILE"] = TLSCertFile, TLSKeyFile
	}
	return p.startContainer(ctx, "backup", Spec{
		Name:        p.name("backup"),
		Image:       c.opts.Images.Server,
		Entrypoint:  []string{Tool, "backup-server"},
		Env:         withEnv(p.BootstrapEnv(), env),
		User:        ServerUID + ":" + ServerGID,
		Restricted:  true,
		StopTimeout: 10,
		Mounts: []Mount{
			{Volume: p.DataVolume, Target: DataDir, ReadOnly: true},
			{Volume: p.ToolsVolume, Target: ToolsDir, ReadOnly: true},
			c.CredentialsMount(),
		},
	})
}

// StartSidecar starts the sidecar container.
func (p *Pod) StartSidecar(ctx context.Context) error {
	c := p.c
	env := p.BootstrapEnv()
	env["WAIT_TIMEOUT"] = "30m"
	for k, v := range c.opts.SidecarEnv {
		env[k] = v
	}
	return p.startContainer(ctx, "sidecar", Spec{
		Name:         p.name("sidecar"),
		Image:        c.opts.Images.Bootstrap,
		Cmd:          []string{"sidecar"},
		Env:          env,
		User:         BootstrapUID + ":" + BootstrapUID,
		GroupAdd:     []string{ServerGID},
		Restricted:   true,
		ReadOnlyRoot: true,
		Mounts:       []Mount{{Volume: p.StateVolume, Target: StateDir}, c.CredentialsMount()},
	})
}

// Start creates the pod: sandbox, init to completion (exit 0 required),
// then server and sidecar. It does not wait for readiness.
func (p *Pod) Start(ctx context.Context) error {
	if err := p.CreateSandbox(ctx); err != nil {
		return err
	}
	return p.StartAfterSandbox(ctx)
}

// StartAfterSandbox runs init to completion in the existing sandbox, then
// starts the server and the sidecar.
func (p *Pod) StartAfterSandbox(ctx context.Context) error {
	if _, err := p.RunInit(ctx, 15*time.Minute); err != nil {
		return err
	}
	return p.StartMain(ctx)
}

// StartMain starts the server, the backup container of the MariaDB
// layout and the sidecar (init has succeeded).
func (p *Pod) StartMain(ctx context.Context) error {
	if err := p.StartServer(ctx); err != nil {
		return err
	}
	if p.c.Seeding() {
		if err := p.StartBackup(ctx); err != nil {
			return err
		}
	}
	return p.StartSidecar(ctx)
}

// KillServer sends SIGKILL to the server container and waits until it is
// gone.
func (p *Pod) KillServer(ctx context.Context) error {
	id := p.containerID("server")
	if id == "" {
		return fmt.Errorf("%s has no server", p.Name)
	}
	return p.c.kill(ctx, id, "KILL")
}

// KillSidecar SIGKILLs the sidecar, as an OOM kill would, and removes it.
func (p *Pod) KillSidecar(ctx context.Context) error {
	id := p.containerID("sidecar")
	if id == "" {
		return fmt.Errorf("%s has no sidecar", p.Name)
	}
	if err := p.c.kill(ctx, id, "KILL"); err != nil {
		return err
	}
	p.c.remove(id)
	p.mu.Lock()
	p.sidecar = ""
	p.mu.Unlock()
	return nil
}

// StopSidecar sends SIGTERM to the sidecar (SIGKILL after grace) and
// returns its exit code and output; the container is then removed.
func (p *Pod) StopSidecar(ctx context.Context, grace time.Duration) (Result, error) {
	id := p.containerID("sidecar")
	if id == "" {
		return Result{}, fmt.Errorf("%s has no sidecar", p.Name)
	}
	code, err := p.c.stop(ctx, id, grace)
	res := p.c.logs(id)
	res.Code = code
	if err != nil {
		return res, err
	}
	p.c.remove(id)
	p.mu.Lock()
	p.sidecar = ""
	p.mu.Unlock()
	return res, nil
}

// RemoveContainers force-removes the init, server and sidecar containers
// (SIGKILL if running), keeping the sandbox and the volumes.
func (p *Pod) RemoveContainers() {
	p.mu.Lock()
	ids := []string{p.sidecar, p.backup, p.server, p.init}
	p.sidecar, p.backup, p.server, p.init = "", "", "", ""
	p.mu.Unlock()
	for _, id := range ids {
		p.c.remove(id)
	}
}

// Remove deletes the pod as a dead node would: every container is
// SIGKILLed and removed. The volumes stay.
func (p *Pod) Remove() {
	p.RemoveContainers()
	p.mu.Lock()
	id := p.pause
	p.pause, p.ip = "", netip.Addr{}
	p.mu.Unlock()
	p.c.remove(id)
}

// Disconnect cuts the pod off the cluster network. Its published ports
// stay reachable from the host: they live on the pod's host network.
func (p *Pod) Disconnect(ctx context.Context) error {
	id := p.containerID("pause")
	if id == "" {
		return fmt.Errorf("%s has no sandbox", p.Name)
	}
	_, err := p.c.docker.NetworkDisconnect(ctx, p.c.Network, client.NetworkDisconnectOptions{Container: id})
	return err
}

// Reconnect puts the pod back on the cluster network with its address and
// aliases.
func (p *Pod) Reconnect(ctx context.Context) error {
	p.mu.Lock()
	id, ip := p.pause, p.ip
	p.mu.Unlock()
	if id == "" {
		return fmt.Errorf("%s has no sandbox", p.Name)
	}
	_, err := p.c.docker.NetworkConnect(ctx, p.c.Network, client.NetworkConnectOptions{
		Container: id,
		EndpointConfig: &network.EndpointSettings{
			IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip},
			Aliases:    p.aliases(),
		},
	})
	return err
}

// Logs returns the output of the pod's init, server or sidecar container.
func (p *Pod) Logs(which string) Result {
	id := p.containerID(which)
	if id == "" {
		return Result{Stderr: fmt.Sprintf("(%s has no %s container)", p.Name, which)}
	}
	return p.c.logs(id)
}

// Inspect returns Docker's view of the pod's init, server, sidecar or
// pause container.
func (p *Pod) Inspect(ctx context.Context, which string) (*ContainerInfo, error) {
	id := p.containerID(which)
	if id == "" {
		return nil, fmt.Errorf("%s has no %s container", p.Name, which)
	}
	in, err := p.c.inspect(ctx, id)
	if err != nil {
		return nil, err
	}
	info := &ContainerInfo{ID: in.ID, Name: in.Name, Args: in.Args}
	if in.Config != nil {
		info.Env, info.Cmd, info.Entrypoint = in.Config.Env, in.Config.Cmd, in.Config.Entrypoint
	}
	if in.State != nil {
		info.Running, info.ExitCode = in.State.Running, in.State.ExitCode
		info.StartedAt, _ = time.Parse(time.RFC3339Nano, in.State.StartedAt)
	}
	return info, nil
}

// ContainerInfo is the part of docker inspect the tests look at.
type ContainerInfo struct {
	ID, Name string
	Running  bool
	ExitCode int
	// StartedAt is when the container last started (zero if unknown).
	StartedAt            time.Time
	Env, Cmd, Entrypoint []string
	Args                 []string
}

var httpClient = &http.Client{Timeout: 3 * time.Second}

// Get fetches path from the sidecar through the published port.
func (p *Pod) Get(ctx context.Context, path string) (int, string, error) {
	addr, err := p.HTTPAddr(ctx)
	if err != nil {
		return 0, "", err
	}
	return HTTPGet(ctx, addr, path)
}

// HTTPGet fetches http://addr/path (a published sidecar port), returning
// the status code and at most 1 MiB of body. Callers that poll fast look the
// address up once and call this, instead of asking Docker every time.
func HTTPGet(ctx context.Context, addr, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}

// Ready returns nil when /readyz answers 200, else what it said.
func (p *Pod) Ready(ctx context.Context) error {
	code, body, err := p.Get(ctx, "/readyz")
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("/readyz %d: %s", code, body)
	}
	return nil
}

// Status is the sidecar's /status.
type Status struct {
	Pod         string             `json:"pod"`
	Role        string             `json:"role"`
	ServerID    int                `json:"serverId"`
	ServerUp    bool               `json:"serverUp"`
	Flavor      string             `json:"flavor"`
	ReadOnly    bool               `json:"readOnly"`
	Ready       bool               `json:"ready"`
	Reason      string             `json:"reason"`
	Replication *ReplicationStatus `json:"replication"`
	Seed        *SeedStatus        `json:"seed"`
	// ServerStartedAt is when the server started, LastReconcile when the
	// sidecar last looked.
	ServerStartedAt time.Time `json:"serverStartedAt"`
	LastReconcile   time.Time `json:"lastReconcile"`
}

// SeedStatus is the copy part of /status: a copy of a donor's data into
// the pod, under way, waiting or failed.
type SeedStatus struct {
	State    string `json:"state"`
	Donor    string `json:"donor"`
	Phase    string `json:"phase"`
	Bytes    int64  `json:"bytes"`
	Estimate int64  `json:"estimate"`
	Error    string `json:"error"`
	Seeds    uint64 `json:"seeds"`
}

// ReplicationStatus is the replication part of /status.
type ReplicationStatus struct {
	Configured bool   `json:"configured"`
	SourceHost string `json:"sourceHost"`
	IOState    string `json:"ioState"`
	IORunning  bool   `json:"ioRunning"`
	SQLRunning bool   `json:"sqlRunning"`
	LagSeconds *int64 `json:"lagSeconds"`
	// StalenessSeconds: how old the replica's data may be (readiness).
	StalenessSeconds *int64 `json:"stalenessSeconds"`
	LastError        string `json:"lastError"`
	ErrantGTIDs      string `json:"errantGtids"`
	Changes          uint64 `json:"changes"`
	Restarts         uint64 `json:"restarts"`
}

// Status fetches and decodes /status.
func (p *Pod) Status(ctx context.Context) (Status, error) {
	var st Status
	code, body, err := p.Get(ctx, "/status")
	if err != nil {
		return st, err
	}
	if code != http.StatusOK {
		return st, fmt.Errorf("/status %d: %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return st, fmt.Errorf("/status: %v: %s", err, body)
	}
	return st, nil
}

// WaitReady polls /readyz until it answers 200, for at most timeout.
func (p *Pod) WaitReady(ctx context.Context, timeout time.Duration) error {
	return testkit.Eventually(ctx, timeout, p.Name+" /readyz 200", func(ctx context.Context) error { return p.Ready(ctx) })
}

// LimitCPU caps p's container which ("server", "backup", …) at cpus of a
// core from now on (0: no cap), as `docker update --cpu-quota` does: the
// tests slow a donor down with it, so that a copy is still under way when
// they act on it.
func (p *Pod) LimitCPU(ctx context.Context, which string, cpus float64) error {
	id := p.containerID(which)
	if id == "" {
		return fmt.Errorf("%s has no %s container", p.Name, which)
	}
	const period = 100_000 // µs
	quota := int64(-1)     // no cap
	if cpus > 0 {
		quota = max(int64(cpus*period), 1000) // the kernel's least quota is 1 ms
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err := p.c.docker.ContainerUpdate(ctx, id, client.ContainerUpdateOptions{
		Resources: &container.Resources{CPUPeriod: period, CPUQuota: quota},
	})
	if err != nil {
		return fmt.Errorf("%s: limit the %s container to %g CPU: %w", p.Name, which, cpus, err)
	}
	return nil
}
