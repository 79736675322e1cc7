package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
)

// baselineBound is how long the baseline's replicas are given to resume:
// MySQL's default 60 s connect retry, twice over, and some.
const baselineBound = 150 * time.Second

// BenchmarkPrimaryNewIP restarts the primary as a rescheduled pod does:
// its server is SIGKILLed, the pod is deleted (its address goes with it)
// and created again under the same names on a new address, init and all.
// Each iteration times, for every replica, the moment a row written on the
// new primary as soon as its /readyz is 200 is readable on the replica,
// from the primary being ready and from its server accepting connections.
//
//   - sidecar: the replicas as the sidecar leaves them (CHANGE with a 1 s
//     connect retry and a 2 s heartbeat; init's 10 s net timeout);
//   - mysql_defaults: the replicas' sidecars are stopped and the channel
//     put back to the server's defaults (MASTER_CONNECT_RETRY=60,
//     slave_net_timeout=60), as tutorial setups leave it.
//
// The restart is the same in both arms; a replica that has not resumed
// within 150 s counts as 150 s.
func BenchmarkPrimaryNewIP(b *testing.B) {
	requireDocker(b)
	b.Run("sidecar", func(b *testing.B) { primaryNewIP(b, false) })
	b.Run("mysql_defaults", func(b *testing.B) { primaryNewIP(b, true) })
}

// running is a ready three-pod cluster with the bench.marks table.
type running struct {
	c        *podcluster.Cluster
	eps      []endpoints
	replicas []*sql.DB // root pools to mysql-1 and mysql-2
}

// startCluster brings three pods up at once and waits until the replicas
// hold mark 0.
func startCluster(b *testing.B, sc *scope) *running {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := newCluster(sc, 3)
	startPods(ctx, b, c, c.Pods()...)
	r := &running{c: c}
	for _, p := range c.Pods() {
		ep, err := endpointsOf(ctx, p)
		must(b, err)
		r.eps = append(r.eps, ep)
	}
	pdb := r.eps[0].root(c)
	defer pdb.Close()
	must(b, writeMark(ctx, pdb, 0, true))
	for _, ep := range r.eps[1:] {
		db := ep.root(c)
		sc.Cleanup(func() { db.Close() })
		r.replicas = append(r.replicas, db)
		if _, err := watchServer(ctx, db, 0, true); err != nil {
			b.Fatalf("%s does not hold mark 0: %v", ep.pod.Name, err)
		}
	}
	return r
}

func primaryNewIP(b *testing.B, defaults bool) {
	ctx := context.Background()
	sc := newScope(b)
	defer sc.close()
	r := startCluster(b, sc)
	c, p := r.c, r.c.Pod(0)
	if defaults {
		for i, rp := range c.Pods()[1:] {
			res, err := rp.StopSidecar(ctx, 10*time.Second)
			must(b, err)
			if res.Code != 0 {
				b.Fatalf("%s sidecar exited %d", rp.Name, res.Code)
			}
			stmts := []string{
				"SET GLOBAL slave_net_timeout = 60",
				"STOP REPLICA",
				"CHANGE MASTER TO MASTER_CONNECT_RETRY = 60",
				"START REPLICA",
			}
			if server.Flavor == "mysql" {
				// 8.4 removed CHANGE MASTER; the slave_ names are deprecated.
				stmts = []string{
					"SET GLOBAL replica_net_timeout = 60",
					"STOP REPLICA",
					"CHANGE REPLICATION SOURCE TO SOURCE_CONNECT_RETRY = 60",
					"START REPLICA",
				}
			}
			for _, stmt := range stmts {
				if _, err := r.replicas[i].ExecContext(ctx, stmt); err != nil {
					b.Fatalf("%s: %s: %v", rp.Name, stmt, err)
				}
			}
			b.Logf("%s: sidecar stopped; %s", rp.Name, channelSettings(ctx, b, r.replicas[i]))
		}
	}

	var s samples
	mark := 0
	for b.Loop() {
		mark++
		res := restartPrimary(ctx, b, r, p, mark, defaults)
		s.since("s_primary_server_start", res.serverStarted, res.up)
		s.since("s_primary_up_to_writable", res.up, res.writable)
		s.since("s_primary_up_to_ready", res.up, res.ready)
		s.since("s_primary_up_to_write", res.up, res.written)
		s.since("s_primary_gone_to_ready", res.gone, res.ready)
		for i, rp := range c.Pods()[1:] {
			row := res.rows[i]
			if row.IsZero() { // did not resume within the bound
				row = res.ready.Add(baselineBound)
			}
			s.since("s_ready_to_row_"+rp.Name, res.ready, row)
			s.since("s_up_to_row_"+rp.Name, res.up, row)
		}
		// The next restart starts from replicas that replicate again.
		for i, db := range r.replicas {
			wctx, cancel := context.WithTimeout(ctx, baselineBound)
			_, err := watchServer(wctx, db, mark, true)
			cancel()
			if err != nil {
				b.Fatalf("mysql-%d never resumed: %v", i+1, err)
			}
		}
		if !defaults {
			for _, ep := range r.eps[1:] {
				wctx, cancel := context.WithTimeout(ctx, time.Minute)
				_, err := watch(wctx, ep.pod.Name+" /readyz", ep.ready)
				cancel()
				must(b, err)
			}
		}
	}
	s.report(b)

	arm, max, target := "sidecar", 2.0, "<= 2 s"
	if defaults {
		arm, max, target = "MySQL defaults", 0, "- (baseline)"
	}
	summarize(b,
		secondsRow(&s, "s_ready_to_row_mysql-1", "primary new IP ready -> row on mysql-1, "+arm, max, target),
		secondsRow(&s, "s_ready_to_row_mysql-2", "primary new IP ready -> row on mysql-2, "+arm, max, target),
		secondsRow(&s, "s_up_to_row_mysql-1", "primary new IP server up -> row on mysql-1, "+arm, 0, "-"),
	)
	if !defaults {
		summarize(b,
			secondsRow(&s, "s_primary_server_start", "killed primary: the server's own recovery (container started -> accepting connections)", 0, "-"),
			secondsRow(&s, "s_primary_up_to_writable", "  our part: accepting -> writable", 0, "-"),
			secondsRow(&s, "s_primary_up_to_ready", "  our part: accepting -> /readyz 200", 0, "-"),
			secondsRow(&s, "s_primary_up_to_write", "  our part: accepting -> first write accepted", 1.0, "<= 1.0 s"),
		)
	}
}

// restarted is when things happened during one restart of the primary.
type restarted struct {
	gone, serverStarted, up, writable, ready, written time.Time
	rows                                              []time.Time // per replica; zero: not within the bound
}

func restartPrimary(ctx context.Context, b *testing.B, r *running, p *podcluster.Pod, mark int, defaults bool) restarted {
	var res restarted
	oldIP, err := p.IP(ctx)
	must(b, err)
	must(b, p.KillServer(ctx))
	p.Remove()
	res.gone = time.Now()

	must(b, p.CreateSandbox(ctx))
	ep, err := endpointsOf(ctx, p)
	must(b, err)
	r.eps[0] = ep
	newIP, err := p.IP(ctx)
	must(b, err)
	if newIP == oldIP {
		b.Fatalf("%s came back on its old address %s", p.Name, oldIP)
	}
	db := ep.root(r.c)
	defer db.Close()
	wctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	upc := make(chan serverWatch, 1)
	writablec := make(chan time.Time, 1)
	go func() {
		w, _ := watchServer(wctx, db, 0, false)
		upc <- w
		// Then when the sidecar made it writable.
		at, _ := watchEvery(wctx, 20*time.Millisecond, p.Name+" writable", func(ctx context.Context) bool {
			var ro int
			return db.QueryRowContext(ctx, "SELECT @@GLOBAL.read_only").Scan(&ro) == nil && ro == 0
		})
		writablec <- at
	}()
	_, err = p.RunInit(wctx, 2*time.Minute)
	must(b, err)
	must(b, p.StartServer(wctx))
	res.serverStarted = time.Now()
	must(b, p.StartSidecar(wctx))
	if res.ready, err = watch(wctx, p.Name+" /readyz", ep.ready); err != nil {
		r.c.DumpLogs(30)
		b.Fatal(err)
	}
	must(b, writeMark(wctx, db, mark, false))
	res.written = time.Now()
	res.up = (<-upc).Up
	res.writable = <-writablec

	res.rows = make([]time.Time, len(r.replicas))
	var wg sync.WaitGroup
	for i, rdb := range r.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithDeadline(ctx, res.ready.Add(baselineBound))
			defer cancel()
			if w, err := watchServer(rctx, rdb, mark, true); err == nil {
				res.rows[i] = w.Row
			}
		}()
	}
	wg.Wait()
	b.Logf("restart %d (%s -> %s): server start %.3f s, up->writable %.3f s, up->ready %.3f s, up->write %.3f s, ready->rows %s",
		mark, oldIP, newIP, res.up.Sub(res.serverStarted).Seconds(), res.writable.Sub(res.up).Seconds(), res.ready.Sub(res.up).Seconds(),
		res.written.Sub(res.up).Seconds(), rowsSince(res.ready, res.rows))
	return res
}

func rowsSince(from time.Time, rows []time.Time) string {
	var parts []string
	for _, t := range rows {
		if t.IsZero() {
			parts = append(parts, fmt.Sprintf(">%s", baselineBound))
			continue
		}
		parts = append(parts, fmt.Sprintf("%.3f s", t.Sub(from).Seconds()))
	}
	return strings.Join(parts, ", ")
}

// channelSettings reads what the replica's channel runs with.
func channelSettings(ctx context.Context, b *testing.B, db *sql.DB) string {
	var netTimeout string
	q := "SELECT @@GLOBAL.slave_net_timeout"
	if server.Flavor == "mysql" {
		q = "SELECT @@GLOBAL.replica_net_timeout"
	}
	must(b, db.QueryRowContext(ctx, q).Scan(&netTimeout))
	rows, err := db.QueryContext(ctx, "SHOW REPLICA STATUS")
	must(b, err)
	defer rows.Close()
	cols, err := rows.Columns()
	must(b, err)
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if !rows.Next() {
		b.Fatal("SHOW REPLICA STATUS: no channel")
	}
	must(b, rows.Scan(ptrs...))
	got := map[string]string{}
	for i, col := range cols {
		got[col] = vals[i].String
	}
	either := func(a, b string) string {
		if v, ok := got[a]; ok {
			return v
		}
		return got[b]
	}
	return fmt.Sprintf("net timeout %s, Connect_Retry %s, IO thread %s, source %s",
		netTimeout, got["Connect_Retry"], either("Replica_IO_Running", "Slave_IO_Running"), either("Source_Host", "Master_Host"))
}
