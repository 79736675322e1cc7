package bootstrap

import (
	"errors"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Pods that exist but have no address (Pending, being rescheduled) are
// not in the headless Service's records, so a pod cannot tell them from
// pods that do not exist. Every sidecar therefore remembers the peers it
// has seen answer, in STATE_DIR/peers.json, and publishes them on /status
// (knownPeers); the primary's guard waits for every remembered peer as for
// one that does not answer. A StatefulSet scaled down for good leaves
// peers that will never answer: `mysql-bootstrap forget-peer POD` forgets
// one (forgottenPeers on /status tells the other pods).
const (
	peerMemoryFile = "peers.json"
	forgetPeerFile = "forget-peer.json"
)

// PeerMemory is what a pod remembers of its peers.
type PeerMemory struct {
	// Seen: each peer that answered, and when it last did.
	Seen map[string]time.Time `json:"seen,omitempty"`
	// Forgotten: peers a person forgot (forget-peer), and when; one that
	// answers again after that is remembered again.
	Forgotten map[string]time.Time `json:"forgotten,omitempty"`
	// Own: the addresses this pod answered from in the Service's listing,
	// and when, the last ownAddresses of them. The headless Service's
	// records are cached (30 s on a default CoreDNS), so after the pod is
	// recreated its former address may still be listed, answering
	// nothing: that is this pod, not a silent peer.
	Own map[string]time.Time `json:"own,omitempty"`
}

// ownAddresses bounds PeerMemory.Own.
const ownAddresses = 8

// Known returns the remembered peers, sorted.
func (m PeerMemory) Known() []string {
	return slices.Sorted(maps.Keys(m.Seen))
}

// clone returns a copy that shares no map with m.
func (m PeerMemory) clone() PeerMemory {
	return PeerMemory{Seen: maps.Clone(m.Seen), Forgotten: maps.Clone(m.Forgotten), Own: maps.Clone(m.Own)}
}

// WasOwn reports whether addr is one this pod answered from before.
func (m PeerMemory) WasOwn(addr netip.Addr) bool {
	_, ok := m.Own[addr.String()]
	return addr.IsValid() && ok
}

// observe returns m updated with a listing of the StatefulSet's pods made
// at now: every peer of this StatefulSet that answered (not self) is
// remembered; a peer forgotten on another pod after this one last saw it
// is forgotten here too.
func (m PeerMemory) observe(peers Peers, self, statefulSet string, now time.Time) PeerMemory {
	out := m.clone()
	if out.Seen == nil {
		out.Seen = map[string]time.Time{}
	}
	if out.Forgotten == nil {
		out.Forgotten = map[string]time.Time{}
	}
	for _, p := range peers {
		st := p.Status
		if st != nil && st.Pod == self && p.Addr.IsValid() {
			if out.Own == nil {
				out.Own = map[string]time.Time{}
			}
			out.Own[p.Addr.String()] = now
		}
		if st == nil || st.Pod == "" || st.Pod == self {
			continue
		}
		if sts, _, err := ParsePodName(st.Pod); err != nil || statefulSet != "" && sts != statefulSet {
			continue
		}
		out.Seen[st.Pod] = now
		if at, ok := out.Forgotten[st.Pod]; ok && at.Before(now) {
			delete(out.Forgotten, st.Pod) // it is back
		}
	}
	for _, p := range peers {
		if p.Status == nil {
			continue
		}
		for pod, at := range p.Status.ForgottenPeers {
			out.forget(pod, at)
		}
	}
	for len(out.Own) > ownAddresses {
		oldest := ""
		for a, at := range out.Own {
			if oldest == "" || at.Before(out.Own[oldest]) {
				oldest = a
			}
		}
		delete(out.Own, oldest)
	}
	return out
}

// forget forgets pod as of at, unless it answered since.
func (m *PeerMemory) forget(pod string, at time.Time) {
	if seen, ok := m.Seen[pod]; ok && seen.After(at) {
		return
	}
	delete(m.Seen, pod)
	if old, ok := m.Forgotten[pod]; !ok || at.After(old) {
		m.Forgotten[pod] = at
	}
}

// peerMemoryStore keeps a PeerMemory in STATE_DIR (none without one).
type peerMemoryStore struct {
	dir string

	mu      sync.Mutex
	loaded  bool
	mem     PeerMemory
	written time.Time
}

// get returns the memory, read from its file the first time.
func (s *peerMemoryStore) get() (PeerMemory, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded && s.dir != "" {
		var m PeerMemory
		if _, err := readJSON(filepath.Join(s.dir, peerMemoryFile), &m); err != nil {
			return PeerMemory{}, err
		}
		s.mem, s.loaded = m, true
	}
	return s.mem.clone(), nil
}

// update records a listing and a forget request, if one waits, and
// writes the file when something changed other than when peers were seen
// (that is written at most every peerMemoryWriteEvery). readErr says the
// memory could not be read (nothing is known of the peers remembered);
// writeErr that it could not be kept (what it holds is still returned).
func (s *peerMemoryStore) update(peers Peers, self, statefulSet string, now time.Time) (mem PeerMemory, readErr, writeErr error) {
	old, err := s.get()
	if err != nil {
		return old, err, nil
	}
	m := old.observe(peers, self, statefulSet, now)
	var req ForgetRequest
	hasReq := false
	if s.dir != "" {
		if hasReq, err = readJSON(filepath.Join(s.dir, forgetPeerFile), &req); err != nil {
			return old, err, nil
		}
		if hasReq {
			m.forget(req.Pod, req.Created)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mem = m
	if s.dir == "" {
		return m.clone(), nil, nil
	}
	if slices.Equal(old.Known(), m.Known()) && maps.Equal(old.Forgotten, m.Forgotten) && sameKeys(old.Own, m.Own) &&
		now.Sub(s.written) < peerMemoryWriteEvery && !hasReq {
		return m.clone(), nil, nil
	}
	if err := writeJSON(filepath.Join(s.dir, peerMemoryFile), m); err != nil {
		return m.clone(), nil, err
	}
	s.written = now
	if hasReq {
		if err := os.Remove(filepath.Join(s.dir, forgetPeerFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return m.clone(), nil, err
		}
	}
	return m.clone(), nil, nil
}

func sameKeys(a, b map[string]time.Time) bool {
	return slices.Equal(slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b)))
}

// ForgetRequest is a person's request to forget a peer (forget-peer).
type ForgetRequest struct {
	Pod     string    `json:"pod"`
	Created time.Time `json:"created"`
}
