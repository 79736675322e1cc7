package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/dnswait"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/testdns"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// peerServers serves /status on a shared free port of several loopback
// addresses, one Status each (nil: the address answers 500).
func peerServers(t *testing.T, statuses map[string]*wire.Status) int {
	t.Helper()
	var port int
	for try := 0; ; try++ {
		port = 0
		var lns []net.Listener
		ok := true
		for ip := range statuses {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			port = ln.Addr().(*net.TCPAddr).Port
			lns = append(lns, ln)
		}
		if !ok {
			for _, ln := range lns {
				ln.Close()
			}
			if try < 10 {
				continue
			}
			t.Fatal("no shared free port")
		}
		for _, ln := range lns {
			ip := ln.Addr().(*net.TCPAddr).IP.String()
			st := statuses[ip]
			hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != PathStatus || st == nil {
					http.Error(w, "no", http.StatusInternalServerError)
					return
				}
				_ = json.NewEncoder(w).Encode(st)
			})}
			go func() { _ = hs.Serve(ln) }()
			t.Cleanup(func() { _ = hs.Close() })
		}
		return port
	}
}

func TestPeerFinder(t *testing.T) {
	dns := testdns.Start(t, "127.0.0.1:0")
	r, err := dnswait.NewResolver(dnswait.Options{Servers: []string{dns.Addr()}, QueryTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	port := peerServers(t, map[string]*wire.Status{
		"127.0.0.181": {Pod: "mysql-1", Ordinal: 1, Role: wire.RoleReplica},
		"127.0.0.182": {Pod: "mysql-0", Ordinal: 0, Role: wire.RolePrimary, Ready: true, GTIDPurged: "0-100-7"},
		"127.0.0.183": {Pod: "other-2", Ordinal: 2},
		"127.0.0.184": nil,
	})
	id := seamIdentity(wire.RoleReplica)
	id.ServiceHost = "mysql.db.svc.cluster.local"
	cfg := seamConfig(t.TempDir())
	cfg.HTTPAddr = ":" + strconv.Itoa(port)
	f := newPeerFinder(r, id, cfg)
	var addrs []netip.Addr
	for _, a := range []string{"127.0.0.184", "127.0.0.181", "127.0.0.183", "127.0.0.182"} {
		addrs = append(addrs, netip.MustParseAddr(a))
	}
	dns.Set("mysql.db.svc.cluster.local", addrs...)
	dns.Set(seamPrimaryHost, netip.MustParseAddr("127.0.0.182"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peers, err := f.find(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range peers {
		names = append(names, p.Name())
	}
	// Answering pods by ordinal, then the silent one; the other
	// StatefulSet's pod is no peer.
	if strings.Join(names, ",") != "mysql-0,mysql-1,127.0.0.184" || !strings.Contains(peers[2].Err, "500") {
		t.Errorf("peers = %v (%+v)", names, peers)
	}
	st, err := f.statusOf(ctx, id.PrimaryLookupName())
	if err != nil || st.Pod != "mysql-0" || st.GTIDPurged != "0-100-7" {
		t.Errorf("statusOf = %+v, %v", st, err)
	}
	if _, err := f.statusOf(ctx, "nothing.db.svc.cluster.local."); err == nil {
		t.Error("statusOf an unknown name")
	}
	var table bytes.Buffer
	if err := writePeersTable(&table, peers); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "POD") || !strings.Contains(lines[1], "primary") || !strings.Contains(lines[3], "127.0.0.184") {
		t.Errorf("table:\n%s", table.String())
	}

	// The gatherer remembers the peers that answered.
	g := &gatherer{peers: f.find, peerMem: &peerMemoryStore{dir: cfg.StateDir}, self: id.Pod, statefulSet: id.StatefulSet}
	pf := g.gatherPeers(ctx)
	if pf.Err != "" || len(pf.Peers) != 3 || pf.MemoryErr != nil {
		t.Errorf("peer facts = %+v", pf)
	}
	if known := pf.Memory.Known(); len(known) != 1 || known[0] != "mysql-0" {
		t.Errorf("known = %v", known)
	}
	if !g.peersAt.After(time.Now().Add(-time.Minute)) || g.peersDue(time.Now()) {
		t.Error("peersAt not set")
	}

	// A Service that does not exist is absent, which says no peer is
	// listed, not that none exists.
	dns.Remove("mysql.db.svc.cluster.local")
	if _, err := f.find(ctx); !errors.Is(err, errServiceAbsent) {
		t.Errorf("find without the Service: %v", err)
	}
	pf = g.gatherPeers(ctx)
	if !pf.Absent || pf.Err == "" {
		t.Errorf("peer facts = %+v", pf)
	}
	if pf := (&gatherer{}).gatherPeers(ctx); pf.Err == "" {
		t.Error("no peer lookup: no error")
	}
}
