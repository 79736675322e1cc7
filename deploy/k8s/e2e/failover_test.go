package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

// failoverAnnotation is the Lease annotation in which the new holder
// records a failover: JSON with at least from, to (pod names) and at
// (RFC 3339).
const failoverAnnotation = "mysql-bootstrap/failover"

// failoverMargin is what the promise allows beyond LEASE_DURATION: a new
// writable primary within LEASE_DURATION + 5 s of the holder's freeze.
const failoverMargin = 5 * time.Second

// TestFailover runs FAILOVER=auto (with PRIMARY=kubernetes and
// SEMI_SYNC=true) on the real cluster, on each server of
// K8S_FAILOVER_SERVERS (default mysql-9.7, mariadb-11.8 and 10.11): every process
// of the primary's containers is stopped (SIGSTOP) under writes through
// mysql-primary; another pod must take the Lease and be writable within
// LEASE_DURATION + 5 s, with the failover recorded on the Lease. Then the
// old primary is resumed (SIGCONT): it must turn read-only at once and
// rejoin as a replica of the new primary. Every acknowledged write is on
// every pod at the end.
func TestFailover(t *testing.T) {
	requireCluster(t)
	for _, srv := range serversFrom(t, "K8S_FAILOVER_SERVERS", "mysql-9.7,mariadb-11.8,mariadb-10.11") {
		t.Run(srv.Name, func(t *testing.T) {
			start := time.Now()
			s := newSuite(t, srv)
			s.semiSync = true
			overlay, err := leaseOverlay(t, s.overlay, leaseOptions{
				semiSync:   true,
				sidecarEnv: []envVar{{"FAILOVER", "auto"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			s.overlay = overlay
			f := &failoverRun{suite: s}
			// Registered after newSuite's: runs before the namespace is
			// deleted, whichever case failed.
			t.Cleanup(func() { f.cleanUp(t) })
			s.runCases(t, []suiteCase{
				{"1_first_apply_pod_0_holds_the_Lease", s.leaseFirstApply},
				{"2_freeze_the_primary_under_writes", f.freezePrimary},
				{"3_the_resumed_old_primary_turns_read-only_and_rejoins", f.resumeOldPrimary},
			})
			t.Logf("%s, FAILOVER=auto: %d acknowledged writes, %s; figures:\n  %s",
				srv.Name, len(s.acked), time.Since(start).Round(time.Second), strings.Join(s.figures, "\n  "))
		})
	}
}

// failoverRun is what TestFailover's cases hand on to each other: the
// writer that runs through both, the stopped processes, the new primary.
type failoverRun struct {
	*suite
	w        *podcluster.Writer
	frozen   []hostProcess
	frozenAt time.Time
	// to is the new holder's ordinal.
	to int
	// seedsBefore is mysql-0's /status seed count before the freeze.
	seedsBefore uint64
}

// cleanUp resumes what is still stopped and stops the writer, when a
// case failed half-way.
func (f *failoverRun) cleanUp(t testing.TB) {
	f.resume(t)
	if f.w != nil {
		f.stopWriter(f.w)
		f.w = nil
	}
}

// provenMargin is how long after its server started a replica's data
// must be proven complete before the freeze: the sidecar's own tolerance
// (decide.RestartTolerance, for Uptime's whole seconds), that resolution
// once more in /status' serverStartedAt, and stalenessSeconds' rounding.
const provenMargin = 3 * time.Second

// waitProvenSinceStart waits until every replica's data was proven
// complete against the primary a while after its server started, as its
// /status tells (lastReconcile - stalenessSeconds, against
// serverStartedAt). FAILOVER=auto takes over only then (README: Automatic
// failover); a freeze in a new cluster's first seconds tests that refusal
// instead (it failed CI once: the freeze came 4 s after the servers
// started).
func (f *failoverRun) waitProvenSinceStart(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	for i := 1; i < 3; i++ {
		ip, err := f.podIP(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		err = testkit.Eventually(ctx, time.Minute, f.podName(i)+"'s data proven complete after its server started", func(ctx context.Context) error {
			st, err := sidecarStatus(ctx, ip)
			if err != nil {
				return err
			}
			if st.Replication == nil || st.Replication.StalenessSeconds == nil || st.ServerStartedAt.IsZero() {
				return fmt.Errorf("its /status gives no staleness or server start (ready %v: %s)", st.Ready, st.Reason)
			}
			provenAt := st.LastReconcile.Add(-time.Duration(*st.Replication.StalenessSeconds) * time.Second)
			if provenAt.Before(st.ServerStartedAt.Add(provenMargin)) {
				return fmt.Errorf("proven complete as of %s, its server started at %s", provenAt.Format(time.StampMilli), st.ServerStartedAt.Format(time.StampMilli))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("every replica's data proven complete after its server started (waited %.1f s)", time.Since(start).Seconds())
}

// 2. Every process of mysql-0's containers stopped under writes: another
// pod takes the Lease, records the failover on it and becomes a writable,
// ready primary within LEASE_DURATION + 5 s; writes through mysql-primary
// are acknowledged again.
func (f *failoverRun) freezePrimary(t *testing.T) {
	ctx := context.Background()
	duration, err := f.leaseDuration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old, err := f.pod(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := sidecarStatus(ctx, old.Status.PodIP); err != nil {
		t.Fatal(err)
	} else if st.Seed != nil {
		f.seedsBefore = st.Seed.Seeds
	}
	f.w = f.startWriter(ctx)
	if err := f.w.WaitAcked(ctx, 50, time.Time{}, time.Minute); err != nil {
		t.Fatal(err)
	}
	f.waitProvenSinceStart(t)
	f.freeze(t, string(old.UID))

	var movedAt, writableAt time.Time
	holder := ""
	bound := duration + failoverMargin
	// Polled past the promise, so that a late failover is measured; well
	// under the server's liveness probe (6 x 10 s), which would restart
	// the stopped containers.
	err = testkit.Eventually(ctx, 45*time.Second, "another pod holds the Lease and is a writable, ready primary", func(ctx context.Context) error {
		l, err := f.getLease(ctx)
		if err != nil {
			return err
		}
		h := l.Spec.HolderIdentity
		if h == "" || h == f.podName(0) {
			return fmt.Errorf("the Lease is held by %q", h)
		}
		if movedAt.IsZero() {
			movedAt, holder = time.Now(), h
			t.Logf("the Lease moved to %s %.1f s after the freeze", h, movedAt.Sub(f.frozenAt).Seconds())
		} else if h != holder {
			return fmt.Errorf("%w: the Lease moved on from %s to %s", testkit.ErrGiveUp, holder, h)
		}
		ordinal, ok := f.ordinalOf(h)
		if !ok || ordinal == 0 {
			return fmt.Errorf("%w: the Lease names %q, not a pod of the StatefulSet", testkit.ErrGiveUp, h)
		}
		ip, err := f.podIP(ctx, ordinal)
		if err != nil {
			return err
		}
		st, err := sidecarStatus(ctx, ip)
		if err != nil {
			return err
		}
		if st.Role != "primary" || st.ReadOnly || !st.Ready {
			return fmt.Errorf("%s: role %q, readOnly %v, ready %v (%s)", h, st.Role, st.ReadOnly, st.Ready, st.Reason)
		}
		f.to = ordinal
		writableAt = time.Now()
		return nil
	})
	if err != nil {
		t.Fatalf("%v; writer: %s", err, f.w.Summary())
	}
	// Writes acknowledged through mysql-primary by the new primary; soon,
	// since mysql-0 stays stopped meanwhile.
	if err := f.w.WaitAcked(ctx, 20, writableAt, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// After the Lease moved, only the new primary can acknowledge (the old
	// one is stopped); an answer read just after the SIGSTOP is not its.
	firstAck := f.w.FirstAckAfter(movedAt)
	gapFrom, gapTo := f.w.LongestGapSince(f.frozenAt)
	f.figure(t, "failover, %s stopped under writes → %s: the Lease moved %.1f s, the new primary writable and ready %.1f s (promise ≤ %.0f s), its first acknowledged write %.1f s after the freeze; writes refused for %.1f s",
		f.podName(0), holder, movedAt.Sub(f.frozenAt).Seconds(), writableAt.Sub(f.frozenAt).Seconds(), bound.Seconds(),
		firstAck.Sub(f.frozenAt).Seconds(), gapTo.Sub(gapFrom).Seconds())
	if took := writableAt.Sub(f.frozenAt); took > bound {
		t.Errorf("the new primary was writable %.1f s after the freeze: more than LEASE_DURATION + %s = %s", took.Seconds(), failoverMargin, bound)
	}
	f.checkFailoverRecord(t, holder)
}

// checkFailoverRecord: the Lease's failover annotation names the frozen
// pod, the new holder, and a time of this failover.
func (f *failoverRun) checkFailoverRecord(t *testing.T, holder string) {
	t.Helper()
	l, err := f.getLease(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := l.Metadata.Annotations[failoverAnnotation]
	if !ok {
		t.Errorf("the Lease has no %s annotation (annotations %v)", failoverAnnotation, l.Metadata.Annotations)
		return
	}
	t.Logf("%s: %s", failoverAnnotation, raw)
	var rec struct {
		From string `json:"from"`
		To   string `json:"to"`
		At   string `json:"at"`
	}
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		t.Errorf("%s: %v", failoverAnnotation, err)
		return
	}
	if rec.From != f.podName(0) || rec.To != holder {
		t.Errorf("%s: from %q to %q, want from %q to %q", failoverAnnotation, rec.From, rec.To, f.podName(0), holder)
	}
	// One node: the sidecar's clock is the test's. A second's slack for
	// an RFC 3339 time without fractions.
	at, err := time.Parse(time.RFC3339, rec.At)
	if err != nil {
		t.Errorf("%s: at %q: %v", failoverAnnotation, rec.At, err)
	} else if at.Before(f.frozenAt.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("%s: at %s, not between the freeze (%s) and now", failoverAnnotation, rec.At, f.frozenAt.Format(time.RFC3339Nano))
	}
}

// 3. The old primary resumed (SIGCONT): its server is read-only within
// 5 s, and within 4 min (a copy of the new primary's data may be needed)
// it is a ready replica of the new primary and labelled so; the writer
// ran through it all, and every acknowledged write is on every pod.
func (f *failoverRun) resumeOldPrimary(t *testing.T) {
	ctx := context.Background()
	if f.w == nil || len(f.frozen) == 0 {
		t.Fatal("case 2 left no writer or no stopped processes")
	}
	ip, err := f.podIP(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(ip, "root", rootPassword, "")
	t.Cleanup(func() { db.Close() })
	resumed := time.Now()
	f.resume(t)
	if err := testkit.Eventually(ctx, 5*time.Second, f.podName(0)+"'s server read-only after it resumed", func(ctx context.Context) error {
		var ro int
		if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.read_only").Scan(&ro); err != nil {
			return err
		}
		if ro != 1 {
			return errors.New("read_only is off")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	readOnlyAt := time.Now()
	source := f.podName(f.to) + "." + f.name + "." + f.ns + ".svc.cluster.local"
	var last podcluster.Status
	err = testkit.Eventually(ctx, 4*time.Minute, f.podName(0)+" a ready replica of "+f.podName(f.to), func(ctx context.Context) error {
		// The address stays with the pod as long as no container of it is
		// recreated; read it again in case the sandbox was.
		ip, err := f.podIP(ctx, 0)
		if err != nil {
			return err
		}
		st, err := sidecarStatus(ctx, ip)
		if err != nil {
			return err
		}
		last = st
		r := st.Replication
		switch {
		case st.Role != "replica" || !st.Ready:
			return fmt.Errorf("role %q, ready %v (%s)", st.Role, st.Ready, st.Reason)
		case r == nil || r.SourceHost != source || !r.IORunning || !r.SQLRunning:
			return fmt.Errorf("replication %+v, want running from %s", r, source)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rejoined := time.Now()
	if err := f.w.WaitAcked(ctx, 20, rejoined, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	seeded := "no"
	if last.Seed != nil && last.Seed.Seeds > f.seedsBefore {
		seeded = fmt.Sprintf("yes, from %s", last.Seed.Donor)
	}
	f.figure(t, "the old primary resumed: read-only after %.1f s, a ready replica of %s after %.1f s (re-seeded: %s)",
		readOnlyAt.Sub(resumed).Seconds(), f.podName(f.to), rejoined.Sub(resumed).Seconds(), seeded)
	f.logSeeding(t)
	f.stopWriter(f.w)
	f.w = nil
	// The labels and Services: the new holder primary, mysql-0 replica.
	if err := f.waitPrimary(ctx, f.to, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	f.checkInvariantsAt(t, 3, f.to)
	f.checkSemiSync(t, f.to)
}

// logSeeding logs mysql-0's sidecar's lines about a copy of a peer's data
// since the freeze, and its containers' restarts: what rejoining took.
func (f *failoverRun) logSeeding(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	since := time.Since(f.frozenAt).Round(time.Second) + 10*time.Second
	out, err := kubectl(ctx, f.ns, "logs", f.podName(0), "-c", "sidecar", "--since="+since.String())
	if err != nil {
		t.Logf("%s sidecar logs: %v", f.podName(0), err)
		return
	}
	var lines []string
	for l := range strings.Lines(out) {
		if low := strings.ToLower(l); strings.Contains(low, "seed") || strings.Contains(low, "clone") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) > 20 {
		lines = append(lines[:20], fmt.Sprintf("... %d more", len(lines)-20))
	}
	p, err := f.pod(ctx, 0)
	if err == nil {
		t.Logf("%s container restarts: %v", p.Name, restarts(p))
	}
	t.Logf("%s sidecar lines about seeding since the freeze (%d):\n  %s", f.podName(0), len(lines), strings.Join(lines, "\n  "))
}

// leaseDuration is the sidecar's LEASE_DURATION in the StatefulSet, or
// its default of 10 s.
func (f *failoverRun) leaseDuration(ctx context.Context) (time.Duration, error) {
	st, err := f.statefulSet(ctx)
	if err != nil {
		return 0, err
	}
	for _, c := range st.Spec.Template.Spec.Containers {
		if c.Name != "sidecar" {
			continue
		}
		for _, e := range c.Env {
			if e.Name == "LEASE_DURATION" {
				return time.ParseDuration(e.Value)
			}
		}
	}
	return 10 * time.Second, nil
}

// ordinalOf returns the ordinal of pod name in the StatefulSet.
func (f *failoverRun) ordinalOf(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, f.name+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0 && n < 3
}

// freeze stops (SIGSTOP) every process of the pod with uid but its
// sandbox's pause process, and records them (resume sends SIGCONT). A
// process started while the first ones were being stopped (a probe's
// exec) is stopped in a second or third pass.
func (f *failoverRun) freeze(t *testing.T, uid string) {
	t.Helper()
	for pass := range 3 {
		procs, err := podProcesses(uid)
		if err != nil {
			t.Fatal(err)
		}
		var more []hostProcess
		for _, p := range procs {
			if !f.isFrozen(p) {
				more = append(more, p)
			}
		}
		if pass > 0 && len(more) == 0 {
			break
		}
		for _, p := range more {
			if err := syscall.Kill(p.pid, syscall.SIGSTOP); err != nil {
				if errors.Is(err, syscall.ESRCH) {
					continue // ended in between
				}
				t.Fatalf("SIGSTOP %d (%s): %v", p.pid, p.comm, err)
			}
			f.frozen = append(f.frozen, p)
		}
		if pass == 0 {
			f.frozenAt = time.Now()
		}
	}
	var names []string
	for _, p := range f.frozen {
		names = append(names, fmt.Sprintf("%d %s", p.pid, p.comm))
	}
	t.Logf("SIGSTOP to %d processes of %s (pod uid %s): %s", len(f.frozen), f.podName(0), uid, strings.Join(names, ", "))
	// Stopping is asynchronous: each must show state T.
	if err := testkit.Eventually(context.Background(), 5*time.Second, "every signalled process stopped", func(context.Context) error {
		for _, p := range f.frozen {
			now, err := readProcess(p.pid)
			if err != nil || now.start != p.start {
				continue // gone: nothing left to stop
			}
			if now.state != "T" && now.state != "t" {
				return fmt.Errorf("%d (%s) is in state %s", p.pid, p.comm, now.state)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func (f *failoverRun) isFrozen(p hostProcess) bool {
	for _, q := range f.frozen {
		if q.pid == p.pid && q.start == p.start {
			return true
		}
	}
	return false
}

// resume sends SIGCONT to every process freeze stopped that still is the
// same process (its start time unchanged: a pid is never signalled
// after it was reused).
func (f *failoverRun) resume(t testing.TB) {
	if len(f.frozen) == 0 {
		return
	}
	n := 0
	for _, p := range f.frozen {
		now, err := readProcess(p.pid)
		if err != nil || now.start != p.start {
			t.Logf("pid %d (%s) ended (or is another process now): not resumed", p.pid, p.comm)
			continue
		}
		if err := syscall.Kill(p.pid, syscall.SIGCONT); err != nil {
			t.Logf("SIGCONT %d (%s): %v", p.pid, p.comm, err)
			continue
		}
		n++
	}
	t.Logf("SIGCONT to %d of %d stopped processes, %.1f s after the freeze", n, len(f.frozen), time.Since(f.frozenAt).Seconds())
	f.frozen = nil
}

// hostProcess is a process on this machine: its pid, name (comm), state
// and start time (in clock ticks after boot, field 22 of /proc/PID/stat,
// which tells a reused pid apart).
type hostProcess struct {
	pid   int
	comm  string
	state string
	start string
}

// podProcesses lists the host processes of the pod with uid (its cgroup,
// as /proc/PID/cgroup names it, has a pod<uid> component), without the
// sandbox's pause process.
func podProcesses(uid string) ([]hostProcess, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var procs []hostProcess
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cg, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if err != nil || !inPodCgroup(string(cg), uid) {
			continue // gone, or not the pod's
		}
		p, err := readProcess(pid)
		if err != nil || p.comm == "pause" {
			continue
		}
		procs = append(procs, p)
	}
	if len(procs) == 0 {
		return nil, fmt.Errorf("no process in the cgroup of pod %s (looked for pod%s in /proc/*/cgroup)", uid, uid)
	}
	return procs, nil
}

// inPodCgroup reports whether a /proc/PID/cgroup file places the process
// in the pod with uid: a path component holds pod<uid>, with dashes
// (the cgroupfs driver: kubepods/besteffort/pod<uid>/<container>) or
// underscores (the systemd driver: kubepods-besteffort-pod<uid>.slice).
func inPodCgroup(cgroup, uid string) bool {
	dashes := "pod" + uid
	underscores := "pod" + strings.ReplaceAll(uid, "-", "_")
	for line := range strings.Lines(cgroup) {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[2], "/") {
			if strings.Contains(c, dashes) || strings.Contains(c, underscores) {
				return true
			}
		}
	}
	return false
}

// readProcess reads /proc/PID/stat.
func readProcess(pid int) (hostProcess, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return hostProcess{}, err
	}
	return parseStat(pid, string(b))
}

// parseStat parses /proc/PID/stat: "pid (comm) state ppid ... starttime
// ..."; comm may hold spaces and parentheses, so it ends at the last ')'.
func parseStat(pid int, stat string) (hostProcess, error) {
	open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return hostProcess{}, fmt.Errorf("/proc/%d/stat: %q", pid, stat)
	}
	fields := strings.Fields(stat[end+1:])
	// fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
	if len(fields) < 20 {
		return hostProcess{}, fmt.Errorf("/proc/%d/stat: %d fields after comm", pid, len(fields))
	}
	return hostProcess{pid: pid, comm: stat[open+1 : end], state: fields[0], start: fields[19]}, nil
}
