package bootstrap

import (
	"sync"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// snapshot is what one pass published: the status it served, and the
// observation and memory the probe path decides from.
type snapshot struct {
	status wire.Status
	obs    decide.Observation
	mem    decide.Memory
	// policy is what the pass decided with (the role, the primary and
	// the fence of that moment); zero before the first pass.
	policy decide.Policy
}

// statusBox holds the latest snapshot for concurrent readers. The
// reconcile loop is its only writer.
type statusBox struct {
	mu sync.RWMutex
	s  snapshot
}

// get returns the snapshot; its status's Replication is a copy.
func (b *statusBox) get() snapshot {
	b.mu.RLock()
	defer b.mu.RUnlock()
	s := b.s
	if s.status.Replication != nil {
		r := *s.status.Replication
		s.status.Replication = &r
	}
	if s.status.Account != nil {
		a := *s.status.Account
		s.status.Account = &a
	}
	return s
}

func (b *statusBox) set(s snapshot) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.s = s
}
