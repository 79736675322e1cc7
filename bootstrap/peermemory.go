package bootstrap

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
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

// peerMemoryStore keeps a PeerMemory in STATE_DIR (none without one).
type peerMemoryStore struct {
	dir string
	// secret is the seed secret (seedSecret), which signs forget requests.
	secret func() string

	mu      sync.Mutex
	loaded  bool
	mem     decide.PeerMemory
	written time.Time
}

// get returns the memory, read from its file the first time.
func (s *peerMemoryStore) get() (decide.PeerMemory, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded && s.dir != "" {
		var m decide.PeerMemory
		if _, err := readJSON(filepath.Join(s.dir, peerMemoryFile), &m); err != nil {
			return decide.PeerMemory{}, err
		}
		s.mem, s.loaded = m, true
	}
	return s.mem.Clone(), nil
}

// update records a listing and a forget request, if one waits, and
// writes the file when something changed other than when peers were seen
// (that is written at most every peerMemoryWriteEvery). readErr says the
// memory could not be read (nothing is known of the peers remembered);
// writeErr that it could not be kept (what it holds is still returned).
// A forget request that is not signed by the secret is not applied: it
// is left in place, and ignored says why ("" when there is none such).
func (s *peerMemoryStore) update(peers decide.Peers, self, statefulSet string, now time.Time) (mem decide.PeerMemory, ignored string, readErr, writeErr error) {
	old, err := s.get()
	if err != nil {
		return old, "", err, nil
	}
	m := old.Observe(peers, self, statefulSet, now)
	var req ForgetRequest
	hasReq := false
	if s.dir != "" {
		if hasReq, err = readJSON(filepath.Join(s.dir, forgetPeerFile), &req); err != nil {
			return old, "", err, nil
		}
		if hasReq {
			if err := checkState(call(s.secret), forgetPeerFile, &req, &req.MAC); err != nil {
				hasReq, ignored = false, err.Error()+": "+req.Pod+" is not forgotten; run forget-peer again"
			}
		}
		if hasReq {
			m.Forget(req.Pod, req.Created)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mem = m
	if s.dir == "" {
		return m.Clone(), ignored, nil, nil
	}
	if slices.Equal(old.Known(), m.Known()) && maps.Equal(old.Forgotten, m.Forgotten) && sameKeys(old.Own, m.Own) &&
		now.Sub(s.written) < peerMemoryWriteEvery && !hasReq {
		return m.Clone(), ignored, nil, nil
	}
	if err := writeJSON(filepath.Join(s.dir, peerMemoryFile), m); err != nil {
		return m.Clone(), ignored, nil, err
	}
	s.written = now
	if hasReq {
		if err := os.Remove(filepath.Join(s.dir, forgetPeerFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return m.Clone(), ignored, nil, err
		}
	}
	return m.Clone(), ignored, nil, nil
}

func sameKeys(a, b map[string]time.Time) bool {
	return slices.Equal(slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b)))
}

// ForgetRequest is a person's request to forget a peer (forget-peer).
// It has no expiry of its own: Forget keeps a pod seen since Created.
type ForgetRequest struct {
	Pod     string    `json:"pod"`
	Created time.Time `json:"created"`
	// MAC signs the request with the StatefulSet's secret (checkState).
	MAC string `json:"mac,omitempty"`
}
