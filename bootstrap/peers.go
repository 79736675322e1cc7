package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/dnswait"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// peerFinder finds the pods of the StatefulSet: the headless Service's
// name resolves to every pod's address (with publishNotReadyAddresses,
// starting ones too), and each pod's sidecar serves /status on the same
// port as this one. No Kubernetes API is involved.
type peerFinder struct {
	resolver *dnswait.Resolver
	// service is the Service's fully qualified name, with a trailing dot.
	service string
	// statefulSet is this pod's StatefulSet: pods of another one that the
	// Service's selector also matches are not peers.
	statefulSet string
	port        int
	client      *http.Client
	// skip is an address find does not ask (setSkip).
	skip atomic.Pointer[string]
}

func newPeerFinder(resolver *dnswait.Resolver, id Identity, cfg *Config) *peerFinder {
	_, port, _ := net.SplitHostPort(cfg.HTTPAddr)
	n, _ := strconv.Atoi(port)
	f := &peerFinder{
		resolver:    resolver,
		service:     id.ServiceHost + ".",
		statefulSet: id.StatefulSet,
		port:        n,
		client:      &http.Client{Timeout: peerTimeout},
	}
	f.setSkip("")
	return f
}

// errServiceAbsent: the Service's name proved not to exist (NXDOMAIN) or
// to have no address (no pod listed). Any other failure to resolve it (a
// timeout, SERVFAIL) proves nothing about the peers.
var errServiceAbsent = errors.New("no such name")

// find resolves the Service and asks every pod for its /status, at once.
// It fails only when the name does not resolve; the error wraps
// errServiceAbsent when the name proved not to exist.
func (f *peerFinder) find(ctx context.Context) (decide.Peers, error) {
	return f.findExcept(ctx, *f.skip.Load())
}

// setSkip names an address find does not ask ("": none): the pod a
// failover took the Lease from, which may be frozen and listed still.
func (f *peerFinder) setSkip(addr string) { f.skip.Store(&addr) }

// findExcept is find, without asking the pod at skip ("": none).
func (f *peerFinder) findExcept(ctx context.Context, skip string) (decide.Peers, error) {
	res, err := f.resolver.Lookup(ctx, f.service)
	if err != nil {
		return nil, fmt.Errorf("resolve the Service %s: %w", f.service, err)
	}
	if len(res.Addrs) == 0 {
		if res.Outcome == dnswait.NXDomain || res.Outcome == dnswait.NoAddress {
			return nil, fmt.Errorf("resolve the Service %s: %s: %w", f.service, res, errServiceAbsent)
		}
		return nil, fmt.Errorf("resolve the Service %s: %s", f.service, res)
	}
	peers := make(decide.Peers, len(res.Addrs))
	var wg sync.WaitGroup
	for i, a := range res.Addrs {
		peers[i].Addr = a
		if skip != "" && a.String() == skip {
			peers[i].Err = "not asked: the pod a failover took the Lease from"
			continue
		}
		wg.Add(1)
		go func(p *decide.Peer) {
			defer wg.Done()
			st, err := f.status(ctx, p.Addr)
			if err != nil {
				p.Err = sqldialect.OneLine(err.Error())
				return
			}
			p.Status = st
		}(&peers[i])
	}
	wg.Wait()
	peers = ownPeers(peers, f.statefulSet)
	sort.SliceStable(peers, func(i, j int) bool {
		a, b := peers[i], peers[j]
		if (a.Status == nil) != (b.Status == nil) {
			return a.Status != nil
		}
		if a.Status != nil && a.Status.Ordinal != b.Status.Ordinal {
			return a.Status.Ordinal < b.Status.Ordinal
		}
		return a.Addr.Less(b.Addr)
	})
	return peers, nil
}

// ownPeers drops the pods that answered as pods of another StatefulSet:
// two clusters whose Services select each other's pods (the same
// app.kubernetes.io/instance label in one namespace) must still never count
// each other's data. A pod that did not answer cannot be told apart and
// stays.
func ownPeers(peers decide.Peers, statefulSet string) decide.Peers {
	if statefulSet == "" {
		return peers
	}
	out := peers[:0]
	for _, p := range peers {
		if p.Status != nil && p.Status.Pod != "" {
			if sts, _, err := wire.ParsePodName(p.Status.Pod); err == nil && sts != statefulSet {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

// statusOf resolves a pod's stable name and fetches its /status.
func (f *peerFinder) statusOf(ctx context.Context, name string) (*wire.Status, error) {
	res, err := f.resolver.Lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(res.Addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: %s", name, res.Outcome)
	}
	return f.status(ctx, res.Addrs[0])
}

// addrOf resolves a pod's stable name to its address now ("" when it
// cannot be resolved).
func (f *peerFinder) addrOf(ctx context.Context, name string) string {
	res, err := f.resolver.Lookup(ctx, name)
	if err != nil || len(res.Addrs) == 0 {
		return ""
	}
	return res.Addrs[0].String()
}

// status fetches one pod's /status.
func (f *peerFinder) status(ctx context.Context, addr netip.Addr) (*wire.Status, error) {
	u := "http://" + net.JoinHostPort(addr.String(), strconv.Itoa(f.port)) + PathStatus
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	var st wire.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return &st, nil
}
