package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

// Log messages of a seed: the recipient's sidecar (bootstrap/act.go) and,
// on MariaDB, its server container's seed-exec (bootstrap/cmdseed.go).
const (
	msgSeedClone       = "seeding: started cloning the donor's data"
	msgSeedCloneDone   = "seeding: clone done"
	msgSeedCloneFailed = "seeding: clone failed"
	msgSeedRequest     = "seeding: asked the server container to restore a copy of the donor's data, and stopped the server"
	msgSeedRestore     = "seeding: restoring a copy before the server starts"
	msgSeedInPlace     = "seeding: copy in place"
	msgSeedCopyFailed  = "seeding: the copy failed; starting the server on the data it has"
)

// seedRawPort is where the raw copy's sender listens, in the donor pod's
// network namespace (the pod's own ports are 3306, 8080 and 8081).
const seedRawPort = "9123"

// seedMaxRatio is the target: a seed takes at most 1.25 times a raw copy
// of the same data between the same two places (DESIGN.md) on MariaDB,
// 1.1 times with MySQL's CLONE, which copies the files themselves.
func seedMaxRatio() float64 {
	if server.Flavor == "mysql" {
		return 1.1
	}
	return 1.25
}

// BenchmarkSeed measures how long a new replica takes to get its data by a
// copy (MySQL: CLONE INSTANCE, run by the sidecar; MariaDB: mariadb-backup
// streamed from the donor's backup container into the recipient's server
// container by seed-exec), against a raw copy of the donor's data directory
// between the same two pods, in the same run.
//
// Setup, once: mysql-0 (primary) and mysql-1 (replica, the donor) are
// started; BENCH_SEED_MIB (default 1024) MiB of random text is written on
// the primary in 1 MiB rows of an InnoDB table; once mysql-1 holds every
// row, both purge their binary logs (and mysql-1 rotates its relay log), so
// a new replica can only be seeded, and the donor's data directory holds
// the table data, not a second copy of it in logs that no seed copies.
//
// Each iteration is one sample of each arm, in alternating order, into the
// same emptied volumes of mysql-2, a new pod incarnation each time:
//
//   - seed: init, then the server, (MariaDB) backup and sidecar containers
//     start on the empty volume. seed_s is the copy: from the sidecar's
//     seed line (MySQL: "started cloning"; MariaDB: "asked the server
//     container to restore", which comes after it stopped the server) to
//     the copy being durable in the data directory (MySQL: the sidecar's
//     "clone done", when CLONE returns after its FILE SYNC stage, or its
//     "clone failed" line with error 3707, which is the same moment logged
//     as a failure, with a WARNING; MariaDB: seed-exec's "copy in place",
//     after the stream, --prepare and the synced swap).
//     s_seed_start_to_ready adds the server's restart on the copy and
//     catching up; s_main_to_ready counts from the containers' start
//     (which includes the server's first start on an empty data directory
//     and the sidecar's decision). The seed must come from mysql-1, and
//     the recipient must hold every row once ready.
//   - raw: a container in the donor pod's network namespace, with the
//     donor's data volume mounted read-only, serves `tar -cf - .` of it on
//     a TCP port while the donor runs; a container in the recipient pod's
//     network namespace, with the recipient's data volume, connects to the
//     donor pod's address, untars (`tar -xf -`) and syncs the filesystem
//     (syncfs, as the MariaDB restore does). raw_s runs from the connection
//     to the end of the sync.
//
// The donor's side (seedload_test.go): in both arms a row is written on
// the primary every 100 ms, from 3 s before the recipient starts (the
// baseline) until it is ready, and looked for on the donor every 50 ms. The
// seed arm reports the primary's commit latency and the donor's apply delay
// before and during the copy, the CPU-seconds the donor pod's containers
// spent above their rate in the baseline, and its server's peak resident
// set against its size before.
//
// Memory: the recipient sidecar's peak resident set while it seeds is its
// VmHWM (read from /proc/1/status by a container sharing its PID
// namespace once the recipient is ready: the peak over its whole life,
// seeding included) and the largest RSS `docker top` showed, sampled every
// 500 ms from the recipient's start to ready; on MariaDB the same samples
// give the peaks of seed-exec, mbstream and mariadb-backup --prepare in the
// recipient's server container, and of backup-server and mariadb-backup
// --backup in the donor's backup container.
func BenchmarkSeed(b *testing.B) {
	requireDocker(b)
	mib, err := seedMiB()
	must(b, err)
	ctx := context.Background()
	sc := newScope(b)
	defer sc.close()
	c := newCluster(sc, 3)
	primary, donor, recipient := c.Pod(0), c.Pod(1), c.Pod(2)
	startPods(ctx, b, c, primary, donor)
	pdb, err := primary.Root(ctx)
	must(b, err)
	defer pdb.Close()
	ddb, err := donor.Root(ctx)
	must(b, err)
	defer ddb.Close()
	fillSeedData(ctx, b, c, primary, donor, pdb, ddb, mib)
	must(b, createLoadTable(ctx, pdb))
	cli, err := podcluster.NewDockerClient()
	must(b, err)
	defer cli.Close()

	bound := seedBound(mib)
	var s samples
	round := 0
	for b.Loop() {
		// A replacement pod with a new address, as a StatefulSet makes one
		// (podcluster gives a pod at most 16 incarnations: then reuse).
		if round < 15 {
			if recipient.Exists() {
				recipient.Remove()
			}
			must(b, wipeClaim(ctx, c, recipient))
			must(b, recipient.CreateSandbox(ctx))
		}
		var rawS, rawMB, seedS, seedMB float64
		arms := []func(){
			func() {
				// The same writes as during the seed, so that both copies
				// read a donor that is applying them.
				dc := startDonorCost(ctx, b, cli, c, donor, pdb, ddb)
				defer dc.load.stop()
				rawS, rawMB = rawCopyArm(ctx, b, c, &s, donor, recipient, bound)
			},
			func() {
				dc := startDonorCost(ctx, b, cli, c, donor, pdb, ddb)
				seedS, seedMB = seedArm(ctx, b, c, cli, &s, dc, donor, recipient, mib, bound)
			},
		}
		for i := range arms {
			arms[(i+round)%len(arms)]()
		}
		round++
		s.add("x_seed_over_raw", seedS/rawS)
		if seedMB > 0 {
			s.add("x_seed_over_raw_per_byte", (seedS/seedMB)/(rawS/rawMB))
		}
		b.Logf("round %d: seed %.2f s, raw copy %.2f s, %.2fx", round, seedS, rawS, seedS/rawS)
	}
	s.report(b)

	seedMed, n := s.median("s_seed")
	ratio, _ := s.median("x_seed_over_raw")
	perByte, _ := s.median("x_seed_over_raw_per_byte")
	rawMed, _ := s.median("s_raw")
	seedMB, _ := s.median("MB_seed")
	rawMB, _ := s.median("MB_raw")
	seedRate, _ := s.median("MBps_seed")
	rawRate, _ := s.median("MBps_raw")
	hwm, hn := s.median("MiB_sidecar_peak_rss")
	sampled, _ := s.median("MiB_sidecar_peak_rss_sampled")
	copyWhat := "start -> copy in place (CLONE returned)"
	if c.Seeding() {
		copyWhat = "start -> copy in place (streamed, prepared, swapped)"
	}
	rows := []summaryRow{
		{Figure: fmt.Sprintf("seed %d MiB from a replica: %s", mib, copyWhat),
			Value: fmt.Sprintf("%.2f s = %.2fx raw copy (per byte %.2fx)", seedMed, ratio, perByte), N: n, Target: fmt.Sprintf("<= %.3gx raw copy", seedMaxRatio()), Met: verdict(ratio, seedMaxRatio())},
		{Figure: "  raw copy of the donor's datadir (tar | tar over TCP, syncfs)",
			Value: fmt.Sprintf("%.2f s, %.0f MB at %.0f MB/s", rawMed, rawMB, rawRate), N: n, Target: "-", Met: "-"},
		{Figure: "  seed's copy", Value: fmt.Sprintf("%.0f MB at %.0f MB/s", seedMB, seedRate), N: n, Target: "-", Met: "-"},
	}
	if !c.Seeding() {
		fileCopy, _ := s.median("s_clone_file_copy")
		restart, _ := s.median("s_clone_restart")
		recovery, _ := s.median("s_clone_recovery")
		rows = append(rows, summaryRow{
			Figure: "  clone stages: file copy / server restart / recovery",
			Value:  fmt.Sprintf("%.2f / %.2f / %.2f s", fileCopy, restart, recovery),
			N:      n, Target: "-", Met: "-",
		})
	}
	if c.Seeding() {
		rows = append(rows, secondsRow(&s, "s_restore", "  of which seed-exec's restore (stream, prepare, swap)", 0, "-"))
		stop, _ := s.median("s_request_to_restore_start")
		ask, _ := s.median("s_restore_start_to_stream")
		stream, _ := s.median("s_stream")
		prep, _ := s.median("s_prepare")
		swap, _ := s.median("s_swap")
		rows = append(rows, summaryRow{
			Figure: "  server stop+restart / donor answers / stream / prepare / swap+sync",
			Value:  fmt.Sprintf("%.2f / %.2f / %.2f / %.2f / %.2f s", stop, ask, stream, prep, swap),
			N:      n, Target: "-", Met: "-",
		})
	}
	rows = append(rows,
		secondsRow(&s, "s_seed_start_to_ready", "  seed start -> recipient /readyz 200", 0, "-"),
		secondsRow(&s, "s_main_to_ready", "  recipient containers started -> /readyz 200", 0, "-"),
		summaryRow{Figure: "sidecar peak RSS while seeding (VmHWM; docker top samples)",
			Value: fmt.Sprintf("%.1f MiB (%.1f MiB)", hwm, sampled), N: hn, Target: "<= 32 MiB", Met: verdict(hwm, 32)},
	)
	if c.Seeding() {
		peak := func(name string) string {
			v, n := s.median(name)
			if n == 0 {
				return "?"
			}
			return fmt.Sprintf("%.1f", v)
		}
		_, pn := s.median("MiB_peak_server_mysql-bootstrap")
		rows = append(rows,
			summaryRow{
				Figure: "  recipient: seed-exec / mbstream / mariadb-backup --prepare peak RSS",
				Value:  fmt.Sprintf("%s / %s / %s MiB", peak("MiB_peak_server_mysql-bootstrap"), peak("MiB_peak_server_mbstream"), peak("MiB_peak_server_mariadb-backup")),
				N:      pn, Target: "-", Met: "-",
			},
			summaryRow{
				Figure: "  donor: backup-server / mariadb-backup --backup peak RSS",
				Value:  fmt.Sprintf("%s / %s MiB", peak("MiB_peak_donor_backup_mysql-bootstrap"), peak("MiB_peak_donor_backup_mariadb-backup")),
				N:      pn, Target: "-", Met: "-",
			},
		)
	}
	rows = append(rows, donorCostRows(&s, c.Seeding())...)
	summarize(b, rows...)
}

// seedMiB reads BENCH_SEED_MIB.
func seedMiB() (int, error) {
	v := os.Getenv("BENCH_SEED_MIB")
	if v == "" {
		return 1024, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("BENCH_SEED_MIB=%q: want a whole number of MiB, at least 1", v)
	}
	return n, nil
}

// seedBound bounds one seed, one raw copy, and the replica catching up
// with the data: 2 MB/s on a loaded two-core machine, and five minutes.
func seedBound(mib int) time.Duration {
	return 5*time.Minute + time.Duration(mib)*time.Second/2
}

// startPods starts pods together and waits until all are ready.
func startPods(ctx context.Context, b *testing.B, c *podcluster.Cluster, pods ...*podcluster.Pod) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = p.Start(ctx); errs[i] == nil {
				errs[i] = p.WaitReady(ctx, 4*time.Minute)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			c.DumpLogs(30)
			b.Fatal(err)
		}
	}
}

// seedRowsPerInsert is how many 1 MiB rows one INSERT writes: a 4 MiB
// transaction, well under either server's packet and event limits.
const seedRowsPerInsert = 4

// fillSeedData writes mib rows of 1 MiB (64 hex digits repeated 16384
// times: REPEAT runs in the server, the statements are short) on the
// primary, waits until the donor holds them all, then purges the binary
// logs of both.
func fillSeedData(ctx context.Context, b *testing.B, c *podcluster.Cluster, primary, donor *podcluster.Pod, pdb, ddb *sql.DB, mib int) {
	ctx, cancel := context.WithTimeout(ctx, 2*seedBound(mib))
	defer cancel()
	start := time.Now()
	for _, stmt := range []string{
		"CREATE DATABASE IF NOT EXISTS bench",
		"CREATE TABLE bench.seed (id INT AUTO_INCREMENT PRIMARY KEY, pad LONGTEXT NOT NULL) ENGINE=InnoDB",
	} {
		if _, err := pdb.ExecContext(ctx, stmt); err != nil {
			b.Fatalf("%s: %v", stmt, err)
		}
	}
	union := "SELECT 1 AS n"
	for i := 2; i <= seedRowsPerInsert; i++ {
		union += fmt.Sprintf(" UNION ALL SELECT %d", i)
	}
	for done := 0; done < mib; {
		n := min(seedRowsPerInsert, mib-done)
		q := "INSERT INTO bench.seed (pad) SELECT REPEAT(SHA2(RAND(), 256), 16384) FROM (" + union + ") AS r LIMIT " + strconv.Itoa(n)
		if _, err := pdb.ExecContext(ctx, q); err != nil {
			b.Fatalf("row %d of bench.seed: %v", done, err)
		}
		done += n
	}
	written := time.Since(start)
	err := testkit.Eventually(ctx, seedBound(mib), donor.Name+" holds every row of bench.seed", func(ctx context.Context) error {
		var n int
		if err := ddb.QueryRowContext(ctx, "SELECT COUNT(*) FROM bench.seed").Scan(&n); err != nil {
			return err
		}
		if n != mib {
			return fmt.Errorf("%d of %d rows", n, mib)
		}
		return nil
	})
	if err != nil {
		c.DumpLogs(30)
		b.Fatal(err)
	}
	b.Logf("wrote %d MiB into bench.seed on %s in %s; %s held it all %s later", mib, primary.Name,
		written.Round(time.Millisecond), donor.Name, (time.Since(start) - written).Round(time.Millisecond))
	must(b, purgeBinaryLogs(ctx, pdb, false))
	must(b, purgeBinaryLogs(ctx, ddb, true))
	out, err := c.RunAsRoot(ctx, "cd /data && du -sb . && du -sb -- * .[!.]* 2>/dev/null | sort -rn | head -8 | tr '\\n' ' '",
		podcluster.Mount{Volume: donor.DataVolume, Target: "/data", ReadOnly: true})
	must(b, err)
	b.Logf("%s's data directory (bytes): %s", donor.Name, strings.Join(strings.Fields(out), " "))
}

// purgeBinaryLogs rotates the binary log and purges every earlier one
// (and, on a replica, rotates the relay log, whose applied files the
// server then removes), for at most 30 s (testkit.PurgeBinaryLogs).
func purgeBinaryLogs(ctx context.Context, db *sql.DB, relay bool) error {
	// LOCAL: a FLUSH RELAY LOGS that reached the binary log would be a
	// transaction of the replica's own (an errant GTID on MySQL).
	if relay {
		if _, err := db.ExecContext(ctx, "FLUSH LOCAL RELAY LOGS"); err != nil {
			return fmt.Errorf("FLUSH LOCAL RELAY LOGS: %w", err)
		}
	}
	_, err := testkit.PurgeBinaryLogs(ctx, db, 30*time.Second, nil)
	return err
}

// wipeClaim deletes everything on p's claim (data and STATE_DIR).
func wipeClaim(ctx context.Context, c *podcluster.Cluster, p *podcluster.Pod) error {
	_, err := c.RunAsRoot(ctx, "find /data /state -mindepth 1 -delete",
		podcluster.Mount{Volume: p.DataVolume, Target: "/data"},
		podcluster.Mount{Volume: p.StateVolume, Target: "/state"})
	if err != nil {
		return fmt.Errorf("wipe %s's claim: %w", p.Name, err)
	}
	return nil
}

// seedArm seeds p (its sandbox exists, its claim is empty) and returns
// seed_s and the MB the seed copied (0 when unknown); p's containers are
// removed and its claim wiped afterwards.
//
// dc has started the writes on the primary; the donor's cost is added
// to s once p is ready.
func seedArm(ctx context.Context, b *testing.B, c *podcluster.Cluster, cli *client.Client, s *samples, dc *donorCost, donor, p *podcluster.Pod, mib int, bound time.Duration) (seconds, mb float64) {
	defer dc.load.stop()
	ctx, cancel := context.WithTimeout(ctx, bound+5*time.Minute)
	defer cancel()
	defer func() {
		p.RemoveContainers()
		if err := wipeClaim(context.Background(), c, p); err != nil {
			b.Error(err)
		}
	}()
	ep, err := endpointsOf(ctx, p)
	must(b, err)
	t0 := time.Now()
	if _, err := p.RunInit(ctx, 5*time.Minute); err != nil {
		c.DumpLogs(30)
		b.Fatal(err)
	}
	s.since("s_init", t0, time.Now())
	must(b, p.StartMain(ctx))
	mainStarted := time.Now()

	watched := map[string]string{"donor_server": dc.ids["server"]}
	sidecar, err := p.Inspect(ctx, "sidecar")
	must(b, err)
	watched["sidecar"] = sidecar.ID
	before := &rssWatch{peaks: map[string]float64{}}
	before.sample(ctx, cli, "donor_server", dc.ids["server"])
	if v := largest(before.peaks, "donor_server/"); v > 0 {
		s.add("MiB_donor_server_before", v)
	}
	if c.Seeding() {
		in, err := p.Inspect(ctx, "server")
		must(b, err)
		watched["server"] = in.ID
		if in, err = donor.Inspect(ctx, "backup"); err == nil {
			watched["donor_backup"] = in.ID
		}
	}
	rss := watchRSS(ctx, cli, 500*time.Millisecond, watched)
	rctx, rcancel := context.WithTimeout(ctx, bound)
	ready, err := watchEvery(rctx, 200*time.Millisecond, p.Name+" /readyz", ep.ready)
	rcancel()
	peaks := rss.stop()
	if err != nil {
		c.DumpLogs(40)
		b.Fatalf("%s not seeded and ready within %s: %v", p.Name, bound, err)
	}
	s.since("s_main_to_ready", mainStarted, ready)

	// The copy, from the logs.
	side := p.Logs("sidecar").Stderr
	srv := p.Logs("server").Output()
	// The copy's end and failures are in the sidecar's log on MySQL, in
	// seed-exec's (the server container's) on MariaDB.
	startMsg, doneMsg, failMsg, out := msgSeedClone, msgSeedCloneDone, msgSeedCloneFailed, side
	if c.Seeding() {
		startMsg, doneMsg, failMsg, out = msgSeedRequest, msgSeedInPlace, msgSeedCopyFailed, srv
	}
	starts := testkit.LogLines(side, startMsg)
	dones := testkit.LogLines(out, doneMsg)
	if len(starts) == 0 || len(dones) == 0 {
		b.Fatalf("%s became ready without a seed (%d %q lines, %d %q lines): the bench's data did not force one\n%s",
			p.Name, len(starts), startMsg, len(dones), doneMsg, podcluster.Tail(side, 30))
	}
	fails := testkit.LogLines(out, failMsg)
	if len(fails) > 0 || len(starts) > 1 {
		b.Logf("WARNING %s: %d seed attempt(s), %d failed (first: %v); seed_s counts from the first", p.Name, len(starts), len(fails), firstOf(fails))
	}
	started, _ := lineTime(starts[0])
	inPlace, _ := lineTime(dones[len(dones)-1])
	if d, _ := starts[0]["donor"].(string); d != donor.Name {
		b.Errorf("%s seeded from %q (%v), want the ready replica %s (the raw copy is from %s); its sidecar:\n%s",
			p.Name, d, starts[0]["why"], donor.Name, donor.Name, podcluster.Tail(side, 40))
	}
	seedS := inPlace.Sub(started).Seconds()
	s.add("s_seed", seedS)
	s.since("s_main_to_seed_start", mainStarted, started)
	s.since("s_seed_start_to_ready", started, ready)
	s.since("s_copy_in_place_to_ready", inPlace, ready)
	dc.finish(ctx, b, cli, s, started, inPlace)
	if v := largest(peaks, "donor_server/"); v > 0 {
		s.add("MiB_donor_server_peak", v)
	}

	var copied float64
	if c.Seeding() {
		last := dones[len(dones)-1]
		copied, _ = last["bytes"].(float64)
		// The restore's phases, from seed-exec's log (its last restore).
		at := func(msg string) time.Time {
			l := testkit.LogLines(srv, msg)
			if len(l) == 0 {
				return time.Time{}
			}
			t, _ := lineTime(l[len(l)-1])
			return t
		}
		restore, receiving, verified, prepared := at(msgSeedRestore), at("seed: receiving the donor's backup"), at("seed: stream verified"), at("seed: copy complete and prepared")
		s.since("s_request_to_restore_start", started, restore)
		s.since("s_restore_start_to_stream", restore, receiving)
		s.since("s_stream", receiving, verified)
		s.since("s_prepare", verified, prepared)
		s.since("s_swap", prepared, inPlace)
		if e, ok := last["elapsed"].(string); ok {
			if d, err := time.ParseDuration(e); err == nil {
				s.add("s_restore", d.Seconds())
			}
		}
	} else {
		copied = cloneProgress(ctx, b, s, p)
	}
	if copied > 0 {
		s.add("MB_seed", copied/1e6)
		s.add("MBps_seed", copied/1e6/seedS)
	}

	logSeedStatus(ctx, b, ep)

	// The copy holds the data.
	db := ep.root(c)
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM bench.seed").Scan(&n); err != nil || n != mib {
		b.Errorf("%s after its seed: %d rows of bench.seed, want %d (%v)", p.Name, n, mib, err)
	}

	peakList := recordMemory(ctx, b, c, s, sidecar.ID, peaks)
	b.Logf("%s seeded from %v: %.2f s for %.0f MB (start -> copy in place), ready %.2f s after its containers started; peak RSS (MiB, docker top every 500 ms): %s",
		p.Name, starts[0]["donor"], seedS, copied/1e6, ready.Sub(mainStarted).Seconds(), peakList)
	return seedS, copied / 1e6
}

// logSeedStatus logs the seed object of the ready recipient's /status,
// with a WARNING when it still reports a seed's state.
func logSeedStatus(ctx context.Context, b *testing.B, ep endpoints) {
	code, body, err := ep.get(ctx, "/status")
	if err != nil || code != 200 {
		b.Logf("%s /status: %d %v", ep.pod.Name, code, err)
		return
	}
	var st struct {
		Seed json.RawMessage `json:"seed"`
	}
	var seed struct {
		State string `json:"state"`
	}
	var compact bytes.Buffer
	if json.Unmarshal([]byte(body), &st) != nil || json.Unmarshal(st.Seed, &seed) != nil || json.Compact(&compact, st.Seed) != nil {
		b.Logf("%s /status: no seed object: %s", ep.pod.Name, body)
		return
	}
	if seed.State != "" {
		b.Logf("WARNING %s is ready but /status says seed %s", ep.pod.Name, compact.String())
		return
	}
	b.Logf("%s /status seed: %s", ep.pod.Name, compact.String())
}

// recordMemory adds the sidecar's peak resident set (its VmHWM, or the
// largest sample when that cannot be read) and, on MariaDB, the sampled
// peaks of the seed's other processes to s, and lists every sampled peak.
func recordMemory(ctx context.Context, b *testing.B, c *podcluster.Cluster, s *samples, sidecarID string, peaks map[string]float64) string {
	sampled, ok := peaks["sidecar/mysql-bootstrap"]
	if ok {
		s.add("MiB_sidecar_peak_rss_sampled", sampled)
	}
	hwm, err := vmHWM(ctx, c, sidecarID)
	switch {
	case err == nil:
		s.add("MiB_sidecar_peak_rss", hwm)
	case ok:
		b.Logf("sidecar VmHWM: %v (reporting the sampled peak)", err)
		s.add("MiB_sidecar_peak_rss", sampled)
	default:
		b.Logf("sidecar VmHWM: %v (and no sample)", err)
	}
	names := make([]string, 0, len(peaks))
	for k := range peaks {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %.1f", k, peaks[k]))
		if c.Seeding() && !strings.HasPrefix(k, "sidecar/") && !strings.HasPrefix(k, "donor_server/") {
			s.add("MiB_peak_"+strings.ReplaceAll(k, "/", "_"), peaks[k])
		}
	}
	return strings.Join(parts, ", ")
}

// cloneProgress is what MySQL's clone copied, from the recipient's
// performance_schema.clone_progress (it survives the restart); it adds
// each stage's duration to s.
func cloneProgress(ctx context.Context, b *testing.B, s *samples, p *podcluster.Pod) float64 {
	var total float64
	err := p.WithRoot(ctx, func(db *sql.DB) error {
		rows, err := db.QueryContext(ctx, "SELECT STAGE, STATE, CAST(BEGIN_TIME AS CHAR), CAST(END_TIME AS CHAR), DATA FROM performance_schema.clone_progress ORDER BY ID")
		if err != nil {
			return err
		}
		defer rows.Close()
		var parts []string
		for rows.Next() {
			var stage, state string
			var begin, end sql.NullString
			var data sql.NullInt64
			if err := rows.Scan(&stage, &state, &begin, &end, &data); err != nil {
				return err
			}
			if stage == "FILE COPY" || stage == "PAGE COPY" || stage == "REDO COPY" {
				total += float64(data.Int64)
			}
			const layout = "2006-01-02 15:04:05.999999"
			t0, err0 := time.Parse(layout, begin.String)
			t1, err1 := time.Parse(layout, end.String)
			if err0 == nil && err1 == nil {
				s.since("s_clone_"+strings.ToLower(strings.ReplaceAll(stage, " ", "_")), t0, t1)
			}
			parts = append(parts, fmt.Sprintf("%s %s %s..%s %d B", stage, state, begin.String, end.String, data.Int64))
		}
		b.Logf("%s clone_progress: %s", p.Name, strings.Join(parts, "; "))
		return rows.Err()
	})
	if err != nil {
		b.Logf("%s clone_progress: %v", p.Name, err)
	}
	return total
}

func firstOf(l []map[string]any) any {
	if len(l) == 0 {
		return nil
	}
	return l[0]
}

// lineTime is a JSON log line's time field.
func lineTime(l map[string]any) (time.Time, bool) {
	v, _ := l["time"].(string)
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// watchEvery calls cond every interval until it returns true and returns
// when it first did; it fails when ctx ends first. (watch polls every
// 20 ms: too often to leave a copy of a minute alone on two cores.)
func watchEvery(ctx context.Context, interval time.Duration, what string, cond func(context.Context) bool) (time.Time, error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		ok := cond(cctx)
		cancel()
		if ok {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// rawCopyArm copies the donor's data directory into p's data volume (p's
// sandbox exists; it has no containers) with tar over TCP between the two
// pods' network namespaces, and returns raw_s and the MB copied; p's
// claim is wiped after.
func rawCopyArm(ctx context.Context, b *testing.B, c *podcluster.Cluster, s *samples, donor, p *podcluster.Pod, bound time.Duration) (seconds, mb float64) {
	p.RemoveContainers()
	must(b, wipeClaim(ctx, c, p))
	defer func() {
		if err := wipeClaim(context.Background(), c, p); err != nil {
			b.Error(err)
		}
	}()
	res, err := rawCopy(ctx, c, donor, p, bound)
	if err != nil {
		b.Fatalf("raw copy %s -> %s: %v", donor.Name, p.Name, err)
	}
	s.add("s_raw", res.seconds)
	s.add("s_raw_tar", res.tarSeconds)
	s.add("MB_raw", float64(res.bytes)/1e6)
	s.add("MBps_raw", float64(res.bytes)/1e6/res.seconds)
	b.Logf("raw copy %s -> %s: %.0f MB in %.2f s (tar %.2f s + syncfs %.2f s)", donor.Name, p.Name,
		float64(res.bytes)/1e6, res.seconds, res.tarSeconds, res.seconds-res.tarSeconds)
	return res.seconds, float64(res.bytes) / 1e6
}

type rawResult struct {
	bytes      int64
	seconds    float64 // connected -> untarred and synced
	tarSeconds float64 // connected -> untarred
}

// rawSender serves one tar stream of /data on PORT: tar writes straight
// into the accepted socket (perl only listens and hands it over). Files
// the running server changes or removes meanwhile make tar exit 1.
const rawSender = `exec perl -MIO::Socket::INET -e '
$SIG{ALRM} = sub { die "no receiver within 120 s\n" };
alarm 120;
my $l = IO::Socket::INET->new(LocalPort => $ENV{PORT}, Listen => 1, ReuseAddr => 1) or die "listen: $!\n";
my $c = $l->accept or die "accept: $!\n";
alarm 0;
close $l;
open(STDOUT, ">&", $c) or die "dup: $!\n";
exec("tar", "-C", "/data", "--totals", "--warning=no-file-changed", "--warning=no-file-removed", "-cf", "-", ".") or die "exec tar: $!\n";'
`

// rawReceiver connects to the sender (retrying while its container
// starts), untars into /data and syncs the filesystem, and prints when it
// connected, when tar finished and when the sync did.
const rawReceiver = `set -u
ok=0
for i in $(seq 600); do
	{ exec 3<"/dev/tcp/$DONOR/$PORT"; } 2>/dev/null && { ok=1; break; }
	sleep 0.1
done
[ "$ok" = 1 ] || { echo "could not connect to $DONOR:$PORT" >&2; exit 2; }
t0=$(date +%s.%N)
tar -C /data --numeric-owner --no-overwrite-dir --totals -xf - <&3 || exit
exec 3<&-
t1=$(date +%s.%N)
sync -f /data
t2=$(date +%s.%N)
echo "times $t0 $t1 $t2"
`

var totalsRE = regexp.MustCompile(`Total bytes read: ([0-9]+)`)

// helperSeq names the helper containers.
var helperSeq atomic.Int64

func rawCopy(ctx context.Context, c *podcluster.Cluster, donor, p *podcluster.Pod, bound time.Duration) (rawResult, error) {
	ip, err := donor.IP(ctx)
	if err != nil {
		return rawResult{}, err
	}
	dpause, err := donor.Inspect(ctx, "pause")
	if err != nil {
		return rawResult{}, err
	}
	rpause, err := p.Inspect(ctx, "pause")
	if err != nil {
		return rawResult{}, err
	}
	n := helperSeq.Add(1)
	sent := make(chan error, 1)
	go func() {
		res, err := c.Run(ctx, bound, podcluster.Spec{
			Name:        fmt.Sprintf("%s-raw-send-%d", c.RunID, n),
			Image:       images.Pause,
			Entrypoint:  []string{"bash", "-c", rawSender},
			Env:         map[string]string{"PORT": seedRawPort},
			User:        "0:0",
			NetworkMode: "container:" + dpause.ID,
			Mounts:      []podcluster.Mount{{Volume: donor.DataVolume, Target: "/data", ReadOnly: true}},
		})
		if err == nil && res.Code > 1 {
			err = fmt.Errorf("sender exited %d: %s", res.Code, podcluster.Tail(res.Output(), 5))
		}
		sent <- err
	}()
	res, err := c.Run(ctx, bound, podcluster.Spec{
		Name:        fmt.Sprintf("%s-raw-recv-%d", c.RunID, n),
		Image:       images.Pause,
		Entrypoint:  []string{"bash", "-c", rawReceiver},
		Env:         map[string]string{"DONOR": ip.String(), "PORT": seedRawPort},
		User:        "0:0",
		NetworkMode: "container:" + rpause.ID,
		Mounts:      []podcluster.Mount{{Volume: p.DataVolume, Target: "/data"}},
	})
	if err == nil && res.Code != 0 {
		err = fmt.Errorf("receiver exited %d: %s", res.Code, podcluster.Tail(res.Output(), 5))
	}
	if serr := <-sent; err == nil {
		err = serr
	}
	if err != nil {
		return rawResult{}, err
	}
	var t0, t1, t2 float64
	for _, l := range strings.Split(res.Stdout, "\n") {
		if _, err := fmt.Sscanf(l, "times %f %f %f", &t0, &t1, &t2); err == nil {
			break
		}
	}
	m := totalsRE.FindStringSubmatch(res.Stderr)
	if t0 == 0 || m == nil {
		return rawResult{}, fmt.Errorf("receiver printed no times or totals: %s", res.Output())
	}
	bytes, _ := strconv.ParseInt(m[1], 10, 64)
	return rawResult{bytes: bytes, seconds: t2 - t0, tarSeconds: t1 - t0}, nil
}

// rssWatch samples the resident set of every process of some containers
// with docker top, keeping each command's largest.
type rssWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	peaks  map[string]float64 // "<container>/<command>" -> MiB
}

func watchRSS(ctx context.Context, cli *client.Client, every time.Duration, containers map[string]string) *rssWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &rssWatch{cancel: cancel, done: make(chan struct{}), peaks: map[string]float64{}}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			for name, id := range containers {
				w.sample(ctx, cli, name, id)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *rssWatch) sample(ctx context.Context, cli *client.Client, name, id string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := cli.ContainerTop(ctx, id, client.ContainerTopOptions{Arguments: []string{"-o", "pid,rss,comm"}})
	if err != nil {
		return // restarting, or gone
	}
	rssCol, cmdCol := -1, -1
	for i, t := range res.Titles {
		switch t {
		case "RSS":
			rssCol = i
		case "COMMAND":
			cmdCol = i
		}
	}
	if rssCol < 0 || cmdCol < 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range res.Processes {
		if len(p) <= max(rssCol, cmdCol) {
			continue
		}
		kib, err := strconv.ParseFloat(p[rssCol], 64)
		if err != nil {
			continue
		}
		k := name + "/" + p[cmdCol]
		w.peaks[k] = math.Max(w.peaks[k], kib/1024)
	}
}

// largest is the largest of the peaks whose key starts with prefix.
func largest(peaks map[string]float64, prefix string) float64 {
	v := 0.0
	for k, p := range peaks {
		if strings.HasPrefix(k, prefix) {
			v = max(v, p)
		}
	}
	return v
}

// stop ends the sampling and returns the peaks.
func (w *rssWatch) stop() map[string]float64 {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peaks
}

// vmHWM reads the peak resident set (VmHWM, MiB) of the main process of
// container id from a container sharing its PID namespace: the sidecar's
// image has no shell, and the engine's /proc may not be this machine's.
func vmHWM(ctx context.Context, c *podcluster.Cluster, id string) (float64, error) {
	res, err := c.Run(ctx, time.Minute, podcluster.Spec{
		Name:        fmt.Sprintf("%s-hwm-%d", c.RunID, helperSeq.Add(1)),
		Image:       images.Pause,
		Entrypoint:  []string{"bash", "-c", "grep -E '^(Name|VmHWM|VmRSS):' /proc/1/status"},
		User:        "0:0",
		NetworkMode: "none",
		Modify: func(req *testcontainers.ContainerRequest) {
			prev := req.HostConfigModifier
			req.HostConfigModifier = func(hc *container.HostConfig) {
				if prev != nil {
					prev(hc)
				}
				hc.PidMode = container.PidMode("container:" + id)
			}
		},
	})
	if err != nil {
		return 0, err
	}
	var kib float64
	for _, l := range strings.Split(res.Stdout, "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kib, _ = strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
		}
	}
	if res.Code != 0 || kib == 0 {
		return 0, fmt.Errorf("/proc/1/status: exit %d: %s", res.Code, res.Output())
	}
	return kib / 1024, nil
}
