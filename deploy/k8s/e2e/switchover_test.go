package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

// TestSwitchover runs the opt-in PRIMARY=kubernetes mode on the real
// cluster, on each server of K8S_SWITCHOVER_SERVERS (default mysql-9.7 and
// mariadb-11.8): the test overlay with the kubernetes-primary component
// (a Lease, role labels, a Role), a writer through mysql-primary, a
// switchover to mysql-1 under writes and a second one back, then a
// switchover refused to a lagging replica and to one with an errant
// transaction. Every acknowledged write is on every pod at the end.
func TestSwitchover(t *testing.T) {
	requireCluster(t)
	for _, srv := range serversFrom(t, "K8S_SWITCHOVER_SERVERS", "mysql-9.7,mariadb-11.8") {
		t.Run(srv.Name, func(t *testing.T) {
			start := time.Now()
			s := newSuite(t, srv)
			// MySQL runs with semi-synchronous replication: the switchover
			// with it, and MySQL's semisync plugins on a real server.
			s.semiSync = srv.Flavor == "mysql"
			overlay, err := leaseOverlay(t, s.overlay, leaseOptions{semiSync: s.semiSync})
			if err != nil {
				t.Fatal(err)
			}
			s.overlay = overlay
			s.runCases(t, []suiteCase{
				{"1_first_apply_pod_0_holds_the_Lease", s.leaseFirstApply},
				{"2_switchover_to_mysql-1_under_writes_and_back", s.switchoverAndBack},
				{"3_switchover_to_a_lagging_replica_is_refused", s.switchoverLagRefused},
				{"4_switchover_to_an_errant_replica_is_refused", s.switchoverErrantRefused},
			})
			t.Logf("%s, PRIMARY=kubernetes: %d acknowledged writes, %s; figures:\n  %s",
				srv.Name, len(s.acked), time.Since(start).Round(time.Second), strings.Join(s.figures, "\n  "))
		})
	}
}

// leaseOptions are what an overlay with the kubernetes-primary component
// sets in the pods besides.
type leaseOptions struct {
	// semiSync: SEMI_SYNC=true on init and the sidecar.
	semiSync bool
	// sidecarEnv: more of the sidecar's environment (FAILOVER=auto).
	sidecarEnv []envVar
}

// envVar is one variable of a container's environment.
type envVar struct{ name, value string }

// serversFrom is the servers the variable env names (def when unset).
func serversFrom(t *testing.T, env, def string) []podcluster.Server {
	t.Helper()
	names := os.Getenv(env)
	if names == "" {
		names = def
	}
	list, err := chooseServers(names)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// leaseOverlay writes a kustomization that adds the shipped
// kubernetes-primary component to a server's test overlay, with the
// environment of o.
func leaseOverlay(t testing.TB, serverOverlay string, o leaseOptions) (string, error) {
	base, err := filepath.Abs(serverOverlay)
	if err != nil {
		return "", err
	}
	component, err := filepath.Abs(filepath.Join("..", "..", "kustomize", "components", "kubernetes-primary"))
	if err != nil {
		return "", err
	}
	dir := t.TempDir()
	// kustomize takes only relative paths to other kustomizations.
	if base, err = filepath.Rel(dir, base); err != nil {
		return "", err
	}
	if component, err = filepath.Rel(dir, component); err != nil {
		return "", err
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - " + base + "\ncomponents:\n  - " + component + "\n"
	var initEnv, sidecarEnv []envVar
	if o.semiSync {
		initEnv = append(initEnv, envVar{"SEMI_SYNC", "true"})
		sidecarEnv = append(sidecarEnv, envVar{"SEMI_SYNC", "true"})
	}
	sidecarEnv = append(sidecarEnv, o.sidecarEnv...)
	if len(initEnv)+len(sidecarEnv) > 0 {
		// A strategic merge patch: env lists merge by name with the base's.
		k += `patches:
  - patch: |-
      apiVersion: apps/v1
      kind: StatefulSet
      metadata:
        name: mysql
      spec:
        template:
          spec:
`
		if len(initEnv) > 0 {
			k += "            initContainers:\n              - name: init\n" + envYAML(initEnv)
		}
		if len(sidecarEnv) > 0 {
			k += "            containers:\n              - name: sidecar\n" + envYAML(sidecarEnv)
		}
	}
	return dir, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644)
}

// envYAML is the env list of a container in leaseOverlay's patch.
func envYAML(vars []envVar) string {
	y := "                env:\n"
	for _, v := range vars {
		// A JSON string is a YAML double-quoted scalar.
		y += "                  - name: " + v.name + "\n                    value: " + strconv.Quote(v.value) + "\n"
	}
	return y
}

// leaseObject is the StatefulSet's Lease, as much as the tests read.
type leaseObject struct {
	Metadata struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		HolderIdentity string `json:"holderIdentity"`
	} `json:"spec"`
}

// getLease reads the StatefulSet's Lease.
func (s *suite) getLease(ctx context.Context) (*leaseObject, error) {
	var l leaseObject
	if err := api.Get(ctx, "/apis/coordination.k8s.io/v1/namespaces/"+s.ns+"/leases/"+s.name, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// lease reads the StatefulSet's Lease: its holder and the last
// switchover's outcome.
func (s *suite) lease(ctx context.Context) (holder string, last *wire.SwitchoverStatus, err error) {
	l, err := s.getLease(ctx)
	if err != nil {
		return "", nil, err
	}
	if raw := l.Metadata.Annotations["mysql-bootstrap/switchover-result"]; raw != "" {
		last = &wire.SwitchoverStatus{}
		if err := json.Unmarshal([]byte(raw), last); err != nil {
			return "", nil, err
		}
	}
	return l.Spec.HolderIdentity, last, nil
}

// waitPrimary waits until ordinal holds the Lease, is labelled primary
// and the only endpoint of mysql-primary, every other pod labelled
// replica and an endpoint of mysql-replicas, and every pod is Ready.
func (s *suite) waitPrimary(ctx context.Context, ordinal int, timeout time.Duration) error {
	want := s.podName(ordinal)
	return testkit.Eventually(ctx, timeout, want+" is the primary by the Lease, the labels and the Services", func(ctx context.Context) error {
		holder, _, err := s.lease(ctx)
		if err != nil {
			return err
		}
		if holder != want {
			return fmt.Errorf("the Lease is held by %q", holder)
		}
		var replicas []string
		for i := range 3 {
			p, err := s.pod(ctx, i)
			if err != nil {
				return err
			}
			label, role := p.Labels["mysql-bootstrap/role"], "replica"
			if i == ordinal {
				role = "primary"
			} else {
				replicas = append(replicas, p.Name)
			}
			if label != role {
				return fmt.Errorf("%s is labelled %q, want %q", p.Name, label, role)
			}
			if !podReady(p) {
				return fmt.Errorf("%s not ready: %s", p.Name, s.notReady(ctx, i))
			}
		}
		if eps, err := s.readyEndpoints(ctx, s.name+"-primary"); err != nil || !slices.Equal(eps, []string{want}) {
			return fmt.Errorf("mysql-primary sends to %v (%v)", eps, err)
		}
		if eps, err := s.readyEndpoints(ctx, s.name+"-replicas"); err != nil || !slices.Equal(eps, replicas) {
			return fmt.Errorf("mysql-replicas sends to %v (%v), want %v", eps, err, replicas)
		}
		return nil
	})
}

// 1. kubectl apply -k of the overlay with the component: pod 0 creates
// the Lease and is the primary; the Services follow the labels.
func (s *suite) leaseFirstApply(t *testing.T) {
	ctx := context.Background()
	took, err := s.applyUntilReady(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.figure(t, "PRIMARY=kubernetes: kubectl apply -k → all 3 pods Ready: %.1f s", took.Seconds())
	if err := s.waitPrimary(ctx, 0, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if s.semiSync {
		s.checkSemiSync(t, 0)
	}
	if err := s.createAppSchema(ctx); err != nil {
		t.Fatal(err)
	}
	w := s.startWriter(ctx)
	if err := w.WaitAcked(ctx, 50, time.Time{}, time.Minute); err != nil {
		t.Fatal(err)
	}
	s.stopWriter(w)
	s.checkInvariantsAt(t, 3, 0)
}

// checkSemiSync: with SEMI_SYNC=true the primary (ordinal primaryAt)
// has the source side on and the replica side off, every replica the
// reverse, as their /status says.
func (s *suite) checkSemiSync(t *testing.T, primaryAt int) {
	t.Helper()
	ctx := context.Background()
	for i := range 3 {
		ip, err := s.podIP(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		err = testkit.Eventually(ctx, 30*time.Second, s.podName(i)+"'s semi-sync sides follow its role", func(ctx context.Context) error {
			body, err := sidecarGet(ctx, ip, "/status")
			if err != nil {
				return err
			}
			var st struct {
				SemiSync *struct {
					Enabled bool  `json:"enabled"`
					Source  *bool `json:"source"`
					Replica *bool `json:"replica"`
				} `json:"semiSync"`
			}
			if err := json.Unmarshal(body, &st); err != nil {
				return err
			}
			ss := st.SemiSync
			if ss == nil || !ss.Enabled || ss.Source == nil || ss.Replica == nil || *ss.Source != (i == primaryAt) || *ss.Replica != (i != primaryAt) {
				b, _ := json.Marshal(ss)
				return fmt.Errorf("semiSync %s, want source %v and replica %v", b, i == primaryAt, i != primaryAt)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
}

// switchover runs `mysql-bootstrap switchover` in pod from's sidecar and
// returns its output; an error when it exits non-zero.
func (s *suite) switchover(ctx context.Context, from int, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return kubectl(ctx, s.ns, append([]string{"exec", s.podName(from), "-c", "sidecar", "--", "/mysql-bootstrap", "switchover"}, args...)...)
}

// 2. A switchover to mysql-1 under writes, run from mysql-2's sidecar,
// and one back to mysql-0 run from mysql-1's: each moves the Lease, the
// labels and mysql-primary; writes stop only while the old primary is
// read-only; nothing acknowledged is lost.
func (s *suite) switchoverAndBack(t *testing.T) {
	ctx := context.Background()
	for _, step := range []struct{ from, to int }{{2, 1}, {1, 0}} {
		w := s.startWriter(ctx)
		if err := w.WaitAcked(ctx, 50, time.Time{}, time.Minute); err != nil {
			t.Fatal(err)
		}
		asked := time.Now()
		out, err := s.switchover(ctx, step.from, "--to", s.podName(step.to))
		if err != nil {
			t.Fatalf("switchover --to %s: %v\n%s", s.podName(step.to), err, out)
		}
		done := time.Now()
		if !strings.Contains(out, "done") {
			t.Errorf("switchover's output does not say it is done:\n%s", out)
		}
		if err := s.waitPrimary(ctx, step.to, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := w.WaitAcked(ctx, 30, time.Now(), 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		from, to := w.LongestGapSince(asked)
		s.stopWriter(w)
		_, last, err := s.lease(ctx)
		if err != nil || last == nil || last.State != wire.SwitchoverDone || last.To != s.podName(step.to) {
			t.Fatalf("the Lease's last switchover is %+v (%v)", last, err)
		}
		s.figure(t, "switchover %s → %s under writes: command %.1f s, writes refused for %.1f s (the old primary read-only for %d ms before the Lease moved)",
			last.From, last.To, done.Sub(asked).Seconds(), to.Sub(from).Seconds(), last.ReadOnlyMillis)
		s.checkInvariantsAt(t, 3, step.to)
		if s.semiSync {
			s.checkSemiSync(t, step.to)
		}
		if t.Failed() {
			return
		}
	}
	// The Events on the pods say what happened.
	out, err := kubectl(ctx, s.ns, "get", "events", "--field-selector", "reason=SwitchoverDone", "-o", "name")
	if err != nil || strings.Count(out, "\n")+1 < 2 {
		t.Errorf("SwitchoverDone events: %v\n%s", err, out)
	}
}

// 3. A replica whose applier waits on a table lock (READ: the replica is
// read-only, and a read lock blocks the applier's writes) lags: a switchover to
// it is refused with the reason, and the primary keeps taking writes.
func (s *suite) switchoverLagRefused(t *testing.T) {
	ctx := context.Background()
	ip, conn := s.rootConn(t, 1)
	if _, err := conn.ExecContext(ctx, "LOCK TABLES "+podcluster.AppDatabase+".writes READ"); err != nil {
		t.Fatal(err)
	}
	w := s.startWriter(ctx)
	defer s.stopWriter(w)
	// mysql-1's /status shows data older than --max-lag.
	if err := testkit.Eventually(ctx, time.Minute, s.podName(1)+" lags by more than 2 s", func(ctx context.Context) error {
		st, err := sidecarStatus(ctx, ip)
		if err != nil {
			return err
		}
		if st.Replication == nil || st.Replication.StalenessSeconds == nil || *st.Replication.StalenessSeconds <= 2 {
			return fmt.Errorf("replication %+v", st.Replication)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	asked := time.Now()
	out, err := s.switchover(ctx, 2, "--to", s.podName(1), "--max-lag", "2s")
	if err == nil || !strings.Contains(out, "refused") || !strings.Contains(out, "lags") {
		t.Fatalf("switchover to a lagging replica: %v\n%s", err, out)
	}
	t.Logf("refused: %s", lastLine(out))
	if _, err := conn.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	if err := w.WaitAcked(ctx, 20, time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if from, to := w.LongestGapSince(asked); to.Sub(from) > 5*time.Second {
		t.Errorf("writes stopped for %.1f s around a refused switchover", to.Sub(from).Seconds())
	}
	if err := s.waitPrimary(ctx, 0, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// rootConn is one connection as root to pod ordinal's server (a session
// that holds a lock, or lifts read-only), closed when the test ends.
func (s *suite) rootConn(t *testing.T, ordinal int) (string, *sql.Conn) {
	t.Helper()
	ctx := context.Background()
	ip, err := s.podIP(ctx, ordinal)
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(ip, "root", rootPassword, "")
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return ip, conn
}

// 4. A replica with a transaction of its own (errant) cannot take over:
// the switchover is refused, naming the errant transactions. The errant
// write stays on mysql-2, so this case comes last.
func (s *suite) switchoverErrantRefused(t *testing.T) {
	ctx := context.Background()
	s.checkInvariantsAt(t, 3, 0)
	_, conn := s.rootConn(t, 2)
	lift := "SET GLOBAL super_read_only = OFF"
	if s.srv.Flavor == "mariadb" {
		lift = "SET GLOBAL read_only = OFF"
	}
	for _, stmt := range []string{lift, "CREATE DATABASE errant_on_replica"} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	out, err := s.switchover(ctx, 1, "--to", s.podName(2))
	if err == nil || !strings.Contains(out, "refused") || !strings.Contains(out, "errant") {
		t.Fatalf("switchover to an errant replica: %v\n%s", err, out)
	}
	t.Logf("refused: %s", lastLine(out))
	holder, _, err := s.lease(ctx)
	if err != nil || holder != s.podName(0) {
		t.Fatalf("the Lease is held by %q (%v) after a refused switchover", holder, err)
	}
	// The sidecar made mysql-2 read-only again.
	if err := testkit.Eventually(ctx, 30*time.Second, s.podName(2)+" read-only again", func(ctx context.Context) error {
		var ro int
		if err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.read_only").Scan(&ro); err != nil {
			return err
		}
		if ro != 1 {
			return errors.New("read_only is off")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}
