package bench

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
)

// idleWindow is one sample of the sidecar's idle CPU.
const idleWindow = 30 * time.Second

// BenchmarkSidecarIdle measures the sidecar of a ready, idle three-pod
// cluster: resident memory and CPU over 30 s windows (one per iteration),
// back to back. Resident memory grows for several minutes after start (the
// Go runtime touching more of its heap; goroutines and descriptors stay
// flat, and are logged), so the memory figure is the median of the second
// half of the windows, with the first window's for comparison; run enough
// windows (run.sh: IDLE) for the second half to be the plateau.
// with the manifest's settings (reconcile every 5 s) and the manifest's
// readiness probe (GET /readyz every 5 s) as the only traffic. CPU comes
// from the sidecar's own process_cpu_seconds_total (10 ms ticks) and from
// its container's cgroup (nanoseconds, through the Docker API); memory from
// process_resident_memory_bytes and the cgroup's rss.
func BenchmarkSidecarIdle(b *testing.B) {
	requireDocker(b)
	ctx := context.Background()
	sc := newScope(b)
	defer sc.close()
	r := startCluster(b, sc)
	cli, err := podcluster.NewDockerClient()
	must(b, err)
	defer cli.Close()
	ids := make([]string, len(r.eps))
	for i, ep := range r.eps {
		in, err := ep.pod.Inspect(ctx, "sidecar")
		must(b, err)
		ids[i] = in.ID
	}
	// Let start-up work (first passes, GC of start-up garbage) settle.
	time.Sleep(10 * time.Second)

	var s samples
	window := 0
	for b.Loop() {
		window++
		before := make([]sidecarSample, len(r.eps))
		for i, ep := range r.eps {
			before[i] = sampleSidecar(ctx, b, cli, ep, ids[i])
		}
		end := time.Now().Add(idleWindow)
		for time.Until(end) > 0 {
			time.Sleep(min(5*time.Second, time.Until(end)))
			for _, ep := range r.eps {
				ep.ready(ctx) // the kubelet's readiness probe
			}
		}
		for i, ep := range r.eps {
			after := sampleSidecar(ctx, b, cli, ep, ids[i])
			wall := after.at.Sub(before[i].at).Seconds()
			name := ep.pod.Name
			s.add("pct_cpu_metrics_"+name, 100*(after.cpuSeconds-before[i].cpuSeconds)/wall)
			s.add("pct_cpu_cgroup_"+name, 100*float64(after.cgroupCPUNanos-before[i].cgroupCPUNanos)/1e9/wall)
			s.add("MiB_rss_window_"+name, after.rssBytes/(1<<20))
			s.add("MiB_cgroup_rss_"+name, float64(after.cgroupRSS)/(1<<20))
			s.add("MiB_go_heap_inuse_"+name, after.heapBytes/(1<<20))
			b.Logf("%s window %d: rss %.2f MiB, %s", name, window, after.rssBytes/(1<<20), after.runtime)
		}
	}
	var rssMax, firstMax, cpuMax, cpuMetricsMax float64
	var n int
	for _, ep := range r.eps {
		all := s.m["MiB_rss_window_"+ep.pod.Name]
		late := all[len(all)/2:]
		n = len(late)
		s.add("MiB_rss_last_half_"+ep.pod.Name, median(late))
		rssMax, firstMax = math.Max(rssMax, median(late)), math.Max(firstMax, all[0])
		v, _ := s.median("pct_cpu_cgroup_" + ep.pod.Name)
		cpuMax = math.Max(cpuMax, v)
		v, _ = s.median("pct_cpu_metrics_" + ep.pod.Name)
		cpuMetricsMax = math.Max(cpuMetricsMax, v)
	}
	s.report(b)
	p, _ := s.median("MiB_rss_last_half_mysql-0")
	rp, _ := s.median("MiB_rss_last_half_mysql-1")
	idle := time.Duration(window) * idleWindow
	pc, _ := s.median("pct_cpu_cgroup_mysql-0")
	rc, _ := s.median("pct_cpu_cgroup_mysql-1")
	summarize(b,
		summaryRow{Figure: fmt.Sprintf("sidecar RSS, %s-%s idle, worst pod (primary / replica)", idle/2, idle),
			Value: fmt.Sprintf("%.1f MiB (%.1f / %.1f)", rssMax, p, rp), N: n, Target: "<= 15 MiB", Met: verdict(rssMax, 15)},
		summaryRow{Figure: "  same, first 30 s window", Value: fmt.Sprintf("%.1f MiB", firstMax), N: 1, Target: "<= 15 MiB", Met: verdict(firstMax, 15)},
		summaryRow{Figure: "sidecar idle CPU, worst of 3 pods (primary / replica)", Value: fmt.Sprintf("%.3f %% (%.3f / %.3f)", cpuMax, pc, rc), N: window, Target: "<= 0.1 % of a core", Met: verdict(cpuMax, 0.1)},
		summaryRow{Figure: "  same from process_cpu_seconds_total", Value: fmt.Sprintf("%.3f %%", cpuMetricsMax), N: window, Target: "<= 0.1 % of a core", Met: verdict(cpuMetricsMax, 0.1)},
	)
}

type sidecarSample struct {
	at             time.Time
	cpuSeconds     float64
	rssBytes       float64
	heapBytes      float64
	runtime        string // the Go runtime's view, for the log
	cgroupCPUNanos uint64
	cgroupRSS      uint64
}

func sampleSidecar(ctx context.Context, b *testing.B, cli *client.Client, ep endpoints, id string) sidecarSample {
	code, body, err := ep.get(ctx, "/metrics")
	if err != nil || code != 200 {
		b.Fatalf("%s /metrics: %d %v", ep.pod.Name, code, err)
	}
	s := sidecarSample{at: time.Now()}
	m := promValues(body)
	var ok1, ok2 bool
	s.cpuSeconds, ok1 = m["process_cpu_seconds_total"]
	s.rssBytes, ok2 = m["process_resident_memory_bytes"]
	s.heapBytes = m["go_memstats_heap_inuse_bytes"]
	const mib = 1 << 20
	s.runtime = fmt.Sprintf("heap inuse %.2f idle %.2f released %.2f, stacks %.2f, sys %.2f MiB, %g goroutines, %g threads, %g fds",
		m["go_memstats_heap_inuse_bytes"]/mib, m["go_memstats_heap_idle_bytes"]/mib, m["go_memstats_heap_released_bytes"]/mib,
		m["go_memstats_stack_inuse_bytes"]/mib, m["go_memstats_sys_bytes"]/mib, m["go_goroutines"], m["go_threads"], m["process_open_fds"])
	if !ok1 || !ok2 {
		b.Fatalf("%s /metrics lacks the process metrics", ep.pod.Name)
	}
	s.cgroupCPUNanos, s.cgroupRSS, err = containerStats(ctx, cli, id)
	must(b, err)
	return s
}

// promValues reads the unlabelled samples of a Prometheus text page.
func promValues(body string) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.Contains(line, "{") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = v
		}
	}
	return out
}
