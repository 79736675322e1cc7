// Package bench measures what DESIGN.md's "Targets" promise, on real
// containers (deploy/internal/podcluster): how soon replicas replicate
// after a Parallel start, how long a cold start of three pods takes
// against one pod and against OrderedReady, how soon replicas follow a
// primary that comes back on a new address (the sidecar's settings
// against MySQL's defaults), the sidecar's memory and idle CPU, and the
// size of the binary and of its image.
//
// Every figure is the median of several samples, reported with
// b.ReportMetric; run.sh (make bench) chooses how many with -benchtime=Nx,
// prints the machine, and a summary table from the file named by
// BENCH_SUMMARY. Nothing here asserts a speed: a missed target is printed,
// not failed.
//
// BENCH_SERVER chooses the server: mariadb-10.11 (the default),
// mariadb-11.8 or mysql-9.7 (images/build.sh's names), or any image with
// the official entrypoint contract. The servers skip loading their time
// zone tables (MYSQL_INITDB_SKIP_TZINFO, MARIADB_INITDB_SKIP_TZINFO): the
// figures are about mysql-bootstrap, and were measured so from the start.
//
// The benchmarks need a Docker engine and the images images/build.sh
// builds (nothing is pulled); without them they are skipped. Every
// container, network and volume is removed when its benchmark ends; the
// run ids are also appended to BENCH_RUNIDS so run.sh can remove what an
// interrupted run left behind.
package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
)

var (
	// dockerSkip says why the container benchmarks cannot run here.
	dockerSkip string
	server     podcluster.Server
	images     podcluster.Images
)

func TestMain(m *testing.M) {
	// No reaper (its image would be pulled): every object is removed by
	// the cluster's own cleanup.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	server = podcluster.DefaultServer
	if v := os.Getenv("BENCH_SERVER"); v != "" {
		server = podcluster.LookupServer(v)
	} else if v := os.Getenv("E2E_SERVER_IMAGE"); v != "" {
		server = podcluster.LookupServer(v)
	}
	images = podcluster.DefaultImagesFor(server)
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		// go test ./... without -bench: nothing here runs.
		os.Exit(m.Run())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	if err := podcluster.Available(ctx); err != nil {
		dockerSkip = "needs a Docker engine: " + err.Error()
	} else {
		var missing []string
		for _, ref := range []string{images.Server, images.Bootstrap, images.Pause} {
			if _, err := podcluster.ImageCreated(ctx, ref); err != nil {
				missing = append(missing, ref)
			}
		}
		if len(missing) > 0 {
			dockerSkip = "images missing (build them with images/build.sh): " + strings.Join(missing, ", ")
		}
	}
	if dockerSkip == "" {
		if v, err := podcluster.ImageServerVersion(ctx, server.Image); err == nil {
			serverLine = fmt.Sprintf("# server: %s (%s), FLAVOR %s: %s", server.Name, server.Image, server.Flavor, v.Line)
		} else {
			serverLine = fmt.Sprintf("# server: %s (%s), FLAVOR %s: %v", server.Name, server.Image, server.Flavor, err)
		}
	}
	cancel()
	fmt.Println(machine())
	if serverLine != "" {
		fmt.Println(serverLine)
	}
	os.Exit(m.Run())
}

// serverLine says which server the figures are from.
var serverLine string

func requireDocker(b *testing.B) {
	b.Helper()
	if dockerSkip != "" {
		b.Skip(dockerSkip)
	}
}

// machine is one line saying what the figures were measured on.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	docker := "unavailable"
	if cli, err := podcluster.NewDockerClient(); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{}); err == nil {
			docker = v.Version
		}
		cancel()
		cli.Close()
	}
	return fmt.Sprintf("# machine: %d cores, %s, %s RAM, kernel %s, docker %s, %s, %s",
		runtime.NumCPU(), model, mem, kernel, docker, runtime.Version(), time.Now().UTC().Format(time.RFC3339))
}

// scope is a testing.TB whose cleanups run when close is called, not when
// the benchmark ends: a cluster per iteration is removed before the next
// one starts, so idle servers do not slow down later samples.
type scope struct {
	testing.TB
	mu  sync.Mutex
	fns []func()
}

func newScope(tb testing.TB) *scope { return &scope{TB: tb} }

func (s *scope) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fns = append(s.fns, f)
}

func (s *scope) close() {
	s.mu.Lock()
	fns := s.fns
	s.fns = nil
	s.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// newCluster creates a cluster in sc with the manifest's settings (no
// shorter RECONCILE_INTERVAL) and records its run id for run.sh.
func newCluster(sc *scope, pods int) *podcluster.Cluster {
	return newClusterWith(sc, pods, nil)
}

// newClusterWith is newCluster with variables for the init containers.
func newClusterWith(sc *scope, pods int, initEnv map[string]string) *podcluster.Cluster {
	c := podcluster.New(sc, podcluster.Options{
		Images: images, Pods: pods, Flavor: server.Flavor, InitEnv: initEnv,
		ServerEnv: map[string]string{"MYSQL_INITDB_SKIP_TZINFO": "1", "MARIADB_INITDB_SKIP_TZINFO": "1"},
	})
	if f := os.Getenv("BENCH_RUNIDS"); f != "" {
		if fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(fh, c.RunID)
			fh.Close()
		}
	}
	return c
}
