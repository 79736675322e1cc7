package bootstrap

import (
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// TestPeersTableSituation: the table shows each pod's situation code, and
// a dash for a pod that did not answer.
func TestPeersTableSituation(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	peers := decide.Peers{
		{Status: &wire.Status{Pod: "mysql-0", Role: wire.RolePrimary, Ready: true, Situation: string(decide.SitPrimaryWritable)}},
		{Status: &wire.Status{Pod: "mysql-1", Role: wire.RoleReplica, Reason: "catching up", Situation: string(decide.SitReplicaCatchingUp)}},
		{Err: "connection refused"},
	}
	if err := writePeersTable(&b, peers); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "SITUATION") ||
		!strings.Contains(lines[1], string(decide.SitPrimaryWritable)) || !strings.Contains(lines[2], string(decide.SitReplicaCatchingUp)) {
		t.Errorf("table:\n%s", b.String())
	}
	head, last := strings.Fields(lines[0]), strings.Fields(lines[3])
	if i := indexOf(head, "SITUATION"); i < 0 || len(last) <= i || last[i] != "-" {
		t.Errorf("a pod without status shows no dash under SITUATION:\n%s", b.String())
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// TestPeersTableLease: with PRIMARY=kubernetes a line under the table
// names the Lease's holder and the last switchover, as the pod that saw
// the Lease change last reports it; without, there is no such line.
func TestPeersTableLease(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	older := &wire.LeaseStatus{Name: "mysql", Holder: "mysql-0", Transitions: 1, ObservedAt: at}
	newer := &wire.LeaseStatus{Name: "mysql", Holder: "mysql-1", Transitions: 2, ObservedAt: at.Add(time.Second),
		LastSwitchover: &wire.SwitchoverStatus{ID: "ab12", State: wire.SwitchoverDone, From: "mysql-0", To: "mysql-1", Finished: at},
		LastFailover:   &wire.FailoverRecord{From: "mysql-2", To: "mysql-1", At: at.Add(time.Minute)}}
	var b strings.Builder
	if err := writePeersTable(&b, decide.Peers{
		{Status: &wire.Status{Pod: "mysql-0", Role: wire.RoleReplica, Lease: older}},
		{Status: &wire.Status{Pod: "mysql-1", Role: wire.RolePrimary, Lease: newer}},
	}); err != nil {
		t.Fatal(err)
	}
	want := "Lease mysql: held by mysql-1, 2 transition(s); last switchover ab12 mysql-0 -> mysql-1: done at 2026-12-07T05:00:00Z; failover mysql-2 -> mysql-1 at 2026-12-07T05:01:00Z"
	if !strings.HasSuffix(strings.TrimRight(b.String(), "\n"), want) {
		t.Errorf("table:\n%s\nwant its last line %q", b.String(), want)
	}
	b.Reset()
	if err := writePeersTable(&b, decide.Peers{{Status: &wire.Status{Pod: "mysql-0", Role: wire.RolePrimary}}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Lease") {
		t.Errorf("a Lease line without PRIMARY=kubernetes:\n%s", b.String())
	}
}
