package decide

import (
	"slices"
	"testing"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// Finding 2 (review of PRIMARY=kubernetes): a pod that just became the
// Lease's holder (its memory dropped by syncRole, so no lineage) passes its
// guard while another pod still reports role "primary", writable, holding
// transactions this pod lacks: tallyPeers skips every peer whose role is
// not "replica". With a Lease moved by anything but a completed
// switchover (deleted and recreated by pod 0, edited by hand, a move
// whose outcome was settled wrongly) the old primary's acknowledged
// writes are given up and both servers are writable. With PrimaryMoves
// the guard counts such a peer: it waits while it is writable, and counts
// its own transactions.
func TestGuardCountsAFormerPrimary(t *testing.T) {
	for _, tc := range []struct {
		name  string
		role  wire.Role
		ro    bool
		empty bool
	}{
		// Still "primary" on its /status: skipped (st.Role != RoleReplica).
		{"old holder still reports primary, writable", wire.RolePrimary, false, false},
		// Already a replica on its /status: its own-origin transactions,
		// which are the writes it acknowledged as primary, are stripped
		// (set.Without(st.GTIDOrigin)) as if they were errant.
		{"old holder reports replica, read-only", wire.RoleReplica, true, false},
		// A 2-pod cluster after a switchover: the new holder's volume is
		// lost before it wrote anything; the only other pod is the former
		// primary, whose whole history is of its own origin. The emptied
		// holder takes writes.
		{"new holder emptied, old holder reports replica", wire.RoleReplica, true, true},
	} {
		for _, fc := range flavours {
			t.Run(tc.name+"/"+fc.name, func(t *testing.T) {
				o, _ := fc.primary(t)
				m := Memory{} // syncRole drops the memory on a role change
				o.Local.ReadOnly, o.Local.SuperReadOnly = true, fc.flavor.String() == "mysql"
				o.Local.Origin = fc.replicaOrigin
				if tc.empty {
					o.Local.GTIDs = gtids(fc.flavor, "")
				}
				p := testPolicy(wire.RolePrimary)
				p.Pod, p.PrimaryHost = "mysql-1", "mysql-1.mysql.default.svc.cluster.local"
				p.PrimaryMoves = true
				// mysql-0: the former holder, still writable, 2 transactions ahead.
				o.Peers = &PeerFacts{Peers: Peers{{Status: &wire.Status{Pod: "mysql-0", Role: tc.role, ServerUp: true,
					ReadOnly: tc.ro, GTIDExecuted: fc.primaryMore, GTIDOrigin: fc.primaryOrigin, PodHost: "mysql-0.x"}}}}
				d := Decide(o, m, p, t0)
				if slices.ContainsFunc(d.Actions, func(a Action) bool { return a.Kind == ActMakeWritable }) {
					t.Errorf("the new holder makes itself writable (%s: %s) while mysql-0 (%s, read-only %v) holds %s, which it lacks",
						d.Situation, d.Reason, tc.role, tc.ro, fc.primaryMore)
				}
			})
		}
	}
}
