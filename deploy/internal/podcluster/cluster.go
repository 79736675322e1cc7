package podcluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testtls"
)

// Paths inside the containers, as in deploy/kustomize/base/statefulset.yaml.
const (
	CredentialsDir = "/etc/mysql-credentials"
	ConfigDir      = "/etc/mysql/conf.d"
	DataDir        = "/var/lib/mysql"
	ConfigFile     = "50-mysql-bootstrap.cnf"
	// StateDir is the sidecar's STATE_DIR: in the manifest, the data
	// claim's subPath bootstrap (Docker 20.10 has no volume subpaths, so
	// here the claim is two volumes, wiped together).
	StateDir = "/var/lib/mysql-bootstrap"
	// ToolsDir is the pod's emptyDir into which init copies
	// mysql-bootstrap, for the server-container probes and, on MariaDB,
	// seed-exec and backup-server in the server image.
	ToolsDir = "/tools"
	// Tool is mysql-bootstrap as the server image runs it.
	Tool = ToolsDir + "/mysql-bootstrap"
	// BackupPort is where backup-server serves copies (BACKUP_ADDR).
	BackupPort = "8081"

	// RootPasswordFile and ReplicationPasswordFile are the Secret's keys.
	RootPasswordFile        = CredentialsDir + "/root-password"
	ReplicationPasswordFile = CredentialsDir + "/replication-password"
	// UnreadableFile exists but only root may read it (mode 0400 root:root).
	UnreadableFile = CredentialsDir + "/unreadable"
	// TLSCAFile, TLSCertFile and TLSKeyFile are, with Options.TLS, a CA
	// and one server certificate naming every pod's stable DNS name, with
	// its key (the layout of a cert-manager Secret).
	TLSCAFile   = CredentialsDir + "/ca.crt"
	TLSCertFile = CredentialsDir + "/tls.crt"
	TLSKeyFile  = CredentialsDir + "/tls.key"
	// ClientConfigFile is a [client] option file for the app user, for
	// client containers (no password in their arguments either).
	ClientConfigFile = CredentialsDir + "/app-client.cnf"

	// AppUser is the application account tests create on the primary: it
	// holds no global privilege, so read_only applies to it.
	AppUser = "app"
	// AppDatabase is the database the app user owns.
	AppDatabase = "e2e"

	// BootstrapUID and ServerUID are the manifest's runAsUser values; the
	// pod's fsGroup is ServerGID.
	BootstrapUID = "65532"
	ServerUID    = "999"
	ServerGID    = "999"
)

// Options describe the StatefulSet.
type Options struct {
	Images      Images
	Pods        int    // pods mysql-0 .. mysql-(Pods-1) get volumes (at most 10)
	StatefulSet string // default "mysql"
	Service     string // default "mysql"
	Namespace   string // default "default"
	Flavor      string // FLAVOR of init and sidecar, default "auto"
	// SidecarEnv is added to the sidecar's environment (for instance a
	// shorter RECONCILE_INTERVAL than the default 5s).
	SidecarEnv map[string]string
	// InitEnv is added to the init container's environment (for instance
	// INIT_WAIT_FOR_PRIMARY).
	InitEnv map[string]string
	// ServerEnv is added to the server container's environment. Without it
	// the server image runs its defaults, as in the manifests (only the root
	// password file is set).
	ServerEnv map[string]string
	// TLS runs everything over verified TLS: the servers with the CA and
	// certificate above (ssl_ca, ssl_cert, ssl_key), and the init, sidecar,
	// backup and seed-exec containers with REPLICATION_TLS_CA_FILE. It
	// needs Flavor mysql or mariadb (the server's binary is named).
	TLS bool
}

// Cluster is one StatefulSet's worth of Docker objects.
type Cluster struct {
	t      testing.TB
	opts   Options
	docker *client.Client

	// RunID prefixes every name and labels every object.
	RunID string
	// Network is the cluster network's name; Subnet its /24.
	Network string
	Subnet  netip.Prefix

	RootPassword        string
	ReplicationPassword string
	AppPassword         string

	credentials string // volume

	mu         sync.Mutex
	containers map[string]string // id -> name, still present
	pods       []*Pod
	nextClient int
}

var quietOnce sync.Once

// New creates the cluster network, the credentials volume and the pods'
// volumes (owned as the kubelet would with fsGroup 999). Everything is
// removed when t ends.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Images == (Images{}) {
		opts.Images = DefaultImages()
	}
	if opts.StatefulSet == "" {
		opts.StatefulSet = "mysql"
	}
	if opts.Service == "" {
		opts.Service = "mysql"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Flavor == "" {
		opts.Flavor = "auto"
	}
	if opts.Pods > 10 {
		t.Fatalf("podcluster: at most 10 pods, got %d", opts.Pods)
	}
	if opts.TLS && opts.Flavor != "mysql" && opts.Flavor != "mariadb" {
		t.Fatalf("podcluster: TLS needs Flavor mysql or mariadb, got %q", opts.Flavor)
	}
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") != "true" {
		// Nothing may be pulled here, the reaper image included; every
		// object is removed by the cleanup below instead. (Not t.Setenv:
		// callers run in parallel.)
		_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	// testcontainers' banner and progress lines say nothing the test
	// output needs.
	quietOnce.Do(func() { tclog.SetDefault(quietLogger) })
	cli, err := NewDockerClient()
	if err != nil {
		t.Fatalf("podcluster: docker client: %v", err)
	}
	c := &Cluster{
		t:                   t,
		opts:                opts,
		docker:              cli,
		RunID:               "e2e-" + randHex(4),
		RootPassword:        `root-'"\-` + randHex(8),
		ReplicationPassword: `repl-'"\-` + randHex(8),
		AppPassword:         "app-" + randHex(8),
		containers:          map[string]string{},
	}
	t.Cleanup(c.cleanup)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.createNetwork(ctx); err != nil {
		t.Fatalf("podcluster: %v", err)
	}
	c.credentials = c.RunID + "-credentials"
	vols := []string{c.credentials}
	for i := 0; i < opts.Pods; i++ {
		p := &Pod{c: c, Name: fmt.Sprintf("%s-%d", opts.StatefulSet, i), Ordinal: i}
		p.ConfigVolume = c.RunID + "-" + p.Name + "-config"
		p.DataVolume = c.RunID + "-" + p.Name + "-data"
		p.StateVolume = c.RunID + "-" + p.Name + "-state"
		p.ToolsVolume = c.RunID + "-" + p.Name + "-tools"
		c.pods = append(c.pods, p)
		vols = append(vols, p.ConfigVolume, p.DataVolume, p.StateVolume, p.ToolsVolume)
	}
	for _, v := range vols {
		if _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: v, Labels: map[string]string{LabelRun: c.RunID}}); err != nil {
			t.Fatalf("podcluster: create volume %s: %v", v, err)
		}
	}
	if err := c.prepareVolumes(ctx); err != nil {
		t.Fatalf("podcluster: %v", err)
	}
	return c
}

// Options returns the cluster's options, defaults filled in.
func (c *Cluster) Options() Options { return c.opts }

// Pod returns pod mysql-<ordinal>.
func (c *Cluster) Pod(ordinal int) *Pod {
	c.t.Helper()
	if ordinal < 0 || ordinal >= len(c.pods) {
		c.t.Fatalf("podcluster: no pod with ordinal %d (cluster has %d)", ordinal, len(c.pods))
	}
	return c.pods[ordinal]
}

// Pods returns every pod slot, started or not.
func (c *Cluster) Pods() []*Pod { return append([]*Pod(nil), c.pods...) }

// PodHost is the stable DNS name of pod.
func (c *Cluster) PodHost(pod string) string {
	return pod + "." + c.opts.Service + "." + c.opts.Namespace + ".svc.cluster.local"
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// createNetwork creates the internal cluster network on a random, free
// 10.x.y.0/24, so that every pod incarnation can be given an explicit
// address that no earlier one had.
func (c *Cluster) createNetwork(ctx context.Context) error {
	c.Network = c.RunID + "-cluster"
	var lastErr error
	for attempt := 0; attempt < 8; attempt++ {
		x, _ := rand.Int(rand.Reader, big.NewInt(54))
		y, _ := rand.Int(rand.Reader, big.NewInt(256))
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(200 + x.Int64()), byte(y.Int64()), 0}), 24)
		_, err := c.docker.NetworkCreate(ctx, c.Network, client.NetworkCreateOptions{
			Driver: "bridge",
			// Internal: no route out and no port publishing through it; the
			// published ports live on each pod's own host network, which
			// also provides the default route.
			Internal: true,
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{
				Subnet:  subnet,
				Gateway: subnet.Addr().Next(),
			}}},
			Labels: map[string]string{LabelRun: c.RunID},
		})
		if err == nil {
			c.Subnet = subnet
			return nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "overlap") {
			break
		}
	}
	return fmt.Errorf("create network %s: %w", c.Network, lastErr)
}

// addr returns host number n of the cluster subnet.
func (c *Cluster) addr(n int) netip.Addr {
	b := c.Subnet.Addr().As4()
	b[3] = byte(n)
	return netip.AddrFrom4(b)
}

// prepareVolumes does what the kubelet does before the pods start: the
// credentials Secret as 0440 root:999 files, the config emptyDir and the
// data claim group-owned by the fsGroup.
func (c *Cluster) prepareVolumes(ctx context.Context) error {
	clientCnf := fmt.Sprintf("[client]\nuser=%s\npassword=%s\n", AppUser, c.AppPassword)
	files := []testcontainers.ContainerFile{
		{Reader: strings.NewReader(c.RootPassword + "\n"), ContainerFilePath: "/staging/root-password", FileMode: 0o600},
		{Reader: strings.NewReader(c.ReplicationPassword + "\n"), ContainerFilePath: "/staging/replication-password", FileMode: 0o600},
		{Reader: strings.NewReader(clientCnf), ContainerFilePath: "/staging/app-client.cnf", FileMode: 0o600},
		{Reader: strings.NewReader("nobody may read this\n"), ContainerFilePath: "/staging/unreadable", FileMode: 0o600},
	}
	secretFiles := "root-password replication-password app-client.cnf"
	if c.opts.TLS {
		tlsFiles, err := c.tlsFiles()
		if err != nil {
			return err
		}
		files = append(files, tlsFiles...)
		secretFiles += " ca.crt tls.crt tls.key"
	}
	script := `set -eu
install -d -o 0 -g 999 -m 0750 /credentials
for f in ` + secretFiles + `; do
	install -o 0 -g 999 -m 0440 "/staging/$f" "/credentials/$f"
done
install -o 0 -g 0 -m 0400 /staging/unreadable /credentials/unreadable
for d in /pods/*/config /pods/*/tools; do chown 0:999 "$d"; chmod 2775 "$d"; done
for d in /pods/*/data /pods/*/state; do chown 999:999 "$d"; chmod 2770 "$d"; done
`
	mounts := []Mount{{Volume: c.credentials, Target: "/credentials"}}
	for _, p := range c.pods {
		mounts = append(mounts,
			Mount{Volume: p.ConfigVolume, Target: "/pods/" + p.Name + "/config"},
			Mount{Volume: p.DataVolume, Target: "/pods/" + p.Name + "/data"},
			Mount{Volume: p.StateVolume, Target: "/pods/" + p.Name + "/state"},
			Mount{Volume: p.ToolsVolume, Target: "/pods/" + p.Name + "/tools"})
	}
	res, err := c.Run(ctx, time.Minute, Spec{
		Name:        c.RunID + "-volume-setup",
		Image:       c.opts.Images.Pause,
		Entrypoint:  []string{"bash", "-c", script},
		User:        "0:0",
		Mounts:      mounts,
		Files:       files,
		NetworkMode: "none",
	})
	if err != nil {
		return fmt.Errorf("volume setup: %w", err)
	}
	if res.Code != 0 {
		return fmt.Errorf("volume setup exited %d: %s", res.Code, res.Output())
	}
	return nil
}

// RunAsRoot runs script with bash as root in the pause image with the
// given volumes mounted and no network, and returns its stdout; a
// non-zero exit is an error.
func (c *Cluster) RunAsRoot(ctx context.Context, script string, mounts ...Mount) (string, error) {
	c.mu.Lock()
	c.nextClient++
	n := c.nextClient
	c.mu.Unlock()
	res, err := c.Run(ctx, time.Minute, Spec{
		Name:        fmt.Sprintf("%s-shell-%d", c.RunID, n),
		Image:       c.opts.Images.Pause,
		Entrypoint:  []string{"bash", "-c", script},
		User:        "0:0",
		Mounts:      mounts,
		NetworkMode: "none",
	})
	if err != nil {
		return "", err
	}
	if res.Code != 0 {
		return "", fmt.Errorf("script exited %d: %s", res.Code, res.Output())
	}
	return res.Stdout, nil
}

// tlsFiles makes the CA and the pods' certificate (Options.TLS) for the
// credentials volume.
func (c *Cluster) tlsFiles() ([]testcontainers.ContainerFile, error) {
	ca := testtls.NewCA(c.t)
	names := make([]string, 0, len(c.pods))
	for _, p := range c.pods {
		names = append(names, p.Host())
	}
	cert, key := ca.Issue(c.t, "tls", names...)
	var out []testcontainers.ContainerFile
	for name, path := range map[string]string{"ca.crt": ca.CertFile, "tls.crt": cert, "tls.key": key} {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("TLS files: %w", err)
		}
		out = append(out, testcontainers.ContainerFile{Reader: bytes.NewReader(b), ContainerFilePath: "/staging/" + name, FileMode: 0o600})
	}
	return out, nil
}

// CredentialsMount mounts the credentials read-only at CredentialsDir.
func (c *Cluster) CredentialsMount() Mount {
	return Mount{Volume: c.credentials, Target: CredentialsDir, ReadOnly: true}
}

// RunClient runs script with bash in the client image on the cluster
// network (with its own address, above every pod's) and the credentials
// at CredentialsDir, and waits at most timeout for it to finish.
func (c *Cluster) RunClient(ctx context.Context, timeout time.Duration, script string, env map[string]string) (Result, error) {
	c.mu.Lock()
	c.nextClient++
	n := c.nextClient
	c.mu.Unlock()
	// Above every pod address (16..175): glibc sorts getaddrinfo answers by
	// the longest prefix shared with the source address (RFC 6724 rule 9),
	// and .2xx shares the same 24 bits with every pod, so the DNS server's
	// rotating order is what the client uses, as with a real headless
	// Service.
	ip := c.addr(200 + n%50)
	return c.Run(ctx, timeout, Spec{
		Name:        fmt.Sprintf("%s-client-%d", c.RunID, n),
		Image:       c.opts.Images.Client,
		Entrypoint:  []string{"bash", "-c", script},
		Env:         env,
		Mounts:      []Mount{c.CredentialsMount()},
		NetworkMode: c.Network,
		Networks:    []string{c.Network},
		IP:          ip,
	})
}

func (c *Cluster) track(id, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.containers[id] = name
}

func (c *Cluster) untrack(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.containers, id)
}

// DumpLogs logs the tail of every pod container's output.
func (c *Cluster) DumpLogs(lines int) {
	for _, p := range c.pods {
		for _, which := range []string{"init", "server", "backup", "sidecar"} {
			id := p.containerID(which)
			if id == "" {
				continue
			}
			c.t.Logf("--- %s %s (%s):\n%s", p.Name, which, short(id), Tail(c.logs(id).Output(), lines))
		}
	}
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// cleanup removes every container, network and volume of the run, on
// success and on failure.
func (c *Cluster) cleanup() {
	// E2E_DUMP_LOGS=<lines> shows the pods' logs after a passing run too.
	if n, err := strconv.Atoi(os.Getenv("E2E_DUMP_LOGS")); err == nil && n > 0 {
		c.DumpLogs(n)
	} else if c.t.Failed() {
		c.DumpLogs(40)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	label := make(client.Filters).Add("label", LabelRun+"="+c.RunID)
	var errs []string
	if list, err := c.docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: label}); err != nil {
		errs = append(errs, fmt.Sprintf("list containers: %v", err))
	} else {
		// Pod members first, pause containers last (others join their
		// network namespace).
		sort.SliceStable(list.Items, func(i, j int) bool {
			return !strings.Contains(strings.Join(list.Items[i].Names, ","), "-pause-") &&
				strings.Contains(strings.Join(list.Items[j].Names, ","), "-pause-")
		})
		for _, ctr := range list.Items {
			if _, err := c.docker.ContainerRemove(ctx, ctr.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Sprintf("remove container %s: %v", short(ctr.ID), err))
			}
		}
	}
	if list, err := c.docker.NetworkList(ctx, client.NetworkListOptions{Filters: label}); err != nil {
		errs = append(errs, fmt.Sprintf("list networks: %v", err))
	} else {
		for _, n := range list.Items {
			if _, err := c.docker.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Sprintf("remove network %s: %v", n.Name, err))
			}
		}
	}
	if list, err := c.docker.VolumeList(ctx, client.VolumeListOptions{Filters: label}); err != nil {
		errs = append(errs, fmt.Sprintf("list volumes: %v", err))
	} else {
		for _, v := range list.Items {
			if _, err := c.docker.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Sprintf("remove volume %s: %v", v.Name, err))
			}
		}
	}
	_ = c.docker.Close()
	if len(errs) > 0 {
		c.t.Errorf("podcluster: cleanup of %s left things behind: %s", c.RunID, strings.Join(errs, "; "))
	}
}
