package e2e

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/go-sql-driver/mysql"
	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

// The example Secret's passwords (deploy/kustomize/base/secret.example.yaml),
// which the test overlays keep.
const (
	rootPassword = "CHANGE-ME-root-password"
	appPassword  = "app-password-k8s-e2e"
)

// errReadOnly is ER_OPTION_PREVENTS_STATEMENT: read_only/super_read_only.
const errReadOnly = 1290

// suite is one server's cluster in a namespace of its own, shared by the
// cases, which run in order.
type suite struct {
	srv     podcluster.Server
	overlay string // the test overlay's directory
	set
	// acked holds every write the primary acknowledged, over all cases;
	// nextID is the next id a writer may use.
	acked  []int64
	nextID int64
	// figures are the timings the cases measured, reported at the end.
	figures []string
	// semiSync: the pods run with SEMI_SYNC=true.
	semiSync bool
}

// TestStatefulSet runs the cases on each server (K8S_E2E_SERVERS), one
// after another.
func TestStatefulSet(t *testing.T) {
	requireCluster(t)
	for _, srv := range servers {
		t.Run(srv.Name, func(t *testing.T) {
			start := time.Now()
			s := newSuite(t, srv)
			s.runCases(t, []suiteCase{
				{"1_first_apply_all_pods_ready", s.firstApply},
				{"2_primary_pod_deleted_under_writes", s.primaryPodDeleted},
				{"3_replication_password_changed_in_the_Secret", s.secretRotated},
				{"4_scaled_to_4_after_purged_binary_logs_seeds_the_new_pod", s.scaleUpSeeds},
				{"5_rolling_update_replicas_first_primary_last", s.rollingUpdate},
				{"6_eviction_refused_while_a_pod_is_down", s.evictionRefused},
				{"7_two_clusters_in_one_namespace", s.twoClusters},
				{"8_the_helm_chart_installs_a_cluster_beside_it", s.helmChart},
				{"9_primary_volume_claim_deleted_with_its_pod", s.primaryClaimDeleted},
				{"10_network_policy_keeps_8081_to_the_pods", s.networkPolicy},
			})
			t.Logf("%s on a real Kubernetes: %d acknowledged writes, %s; figures:\n  %s",
				srv.Name, len(s.acked), time.Since(start).Round(time.Second), strings.Join(s.figures, "\n  "))
		})
	}
}

// suiteCase is one case of a suite; the cases run in order.
type suiteCase struct {
	name string
	run  func(*testing.T)
}

// runCases runs the cases in order and stops at the first that fails
// (the later ones need a healthy cluster), dumping what it left.
func (s *suite) runCases(t *testing.T, cases []suiteCase) {
	t.Helper()
	for _, tc := range cases {
		if !t.Run(tc.name, tc.run) {
			s.dump(t)
			t.Fatalf("%s failed; the later cases need a healthy cluster", tc.name)
		}
	}
}

func newSuite(t testing.TB, srv podcluster.Server) *suite {
	ns := "e2e-" + strings.ReplaceAll(srv.Name, ".", "-") + "-" + randHex(3)
	s := &suite{srv: srv, overlay: filepath.Join("..", "overlays", srv.Name), set: set{ns: ns, name: "mysql"}, nextID: 1}
	ctx := context.Background()
	if _, err := kubectl(ctx, "", "create", "namespace", ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if keep {
			t.Logf("K8S_E2E_KEEP=1: namespace %s kept", ns)
			return
		}
		if err := s.deleteNamespace(); err != nil {
			t.Logf("%v", err)
		}
	})
	return s
}

// deleteNamespace deletes the suite's namespace and waits until it is
// gone (its pods, claims and volumes with it).
func (s *suite) deleteNamespace() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := kubectl(ctx, "", "delete", "namespace", s.ns, "--ignore-not-found", "--wait=true", "--timeout=150s"); err != nil {
		return fmt.Errorf("delete namespace %s: %w", s.ns, err)
	}
	return nil
}

func (s *suite) figure(t testing.TB, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	s.figures = append(s.figures, line)
}

// dump logs what a failed case leaves: pods, events, the sidecars' and
// servers' last log lines.
func (s *suite) dump(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := kubectl(ctx, s.ns, "get", "pods,pvc,statefulset,pdb", "-o", "wide"); err == nil {
		t.Logf("objects:\n%s", out)
	}
	if out, err := kubectl(ctx, s.ns, "get", "events", "--sort-by=.lastTimestamp"); err == nil {
		t.Logf("events:\n%s", podcluster.Tail(out, 40))
	}
	n, _ := s.replicas(ctx)
	for i := range n {
		for _, c := range []string{"sidecar", "server"} {
			if out, err := kubectl(ctx, s.ns, "logs", s.podName(i), "-c", c, "--tail=25"); err == nil {
				t.Logf("%s %s:\n%s", s.podName(i), c, out)
			}
		}
	}
}

// waitEndpoints waits until a Service sends traffic to exactly pods: a
// Ready pod reaches a Service's clients once the endpoint controllers and
// kube-proxy have caught up (about a second here); until then its cluster
// IP refuses connections.
func (s set) waitEndpoints(ctx context.Context, service string, pods ...string) error {
	want := slices.Sorted(slices.Values(pods))
	return testkit.Eventually(ctx, time.Minute, "Service "+service+" sends to "+strings.Join(want, ","), func(ctx context.Context) error {
		got, err := s.readyEndpoints(ctx, service)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("endpoints %v", got)
		}
		return nil
	})
}

// execThroughService runs a statement through a Service's cluster IP,
// again while the connection is refused: kube-proxy programs a newly ready
// endpoint a moment after the EndpointSlice names it. An answer from the
// server, error or not, is final.
func execThroughService(ctx context.Context, db *sql.DB, stmt string, args ...any) error {
	var result error
	err := testkit.Eventually(ctx, 30*time.Second, "through the Service: "+stmt, func(ctx context.Context) error {
		_, err := db.ExecContext(ctx, stmt, args...)
		// Refused or reset while the Service's new endpoints settle (kube-proxy,
		// the policy controller): try again. A statement that did run and is
		// retried fails on its own terms (a duplicate key), never passes twice.
		var oe *net.OpError
		if errors.As(err, &oe) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn) {
			return err
		}
		result = err
		return nil
	})
	if err != nil {
		return err
	}
	return result
}

// primaryDB opens a pool through the mysql-primary Service as user.
func (s *suite) primaryDB(ctx context.Context, user, password, database string) (*sql.DB, error) {
	ip, err := s.serviceIP(ctx, s.name+"-primary")
	if err != nil {
		return nil, err
	}
	return openDB(ip, user, password, database), nil
}

// startWriter starts a writer through the mysql-primary Service.
func (s *suite) startWriter(ctx context.Context) *podcluster.Writer {
	w := podcluster.StartWriter(ctx, podcluster.WriterOptions{
		Open: func(ctx context.Context) (*sql.DB, error) {
			return s.primaryDB(ctx, podcluster.AppUser, appPassword, podcluster.AppDatabase)
		},
		FirstID: s.nextID,
		MaxTime: 10 * time.Minute,
		Pace:    20 * time.Millisecond,
	})
	s.nextID += 100000
	return w
}

func (s *suite) stopWriter(w *podcluster.Writer) {
	s.acked = append(s.acked, w.Stop()...)
}

// 1. kubectl apply -k of the test overlay: every pod Ready; the time from
// apply to all Ready is a figure people wait for.
func (s *suite) firstApply(t *testing.T) {
	ctx := context.Background()
	took, err := s.applyUntilReady(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.figure(t, "kubectl apply -k → all 3 pods Ready: %.1f s", took.Seconds())
	s.noKubernetesAPI(t)
	if err := s.createAppSchema(ctx); err != nil {
		t.Fatal(err)
	}
	w := s.startWriter(ctx)
	if err := w.WaitAcked(ctx, 50, time.Time{}, time.Minute); err != nil {
		t.Fatal(err)
	}
	s.stopWriter(w)
	s.checkInvariants(t, 3)
}

// noKubernetesAPI: in the default mode (PRIMARY=ordinal-0) the pods run
// without a service account token, the sidecars say so on /status, and
// no Lease exists: nothing of the Kubernetes API is needed.
func (s *suite) noKubernetesAPI(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for i := range 3 {
		p, err := s.pod(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if a := p.Spec.AutomountServiceAccountToken; a == nil || *a {
			t.Errorf("%s: automountServiceAccountToken %v, want false", p.Name, a)
		}
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			for _, m := range c.VolumeMounts {
				if strings.HasPrefix(m.MountPath, "/var/run/secrets/kubernetes.io") {
					t.Errorf("%s: container %s mounts %s", p.Name, c.Name, m.MountPath)
				}
			}
		}
		body, err := sidecarGet(ctx, p.Status.PodIP, "/status")
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			PrimaryMode string          `json:"primaryMode"`
			Lease       json.RawMessage `json:"lease"`
		}
		if err := json.Unmarshal(body, &st); err != nil || st.PrimaryMode != "ordinal-0" || st.Lease != nil {
			t.Errorf("%s /status: primaryMode %q, lease %s (%v)", p.Name, st.PrimaryMode, st.Lease, err)
		}
	}
	if out, err := kubectl(ctx, s.ns, "get", "leases", "-o", "name"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("Leases in the namespace: %q (%v)", out, err)
	}
}

// applyUntilReady applies the test overlay and returns how long it took
// until its three pods were Ready.
func (s *suite) applyUntilReady(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if _, err := kubectl(ctx, s.ns, "apply", "-k", s.overlay); err != nil {
		return 0, err
	}
	ready, err := s.waitReady(ctx, 3, 5*time.Minute)
	return ready.Sub(start), err
}

// createAppSchema creates, through mysql-primary, the app database, its
// user and the tables the writer and the cases use.
func (s *suite) createAppSchema(ctx context.Context) error {
	if err := s.waitEndpoints(ctx, s.name+"-primary", s.podName(0)); err != nil {
		return err
	}
	db, err := s.primaryDB(ctx, "root", rootPassword, "")
	if err != nil {
		return err
	}
	defer db.Close()
	for _, stmt := range []string{
		"CREATE DATABASE IF NOT EXISTS " + podcluster.AppDatabase,
		"CREATE USER IF NOT EXISTS '" + podcluster.AppUser + "'@'%' IDENTIFIED BY '" + appPassword + "'",
		"GRANT ALL ON " + podcluster.AppDatabase + ".* TO '" + podcluster.AppUser + "'@'%'",
		"CREATE TABLE IF NOT EXISTS " + podcluster.AppDatabase + ".writes (id BIGINT PRIMARY KEY, v VARCHAR(64) NOT NULL)",
		"CREATE TABLE IF NOT EXISTS " + podcluster.AppDatabase + ".markers (marker VARCHAR(64) PRIMARY KEY, server_id INT NOT NULL)",
	} {
		if err := execThroughService(ctx, db, stmt); err != nil {
			return fmt.Errorf("%s: %w", strings.SplitN(stmt, " IDENTIFIED", 2)[0], err)
		}
	}
	return nil
}

// 2. kubectl delete pod mysql-0 under writes: the StatefulSet controller
// recreates it, writes resume through mysql-primary, nothing is lost.
func (s *suite) primaryPodDeleted(t *testing.T) {
	ctx := context.Background()
	w := s.startWriter(ctx)
	if err := w.WaitAcked(ctx, 50, time.Time{}, time.Minute); err != nil {
		t.Fatal(err)
	}
	old, err := s.pod(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	if _, err := kubectl(ctx, s.ns, "delete", "pod", s.podName(0), "--wait=false"); err != nil {
		t.Fatal(err)
	}
	from, to := s.writesBackOnNewPrimary(t, w, old, deleted, nil)
	s.figure(t, "primary pod deleted → writes accepted again: %.1f s (writes refused for %.1f s)", to.Sub(deleted).Seconds(), to.Sub(from).Seconds())
	s.stopWriter(w)
	s.checkInvariants(t, 3)
}

// writesBackOnNewPrimary waits until a new pod replaced old as ordinal 0
// (and also holds), is Ready and acknowledges writes, and returns the
// longest stretch without an acknowledged write since deleted.
func (s *suite) writesBackOnNewPrimary(t testing.TB, w *podcluster.Writer, old *corev1.Pod, deleted time.Time, also func(context.Context) error) (from, to time.Time) {
	t.Helper()
	ctx := context.Background()
	if err := testkit.Eventually(ctx, 6*time.Minute, "a new "+s.podName(0)+" Ready", func(ctx context.Context) error {
		if also != nil {
			if err := also(ctx); err != nil {
				return err
			}
		}
		p, err := s.pod(ctx, 0)
		if err != nil {
			return err
		}
		if p.UID == old.UID {
			return errors.New("the old pod is still there")
		}
		if !podReady(p) {
			return errors.New(s.notReady(ctx, 0))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Writes acknowledged by the new pod.
	if err := w.WaitAcked(ctx, 20, time.Now(), 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	return w.LongestGapSince(deleted)
}

// 3. The replication password changed in the Secret: the kubelet's update
// reaches the mounted files, the primary's sidecar changes the account,
// the replicas' sidecars the channel, and no container restarts.
func (s *suite) secretRotated(t *testing.T) {
	ctx := context.Background()
	before := map[int]map[string]int32{}
	fp := map[int]map[string]string{}
	for i := range 3 {
		p, err := s.pod(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		before[i] = restarts(p)
		if fp[i], err = sidecarCredentials(ctx, p.Status.PodIP); err != nil {
			t.Fatal(err)
		}
	}
	const newPassword = "rotated-replication-pw-2"
	changed := time.Now()
	if _, err := kubectl(ctx, s.ns, "patch", "secret", "mysql-credentials", "--type=merge",
		"-p", `{"stringData":{"replication-password":"`+newPassword+`"}}`); err != nil {
		t.Fatal(err)
	}
	w := s.startWriter(ctx)
	err := testkit.Eventually(ctx, 4*time.Minute, "every pod on the new replication password", func(ctx context.Context) error {
		ip, err := s.podIP(ctx, 0)
		if err != nil {
			return err
		}
		primary, err := sidecarCredentials(ctx, ip)
		if err != nil {
			return err
		}
		if primary["replicationTag"] == fp[0]["replicationTag"] {
			return errors.New("the primary's sidecar still reads the old password")
		}
		for i := 1; i < 3; i++ {
			ip, err := s.podIP(ctx, i)
			if err != nil {
				return err
			}
			c, err := sidecarCredentials(ctx, ip)
			if err != nil {
				return err
			}
			if c["replicationTag"] != primary["replicationTag"] || c["channelTag"] != primary["replicationTag"] {
				return fmt.Errorf("%s: password %s, channel %s, want %s", s.podName(i), c["replicationTag"], c["channelTag"], primary["replicationTag"])
			}
		}
		// The account itself takes the new password.
		db := openDB(ip, "replication", newPassword, "")
		defer db.Close()
		return db.PingContext(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.figure(t, "Secret changed → rotation complete on every pod: %.1f s", time.Since(changed).Seconds())
	if err := w.WaitAcked(ctx, 20, time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	s.stopWriter(w)
	s.checkInvariants(t, 3)
	for i := range 3 {
		p, err := s.pod(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if got := restarts(p); !mapsEqual(got, before[i]) {
			t.Errorf("%s: container restarts %v, before the change %v: rotation must not restart anything", p.Name, got, before[i])
		}
	}
}

func mapsEqual(a, b map[string]int32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// 4. Binary logs purged on the primary, then kubectl scale --replicas=4:
// the new pod cannot catch up from the logs, so it is seeded from a peer
// and becomes Ready with everything.
func (s *suite) scaleUpSeeds(t *testing.T) {
	ctx := context.Background()
	w := s.startWriter(ctx)
	if err := w.WaitAcked(ctx, 100, time.Time{}, time.Minute); err != nil {
		t.Fatal(err)
	}
	s.stopWriter(w)
	ip, err := s.podIP(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(ip, "root", rootPassword, "")
	defer db.Close()
	// The primary rotates its binary log and purges the others, so that
	// a new replica cannot replay the history from them.
	if _, err := testkit.PurgeBinaryLogs(ctx, db, time.Minute, t.Logf); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := kubectl(ctx, s.ns, "scale", "statefulset", s.name, "--replicas=4"); err != nil {
		t.Fatal(err)
	}
	ready, err := s.waitReady(ctx, 4, 6*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	s.figure(t, "scaled to 4 after a purge → %s Ready (seeded): %.1f s", s.podName(3), ready.Sub(start).Seconds())
	s.requireSeeded(t, 3, "became ready without a seed: the primary's purged logs could not have replayed its history")
	s.checkInvariants(t, 4)
}

// 5. A change of the pod template rolls the StatefulSet: the controller
// replaces the pods from the highest ordinal down, one at a time, each
// after the previous is Ready, so the replicas go first and the primary
// last, and never more than one pod is being replaced (the
// PodDisruptionBudget's maxUnavailable). Writes go on meanwhile; none acknowledged is lost. On
// MariaDB 10.11 the second roll changes the server image to 11.8: a real
// upgrade.
func (s *suite) rollingUpdate(t *testing.T) {
	ctx := context.Background()
	n, err := s.replicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rolls := []struct {
		name  string
		apply []string
	}{
		{"an annotation", []string{"patch", "statefulset", s.name, "--type=merge", "-p",
			`{"spec":{"template":{"metadata":{"annotations":{"e2e.mysql-bootstrap.dev/roll":"` + randHex(4) + `"}}}}}`}},
	}
	var upgradeTo string
	if s.srv.Name == "mariadb-10.11" {
		upgradeTo = podcluster.LookupServer("mariadb-11.8").Image
		rolls = append(rolls, struct {
			name  string
			apply []string
		}{"the server image to " + upgradeTo, []string{"set", "image", "statefulset/" + s.name, "server=" + upgradeTo, "backup=" + upgradeTo}})
	}
	for _, roll := range rolls {
		w := s.startWriter(ctx)
		if err := w.WaitAcked(ctx, 20, time.Time{}, time.Minute); err != nil {
			t.Fatal(err)
		}
		uids := map[int]string{}
		for i := range n {
			p, err := s.pod(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			uids[i] = string(p.UID)
		}
		start := time.Now()
		if _, err := kubectl(ctx, s.ns, roll.apply...); err != nil {
			t.Fatal(err)
		}
		var order []int
		// A pod is being replaced from its deletion until its successor is
		// first Ready; the controller replaces one at a time. A pod is
		// merely not Ready when, say, a replica's data grows older than
		// MAX_REPLICATION_LAG while the primary is being replaced (its
		// absence, and a cluster DNS that caches the missing name for up
		// to 30 s after it returns): reported, not held against the roll.
		back := map[int]bool{}
		maxDown, maxNotReady := 0, 0
		err := testkit.Eventually(ctx, 12*time.Minute, "rolling update of "+roll.name, func(ctx context.Context) error {
			down, notReady := 0, 0
			for i := range n {
				p, err := s.pod(ctx, i)
				if err != nil {
					down++
					notReady++
					continue
				}
				replaced := string(p.UID) != uids[i]
				if replaced && !slices.Contains(order, i) {
					order = append(order, i)
				}
				ready := podReady(p)
				if replaced && ready {
					back[i] = true
				}
				if !ready {
					notReady++
					if p.DeletionTimestamp != nil || (replaced && !back[i]) {
						down++
					}
				}
			}
			maxDown, maxNotReady = max(maxDown, down), max(maxNotReady, notReady)
			st, err := s.statefulSet(ctx)
			if err != nil {
				return err
			}
			if len(order) < n || down > 0 || st.Status.UpdateRevision != st.Status.CurrentRevision || int(st.Status.UpdatedReplicas) != n {
				return fmt.Errorf("replaced %v, %d not ready, %d of %d updated", order, down, st.Status.UpdatedReplicas, n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		s.figure(t, "rolling update of %s over %d pods: %.1f s (order %v; at most %d pod(s) not Ready at once)", roll.name, n, time.Since(start).Seconds(), order, maxNotReady)
		want := make([]int, n)
		for i := range n {
			want[i] = n - 1 - i
		}
		if !slices.Equal(order, want) {
			t.Errorf("pods replaced in the order %v, want %v: replicas first, the primary last", order, want)
		}
		if maxDown > 1 {
			t.Errorf("up to %d pods were being replaced at once during the roll: the PodDisruptionBudget allows 1", maxDown)
		}
		if err := w.WaitAcked(ctx, 20, time.Now(), 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		s.stopWriter(w)
		s.checkInvariants(t, n)
	}
	if upgradeTo != "" {
		for i := range n {
			ip, err := s.podIP(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			db := openDB(ip, "root", rootPassword, "")
			var v string
			err = db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v)
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(v, "11.8.") {
				t.Errorf("%s runs %s after the upgrade, want 11.8", s.podName(i), v)
			}
		}
	}
}

// 6. With one pod evicted and not yet back, the PodDisruptionBudget
// refuses the eviction of a second: a node drain never takes two pods.
func (s *suite) evictionRefused(t *testing.T) {
	ctx := context.Background()
	n, err := s.replicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The PDB controller counts healthy pods after its own pass.
	if err := testkit.Eventually(ctx, time.Minute, "the PodDisruptionBudget allows one disruption", func(ctx context.Context) error {
		var pdb struct {
			Status struct {
				DisruptionsAllowed int `json:"disruptionsAllowed"`
			} `json:"status"`
		}
		if err := api.Get(ctx, "/apis/policy/v1/namespaces/"+s.ns+"/poddisruptionbudgets/"+s.name, &pdb); err != nil {
			return err
		}
		if pdb.Status.DisruptionsAllowed != 1 {
			return fmt.Errorf("disruptionsAllowed %d", pdb.Status.DisruptionsAllowed)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.evict(ctx, n-1); err != nil {
		t.Fatalf("evict %s: %v", s.podName(n-1), err)
	}
	err = s.evict(ctx, n-2)
	switch {
	case err == nil:
		t.Errorf("a second eviction (%s) while %s is down was allowed", s.podName(n-2), s.podName(n-1))
	case !strings.Contains(err.Error(), "429") && !strings.Contains(err.Error(), "disruption budget"):
		t.Errorf("a second eviction failed, but not because of the budget: %v", err)
	default:
		t.Logf("second eviction refused: %v", err)
	}
	if _, err := s.waitReady(ctx, n, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	s.checkInvariants(t, n)
}

// 7. A second cluster in the same namespace, as a user makes one: an
// overlay with a namePrefix and its own app.kubernetes.io/instance label.
// Each replicates only within itself and each Service selects only its own
// pods.
func (s *suite) twoClusters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	base, err := filepath.Abs(s.overlay)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(dir, base)
	if err != nil {
		t.Fatal(err)
	}
	kust := `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ` + rel + `
namePrefix: b-
labels:
  - pairs:
      app.kubernetes.io/instance: b-mysql
    includeSelectors: true
    includeTemplates: true
replicas:
  - name: mysql
    count: 2
`
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
		t.Fatal(err)
	}
	b := set{ns: s.ns, name: "b-mysql"}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if _, err := kubectl(ctx, s.ns, "delete", "-k", dir, "--wait=true", "--timeout=120s"); err != nil {
			t.Logf("delete the second cluster: %v", err)
		}
		for i := range 2 {
			_, _ = kubectl(ctx, s.ns, "delete", "pvc", "data-"+b.podName(i), "--wait=false")
		}
	}()
	start := time.Now()
	if _, err := kubectl(ctx, s.ns, "apply", "-k", dir); err != nil {
		t.Fatal(err)
	}
	if _, err := b.waitReady(ctx, 2, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	s.figure(t, "a second cluster (2 pods) beside the first → Ready: %.1f s", time.Since(start).Seconds())
	n, err := s.replicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	own := func(x set, count int) []string {
		var names []string
		for i := range count {
			names = append(names, x.podName(i))
		}
		return names
	}
	for _, c := range []struct {
		x     set
		count int
	}{{s.set, n}, {b, 2}} {
		all := own(c.x, c.count)
		for svc, want := range map[string][]string{
			c.x.name:              all,
			c.x.name + "-read":    all,
			c.x.name + "-primary": {c.x.podName(0)},
		} {
			if err := testkit.Eventually(ctx, time.Minute, "Service "+svc+" selects "+strings.Join(want, ","), func(ctx context.Context) error {
				got, err := c.x.endpoints(ctx, svc)
				if err != nil {
					return err
				}
				sorted := slices.Clone(want)
				slices.Sort(sorted)
				if !slices.Equal(got, sorted) {
					return fmt.Errorf("endpoints %v", got)
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
		}
		for i := 1; i < c.count; i++ {
			ip, err := c.x.podIP(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			st, err := sidecarStatus(ctx, ip)
			if err != nil {
				t.Fatal(err)
			}
			want := c.x.podName(0) + "." + c.x.name + "." + s.ns + ".svc.cluster.local"
			if st.Replication == nil || st.Replication.SourceHost != want {
				t.Errorf("%s replicates from %+v, want %s", c.x.podName(i), st.Replication, want)
			}
		}
	}
	// A write through each primary Service lands in its own cluster only.
	for _, c := range []struct {
		x      set
		marker string
	}{{s.set, "first-" + randHex(3)}, {b, "second-" + randHex(3)}} {
		if err := c.x.waitEndpoints(ctx, c.x.name+"-primary", c.x.podName(0)); err != nil {
			t.Fatal(err)
		}
		ip, err := c.x.serviceIP(ctx, c.x.name+"-primary")
		if err != nil {
			t.Fatal(err)
		}
		db := openDB(ip, "root", rootPassword, "")
		if c.x.name == b.name {
			err = execThroughService(ctx, db, "CREATE DATABASE IF NOT EXISTS "+podcluster.AppDatabase)
			if err == nil {
				err = execThroughService(ctx, db, "CREATE TABLE IF NOT EXISTS "+podcluster.AppDatabase+".markers (marker VARCHAR(64) PRIMARY KEY, server_id INT NOT NULL)")
			}
		}
		if err == nil {
			err = execThroughService(ctx, db, "INSERT INTO "+podcluster.AppDatabase+".markers VALUES (?, @@server_id)", c.marker)
		}
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		other := b
		count := 2
		if c.x.name == b.name {
			other, count = s.set, n
		}
		for i := range count {
			ip, err := other.podIP(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			db := openDB(ip, "root", rootPassword, "")
			var got int
			err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+podcluster.AppDatabase+".markers WHERE marker = ?", c.marker).Scan(&got)
			db.Close()
			if err == nil && got > 0 {
				t.Errorf("%s (cluster %s) holds the marker written through %s-primary", other.podName(i), other.name, c.x.name)
			}
		}
	}
	s.checkInvariants(t, n)
}

// 8. helm install of deploy/helm/mysql-bootstrap (release "chart", two
// pods, the images built here) beside the kustomize cluster: it comes up,
// replicates within itself, and its Services select only its pods.
func (s *suite) helmChart(t *testing.T) {
	ctx := context.Background()
	helm, err := helmBinary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chart, err := filepath.Abs(filepath.Join("..", "..", "helm", "mysql-bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	repo, tag, _ := strings.Cut(s.srv.Image, ":")
	const release = "chart"
	args := []string{"install", release, chart, "--namespace", s.ns, "--wait=false",
		"--set", "flavor=" + s.srv.Flavor, "--set", "replicas=2",
		"--set", "image.repository=mysql-bootstrap", "--set", "image.tag=dev",
		"--set", "server.image.repository=" + repo, "--set", "server.image.tag=" + tag}
	if out, err := runHelm(ctx, helm, args...); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	c := set{ns: s.ns, name: release}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if out, err := runHelm(ctx, helm, "uninstall", release, "--namespace", s.ns, "--wait", "--timeout", "150s"); err != nil {
			t.Logf("helm uninstall: %v\n%s", err, out)
		}
		// The chart keeps its Secret and, as every StatefulSet, its claims.
		_, _ = kubectl(ctx, s.ns, "delete", "secret", release+"-credentials", "--ignore-not-found")
		for i := range 2 {
			_, _ = kubectl(ctx, s.ns, "delete", "pvc", "data-"+c.podName(i), "--wait=false", "--ignore-not-found")
		}
	}()
	start := time.Now()
	if _, err := c.waitReady(ctx, 2, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	s.figure(t, "helm install (2 pods) → Ready: %.1f s", time.Since(start).Seconds())
	var secret struct {
		Data map[string][]byte `json:"data"`
	}
	if err := api.Get(ctx, "/api/v1/namespaces/"+s.ns+"/secrets/"+release+"-credentials", &secret); err != nil {
		t.Fatal(err)
	}
	rootPW := string(secret.Data["root-password"])
	if rootPW == "" || rootPW == rootPassword {
		t.Fatalf("the chart's Secret holds root password %q: want one generated for the release", rootPW)
	}
	for svc, want := range map[string][]string{release: {c.podName(0), c.podName(1)}, release + "-read": {c.podName(0), c.podName(1)}, release + "-primary": {c.podName(0)}} {
		if err := testkit.Eventually(ctx, time.Minute, "Service "+svc+" selects "+strings.Join(want, ","), func(ctx context.Context) error {
			got, err := c.endpoints(ctx, svc)
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("endpoints %v", got)
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
	}
	if err := c.waitEndpoints(ctx, release+"-primary", c.podName(0)); err != nil {
		t.Fatal(err)
	}
	ip, err := c.serviceIP(ctx, release+"-primary")
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(ip, "root", rootPW, "")
	marker := "chart-" + randHex(3)
	for _, stmt := range []string{
		"CREATE DATABASE chart",
		"CREATE TABLE chart.markers (marker VARCHAR(64) PRIMARY KEY)",
		"INSERT INTO chart.markers VALUES ('" + marker + "')",
	} {
		if err := execThroughService(ctx, db, stmt); err != nil {
			db.Close()
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()
	ip1, err := c.podIP(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	replica := openDB(ip1, "root", rootPW, "")
	defer replica.Close()
	if err := testkit.Eventually(ctx, time.Minute, c.podName(1)+" has the row written through "+release+"-primary", func(ctx context.Context) error {
		var n int
		if err := replica.QueryRowContext(ctx, "SELECT COUNT(*) FROM chart.markers WHERE marker = ?", marker).Scan(&n); err != nil {
			return err
		}
		if n != 1 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st, err := sidecarStatus(ctx, ip1)
	if err != nil {
		t.Fatal(err)
	}
	if want := c.podName(0) + "." + release + "." + s.ns + ".svc.cluster.local"; st.Replication == nil || st.Replication.SourceHost != want {
		t.Errorf("%s replicates from %+v, want %s", c.podName(1), st.Replication, want)
	}
	n, err := s.replicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.checkInvariants(t, n)
}

// helmBinary builds the pinned helm CLI (deploy/tools) into bin/tools.
func helmBinary(ctx context.Context) (string, error) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		return "", err
	}
	out := filepath.Join(root, "bin", "tools")
	cmd := exec.CommandContext(ctx, filepath.Join(root, "deploy", "tools", "build.sh"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("deploy/tools/build.sh: %v\n%s", err, b)
	}
	return filepath.Join(out, "helm"), nil
}

func runHelm(ctx context.Context, helm string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, helm, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig(), "HELM_CACHE_HOME="+os.TempDir()+"/helm-cache",
		"HELM_CONFIG_HOME="+os.TempDir()+"/helm-config", "HELM_DATA_HOME="+os.TempDir()+"/helm-data")
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// 9. The primary's PersistentVolumeClaim deleted with its pod: the
// controller makes a new pod with a new, empty volume; the sidecar's
// empty-primary guard copies a peer's data before it takes a write, so
// every acknowledged write is back.
func (s *suite) primaryClaimDeleted(t *testing.T) {
	ctx := context.Background()
	n, err := s.replicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := s.startWriter(ctx)
	if err := w.WaitAcked(ctx, 50, time.Time{}, time.Minute); err != nil {
		t.Fatal(err)
	}
	old, err := s.pod(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	claim := "data-" + s.podName(0)
	var pvc struct {
		Metadata struct {
			UID string `json:"uid"`
		} `json:"metadata"`
	}
	if err := api.Get(ctx, "/api/v1/namespaces/"+s.ns+"/persistentvolumeclaims/"+claim, &pvc); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	if _, err := kubectl(ctx, s.ns, "delete", "pvc", claim, "--wait=false"); err != nil {
		t.Fatal(err)
	}
	if _, err := kubectl(ctx, s.ns, "delete", "pod", s.podName(0), "--wait=false"); err != nil {
		t.Fatal(err)
	}
	_, to := s.writesBackOnNewPrimary(t, w, old, deleted, func(ctx context.Context) error {
		var now struct {
			Metadata struct {
				UID string `json:"uid"`
			} `json:"metadata"`
		}
		if err := api.Get(ctx, "/api/v1/namespaces/"+s.ns+"/persistentvolumeclaims/"+claim, &now); err != nil {
			return err
		}
		if now.Metadata.UID == pvc.Metadata.UID {
			return errors.New("the old claim is still there")
		}
		return nil
	})
	s.figure(t, "primary's claim and pod deleted → recovered from a peer, writes accepted again: %.1f s", to.Sub(deleted).Seconds())
	s.stopWriter(w)
	s.requireSeeded(t, 0, "took writes on a new, empty volume without a copy of a peer's data")
	s.checkInvariants(t, n)
}

// requireSeeded fails unless pod ordinal's sidecar copied a peer's data.
func (s *suite) requireSeeded(t *testing.T, ordinal int, otherwise string) {
	t.Helper()
	ctx := context.Background()
	ip, err := s.podIP(ctx, ordinal)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sidecarStatus(ctx, ip)
	if err != nil {
		t.Fatal(err)
	}
	if st.Seed == nil || st.Seed.Seeds < 1 {
		t.Errorf("%s %s (seed status %+v)", s.podName(ordinal), otherwise, st.Seed)
	}
}

// checkInvariants: all n pods Ready; every acknowledged write on every
// pod; equal data; no errant GTIDs on the replicas; replicas refuse
// writes.
func (s *suite) checkInvariants(t *testing.T, n int) {
	t.Helper()
	s.checkInvariantsAt(t, n, 0)
}

// checkInvariantsAt is checkInvariants with the primary at ordinal
// primaryAt (PRIMARY=kubernetes moves it).
func (s *suite) checkInvariantsAt(t *testing.T, n, primaryAt int) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.waitReady(ctx, n, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	ips := make([]string, n)
	for i := range n {
		ip, err := s.podIP(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		ips[i] = ip
	}
	primary := openDB(ips[primaryAt], "root", rootPassword, "")
	defer primary.Close()
	want, err := podcluster.Digest(ctx, primary, "SELECT id, v FROM "+podcluster.AppDatabase+".writes ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		db := openDB(ips[i], "root", rootPassword, "")
		err := testkit.Eventually(ctx, time.Minute, s.podName(i)+" holds every acknowledged write and the primary's data", func(ctx context.Context) error {
			ids, err := podcluster.IDs(ctx, db)
			if err != nil {
				return err
			}
			var missing []int64
			for _, id := range s.acked {
				if !ids[id] {
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 {
				return fmt.Errorf("%d of %d acknowledged writes missing, first %v", len(missing), len(s.acked), missing[:min(5, len(missing))])
			}
			if i == primaryAt {
				return nil
			}
			got, err := podcluster.Digest(ctx, db, "SELECT id, v FROM "+podcluster.AppDatabase+".writes ORDER BY id")
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("writes %+v, primary %+v", got, want)
			}
			return nil
		})
		db.Close()
		if err != nil {
			t.Error(err)
		}
	}
	for i := range n {
		if i == primaryAt {
			continue
		}
		err := testkit.Eventually(ctx, 30*time.Second, s.podName(i)+" has no errant transactions", func(ctx context.Context) error {
			st, err := sidecarStatus(ctx, ips[i])
			if err != nil {
				return err
			}
			if st.Replication == nil || st.Replication.ErrantGTIDs != "" {
				return fmt.Errorf("replication %+v", st.Replication)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		app := openDB(ips[i], podcluster.AppUser, appPassword, podcluster.AppDatabase)
		_, err = app.ExecContext(ctx, "INSERT INTO writes (id, v) VALUES (?, 'replica write')", -int64(i)-1000*time.Now().Unix()%1000000)
		app.Close()
		if errnum(err) != errReadOnly {
			t.Errorf("%s: a write on the replica got %v, want error %d (read-only)", s.podName(i), err, errReadOnly)
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
