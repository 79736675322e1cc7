package bootstrap

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/podtest"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// pm0 is when the peers are first seen.
var pm0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func answered(pod string) decide.Peer { return decide.Peer{Status: &wire.Status{Pod: pod}} }

func TestPeerMemory(t *testing.T) {
	t.Parallel()
	t1, t2, t3 := pm0, pm0.Add(time.Minute), pm0.Add(2*time.Minute)
	var m decide.PeerMemory
	m = m.Observe(decide.Peers{answered("mysql-0"), answered("mysql-1"), answered("mysql-2"), answered("other-0"), {Err: "refused"}}, "mysql-1", "mysql", t1)
	if got := m.Known(); !slices.Equal(got, []string{"mysql-0", "mysql-2"}) {
		t.Errorf("known %v: want every answering pod of the StatefulSet but itself", got)
	}
	// mysql-2 is Pending: not listed, still remembered.
	m = m.Observe(decide.Peers{answered("mysql-0")}, "mysql-1", "mysql", t2)
	if got := m.Known(); !slices.Equal(got, []string{"mysql-0", "mysql-2"}) || !m.Seen["mysql-0"].Equal(t2) {
		t.Errorf("memory %+v", m)
	}
	// A person forgot mysql-2 on mysql-0 (its /status says so): forgotten here too.
	p0 := answered("mysql-0")
	p0.Status.ForgottenPeers = map[string]time.Time{"mysql-2": t2.Add(time.Second)}
	m = m.Observe(decide.Peers{p0}, "mysql-1", "mysql", t2.Add(2*time.Second))
	if got := m.Known(); !slices.Equal(got, []string{"mysql-0"}) || m.Forgotten["mysql-2"].IsZero() {
		t.Errorf("after the forget: %+v", m)
	}
	// A forget older than the last answer does not count.
	p0.Status.ForgottenPeers = map[string]time.Time{"mysql-0": t1}
	m = m.Observe(decide.Peers{p0}, "mysql-1", "mysql", t3)
	if _, ok := m.Seen["mysql-0"]; !ok {
		t.Errorf("a pod seen after it was forgotten was forgotten: %+v", m)
	}
	// mysql-2 answers again (scaled up): remembered again.
	m = m.Observe(decide.Peers{answered("mysql-2")}, "mysql-1", "mysql", t3)
	if _, forgotten := m.Forgotten["mysql-2"]; forgotten || !slices.Contains(m.Known(), "mysql-2") {
		t.Errorf("a forgotten pod that answers again: %+v", m)
	}
}

// TestPeerMemoryOwnAddresses: the addresses this pod answered from are
// remembered (the last few), so that its former one, still in the
// Service's cached records after it was recreated, is not taken for a
// silent peer.
func TestPeerMemoryOwnAddresses(t *testing.T) {
	t.Parallel()
	var m decide.PeerMemory
	for i := range decide.OwnAddresses + 3 {
		self := answered("mysql-0")
		self.Addr = netip.AddrFrom4([4]byte{10, 244, 0, byte(10 + i)})
		m = m.Observe(decide.Peers{self, answered("mysql-1")}, "mysql-0", "mysql", pm0.Add(time.Duration(i)*time.Minute))
	}
	if len(m.Own) != decide.OwnAddresses {
		t.Errorf("%d own addresses kept, want the last %d: %v", len(m.Own), decide.OwnAddresses, m.Own)
	}
	last := netip.AddrFrom4([4]byte{10, 244, 0, byte(10 + decide.OwnAddresses + 2)})
	first := netip.AddrFrom4([4]byte{10, 244, 0, 10})
	if !m.WasOwn(last) || m.WasOwn(first) || m.WasOwn(netip.Addr{}) {
		t.Errorf("WasOwn(last) %v, WasOwn(first) %v: want the newest kept and the oldest dropped", m.WasOwn(last), m.WasOwn(first))
	}
	if got := m.Known(); !slices.Equal(got, []string{"mysql-1"}) {
		t.Errorf("known %v: this pod is never its own peer", got)
	}
}

func TestPeerMemoryStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := &peerMemoryStore{dir: dir, secret: func() string { return "secret" }}
	if _, _, readErr, writeErr := s.update(decide.Peers{answered("mysql-1"), answered("mysql-2")}, "mysql-0", "mysql", pm0); readErr != nil || writeErr != nil {
		t.Fatal(readErr, writeErr)
	}
	// A new sidecar reads what the last one saw.
	m, err := (&peerMemoryStore{dir: dir}).get()
	if err != nil || !slices.Equal(m.Known(), []string{"mysql-1", "mysql-2"}) {
		t.Fatalf("restored %+v %v", m, err)
	}
	// forget-peer's request is applied at the next listing, and removed.
	req := ForgetRequest{Pod: "mysql-2", Created: pm0.Add(time.Second)}
	if err := writeSigned(filepath.Join(dir, forgetPeerFile), forgetPeerFile, "secret", &req, &req.MAC); err != nil {
		t.Fatal(err)
	}
	m, ignored, readErr, writeErr := s.update(decide.Peers{answered("mysql-1")}, "mysql-0", "mysql", pm0.Add(2*time.Second))
	if ignored != "" || readErr != nil || writeErr != nil || !slices.Equal(m.Known(), []string{"mysql-1"}) || m.Forgotten["mysql-2"].IsZero() {
		t.Errorf("after forget-peer: %+v %v %v", m, readErr, writeErr)
	}
	if _, err := os.Stat(filepath.Join(dir, forgetPeerFile)); !os.IsNotExist(err) {
		t.Errorf("the request is still there: %v", err)
	}
	// An unreadable memory is no proof that nobody is remembered.
	if err := os.WriteFile(filepath.Join(dir, peerMemoryFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, readErr, _ := (&peerMemoryStore{dir: dir}).update(nil, "mysql-0", "mysql", pm0); readErr == nil {
		t.Error("a corrupt peers.json was read as empty")
	}
}

func TestForgetPeerCommand(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	env := podtest.Env{"POD_NAME": "mysql-0", "POD_NAMESPACE": "db", "SERVICE_NAME": "mysql", "STATE_DIR": state,
		"HOSTS_FILE": filepath.Join(t.TempDir(), "hosts"), "MYSQL_ROOT_PASSWORD": "root-pw", "REPLICATION_PASSWORD": "repl-pw"}
	for _, tc := range []struct {
		args []string
		kv   []string
		want string
	}{
		{args: []string{"mysql"}, want: `forget-peer "mysql" is invalid: expected another pod of StatefulSet mysql`},
		{args: []string{"other-3"}, want: `forget-peer "other-3" is invalid`},
		{args: []string{"mysql-0"}, want: `forget-peer "mysql-0" is invalid`},
		{args: []string{}, want: "forget-peer needs one pod name"},
		{args: []string{"mysql-3"}, kv: []string{"STATE_DIR", "/nonexistent"}, want: `STATE_DIR="/nonexistent" is not a directory`},
	} {
		res := podtest.Run(t, 30*time.Second, env.With(tc.kv...), append([]string{"forget-peer"}, tc.args...)...)
		if res.Code != ExitInvalid || !strings.Contains(res.Stderr, tc.want) {
			t.Errorf("forget-peer %v: exit %d %q, want 2 with %q", tc.args, res.Code, res.Stderr, tc.want)
		}
		if ents, _ := os.ReadDir(state); len(ents) != 0 {
			t.Errorf("forget-peer %v changed STATE_DIR: %v", tc.args, ents)
		}
	}
	res := podtest.Run(t, 30*time.Second, env, "forget-peer", "mysql-3")
	var req ForgetRequest
	if ok, err := readJSON(filepath.Join(state, forgetPeerFile), &req); res.Code != 0 || !ok || err != nil || req.Pod != "mysql-3" {
		t.Errorf("forget-peer mysql-3: exit %d %q; request %+v %v %v", res.Code, res.Stdout+res.Stderr, req, ok, err)
	}
	// Signed with the secret the sidecar checks it with, which it does not show.
	if err := checkState("repl-pw", forgetPeerFile, &req, &req.MAC); err != nil {
		t.Errorf("the request is not signed: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(state, forgetPeerFile)); strings.Contains(string(b), "repl-pw") || strings.Contains(res.Stdout+res.Stderr, "repl-pw") {
		t.Error("the secret is in the request or the output")
	}
}
