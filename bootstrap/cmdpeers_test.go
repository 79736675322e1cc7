package bootstrap

import (
	"strings"
	"testing"

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
