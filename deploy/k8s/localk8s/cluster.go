package localk8s

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The cluster's fixed shape: one node whose address is the gateway of its
// own pod bridge, so nothing depends on the machine's network.
const (
	// Version is the Kubernetes release deploy/k8s/build/kubernetes builds.
	Version = "v1.34.4"
	// NodeName is the one node's name.
	NodeName = "localk8s"
	// Bridge is the pods' bridge; NodeIP, its address, is the node's.
	Bridge = "mbk8s0"
	NodeIP = "10.244.0.1"
	// PodSubnet is the node's pod range (the controller-manager hands the
	// node the first /24 of ClusterCIDR).
	PodSubnet   = "10.244.0.0/24"
	ClusterCIDR = "10.244.0.0/16"
	// ServiceCIDR holds the Services' cluster IPs: the API server's
	// Service is its first address, CoreDNS's is DNSServiceIP.
	ServiceCIDR     = "10.96.0.0/16"
	APIServiceIP    = "10.96.0.1"
	DNSServiceIP    = "10.96.0.10"
	ClusterDomain   = "cluster.local"
	APIServerPort   = 6443
	etcdClientURL   = "http://127.0.0.1:22379"
	etcdPeerURL     = "http://127.0.0.1:22380"
	etcdMetricsURL  = "http://127.0.0.1:22381"
	kubeletPort     = 10250
	storageClass    = "local"
	provisionerName = "mysql-bootstrap.dev/localk8s"
	// pauseImage is the sandbox image, tagged as containerd expects.
	pauseImage   = "registry.k8s.io/pause:3.10.1"
	corednsImage = "localk8s/coredns:" + corednsVersion
	// corednsVersion is the CoreDNS release deploy/k8s/build/coredns builds.
	corednsVersion = "v1.12.4"
	// kubeRouterVersion is the kube-router release deploy/k8s/build/kube-router
	// builds: only its network policy controller runs.
	kubeRouterVersion = "v2.1.0"
)

// DefaultDir is where the cluster lives unless K8S_DIR says otherwise.
const DefaultDir = "/var/lib/mysql-bootstrap-k8s"

// Cluster is the local cluster under Dir, built from the sources under
// Repo.
type Cluster struct {
	// Dir holds everything (see the package comment).
	Dir string
	// Repo is the root of the mysql-bootstrap checkout (for
	// deploy/k8s/build).
	Repo string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// New returns the cluster in $K8S_DIR (default DefaultDir), finding the
// checkout from the working directory upwards.
func New(log io.Writer) (*Cluster, error) {
	dir := os.Getenv("K8S_DIR")
	if dir == "" {
		dir = DefaultDir
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("K8S_DIR=%q is invalid: expected an absolute path", dir)
	}
	// Only Build needs the checkout (the provisioner runs from Dir).
	repo, _ := FindRepo()
	if log == nil {
		log = io.Discard
	}
	return &Cluster{Dir: filepath.Clean(dir), Repo: repo, Log: log}, nil
}

// FindRepo returns the mysql-bootstrap checkout that holds the working
// directory.
func FindRepo() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil &&
			strings.Contains(string(b), "module github.com/mysql-bootstrap/mysql-bootstrap\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("not inside the mysql-bootstrap checkout (no go.mod of module github.com/mysql-bootstrap/mysql-bootstrap above " + wd + ")")
		}
	}
}

// path joins elements under Dir.
func (c *Cluster) path(elem ...string) string {
	return filepath.Join(append([]string{c.Dir}, elem...)...)
}

// Bin returns the path of a built binary (kubectl, kubelet, ...).
func (c *Cluster) Bin(name string) string { return c.path("bin", name) }

// Kubeconfig is the administrator's kubeconfig (system:masters).
func (c *Cluster) Kubeconfig() string { return c.path("admin.kubeconfig") }

// APIServer is the API server's URL.
func (c *Cluster) APIServer() string { return fmt.Sprintf("https://%s:%d", NodeIP, APIServerPort) }

// LogDir holds the components' logs of the current (or last) run.
func (c *Cluster) LogDir() string { return c.path("logs") }

// runDirs are a run's own directories, removed by Down; the cache (bin,
// pki, images) stays.
var runDirs = []string{"run", "etcd", "containerd", "kubelet", "cni", "volumes", "pod-logs", "config"}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.Log, format+"\n", args...)
}
