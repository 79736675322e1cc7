package bootstrap

import (
	"sync"
	"time"
)

// Status is what the sidecar last observed of its pod, served on /status
// and the source of /readyz and /metrics.
type Status struct {
	Pod         string `json:"pod"`
	Ordinal     uint64 `json:"ordinal"`
	Role        Role   `json:"role"`
	ServerID    uint32 `json:"serverId"`
	PodHost     string `json:"podHost"`
	PrimaryHost string `json:"primaryHost"`

	// ServerUp is whether the local server answered the last reconcile.
	ServerUp bool   `json:"serverUp"`
	Flavor   string `json:"flavor"`
	Version  string `json:"version"`
	ReadOnly bool   `json:"readOnly"`
	// SuperReadOnly is MySQL's stronger read-only; MariaDB has none.
	SuperReadOnly bool `json:"superReadOnly"`
	// ServerStartedAt is when the local server process started, as of the
	// last check: a later start means it restarted since.
	ServerStartedAt time.Time `json:"serverStartedAt"`

	Ready  bool   `json:"ready"`
	Reason string `json:"reason"`

	// Replication is set on replicas.
	Replication *ReplicationStatus `json:"replication,omitempty"`

	LastReconcile   time.Time `json:"lastReconcile"`
	ReconcileError  string    `json:"reconcileError,omitempty"`
	ReconcileErrors uint64    `json:"reconcileErrors"`
}

// ReplicationStatus is a replica's view of its replication channel.
type ReplicationStatus struct {
	Configured   bool   `json:"configured"`
	SourceHost   string `json:"sourceHost"`
	SourcePort   int    `json:"sourcePort"`
	AutoPosition bool   `json:"autoPosition"`
	IOState      string `json:"ioState"` // Yes, No or Connecting, as the server says
	IORunning    bool   `json:"ioRunning"`
	SQLRunning   bool   `json:"sqlRunning"`
	// LagSeconds is nil when the server does not know (a stopped or
	// reconnecting thread): unknown is not zero.
	LagSeconds *int64 `json:"lagSeconds"`
	LastError  string `json:"lastError"`
	// ErrantGTIDs lists transactions the replica has and the primary
	// lacks, when the primary could be asked.
	ErrantGTIDs string `json:"errantGtids,omitempty"`
	// Changes counts CHANGE REPLICATION SOURCE/MASTER statements this
	// sidecar has run; Restarts counts thread restarts.
	Changes  uint64 `json:"changes"`
	Restarts uint64 `json:"restarts"`
}

// statusBox holds the latest Status for concurrent readers.
type statusBox struct {
	mu sync.RWMutex
	s  Status
}

func (b *statusBox) get() Status {
	b.mu.RLock()
	defer b.mu.RUnlock()
	s := b.s
	if s.Replication != nil {
		r := *s.Replication
		s.Replication = &r
	}
	return s
}

func (b *statusBox) set(s Status) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.s = s
}
