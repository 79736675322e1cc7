package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
)

// What a seed costs its donor, measured beside BenchmarkSeed's seed arm:
// the donor pod's CPU (cgroup, per container, through the Docker API), its
// server's resident set, and what a steady trickle of writes sees while
// the copy runs: the primary's commit latency and the donor's apply delay
// (the donor is a replica: its writes are the ones it applies).
const (
	loadWriteEvery = 100 * time.Millisecond // one small row on the primary
	loadReadEvery  = 50 * time.Millisecond  // the donor polled for the newest row
	loadBaseline   = 3 * time.Second        // the writes before the recipient starts
)

// loadSample is one row: when its commit was acknowledged and how long the
// commit, or the donor's apply after the acknowledgement, took.
type loadSample struct {
	at time.Time
	d  time.Duration
}

// donorLoad writes one row every loadWriteEvery on the primary and looks
// for it on the donor every loadReadEvery. The apply delay is from the
// primary's acknowledgement until the donor's SELECT first sees the row
// (resolution loadReadEvery; a row seen before the acknowledgement counts
// as 0).
type donorLoad struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	acks   map[int64]time.Time
	commit []loadSample
	apply  []loadSample
	err    error
}

// createLoadTable creates the table the writes go to, on the primary.
func createLoadTable(ctx context.Context, pdb *sql.DB) error {
	_, err := pdb.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS bench.lat (id BIGINT PRIMARY KEY, at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB")
	return err
}

// startDonorLoad starts the writer and the reader; ids continue from the
// largest in the table.
func startDonorLoad(ctx context.Context, pdb, ddb *sql.DB) (*donorLoad, error) {
	var next int64
	if err := pdb.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM bench.lat").Scan(&next); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &donorLoad{cancel: cancel, acks: map[int64]time.Time{}}
	first := next + 1
	l.wg.Add(2)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(loadWriteEvery)
		defer tick.Stop()
		for {
			next++
			t0 := time.Now()
			wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := pdb.ExecContext(wctx, "INSERT INTO bench.lat (id) VALUES (?)", next)
			wcancel()
			ack := time.Now()
			if ctx.Err() != nil {
				return
			}
			l.mu.Lock()
			if err != nil && l.err == nil {
				l.err = fmt.Errorf("write %d on the primary: %w", next, err)
			}
			if err == nil {
				l.acks[next] = ack
				l.commit = append(l.commit, loadSample{ack, ack.Sub(t0)})
			}
			l.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(loadReadEvery)
		defer tick.Stop()
		seen := first - 1
		for {
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			var newest int64
			err := ddb.QueryRowContext(rctx, "SELECT COALESCE(MAX(id), 0) FROM bench.lat").Scan(&newest)
			rcancel()
			now := time.Now()
			if err == nil {
				l.mu.Lock()
				for ; seen < newest; seen++ {
					ack, ok := l.acks[seen+1]
					if !ok {
						ack = now // applied before its acknowledgement reached us
					}
					l.apply = append(l.apply, loadSample{ack, max(0, now.Sub(ack))})
				}
				l.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return l, nil
}

// stop ends the writes and returns the first write error, if any.
func (l *donorLoad) stop() error {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// window returns the p50 and p95 (milliseconds) of the commit and apply
// samples acknowledged in [from, to), and how many there were.
func (l *donorLoad) window(from, to time.Time) (commit, apply [2]float64, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pick := func(v []loadSample) ([2]float64, int) {
		var ms []float64
		for _, s := range v {
			if !s.at.Before(from) && s.at.Before(to) {
				ms = append(ms, float64(s.d)/float64(time.Millisecond))
			}
		}
		return [2]float64{percentile(ms, 50), percentile(ms, 95)}, len(ms)
	}
	commit, n = pick(l.commit)
	apply, _ = pick(l.apply)
	return commit, apply, n
}

// percentile is the nearest-rank percentile of v (NaN when empty).
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return median(nil)
	}
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	i := int(float64(len(c))*p/100+0.5) - 1
	return c[min(max(i, 0), len(c)-1)]
}

// podCPU is the CPU time (cgroup, nanoseconds) of each of a pod's
// containers, by container name.
func podCPU(ctx context.Context, cli *client.Client, ids map[string]string) (map[string]uint64, error) {
	out := map[string]uint64{}
	for name, id := range ids {
		cpu, _, err := containerStats(ctx, cli, id)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = cpu
	}
	return out, nil
}

// containerStats is a container's CPU time (nanoseconds) and anonymous
// resident memory (bytes) from its cgroup, through the Docker API.
func containerStats(ctx context.Context, cli *client.Client, id string) (cpuNanos, rss uint64, err error) {
	res, err := cli.ContainerStats(ctx, id, client.ContainerStatsOptions{})
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	var st struct {
		CPUStats struct {
			CPUUsage struct {
				TotalUsage uint64 `json:"total_usage"`
			} `json:"cpu_usage"`
		} `json:"cpu_stats"`
		MemoryStats struct {
			Stats map[string]uint64 `json:"stats"`
		} `json:"memory_stats"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return 0, 0, err
	}
	rss = st.MemoryStats.Stats["rss"] // cgroup v1
	if v, ok := st.MemoryStats.Stats["anon"]; ok && rss == 0 {
		rss = v // cgroup v2
	}
	return st.CPUStats.CPUUsage.TotalUsage, rss, nil
}

// donorCost is what one seed cost its donor, beside a baseline of the same
// writes before the recipient started.
type donorCost struct {
	ids               map[string]string // donor container name -> id
	load              *donorLoad
	loadStart         time.Time
	cpuLoad, cpuStart map[string]uint64
	recipientStart    time.Time
}

// startDonorCost starts the writes, waits loadBaseline, and returns with
// the recipient about to start.
func startDonorCost(ctx context.Context, b *testing.B, cli *client.Client, c *podcluster.Cluster, donor *podcluster.Pod, pdb, ddb *sql.DB) *donorCost {
	dc := &donorCost{ids: map[string]string{}}
	for _, which := range []string{"server", "sidecar", "backup"} {
		if which == "backup" && !c.Seeding() {
			continue
		}
		in, err := donor.Inspect(ctx, which)
		must(b, err)
		dc.ids[which] = in.ID
	}
	var err error
	dc.cpuLoad, err = podCPU(ctx, cli, dc.ids)
	must(b, err)
	dc.loadStart = time.Now()
	dc.load, err = startDonorLoad(ctx, pdb, ddb)
	must(b, err)
	t := time.NewTimer(loadBaseline)
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	t.Stop()
	dc.cpuStart, err = podCPU(ctx, cli, dc.ids)
	must(b, err)
	dc.recipientStart = time.Now()
	return dc
}

// finish stops the writes once the recipient is ready and adds the
// donor's figures for the seed [seedStart, inPlace] to s.
func (dc *donorCost) finish(ctx context.Context, b *testing.B, cli *client.Client, s *samples, seedStart, inPlace time.Time) {
	cpuEnd, err := podCPU(ctx, cli, dc.ids)
	end := time.Now()
	if lerr := dc.load.stop(); lerr != nil {
		b.Errorf("writes during the seed: %v", lerr)
	}
	must(b, err)
	base := dc.recipientStart.Sub(dc.loadStart).Seconds()
	arm := end.Sub(dc.recipientStart).Seconds()
	var extra float64
	var parts []string
	names := make([]string, 0, len(dc.ids))
	for name := range dc.ids {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		rate := float64(dc.cpuStart[name]-dc.cpuLoad[name]) / 1e9 / base
		used := float64(cpuEnd[name]-dc.cpuStart[name]) / 1e9
		e := max(0, used-rate*arm)
		extra += e
		s.add("cpu_s_donor_seed_"+name, e)
		parts = append(parts, fmt.Sprintf("%s %.2f CPU-s (%.3f/s before)", name, e, rate))
	}
	s.add("cpu_s_donor_seed", extra)

	bc, ba, bn := dc.load.window(dc.loadStart, dc.recipientStart)
	sc, sa, sn := dc.load.window(seedStart, inPlace)
	s.add("ms_commit_p50_before", bc[0])
	s.add("ms_commit_p95_before", bc[1])
	s.add("ms_apply_p50_before", ba[0])
	s.add("ms_apply_p95_before", ba[1])
	if sn > 0 {
		s.add("ms_commit_p50_seed", sc[0])
		s.add("ms_commit_p95_seed", sc[1])
		s.add("ms_apply_p50_seed", sa[0])
		s.add("ms_apply_p95_seed", sa[1])
	}
	b.Logf("donor during the seed (%.1f s from the recipient's start to ready): %.2f CPU-s above its rate before (%s); writes before (%d): commit p50/p95 %.1f/%.1f ms, donor apply %.0f/%.0f ms; during the copy (%d): commit %.1f/%.1f ms, apply %.0f/%.0f ms",
		arm, extra, strings.Join(parts, ", "), bn, bc[0], bc[1], ba[0], ba[1], sn, sc[0], sc[1], sa[0], sa[1])
}

// donorCostRows are BenchmarkSeed's rows for the donor.
func donorCostRows(s *samples, seeding bool) []summaryRow {
	cpu, n := s.median("cpu_s_donor_seed")
	server, _ := s.median("cpu_s_donor_seed_server")
	what := fmt.Sprintf("%.2f CPU-s (server %.2f", cpu, server)
	if seeding {
		backup, _ := s.median("cpu_s_donor_seed_backup")
		what += fmt.Sprintf(", backup container %.2f", backup)
	}
	sidecar, _ := s.median("cpu_s_donor_seed_sidecar")
	what += fmt.Sprintf(", sidecar %.2f)", sidecar)
	peak, pn := s.median("MiB_donor_server_peak")
	before, _ := s.median("MiB_donor_server_before")
	ms := func(name string) float64 { v, _ := s.median(name); return v }
	_, ln := s.median("ms_commit_p50_seed")
	return []summaryRow{
		{Figure: "donor: CPU-seconds the seed cost it (above its rate with the same writes before)", Value: what, N: n, Target: "-", Met: "-"},
		{Figure: "donor: its server's peak RSS while copying (before)", Value: fmt.Sprintf("%.1f MiB (%.1f MiB)", peak, before), N: pn, Target: "-", Met: "-"},
		{Figure: "writes every 100 ms: primary commit p50/p95, before -> during the copy",
			Value: fmt.Sprintf("%.1f/%.1f -> %.1f/%.1f ms", ms("ms_commit_p50_before"), ms("ms_commit_p95_before"), ms("ms_commit_p50_seed"), ms("ms_commit_p95_seed")), N: ln, Target: "-", Met: "-"},
		{Figure: "  the donor's apply of them p50/p95 (50 ms polls), before -> during the copy",
			Value: fmt.Sprintf("%.0f/%.0f -> %.0f/%.0f ms", ms("ms_apply_p50_before"), ms("ms_apply_p95_before"), ms("ms_apply_p50_seed"), ms("ms_apply_p95_seed")), N: ln, Target: "-", Met: "-"},
	}
}
