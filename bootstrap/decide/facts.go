package decide

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// Observation is everything one reconcile pass knows: facts read from the
// local server and, on a replica, from the primary. It is plain data, so
// that decide can be tested with any situation written out by hand.
type Observation struct {
	// At is when the facts were gathered.
	At time.Time
	// Local is the pod's own server.
	Local LocalFacts
	// Account is the replication account on a primary, when it was
	// looked at in this pass (nil once it has been verified, until the
	// server restarts).
	Account *AccountFacts
	// CloneAccount is the clone account on a MySQL primary (CLONE's
	// donors log in with it), when it was observed; nil elsewhere.
	CopyAccount *AccountFacts
	// Replica is set on replicas.
	Replica *ReplicaFacts
	// PrimaryChannel is a primary's replication channel, read when the
	// primary can move (PRIMARY=kubernetes): a pod that was a replica
	// still has one; nil when not read.
	PrimaryChannel *sqldialect.ReplicaStatus
	// Credentials are the passwords as read in this pass.
	Credentials CredentialFacts
	// Peers are the StatefulSet's pods, when this pass needed them (a
	// primary rotating the replication password, a replica choosing a
	// donor); nil otherwise.
	Peers *PeerFacts
	// Seed is a copy of a donor's data into this pod, running or done.
	Seed SeedFacts
	// Override is a person's choice for a primary whose peers hold
	// transactions it lacks (STATE_DIR/override.json); nil when none.
	Override *Override
	// PeerMemory is what this pod remembers of its peers, for /status.
	PeerMemory PeerMemory
	// Partial marks an observation made on the probe path: only Local's
	// Up, StartedAt and read-only fields are fresh, the rest is the last
	// pass's.
	Partial bool
}

// LocalFacts describe the local server.
type LocalFacts struct {
	// Up is false when the server did not answer; Err says why.
	Up  bool
	Err string
	// Version is SELECT VERSION(); Server its parsed form. Unsupported
	// is set when no dialect drives that version.
	Version     string
	Server      sqldialect.Server
	Unsupported string
	// StartedAt is when the server process started (now - Uptime).
	StartedAt time.Time
	// ReadOnly and SuperReadOnly (MySQL only) as the server reports them.
	ReadOnly, SuperReadOnly bool
	// OfflineMode (MySQL only): the server refuses every client without
	// CONNECTION_ADMIN, as it does while a clone replaces its data.
	OfflineMode bool
	// Origin is the name the server's own transactions carry in GTIDs:
	// MySQL's server_uuid, MariaDB's server_id.
	Origin string
	// GTIDs is gtid_executed (MySQL) or gtid_binlog_state (MariaDB).
	GTIDs sqldialect.GTIDSet
	// Purged is what the server's binary logs no longer hold: MySQL's
	// gtid_purged, MariaDB's GTID list at the head of its oldest binary
	// log. A replica that lacks any of it cannot catch up from this server.
	Purged sqldialect.GTIDSet
	// UserTables lists a few tables outside the system schemas; it is
	// read on a read-only primary (UserTablesRead), whose guard tells an
	// emptied pod's first start from data of its own.
	UserTables     []string
	UserTablesRead bool
	// Incomplete names a fact that could not be read although the server
	// answered; decisions that need it are not taken.
	Incomplete string
	// SemiSync is the semi-synchronous replication state, read only with
	// Policy.SemiSync (nil otherwise).
	SemiSync *SemiSyncFacts
}

// SemiSyncFacts say which sides of semi-synchronous replication are on:
// Source, the server waits for a replica's acknowledgement of each
// commit (MySQL rpl_semi_sync_source_enabled, MariaDB
// rpl_semi_sync_master_enabled); Replica, it acknowledges what it
// receives (rpl_semi_sync_replica_enabled, rpl_semi_sync_slave_enabled).
type SemiSyncFacts struct {
	Source, Replica bool
}

// SeedFacts describe a copy of a donor's data into this pod.
type SeedFacts struct {
	// Running: the copy is under way (MySQL: this sidecar's CLONE
	// statement runs; MariaDB: a request waits for, or is being served
	// by, the server container's restore).
	Running bool `json:"running"`
	// Donor is the pod copied from; Phase what the copy is doing.
	Donor string `json:"donor,omitempty"`
	Phase string `json:"phase,omitempty"`
	// Bytes copied, of Estimate (0 when unknown), at Rate bytes/s.
	Bytes    int64     `json:"bytes"`
	Estimate int64     `json:"estimate"`
	Rate     float64   `json:"rate"`
	Started  time.Time `json:"started,omitzero"`
	// RestartNeeded: a clone is in place and the server must restart on
	// it (MySQL without a supervisor, error 3707).
	RestartNeeded bool `json:"restartNeeded,omitempty"`
	// ResultPending and ResultGTID: a MariaDB restore is in place (the
	// data directory proved to hold it); its GTID position must still be
	// given to the server.
	ResultPending bool   `json:"resultPending,omitempty"`
	ResultGTID    string `json:"resultGtid,omitempty"`
	// ResultBinlogState is the copy's gtid_binlog_state (every server_id
	// of every domain; "" when unknown: ResultGTID stands in).
	ResultBinlogState string `json:"resultBinlogState,omitempty"`
	// Guarded: a MySQL clone lifted read-only behind offline_mode
	// (STATE_DIR/clone.json, written before); until the guard is put
	// back, the server must not count as read-only or as taking writes.
	Guarded bool `json:"guarded,omitempty"`
	// Unproven: a MariaDB copy is recorded as complete, but the server
	// container has not proven that the data directory holds it (its
	// swap may have failed part-way): nothing is applied or done.
	Unproven bool `json:"unproven,omitempty"`
	// Err is why the last copy failed ("" when it did not); Kind says
	// whether another donor may be tried at once (SeedBusy, SeedStalled).
	Err  string `json:"error,omitempty"`
	Kind string `json:"kind,omitempty"`
	// Stage is the stage of a MySQL clone in progress (FILE COPY, …);
	// Moved counts the bytes it has copied and received so far, which
	// must keep moving; PID is the session running it (KILL QUERY).
	Stage string `json:"stage,omitempty"`
	Moved int64  `json:"-"`
	PID   uint64 `json:"-"`
}

// Kinds of a failed copy after which another donor is tried at once.
const (
	// SeedBusy: the donor was serving another copy (MySQL: one clone per
	// donor, error 3634 inside 3862; MariaDB: 503).
	SeedBusy = "busy"
	// SeedStalled: no byte moved for SEED_STALL_TIMEOUT (the donor is
	// gone or hangs), and the copy was abandoned.
	SeedStalled = "stalled"
	// SeedLost: the connection to the donor failed (MySQL: CLONE's
	// "Connect failed" or a lost connection, in 3862 or on its own): the
	// donor is gone, another may be tried at once.
	SeedLost = "lost"
)

// SeedAltered: a copy's stream did not match its keyed MAC (altered on
// the way, or not from a holder of the seed secret); nothing was
// prepared. It is retried after the usual back-off.
const SeedAltered = "altered"

// describe is the readiness reason while a copy runs.
func (s SeedFacts) Describe() string {
	r := "seeding from " + s.Donor
	if s.Phase != "" {
		r += " (" + s.Phase + ")"
	}
	r += ": " + humanBytes(s.Bytes)
	if s.Estimate > 0 {
		r += "/" + humanBytes(s.Estimate)
	}
	if s.Rate > 0 {
		r += " (" + humanBytes(int64(s.Rate)) + "/s)"
	}
	return r
}

// humanBytes writes n in B, KiB, MiB, GiB or TiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGT"[exp])
}

// AccountFacts describe the replication account (or the clone account)
// on a primary; for the clone account the login is tried with the
// password derived from the seed secret.
type AccountFacts struct {
	Exists bool
	// Marked: created (or adopted) by mysql-bootstrap, see
	// sqldialect.AccountMarker.
	Marked bool
	// RequireSSL: the account refuses connections without TLS.
	RequireSSL bool
	// OldPasswordRetained: MySQL still accepts the password from before
	// the last change (dual passwords).
	OldPasswordRetained bool
	// LoginTested: a login with REPLICATION_PASSWORD was tried in this
	// pass. PasswordWorks: it succeeded. PasswordUnknown says why it could
	// not tell (not access denied: a connection limit, say): then the
	// password is left alone.
	LoginTested     bool
	PasswordWorks   bool
	PasswordUnknown string
	// Grants is what SHOW GRANTS says of it.
	Grants sqldialect.Grants
}

// CredentialFacts describe the passwords as read from their variables or
// files in this pass.
type CredentialFacts struct {
	// ReplicationFP is the tag (PasswordTag) of REPLICATION_PASSWORD.
	ReplicationFP string
	// CopyFP is the tag (PasswordTag) of the copy account's password
	// (derived from the seed secret): MySQL's clone account, MariaDB's
	// backup account.
	CopyFP string
	// Problems are files that could not be read again (the last good
	// value is kept), by variable.
	Problems map[string]string
}

// PeerFacts are the pods the headless Service lists.
type PeerFacts struct {
	// Err is why the Service could not be resolved; Absent says the name
	// proved not to exist (NXDOMAIN, no address), which is no proof that
	// no peer exists, only that none is listed. Any other failure (a
	// timeout, SERVFAIL) says nothing about the peers.
	Err    string
	Absent bool
	Peers  Peers
	// Memory is what this pod remembers of its peers, this listing
	// included (STATE_DIR/peers.json); MemoryErr says it could not be
	// kept there.
	Memory    PeerMemory
	MemoryErr error
	// ForgetIgnored says why a forget-peer request in STATE_DIR was not
	// applied (not signed by the StatefulSet's secret); "" when none was.
	ForgetIgnored string
}

// ReplicaFacts describe a replica's channel and its view of the primary.
type ReplicaFacts struct {
	// Channel is SHOW REPLICA STATUS.
	Channel sqldialect.ReplicaStatus
	// UserTables lists a few tables outside the system schemas, and
	// Accounts the accounts besides the servers' own; both are read only
	// while the channel was never configured.
	UserTables []string
	Accounts   []string
	// Writers are the accounts that can write despite read_only
	// (MariaDB: holders of SUPER or READ_ONLY ADMIN).
	Writers []string
	// Source is what the primary said when asked.
	Source SourceFacts
}

// SourceFacts are the primary's GTID sets, as the replica's sidecar read
// them with the replication account.
type SourceFacts struct {
	// Err is why the primary could not be asked ("" when it answered).
	Err string
	// GTIDs is the primary's gtid_executed / gtid_binlog_state.
	GTIDs sqldialect.GTIDSet
	// Purged is what the primary's binary logs no longer hold (MySQL's
	// gtid_purged; on MariaDB as the primary's /status publishes it);
	// PurgedKnown is false when it could not be read.
	Purged      sqldialect.GTIDSet
	PurgedKnown bool
	// Refused: the primary refused this pod's REPLICATION_PASSWORD (a
	// login made in this pass, when FreshLogin).
	Refused bool
	// FreshLogin: the answer came from a login made in this pass with the
	// current password, not from an older connection.
	FreshLogin bool
	// StatusKnown: whether the primary takes writes is known; Writable:
	// it does (read_only and super_read_only off, as its sidecar leaves it
	// once its own checks pass). Read over SQL with the replication
	// account; from the primary's /status only when SQL cannot say.
	StatusKnown, Writable bool
}

// Reached reports whether the primary answered.
func (s SourceFacts) Reached() bool { return s.Err == "" }

// isAuthError: the server refused the login (access denied, or
// caching_sha2_password refusing a plain connection without the RSA key).
func IsAuthError(errno int) bool {
	return errno == int(sqldialect.ErrnoAccessDenied) || errno == int(sqldialect.ErrnoAuthRequiresSecureConnection)
}

// oneLine folds a message onto one line for logs and probes.
var OneLine = sqldialect.OneLine

// Override actions.
const (
	// OverrideOwnData: the primary takes writes with the data it has,
	// although peers hold transactions it lacks (they are given up) or do
	// not answer.
	OverrideOwnData = "use-own-data"
	// OverrideSeedFrom: the primary replaces its data with a copy of the
	// named peer's, although that peer does not hold every transaction of
	// every pod (the others' are given up).
	OverrideSeedFrom = "seed-from"
)

// Override is a person's choice for a primary whose peers hold
// transactions it lacks, disagree, or do not answer. It is used once, and
// only while fresh: the sidecar reports an older one (Err) instead.
type Override struct {
	Action  string    `json:"action"`
	From    string    `json:"from,omitempty"`
	Created time.Time `json:"created"`
	// MAC signs the file (STATE_DIR/override.json) with the StatefulSet's
	// secret; the sidecar checks it before anything here is used.
	MAC string `json:"mac,omitempty"`
	// Err is set when the file could not be read, or is ignored (not
	// signed, too old): observation only.
	Err string `json:"-"`
}

// Peer is one pod of the StatefulSet as found through the headless
// Service: its address and what its sidecar's /status says.
type Peer struct {
	// Addr is the pod's address, from the Service's DNS records.
	Addr netip.Addr `json:"address"`
	// Status is the peer's /status; nil when it did not answer.
	Status *wire.Status `json:"status,omitempty"`
	// Err is why it did not answer.
	Err string `json:"error,omitempty"`
}

// Name is the peer's pod name, or its address while it does not answer.
func (p Peer) Name() string {
	if p.Status != nil && p.Status.Pod != "" {
		return p.Status.Pod
	}
	return p.Addr.String()
}

// Peers is every pod found, sorted by ordinal (those that did not answer
// last, by address).
type Peers []Peer

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
const OwnAddresses = 8

// Known returns the remembered peers, sorted.
func (m PeerMemory) Known() []string {
	return slices.Sorted(maps.Keys(m.Seen))
}

// clone returns a copy that shares no map with m.
func (m PeerMemory) Clone() PeerMemory {
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
func (m PeerMemory) Observe(peers Peers, self, statefulSet string, now time.Time) PeerMemory {
	out := m.Clone()
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
		if sts, _, err := wire.ParsePodName(st.Pod); err != nil || statefulSet != "" && sts != statefulSet {
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
			out.Forget(pod, at)
		}
	}
	for len(out.Own) > OwnAddresses {
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
func (m *PeerMemory) Forget(pod string, at time.Time) {
	if seen, ok := m.Seen[pod]; ok && seen.After(at) {
		return
	}
	delete(m.Seen, pod)
	if old, ok := m.Forgotten[pod]; !ok || at.After(old) {
		m.Forgotten[pod] = at
	}
}

// String makes a Decision readable in test failures.
func (d Decision) String() string {
	return fmt.Sprintf("ready=%v reason=%q actions=%v", d.Ready, d.Reason, d.Actions)
}
