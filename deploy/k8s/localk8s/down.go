package localk8s

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Down stops the cluster and removes what its run created: processes,
// containers, mounts, cgroups, iptables chains, the bridge, the run's
// directories; the sysctls are put back. The cache (bin, pki, images) and
// the last run's logs stay. With nothing running it does nothing.
func (c *Cluster) Down(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("localk8s down needs root")
	}
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	s, err := c.readState()
	if err != nil {
		// Nothing recorded: still remove what a run may have left
		// (chains, the bridge, mounts, cgroups); each step is a no-op
		// when there is nothing to remove.
		c.logf("no local cluster recorded in %s: removing what a run may have left", c.Dir)
		s = &state{}
	}
	c.teardown(ctx, s)
	c.logf("local cluster in %s stopped and removed (logs of the run: %s)", c.Dir, c.LogDir())
	return nil
}

// Running reports whether a cluster runs in Dir (its API server among the
// recorded processes still alive).
func (c *Cluster) Running() bool {
	s, err := c.readState()
	if err != nil {
		return false
	}
	for _, p := range s.Procs {
		if p.Name == "kube-apiserver" && p.alive() {
			return true
		}
	}
	return false
}

// teardown undoes a run, best effort: every step runs whatever failed
// before it, and what could not be undone is logged.
func (c *Cluster) teardown(ctx context.Context, s *state) {
	warn := func(format string, args ...any) { c.logf("down: "+format, args...) }
	byName := map[string]proc{}
	for _, p := range s.Procs {
		byName[p.Name] = p
	}
	// The node's agents first, so that nothing restarts the containers.
	for _, n := range []string{"provisioner", "kubelet", "kube-proxy", "kube-router"} {
		byName[n].stop(10 * time.Second)
	}
	c.killContainers(warn)
	for _, n := range []string{"containerd", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"} {
		byName[n].stop(15 * time.Second)
	}
	for _, p := range s.Procs {
		if p.alive() {
			warn("%s (pid %d) is still running", p.Name, p.PID)
		}
	}
	c.cleanIptables(ctx, warn)
	destroyIPSets(warn)
	c.unmountAll(warn)
	removeCgroups(warn)
	if err := exec.Command("ip", "link", "show", Bridge).Run(); err == nil {
		if out, err := exec.Command("ip", "link", "del", Bridge).CombinedOutput(); err != nil {
			warn("ip link del %s: %v: %s", Bridge, err, out)
		}
	}
	for n, v := range s.Sysctls {
		if err := os.WriteFile(filepath.Join("/proc/sys", n), []byte(v), 0o644); err != nil {
			warn("restore %s=%s: %v", strings.ReplaceAll(n, "/", "."), v, err)
		}
	}
	c.removeHostFiles(warn)
	for _, d := range runDirs {
		if err := os.RemoveAll(c.path(d)); err != nil {
			warn("remove %s: %v", c.path(d), err)
		}
	}
}

// killContainers kills every process of the pods (the kubepods cgroups)
// and the containerd shims that serve this cluster's socket.
func (c *Cluster) killContainers(warn func(string, ...any)) {
	sock := c.path("run", "containerd.sock")
	for attempt := 0; attempt < 50; attempt++ {
		pids := append(cgroupPIDs(), shimPIDs(sock)...)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	warn("container processes still alive after 5 s: %v", append(cgroupPIDs(), shimPIDs(sock)...))
}

// kubepodsDirs are the kubelet's cgroups (cgroupfs driver, cgroup v1 or
// v2), deepest first.
func kubepodsDirs() []string {
	var dirs []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	if fi, err := os.Stat("/sys/fs/cgroup/kubepods"); err == nil && fi.IsDir() {
		roots = append(roots, "/sys/fs/cgroup/kubepods")
	}
	for _, r := range roots {
		_ = filepath.WalkDir(r, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	return dirs
}

func cgroupPIDs() []int {
	seen := map[int]bool{}
	var pids []int
	for _, d := range kubepodsDirs() {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// shimPIDs finds containerd-shim processes started for socket.
func shimPIDs(socket string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) == 0 || !strings.Contains(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		for i, a := range args {
			if a == "-address" && i+1 < len(args) && args[i+1] == socket {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func removeCgroups(warn func(string, ...any)) {
	var left []string
	for _, d := range kubepodsDirs() {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			left = append(left, d)
		}
	}
	if len(left) > 0 {
		warn("cgroups not removed: %s", strings.Join(left, ", "))
	}
}

// cleanIptables removes the chains kube-proxy, the kubelet and the CNI
// plugins made (KUBE-*, CNI-*), with the rules that jump to them.
func (c *Cluster) cleanIptables(ctx context.Context, warn func(string, ...any)) {
	if _, err := os.Stat(c.Bin("kube-proxy")); err == nil {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_ = exec.CommandContext(cctx, c.Bin("kube-proxy"), "--cleanup", "--config="+c.path("config", "kube-proxy.yaml")).Run()
		cancel()
	}
	for _, tool := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(tool); err != nil {
			continue
		}
		for _, table := range []string{"filter", "nat", "mangle"} {
			out, err := exec.Command(tool, "-w", "-t", table, "-S").Output()
			if err != nil {
				continue
			}
			ours := func(ch string) bool { return strings.HasPrefix(ch, "KUBE-") || strings.HasPrefix(ch, "CNI-") }
			var chains []string
			from := map[string]bool{} // chains not ours with rules that jump to ours
			for _, line := range strings.Split(string(out), "\n") {
				f := strings.Fields(line)
				switch {
				case len(f) == 2 && f[0] == "-N" && ours(f[1]):
					chains = append(chains, f[1])
				case len(f) > 2 && f[0] == "-A" && !ours(f[1]):
					for i := 0; i+1 < len(f); i++ {
						if (f[i] == "-j" || f[i] == "-g") && ours(f[i+1]) {
							from[f[1]] = true
						}
					}
				}
			}
			// Rules are deleted by number, highest first: their text (CNI's
			// quoted comments) does not survive a round trip through -S.
			for ch := range from {
				list, err := exec.Command(tool, "-w", "-t", table, "-L", ch, "-n", "--line-numbers").Output()
				if err != nil {
					continue
				}
				var nums []int
				for _, line := range strings.Split(string(list), "\n") {
					f := strings.Fields(line)
					if len(f) >= 2 && ours(f[1]) {
						if n, err := strconv.Atoi(f[0]); err == nil {
							nums = append(nums, n)
						}
					}
				}
				sort.Sort(sort.Reverse(sort.IntSlice(nums)))
				for _, n := range nums {
					if out, err := exec.Command(tool, "-w", "-t", table, "-D", ch, strconv.Itoa(n)).CombinedOutput(); err != nil {
						warn("%s -t %s -D %s %d: %v: %s", tool, table, ch, n, err, strings.TrimSpace(string(out)))
					}
				}
			}
			for _, ch := range chains {
				_ = exec.Command(tool, "-w", "-t", table, "-F", ch).Run()
			}
			for _, ch := range chains {
				if out, err := exec.Command(tool, "-w", "-t", table, "-X", ch).CombinedOutput(); err != nil {
					warn("%s -t %s -X %s: %v: %s", tool, table, ch, err, strings.TrimSpace(string(out)))
				}
			}
		}
	}
}

// destroyIPSets removes kube-router's ipsets (KUBE-*, and inet6:KUBE-*
// for IPv6), once no iptables rule refers to them any more.
func destroyIPSets(warn func(string, ...any)) {
	if _, err := exec.LookPath("ipset"); err != nil {
		return
	}
	out, err := exec.Command("ipset", "list", "-n").Output()
	if err != nil {
		warn("ipset list -n: %v", err)
		return
	}
	for _, name := range strings.Fields(string(out)) {
		if !strings.HasPrefix(strings.TrimPrefix(name, "inet6:"), "KUBE-") {
			continue
		}
		if out, err := exec.Command("ipset", "destroy", name).CombinedOutput(); err != nil {
			warn("ipset destroy %s: %v: %s", name, err, strings.TrimSpace(string(out)))
		}
	}
}

// unmountAll unmounts everything mounted under Dir, deepest first.
func (c *Cluster) unmountAll(warn func(string, ...any)) {
	for attempt := 0; attempt < 3; attempt++ {
		f, err := os.Open("/proc/self/mountinfo")
		if err != nil {
			warn("%v", err)
			return
		}
		var mounts []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 5 {
				continue
			}
			mp := unescapeMount(fields[4])
			if mp == c.Dir || strings.HasPrefix(mp, c.Dir+"/") {
				mounts = append(mounts, mp)
			}
		}
		f.Close()
		if len(mounts) == 0 {
			return
		}
		sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
		for _, m := range mounts {
			if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && attempt == 2 {
				warn("umount %s: %v", m, err)
			}
		}
	}
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// removeHostFiles removes what the run wrote outside Dir: the kubelet's
// links in /var/log/containers into this cluster's pod logs, and the CNI
// results cache of this cluster's network.
func (c *Cluster) removeHostFiles(warn func(string, ...any)) {
	links, _ := filepath.Glob("/var/log/containers/*.log")
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil && strings.HasPrefix(target, c.path("pod-logs")+"/") {
			if err := os.Remove(l); err != nil {
				warn("%v", err)
			}
		}
	}
	results, _ := filepath.Glob("/var/lib/cni/results/localk8s-*")
	for _, r := range results {
		if err := os.Remove(r); err != nil {
			warn("%v", err)
		}
	}
	_ = os.Remove("/var/lib/cni/results")
	_ = os.Remove("/var/lib/cni")
}

// Describe says what runs, for `localk8s status`.
func (c *Cluster) Describe() string {
	s, err := c.readState()
	if err != nil {
		return fmt.Sprintf("no local cluster in %s", c.Dir)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "local cluster in %s, started %s\n", c.Dir, s.Started.Format(time.RFC3339))
	for _, p := range s.Procs {
		st := "running"
		if !p.alive() {
			st = "NOT RUNNING"
		}
		fmt.Fprintf(&b, "  %-24s pid %-7d %s\n", p.Name, p.PID, st)
	}
	fmt.Fprintf(&b, "export KUBECONFIG=%s\n", c.Kubeconfig())
	return b.String()
}
