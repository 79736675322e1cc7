package bootstrap

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// TestOwnPeers: a Service that also selects another StatefulSet's pods
// (two clusters sharing an instance label in one namespace) never makes
// them peers; pods that did not answer cannot be told apart and stay.
func TestOwnPeers(t *testing.T) {
	t.Parallel()
	peer := func(addr, pod string) decide.Peer {
		p := decide.Peer{Addr: netip.MustParseAddr(addr)}
		if pod == "" {
			p.Err = "connection refused"
		} else {
			p.Status = &wire.Status{Pod: pod}
		}
		return p
	}
	peers := decide.Peers{
		peer("10.0.0.1", "a-mysql-0"), peer("10.0.0.2", "mysql-1"), peer("10.0.0.3", "a-mysql-2"),
		peer("10.0.0.4", ""), peer("10.0.0.5", "a-mysql-10"),
	}
	var got []string
	for _, p := range ownPeers(slices.Clone(peers), "a-mysql") {
		got = append(got, p.Name())
	}
	if want := []string{"a-mysql-0", "a-mysql-2", "10.0.0.4", "a-mysql-10"}; !slices.Equal(got, want) {
		t.Errorf("ownPeers = %v, want %v", got, want)
	}
	if n := len(ownPeers(slices.Clone(peers), "")); n != len(peers) {
		t.Errorf("without a StatefulSet name %d peers kept, want all %d", n, len(peers))
	}
}
