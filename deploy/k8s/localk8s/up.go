package localk8s

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Up starts the cluster and returns once the node is Ready and CoreDNS
// answers. A cluster that runs already is refused; what a crashed earlier
// run left behind is cleaned up first.
func (c *Cluster) Up(ctx context.Context) error {
	start := time.Now()
	step := func(what string) { c.logf("[%5.1fs] %s", time.Since(start).Seconds(), what) }
	if os.Geteuid() != 0 {
		return errors.New("localk8s up needs root: the kubelet, containerd and iptables do")
	}
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if s, err := c.readState(); err == nil {
		var alive []string
		for _, p := range s.Procs {
			if p.alive() {
				alive = append(alive, fmt.Sprintf("%s (pid %d)", p.Name, p.PID))
			}
		}
		if len(alive) > 0 {
			return fmt.Errorf("%w in %s since %s: %s; stop it first (make k8s-down, or localk8s down)",
				errRunning, c.Dir, s.Started.Format(time.RFC3339), strings.Join(alive, ", "))
		}
		c.logf("an earlier run in %s ended without localk8s down: cleaning up after it", c.Dir)
		c.teardown(ctx, s)
	} else if _, err := os.Stat(c.path("run")); err == nil {
		c.logf("an earlier run in %s left no state: cleaning up after it", c.Dir)
		c.teardown(ctx, &state{})
	}
	if err := c.preflight(); err != nil {
		return err
	}
	for _, d := range append(runDirs, "logs") {
		if err := os.RemoveAll(c.path(d)); err != nil {
			return fmt.Errorf("clear %s: %w", c.path(d), err)
		}
	}
	for _, d := range []string{"run", "logs", "volumes", "cni/ipam", "containerd/root", "containerd/state", "kubelet", "pod-logs"} {
		if err := os.MkdirAll(c.path(d), 0o755); err != nil {
			return err
		}
	}
	if err := c.ensurePKI(); err != nil {
		return err
	}
	if err := c.renderConfig(); err != nil {
		return err
	}
	s := &state{Started: time.Now(), Sysctls: readSysctls()}
	if err := c.writeState(s); err != nil {
		return err
	}
	// From here on a failure leaves a state file: the next Up or Down
	// cleans up.
	if err := c.bringUp(ctx, s, step); err != nil {
		return fmt.Errorf("%w (logs in %s; localk8s down cleans up)", err, c.LogDir())
	}
	step("cluster ready: export KUBECONFIG=" + c.Kubeconfig())
	return nil
}

func (c *Cluster) bringUp(ctx context.Context, s *state, step func(string)) error {
	if _, err := run(ctx, "ip", "link", "add", Bridge, "type", "bridge"); err != nil {
		return err
	}
	if _, err := run(ctx, "ip", "addr", "add", NodeIP+"/24", "dev", Bridge); err != nil {
		return err
	}
	if _, err := run(ctx, "ip", "link", "set", Bridge, "up"); err != nil {
		return err
	}

	if err := c.start(s, "etcd", "/usr/bin/etcd",
		"--name", "localk8s", "--data-dir", c.path("etcd"),
		"--listen-client-urls", etcdClientURL, "--advertise-client-urls", etcdClientURL,
		"--listen-peer-urls", etcdPeerURL, "--initial-advertise-peer-urls", etcdPeerURL,
		"--initial-cluster", "localk8s="+etcdPeerURL, "--listen-metrics-urls", etcdMetricsURL,
		"--snapshot-count", "10000"); err != nil {
		return err
	}
	if err := poll(ctx, 60*time.Second, 100*time.Millisecond, "etcd healthy", func(ctx context.Context) error {
		return httpOK(ctx, etcdClientURL+"/health")
	}); err != nil {
		return err
	}
	step("etcd healthy")

	pki := func(f string) string { return c.path("pki", f) }
	if err := c.start(s, "kube-apiserver", c.Bin("kube-apiserver"),
		"--etcd-servers="+etcdClientURL,
		"--bind-address="+NodeIP, "--secure-port="+strconv.Itoa(APIServerPort), "--advertise-address="+NodeIP,
		"--service-cluster-ip-range="+ServiceCIDR, "--allow-privileged=true",
		"--tls-cert-file="+pki("apiserver.crt"), "--tls-private-key-file="+pki("apiserver.key"), "--client-ca-file="+pki("ca.crt"),
		"--kubelet-client-certificate="+pki("apiserver-kubelet-client.crt"), "--kubelet-client-key="+pki("apiserver-kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		"--service-account-issuer=https://kubernetes.default.svc."+ClusterDomain,
		"--service-account-key-file="+pki("sa.pub"), "--service-account-signing-key-file="+pki("sa.key"),
		"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
		"--profiling=false"); err != nil {
		return err
	}
	admin, err := c.NewClient("admin")
	if err != nil {
		return err
	}
	if err := poll(ctx, 120*time.Second, 200*time.Millisecond, "kube-apiserver /readyz", func(ctx context.Context) error {
		return admin.Get(ctx, "/readyz", nil)
	}); err != nil {
		return err
	}
	step("kube-apiserver ready")

	if err := c.start(s, "kube-controller-manager", c.Bin("kube-controller-manager"),
		"--kubeconfig="+c.path("controller-manager.kubeconfig"),
		"--authentication-kubeconfig="+c.path("controller-manager.kubeconfig"),
		"--authorization-kubeconfig="+c.path("controller-manager.kubeconfig"),
		"--bind-address=127.0.0.1", "--leader-elect=false", "--use-service-account-credentials=true",
		"--cluster-signing-cert-file="+pki("ca.crt"), "--cluster-signing-key-file="+pki("ca.key"), "--root-ca-file="+pki("ca.crt"),
		"--service-account-private-key-file="+pki("sa.key"), "--service-cluster-ip-range="+ServiceCIDR,
		"--allocate-node-cidrs=true", "--cluster-cidr="+ClusterCIDR, "--node-cidr-mask-size=24",
		"--profiling=false"); err != nil {
		return err
	}
	if err := c.start(s, "kube-scheduler", c.Bin("kube-scheduler"),
		"--kubeconfig="+c.path("scheduler.kubeconfig"),
		"--authentication-kubeconfig="+c.path("scheduler.kubeconfig"),
		"--authorization-kubeconfig="+c.path("scheduler.kubeconfig"),
		"--bind-address=127.0.0.1", "--leader-elect=false", "--profiling=false"); err != nil {
		return err
	}

	if err := c.start(s, "containerd", "/usr/bin/containerd", "--config", c.path("config", "containerd.toml")); err != nil {
		return err
	}
	sock := c.path("run", "containerd.sock")
	if err := poll(ctx, 60*time.Second, 100*time.Millisecond, "containerd", func(ctx context.Context) error {
		_, err := run(ctx, "ctr", "-a", sock, "version")
		return err
	}); err != nil {
		return err
	}
	step("containerd up")
	for _, im := range []string{"pause", "coredns"} {
		f, err := os.Open(c.path("images", im+".tar"))
		if err != nil {
			return fmt.Errorf("image %s: %w (run localk8s build)", im, err)
		}
		err = c.importArchive(ctx, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("import %s: %w", im, err)
		}
	}
	step("pause and CoreDNS images imported")

	if err := c.start(s, "kubelet", c.Bin("kubelet"),
		"--config="+c.path("config", "kubelet.yaml"), "--kubeconfig="+c.path("kubelet.kubeconfig"),
		"--root-dir="+c.path("kubelet"), "--cert-dir="+c.path("kubelet", "pki"),
		"--hostname-override="+NodeName, "--node-ip="+NodeIP); err != nil {
		return err
	}
	if err := c.start(s, "kube-proxy", c.Bin("kube-proxy"), "--config="+c.path("config", "kube-proxy.yaml")); err != nil {
		return err
	}
	if err := c.start(s, "provisioner", c.Bin("localk8s"), "provisioner"); err != nil {
		return err
	}
	if err := poll(ctx, 120*time.Second, 250*time.Millisecond, "node "+NodeName+" Ready", func(ctx context.Context) error {
		var n corev1.Node
		if err := admin.Get(ctx, "/api/v1/nodes/"+NodeName, &n); err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				if cond.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("Ready %s: %s", cond.Status, cond.Message)
			}
		}
		return errors.New("no Ready condition yet")
	}); err != nil {
		return err
	}
	step("node Ready")

	// The bridge CNI ignores NetworkPolicies: kube-router's network policy
	// controller enforces them (iptables and ipset; its routing, service
	// proxy and CNI stay off). It looks its node up at start, so it starts
	// once the node is registered. Traffic from the node itself, such as
	// the kubelet's probes and the tests' own connections, is always
	// admitted.
	if err := c.start(s, "kube-router", c.Bin("kube-router"),
		"--kubeconfig="+c.Kubeconfig(), "--hostname-override="+NodeName,
		"--run-firewall=true", "--run-router=false", "--run-service-proxy=false", "--enable-cni=false",
		"--health-port=0"); err != nil {
		return err
	}
	if err := poll(ctx, 60*time.Second, 250*time.Millisecond, "kube-router's chains", func(ctx context.Context) error {
		if !s.Procs[len(s.Procs)-1].alive() {
			return fmt.Errorf("kube-router exited: see %s", filepath.Join(c.LogDir(), "kube-router.log"))
		}
		out, err := run(ctx, "iptables", "-w", "-S", "FORWARD")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "KUBE-ROUTER-FORWARD") {
			return errors.New("no jump to KUBE-ROUTER-FORWARD in FORWARD yet")
		}
		return nil
	}); err != nil {
		return err
	}
	step("kube-router enforces NetworkPolicies")

	if _, err := c.Kubectl(ctx, "apply", "-f", c.path("config", "addons.yaml")); err != nil {
		return err
	}
	if err := poll(ctx, 120*time.Second, 250*time.Millisecond, "CoreDNS ready", func(ctx context.Context) error {
		var d appsv1.Deployment
		if err := admin.Get(ctx, "/apis/apps/v1/namespaces/kube-system/deployments/coredns", &d); err != nil {
			return err
		}
		if d.Status.ReadyReplicas < 1 {
			return fmt.Errorf("%d of %d ready", d.Status.ReadyReplicas, d.Status.Replicas)
		}
		return nil
	}); err != nil {
		return err
	}
	step("CoreDNS ready")
	return nil
}

// Kubectl runs the built kubectl as the administrator and returns its
// output.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	return run(ctx, c.Bin("kubectl"), append([]string{"--kubeconfig", c.Kubeconfig()}, args...)...)
}

// preflight checks what Up needs from the machine before anything is
// started, naming what is missing.
func (c *Cluster) preflight() error {
	var missing []string
	for _, f := range []struct{ path, pkg string }{
		{"/usr/bin/etcd", "etcd-server"}, {"/usr/bin/containerd", "containerd"}, {"/usr/bin/ctr", "containerd"},
		{"/usr/sbin/runc", "runc"}, {"/usr/lib/cni/bridge", "containernetworking-plugins"},
		{"/usr/lib/cni/host-local", "containernetworking-plugins"}, {"/usr/lib/cni/firewall", "containernetworking-plugins"},
		{"/usr/lib/cni/loopback", "containernetworking-plugins"},
	} {
		if _, err := os.Stat(f.path); err != nil {
			missing = append(missing, f.path+" (Debian package "+f.pkg+")")
		}
	}
	for _, tool := range []string{"ip", "iptables", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if _, err := exec.LookPath("ipset"); err != nil {
		missing = append(missing, "ipset (Debian package ipset; kube-router enforces NetworkPolicies with it)")
	}
	for _, b := range append(append([]string{}, kubeCommands...), "coredns", "kube-router", "pause", "localk8s") {
		if _, err := os.Stat(c.Bin(b)); err != nil {
			missing = append(missing, c.Bin(b)+" (localk8s build, or make k8s-build)")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("localk8s up: missing %s", strings.Join(missing, "; "))
	}
	var busy []string
	for _, port := range []int{22379, 22380, 22381, APIServerPort, kubeletPort, 10248, 10249, 10256, 10257, 10259} {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			busy = append(busy, strconv.Itoa(port))
			continue
		}
		l.Close()
	}
	if len(busy) > 0 {
		return fmt.Errorf("localk8s up: ports %s are in use (another Kubernetes on this machine?)", strings.Join(busy, ", "))
	}
	if out, err := exec.Command("ip", "link", "show", Bridge).CombinedOutput(); err == nil {
		return fmt.Errorf("localk8s up: a network interface %s exists already and no run of %s owns it: %s", Bridge, c.Dir, strings.TrimSpace(string(out)))
	}
	return nil
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// sysctlNames are the settings the kubelet and kube-proxy change; Up
// records them and Down puts them back.
var sysctlNames = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
	"net/ipv4/conf/all/route_localnet", "net/ipv4/ip_forward",
	"net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables",
}

func readSysctls() map[string]string {
	m := map[string]string{}
	for _, n := range sysctlNames {
		if b, err := os.ReadFile(filepath.Join("/proc/sys", n)); err == nil {
			m[n] = strings.TrimSpace(string(b))
		}
	}
	return m
}
