package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
)

// Sidecar log messages (bootstrap/sidecar.go, bootstrap/act.go).
const (
	msgLocalUp = "local server answers"
	msgChange  = "pointed replication at the primary"
	// init (bootstrap/cmdinit.go), with INIT_WAIT_FOR_PRIMARY
	msgReachable = "primary is reachable"
)

// BenchmarkColdStart starts empty pods, as a new StatefulSet does, four
// ways per iteration (in rotating order, so that drift in the machine's load
// touches all alike):
//
//   - one_pod: mysql-0 alone;
//   - parallel: mysql-0..2 all at once (podManagementPolicy: Parallel);
//   - ordered: mysql-1 only once mysql-0 is ready, mysql-2 once mysql-1 is
//     (OrderedReady);
//   - parallel_init_waits, for comparison: Parallel with
//     INIT_WAIT_FOR_PRIMARY=true, the replicas' init waiting for the
//     primary's port before their servers start (the default until
//     2026-12, see coldParallel);
//   - servers_one and servers_parallel, the floor under the ratio: the
//     same pods without their sidecars (sandbox, init, the server's first
//     start until it accepts connections), one alone and three at once.
//     Their ratio is what the servers' own first starts cost when three
//     share the machine; what the Parallel ratio adds to it is ours.
//
// Each is timed from the first pod's creation until every /readyz is 200,
// together with the CPU time the whole machine spent meanwhile.
// In the parallel arm a row is written on the primary the moment its
// /readyz turns 200, and the replicas are watched until they hold it: the
// time from the primary being ready to each replica replicating, from the
// replica's own server being up, and from the later of the two (the
// replica's own part: it cannot hold the row before the primary wrote it).
func BenchmarkColdStart(b *testing.B) {
	requireDocker(b)
	var s samples
	round := 0
	for b.Loop() {
		arms := []func(*testing.B, *samples){
			coldOnePod,
			func(b *testing.B, s *samples) { coldParallel(b, s, false) },
			coldOrdered,
			func(b *testing.B, s *samples) { coldParallel(b, s, true) },
			func(b *testing.B, s *samples) { coldServers(b, s, 1) },
			func(b *testing.B, s *samples) { coldServers(b, s, 3) },
		}
		for i := range arms {
			arms[(i+round)%len(arms)](b, &s)
		}
		round++
		one, _ := s.median("s_one_pod")
		b.Logf("round %d done (one pod so far: %.2f s)", round, one)
	}
	ratios(&s)
	s.report(b)

	summarize(b,
		secondsRow(&s, "s_primary_ready_to_row_mysql-1", "primary ready -> row on mysql-1 (Parallel start)", 1.0, "<= 1.0 s"),
		secondsRow(&s, "s_primary_ready_to_row_mysql-2", "primary ready -> row on mysql-2 (Parallel start)", 1.0, "<= 1.0 s"),
		secondsRow(&s, "s_joinable_to_row_mysql-1", "mysql-1: the later of its server up and the primary ready -> row on it", 0.5, "<= 0.5 s"),
		secondsRow(&s, "s_joinable_to_row_mysql-2", "mysql-2: the later of its server up and the primary ready -> row on it", 0.5, "<= 0.5 s"),
		secondsRow(&s, "s_replica_up_to_row_mysql-1", "  mysql-1 server up -> row on it (includes waiting for the primary when it is up first)", 0, "-"),
		secondsRow(&s, "s_replica_up_to_row_mysql-2", "  mysql-2 server up -> row on it (same)", 0, "-"),
		secondsRow(&s, "s_replica_up_to_sidecar_sees_it_mysql-1", "  of which: mysql-1 server up -> its sidecar sees it", 0, "-"),
		secondsRow(&s, "s_change_to_row_mysql-1", "  of which: mysql-1 CHANGE -> row on it", 0, "-"),
		secondsRow(&s, "s_primary_ready_to_ready_mysql-1", "primary ready -> mysql-1 /readyz 200", 1.5, "<= 1.5 s"),
		secondsRow(&s, "s_primary_ready_to_ready_mysql-2", "primary ready -> mysql-2 /readyz 200", 1.5, "<= 1.5 s"),
		secondsRow(&s, "s_row_to_ready_mysql-1", "  of which: row on mysql-1 -> its /readyz 200", 0, "-"),
		secondsRow(&s, "s_one_pod", "cold start, 1 pod (all /readyz 200)", 0, "-"),
		ratioRow(&s, "x_parallel", "cold start, 3 pods Parallel", 1.35, "<= 1.35x one pod"),
		cpuFloorRow(&s),
		ratioRow(&s, "x_servers_parallel", "  floor: the same 3 pods' first starts without sidecars (init, server accepting)", 0, "-"),
		secondsRow(&s, "s_servers_one", "  floor's 1 pod without sidecar", 0, "-"),
		secondsRow(&s, "t_parallel_mysql-1_1_server_started", "  of which: mysql-1 server container started at", 0, "-"),
		ratioRow(&s, "x_ordered", "cold start, 3 pods OrderedReady", 0, "~3x one pod"),
		ratioRow(&s, "x_parallel_init_waits", "  for comparison: Parallel, replica init waiting (INIT_WAIT_FOR_PRIMARY)", 0, "-"),
		secondsRow(&s, "s_first_server_start", "first server start (container -> accepting)", 0, "-"),
		cpuRow(&s, "cpu_s_one_pod", "  CPU-seconds used (whole machine), 1 pod"),
		cpuRow(&s, "cpu_s_parallel", "  CPU-seconds used (whole machine), 3 pods Parallel"),
	)
}

// cpuFloorRow reports the ratio the three first starts' CPU alone would
// give on this machine's cores, had nothing waited: the floor under the
// Parallel ratio (CPU-seconds of the Parallel arm over the cores, against
// one pod's wall time).
func cpuFloorRow(s *samples) summaryRow {
	cpu, n := s.median("cpu_s_parallel")
	one, _ := s.median("s_one_pod")
	cores := float64(runtime.NumCPU())
	floor := 0.0
	if one > 0 {
		floor = max(cpu/cores, one) / one
	}
	return summaryRow{Figure: "  CPU floor: the three first starts' CPU-seconds on " + fmt.Sprint(cores) + " cores", Value: fmt.Sprintf("%.2fx one pod", floor), N: n, Target: "-", Met: "-"}
}

// cpuRow reports CPU-seconds and the wall time they need at least on this
// machine's cores.
func cpuRow(s *samples, name, figure string) summaryRow {
	m, n := s.median(name)
	cores := float64(runtime.NumCPU())
	return summaryRow{Figure: figure, Value: fmt.Sprintf("%.1f CPU-s (>= %.1f s on %.0f cores)", m, m/cores, cores), N: n, Target: "-", Met: "-"}
}

// ratios adds each round's parallel/one-pod and ordered/one-pod ratio.
func ratios(s *samples) {
	s.mu.Lock()
	one, par, ord, nw := s.m["s_one_pod"], s.m["s_parallel_all_ready"], s.m["s_ordered_all_ready"], s.m["s_parallel_init_waits_all_ready"]
	sOne, sPar := s.m["s_servers_one"], s.m["s_servers_parallel"]
	s.mu.Unlock()
	for i := range min(len(sOne), len(sPar)) {
		s.add("x_servers_parallel", sPar[i]/sOne[i])
	}
	for i := range one {
		if i < len(par) {
			s.add("x_parallel", par[i]/one[i])
		}
		if i < len(ord) {
			s.add("x_ordered", ord[i]/one[i])
		}
		if i < len(nw) {
			s.add("x_parallel_init_waits", nw[i]/one[i])
		}
	}
}

func ratioRow(s *samples, ratio, figure string, max float64, target string) summaryRow {
	secs := map[string]string{
		"x_parallel":            "s_parallel_all_ready",
		"x_ordered":             "s_ordered_all_ready",
		"x_parallel_init_waits": "s_parallel_init_waits_all_ready",
		"x_servers_parallel":    "s_servers_parallel",
	}[ratio]
	abs, _ := s.median(secs)
	r, n := s.median(ratio)
	return summaryRow{Figure: figure, Value: fmt.Sprintf("%.2f s = %.2fx", abs, r), N: n, Target: target, Met: verdict(r, max)}
}

// coldOnePod times mysql-0 alone, and the server's first start (what
// mariadb-install-db and the entrypoint's temporary server cost).
func coldOnePod(b *testing.B, s *samples) {
	ctx := context.Background()
	sc := newScope(b)
	defer sc.close()
	c := newCluster(sc, 1)
	p := c.Pod(0)

	t0, cpu0 := time.Now(), busyCPU()
	must(b, p.CreateSandbox(ctx))
	ep, err := endpointsOf(ctx, p)
	must(b, err)
	_, err = p.RunInit(ctx, 2*time.Minute)
	must(b, err)
	must(b, p.StartServer(ctx))
	serverStarted := time.Now()
	must(b, p.StartSidecar(ctx))
	db := ep.root(c)
	defer db.Close()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	up, err := watchServer(wctx, db, 0, false)
	must(b, err)
	ready, err := watch(wctx, p.Name+" /readyz", ep.ready)
	must(b, err)
	s.since("s_one_pod", t0, ready)
	s.add("cpu_s_one_pod", (busyCPU() - cpu0).Seconds())
	s.since("s_first_server_start", serverStarted, up.Up)
	s.since("s_one_pod_pod_created_to_server_started", t0, serverStarted)
	s.since("s_one_pod_server_up_to_ready", up.Up, ready)
}

// coldParallel starts three pods at once. With initWaits, for comparison:
// the replicas' init waits for the primary's port before their servers
// start (INIT_WAIT_FOR_PRIMARY=true).
func coldParallel(b *testing.B, s *samples, initWaits bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sc := newScope(b)
	defer sc.close()
	var initEnv map[string]string
	if initWaits {
		initEnv = map[string]string{"INIT_WAIT_FOR_PRIMARY": "true"}
	}
	c := newClusterWith(sc, 3, initEnv)

	type result struct {
		ready   time.Time
		watch   serverWatch
		started time.Time // server container started
		err     error
	}
	results := make([]result, 3)
	primaryReady := make(chan time.Time, 1)
	t0, cpu0 := time.Now(), busyCPU()
	var wg sync.WaitGroup
	for i, p := range c.Pods() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			if r.err = p.CreateSandbox(ctx); r.err != nil {
				return
			}
			ep, err := endpointsOf(ctx, p)
			if r.err = err; err != nil {
				return
			}
			db := ep.root(c)
			defer db.Close()
			var ww sync.WaitGroup
			defer ww.Wait()
			var res podcluster.Result
			if res, r.err = p.RunInit(ctx, 4*time.Minute); r.err == nil && res.Code != 0 {
				r.err = fmt.Errorf("init exited %d: %s", res.Code, podcluster.Tail(res.Output(), 10))
			}
			if r.err == nil {
				r.err = p.StartServer(ctx)
			}
			if r.err != nil {
				cancel()
				return
			}
			r.started = time.Now()
			// Poll only once there is something to see: the pollers share
			// the two cores with what they measure.
			ww.Add(1)
			go func() {
				defer ww.Done()
				r.watch, _ = watchServer(ctx, db, 1, i > 0)
			}()
			if r.err = p.StartSidecar(ctx); r.err != nil {
				cancel()
				return
			}
			ww.Add(1)
			go func() {
				defer ww.Done()
				var err error
				if r.ready, err = watch(ctx, p.Name+" /readyz", ep.ready); err != nil {
					return
				}
				if i == 0 {
					primaryReady <- r.ready
					// The row an application would write first.
					if err := writeMark(ctx, db, 1, true); err != nil {
						b.Errorf("write on the primary: %v", err)
						cancel()
					}
				}
			}()
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil || r.ready.IsZero() || (i > 0 && r.watch.Row.IsZero()) {
			c.DumpLogs(30)
			b.Fatalf("parallel start: mysql-%d: err %v, ready %v, row %v", i, r.err, !r.ready.IsZero(), !r.watch.Row.IsZero())
		}
	}
	pReady := <-primaryReady
	last := pReady
	for _, r := range results {
		if r.ready.After(last) {
			last = r.ready
		}
	}
	// The CPU the machine spent until the last pod was ready (the
	// watchers poll a little longer for rows; that is negligible).
	cpu := (busyCPU() - cpu0).Seconds()
	// Each pod's timeline from t0: server container started, server up,
	// /readyz 200.
	arm := "t_parallel_"
	if initWaits {
		arm = "t_parallel_init_waits_"
	}
	for i, p := range c.Pods() {
		r := results[i]
		s.since(arm+p.Name+"_1_server_started", t0, r.started)
		s.since(arm+p.Name+"_2_server_up", t0, r.watch.Up)
		s.since(arm+p.Name+"_3_ready", t0, r.ready)
	}
	if initWaits {
		s.since("s_parallel_init_waits_all_ready", t0, last)
		s.add("cpu_s_parallel_init_waits", cpu)
		return
	}
	s.since("s_parallel_all_ready", t0, last)
	s.add("cpu_s_parallel", cpu)
	s.since("s_parallel_created_to_server_started_mysql-0", t0, results[0].started)
	s.since("s_parallel_primary_up_mysql-0", t0, results[0].watch.Up)
	for i, p := range c.Pods()[1:] {
		r := results[i+1]
		s.since("s_primary_ready_to_row_"+p.Name, pReady, r.watch.Row)
		s.since("s_primary_ready_to_ready_"+p.Name, pReady, r.ready)
		s.since("s_replica_up_to_row_"+p.Name, r.watch.Up, r.watch.Row)
		// The row is written when the primary is ready: a replica whose
		// server came up first cannot hold it sooner. From the later of
		// the two is the replica's own part.
		joinable := r.watch.Up
		if pReady.After(joinable) {
			joinable = pReady
		}
		s.since("s_joinable_to_row_"+p.Name, joinable, r.watch.Row)
		s.since("s_primary_ready_to_replica_up_"+p.Name, pReady, r.watch.Up)
		s.since("s_row_to_ready_"+p.Name, r.watch.Row, r.ready)
		// Where the time goes: the replica's server initialises its data
		// directory beside the primary's, then the sidecar notices it and
		// points it at the primary.
		// Where the time between the replica's server and its first row
		// goes, from the sidecar's own log.
		out := p.Logs("sidecar").Stderr
		if seen, ok := logTime(out, msgLocalUp); ok {
			s.since("s_replica_up_to_sidecar_sees_it_"+p.Name, r.watch.Up, seen)
			if change, ok := logTime(out, msgChange); ok {
				s.since("s_sidecar_sees_server_to_change_"+p.Name, seen, change)
				s.since("s_change_to_row_"+p.Name, change, r.watch.Row)
			}
		}
	}
}

// coldServers starts n empty pods at once without their sidecars: sandbox,
// init, the server container, until every server accepts connections (the
// replicas' servers do not need the primary for that). It is the floor
// under the cold start ratios: the pods' own first starts sharing the
// machine, with nothing of the sidecar's in them.
func coldServers(b *testing.B, s *samples, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sc := newScope(b)
	defer sc.close()
	c := newCluster(sc, n)
	ups := make([]time.Time, n)
	errs := make([]error, n)
	t0 := time.Now()
	var wg sync.WaitGroup
	for i, p := range c.Pods() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = func() error {
				if err := p.CreateSandbox(ctx); err != nil {
					return err
				}
				ep, err := endpointsOf(ctx, p)
				if err != nil {
					return err
				}
				db := ep.root(c)
				defer db.Close()
				res, err := p.RunInit(ctx, 4*time.Minute)
				if err == nil && res.Code != 0 {
					err = fmt.Errorf("init exited %d: %s", res.Code, podcluster.Tail(res.Output(), 10))
				}
				if err == nil {
					err = p.StartServer(ctx)
				}
				if err != nil {
					return err
				}
				w, err := watchServer(ctx, db, 1, false)
				ups[i] = w.Up
				return err
			}()
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	last := t0
	for i, err := range errs {
		if err != nil {
			c.DumpLogs(30)
			b.Fatalf("servers only, %d pod(s): mysql-%d: %v", n, i, err)
		}
		if ups[i].After(last) {
			last = ups[i]
		}
	}
	if n == 1 {
		s.since("s_servers_one", t0, last)
		return
	}
	s.since("s_servers_parallel", t0, last)
}

// coldOrdered starts mysql-N+1 only once mysql-N is ready.
func coldOrdered(b *testing.B, s *samples) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sc := newScope(b)
	defer sc.close()
	c := newCluster(sc, 3)
	t0, cpu0 := time.Now(), busyCPU()
	var last time.Time
	for _, p := range c.Pods() {
		must(b, p.CreateSandbox(ctx))
		ep, err := endpointsOf(ctx, p)
		must(b, err)
		_, err = p.RunInit(ctx, 2*time.Minute)
		must(b, err)
		must(b, p.StartMain(ctx))
		if last, err = watch(ctx, p.Name+" /readyz", ep.ready); err != nil {
			c.DumpLogs(30)
			b.Fatal(err)
		}
	}
	s.since("s_ordered_all_ready", t0, last)
	s.add("cpu_s_ordered", (busyCPU() - cpu0).Seconds())
}

func must(b testing.TB, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
