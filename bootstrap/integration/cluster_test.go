package integration

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/podtest"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/testdns"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/testserver"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

const (
	dnsAddr             = "127.0.0.153:53"
	service             = "mysql"
	namespace           = "default"
	testReplicationUser = "replication"
)

// firstReplicationPassword is the Secret's password when a cluster starts.
const firstReplicationPassword = "repl-'\"\\-secret"

func stableName(pod string) string {
	return pod + "." + service + "." + namespace + ".svc.cluster.local"
}

// cluster is a StatefulSet made of processes: a DNS server standing in for
// the headless Service, and per pod a server, init runs and a sidecar.
type cluster struct {
	t      *testing.T
	dns    *testdns.Server
	resolv string
	secret string // root password file
	pods   map[string]*pod
	// replicationPassword is the Secret's password now.
	replicationPassword string
}

type pod struct {
	name      string
	server    *testserver.Server
	sidecar   *podtest.Process
	env       podtest.Env
	secrets   string // the pod's Secret volume
	published bool
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("integration tests start real servers: skipped under -short")
	}
	if err := testserver.Available(); err != nil {
		t.Skipf("skipping integration test: %v", err)
	}
	dir := t.TempDir()
	c := &cluster{t: t, dns: testdns.Start(t, dnsAddr), pods: map[string]*pod{}, replicationPassword: firstReplicationPassword}
	c.resolv = filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(c.resolv, []byte("nameserver "+strings.Split(dnsAddr, ":")[0]+"\noptions timeout:1 attempts:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.secret = filepath.Join(dir, "root-password")
	if err := os.WriteFile(c.secret, []byte(testserver.RootPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// addPod prepares pod name at addr (server not started, DNS not set).
func (c *cluster) addPod(name, addr string, extraEnv ...string) *pod {
	p := &pod{name: name, server: testserver.New(c.t, addr, c.resolv)}
	p.secrets = filepath.Join(p.server.Dir, "credentials")
	if err := os.Mkdir(p.secrets, 0o755); err != nil {
		c.t.Fatal(err)
	}
	p.setReplicationPassword(c.t, c.replicationPassword)
	p.env = podtest.Env{
		"POD_NAME":                  name,
		"POD_NAMESPACE":             namespace,
		"SERVICE_NAME":              service,
		"MYSQL_HOST":                addr,
		"MYSQL_PORT":                "3306",
		"MYSQL_ROOT_PASSWORD_FILE":  c.secret,
		"REPLICATION_PASSWORD_FILE": filepath.Join(p.secrets, "replication-password"),
		"CONFIG_DIR":                p.server.ConfDir,
		"DATA_DIR":                  p.server.DataDir,
		"STATE_DIR":                 p.server.StateDir,
		"RESOLV_CONF":               c.resolv,
		"HTTP_ADDR":                 addr + ":8080",
		"RECONCILE_INTERVAL":        "1s",
		"WAIT_TIMEOUT":              "2m",
	}.With(extraEnv...)
	c.pods[name] = p
	return p
}

func (p *pod) http() string { return p.env["HTTP_ADDR"] }

// moveTo gives the pod a new address, as a rescheduled pod gets.
func (p *pod) moveTo(addr string) {
	p.env = p.env.With("MYSQL_HOST", addr, "HTTP_ADDR", addr+":8080")
	p.server.Addr = addr
}

// publish makes the pod's stable name resolve to its address, and the
// Service's name to every published pod's, as a headless Service with
// publishNotReadyAddresses does.
func (c *cluster) publish(p *pod) {
	p.published = true
	c.dns.Set(stableName(p.name), netip.MustParseAddr(p.server.Addr))
	var all []netip.Addr
	for _, q := range c.pods {
		if q.published {
			all = append(all, netip.MustParseAddr(q.server.Addr))
		}
	}
	c.dns.Set(service+"."+namespace+".svc.cluster.local", all...)
}

// rotate changes the pod's Secret and waits until its sidecar has read it.
func (c *cluster) rotate(t *testing.T, p *pod, pw string) {
	t.Helper()
	p.setReplicationPassword(t, pw)
	want := bootstrap.PasswordTag(testserver.RootPassword, bootstrap.Secret(pw))
	podtest.Eventually(t, 15*time.Second, p.name+" reads the new password", func() error {
		st, err := podtest.Status(p.http())
		if err != nil {
			return err
		}
		if cred, _ := st["credentials"].(map[string]any); cred["replicationTag"] != want {
			return fmt.Errorf("credentials %v", cred)
		}
		return nil
	})
}

// unpublish removes a pod from DNS, as Kubernetes does when the pod goes.
func (c *cluster) unpublish(p *pod) {
	p.published = false
	c.dns.Remove(stableName(p.name))
	var all []netip.Addr
	for _, q := range c.pods {
		if q.published {
			all = append(all, netip.MustParseAddr(q.server.Addr))
		}
	}
	c.dns.Set(service+"."+namespace+".svc.cluster.local", all...)
}

// setReplicationPassword changes the pod's Secret as the kubelet does: the
// new file goes into a new directory, and a symlink swap makes it current.
func (p *pod) setReplicationPassword(t *testing.T, pw string) {
	t.Helper()
	dir, err := os.MkdirTemp(p.secrets, "..20")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "replication-password"), []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(p.secrets, "..data_tmp")
	if err := os.Symlink(filepath.Base(dir), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(p.secrets, "..data")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(p.secrets, "replication-password")
	if _, err := os.Lstat(link); os.IsNotExist(err) {
		if err := os.Symlink(filepath.Join("..data", "replication-password"), link); err != nil {
			t.Fatal(err)
		}
	}
}

// init runs `mysql-bootstrap init` to completion and requires exit 0.
func (c *cluster) init(p *pod) podtest.Result {
	c.t.Helper()
	res := podtest.Run(c.t, 3*time.Minute, p.env, "init")
	if res.Code != 0 {
		c.t.Fatalf("init %s: exit %d\n%s", p.name, res.Code, res.Stderr)
	}
	return res
}

func (c *cluster) startSidecar(p *pod) {
	c.t.Helper()
	p.sidecar = podtest.Start(c.t, p.env, "sidecar")
}

// stopSidecar sends SIGTERM and requires a clean exit within a few seconds.
func (c *cluster) stopSidecar(p *pod) string {
	c.t.Helper()
	if code := p.sidecar.Terminate(10 * time.Second); code != 0 {
		c.t.Fatalf("sidecar %s exited %d after SIGTERM:\n%s", p.name, code, p.sidecar.Output())
	}
	return p.sidecar.Output()
}

// reschedule restarts a pod whose server is down on a new address, as
// Kubernetes does: init, server, DNS record, sidecar; then waits for ready.
func (c *cluster) reschedule(p *pod, addr string) {
	c.t.Helper()
	c.stopSidecar(p)
	p.moveTo(addr)
	c.init(p)
	p.server.Start()
	c.publish(p)
	c.startSidecar(p)
	c.waitReady(p, 60*time.Second)
}

func (c *cluster) waitReady(p *pod, timeout time.Duration) {
	c.t.Helper()
	podtest.Eventually(c.t, timeout, p.name+" /readyz 200", func() error {
		code, body, err := podtest.Get(p.http(), "/readyz")
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, strings.TrimSpace(body))
		}
		return nil
	})
}

// waitNotReady waits until p's /readyz answers 503 with a body containing
// reason.
func waitNotReady(t *testing.T, p *pod, timeout time.Duration, reason string) {
	t.Helper()
	podtest.Eventually(t, timeout, p.name+" /readyz 503: "+reason, func() error {
		code, body, err := podtest.Get(p.http(), "/readyz")
		if err != nil {
			return err
		}
		if code != http.StatusServiceUnavailable || !strings.Contains(body, reason) {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
}

func (c *cluster) logs() {
	for _, p := range c.pods {
		if p.sidecar != nil {
			c.t.Logf("--- sidecar %s:\n%s", p.name, tail(p.sidecar.Output(), 25))
		}
		c.t.Logf("--- server %s:\n%s", p.name, p.server.ErrorLog(15))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func sha(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func countRows(db *sql.DB) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n)
	return n, err
}

func insertRows(t *testing.T, db *sql.DB, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := db.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (?, ?)", i, fmt.Sprintf("row %d", i))
		cancel()
		if err != nil {
			t.Fatalf("insert row %d on the primary: %v", i, err)
		}
	}
}

func waitRows(t *testing.T, p *pod, want int, timeout time.Duration) {
	t.Helper()
	db := p.server.App()
	defer db.Close()
	podtest.Eventually(t, timeout, fmt.Sprintf("%s holds %d rows", p.name, want), func() error {
		n, err := countRows(db)
		if err != nil {
			return err
		}
		if n != want {
			return fmt.Errorf("has %d rows", n)
		}
		return nil
	})
}

// gtidState reads what decides errant transactions: MySQL's gtid_executed,
// MariaDB's gtid_binlog_state.
func gtidState(t *testing.T, db *sql.DB) string {
	t.Helper()
	q := "SELECT @@GLOBAL.gtid_executed"
	if testserver.ServerFlavor() == testserver.MariaDB {
		q = "SELECT @@GLOBAL.gtid_binlog_state"
	}
	var s string
	if err := db.QueryRow(q).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// requireSubset fails unless the replica's transactions are all the
// primary's: no errant GTIDs.
func requireSubset(t *testing.T, replica, primary *pod) {
	t.Helper()
	rdb, pdb := replica.server.Root(), primary.server.Root()
	defer rdb.Close()
	defer pdb.Close()
	mine, theirs := gtidState(t, rdb), gtidState(t, pdb)
	var ok bool
	if testserver.ServerFlavor() == testserver.MariaDB {
		var err error
		if ok, err = sqldialect.MariaDBGTIDSubset(mine, theirs); err != nil {
			t.Fatal(err)
		}
	} else if err := pdb.QueryRow("SELECT GTID_SUBSET(?, ?)", mine, theirs).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("%s has transactions the primary lacks: replica %q, primary %q", replica.name, mine, theirs)
	}
}

func changeLines(output string) int {
	return len(podtest.LogLines(output, "pointed replication at the primary"))
}

// TestCluster walks a three-pod StatefulSet through its life: replicas
// started before the primary's name exists, convergence, refused writes on
// replicas, truthful probes, idempotent restarts, the primary going down
// and coming back on a new address.
func TestCluster(t *testing.T) {
	c := newCluster(t)
	defer func() {
		if t.Failed() {
			c.logs()
		}
	}()
	primary := c.addPod("mysql-0", "127.0.0.11")
	r1 := c.addPod("mysql-1", "127.0.0.12", "FLAVOR", string(testserver.ServerFlavor()), "INIT_WAIT_FOR_PRIMARY", "true")
	r2 := c.addPod("mysql-2", "127.0.0.13")
	replicas := []*pod{r1, r2}

	// Parallel pod management, before the primary's name exists: mysql-2's
	// init returns at once (the default) and its server and sidecar start,
	// not ready; mysql-1's init, with INIT_WAIT_FOR_PRIMARY, waits for the
	// primary's name.
	c.init(r2)
	r2.server.Start()
	c.publish(r2)
	c.startSidecar(r2)
	podtest.Eventually(t, 60*time.Second, "mysql-2 up without a primary, not ready", func() error {
		code, body, err := podtest.Get(r2.http(), "/status")
		if err != nil || code != http.StatusOK || !strings.Contains(body, `"serverUp": true`) {
			return fmt.Errorf("/status %d %v", code, err)
		}
		if code, body, err := podtest.Get(r2.http(), "/readyz"); err != nil || code != http.StatusServiceUnavailable {
			return fmt.Errorf("%w: /readyz %d %s %v without a primary, want 503", testkit.ErrGiveUp, code, body, err)
		}
		return nil
	})
	waiting := podtest.Start(t, r1.env, "init")
	podtest.Eventually(t, 30*time.Second, "init of mysql-1 waits on DNS", func() error {
		if c.dns.Queries(stableName("mysql-0")) == 0 {
			return errors.New("no query for the primary's name yet")
		}
		return nil
	})
	select {
	case <-waiting.Done():
		t.Fatalf("init of a replica returned before the primary existed:\n%s", waiting.Output())
	default:
	}

	c.init(primary)
	primary.server.Start()
	c.publish(primary)
	c.startSidecar(primary)
	if code := waiting.Wait(60 * time.Second); code != 0 {
		t.Fatalf("waiting init exited %d:\n%s", code, waiting.Output())
	}
	if !strings.Contains(waiting.Output(), "NXDOMAIN") {
		t.Errorf("waiting init never logged the NXDOMAIN it saw:\n%s", waiting.Output())
	}
	r1.server.Start()
	c.publish(r1)
	c.startSidecar(r1)
	for _, p := range []*pod{primary, r1, r2} {
		c.waitReady(p, 60*time.Second)
	}

	pdb := primary.server.App()
	defer pdb.Close()
	if _, err := pdb.Exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(64))"); err != nil {
		t.Fatalf("create table on the primary: %v", err)
	}
	insertRows(t, pdb, 1, 50)

	t.Run("replicas converge", func(t *testing.T) {
		for _, r := range replicas {
			waitRows(t, r, 50, 30*time.Second)
			requireSubset(t, r, primary)
		}
	})

	t.Run("replicas refuse writes", func(t *testing.T) {
		for _, r := range replicas {
			db := r.server.App()
			_, err := db.Exec("INSERT INTO t (id, v) VALUES (1000, 'on a replica')")
			db.Close()
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != 1290 {
				t.Errorf("%s: write on a replica: got %v, want error 1290 (read-only)", r.name, err)
			}
		}
		n, err := countRows(pdb)
		if err != nil || n != 50 {
			t.Errorf("primary has %d rows (%v), want 50", n, err)
		}
	})

	t.Run("status tells the truth", func(t *testing.T) {
		st, err := podtest.Status(primary.http())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"pod": "mysql-0", "role": "primary", "serverId": float64(100), "ready": true,
			"readOnly": false, "flavor": string(testserver.ServerFlavor()), "primaryHost": stableName("mysql-0")}
		for k, v := range want {
			if st[k] != v {
				t.Errorf("primary /status %s = %v, want %v", k, st[k], v)
			}
		}
		for i, r := range replicas {
			st, err := podtest.Status(r.http())
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"pod": r.name, "role": "replica", "serverId": float64(101 + i), "ready": true,
				"readOnly": true, "ordinal": float64(1 + i)}
			for k, v := range want {
				if st[k] != v {
					t.Errorf("%s /status %s = %v, want %v", r.name, k, st[k], v)
				}
			}
			rep, _ := st["replication"].(map[string]any)
			if rep["ioRunning"] != true || rep["sqlRunning"] != true || rep["lagSeconds"] == nil || rep["lastError"] != "" {
				t.Errorf("%s /status replication = %v, want both threads running, a lag and no error", r.name, rep)
			}
			code, body, err := podtest.Get(r.http(), "/metrics")
			if err != nil || code != 200 || !strings.Contains(body, "mysql_bootstrap_ready 1") ||
				!strings.Contains(body, `mysql_bootstrap_role{role="replica"} 1`) ||
				!strings.Contains(body, "mysql_bootstrap_replication_io_running 1") {
				t.Errorf("%s /metrics: %d %v\n%s", r.name, code, err, body)
			}
			if strings.Contains(body, c.replicationPassword) || strings.Contains(r.sidecar.Output(), c.replicationPassword) ||
				strings.Contains(r.sidecar.Output(), testserver.RootPassword) {
				t.Errorf("%s: a password leaked into /metrics or the logs", r.name)
			}
		}
	})

	t.Run("init and sidecar restarts change nothing", func(t *testing.T) {
		for _, p := range []*pod{primary, r1, r2} {
			path := filepath.Join(p.server.ConfDir, "50-mysql-bootstrap.cnf")
			// The first init after the server's first start may add what
			// only a server with data gets (super_read_only on MySQL);
			// from then on init writes the same bytes.
			c.init(p)
			before := sha(t, path)
			res := c.init(p)
			if sha(t, path) != before {
				t.Errorf("%s: init rewrote the configuration with different bytes", p.name)
			}
			if l := podtest.LogLines(res.Stderr, "server configuration written"); len(l) != 1 || l[0]["changed"] != false {
				t.Errorf("%s: init should report the configuration unchanged: %v", p.name, l)
			}
		}
		for round := 0; round < 3; round++ {
			for _, p := range []*pod{primary, r1, r2} {
				out := c.stopSidecar(p)
				if round > 0 && changeLines(out) != 0 {
					t.Errorf("%s: sidecar restart %d ran CHANGE again:\n%s", p.name, round, out)
				}
				c.startSidecar(p)
			}
			for _, p := range []*pod{primary, r1, r2} {
				c.waitReady(p, 30*time.Second)
			}
		}
		for _, r := range replicas {
			if n := changeLines(r.sidecar.Output()); n != 0 {
				t.Errorf("%s: restarted sidecar ran CHANGE %d times", r.name, n)
			}
			requireSubset(t, r, primary)
		}
		if l := podtest.LogLines(primary.sidecar.Output(), "created the replication account"); len(l) != 0 {
			t.Errorf("restarted primary sidecar re-created the replication account")
		}
	})

	t.Run("replicas serve reads through a primary outage until their data is too old", func(t *testing.T) {
		const maxLag = 30 * time.Second // MAX_REPLICATION_LAG's default
		for _, r := range replicas {
			if st, err := podtest.Status(r.http()); err == nil {
				rep, _ := st["replication"].(map[string]any)
				t.Logf("%s before the outage: %v (staleness %v s, GTIDs %v)", r.name, st["reason"], rep["stalenessSeconds"], st["gtidExecuted"])
			}
		}
		if st, err := podtest.Status(primary.http()); err == nil {
			t.Logf("%s before the outage: GTIDs %v", primary.name, st["gtidExecuted"])
		}
		// The primary answers nothing from the start of its shutdown on,
		// which may take seconds (MySQL's did, 11 s): how old the
		// replicas' data is counts from then.
		stoppedAt := time.Now()
		primary.server.Stop()
		t.Logf("%s's server shut down in %s", primary.name, time.Since(stoppedAt).Round(time.Millisecond))
		// Until 12 s into the outage (at least three rounds): every
		// replica ready, answering reads.
		for round := 0; round < 3 || time.Since(stoppedAt) < 12*time.Second; round++ {
			for _, r := range replicas {
				code, body, err := podtest.Get(r.http(), "/readyz")
				if err != nil || code != http.StatusOK {
					t.Fatalf("%s /readyz %s into the outage = %d %v %s", r.name, time.Since(stoppedAt).Round(time.Millisecond), code, err, body)
				}
				db := r.server.App()
				n, err := countRows(db)
				db.Close()
				if err != nil || n != 50 {
					t.Fatalf("%s read %d rows (%v) during the outage, want 50", r.name, n, err)
				}
			}
			time.Sleep(250 * time.Millisecond) // the probe's pace, inside a bounded loop
		}
		if code, _, err := podtest.Get(primary.http(), "/healthz"); err != nil || code != http.StatusServiceUnavailable {
			t.Errorf("primary /healthz with its server down = %d %v, want 503", code, err)
		}
		waitNotReady(t, primary, 15*time.Second, "local server does not answer")

		// A replica restarted during the outage: init does not wait for
		// the primary (its datadir holds data), the server starts, and the
		// new sidecar knows from STATE_DIR how old the data is.
		c.stopSidecar(r1)
		r1.server.Stop()
		res := c.init(r1)
		if len(podtest.LogLines(res.Stderr, "data directory holds data: not waiting for the primary")) != 1 {
			t.Errorf("init of a replica with data should not wait for the primary:\n%s", res.Stderr)
		}
		r1.server.Start()
		c.startSidecar(r1)
		c.waitReady(r1, 15*time.Second)
		if l := podtest.LogLines(r1.sidecar.Output(), "restored what the last sidecar knew"); len(l) != 1 {
			t.Errorf("the restarted sidecar did not restore its state:\n%s", r1.sidecar.Output())
		}
		db := r1.server.App()
		if n, err := countRows(db); err != nil || n != 50 {
			t.Errorf("restarted %s read %d rows (%v), want 50", r1.name, n, err)
		}
		db.Close()
		t.Logf("%s restarted and ready %s into the outage", r1.name, time.Since(stoppedAt).Round(time.Millisecond))

		// Past MAX_REPLICATION_LAG the replicas leave the Service.
		for _, r := range replicas {
			waitNotReady(t, r, maxLag+10*time.Second-time.Since(stoppedAt), "more than MAX_REPLICATION_LAG")
			if elapsed := time.Since(stoppedAt); elapsed < maxLag-5*time.Second {
				st, _ := podtest.Status(r.http())
				t.Errorf("%s left after %s, before its data could be %s old: %v %v", r.name, elapsed.Round(time.Millisecond), maxLag, st["reason"], st["replication"])
			}
			st, err := podtest.Status(r.http())
			if err != nil {
				t.Fatal(err)
			}
			if rep, _ := st["replication"].(map[string]any); rep["ioRunning"] != false || st["ready"] != false || rep["stalenessSeconds"] == nil {
				t.Errorf("%s /status while the primary is down: %v", r.name, st)
			}
			if code, _, err := podtest.Get(r.http(), "/healthz"); err != nil || code != 200 {
				t.Errorf("%s /healthz = %d %v, want 200: its own server is up", r.name, code, err)
			}
		}
		t.Logf("replicas not ready %s after the primary stopped", time.Since(stoppedAt).Round(time.Millisecond))
	})

	t.Run("primary comes back on a new address", func(t *testing.T) {
		c.reschedule(primary, "127.0.0.21")
		pdb2 := primary.server.App()
		defer pdb2.Close()
		insertRows(t, pdb2, 51, 80)
		for _, r := range replicas {
			waitRows(t, r, 80, 30*time.Second)
			c.waitReady(r, 30*time.Second)
			requireSubset(t, r, primary)
		}
		for _, r := range replicas {
			if n := changeLines(r.sidecar.Output()); n != 0 {
				t.Errorf("%s: following the primary by name should need no CHANGE, ran %d", r.name, n)
			}
		}
	})

	t.Run("primary killed under load comes back on a new address", func(t *testing.T) {
		pdb3 := primary.server.App()
		insertRows(t, pdb3, 81, 90)
		pdb3.Close()
		primary.server.Kill()
		c.reschedule(primary, "127.0.0.22")
		pdb4 := primary.server.App()
		defer pdb4.Close()
		insertRows(t, pdb4, 91, 100)
		for _, r := range replicas {
			waitRows(t, r, 100, 30*time.Second)
			requireSubset(t, r, primary)
		}
	})

	t.Run("a replica whose receiver falls behind on a slow link while its applier idles leaves readiness", func(t *testing.T) {
		const maxLag = 30 * time.Second // MAX_REPLICATION_LAG's default
		pdb := primary.server.App()
		defer pdb.Close()
		if _, err := pdb.Exec("CREATE TABLE bulk (id INT PRIMARY KEY, pad LONGTEXT NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		for _, r := range replicas {
			c.waitReady(r, 30*time.Second)
		}
		// The primary's name now leads through a link that brings 8 KiB/s.
		proxy := startSlowProxy(t, "127.0.0.31", net.JoinHostPort(primary.server.Addr, "3306"), 8<<10)
		c.dns.Set(stableName(primary.name), netip.MustParseAddr("127.0.0.31"))
		defer func() {
			c.publish(primary)
			proxy.close()
			for _, r := range replicas {
				c.waitReady(r, 60*time.Second)
			}
		}()
		// The receivers reconnect, by name: through the proxy.
		root := primary.server.Root()
		defer root.Close()
		podtest.Eventually(t, 30*time.Second, "both receivers connected through the slow link", func() error {
			rows, err := root.Query("SELECT ID, HOST FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
			if err != nil {
				return err
			}
			defer rows.Close()
			var through int
			for rows.Next() {
				var id int64
				var host string
				if err := rows.Scan(&id, &host); err != nil {
					return err
				}
				if strings.HasPrefix(host, "127.0.0.31:") {
					through++
					continue
				}
				_, _ = root.Exec(fmt.Sprintf("KILL %d", id))
			}
			if through != len(replicas) {
				return fmt.Errorf("%d of %d receivers through the proxy", through, len(replicas))
			}
			return rows.Err()
		})
		// 4 MiB in rows: at 8 KiB/s the receivers are minutes behind,
		// while their appliers apply each event as it arrives.
		start := time.Now()
		for i := 1; i <= 64; i++ {
			if _, err := pdb.Exec("INSERT INTO bulk (id, pad) VALUES (?, REPEAT('x', 65536))", i); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range replicas {
			waitNotReady(t, r, maxLag+30*time.Second-time.Since(start), "it has not applied what the primary held")
			t.Logf("%s not ready %s after the burst", r.name, time.Since(start).Round(time.Millisecond))
		}
		// And it stays so (the applier's lag says 0 most of the time).
		var lags []any
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			for _, r := range replicas {
				code, body, err := podtest.Get(r.http(), "/readyz")
				if err == nil && code == http.StatusOK {
					t.Fatalf("%s ready again while its receiver is behind: %s", r.name, body)
				}
				if st, err := podtest.Status(r.http()); err == nil {
					rep, _ := st["replication"].(map[string]any)
					lags = append(lags, rep["lagSeconds"])
				}
			}
			time.Sleep(250 * time.Millisecond) // the probe's pace, inside a bounded loop
		}
		t.Logf("Seconds_Behind_Source seen meanwhile: %v", lags)
		proxy.setRate(0)
		for _, r := range replicas {
			c.waitReady(r, 90*time.Second)
			waitRows(t, r, 100, 10*time.Second)
		}
		t.Logf("both replicas ready again %s after the link was freed", time.Since(start).Round(time.Millisecond))
	})

	t.Run("a clone's guard left up by a sidecar that died is put back before the primary is ready", func(t *testing.T) {
		if testserver.ServerFlavor() != testserver.MySQL {
			t.Skip("MariaDB has no offline_mode and no CLONE (it seeds by mariadb-backup)")
		}
		// What a sidecar that died in the middle of a CLONE leaves: its
		// marker in STATE_DIR, read-only lifted behind offline_mode.
		c.stopSidecar(primary)
		marker := filepath.Join(primary.server.StateDir, "clone.json")
		if err := os.WriteFile(marker, []byte(`{"donor":"mysql-1","started":"`+time.Now().UTC().Format(time.RFC3339)+`"}`+"\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		db := primary.server.Root()
		defer db.Close()
		for _, q := range []string{"SET GLOBAL offline_mode = ON", "SET GLOBAL super_read_only = OFF", "SET GLOBAL read_only = OFF"} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		c.startSidecar(primary)
		start := time.Now()
		ready := false
		for !ready && time.Since(start) < 60*time.Second {
			code, body, err := podtest.Get(primary.http(), "/readyz")
			var offline, ro int
			if qerr := db.QueryRow("SELECT @@GLOBAL.offline_mode, @@GLOBAL.read_only").Scan(&offline, &ro); qerr != nil {
				t.Fatal(qerr)
			}
			_, markerErr := os.Stat(marker)
			if err == nil && code == http.StatusOK {
				if offline != 0 || markerErr == nil {
					t.Fatalf("primary ready %s after its sidecar started while offline_mode = %d and the clone marker is there (%v): %s",
						time.Since(start).Round(time.Millisecond), offline, markerErr, body)
				}
				ready = true
			}
			time.Sleep(100 * time.Millisecond) // polling inside a bounded loop
		}
		if !ready {
			t.Fatalf("primary not ready 60 s after its sidecar started:\n%s", tail(primary.sidecar.Output(), 20))
		}
		if l := podtest.LogLines(primary.sidecar.Output(), "seeding: put read-only back and let clients in again after a clone"); len(l) != 1 {
			t.Errorf("the sidecar did not put the clone's guard back once: %v\n%s", l, tail(primary.sidecar.Output(), 20))
		}
		if l := podtest.LogLines(primary.sidecar.Output(), "made the primary writable"); len(l) != 1 {
			t.Errorf("the primary was not made writable again through its guard: %v", l)
		}
		t.Logf("the clone's guard was put back and the primary ready again %s after its sidecar started", time.Since(start).Round(time.Millisecond))
	})

	t.Run("the replication password follows the Secret files in any order", func(t *testing.T) {
		next := 100
		for i, order := range []struct {
			name  string
			steps func(pw string)
		}{
			{"primary first", func(pw string) {
				c.rotate(t, primary, pw)
				c.rotate(t, r1, pw)
				c.rotate(t, r2, pw)
			}},
			{"replicas first", func(pw string) {
				c.rotate(t, r2, pw)
				c.rotate(t, r1, pw)
				c.rotate(t, primary, pw)
			}},
			{"restarts on the way, one replica never restarted", func(pw string) {
				c.rotate(t, primary, pw)
				// The primary's restart drops the replicas' sessions: they
				// reconnect with whatever their channels hold.
				primary.server.Stop()
				primary.server.Start()
				c.stopSidecar(r1)
				r1.setReplicationPassword(t, pw)
				c.startSidecar(r1)
				c.rotate(t, r2, pw)
			}},
		} {
			pw := fmt.Sprintf("rot%d-'\"\\-%s", i, strings.ReplaceAll(order.name, " ", "")[:6])
			changesBefore := map[*pod]int{r1: changeLines(r1.sidecar.Output()), r2: changeLines(r2.sidecar.Output())}
			start := time.Now()
			order.steps(pw)
			for _, r := range replicas {
				c.waitReady(r, 30*time.Second)
				podtest.Eventually(t, 30*time.Second, r.name+" replicates with the new password", func() error {
					st, err := podtest.Status(r.http())
					if err != nil {
						return err
					}
					cred, _ := st["credentials"].(map[string]any)
					if want := bootstrap.PasswordTag(testserver.RootPassword, bootstrap.Secret(pw)); cred["channelTag"] != want {
						return fmt.Errorf("channel password %v, want %s", cred["channelTag"], want)
					}
					return nil
				})
			}
			// The primary takes only the new password once the replicas moved.
			podtest.Eventually(t, 30*time.Second, "the old password is refused", func() error {
				if err := primary.server.Login(testReplicationUser, pw); err != nil {
					return fmt.Errorf("new password: %v", err)
				}
				if testserver.ServerFlavor() == testserver.MySQL {
					if err := primary.server.Login(testReplicationUser, c.replicationPassword); err == nil {
						return errors.New("the old password still works")
					}
				}
				return nil
			})
			pdb := primary.server.App()
			insertRows(t, pdb, next+1, next+10)
			pdb.Close()
			next += 10
			for _, r := range replicas {
				waitRows(t, r, next, 30*time.Second)
				out := r.sidecar.Output()
				n := changeLines(out) - changesBefore[r]
				if r == r1 && order.name == "restarts on the way, one replica never restarted" {
					n = changeLines(out)
				}
				if n > 3 {
					t.Errorf("%s: %s: %d CHANGE statements, want a handful at most:\n%s", order.name, r.name, n, tail(out, 20))
				}
				if strings.Contains(out, pw) {
					t.Errorf("%s: the new password is in %s's log", order.name, r.name)
				}
			}
			t.Logf("%s: every replica replicating with the new password %s after the first file changed", order.name, time.Since(start).Round(time.Millisecond))
			c.replicationPassword = pw
		}
	})

	t.Run("a replica whose password the primary refuses: no CHANGE storm, the reason says what to fix", func(t *testing.T) {
		// mysql-1's Secret holds a password the primary never had, and its
		// channel was set with it by hand.
		c.stopSidecar(r1)
		r1.setReplicationPassword(t, "not-the-primarys")
		db := r1.server.Root()
		for _, q := range []string{"STOP REPLICA", "CHANGE MASTER TO MASTER_PASSWORD='not-the-primarys'", "START REPLICA"} {
			if testserver.ServerFlavor() == testserver.MySQL {
				q = strings.Replace(q, "CHANGE MASTER TO MASTER_", "CHANGE REPLICATION SOURCE TO SOURCE_", 1)
			}
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		db.Close()
		c.startSidecar(r1)
		start := time.Now()
		var reason string
		podtest.Eventually(t, 30*time.Second, r1.name+" /status names REPLICATION_PASSWORD", func() error {
			st, err := podtest.Status(r1.http())
			if err != nil {
				return err
			}
			reason, _ = st["reason"].(string)
			if !strings.Contains(reason, "REPLICATION_PASSWORD") {
				return fmt.Errorf("reason %q", reason)
			}
			return nil
		})
		t.Logf("%s: %s", r1.name, reason)
		// A minute of it: the number of CHANGE statements stays small.
		for time.Since(start) < 60*time.Second {
			if n := changeLines(r1.sidecar.Output()); n > 10 {
				t.Fatalf("%s ran CHANGE %d times in %s", r1.name, n, time.Since(start).Round(time.Second))
			}
			time.Sleep(time.Second) // sampling inside a bounded loop
		}
		t.Logf("%s ran CHANGE %d times in %s with a password the primary refuses", r1.name, changeLines(r1.sidecar.Output()), time.Since(start).Round(time.Second))
		// Correcting the Secret heals it, without a restart.
		r1.setReplicationPassword(t, c.replicationPassword)
		c.waitReady(r1, 30*time.Second)
		if n := changeLines(r1.sidecar.Output()); n < 1 || n > 10 {
			t.Errorf("%s ran CHANGE %d times in all", r1.name, n)
		}
	})

	t.Run("an errant write on a replica makes it not ready", func(t *testing.T) {
		if testserver.ServerFlavor() != testserver.MariaDB {
			t.Skip("MySQL's super_read_only refuses even root")
		}
		// MariaDB's read_only lets holders of READ ONLY ADMIN (root) write:
		// the sidecar must notice the divergence instead of serving it.
		db := r2.server.Root()
		defer db.Close()
		if _, err := db.Exec("INSERT INTO app.t (id, v) VALUES (5000, 'errant')"); err != nil {
			t.Fatalf("root write on a MariaDB replica: %v", err)
		}
		waitNotReady(t, r2, 30*time.Second, "transactions the primary lacks")
		if code, body, _ := podtest.Get(r2.http(), "/metrics"); code != 200 || !strings.Contains(body, "mysql_bootstrap_replication_errant_gtids 1") {
			t.Errorf("/metrics does not flag the errant GTIDs:\n%s", body)
		}
		c.waitReady(r1, 10*time.Second)
	})

	// wipePrimary stops mysql-0 and empties its volume (data and
	// STATE_DIR), then starts its server again on a fresh data directory,
	// read-only, without a sidecar; with httpAddr its sidecar will listen
	// there, not on its pod's address.
	wipePrimary := func(t *testing.T, httpAddr string) {
		t.Helper()
		if primary.sidecar != nil {
			select {
			case <-primary.sidecar.Done():
			default:
				c.stopSidecar(primary)
			}
		}
		primary.server.Stop()
		for _, dir := range []string{primary.server.DataDir, primary.server.StateDir} {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Mkdir(primary.server.StateDir, 0o755); err != nil {
			t.Fatal(err)
		}
		primary.env = primary.env.With("HTTP_ADDR", httpAddr)
		c.init(primary)
		primary.server.Start()
	}

	t.Run("an emptied primary waits for a remembered peer the Service does not list", func(t *testing.T) {
		// mysql-1 has seen mysql-2 and says so on its /status.
		podtest.Eventually(t, 90*time.Second, r1.name+" remembers "+r2.name, func() error {
			st, err := podtest.Status(r1.http())
			if err != nil {
				return err
			}
			if known, _ := st["knownPeers"].([]any); !slices.Contains(known, any(r2.name)) {
				return fmt.Errorf("knownPeers %v", st["knownPeers"])
			}
			return nil
		})
		// The primary's volume is lost; mysql-2 is rescheduled and has no
		// address yet (it runs on, but the Service does not list it).
		c.unpublish(r2)
		defer c.publish(r2)
		wipePrimary(t, primary.server.Addr+":8080")
		c.startSidecar(primary)
		defer c.stopSidecar(primary)
		waitNotReady(t, primary, 60*time.Second, r2.name+" (seen before, no answer from it now)")
		held := time.Now()
		for time.Since(held) < 5*time.Second {
			code, body, err := podtest.Get(primary.http(), "/readyz")
			if err == nil && code == http.StatusOK {
				t.Fatalf("the emptied primary became ready while %s is not listed: %s", r2.name, body)
			}
			time.Sleep(250 * time.Millisecond) // the probe's pace, inside a bounded loop
		}
		if !primary.server.Running() {
			t.Fatalf("the emptied primary's server was stopped (a seed?) while it should wait:\n%s", tail(primary.sidecar.Output(), 20))
		}
		if n := len(podtest.LogLines(primary.sidecar.Output(), "made the primary writable")); n != 0 {
			t.Fatalf("the emptied primary was made writable while %s is not listed", r2.name)
		}
	})

	t.Run("replicas refuse a replaced history without the primary's HTTP port", func(t *testing.T) {
		rowsBefore := map[*pod]int{}
		for _, r := range replicas {
			db := r.server.App()
			n, err := countRows(db)
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			rowsBefore[r] = n
		}
		// The primary comes back empty and a person takes writes with it
		// (primary-override, before its sidecar starts). Its sidecar's
		// HTTP port is closed to the replicas (a NetworkPolicy that
		// allows 3306 only): it listens on another address than its
		// pod's, and they must tell the replaced history over SQL.
		wipePrimary(t, "127.0.0.99:8080")
		res := podtest.Run(t, 30*time.Second, primary.env, "primary-override", "--use-own-data")
		if res.Code != 0 {
			t.Fatalf("primary-override: exit %d: %s", res.Code, res.Stderr)
		}
		c.startSidecar(primary)
		c.waitReady(primary, 60*time.Second)
		if code, _, err := podtest.Get(primary.server.Addr+":8080", "/status"); err == nil {
			t.Fatalf("the primary's /status answers on its pod's address (%d): the replicas could read it", code)
		}
		for _, r := range replicas {
			waitNotReady(t, r, 30*time.Second, "the primary's history no longer holds transactions this replica got from it")
		}
		pdb := primary.server.App()
		defer pdb.Close()
		if _, err := pdb.Exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(64))"); err != nil {
			t.Fatal(err)
		}
		insertRows(t, pdb, 10001, 10050)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			for _, r := range replicas {
				if code, body, err := podtest.Get(r.http(), "/readyz"); err == nil && code == http.StatusOK {
					t.Fatalf("%s is ready behind a replaced primary: %s", r.name, body)
				}
			}
			time.Sleep(250 * time.Millisecond) // the probe's pace, inside a bounded loop
		}
		for _, r := range replicas {
			db := r.server.App()
			n, err := countRows(db)
			db.Close()
			if err != nil || n != rowsBefore[r] {
				t.Errorf("%s holds %d rows (%v), had %d: it applied the replaced history", r.name, n, err, rowsBefore[r])
			}
		}
	})

	for _, p := range []*pod{primary, r1, r2} {
		c.stopSidecar(p)
	}
}
