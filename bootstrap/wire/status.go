package wire

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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

	// GTIDExecuted is the server's transactions (gtid_executed on MySQL,
	// gtid_binlog_state on MariaDB).
	GTIDExecuted string `json:"gtidExecuted"`
	// GTIDPurged is what the server's binary logs no longer hold (MySQL's
	// gtid_purged; MariaDB's GTID list at the head of its oldest binary
	// log).
	GTIDPurged string `json:"gtidPurged"`
	// GTIDOrigin is the name this server's own transactions carry in
	// GTIDs: MySQL's server_uuid, MariaDB's server_id.
	GTIDOrigin string `json:"gtidOrigin"`

	Ready  bool   `json:"ready"`
	Reason string `json:"reason"`
	// Situation is the code of the last decision (see "Situations" in
	// README.md): what Reason says, for alerts, dashboards and tests.
	Situation string `json:"situation,omitempty"`

	// Replication is set on replicas.
	Replication *ReplicationStatus `json:"replication,omitempty"`
	// Account is the replication account, on the primary.
	Account *AccountStatus `json:"account,omitempty"`
	// Credentials identify the passwords in use, without revealing them.
	Credentials *CredentialStatus `json:"credentials,omitempty"`
	// Seed is a copy of a donor's data into this pod: under way, just
	// done, or the last one that failed; nil when there is none.
	Seed *SeedStatus `json:"seed,omitempty"`
	// KnownPeers are the peers this pod has seen answer (STATE_DIR), which
	// the primary's guard waits for; ForgottenPeers those a person forgot
	// (forget-peer), and when.
	KnownPeers     []string             `json:"knownPeers,omitempty"`
	ForgottenPeers map[string]time.Time `json:"forgottenPeers,omitempty"`
	// OfflineMode (MySQL): the server refuses every client without
	// CONNECTION_ADMIN.
	OfflineMode bool `json:"offlineMode,omitempty"`
	// SemiSync is the semi-synchronous replication state; nil unless
	// SEMI_SYNC is set.
	SemiSync *SemiSyncStatus `json:"semiSync,omitempty"`

	// Guard is why a primary does not take writes yet: a Guard* code;
	// "" when it does, or when it is a replica.
	Guard string `json:"guard,omitempty"`

	// Warnings are standing weaknesses of the configuration, each
	// "<code>: <sentence>" (WarningSeedPlaintext).
	Warnings []string `json:"warnings,omitempty"`

	// PrimaryMode is PRIMARY (ordinal-0 or kubernetes); Lease is the
	// primary's Lease as this pod sees it (PRIMARY=kubernetes only).
	PrimaryMode string       `json:"primaryMode,omitempty"`
	Lease       *LeaseStatus `json:"lease,omitempty"`
	// FailoverHold (FAILOVER=auto) is set on a replica whose primary's
	// Lease expired and whose receiver is stopped: what it received is
	// final until a new primary takes the Lease.
	FailoverHold    *FailoverHold `json:"failoverHold,omitempty"`
	LastReconcile   time.Time     `json:"lastReconcile"`
	ReconcileError  string        `json:"reconcileError,omitempty"`
	ReconcileErrors uint64        `json:"reconcileErrors"`
}

// Why a primary does not take writes yet (Status.Guard; see "An empty
// primary" in README.md). Each is a label value of mysql_bootstrap_guard.
const (
	// GuardWaitingForPeers: a pod of the StatefulSet does not answer; it
	// may hold transactions the primary lacks.
	GuardWaitingForPeers = "waiting-for-peers"
	// GuardWaitingForPerson: the pods disagree and none holds every
	// transaction; a person chooses with primary-override.
	GuardWaitingForPerson = "waiting-for-person"
	// GuardRecovering: the primary copies the data of the pod that holds
	// every transaction before it takes writes.
	GuardRecovering = "recovering"
)

// WarningSeedPlaintext (Status.Warnings): a MariaDB pod without
// REPLICATION_TLS_CA_FILE, whose seed copies travel in clear.
const WarningSeedPlaintext = "seed-plaintext"

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
	// StalenessSeconds is how old the data the replica serves may be: the
	// lag while connected, the time since the primary was last heard from
	// while reconnecting; nil when unknown. Readiness compares it with
	// MAX_REPLICATION_LAG.
	StalenessSeconds *int64 `json:"stalenessSeconds"`
	LastError        string `json:"lastError"`
	// ErrantGTIDs lists transactions the replica has and the primary
	// lacks; ErrantKnown is false when they could not be compared.
	ErrantGTIDs string `json:"errantGtids,omitempty"`
	ErrantKnown bool   `json:"errantKnown"`
	// PrimaryError is why the primary could not be asked for its
	// transactions in the last pass ("" when it answered).
	PrimaryError string `json:"primaryError,omitempty"`
	// CaughtUp: the replica has held every transaction the primary had
	// when first compared.
	CaughtUp bool `json:"caughtUp"`
	// Changes counts CHANGE REPLICATION SOURCE/MASTER statements this
	// sidecar has run; Restarts counts thread (re)starts; Resets counts
	// removals of a new replica's first-start GTIDs.
	Changes  uint64 `json:"changes"`
	Restarts uint64 `json:"restarts"`
	Resets   uint64 `json:"resets"`
	// ChangeTries counts CHANGE statements that have not fixed a refused
	// channel yet, NextChange when the next may run.
	ChangeTries int        `json:"changeTries,omitempty"`
	NextChange  *time.Time `json:"nextChange,omitempty"`
	// WritersDespiteReadOnly are accounts that can write on this
	// read-only replica (MariaDB: SUPER or READ_ONLY ADMIN).
	WritersDespiteReadOnly []string `json:"writersDespiteReadOnly,omitempty"`
}

// SeedStatus is a copy of a donor's data into this pod.
type SeedStatus struct {
	// State is running, restarting (the copy is in place, the server
	// restarts on it), applying (a MariaDB copy's GTID position is being
	// set) or failed.
	State string `json:"state"`
	Donor string `json:"donor,omitempty"`
	Phase string `json:"phase,omitempty"`
	// Bytes copied so far, of Estimate (0 when unknown), at Rate bytes/s.
	Bytes    int64      `json:"bytes"`
	Estimate int64      `json:"estimate"`
	Rate     float64    `json:"rate"`
	Started  *time.Time `json:"started,omitempty"`
	Error    string     `json:"error,omitempty"`
	// Seeds counts the copies this sidecar started.
	Seeds uint64 `json:"seeds"`
}

// AccountStatus is the primary's replication account.
type AccountStatus struct {
	Exists bool `json:"exists"`
	// Managed: created or adopted by mysql-bootstrap.
	Managed    bool `json:"managed"`
	RequireSSL bool `json:"requireSsl"`
	// OldPasswordRetained: MySQL still accepts the password from before
	// the last change, until every replica uses the new one.
	OldPasswordRetained bool `json:"oldPasswordRetained"`
	// ExtraGrants are privileges beyond replication (reported, not
	// revoked).
	ExtraGrants []string `json:"extraGrants,omitempty"`
	// WaitingFor names the replicas a password change waits for.
	WaitingFor []string `json:"waitingFor,omitempty"`
}

// CredentialStatus identifies passwords by tag (see
// bootstrap.PasswordTag): pods of one deployment with equal tags hold
// equal passwords; the tags are keyed by the root password, so nobody
// without it learns anything from them, and the passwords themselves are
// never shown.
type CredentialStatus struct {
	// ReplicationTag tags REPLICATION_PASSWORD as this pod reads it now.
	ReplicationTag string `json:"replicationTag"`
	// ChannelTag tags what this replica's sidecar last gave its
	// replication channel ("" when unknown).
	ChannelTag string `json:"channelTag,omitempty"`
	// ChannelCurrent: this replica's channel uses the password the pod
	// reads now (nil when unknown).
	ChannelCurrent *bool `json:"channelCurrent,omitempty"`
}

// ErrNoOrdinal is returned for a pod name that does not end in -<ordinal>.
var ErrNoOrdinal = errors.New("pod name has no ordinal")

// Role is what a pod is in the replication topology.
type Role string

// Roles. Ordinal 0 is the primary; every other ordinal replicates from it.
const (
	RolePrimary Role = "primary"
	RoleReplica Role = "replica"
)

// MaxServerID is the largest server_id MySQL and MariaDB accept.
const MaxServerID = 1<<32 - 1

// ParsePodName splits a StatefulSet pod name at its last dash:
// my-db-mysql-12 is StatefulSet my-db-mysql, ordinal 12.
func ParsePodName(pod string) (statefulSet string, ordinal uint64, err error) {
	i := strings.LastIndexByte(pod, '-')
	if i <= 0 || i == len(pod)-1 {
		return "", 0, fmt.Errorf("%w: %q is not <statefulset>-<ordinal> (set POD_NAME from the downward API metadata.name)", ErrNoOrdinal, pod)
	}
	statefulSet, digits := pod[:i], pod[i+1:]
	for _, r := range digits {
		if r < '0' || r > '9' {
			return "", 0, fmt.Errorf("%w: %q ends in %q, expected a non-negative whole number after the last '-'", ErrNoOrdinal, pod, digits)
		}
	}
	if len(digits) > 1 && digits[0] == '0' {
		return "", 0, fmt.Errorf("%w: %q has ordinal %q with a leading zero, which a StatefulSet never produces", ErrNoOrdinal, pod, digits)
	}
	ordinal, err = strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%w: ordinal %q of %q is too large: expected at most %d", ErrNoOrdinal, digits, pod, uint64(MaxServerID))
	}
	if !IsDNSLabel(pod) {
		return "", 0, fmt.Errorf("%w: %q is not a valid pod name: expected lowercase letters, digits and '-', at most 63 characters", ErrNoOrdinal, pod)
	}
	return statefulSet, ordinal, nil
}

func IsDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// LeaseStatus is the primary's Lease as a pod sees it (PRIMARY=kubernetes).
type LeaseStatus struct {
	Name string `json:"name"`
	// Holder is the pod that holds it ("" when none is known).
	Holder string `json:"holder"`
	// Fence, when set, is why this pod may not take writes now.
	Fence string `json:"fence,omitempty"`
	// Error is the last Kubernetes API failure ("" after a success).
	Error       string `json:"error,omitempty"`
	Transitions int32  `json:"transitions"`
	// ObservedAt is when this pod last saw the Lease change; RenewedAt
	// when the holder's last renewal began (the holder only).
	ObservedAt time.Time `json:"observedAt,omitzero"`
	RenewedAt  time.Time `json:"renewedAt,omitzero"`
	// Label is the role label set on this pod.
	Label string `json:"label,omitempty"`
	// LastSwitchover is the last switchover's outcome, as the Lease
	// records it.
	LastSwitchover *SwitchoverStatus `json:"lastSwitchover,omitempty"`
	// LastFailover is the failover that gave the Lease to its holder, as
	// the Lease records it (a switchover or a new Lease removes it).
	LastFailover *FailoverRecord `json:"lastFailover,omitempty"`
	// Failover (FAILOVER=auto, a replica while the holder's Lease has
	// expired) is why this pod does not take the Lease now.
	Failover string `json:"failover,omitempty"`
}

// FailoverHold is a replica's final state while its primary's Lease has
// expired (FAILOVER=auto): its receiver is stopped.
type FailoverHold struct {
	// Holder is the pod whose Lease expired.
	Holder string `json:"holder"`
	// Received is every transaction this replica holds or received (its
	// relay log's included): the set candidates compare.
	Received string `json:"received"`
	// Errant is what it holds that the primary, as last known, lacked.
	Errant string `json:"errant,omitempty"`
	// ApplierError is the applier's last error ("" when none): a replica
	// that cannot apply its relay log cannot take over.
	ApplierError string `json:"applierError,omitempty"`
	// Restarted: its data was not proven complete against the primary
	// since its server last started. A restart drops the relay log
	// (relay_log_recovery): what it received from a primary that froze
	// since may be gone, and Received may lack an acknowledged write.
	Restarted bool `json:"restarted,omitempty"`
}

// FailoverRecord is an automatic failover, recorded on the Lease by the
// pod that took it (JSON in the mysql-bootstrap/failover annotation).
type FailoverRecord struct {
	From string `json:"from"`
	// FromAddr is the old holder's address then ("" when unknown).
	FromAddr string    `json:"fromAddr,omitempty"`
	To       string    `json:"to"`
	At       time.Time `json:"at"`
	// Received is the new holder's transactions, relay log included, when
	// it took the Lease: every other replica's were in it.
	Received string `json:"received"`
	// Compared are the other replicas whose transactions it compared.
	Compared []string `json:"compared,omitempty"`
	// SemiSync: the cluster ran semi-synchronous replication, so every
	// acknowledged write was in some replica's Received.
	SemiSync bool `json:"semiSync"`
}

// Switchover states.
const (
	SwitchoverDone    = "done"
	SwitchoverRefused = "refused"
	SwitchoverAborted = "aborted"
)

// SwitchoverStatus is the outcome of a switchover.
type SwitchoverStatus struct {
	ID    string `json:"id"`
	State string `json:"state"`
	From  string `json:"from"`
	To    string `json:"to"`
	// Reason says why it was refused or aborted.
	Reason string `json:"reason,omitempty"`
	// GTIDs is the old primary's last position, which the new one had
	// applied before it took writes.
	GTIDs    string    `json:"gtids,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// ReadOnlyMillis is how long the old primary was read-only before
	// the Lease moved.
	ReadOnlyMillis int64 `json:"readOnlyMillis,omitempty"`
}

// SemiSyncStatus describes semi-synchronous replication (SEMI_SYNC) on a
// pod: Enabled, it is configured; Source, the server waits for a
// replica's acknowledgement of each commit; Replica, it acknowledges what
// it receives. Source and Replica are nil when they could not be read.
type SemiSyncStatus struct {
	Enabled bool  `json:"enabled"`
	Source  *bool `json:"source,omitempty"`
	Replica *bool `json:"replica,omitempty"`
}
