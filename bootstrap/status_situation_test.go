package bootstrap

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// TestStatusSituation: /status (and so peers --format json) carries the
// decision's code as "situation".
func TestStatusSituation(t *testing.T) {
	t.Parallel()
	o := decide.Observation{At: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), Local: decide.LocalFacts{Up: true}}
	dec := decide.Decision{Ready: true, Reason: "replicating", Situation: decide.SitReplicaReplicating}
	st := buildStatus(Identity{Pod: "mysql-1", Role: wire.RoleReplica}, o, dec, dec.Memory)
	if st.Situation != string(decide.SitReplicaReplicating) {
		t.Fatalf("status situation %q, want %q", st.Situation, decide.SitReplicaReplicating)
	}
	b, err := json.Marshal(decide.Peers{{Status: &st}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"situation":"replica-replicating"`) {
		t.Errorf("peers JSON lacks the situation: %s", b)
	}
}
