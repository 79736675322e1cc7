package bootstrap

// Holes a review of PRIMARY=kubernetes found, each test stating the safe
// behaviour (they failed before the fixes).

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/fakesql"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube/kubetest"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// Finding 1: a Lease that is deleted (or edited to name no pod) is taken by
// pod 0 at its next read, with no wait: the old holder, which has not read
// the Lease since (or cannot: its API calls fail), still may take writes
// until its own deadline. Two keepers then let the server be made writable.
func TestDeletedLeaseNoTwoWriters(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"deleted", "holder edited to no pod"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			api := kubetest.New(t)
			cfg := leaseTestConfig(2*time.Second, 10*time.Second)
			api.SetLease(kube.Lease{Name: "mysql", HolderIdentity: "mysql-1", LeaseDurationSeconds: 10})
			pod0 := newKeeperRig(t, api, "mysql-0", cfg)
			pod1 := newKeeperRig(t, api, "mysql-1", cfg)
			pod1.tick()
			pod0.tick()
			if v := pod1.view(); v != (leaseView{Holder: "mysql-1"}) {
				t.Fatalf("mysql-1 view = %+v, want it holding the Lease", v)
			}
			if how == "deleted" {
				api.DeleteLease("mysql")
			} else {
				l := pod1.lease()
				l.HolderIdentity = "nobody"
				api.SetLease(*l)
			}
			pod0.tick() // takes it at once
			// mysql-1's reads fail from now on (a slow or partitioned API).
			api.Fail(http.MethodGet, "/leases/mysql", http.StatusServiceUnavailable)
			pod1.tick()

			w0 := pod0.k.whileWritable(func() error { return nil }) == nil
			w1 := pod1.k.whileWritable(func() error { return nil }) == nil
			if w0 && w1 {
				t.Errorf("both mysql-0 (new holder, view %+v) and mysql-1 (old holder, view %+v) may make their servers writable", pod0.view(), pod1.view())
			}
		})
	}
}

// Finding 5: the keeper goroutine (a switchover's ops read s.id through
// hostOf/check) and the reconcile loop (setIdentity writes s.id) race.
// Fails under -race.
func TestSetIdentityDoesNotRaceSwitchoverOps(t *testing.T) {
	cfg := &Config{MySQLPort: 3306, ReplicationUser: "repl", ReconcileInterval: time.Second}
	id := Identity{Pod: "mysql-0", StatefulSet: "mysql", ServiceHost: "mysql.db.svc.cluster.local", PodHost: "mysql-0.mysql.db.svc.cluster.local"}
	s := &Sidecar{cfg: cfg, id: id, log: slog.New(slog.DiscardHandler),
		rec: &reconciler{gather: &gatherer{}, exec: &executor{}}}
	o := sidecarSwitchover{s: s}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the loop: syncRole after the Lease moved
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			n := id
			n.Role = []wire.Role{wire.RolePrimary, wire.RoleReplica}[i%2]
			s.setIdentity(n)
		}
	}()
	go func() { // the keeper: carryOut's wake/applied
		defer wg.Done()
		for ctx.Err() == nil {
			_ = o.hostOf("mysql-1")
		}
	}()
	wg.Wait()
}

// Finding 4: errant(), the last check before the Lease moves, only asks
// whether the target holds something the old primary lacks. A write that
// got past the fence after position() was read (MariaDB: read_only does
// not bind READ_ONLY ADMIN, which the sidecar's own account and root
// hold; a stale reconcile pass's account statement) is in the old
// primary only, and the Lease moves anyway: that write is lost and the
// old primary diverges.
func TestErrantCheckBothWays(t *testing.T) {
	s := newSeam(t, wire.RolePrimary)
	s.local.On("SELECT VERSION()", fakesql.Row("10.11.9-MariaDB"))
	// The target applied position() = 0-100-10 ...
	s.login.On("SELECT @@GLOBAL.gtid_binlog_state", fakesql.Row("0-100-10"))
	// ... and the old primary wrote 0-100-11 since.
	s.local.On("SELECT @@GLOBAL.gtid_binlog_state", fakesql.Row("0-100-11"))
	o := sidecarSwitchover{s: s.sc}
	extra, err := o.errant(context.Background(), "mysql-1")
	if err != nil {
		t.Fatal(err)
	}
	if extra == "" {
		t.Error("errant() = \"\" while the old primary holds 0-100-11 and the target only 0-100-10: the Lease would move and that transaction be lost")
	}
}

// Finding 3: a move whose answer was lost is settled by a read. A read
// that still shows this pod holding the Lease does not prove the move
// will not apply (the API server may still be processing the PUT, which
// is conditioned on the very resourceVersion the read returns); abort
// clears handover and wakes the loop before any conditional write has
// made that PUT impossible (here every write fails, as it does on an API
// that lost the first answer). The loop may then make the server
// writable while the Lease can still move to the target.
func TestUnknownMoveSettledByAWrite(t *testing.T) {
	r := newSwitchoverRig(t)
	var movedRV string
	r.ops.onApplied = func(int, time.Duration) (bool, error) {
		movedRV = r.lease().ResourceVersion
		r.api.Fail("PUT", "/leases/", http.StatusGatewayTimeout)
		return true, nil
	}
	r.postRequest(r.newRequest("mysql-1"))
	r.tick() // the move's outcome is unknown: fenced
	if v := r.view(); v.Fence == "" {
		t.Fatalf("not fenced after a move with no known outcome: %+v", v)
	}
	// What the reconcile loop does when the keeper wakes it.
	var mayWrite bool
	var rvThen string
	r.k.changed = func() {
		if !mayWrite && r.k.whileWritable(func() error { return nil }) == nil {
			mayWrite, rvThen = true, r.lease().ResourceVersion
		}
	}
	r.tick() // the read shows mysql-0 holding it
	if mayWrite && rvThen == movedRV {
		t.Errorf("the loop may make mysql-0 writable while the Lease is still at resourceVersion %s, on which the lost move to mysql-1 was conditioned: that PUT can still apply", rvThen)
	}
}
