package bootstrap

// Review of PRIMARY=kubernetes (helper review). Each test here states the
// SAFE behaviour and fails on the hole it proves; they are skipped unless
// REVIEW_PROVE=1 so the suite stays green until the holes are fixed (then
// drop the skip):
//
//	REVIEW_PROVE=1 go test -race -run 'TestReview' ./bootstrap/ ./bootstrap/decide/

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube/kubetest"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

func reviewProve(t *testing.T) {
	t.Helper()
	if os.Getenv("REVIEW_PROVE") == "" {
		t.Skip("proves a known hole (see the review report); run with REVIEW_PROVE=1")
	}
}

// Finding 1: a Lease that is deleted (or edited to name no pod) is taken by
// pod 0 at its next read, with no wait: the old holder, which has not read
// the Lease since (or cannot: its API calls fail), still may take writes
// until its own deadline. Two keepers then let the server be made writable.
func TestReviewDeletedLeaseTwoWriters(t *testing.T) {
	reviewProve(t)
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
func TestReviewSetIdentityRacesSwitchoverOps(t *testing.T) {
	reviewProve(t)
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
