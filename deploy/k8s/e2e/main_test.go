// Package e2e runs the shipped manifests on a real Kubernetes: the local
// single-node cluster of deploy/k8s/localk8s (API server, scheduler,
// controller-manager, kubelet, kube-proxy, CoreDNS), each server's test
// overlay under deploy/k8s/overlays applied with kubectl apply -k (only
// the image names differ from deploy/kustomize/overlays), and the things a
// real cluster decides done to it: the StatefulSet controller recreating a
// deleted primary, the kubelet delivering a changed Secret, scaling with a
// seed, a rolling update (and on MariaDB 10.11 an upgrade to 11.8), a
// PodDisruptionBudget refusing an eviction, two clusters in one namespace,
// a primary's PersistentVolumeClaim deleted with its pod, the shipped
// NetworkPolicy (enforced by the cluster's kube-router) keeping a pod
// without the StatefulSet's labels away from 3306, 8080 and 8081. A writer records
// every acknowledged write through the mysql-primary Service; every case
// ends with every acknowledged write on every ready pod, equal data, no
// errant GTIDs and replicas refusing writes.
//
// The tests need root, a Docker engine (the images are built with
// images/build.sh and copied into the cluster) and Debian's etcd-server,
// containerd, runc, ipset and containernetworking-plugins; they are skipped under
// -short and say what is missing otherwise. The cluster is built (localk8s
// build, cached in K8S_DIR) and started unless one runs already, in which
// case it is used and left running; each server gets a namespace of its
// own, deleted at the end. Variables:
//
//   - K8S_E2E_SERVERS: the servers to run (mariadb-10.11, mariadb-11.8,
//     mysql-9.7; comma-separated), default mariadb-10.11,mysql-9.7;
//   - K8S_SWITCHOVER_SERVERS: the servers TestSwitchover runs
//     (PRIMARY=kubernetes), default mysql-9.7,mariadb-11.8;
//   - K8S_FAILOVER_SERVERS: the servers TestFailover runs (FAILOVER=auto:
//     the primary's processes stopped with SIGSTOP, another pod takes the
//     Lease, the old primary resumed rejoins), default
//     mysql-9.7,mariadb-11.8,mariadb-10.11;
//   - K8S_E2E_KEEP=1: keep the namespaces (and a cluster the tests
//     started) for a look afterwards;
//   - K8S_DIR: where the cluster lives (default /var/lib/mysql-bootstrap-k8s);
//   - E2E_NO_BUILD=1: never run images/build.sh.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/k8s/localk8s"
)

var (
	// skipReason is set when the tests cannot run here.
	skipReason string
	// cluster is the local Kubernetes; api a client of it as admin.
	cluster *localk8s.Cluster
	api     *localk8s.Client
	// servers are the server images to run.
	servers []podcluster.Server
	// bootstrapImage is the mysql-bootstrap image the test overlays name.
	bootstrapImage = "mysql-bootstrap:dev"
	// keep leaves namespaces and a started cluster behind.
	keep = os.Getenv("K8S_E2E_KEEP") == "1"
)

func TestMain(m *testing.M) {
	flag.Parse()
	code, err := setUp(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "k8s e2e: %v\n", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// setUp builds and starts what the tests need, runs them, and stops a
// cluster it started.
func setUp(m *testing.M) (int, error) {
	var err error
	if servers, err = chooseServers(os.Getenv("K8S_E2E_SERVERS")); err != nil {
		return 2, err
	}
	switch {
	case testing.Short():
		skipReason = "the tests on a real Kubernetes start a cluster: skipped under -short"
	case os.Geteuid() != 0:
		skipReason = "the tests on a real Kubernetes need root (the kubelet, containerd and iptables do)"
	default:
		if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
			skipReason = "the tests on a real Kubernetes need a Docker engine to build and export images, and `docker info` fails: " + lastLine(string(out))
		}
	}
	if skipReason != "" {
		return m.Run(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	if cluster, err = localk8s.New(os.Stderr); err != nil {
		return 1, err
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		return 1, err
	}
	var refs []string
	for _, s := range servers {
		refs = append(refs, s.Image)
		if s.Name == "mariadb-10.11" {
			// The upgrade case rolls 10.11 to 11.8.
			refs = append(refs, podcluster.LookupServer("mariadb-11.8").Image)
		}
	}
	if err := podcluster.EnsureImages(ctx, root, bootstrapImage, os.Getenv("E2E_NO_BUILD") == "1", refs...); err != nil {
		return 1, err
	}
	start := time.Now()
	if err := cluster.Build(ctx); err != nil {
		return 1, err
	}
	fmt.Fprintf(os.Stderr, "k8s e2e: cluster binaries ready in %s\n", time.Since(start).Round(time.Second))
	started := false
	if !cluster.Running() {
		start = time.Now()
		if err := cluster.Up(ctx); err != nil {
			return 1, err
		}
		started = true
		fmt.Fprintf(os.Stderr, "k8s e2e: cluster up in %s\n", time.Since(start).Round(100*time.Millisecond))
	} else {
		fmt.Fprintf(os.Stderr, "k8s e2e: using the cluster that runs in %s (left running)\n", cluster.Dir)
	}
	if started && !keep {
		defer func() {
			if err := cluster.Down(context.Background()); err != nil {
				fmt.Fprintf(os.Stderr, "k8s e2e: down: %v\n", err)
			}
		}()
	}
	start = time.Now()
	if err := cluster.LoadImages(ctx, append([]string{bootstrapImage}, refs...)...); err != nil {
		return 1, err
	}
	fmt.Fprintf(os.Stderr, "k8s e2e: images loaded in %s\n", time.Since(start).Round(100*time.Millisecond))
	if api, err = cluster.NewClient("admin"); err != nil {
		return 1, err
	}
	return m.Run(), nil
}

// chooseServers reads K8S_E2E_SERVERS.
func chooseServers(names string) ([]podcluster.Server, error) {
	if names == "" {
		names = "mariadb-10.11,mysql-9.7"
	}
	return podcluster.LocalServersNamed("K8S_E2E_SERVERS", names)
}

func requireCluster(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}
