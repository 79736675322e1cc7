package decide

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// The situations below are written out as observations; decide needs no
// server. Names say what a person would see.

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

const (
	primaryUUID = "aaaaaaaa-0000-11ef-8000-000000000100"
	replicaUUID = "bbbbbbbb-0000-11ef-8000-000000000101"
	otherUUID   = "cccccccc-0000-11ef-8000-000000000999"
	testPrimary = "mysql-0.mysql.default.svc.cluster.local"
)

func server(t testing.TB, version string) sqldialect.Server {
	t.Helper()
	s, err := sqldialect.ParseVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testPolicy(role wire.Role) Policy {
	pod := "mysql-1"
	if role == wire.RolePrimary {
		pod = "mysql-0"
	}
	return Policy{Role: role, PrimaryHost: testPrimary, Port: 3306, User: "replication",
		MaxLag: 30 * time.Second, StaleAfter: 25 * time.Second, Pod: pod, AutoReseed: true}
}

func gtids(f sqldialect.Flavor, s string) sqldialect.GTIDSet {
	return sqldialect.MustParseGTIDSet(f, s)
}

func ptr[T any](v T) *T { return &v }

// flavourCase holds what differs between the flavours in a situation.
type flavourCase struct {
	name    string
	version string
	flavor  sqldialect.Flavor
	// primary and replica origins, and GTID sets in each flavour's notation
	primaryOrigin, replicaOrigin string
	primarySet, behindSet        string // primary has 1-10, replica behind has 1-4
	localWrite                   string // a transaction written on the replica itself
	primaryMore                  string // the primary after more writes
}

var flavours = []flavourCase{
	{name: "mysql", version: "9.7.4", flavor: sqldialect.MySQL, primaryOrigin: primaryUUID, replicaOrigin: replicaUUID,
		primarySet: primaryUUID + ":1-10", behindSet: primaryUUID + ":1-4", localWrite: replicaUUID + ":1", primaryMore: primaryUUID + ":1-12"},
	{name: "mariadb", version: "10.11.19-MariaDB-0+deb12u1", flavor: sqldialect.MariaDB, primaryOrigin: "100", replicaOrigin: "101",
		primarySet: "0-100-10", behindSet: "0-100-4", localWrite: "0-101-1", primaryMore: "0-100-12"},
}

// healthyReplica is a replica connected to the primary, caught up, lag 0.
func (fc flavourCase) healthyReplica(t testing.TB) (Observation, Memory) {
	o := Observation{
		At: t0,
		Local: LocalFacts{Up: true, Version: fc.version, Server: server(t, fc.version), StartedAt: t0.Add(-time.Hour),
			ReadOnly: true, SuperReadOnly: fc.flavor == sqldialect.MySQL, Origin: fc.replicaOrigin, GTIDs: gtids(fc.flavor, fc.primarySet)},
		Replica: &ReplicaFacts{
			Channel: sqldialect.ReplicaStatus{Configured: true, SourceHost: testPrimary, SourcePort: 3306, SourceUser: "replication",
				AutoPosition: true, IO: sqldialect.ThreadRunning, SQL: sqldialect.ThreadRunning, Lag: ptr[int64](0),
				RetrievedGTIDSet: fc.primarySet},
			Source: SourceFacts{GTIDs: gtids(fc.flavor, fc.primarySet), Purged: gtids(fc.flavor, "")},
		},
	}
	o.Credentials = CredentialFacts{ReplicationFP: oldFP}
	m := Memory{ServerStartedAt: t0.Add(-time.Hour), CaughtUp: true, Snapshot: gtids(fc.flavor, fc.primarySet),
		FreshAsOf: t0.Add(-5 * time.Second), PrimaryGTIDs: gtids(fc.flavor, fc.primarySet), ChannelFP: oldFP}
	return o, m
}

// staleFatalReplica is a healthy replica whose receiver stopped on 13114
// ("more GTIDs than the source") while its primary, writable or not, now
// holds everything it has and purged nothing it lacks; starts is how many
// restarts were tried since.
func (fc flavourCase) staleFatalReplica(t testing.TB, writable bool, starts int) (Observation, Memory) {
	o, m := fc.healthyReplica(t)
	ch := &o.Replica.Channel
	ch.IO, ch.Lag, ch.LastIOErrno, ch.LastIOError = sqldialect.ThreadStopped, nil, 13114, "Replica has more GTIDs than the source has"
	o.Replica.Source.Purged, o.Replica.Source.PurgedKnown = gtids(fc.flavor, ""), true
	o.Replica.Source.StatusKnown, o.Replica.Source.Writable = true, writable
	if starts > 0 {
		m.Start = Backoff{Tries: starts, Last: t0.Add(-time.Second), Wait: time.Second}
	}
	return o, m
}

// wantStartsSeeds checks the restarts and seeds a decision remembers.
func wantStartsSeeds(starts int, seeds uint64) func(*testing.T, flavourCase, Decision) {
	return func(t *testing.T, _ flavourCase, d Decision) {
		if d.Memory.Start.Tries != starts || d.Memory.Seeds != seeds {
			t.Errorf("memory %+v, want %d restart(s) and %d seed(s)", d.Memory, starts, seeds)
		}
	}
}

// newReplica is a replica whose server just came up empty: never
// configured, no transactions.
func (fc flavourCase) newReplica(t testing.TB) (Observation, Memory) {
	o, _ := fc.healthyReplica(t)
	o.Local.GTIDs = gtids(fc.flavor, "")
	o.Replica.Channel = sqldialect.ReplicaStatus{}
	return o, Memory{}
}

// Fingerprints of the replication password before and after a rotation.
const (
	oldFP = "0123456789abcdef"
	newFP = "fedcba9876543210"
)

func (fc flavourCase) primary(t testing.TB) (Observation, Memory) {
	o := Observation{
		At: t0,
		Local: LocalFacts{Up: true, Version: fc.version, Server: server(t, fc.version), StartedAt: t0.Add(-time.Hour),
			Origin: fc.primaryOrigin, GTIDs: gtids(fc.flavor, fc.primarySet)},
		Account:     &AccountFacts{Exists: true, Marked: true, Grants: sqldialect.Grants{Replication: true}},
		Credentials: CredentialFacts{ReplicationFP: oldFP},
	}
	// It has taken writes with this data (its lineage is recorded).
	m := Memory{ServerStartedAt: t0.Add(-time.Hour), AccountVerified: true, AccountFP: oldFP,
		Lineage: Lineage{Known: true, Origin: fc.primaryOrigin, GTIDs: gtids(fc.flavor, fc.primarySet)}}
	// Its copy account is right, its password checked.
	o.CopyAccount = &AccountFacts{Exists: true, Marked: true, Grants: copyGrants(fc.flavor)}
	o.Credentials.CopyFP, m.CopyAccountFP = copyFP, copyFP
	return o, m
}

// copyGrants are the grants of a complete copy account: MySQL's clone
// account BACKUP_ADMIN, MariaDB's backup account what mariadb-backup needs.
func copyGrants(f sqldialect.Flavor) sqldialect.Grants {
	if f == sqldialect.MySQL {
		return sqldialect.Grants{BackupAdmin: true}
	}
	return sqldialect.ClassifyGrants([]string{"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, REPLICATION SLAVE ADMIN ON *.* TO `mysql-bootstrap-backup`@`127.0.0.1`"})
}

// copyFP is the tag of the copy account's password (derived
// from the seed secret); newCopyFP after the seed secret changed.
const (
	copyFP    = "c10e000000000001"
	newCopyFP = "c10e000000000002"
)

// rotated is a primary whose REPLICATION_PASSWORD changed: the account
// refuses the new one.
func (fc flavourCase) rotated(t testing.TB) (Observation, Memory) {
	o, m := fc.primary(t)
	o.Credentials.ReplicationFP = newFP
	o.Account.LoginTested = true
	return o, m
}

// firstStart is the origin and GTID set of a pod whose only transactions
// are its own first start's, under a new name (MySQL: a new server_uuid;
// MariaDB: another domain).
func (fc flavourCase) firstStart() (string, sqldialect.GTIDSet) {
	if fc.flavor == sqldialect.MariaDB {
		return fc.primaryOrigin, gtids(fc.flavor, "1-"+fc.primaryOrigin+"-5")
	}
	return otherUUID, gtids(fc.flavor, otherUUID+":1-5")
}

// guardPeers lists the primary and replicas holding sets (each replica
// also holds a first-start transaction of its own, which does not count).
func (fc flavourCase) guardPeers(sets ...string) *PeerFacts {
	pf := &PeerFacts{Peers: Peers{{Status: &wire.Status{Pod: "mysql-0", Role: wire.RolePrimary}}}}
	for i, set := range sets {
		origin, own := otherUUID, otherUUID+":1-5"
		if fc.flavor == sqldialect.MariaDB {
			origin, own = fmt.Sprint(101+i), fmt.Sprintf("0-%d-3", 101+i)
		}
		all := own
		if set != "" {
			all = set + "," + own
		}
		pf.Peers = append(pf.Peers, Peer{Status: &wire.Status{Pod: fmt.Sprintf("mysql-%d", i+1), Ordinal: uint64(i + 1), Role: wire.RoleReplica,
			ServerUp: true, PodHost: fmt.Sprintf("mysql-%d.x", i+1), GTIDExecuted: all, GTIDOrigin: origin}})
	}
	return pf
}

// peers lists the primary and two replicas, with the fingerprints of the
// password each replica reads and gave its channel.
func peers(replicas ...[2]string) *PeerFacts {
	pf := &PeerFacts{Peers: Peers{{Status: &wire.Status{Pod: "mysql-0", Role: wire.RolePrimary}}}}
	for i, r := range replicas {
		pf.Peers = append(pf.Peers, Peer{Status: &wire.Status{Pod: fmt.Sprintf("mysql-%d", i+1), Ordinal: uint64(i + 1), Role: wire.RoleReplica,
			Credentials: &wire.CredentialStatus{ReplicationTag: r[0], ChannelTag: r[1]}}})
	}
	return pf
}

func seedKind(fc flavourCase) []ActionKind {
	if fc.flavor == sqldialect.MySQL {
		return []ActionKind{ActClone}
	}
	return []ActionKind{ActRequestSeed}
}

type situation struct {
	name string
	// setup returns the observation and memory of the situation.
	setup func(t testing.TB, fc flavourCase) (Observation, Memory)
	role  wire.Role
	// situation is the code the decision must carry (asserted first).
	situation Situation
	// now is the time of the decision, after o.At (default: o.At).
	later time.Duration
	ready bool
	// reason must appear in the verdict's reason.
	reason  string
	actions []ActionKind
	// check looks at anything else of the decision.
	check func(t *testing.T, fc flavourCase, d Decision)
	// policy changes the pod's settings; policyFor too, by flavour.
	policy    func(*Policy)
	policyFor func(*Policy, flavourCase)
	// actionsFor replaces actions when they depend on the flavour.
	actionsFor func(flavourCase) []ActionKind
}

func kinds(actions []Action) []ActionKind {
	var k []ActionKind
	for _, a := range actions {
		k = append(k, a.Kind)
	}
	return k
}

func TestDecide(t *testing.T) {
	t.Parallel()
	changeActions := []ActionKind{ActStopReplica, ActChangeSource, ActStartReplica}
	situations := []situation{
		// --- the local server --------------------------------------------
		{name: "local server down", situation: SitServerDown, role: wire.RoleReplica, reason: "local server does not answer: dial tcp: connection refused",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local = LocalFacts{Err: "dial tcp: connection refused"}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Problems["local"] == "" {
					t.Error("no problem logged for a server that is down")
				}
			}},
		{name: "unsupported server", situation: SitServerUnsupported, role: wire.RolePrimary, reason: "need MySQL 8.0",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.Unsupported = "unsupported server MySQL 5.7.44: need MySQL 8.0 or later, or MariaDB 10.5 or later"
				return o, m
			}},
		{name: "a fact could not be read", situation: SitObservationIncomplete, role: wire.RoleReplica, reason: "could not read replication status: Error 1227",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.Incomplete = "replication status: Error 1227"
				return o, m
			}},
		{name: "stuck loop: the last check is too old", situation: SitObservationStale, role: wire.RoleReplica, later: time.Minute, reason: "last check was 1m0s ago",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) { return fc.healthyReplica(t) }},
		{name: "server restarted since the last pass, seen by a probe", situation: SitServerRestarted, role: wire.RoleReplica, reason: "local server restarted since the last check",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Partial = true
				o.Local.StartedAt = t0.Add(-time.Second)
				return o, m
			}},
		{name: "server restarted since the last pass, seen by the loop", situation: SitReplicaThreadsStopped, role: wire.RoleReplica, ready: false,
			reason: "replication threads not running (IO No, SQL No)", actions: []ActionKind{ActStartReplica},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.StartedAt = t0.Add(-time.Second)
				o.Replica.Channel.IO, o.Replica.Channel.SQL, o.Replica.Channel.Lag = sqldialect.ThreadStopped, sqldialect.ThreadStopped, nil
				// An earlier failed start's back-off does not delay a restarted server.
				m.Start = Backoff{Tries: 3, Last: t0, Wait: time.Minute}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !d.Memory.ServerStartedAt.Equal(t0.Add(-time.Second)) {
					t.Errorf("memory keeps the old start time %s", d.Memory.ServerStartedAt)
				}
			}},

		// --- the primary -------------------------------------------------
		{name: "primary first start: no replication account", situation: SitPrimaryCorrectingAcct, role: wire.RolePrimary, reason: "creating the replication account",
			actions: []ActionKind{ActCreateAccount, ActGrantReplication},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, _ := fc.primary(t)
				o.Account = &AccountFacts{}
				// Its guard made it writable in the last pass.
				return o, Memory{Approved: Lineage{Known: true, Origin: fc.primaryOrigin, GTIDs: gtids(fc.flavor, fc.primarySet)}}
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !d.Memory.AccountVerified || d.Memory.AccountFP != oldFP {
					t.Errorf("memory %+v", d.Memory)
				}
			}},
		{name: "primary: account without the replication grant", situation: SitPrimaryCorrectingAcct, role: wire.RolePrimary, reason: "correcting the replication account",
			actions: []ActionKind{ActGrantReplication},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Account.Grants.Replication = false
				return o, m
			}},
		{name: "primary: account with grants beyond replication is reported", situation: SitPrimaryWritable, role: wire.RolePrimary, ready: true, reason: "primary is writable",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Account.Grants.Extra = []string{"SELECT ON *.*"}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !strings.Contains(d.Problems["grants"], "SELECT ON *.*") || d.Account == nil || len(d.Account.ExtraGrants) != 1 {
					t.Errorf("problems %v, account %+v", d.Problems, d.Account)
				}
			}},
		{name: "primary: an account we did not create is refused", situation: SitPrimaryAccountForeign, role: wire.RolePrimary,
			reason: `REPLICATION_USER "replication" names an existing account that mysql-bootstrap did not create (REPLICATION_PASSWORD does not log into it; it lacks REPLICATION SLAVE on *.*; it has other privileges: ALL PRIVILEGES ON *.*)`,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, _ := fc.primary(t)
				o.Account = &AccountFacts{Exists: true, LoginTested: true, Grants: sqldialect.Grants{Extra: []string{"ALL PRIVILEGES ON *.*"}}}
				return o, Memory{Approved: Lineage{Known: true, Origin: fc.primaryOrigin, GTIDs: gtids(fc.flavor, fc.primarySet)}}
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Problems["account"] == "" {
					t.Error("not logged")
				}
			}},
		{name: "primary: an unmarked account not yet checked is not taken", situation: SitPrimaryAccountForeign, role: wire.RolePrimary, reason: "its password was not checked yet",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Account.Marked = false
				return o, m
			}},
		{name: "primary: an unmarked account exactly like ours is adopted", situation: SitPrimaryCorrectingAcct, role: wire.RolePrimary, reason: "correcting the replication account",
			actions: []ActionKind{ActMarkAccount},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Account.Marked, o.Account.LoginTested, o.Account.PasswordWorks = false, true, true
				return o, m
			}},
		{name: "primary: password could not be checked", situation: SitPrimaryWritable, role: wire.RolePrimary, ready: true, reason: "primary is writable",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				m.AccountVerified = false
				o.Account.LoginTested, o.Account.PasswordUnknown = true, "Error 1040: Too many connections"
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Memory.AccountVerified || !strings.Contains(d.Problems["account"], "Too many connections") {
					t.Errorf("verified %v, problems %v: want it checked again and the reason logged", d.Memory.AccountVerified, d.Problems)
				}
			}},
		{name: "primary: account right, now verified", situation: SitPrimaryWritable, role: wire.RolePrimary, ready: true, reason: "primary is writable",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				m.AccountVerified = false
				o.Account.LoginTested, o.Account.PasswordWorks = true, true
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !d.Memory.AccountVerified {
					t.Error("account not remembered as verified")
				}
			}},
		{name: "primary: REQUIRE SSL added with verified TLS", situation: SitPrimaryCorrectingAcct, role: wire.RolePrimary, reason: "correcting the replication account",
			actions: []ActionKind{ActRequireSSL},
			setup:   func(t testing.TB, fc flavourCase) (Observation, Memory) { return fc.primary(t) },
			policy:  func(p *Policy) { p.TLS, p.TLSCA = true, "/tls/ca.crt" }},
		{name: "primary read-only after a restart", situation: SitPrimaryMakingWritable, role: wire.RolePrimary, reason: "primary is read-only: making it writable",
			actions: []ActionKind{ActMakeWritable},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.SuperReadOnly = true, fc.flavor == sqldialect.MySQL
				o.Local.StartedAt = t0.Add(-time.Second)
				o.Peers = fc.guardPeers(fc.primarySet, fc.behindSet)
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Memory.AccountVerified {
					t.Error("a restarted primary's account is not looked at again")
				}
			}},
		// --- SEMI_SYNC on the primary ---------------------------------------
		{name: "semi-sync: a restarted primary waits for acknowledgements before it takes writes", situation: SitPrimaryMakingWritable, role: wire.RolePrimary,
			reason: "primary is read-only: making it writable", actions: []ActionKind{ActSemiSyncSource, ActMakeWritable},
			policy: func(p *Policy) { p.SemiSync = true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.SuperReadOnly = true, fc.flavor == sqldialect.MySQL
				o.Local.StartedAt = t0.Add(-time.Second)
				o.Local.SemiSync = &SemiSyncFacts{}
				o.Account.LoginTested, o.Account.PasswordWorks = true, true
				o.Peers = fc.guardPeers(fc.primarySet, fc.behindSet)
				return o, m
			}},
		{name: "semi-sync: restarted, its account not tested in this pass but last verified with this password: source on first", situation: SitPrimaryMakingWritable, role: wire.RolePrimary,
			reason: "primary is read-only: making it writable", actions: []ActionKind{ActSemiSyncSource, ActMakeWritable},
			policy: func(p *Policy) { p.SemiSync = true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.SuperReadOnly = true, fc.flavor == sqldialect.MySQL
				o.Local.StartedAt = t0.Add(-time.Second)
				o.Local.SemiSync = &SemiSyncFacts{}
				o.Peers = fc.guardPeers(fc.primarySet, fc.behindSet)
				return o, m
			}},
		{name: "semi-sync: restarted with a new REPLICATION_PASSWORD not yet tested: writable first, so that the account can change", situation: SitPrimaryMakingWritable, role: wire.RolePrimary,
			reason: "primary is read-only: making it writable", actions: []ActionKind{ActMakeWritable},
			policy: func(p *Policy) { p.SemiSync = true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.SuperReadOnly = true, fc.flavor == sqldialect.MySQL
				o.Local.StartedAt = t0.Add(-time.Second)
				o.Local.SemiSync = &SemiSyncFacts{}
				o.Credentials.ReplicationFP = "f00d000000000002"
				o.Peers = fc.guardPeers(fc.primarySet, fc.behindSet)
				return o, m
			}},
		{name: "semi-sync: a new cluster's primary creates its account before it waits for replicas (none could log in)", situation: SitPrimaryMakingWritable, role: wire.RolePrimary,
			reason: "making it writable", actions: []ActionKind{ActMakeWritable},
			policy: func(p *Policy) { p.SemiSync = true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.GTIDs = true, gtids(fc.flavor, "")
				o.Local.SemiSync = &SemiSyncFacts{}
				o.Account = &AccountFacts{}
				o.Peers = fc.guardPeers("", "")
				return o, m
			}},
		{name: "semi-sync: a writable primary that does not wait for acknowledgements turns it on, not ready", situation: SitPrimaryEnablingSemiSync, role: wire.RolePrimary,
			reason: "does not wait for a replica's acknowledgement yet", actions: []ActionKind{ActSemiSyncSource},
			policy: func(p *Policy) { p.SemiSync = true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.SemiSync = &SemiSyncFacts{Replica: true}
				return o, m
			}},
		{name: "semi-sync: the account is created first, semi-sync after it", situation: SitPrimaryCorrectingAcct, role: wire.RolePrimary,
			reason: "creating the replication account", actions: []ActionKind{ActCreateAccount, ActGrantReplication},
			policy: func(p *Policy) { p.SemiSync = true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, _ := fc.primary(t)
				o.Account = &AccountFacts{}
				o.Local.SemiSync = &SemiSyncFacts{}
				return o, Memory{Approved: Lineage{Known: true, Origin: fc.primaryOrigin, GTIDs: gtids(fc.flavor, fc.primarySet)}}
			}},
		{name: "semi-sync: a primary that waits for acknowledgements is ready", situation: SitPrimaryWritable, role: wire.RolePrimary, ready: true,
			reason: "primary is writable",
			policy: func(p *Policy) { p.SemiSync = true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.SemiSync = &SemiSyncFacts{Source: true}
				return o, m
			}},
		{name: "semi-sync off (the default): a primary's semi-sync state is not looked at", situation: SitPrimaryWritable, role: wire.RolePrimary, ready: true,
			reason: "primary is writable",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.SemiSync = &SemiSyncFacts{Replica: true}
				return o, m
			}},
		// --- SEMI_SYNC on a replica -----------------------------------------
		{name: "semi-sync: a replicating replica turns the replica side on and reconnects its receiver", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true,
			reason: "replicating from", actions: []ActionKind{ActSemiSyncReplica, ActRestartReceiver},
			policy: func(p *Policy) { p.SemiSync = true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.SemiSync = &SemiSyncFacts{}
				return o, m
			}},
		{name: "semi-sync: a restarted replica turns the replica side on before it starts replicating", situation: SitReplicaThreadsStopped, role: wire.RoleReplica,
			reason: "replication threads not running", actions: []ActionKind{ActSemiSyncReplica, ActStartReplica},
			policy: func(p *Policy) { p.SemiSync = true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.StartedAt = t0.Add(-time.Second)
				o.Replica.Channel.IO, o.Replica.Channel.SQL, o.Replica.Channel.Lag = sqldialect.ThreadStopped, sqldialect.ThreadStopped, nil
				o.Local.SemiSync = &SemiSyncFacts{}
				return o, m
			}},
		{name: "semi-sync: a replica with the replica side on needs nothing", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true,
			reason: "replicating from",
			policy: func(p *Policy) { p.SemiSync = true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.SemiSync = &SemiSyncFacts{Replica: true}
				return o, m
			}},
		{name: "semi-sync off (the default): a replica's semi-sync state is not looked at", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true,
			reason: "replicating from",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.SemiSync = &SemiSyncFacts{Source: true}
				return o, m
			}},
		// --- the primary's guard -------------------------------------------
		{name: "guard: a brand-new cluster takes writes at once", situation: SitPrimaryMakingWritable, role: wire.RolePrimary, reason: "making it writable",
			actions: []ActionKind{ActMakeWritable},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.GTIDs = true, gtids(fc.flavor, "")
				o.Peers = fc.guardPeers("", "")
				return o, m
			}},
		{name: "guard: the Service does not exist (NXDOMAIN), nobody remembered: nobody to wait for", situation: SitPrimaryMakingWritable, role: wire.RolePrimary, reason: "making it writable",
			actions: []ActionKind{ActMakeWritable},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, m.Lineage = true, Lineage{}
				o.Peers = &PeerFacts{Err: "NXDOMAIN", Absent: true}
				return o, m
			}},
		{name: "guard: the Service cannot be looked up (SERVFAIL, a timeout): waited for, not taken for no peers", situation: SitPrimaryWaitingForPeers, role: wire.RolePrimary,
			reason: "cannot list the other pods (resolve the Service mysql.default.svc.cluster.local.: SERVFAIL from 10.96.0.10:53): not taking writes until they can be asked",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.GTIDs, m.Lineage = true, gtids(fc.flavor, ""), Lineage{}
				o.Peers = &PeerFacts{Err: "resolve the Service mysql.default.svc.cluster.local.: SERVFAIL from 10.96.0.10:53"}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Problems["guard"] == "" {
					t.Errorf("problems %v", d.Problems)
				}
			}},
		{name: "guard: a remembered peer the Service does not list (Pending) is waited for", situation: SitPrimaryWaitingForPeers, role: wire.RolePrimary,
			reason: "not taking writes until mysql-3 (seen before, no answer from it now) answer",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.GTIDs, m.Lineage = true, gtids(fc.flavor, ""), Lineage{}
				o.Peers = fc.guardPeers("", "")
				o.Peers.Memory = PeerMemory{Seen: map[string]time.Time{"mysql-1": t0, "mysql-3": t0.Add(-time.Hour)}}
				return o, m
			}},
		{name: "guard: a peer an answering peer remembers is waited for, though this pod forgot everything", situation: SitPrimaryWaitingForPeers, role: wire.RolePrimary,
			reason: "not taking writes until mysql-3 (seen before, no answer from it now) answer",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.GTIDs, m.Lineage = true, gtids(fc.flavor, ""), Lineage{}
				o.Peers = fc.guardPeers(fc.primarySet)
				o.Peers.Peers[1].Status.KnownPeers = []string{"mysql-0", "mysql-3"}
				return o, m
			}},
		{name: "guard: the Service does not exist but peers are remembered: waited for", situation: SitPrimaryWaitingForPeers, role: wire.RolePrimary,
			reason: "not taking writes until mysql-1 (seen before, no answer from it now), mysql-2 (seen before, no answer from it now) answer",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, m.Lineage = true, Lineage{}
				o.Peers = &PeerFacts{Err: "NXDOMAIN", Absent: true, Memory: PeerMemory{Seen: map[string]time.Time{"mysql-1": t0, "mysql-2": t0}}}
				return o, m
			}},
		{name: "guard: this pod's former address, still listed by the Service's cached records, is not a silent peer", situation: SitPrimaryMakingWritable, role: wire.RolePrimary,
			reason: "making it writable", actions: []ActionKind{ActMakeWritable},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, m.Lineage = true, Lineage{}
				o.Peers = fc.guardPeers("", "")
				old := netip.MustParseAddr("10.244.0.3")
				o.Peers.Peers = append(o.Peers.Peers, Peer{Addr: old, Err: "connect: no route to host"})
				o.Peers.Memory = PeerMemory{Seen: map[string]time.Time{"mysql-1": t0, "mysql-2": t0},
					Own: map[string]time.Time{"10.244.0.3": t0.Add(-time.Minute), "10.244.0.9": t0}}
				return o, m
			}},
		{name: "guard: a silent address that was never this pod's is waited for", situation: SitPrimaryWaitingForPeers, role: wire.RolePrimary,
			reason: "not taking writes until 10.244.0.7 answer",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, m.Lineage = true, Lineage{}
				o.Peers = fc.guardPeers("", "")
				o.Peers.Peers = append(o.Peers.Peers, Peer{Addr: netip.MustParseAddr("10.244.0.7"), Err: "connect: no route to host"})
				o.Peers.Memory = PeerMemory{Own: map[string]time.Time{"10.244.0.3": t0}}
				return o, m
			}},
		{name: "guard: a forgotten peer is not waited for", situation: SitPrimaryMakingWritable, role: wire.RolePrimary, reason: "making it writable", actions: []ActionKind{ActMakeWritable},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, m.Lineage = true, Lineage{}
				o.Peers = fc.guardPeers("")
				o.Peers.Peers[1].Status.KnownPeers = []string{"mysql-3"}
				o.Peers.Memory = PeerMemory{Seen: map[string]time.Time{"mysql-1": t0}, Forgotten: map[string]time.Time{"mysql-3": t0.Add(-time.Minute)}}
				return o, m
			}},
		{name: "guard: a replica in the middle of a seed is neither waited for nor copied from", situation: SitPrimaryRecovering, role: wire.RolePrimary,
			reason:     "recovering from mysql-2 before taking writes",
			actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.GTIDs, m.Lineage = true, gtids(fc.flavor, ""), Lineage{}
				o.Peers = fc.guardPeers(fc.primaryMore, fc.primarySet)
				// mysql-1's status shows a seed under way (its GTIDs are
				// the copy's, not yet complete) and its server down.
				o.Peers.Peers[1].Status.Seed = &wire.SeedStatus{State: "running", Donor: "mysql-2"}
				o.Peers.Peers[1].Status.ServerUp = false
				return o, m
			}},
		// --- a primary whose data is provably what it took writes with ------
		{name: "guard: intact lineage: a restart takes writes without waiting for a silent peer", situation: SitPrimaryMakingWritable, role: wire.RolePrimary,
			reason: "making it writable", actions: []ActionKind{ActMakeWritable},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.GTIDs = true, gtids(fc.flavor, fc.primaryMore)
				o.Peers = fc.guardPeers(fc.primarySet)
				o.Peers.Peers = append(o.Peers.Peers, Peer{Addr: netip.MustParseAddr("10.0.0.9"), Err: "connection refused"})
				o.Peers.Memory = PeerMemory{Seen: map[string]time.Time{"mysql-3": t0}}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !strings.Contains(d.Problems["guard"], "taking writes without 10.0.0.9, mysql-3") || !d.Memory.Approved.Known {
					t.Errorf("problems %v memory %+v", d.Problems, d.Memory)
				}
			}},
		{name: "guard: intact lineage: the Service lookup failing is no reason to wait", situation: SitPrimaryMakingWritable, role: wire.RolePrimary,
			reason: "making it writable", actions: []ActionKind{ActMakeWritable},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly = true
				o.Peers = &PeerFacts{Err: "SERVFAIL"}
				return o, m
			}},
		{name: "guard: intact lineage, but an answering peer holds more: it recovers from it, and its record is dropped", situation: SitPrimaryRecovering, role: wire.RolePrimary,
			reason: "recovering from mysql-1", actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly = true
				o.Peers = fc.guardPeers(fc.primaryMore)
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				// Its data is an older copy: should the copy fail while
				// every peer is away, it must wait for them.
				if d.Memory.Lineage.Known {
					t.Errorf("lineage %+v kept after peers proved to hold more", d.Memory.Lineage)
				}
			}},
		{name: "guard: another identity than the one that took writes (a new data directory): silent peers are waited for", situation: SitPrimaryWaitingForPeers, role: wire.RolePrimary,
			reason: "not taking writes until 10.0.0.9 answer",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly = true
				o.Local.Origin, o.Local.GTIDs = fc.firstStart()
				o.Peers = fc.guardPeers()
				o.Peers.Peers = append(o.Peers.Peers, Peer{Addr: netip.MustParseAddr("10.0.0.9"), Err: "connection refused"})
				return o, m
			}},
		{name: "guard: fewer transactions than it took writes with (an older copy): silent peers are waited for", situation: SitPrimaryWaitingForPeers, role: wire.RolePrimary,
			reason: "not taking writes until 10.0.0.9 answer",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.GTIDs = true, gtids(fc.flavor, fc.behindSet)
				o.Peers = fc.guardPeers()
				o.Peers.Peers = append(o.Peers.Peers, Peer{Addr: netip.MustParseAddr("10.0.0.9"), Err: "connection refused"})
				return o, m
			}},
		{name: "writable with data this sidecar cannot prove its own, a peer silent: read-only again", situation: SitPrimaryWaitingForPeers, role: wire.RolePrimary,
			reason:  "primary is writable with data it cannot prove its own: making it read-only until its guard passes; not taking writes until 10.0.0.9 answer",
			actions: []ActionKind{ActMakeReadOnly},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				m.Lineage = Lineage{}
				o.Peers = fc.guardPeers()
				o.Peers.Peers = append(o.Peers.Peers, Peer{Addr: netip.MustParseAddr("10.0.0.9"), Err: "connection refused"})
				return o, m
			}},
		{name: "writable with data this sidecar cannot prove its own, every peer answers and none holds more: kept, lineage recorded", situation: SitPrimaryWritable, role: wire.RolePrimary,
			ready: true, reason: "primary is writable",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				m.Lineage = Lineage{}
				o.Peers = fc.guardPeers(fc.behindSet)
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !d.Memory.Lineage.Known || d.Memory.Lineage.Origin != fc.primaryOrigin || !d.Memory.Lineage.GTIDs.Equal(gtids(fc.flavor, fc.primarySet)) {
					t.Errorf("lineage %+v", d.Memory.Lineage)
				}
			}},
		{name: "made writable by its guard in the last pass: the approval stands for its lineage", situation: SitPrimaryWritable, role: wire.RolePrimary,
			ready: true, reason: "primary is writable",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				m.Lineage, m.Approved = Lineage{}, Lineage{Known: true, Origin: fc.primaryOrigin, GTIDs: gtids(fc.flavor, fc.behindSet)}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !d.Memory.Lineage.Known || d.Memory.Approved.Known {
					t.Errorf("memory %+v", d.Memory)
				}
			}},
		{name: "guard: peers not looked at yet", situation: SitPrimaryLookingAtPeers, role: wire.RolePrimary, reason: "looking at the other pods before taking writes",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly = true
				return o, m
			}},
		{name: "guard: an empty primary recovers from the peer holding most", situation: SitPrimaryRecovering, role: wire.RolePrimary,
			reason:     "recovering from mysql-1 before taking writes: this pod lacks transactions peers hold: mysql-1 (10), mysql-2 (4); mysql-1 holds every pod's",
			actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.GTIDs = true, gtids(fc.flavor, "")
				o.Peers = fc.guardPeers(fc.primarySet, fc.behindSet)
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Actions[0].Donor != (Donor{Pod: "mysql-1", Host: "mysql-1.x"}) || d.Problems["guard"] == "" || d.Guard != wire.GuardRecovering {
					t.Errorf("donor %+v, problems %v, guard %q", d.Actions[0].Donor, d.Problems, d.Guard)
				}
			}},
		{name: "guard: of two peers holding every pod's transactions, the one without its own is copied", situation: SitPrimaryRecovering, role: wire.RolePrimary,
			reason:     "recovering from mysql-2 before taking writes",
			actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.GTIDs = true, gtids(fc.flavor, "")
				o.Peers = fc.guardPeers(fc.primarySet, fc.primarySet)
				// mysql-2 holds nothing of its own (as a replica that
				// replicated from the start does).
				o.Peers.Peers[2].Status.GTIDExecuted = fc.primarySet
				return o, m
			}},
		{name: "guard: an emptied primary whose first start logged its own transactions recovers", situation: SitPrimaryRecovering, role: wire.RolePrimary,
			reason: "recovering from mysql-1 before taking writes: this pod lacks transactions peers hold", actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.UserTablesRead = true, true
				o.Local.Origin, o.Local.GTIDs = fc.firstStart()
				o.Peers = fc.guardPeers(fc.primarySet, fc.behindSet)
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !strings.Contains(d.Reason, "are only its first start's") {
					t.Errorf("reason %q", d.Reason)
				}
			}},
		{name: "guard: own transactions with tables of its own are weighed: the pods disagree", situation: SitPrimaryWaitingForPerson, role: wire.RolePrimary,
			reason: "the pods disagree and none holds every transaction: this pod alone holds",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.UserTablesRead, o.Local.UserTables = true, true, []string{"app.orders"}
				o.Local.Origin, o.Local.GTIDs = fc.firstStart()
				o.Peers = fc.guardPeers(fc.primarySet, fc.behindSet)
				return o, m
			}},
		{name: "guard: a primary restored from an old copy recovers too", situation: SitPrimaryRecovering, role: wire.RolePrimary, reason: "recovering from mysql-2",
			actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.GTIDs = true, gtids(fc.flavor, fc.behindSet)
				o.Peers = fc.guardPeers(fc.behindSet, fc.primaryMore)
				return o, m
			}},
		{name: "guard: a peer that does not answer is waited for", situation: SitPrimaryWaitingForPeers, role: wire.RolePrimary,
			reason: "not taking writes until 10.0.0.9 answer: they may hold transactions this pod lacks; to take writes without them",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, m.Lineage = true, Lineage{} // its lineage unknown (a new volume)
				o.Peers = fc.guardPeers(fc.behindSet)
				o.Peers.Peers = append(o.Peers.Peers, Peer{Addr: netip.MustParseAddr("10.0.0.9"), Err: "connection refused"})
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Guard != wire.GuardWaitingForPeers {
					t.Errorf("guard %q, want %q", d.Guard, wire.GuardWaitingForPeers)
				}
			}},
		{name: "guard: pods that disagree are left alone for a person", situation: SitPrimaryWaitingForPerson, role: wire.RolePrimary,
			reason: "the pods disagree and none holds every transaction",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly = true
				other := otherUUID + ":7"
				if fc.flavor == sqldialect.MariaDB {
					other = "1-100-7"
				}
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet).Union(gtids(fc.flavor, other))
				o.Peers = fc.guardPeers(fc.primarySet)
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !strings.Contains(d.Reason, "this pod alone holds") || !strings.Contains(d.Reason, "primary-override --use-own-data, or --seed-from mysql-1") {
					t.Errorf("reason %q", d.Reason)
				}
				if d.Guard != wire.GuardWaitingForPerson {
					t.Errorf("guard %q, want %q", d.Guard, wire.GuardWaitingForPerson)
				}
			}},
		{name: "guard: a person chose this pod's own data", situation: SitPrimaryMakingWritable, role: wire.RolePrimary, reason: "making it writable",
			actions: []ActionKind{ActConsumeOverride, ActMakeWritable},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.GTIDs = true, gtids(fc.flavor, "")
				o.Peers = fc.guardPeers(fc.primarySet)
				o.Override = &Override{Action: OverrideOwnData, Created: t0}
				return o, m
			}},
		{name: "guard: a person chose the peer to seed from", situation: SitPrimaryRecovering, role: wire.RolePrimary, reason: "recovering from mysql-2",
			actionsFor: func(fc flavourCase) []ActionKind { return append([]ActionKind{ActConsumeOverride}, seedKind(fc)...) },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly = true
				o.Peers = fc.guardPeers(fc.primarySet, fc.behindSet)
				o.Override = &Override{Action: OverrideSeedFrom, From: "mysql-2", Created: t0}
				return o, m
			}},
		{name: "guard: the chosen peer does not answer", situation: SitPrimaryWaitingForPeers, role: wire.RolePrimary, reason: "a person chose to seed this pod from mysql-7, which does not answer",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly = true
				o.Peers = fc.guardPeers(fc.primarySet)
				o.Override = &Override{Action: OverrideSeedFrom, From: "mysql-7", Created: t0}
				return o, m
			}},
		{name: "guard: an unreadable override is reported and ignored", situation: SitPrimaryMakingWritable, role: wire.RolePrimary, reason: "making it writable",
			actions: []ActionKind{ActMakeWritable},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly = true
				o.Peers = fc.guardPeers(fc.behindSet)
				o.Override = &Override{Err: "read override.json: unexpected end of JSON input"}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Problems["override"] == "" {
					t.Errorf("problems %v", d.Problems)
				}
			}},
		{name: "guard: a recovery backed off after a failure", situation: SitPrimaryRecovering, role: wire.RolePrimary, reason: "the last seed from mysql-1 failed, next attempt",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, o.Local.GTIDs = true, gtids(fc.flavor, "")
				o.Peers = fc.guardPeers(fc.primarySet)
				m.SeedDonor, m.Seed = "mysql-1", Backoff{Tries: 1, Last: t0, Wait: 30 * time.Second}
				return o, m
			}},
		{name: "guard: a peer whose server is down is waited for", situation: SitPrimaryWaitingForPeers, role: wire.RolePrimary, reason: "mysql-1 (its server does not answer)",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.ReadOnly, m.Lineage = true, Lineage{}
				o.Peers = fc.guardPeers(fc.primarySet)
				o.Peers.Peers[1].Status.ServerUp = false
				return o, m
			}},

		// --- a clone's guard (offline_mode, read-only lifted) -------------
		{name: "clone guard left up by a sidecar that died mid-clone: read-only first, not ready", situation: SitCloneGuardUp, role: wire.RolePrimary,
			reason: "ending the guard of a clone from mysql-1", actions: []ActionKind{ActEndClone},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.OfflineMode = fc.flavor == sqldialect.MySQL
				o.Seed = SeedFacts{Guarded: true, Donor: "mysql-1"}
				return o, m
			}},
		{name: "clone guard left up on a replica: read-only first, not ready", situation: SitCloneGuardUp, role: wire.RoleReplica,
			reason: "ending the guard of a clone from mysql-2", actions: []ActionKind{ActEndClone},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.ReadOnly, o.Local.SuperReadOnly, o.Local.OfflineMode = false, false, fc.flavor == sqldialect.MySQL
				o.Seed = SeedFacts{Guarded: true, Donor: "mysql-2"}
				return o, m
			}},
		{name: "offline_mode ON on a writable primary: not ready, nothing touched", situation: SitOfflineMode, role: wire.RolePrimary,
			reason: "offline_mode is ON",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Local.OfflineMode = true
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Problems["offline"] == "" {
					t.Errorf("problems %v", d.Problems)
				}
			}},
		{name: "offline_mode ON, seen by a probe: not ready", situation: SitOfflineMode, role: wire.RoleReplica, reason: "offline_mode is ON",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Partial, o.Local.OfflineMode = true, true
				return o, m
			}},

		{name: "primary writable", situation: SitPrimaryWritable, role: wire.RolePrimary, ready: true, reason: "primary is writable",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) { return fc.primary(t) }},
		{name: "primary: a secret file that cannot be read again is reported", situation: SitPrimaryWritable, role: wire.RolePrimary, ready: true, reason: "primary is writable",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Credentials.Problems = map[string]string{"REPLICATION_PASSWORD": "REPLICATION_PASSWORD_FILE=\"/x\" cannot be read"}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Problems["secret REPLICATION_PASSWORD"] == "" {
					t.Errorf("problems %v", d.Problems)
				}
			}},

		// --- a replica's own state ----------------------------------------
		{name: "replica writable", situation: SitReplicaMakingReadOnly, role: wire.RoleReplica, reason: "replica is writable: making it read-only",
			actions: []ActionKind{ActMakeReadOnly},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.ReadOnly, o.Local.SuperReadOnly = false, false
				return o, m
			}},
		{name: "replica without observed replication state", situation: SitReplicaNotObserved, role: wire.RoleReplica, reason: "replication state not observed yet",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica = nil
				return o, m
			}},
		{name: "new replica: not configured", situation: SitReplicaNotConfigured, role: wire.RoleReplica, reason: "replication is not configured yet",
			actions: []ActionKind{ActChangeSource, ActStartReplica},
			setup:   func(t testing.TB, fc flavourCase) (Observation, Memory) { return fc.newReplica(t) },
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Memory.Changes != 1 || d.Memory.Restarts != 1 || d.Memory.Change.Tries != 0 {
					t.Errorf("memory %+v: want 1 change, 1 restart, no back-off for a first CHANGE", d.Memory)
				}
			}},
		{name: "new replica: only its first start's transactions are removed", situation: SitReplicaResettingFirst, role: wire.RoleReplica,
			reason: "removing the GTIDs of this replica's first start", actions: []ActionKind{ActResetBinaryLogs},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.localWrite)
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Memory.Resets != 1 || d.Memory.Cleaned != gtids(fc.flavor, fc.localWrite).String() {
					t.Errorf("memory %+v", d.Memory)
				}
			}},
		{name: "new replica: first start's transactions removed even while the primary is down", situation: SitReplicaResettingFirst, role: wire.RoleReplica,
			reason: "removing the GTIDs", actions: []ActionKind{ActResetBinaryLogs},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.localWrite)
				o.Replica.Source = SourceFacts{Err: "dial tcp: no such host"}
				return o, m
			}},
		{name: "new replica whose first start created accounts: seeded, not replayed", situation: SitReplicaSeedStarting, role: wire.RoleReplica,
			reason: "seeding from mysql-0: the replica never replicated and its first start created accounts (app@%)", actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.localWrite)
				o.Replica.Accounts = []string{"app@%"}
				return o, m
			}},
		{name: "new replica with tables of its own is never reset", situation: SitReplicaOwnData, role: wire.RoleReplica,
			reason: "never replicated but holds data of its own the primary lacks",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.localWrite)
				o.Replica.UserTables = []string{"app.orders"}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !strings.Contains(d.Reason, "app.orders") || d.Problems["own-data"] == "" {
					t.Errorf("reason %q, problems %v: want the tables named and logged", d.Reason, d.Problems)
				}
			}},
		{name: "new replica with another server's transactions is never reset", situation: SitReplicaOwnData, role: wire.RoleReplica,
			reason: "holds data of its own",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				if fc.flavor == sqldialect.MySQL {
					o.Local.GTIDs = gtids(fc.flavor, otherUUID+":1-3")
				} else {
					o.Local.GTIDs = gtids(fc.flavor, "0-999-3")
				}
				return o, m
			}},
		{name: "new replica with foreign transactions waits for the primary", situation: SitReplicaSourceUnknown, role: wire.RoleReplica,
			reason: "waiting to compare this replica's transactions",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet)
				o.Replica.Source = SourceFacts{Err: "i/o timeout"}
				return o, m
			}},
		{name: "replica reset by hand, holding the primary's transactions, is pointed at it", situation: SitReplicaNotConfigured, role: wire.RoleReplica,
			reason: "replication is not configured yet", actionsFor: adoptThenChange,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet)
				return o, m
			}},
		// --- the primary can move (PRIMARY=kubernetes) ---------------------
		{name: "former primary, its writes all on the new primary, replicates from it", situation: SitReplicaNotConfigured, role: wire.RoleReplica,
			reason: "replication is not configured yet", actionsFor: adoptThenChange,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				// Its own writes, as the primary it was: the new primary
				// applied them all before it took the Lease.
				o.Local.Origin = fc.primaryOrigin
				o.Local.GTIDs = gtids(fc.flavor, fc.primarySet)
				o.Replica.Source.GTIDs = gtids(fc.flavor, fc.primaryMore)
				return o, m
			}},
		{name: "former primary with a tail the new primary lacks is not pointed at it", situation: SitReplicaOwnData, role: wire.RoleReplica,
			reason: "holds data of its own the primary lacks",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Local.Origin = fc.primaryOrigin
				o.Local.GTIDs = gtids(fc.flavor, fc.primarySet)
				o.Replica.UserTables = []string{"app.orders"}
				o.Replica.Source.GTIDs = gtids(fc.flavor, fc.behindSet)
				return o, m
			}},
		{name: "holder past its read-only deadline turns read-only", situation: SitFenced, role: wire.RolePrimary,
			reason: "not taking writes: the Lease was last renewed 7s ago", actions: []ActionKind{ActMakeReadOnly},
			policy: func(p *Policy) { p.Fence = "the Lease was last renewed 7s ago, past its read-only deadline 6s" },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				return fc.primary(t)
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Problems["fence"] == "" {
					t.Error("no problem logged for a fenced primary")
				}
			}},
		{name: "fenced pod already read-only stays so and not ready", situation: SitFenced, role: wire.RoleReplica,
			reason: "not taking writes: the Lease mysql has not been read yet",
			policy: func(p *Policy) { p.Fence, p.PrimaryHost = "the Lease mysql has not been read yet", "" },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				return fc.newReplica(t)
			}},
		{name: "new primary still applying what its channel received", situation: SitPrimaryApplyingRelay, role: wire.RolePrimary,
			reason: "applying what its replication channel received",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, _ := fc.primary(t)
				o.Local.ReadOnly, o.Local.SuperReadOnly = true, fc.flavor == sqldialect.MySQL
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet)
				o.PrimaryChannel = &sqldialect.ReplicaStatus{Configured: true, SourceHost: testPrimary, IO: sqldialect.ThreadRunning,
					SQL: sqldialect.ThreadRunning, RetrievedGTIDSet: fc.primarySet}
				return o, Memory{}
			}},
		{name: "new primary that applied everything ends its channel", situation: SitPrimaryEndingReplication, role: wire.RolePrimary,
			reason: "ending the replication channel", actions: []ActionKind{ActStopReplica, ActResetReplica},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, _ := fc.primary(t)
				o.Local.ReadOnly, o.Local.SuperReadOnly = true, fc.flavor == sqldialect.MySQL
				o.PrimaryChannel = &sqldialect.ReplicaStatus{Configured: true, SourceHost: testPrimary, IO: sqldialect.ThreadRunning,
					SQL: sqldialect.ThreadRunning, RetrievedGTIDSet: fc.primarySet}
				return o, Memory{}
			}},
		{name: "new primary with a stopped channel removes it", situation: SitPrimaryEndingReplication, role: wire.RolePrimary,
			reason: "ending the replication channel", actions: []ActionKind{ActResetReplica},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, _ := fc.primary(t)
				o.Local.ReadOnly, o.Local.SuperReadOnly = true, fc.flavor == sqldialect.MySQL
				o.PrimaryChannel = &sqldialect.ReplicaStatus{Configured: true, SourceHost: testPrimary, IO: sqldialect.ThreadStopped, SQL: sqldialect.ThreadStopped}
				return o, Memory{}
			}},

		{name: "new primary by failover lacking what it held then (a restart dropped its relay log) takes no writes", situation: SitPrimaryLacksFailoverSet, role: wire.RolePrimary,
			reason: "took the Lease by a failover holding",
			policyFor: func(p *Policy, fc flavourCase) {
				p.FailedOverFrom, p.FailedOverReceived, p.PrimaryMoves = "mysql-0", fc.primarySet, true
			},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, _ := fc.primary(t)
				o.Local.ReadOnly, o.Local.SuperReadOnly = true, fc.flavor == sqldialect.MySQL
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet)
				return o, Memory{}
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if len(d.Actions) != 0 || d.Problems["failover"] == "" {
					t.Errorf("actions %v, problems %v: want none, and the problem named", d.Actions, d.Problems)
				}
			}},
		{name: "new primary whose applier stopped with its relay log unapplied starts it", situation: SitPrimaryApplyingRelay, role: wire.RolePrimary,
			reason: "applying what its replication channel received", actions: []ActionKind{ActStartApplier},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, _ := fc.primary(t)
				o.Local.ReadOnly, o.Local.SuperReadOnly = true, fc.flavor == sqldialect.MySQL
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet)
				o.PrimaryChannel = &sqldialect.ReplicaStatus{Configured: true, SourceHost: testPrimary, IO: sqldialect.ThreadStopped,
					SQL: sqldialect.ThreadStopped, RetrievedGTIDSet: fc.primarySet}
				return o, Memory{}
			}},
		{name: "new primary whose applier failed keeps its relay log and takes no writes", situation: SitPrimaryApplyingRelay, role: wire.RolePrimary,
			reason: "its applier stopped on an error",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, _ := fc.primary(t)
				o.Local.ReadOnly, o.Local.SuperReadOnly = true, fc.flavor == sqldialect.MySQL
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet)
				o.PrimaryChannel = &sqldialect.ReplicaStatus{Configured: true, SourceHost: testPrimary, IO: sqldialect.ThreadStopped,
					SQL: sqldialect.ThreadStopped, RetrievedGTIDSet: fc.primarySet, LastSQLErrno: 1062, LastSQLError: "Duplicate entry"}
				return o, Memory{}
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if len(d.Actions) != 0 || d.Problems["relay-log"] == "" {
					t.Errorf("actions %v, problems %v: want none, and the relay log kept", d.Actions, d.Problems)
				}
			}},
		{name: "former primary still a semi-sync source ends its sessions first", situation: SitReplicaEndingSemiSyncSource, role: wire.RoleReplica,
			reason: "still a semi-sync source", actions: []ActionKind{ActEndSemiSyncSource},
			policy: func(p *Policy) { p.SemiSync = true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.ReadOnly, o.Local.SuperReadOnly = false, false
				o.Local.SemiSync = &SemiSyncFacts{Source: true}
				return o, m
			}},
		{name: "former primary left in offline_mode midway ends its semi-sync source side anyway", situation: SitReplicaEndingSemiSyncSource, role: wire.RoleReplica,
			reason: "still a semi-sync source", actions: []ActionKind{ActEndSemiSyncSource},
			policy: func(p *Policy) { p.SemiSync = true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.OfflineMode = true
				o.Local.SemiSync = &SemiSyncFacts{Source: true}
				return o, m
			}},
		{name: "primary's Lease expired: the receiver stops", situation: SitReplicaHoldingForFailover, role: wire.RoleReplica,
			reason: "read-only deadline (FAILOVER=auto): stopping the receiver", actions: []ActionKind{ActStopReceiver},
			policy: func(p *Policy) { p.Hold, p.SemiSync = "mysql-0", true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				return fc.healthyReplica(t)
			}},
		{name: "primary's Lease expired, receiver stopped: nothing restarts it", situation: SitReplicaHoldingForFailover, role: wire.RoleReplica,
			reason: "the receiver is stopped",
			policy: func(p *Policy) { p.Hold = "mysql-0" },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica.Channel.IO, o.Replica.Channel.Lag = sqldialect.ThreadStopped, nil
				o.Replica.Source = SourceFacts{Err: "dial tcp: i/o timeout"}
				o.Local.GTIDs = gtids(fc.flavor, fc.primarySet).Union(gtids(fc.flavor, fc.localWrite))
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if len(d.Actions) != 0 || d.Replica == nil || d.Replica.Errant != gtids(fc.flavor, fc.localWrite).String() {
					t.Errorf("actions %v, replica %+v: want none, and its own write as errant", d.Actions, d.Replica)
				}
			}},
		{name: "former primary after a failover: its unacknowledged tail is replaced by a copy", situation: SitReplicaDiscardingTail, role: wire.RoleReplica,
			reason: "which no replica acknowledged (SEMI_SYNC)", actionsFor: seedKind,
			policy: func(p *Policy) { p.DiscardTail, p.PrimaryMoves = true, true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.primarySet).Union(gtids(fc.flavor, fc.localWrite))
				o.Replica.Channel = sqldialect.ReplicaStatus{}
				o.Replica.Source.StatusKnown, o.Replica.Source.Writable = true, true
				o.Peers = &PeerFacts{Peers: Peers{
					{Status: &wire.Status{Pod: "mysql-2", Role: wire.RolePrimary, Ready: true, PodHost: testPrimary, GTIDExecuted: fc.primarySet}},
				}}
				m.DemotedWith = o.Local.GTIDs
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !strings.Contains(d.Problems["unacknowledged-tail"], gtids(fc.flavor, fc.localWrite).String()) {
					t.Errorf("problems %v: want the discarded GTIDs named", d.Problems)
				}
			}},
		{name: "former primary without a failover record keeps its own transactions", situation: SitReplicaOwnData, role: wire.RoleReplica,
			reason: "holds data of its own the primary lacks",
			policy: func(p *Policy) { p.PrimaryMoves = true },
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.primarySet).Union(gtids(fc.flavor, fc.localWrite))
				o.Replica.Channel = sqldialect.ReplicaStatus{}
				o.Replica.UserTables = []string{"app.t"}
				return o, m
			}},

		// --- the channel ---------------------------------------------------
		{name: "replica pointing elsewhere", situation: SitReplicaWrongSource, role: wire.RoleReplica, reason: "replication points at old-primary:3306",
			actions: changeActions,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica.Channel.SourceHost = "old-primary"
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet)
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Memory.CaughtUp || d.Memory.Snapshot.String() != gtids(fc.flavor, fc.primarySet).String() {
					t.Errorf("another source's data must be caught up with again from a new snapshot: %+v", d.Memory)
				}
			}},
		{name: "replica with the wrong user", situation: SitReplicaWrongSource, role: wire.RoleReplica, reason: `as "root"`, actions: changeActions,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica.Channel.SourceUser = "root"
				return o, m
			}},
		{name: "replica without GTID auto-positioning", situation: SitReplicaWrongSource, role: wire.RoleReplica, reason: "with GTID auto-positioning", actions: changeActions,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica.Channel.AutoPosition = false
				return o, m
			}},
		{name: "IO access denied: CHANGE with this pod's password", situation: SitReplicaServingStaleOK, role: wire.RoleReplica, ready: true,
			reason: "the primary refuses this replica's replication login", actions: changeActions,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				ch := &o.Replica.Channel
				ch.IO, ch.Lag, ch.LastIOErrno, ch.LastIOError = sqldialect.ThreadConnecting, nil, 1045, "Access denied for user 'replication'"
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Memory.Change.Tries != 1 || !d.Memory.CaughtUp {
					t.Errorf("memory %+v: want one paced try, still caught up (same data, new password)", d.Memory)
				}
			}},
		{name: "IO refused again right after a CHANGE: no CHANGE storm", situation: SitReplicaServingStaleOK, role: wire.RoleReplica, ready: true,
			reason: "CHANGE tried 3 time(s) without fixing it, next at 12:00:15",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				ch := &o.Replica.Channel
				ch.IO, ch.Lag, ch.LastIOErrno, ch.LastIOError = sqldialect.ThreadConnecting, nil, 2061, "Authentication requires secure connection"
				m.Change = Backoff{Tries: 3, Last: t0.Add(-5 * time.Second), Wait: 20 * time.Second}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !strings.Contains(d.Reason, "REPLICATION_PASSWORD") || d.Replica.ChangeTries != 3 || d.Problems["channel"] == "" {
					t.Errorf("reason %q, view %+v: want what to fix and the tries", d.Reason, d.Replica)
				}
			}},
		{name: "a CHANGE that worked clears its back-off", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true, reason: "replicating from",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				m.Change = Backoff{Tries: 2, Last: t0, Wait: 10 * time.Second}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Memory.Change.Tries != 0 {
					t.Errorf("back-off kept: %+v", d.Memory.Change)
				}
			}},
		{name: "IO connecting: the primary is restarting", situation: SitReplicaServingStaleOK, role: wire.RoleReplica, ready: true,
			reason: "serving data at most 9s old (MAX_REPLICATION_LAG 30s) while replication is reconnecting to " + testPrimary,
			later:  4 * time.Second,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				ch := &o.Replica.Channel
				ch.IO, ch.Lag, ch.LastIOErrno, ch.LastIOError = sqldialect.ThreadConnecting, nil, 2003, "Can't connect to MySQL server"
				o.Replica.Source = SourceFacts{Err: "dial tcp 10.0.0.5:3306: connect: connection refused"}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Replica.Staleness == nil || *d.Replica.Staleness != 9*time.Second || d.Problems["source"] == "" || d.Problems["io"] == "" {
					t.Errorf("view %+v, problems %v", d.Replica, d.Problems)
				}
			}},
		{name: "primary down longer than MAX_REPLICATION_LAG", situation: SitReplicaLagging, role: wire.RoleReplica,
			reason: "data may be 35s old, more than MAX_REPLICATION_LAG 30s: replication is reconnecting",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				ch := &o.Replica.Channel
				ch.IO, ch.Lag, ch.LastIOErrno, ch.LastIOError = sqldialect.ThreadConnecting, nil, 2005, "Unknown MySQL server host"
				o.Replica.Source = SourceFacts{Err: "no such host"}
				m.FreshAsOf = t0.Add(-35 * time.Second)
				return o, m
			}},
		{name: "restarted during the outage, state restored: serves reads", situation: SitReplicaServingStaleOK, role: wire.RoleReplica, ready: true, reason: "serving data at most 12s old",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.StartedAt = t0.Add(-2 * time.Second)
				ch := &o.Replica.Channel
				ch.IO, ch.Lag, ch.RetrievedGTIDSet = sqldialect.ThreadConnecting, nil, ""
				o.Replica.Source = SourceFacts{Err: "no such host"}
				// As restored from the state file by a new sidecar.
				m = Memory{CaughtUp: true, FreshAsOf: t0.Add(-12 * time.Second), PrimaryGTIDs: gtids(fc.flavor, fc.primarySet),
					Snapshot: gtids(fc.flavor, fc.primarySet)}
				return o, m
			}},
		{name: "restarted while the primary answers, behind it: catching up, not ready on the time from before the restart", situation: SitReplicaCatchingUp, role: wire.RoleReplica,
			reason: "catching up with what the primary wrote while this server was down (6 to go): its data was last proven complete before the server started, 22s ago",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, _ := fc.healthyReplica(t)
				o.Local.StartedAt = t0.Add(-3 * time.Second)
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet)
				// As restored from the state file by a new sidecar: the
				// primary held 1-4 22 s ago, and wrote 5-10 since.
				m := Memory{CaughtUp: true, FreshAsOf: t0.Add(-22 * time.Second), PrimaryGTIDs: gtids(fc.flavor, fc.behindSet),
					Snapshot: gtids(fc.flavor, fc.behindSet), ChannelFP: oldFP}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Replica.Staleness == nil || *d.Replica.Staleness != 22*time.Second || len(d.Memory.Samples) != 1 {
					t.Errorf("view %+v, memory %+v: want the staleness reported and the primary's set kept as a sample", d.Replica, d.Memory)
				}
			}},
		{name: "restarted while the primary answers, holding all it holds: ready at once", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true,
			reason: "replicating from " + testPrimary + ", data at most 0s old",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, _ := fc.healthyReplica(t)
				o.Local.StartedAt = t0.Add(-3 * time.Second)
				m := Memory{CaughtUp: true, FreshAsOf: t0.Add(-22 * time.Second), PrimaryGTIDs: gtids(fc.flavor, fc.behindSet),
					Snapshot: gtids(fc.flavor, fc.behindSet), ChannelFP: oldFP}
				return o, m
			}},
		{name: "restarted during the outage without state: freshness unknown", situation: SitReplicaSourceUnknown, role: wire.RoleReplica,
			reason: "cannot compare this replica's transactions with the primary's: no such host",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, _ := fc.healthyReplica(t)
				ch := &o.Replica.Channel
				ch.IO, ch.Lag = sqldialect.ThreadConnecting, nil
				o.Replica.Source = SourceFacts{Err: "no such host"}
				return o, Memory{}
			}},
		{name: "lag unknown with nothing remembered", situation: SitReplicaStalenessUnknown, role: wire.RoleReplica, reason: "how old this replica's data is, is unknown",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica.Channel.IO, o.Replica.Channel.Lag = sqldialect.ThreadConnecting, nil
				o.Replica.Source = SourceFacts{Err: "dial tcp: connection refused"}
				m.FreshAsOf = time.Time{}
				return o, m
			}},
		{name: "applier lag over the limit with the data behind by as much: not ready", situation: SitReplicaLagging, role: wire.RoleReplica,
			reason: "data may be 31s old, more than MAX_REPLICATION_LAG 30s: it has not applied what the primary held then (its applier's lag, Seconds_Behind_Source, is 31s",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet)
				o.Replica.Source.GTIDs = gtids(fc.flavor, fc.primaryMore)
				o.Replica.Channel.Lag = ptr[int64](31)
				m.FreshAsOf = t0.Add(-31 * time.Second)
				return o, m
			}},
		{name: "applier lag over the limit while the data holds all the primary holds: the proof wins (MariaDB's lag of an old event right after a restart)",
			situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true, reason: "replicating from " + testPrimary + ", data at most 0s old",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica.Channel.Lag = ptr[int64](35)
				return o, m
			}},
		{name: "receiver behind while the applier is idle (lag 0): not ready once the data is older than MAX_REPLICATION_LAG", situation: SitReplicaLagging, role: wire.RoleReplica,
			reason: "data may be 40s old, more than MAX_REPLICATION_LAG 30s: it has not applied what the primary held then (its applier's lag, Seconds_Behind_Source, is 0s",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				// The receiver has fetched and the applier applied 1-4;
				// the primary holds 1-12 and held 1-10 since 40 s.
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet)
				o.Replica.Channel.RetrievedGTIDSet = fc.behindSet
				o.Replica.Source.GTIDs = gtids(fc.flavor, fc.primaryMore)
				m.FreshAsOf = t0.Add(-40 * time.Second)
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !d.Memory.FreshAsOf.Equal(t0.Add(-40*time.Second)) || len(d.Memory.Samples) != 1 || !d.Memory.Samples[0].At.Equal(t0) {
					t.Errorf("memory %+v", d.Memory)
				}
			}},
		{name: "receiver behind by less than MAX_REPLICATION_LAG: ready", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true,
			reason: "replicating from " + testPrimary + ", data at most 10s old",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet)
				o.Replica.Source.GTIDs = gtids(fc.flavor, fc.primaryMore)
				m.FreshAsOf = t0.Add(-10 * time.Second)
				return o, m
			}},
		{name: "the newest sample of the primary the replica has applied makes it fresh", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true,
			reason: "replicating from " + testPrimary + ", data at most 12s old",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.primarySet)
				o.Replica.Source.GTIDs = gtids(fc.flavor, fc.primaryMore)
				m.FreshAsOf = t0.Add(-50 * time.Second)
				m.Samples = []PrimarySample{{At: t0.Add(-20 * time.Second), GTIDs: gtids(fc.flavor, fc.behindSet)},
					{At: t0.Add(-12 * time.Second), GTIDs: gtids(fc.flavor, fc.primarySet)}}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !d.Memory.FreshAsOf.Equal(t0.Add(-12*time.Second)) || len(d.Memory.Samples) != 1 {
					t.Errorf("memory %+v", d.Memory)
				}
			}},
		{name: "healthy", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true, reason: "replicating from " + testPrimary + ", data at most 0s old",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) { return fc.healthyReplica(t) },
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !d.Memory.FreshAsOf.Equal(t0) || len(d.Problems) != 0 || d.Replica.Errant != "" || !d.Replica.ErrantKnown {
					t.Errorf("memory %+v, problems %v, view %+v", d.Memory, d.Problems, d.Replica)
				}
			}},

		{name: "REPLICATION_PASSWORD changed and the primary takes it: CHANGE at once", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true,
			reason: "REPLICATION_PASSWORD changed and the primary accepts the new one: reconfiguring", actions: changeActions,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Credentials.ReplicationFP = newFP
				o.Replica.Source.FreshLogin = true
				m.Change = Backoff{Tries: 4, Last: t0, Wait: time.Minute}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Memory.ChannelFP != newFP || !d.Memory.CaughtUp {
					t.Errorf("memory %+v", d.Memory)
				}
			}},
		{name: "REPLICATION_PASSWORD changed before the primary's: the channel keeps the old one", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true,
			reason: "the primary does not accept the new REPLICATION_PASSWORD yet",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Credentials.ReplicationFP = newFP
				o.Replica.Source = SourceFacts{Err: "Error 1045: Access denied", Refused: true, FreshLogin: true}
				return o, m
			}},
		{name: "REPLICATION_PASSWORD changed, the primary cannot be asked: nothing changes", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true, reason: "replicating",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Credentials.ReplicationFP = newFP
				o.Replica.Source = SourceFacts{Err: "i/o timeout", FreshLogin: true}
				return o, m
			}},
		{name: "refused, and the primary refuses this pod's password too: no CHANGE", situation: SitReplicaServingStaleOK, role: wire.RoleReplica, ready: true,
			reason: "the primary refuses this pod's REPLICATION_PASSWORD",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				ch := &o.Replica.Channel
				ch.IO, ch.Lag, ch.LastIOErrno, ch.LastIOError = sqldialect.ThreadConnecting, nil, 1045, "Access denied"
				o.Replica.Source = SourceFacts{Err: "Error 1045: Access denied", Refused: true, FreshLogin: true}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Problems["channel"] == "" {
					t.Errorf("problems %v", d.Problems)
				}
			}},
		{name: "channel without the verified TLS asked for", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true,
			reason: "replication's TLS settings differ from REPLICATION_TLS*", actions: changeActions,
			setup:  func(t testing.TB, fc flavourCase) (Observation, Memory) { return fc.healthyReplica(t) },
			policy: func(p *Policy) { p.TLS, p.TLSCA = true, "/tls/ca.crt" }},
		{name: "channel with the verified TLS asked for", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true, reason: "replicating",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				ch := &o.Replica.Channel
				ch.SSLAllowed, ch.SSLCAFile, ch.SSLVerifyServerCert = "Yes", "/tls/ca.crt", true
				return o, m
			},
			policy: func(p *Policy) { p.TLS, p.TLSCA = true, "/tls/ca.crt" }},
		{name: "accounts that can write despite read_only are reported", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true, reason: "replicating",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica.Writers = []string{"'root'@'localhost'", "'ops'@'%'"}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !strings.Contains(d.Problems["writers"], "'ops'@'%'") || len(d.Replica.Writers) != 2 {
					t.Errorf("problems %v, view %+v", d.Problems, d.Replica)
				}
			}},

		// --- catching up ----------------------------------------------------
		{name: "new replica catching up with a backlog (lag 0 proves nothing)", situation: SitReplicaCatchingUp, role: wire.RoleReplica,
			reason: "catching up with the primary's transactions (6 to go)",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, _ := fc.healthyReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet)
				return o, Memory{Changes: 1}
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Memory.CaughtUp || d.Memory.Snapshot.String() != gtids(fc.flavor, fc.primarySet).String() {
					t.Errorf("memory %+v", d.Memory)
				}
			}},
		{name: "caught up with the first snapshot although the primary moved on", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true, reason: "replicating",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica.Source.GTIDs = gtids(fc.flavor, fc.primaryMore)
				m.CaughtUp = false
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !d.Memory.CaughtUp {
					t.Error("not remembered as caught up")
				}
			}},

		// --- errors -----------------------------------------------------------
		{name: "SQL error: left for a person", situation: SitReplicaSQLError, role: wire.RoleReplica, reason: "replication error: SQL error 1062: Duplicate entry",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				ch := &o.Replica.Channel
				ch.SQL, ch.Lag, ch.LastSQLErrno, ch.LastSQLError = sqldialect.ThreadStopped, nil, 1062, "Duplicate entry '7' for key 'PRIMARY'"
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if len(d.Actions) != 0 || !strings.Contains(d.Reason, "needs a person") || d.Problems["sql"] == "" {
					t.Errorf("%v, problems %v", d, d.Problems)
				}
			}},
		{name: "errant GTIDs", situation: SitReplicaErrant, role: wire.RoleReplica, reason: "replica has transactions the primary lacks",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.primarySet).Union(gtids(fc.flavor, fc.localWrite))
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				want := gtids(fc.flavor, fc.localWrite).String()
				if d.Replica.Errant != want || !strings.Contains(d.Problems["errant"], want) {
					t.Errorf("errant %q, problems %v, want %q", d.Replica.Errant, d.Problems, want)
				}
			}},
		{name: "errant GTIDs: a stopped replica is not restarted", situation: SitReplicaErrant, role: wire.RoleReplica, reason: "not restarting replication into a replica with transactions the primary lacks",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.primarySet).Union(gtids(fc.flavor, fc.localWrite))
				o.Replica.Channel.IO, o.Replica.Channel.Lag = sqldialect.ThreadStopped, nil
				return o, m
			}},
		{name: "comparison failed, nothing remembered: fail closed", situation: SitReplicaSourceUnknown, role: wire.RoleReplica,
			reason: "cannot compare this replica's transactions with the primary's: Error 1045",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica.Source = SourceFacts{Err: "Error 1045: Access denied"}
				m.PrimaryGTIDs = sqldialect.GTIDSet{}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Replica.ErrantKnown {
					t.Error("errant transactions reported as known")
				}
			}},
		{name: "comparison failed: the remembered set and the fetched ones stand in", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true, reason: "replicating",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica.Source = SourceFacts{Err: "i/o timeout"}
				m.PrimaryGTIDs = gtids(fc.flavor, fc.behindSet)
				o.Replica.Channel.RetrievedGTIDSet = fc.primarySet
				return o, m
			}},
		// --- a replaced primary -----------------------------------------------
		{name: "the primary's history was replaced: stopped, and stays so", situation: SitReplicaDiverged, role: wire.RoleReplica,
			reason: "the primary's history no longer holds transactions this replica got from it", actions: []ActionKind{ActStopReplica},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica.Source.GTIDs = gtids(fc.flavor, fc.behindSet)
				if fc.flavor == sqldialect.MySQL {
					o.Replica.Source.GTIDs = gtids(fc.flavor, otherUUID+":1-20")
				}
				o.Replica.Source.StatusKnown, o.Replica.Source.Writable = true, true
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !d.Memory.Diverged || d.Problems["diverged"] == "" {
					t.Errorf("memory %+v problems %v", d.Memory, d.Problems)
				}
			}},
		{name: "diverged: the replaced primary's counter passing the replica's does not resume it", situation: SitReplicaDiverged, role: wire.RoleReplica,
			reason: "the primary's history no longer holds",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				ch := &o.Replica.Channel
				ch.IO, ch.SQL, ch.Lag = sqldialect.ThreadStopped, sqldialect.ThreadStopped, nil
				o.Replica.Source.StatusKnown, o.Replica.Source.Writable = true, true
				if fc.flavor == sqldialect.MySQL {
					o.Replica.Source.GTIDs = gtids(fc.flavor, otherUUID+":1-20")
				} else {
					o.Replica.Source.GTIDs = gtids(fc.flavor, fc.primaryMore)
				}
				m.Diverged = true
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if strings.Contains(d.Reason, "()") {
					t.Errorf("reason names an empty set: %q", d.Reason)
				}
			}},
		{name: "the primary lacks what it sent but takes no writes: recovering, reads served", situation: SitReplicaServingRecovering, role: wire.RoleReplica, ready: true,
			reason: "while the primary lacks transactions this replica holds",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica.Source.GTIDs = gtids(fc.flavor, "")
				o.Replica.Source.StatusKnown, o.Replica.Source.Writable = true, false
				ch := &o.Replica.Channel
				ch.IO, ch.Lag, ch.LastIOErrno = sqldialect.ThreadStopped, nil, 1236
				return o, m
			}},
		{name: "the primary recovering for longer than MAX_REPLICATION_LAG", situation: SitReplicaPrimaryRecovering, role: wire.RoleReplica, reason: "takes no writes: it is recovering",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.At = t0.Add(time.Minute)
				o.Replica.Source.GTIDs = gtids(fc.flavor, "")
				o.Replica.Source.StatusKnown = true
				return o, m
			}},

		// --- seeding ---------------------------------------------------------
		{name: "new replica, the primary purged what it lacks: seeded from a ready replica", situation: SitReplicaSeedStarting, role: wire.RoleReplica,
			reason: "seeding from mysql-2: the primary's binary logs no longer hold transactions this replica lacks", actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Replica.Source.Purged, o.Replica.Source.PurgedKnown = gtids(fc.flavor, fc.behindSet), true
				o.Peers = &PeerFacts{Peers: Peers{
					{Status: &wire.Status{Pod: "mysql-0", Role: wire.RolePrimary, Ready: true, PodHost: testPrimary}},
					{Status: &wire.Status{Pod: "mysql-1", Role: wire.RoleReplica, PodHost: "mysql-1.x"}},
					{Status: &wire.Status{Pod: "mysql-2", Role: wire.RoleReplica, Ready: true, PodHost: "mysql-2.x", GTIDExecuted: fc.primarySet}},
					{Status: &wire.Status{Pod: "mysql-3", Role: wire.RoleReplica, Ready: false, PodHost: "mysql-3.x", GTIDExecuted: fc.primarySet}},
				}}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Actions[0].Donor != (Donor{Pod: "mysql-2", Host: "mysql-2.x"}) || d.Memory.Seeds != 1 || d.Memory.SeedDonor != "mysql-2" || d.Memory.Seed.Tries != 1 {
					t.Errorf("donor %+v, memory %+v", d.Actions[0].Donor, d.Memory)
				}
			}},
		{name: "a ready replica with transactions of its own is not chosen as donor while another exists", situation: SitReplicaSeedStarting, role: wire.RoleReplica,
			reason: "seeding from mysql-3", actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Replica.Source.Purged, o.Replica.Source.PurgedKnown = gtids(fc.flavor, fc.behindSet), true
				own, origin := otherUUID+":1", otherUUID
				if fc.flavor == sqldialect.MariaDB {
					own, origin = "0-102-11", "102"
				}
				o.Peers = &PeerFacts{Peers: Peers{
					{Status: &wire.Status{Pod: "mysql-2", Role: wire.RoleReplica, Ready: true, PodHost: "mysql-2.x", GTIDExecuted: fc.primarySet + "," + own, GTIDOrigin: origin}},
					{Status: &wire.Status{Pod: "mysql-3", Role: wire.RoleReplica, Ready: true, PodHost: "mysql-3.x", GTIDExecuted: fc.primarySet, GTIDOrigin: "x"}},
				}}
				return o, m
			}},
		{name: "only ready replicas with transactions of their own: the primary is the donor", situation: SitReplicaSeedStarting, role: wire.RoleReplica,
			reason: "seeding from mysql-0", actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Replica.Source.Purged, o.Replica.Source.PurgedKnown = gtids(fc.flavor, fc.behindSet), true
				o.Peers = &PeerFacts{Peers: Peers{
					{Status: &wire.Status{Pod: "mysql-2", Role: wire.RoleReplica, Ready: true, PodHost: "mysql-2.x", GTIDExecuted: fc.primarySet,
						Replication: &wire.ReplicationStatus{ErrantGTIDs: fc.localWrite}}},
				}}
				return o, m
			}},
		{name: "a replica ahead of a primary restored from an older copy (1236, the primary away) is not seeded from it", situation: SitReplicaSeedNoDonor, role: wire.RoleReplica,
			reason: "but no donor holds every transaction this replica has",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				ch := &o.Replica.Channel
				ch.IO, ch.Lag, ch.LastIOErrno, ch.LastIOError = sqldialect.ThreadStopped, nil, 1236, "connecting slave requested to start from GTID which is not in the master's binlog"
				// The primary restarted from an older copy (1-4), then went
				// down to restore its own copy.
				o.Replica.Source = SourceFacts{Err: "dial tcp: connection refused"}
				m.PrimaryGTIDs = gtids(fc.flavor, fc.behindSet)
				o.Peers = &PeerFacts{Peers: Peers{{Status: &wire.Status{Pod: "mysql-2", Role: wire.RoleReplica, Ready: false, PodHost: "mysql-2.x", GTIDExecuted: fc.primarySet}}}}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Memory.Seeds != 0 || d.Problems["seed"] == "" {
					t.Errorf("memory %+v problems %v", d.Memory, d.Problems)
				}
			}},
		{name: "a replica ahead of its primary is seeded from a ready replica that holds everything it has", situation: SitReplicaSeedStarting, role: wire.RoleReplica,
			reason: "seeding from mysql-2", actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				ch := &o.Replica.Channel
				ch.IO, ch.Lag, ch.LastIOErrno = sqldialect.ThreadStopped, nil, 1236
				o.Replica.Source = SourceFacts{Err: "dial tcp: connection refused"}
				m.PrimaryGTIDs = gtids(fc.flavor, fc.behindSet)
				o.Peers = &PeerFacts{Peers: Peers{{Status: &wire.Status{Pod: "mysql-2", Role: wire.RoleReplica, Ready: true, PodHost: "mysql-2.x", GTIDExecuted: fc.primaryMore}}}}
				return o, m
			}},
		{name: "a replica behind what the primary still holds: seeded from the primary when no replica has it", situation: SitReplicaSeedStarting, role: wire.RoleReplica,
			reason: "seeding from mysql-0: the primary cannot send what this replica needs (IO error 1236", actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet)
				ch := &o.Replica.Channel
				ch.IO, ch.Lag, ch.LastIOErrno, ch.LastIOError = sqldialect.ThreadStopped, nil, 1236, "Could not find GTID state"
				o.Peers = &PeerFacts{Peers: Peers{
					{Status: &wire.Status{Pod: "mysql-2", Role: wire.RoleReplica, Ready: true, PodHost: "mysql-2.x", GTIDExecuted: fc.behindSet}},
				}}
				o.Replica.Source.Purged, o.Replica.Source.PurgedKnown = gtids(fc.flavor, fc.primarySet), false
				return o, m
			}},
		{name: "the receiver's fatal error is older than the primary's data (it holds everything again): replication restarted, not seeded", situation: SitReplicaServingStaleOK, role: wire.RoleReplica,
			ready: true, reason: "while replication is stopped (IO error 13114", actions: []ActionKind{ActStartReplica},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				return fc.staleFatalReplica(t, true, 0)
			},
			check: wantStartsSeeds(1, 0)},
		{name: "the receiver's fatal error while the primary takes no writes yet: neither restarted nor seeded", situation: SitReplicaServingStaleOK, role: wire.RoleReplica,
			ready: true, reason: "it is restarted once the primary does",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				return fc.staleFatalReplica(t, false, 0)
			},
			check: wantStartsSeeds(0, 0)},
		{name: "the fatal error comes back after that restart: seeded", situation: SitReplicaSeedStarting, role: wire.RoleReplica,
			reason: "seeding from mysql-0: the primary cannot send what this replica needs (IO error 13114", actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				return fc.staleFatalReplica(t, true, 1)
			}},
		{name: "the donor that failed last is not tried first", situation: SitReplicaSeedStarting, role: wire.RoleReplica, reason: "seeding from mysql-0", actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Replica.Source.Purged, o.Replica.Source.PurgedKnown = gtids(fc.flavor, fc.behindSet), true
				o.Peers = &PeerFacts{Peers: Peers{{Status: &wire.Status{Pod: "mysql-2", Role: wire.RoleReplica, Ready: true, PodHost: "mysql-2.x", GTIDExecuted: fc.primarySet}}}}
				m.SeedDonor, m.Seed = "mysql-2", Backoff{Tries: 1, Last: t0.Add(-time.Minute), Wait: 30 * time.Second}
				return o, m
			}},
		{name: "a clone that moves no byte for SEED_STALL_TIMEOUT is stopped", situation: SitSeedStalled, role: wire.RoleReplica,
			reason: "the clone from mysql-2 moved no byte for 31s (FILE COPY, SEED_STALL_TIMEOUT 30s): stopping it", actions: []ActionKind{ActAbortClone},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Seed = SeedFacts{Running: true, Donor: "mysql-2", Phase: "clone", Stage: "FILE COPY", Moved: 1 << 20, PID: 42}
				m.SeedStage, m.SeedMoved, m.SeedMovedAt = "FILE COPY", 1<<20, t0.Add(-31*time.Second)
				return o, m
			},
			policy: func(p *Policy) { p.SeedStall = 30 * time.Second },
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if a := d.Actions[0]; a.Thread != 42 || a.Donor.Pod != "mysql-2" || d.Memory.SeedMovedAt != t0 || d.Memory.SeedStopAt != t0 {
					t.Errorf("action %+v, memory %+v", a, d.Memory)
				}
			}},
		{name: "a stopped clone that has not ended yet: no second KILL before another SEED_STALL_TIMEOUT", situation: SitSeedStopping, role: wire.RoleReplica,
			reason: "seeding from mysql-2: stopping the clone (KILL QUERY 12s ago): MySQL ends it once its read from the donor times out, within about 30s; then another donor",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Seed = SeedFacts{Running: true, Donor: "mysql-2", Phase: "clone", Stage: "FILE COPY", Moved: 1 << 20, PID: 42}
				m.SeedStage, m.SeedMoved, m.SeedMovedAt, m.SeedStopAt = "FILE COPY", 1<<20, t0.Add(-12*time.Second), t0.Add(-12*time.Second)
				return o, m
			},
			policy: func(p *Policy) { p.SeedStall = 30 * time.Second },
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Memory.SeedStopAt != t0.Add(-12*time.Second) {
					t.Errorf("memory %+v", d.Memory)
				}
			}},
		{name: "a stopped clone still stalled after another SEED_STALL_TIMEOUT: KILL again, stopped since the first", situation: SitSeedStalled, role: wire.RoleReplica,
			reason: "the clone from mysql-2 moved no byte for 30s (FILE COPY, SEED_STALL_TIMEOUT 30s): stopping it", actions: []ActionKind{ActAbortClone},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Seed = SeedFacts{Running: true, Donor: "mysql-2", Phase: "clone", Stage: "FILE COPY", Moved: 1 << 20, PID: 42}
				m.SeedStage, m.SeedMoved, m.SeedMovedAt, m.SeedStopAt = "FILE COPY", 1<<20, t0.Add(-30*time.Second), t0.Add(-30*time.Second)
				return o, m
			},
			policy: func(p *Policy) { p.SeedStall = 30 * time.Second },
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Memory.SeedStopAt != t0.Add(-30*time.Second) {
					t.Errorf("memory %+v", d.Memory)
				}
			}},
		{name: "a stopped clone whose bytes move again is seeding (the KILL did not take)", situation: SitSeeding, role: wire.RoleReplica, reason: "seeding from mysql-2 (clone)",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Seed = SeedFacts{Running: true, Donor: "mysql-2", Phase: "clone", Stage: "FILE COPY", Moved: 2 << 20, PID: 42}
				m.SeedStage, m.SeedMoved, m.SeedMovedAt, m.SeedStopAt = "FILE COPY", 1<<20, t0.Add(-5*time.Second), t0.Add(-5*time.Second)
				return o, m
			},
			policy: func(p *Policy) { p.SeedStall = 30 * time.Second },
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !d.Memory.SeedStopAt.IsZero() {
					t.Errorf("memory %+v", d.Memory)
				}
			}},
		{name: "a clone whose bytes move is left alone", situation: SitSeeding, role: wire.RoleReplica, reason: "seeding from mysql-2 (clone)",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Seed = SeedFacts{Running: true, Donor: "mysql-2", Phase: "clone", Stage: "FILE COPY", Moved: 2 << 20, PID: 42}
				m.SeedStage, m.SeedMoved, m.SeedMovedAt = "FILE COPY", 1<<20, t0.Add(-time.Minute)
				return o, m
			},
			policy: func(p *Policy) { p.SeedStall = 30 * time.Second },
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Memory.SeedMoved != 2<<20 || d.Memory.SeedMovedAt != t0 {
					t.Errorf("memory %+v", d.Memory)
				}
			}},
		{name: "a clone in a local stage (FILE SYNC) is not stopped however long it takes", situation: SitSeeding, role: wire.RoleReplica, reason: "seeding from mysql-2 (clone)",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Seed = SeedFacts{Running: true, Donor: "mysql-2", Phase: "clone", Stage: "FILE SYNC", Moved: 1 << 20, PID: 42}
				m.SeedStage, m.SeedMoved, m.SeedMovedAt = "FILE SYNC", 1<<20, t0.Add(-10*time.Minute)
				return o, m
			},
			policy: func(p *Policy) { p.SeedStall = 30 * time.Second }},
		{name: "a clone that has just entered a copying stage is not stopped at once", situation: SitSeeding, role: wire.RoleReplica, reason: "seeding from mysql-2 (clone)",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Seed = SeedFacts{Running: true, Donor: "mysql-2", Phase: "clone", Stage: "FILE COPY", Moved: 1 << 20, PID: 42}
				m.SeedStage, m.SeedMoved, m.SeedMovedAt = "DROP DATA", 1<<20, t0.Add(-10*time.Minute)
				return o, m
			},
			policy: func(p *Policy) { p.SeedStall = 30 * time.Second }},
		{name: "a busy donor: another donor at once, not after the back-off", situation: SitReplicaSeedStarting, role: wire.RoleReplica,
			reason: "seeding from mysql-0: the primary's binary logs no longer hold", actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Replica.Source.Purged, o.Replica.Source.PurgedKnown = gtids(fc.flavor, fc.behindSet), true
				o.Peers = &PeerFacts{Peers: Peers{{Status: &wire.Status{Pod: "mysql-2", Role: wire.RoleReplica, Ready: true, PodHost: "mysql-2.x", GTIDExecuted: fc.primarySet}}}}
				o.Seed = SeedFacts{Donor: "mysql-2", Err: "clone error 3862: Clone Donor Error: 3634 : Too many concurrent clone operations. Maximum allowed - 1.", Kind: SeedBusy}
				m.SeedDonor, m.Seed, m.Seeds = "mysql-2", Backoff{Tries: 1, Last: t0.Add(-5 * time.Second), Wait: 30 * time.Second}, 1
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Actions[0].Donor.Pod != "mysql-0" || !slices.Equal(d.Memory.SeedAvoid, []string{"mysql-2"}) || !strings.Contains(d.Reason, "was busy") {
					t.Errorf("donor %+v memory %+v reason %q", d.Actions[0].Donor, d.Memory, d.Reason)
				}
			}},
		{name: "a stalled donor: another donor at once", situation: SitReplicaSeedStarting, role: wire.RoleReplica,
			reason: "seeding from mysql-2: the primary's binary logs no longer hold", actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Replica.Source.Purged, o.Replica.Source.PurgedKnown = gtids(fc.flavor, fc.behindSet), true
				o.Peers = &PeerFacts{Peers: Peers{
					{Status: &wire.Status{Pod: "mysql-2", Role: wire.RoleReplica, Ready: true, PodHost: "mysql-2.x", GTIDExecuted: fc.primarySet}},
					{Status: &wire.Status{Pod: "mysql-3", Role: wire.RoleReplica, Ready: true, PodHost: "mysql-3.x", GTIDExecuted: fc.primarySet}},
				}}
				o.Seed = SeedFacts{Donor: "mysql-3", Err: "backup stream incomplete: the donor sent nothing for 30s", Kind: SeedStalled}
				m.SeedDonor, m.Seed, m.Seeds = "mysql-3", Backoff{Tries: 1, Last: t0.Add(-40 * time.Second), Wait: 30 * time.Second}, 1
				m.Seed.Wait = time.Minute
				return o, m
			}},
		{name: "a donor lost mid-copy (deleted: its name no longer resolves): another donor at once", situation: SitReplicaSeedStarting, role: wire.RoleReplica,
			reason: "seeding from mysql-3: the primary's binary logs no longer hold", actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Replica.Source.Purged, o.Replica.Source.PurgedKnown = gtids(fc.flavor, fc.behindSet), true
				o.Peers = &PeerFacts{Peers: Peers{
					{Status: &wire.Status{Pod: "mysql-2", Role: wire.RoleReplica, Ready: true, PodHost: "mysql-2.x", GTIDExecuted: fc.primarySet}},
					{Status: &wire.Status{Pod: "mysql-3", Role: wire.RoleReplica, Ready: true, PodHost: "mysql-3.x", GTIDExecuted: fc.primarySet}},
				}}
				o.Seed = SeedFacts{Donor: "mysql-2", Err: "clone error 3862: Clone Donor Error: Connect failed: 2005 : Unknown MySQL server host 'mysql-2.x' (-2).", Kind: SeedLost}
				m.SeedDonor, m.Seed, m.Seeds = "mysql-2", Backoff{Tries: 1, Last: t0.Add(-2 * time.Second), Wait: 30 * time.Second}, 1
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Actions[0].Donor.Pod != "mysql-3" || !slices.Equal(d.Memory.SeedAvoid, []string{"mysql-2"}) || !strings.Contains(d.Reason, "was lost") {
					t.Errorf("donor %+v memory %+v reason %q", d.Actions[0].Donor, d.Memory, d.Reason)
				}
			}},
		{name: "every donor busy or stalled lately: the back-off applies", situation: SitReplicaSeedWaiting, role: wire.RoleReplica,
			reason: "the last seed from mysql-0 failed, next attempt at 12:00:25",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Replica.Source.Purged, o.Replica.Source.PurgedKnown = gtids(fc.flavor, fc.behindSet), true
				o.Peers = &PeerFacts{Peers: Peers{{Status: &wire.Status{Pod: "mysql-2", Role: wire.RoleReplica, Ready: true, PodHost: "mysql-2.x", GTIDExecuted: fc.primarySet}}}}
				o.Seed = SeedFacts{Donor: "mysql-0", Err: "clone error 1317: Query execution was interrupted", Kind: SeedStalled}
				m.SeedDonor, m.Seed, m.Seeds = "mysql-0", Backoff{Tries: 2, Last: t0.Add(-35 * time.Second), Wait: time.Minute}, 2
				m.SeedAvoid = []string{"mysql-2"}
				return o, m
			}},
		{name: "a seed that failed is retried after its back-off", situation: SitReplicaSeedWaiting, role: wire.RoleReplica, reason: "the last seed from mysql-2 failed, next attempt at 12:00:50",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Replica.Source.Purged, o.Replica.Source.PurgedKnown = gtids(fc.flavor, fc.behindSet), true
				o.Seed = SeedFacts{Donor: "mysql-2", Err: "stream cut: unexpected EOF"}
				m.SeedDonor, m.Seed = "mysql-2", Backoff{Tries: 2, Last: t0.Add(-10 * time.Second), Wait: time.Minute}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if !strings.Contains(d.Problems["seed"], "stream cut") {
					t.Errorf("problems %v", d.Problems)
				}
			}},
		{name: "AUTO_RESEED=false: a replica with data is reported, not re-seeded", situation: SitReplicaSeedDisabled, role: wire.RoleReplica,
			reason: "AUTO_RESEED=false, so it is not re-seeded",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet)
				o.Replica.Source.Purged, o.Replica.Source.PurgedKnown = gtids(fc.flavor, fc.primarySet), true
				return o, m
			},
			policy: func(p *Policy) { p.AutoReseed = false }},
		{name: "AUTO_RESEED=false: a new replica is still seeded", situation: SitReplicaSeedStarting, role: wire.RoleReplica, reason: "seeding from mysql-0", actionsFor: seedKind,
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Replica.Source.Purged, o.Replica.Source.PurgedKnown = gtids(fc.flavor, fc.behindSet), true
				return o, m
			},
			policy: func(p *Policy) { p.AutoReseed = false }},
		{name: "errant transactions and purged needs: reported, never copied over", situation: SitReplicaErrant, role: wire.RoleReplica,
			reason: "replica has transactions the primary lacks",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Local.GTIDs = gtids(fc.flavor, fc.behindSet).Union(gtids(fc.flavor, fc.localWrite))
				ch := &o.Replica.Channel
				ch.IO, ch.Lag, ch.LastIOErrno = sqldialect.ThreadStopped, nil, 1236
				o.Replica.Source.Purged, o.Replica.Source.PurgedKnown = gtids(fc.flavor, fc.primarySet), true
				return o, m
			}},
		{name: "seeding under way: nothing else happens", situation: SitSeeding, role: wire.RoleReplica,
			reason: "seeding from mysql-2 (fetch): 1.0 MiB/4.0 MiB (512.0 KiB/s)",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Local = LocalFacts{Err: "connection refused"}
				o.Seed = SeedFacts{Running: true, Donor: "mysql-2", Phase: "fetch", Bytes: 1 << 20, Estimate: 4 << 20, Rate: 512 << 10}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Seed == nil || !d.Seed.Running {
					t.Errorf("seed %+v", d.Seed)
				}
			}},
		{name: "a clone in place: the server restarts on it", situation: SitSeedRestarting, role: wire.RoleReplica, reason: "seeded from mysql-2: restarting the server",
			actions: []ActionKind{ActShutdown},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Seed = SeedFacts{RestartNeeded: true, Donor: "mysql-2"}
				return o, m
			}},
		{name: "a copy recorded complete but not proven in place: nothing applied", situation: SitSeedUnproven, role: wire.RoleReplica,
			reason: "has not proven that the data directory holds it",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Seed = SeedFacts{Unproven: true, ResultPending: false, Donor: "mysql-2"}
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Problems["seed"] == "" {
					t.Error("an unproven copy is not logged")
				}
			}},
		{name: "a restored copy: its GTID position is applied", situation: SitSeedApplying, role: wire.RoleReplica, reason: "seeded from mysql-2: applying its GTID position 0-100-9",
			actions: []ActionKind{ActApplySeed},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.newReplica(t)
				o.Seed = SeedFacts{ResultPending: true, ResultGTID: "0-100-9", Donor: "mysql-2"}
				return o, m
			}},

		{name: "primary unreachable, remembered set older than the replica: nothing is errant", situation: SitReplicaReplicating, role: wire.RoleReplica, ready: true,
			reason: "replicating",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica.Source = SourceFacts{Err: "Error 1045: Access denied", Refused: true, StatusKnown: true, Writable: true}
				o.Replica.Channel.RetrievedGTIDSet = ""
				m.PrimaryGTIDs = gtids(fc.flavor, fc.behindSet)
				return o, m
			},
			check: func(t *testing.T, fc flavourCase, d Decision) {
				if d.Memory.Diverged || d.Replica.Errant != "" || !strings.Contains(d.Problems["source"], "REQUIRE SSL") {
					t.Errorf("memory %+v view %+v problems %v", d.Memory, d.Replica, d.Problems)
				}
			}},
		{name: "threads stopped, restart backed off", situation: SitReplicaThreadsStopped, role: wire.RoleReplica, reason: "replication stopped; next start at 12:00:30",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.healthyReplica(t)
				o.Replica.Channel.IO, o.Replica.Channel.SQL, o.Replica.Channel.Lag = sqldialect.ThreadStopped, sqldialect.ThreadStopped, nil
				m.Start = Backoff{Tries: 5, Last: t0.Add(-2 * time.Second), Wait: 32 * time.Second}
				return o, m
			}},
	}
	for _, fc := range flavours {
		for _, s := range situations {
			t.Run(fc.name+"/"+s.name, func(t *testing.T) {
				t.Parallel()
				o, m := s.setup(t, fc)
				p := testPolicy(s.role)
				if s.policy != nil {
					s.policy(&p)
				}
				if s.policyFor != nil {
					s.policyFor(&p, fc)
				}
				d := Decide(o, m, p, o.At.Add(s.later))
				if d.Situation != s.situation {
					t.Errorf("situation %q, want %q (%s)", d.Situation, s.situation, d.Reason)
				}
				// The observer asks the peers on the same rule decide seeds by.
				if d.Situation == SitReplicaSeedStarting && !NeedsDonor(o) {
					t.Errorf("a seed starts, but needsDonor is false: the observer would not have asked the donors")
				}
				switch d.Situation {
				case SitPrimaryWaitingForPeers, SitPrimaryWaitingForPerson, SitPrimaryRecovering, SitPrimaryMakingWritable:
					if o.Account != nil && !PrimaryNeedsPeers(o.Local, *o.Account, m.Lineage, m.Approved) {
						t.Errorf("the guard decides, but primaryNeedsPeers is false: the observer would not have asked the peers")
					}
				}
				if d.Guard != guardOf(d.Situation) {
					t.Errorf("guard %q with situation %q, want guard %q", d.Guard, d.Situation, guardOf(d.Situation))
				}
				if doc, ok := situationDoc(d.Situation); !ok || doc.Ready != d.Ready {
					t.Errorf("situation %q (ready=%v) is not in the table as such (%+v)", d.Situation, d.Ready, doc)
				}
				if d.Ready != s.ready || !strings.Contains(d.Reason, s.reason) {
					t.Errorf("got ready=%v %q\nwant ready=%v with %q", d.Ready, d.Reason, s.ready, s.reason)
				}
				want := s.actions
				if s.actionsFor != nil {
					want = s.actionsFor(fc)
				}
				if got := kinds(d.Actions); !slices.Equal(got, want) {
					t.Errorf("actions %v, want %v", got, want)
				}
				for _, a := range d.Actions {
					if a.Why == "" {
						t.Errorf("action %s without a reason", a.Kind)
					}
				}
				if s.check != nil {
					s.check(t, fc, d)
				}
			})
		}
	}
}

// adoptThenChange: a replica whose binary log holds the primary's
// transactions, its channel never configured, is pointed at the primary;
// on MariaDB gtid_slave_pos takes the binary log's position first.
func adoptThenChange(fc flavourCase) []ActionKind {
	if fc.flavor == sqldialect.MariaDB {
		return []ActionKind{ActAdoptBinlogPosition, ActChangeSource, ActStartReplica}
	}
	return []ActionKind{ActChangeSource, ActStartReplica}
}

// TestDecideMySQLNeedsSuperReadOnly: read_only alone does not stop SUPER
// accounts on MySQL.
func TestDecideMySQLNeedsSuperReadOnly(t *testing.T) {
	t.Parallel()
	o, m := flavours[0].healthyReplica(t)
	o.Local.SuperReadOnly = false
	d := Decide(o, m, testPolicy(wire.RoleReplica), t0)
	if d.Ready || !slices.Equal(kinds(d.Actions), []ActionKind{ActMakeReadOnly}) {
		t.Errorf("%v", d)
	}
	o, m = flavours[1].healthyReplica(t)
	if d := Decide(o, m, testPolicy(wire.RoleReplica), t0); !d.Ready {
		t.Errorf("MariaDB has no super_read_only: %v", d)
	}
}

// TestChangeStormBounded replays a replica whose password the primary
// refuses, one pass a second for a minute: CHANGE runs a bounded number
// of times.
func TestChangeStormBounded(t *testing.T) {
	t.Parallel()
	o, m := flavours[1].healthyReplica(t)
	ch := &o.Replica.Channel
	ch.IO, ch.Lag, ch.LastIOErrno, ch.LastIOError = sqldialect.ThreadConnecting, nil, 1045, "Access denied"
	changes := 0
	for i := 0; i < 60; i++ {
		o.At = t0.Add(time.Duration(i) * time.Second)
		d := Decide(o, m, testPolicy(wire.RoleReplica), o.At)
		if slices.Contains(kinds(d.Actions), ActChangeSource) {
			changes++
		}
		m = d.Memory
	}
	if changes < 2 || changes > 5 {
		t.Errorf("%d CHANGE statements in 60 passes over a minute, want 2..5", changes)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	var b Backoff
	if !b.Due(t0) {
		t.Fatal("a new back-off is due")
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		b = b.Tried(t0, time.Second, 4*time.Second)
		if b.Wait != want || b.Tries != i+1 {
			t.Errorf("try %d: %+v, want wait %s", i+1, b, want)
		}
	}
	if b.Due(t0.Add(3*time.Second)) || !b.Due(t0.Add(4*time.Second)) || !b.Next().Equal(t0.Add(4*time.Second)) {
		t.Errorf("due: %+v", b)
	}
}

// TestDecidePasswordRotation walks the primary through a change of
// REPLICATION_PASSWORD on each flavour: MySQL keeps the old password until
// every replica uses the new one; MariaDB, which cannot, changes the
// account only once every replica has read the new password.
func TestDecidePasswordRotation(t *testing.T) {
	t.Parallel()
	p := testPolicy(wire.RolePrimary)
	mysqlFC, mariaFC := flavours[0], flavours[1]

	// MySQL: change at once, keeping the old one.
	o, m := mysqlFC.rotated(t)
	d := Decide(o, m, p, t0)
	if !slices.Equal(kinds(d.Actions), []ActionKind{ActRotatePassword}) || d.Memory.AccountFP != newFP || d.Memory.RotationSince != t0 {
		t.Errorf("MySQL rotation: %v %+v", d, d.Memory)
	}
	// The old one is discarded only when every replica replicates with the new one.
	o, m = mysqlFC.primary(t)
	o.Credentials.ReplicationFP, m.AccountFP, m.RotationSince = newFP, newFP, t0
	o.Account.OldPasswordRetained = true
	o.Peers = peers([2]string{newFP, newFP}, [2]string{newFP, oldFP})
	d = Decide(o, m, p, t0.Add(10*time.Second))
	if len(d.Actions) != 0 || !d.Ready || !strings.Contains(d.Reason, "the old replication password keeps working until mysql-2 use the new one") ||
		!slices.Equal(d.Account.WaitingFor, []string{"mysql-2"}) {
		t.Errorf("MySQL waiting for mysql-2: %v", d)
	}
	o.Peers = peers([2]string{newFP, newFP}, [2]string{newFP, newFP})
	d = Decide(o, m, p, t0.Add(20*time.Second))
	if !slices.Equal(kinds(d.Actions), []ActionKind{ActDiscardOld}) || !d.Memory.RotationSince.IsZero() {
		t.Errorf("MySQL discard: %v", d)
	}
	// A replica that never answers is waited for at most peerWaitMax.
	o.Peers = peers([2]string{newFP, newFP})
	o.Peers.Peers = append(o.Peers.Peers, Peer{Err: "connection refused"})
	o.At = t0.Add(time.Minute)
	if d = Decide(o, m, p, o.At); len(d.Actions) != 0 || !strings.Contains(d.Reason, "(no answer)") {
		t.Errorf("MySQL silent replica: %v", d)
	}
	o.At = t0.Add(peerWaitMax)
	if d = Decide(o, m, p, o.At); !slices.Equal(kinds(d.Actions), []ActionKind{ActDiscardOld}) {
		t.Errorf("MySQL silent replica after %s: %v", peerWaitMax, d)
	}

	// MariaDB: wait until every replica has read the new password.
	o, m = mariaFC.rotated(t)
	o.Peers = peers([2]string{newFP, oldFP}, [2]string{oldFP, oldFP})
	d = Decide(o, m, p, t0)
	if len(d.Actions) != 0 || !d.Ready || !strings.Contains(d.Reason, "keeps its password until mysql-2 read the new REPLICATION_PASSWORD") {
		t.Errorf("MariaDB waiting: %v", d)
	}
	m = d.Memory
	o.Peers = peers([2]string{newFP, oldFP}, [2]string{newFP, oldFP})
	d = Decide(o, m, p, t0.Add(5*time.Second))
	if !slices.Equal(kinds(d.Actions), []ActionKind{ActSetPassword}) || d.Memory.AccountFP != newFP || !d.Memory.RotationSince.IsZero() {
		t.Errorf("MariaDB change: %v %+v", d, d.Memory)
	}
	// Peers that cannot be listed are waited for, at most peerWaitMax.
	o.Peers = &PeerFacts{Err: "resolve the Service mysql.default.svc.cluster.local.: NXDOMAIN"}
	o.At = t0.Add(time.Minute)
	if d = Decide(o, m, p, o.At); len(d.Actions) != 0 || !strings.Contains(d.Reason, "NXDOMAIN") {
		t.Errorf("MariaDB without peers: %v", d)
	}
	o.At = t0.Add(peerWaitMax)
	if d = Decide(o, m, p, o.At); !slices.Equal(kinds(d.Actions), []ActionKind{ActSetPassword}) {
		t.Errorf("MariaDB without peers after %s: %v", peerWaitMax, d)
	}
	o.Peers, o.At = nil, t0.Add(time.Second)
	if d = Decide(o, m, p, o.At); len(d.Actions) != 0 || !strings.Contains(d.Reason, "not looked up") {
		t.Errorf("MariaDB peers not asked: %v", d)
	}
}

// TestDecideDivergedMySQLEnds: on MySQL, whose GTID sets are exact, a
// replica resumes once the primary holds its history again.
func TestDecideDivergedMySQLEnds(t *testing.T) {
	t.Parallel()
	o, m := flavours[0].healthyReplica(t)
	m.Diverged = true
	d := Decide(o, m, testPolicy(wire.RoleReplica), t0)
	if d.Memory.Diverged || !d.Ready {
		t.Errorf("MySQL: %v", d)
	}
	o, m = flavours[1].healthyReplica(t)
	m.Diverged = true
	if d := Decide(o, m, testPolicy(wire.RoleReplica), t0); !d.Memory.Diverged || d.Ready {
		t.Errorf("MariaDB: %v", d)
	}
}

// TestRestartedReplicaRidesOutPrimaryRoll: a StatefulSet roll restarts a
// replica, waits for it to be Ready, then at once restarts the primary,
// whose preStop turns offline_mode ON first (MySQL). A replica that turns
// ready must keep serving reads through a primary outage of
// MAX_REPLICATION_LAG less one RECONCILE_INTERVAL that starts right then,
// even if it applies nothing more (k8s e2e case 5, MySQL 9.7: mysql-1 left
// the Service seconds after its restart while mysql-0 rolled, two pods
// down). The replica comes back 22 s after its data was last proven
// complete (the time restored from STATE_DIR), lacking what the primary
// wrote meanwhile; the applier catches up by the next pass.
func TestRestartedReplicaRidesOutPrimaryRoll(t *testing.T) {
	t.Parallel()
	const (
		interval   = 5 * time.Second        // RECONCILE_INTERVAL, while ready
		fastPass   = 250 * time.Millisecond // while not ready
		probeEvery = time.Second
	)
	for _, fc := range flavours {
		t.Run(fc.name, func(t *testing.T) {
			t.Parallel()
			p := testPolicy(wire.RoleReplica)
			started := t0.Add(-3 * time.Second)
			observe := func(at time.Time, local string) Observation {
				o, _ := fc.healthyReplica(t)
				o.At, o.Local.StartedAt, o.Local.GTIDs = at, started, gtids(fc.flavor, local)
				o.Replica.Channel.RetrievedGTIDSet = local
				return o
			}
			// Memory as restore() leaves it in the new sidecar.
			m := Memory{CaughtUp: true, Snapshot: gtids(fc.flavor, fc.behindSet), FreshAsOf: t0.Add(-22 * time.Second),
				PrimaryGTIDs: gtids(fc.flavor, fc.behindSet), ChannelFP: oldFP}
			// Passes until ready: the primary answers and keeps writing.
			at, local, primary := t0, fc.behindSet, fc.primarySet
			var o Observation
			for {
				o = observe(at, local)
				o.Replica.Source.GTIDs = gtids(fc.flavor, primary)
				d := Decide(o, m, p, at)
				m = d.Memory
				if d.Ready {
					break
				}
				if d.Situation != SitReplicaCatchingUp {
					t.Fatalf("+%s: %s %v, want catching up", at.Sub(t0), d.Situation, d)
				}
				at = at.Add(fastPass)
				local, primary = fc.primarySet, fc.primaryMore
			}
			readyAt := at
			// The primary goes at once; the replica applies nothing more.
			gone := func(at time.Time) Observation {
				o := observe(at, local)
				o.Replica.Source = SourceFacts{Err: "Error 3032 (HY000): The server is currently in offline mode"}
				ch := &o.Replica.Channel
				ch.IO, ch.Lag, ch.LastIOErrno = sqldialect.ThreadConnecting, nil, 3032
				ch.LastIOError = "Error reconnecting to source 'replication@" + testPrimary + ":3306'. This was attempt 2/1000000, with a delay of 1 seconds between attempts. Message: The server is currently in offline mode"
				return o
			}
			nextPass := readyAt.Add(interval)
			for now := readyAt.Add(probeEvery); !now.After(readyAt.Add(p.MaxLag - interval)); now = now.Add(probeEvery) {
				if !now.Before(nextPass) {
					o = gone(now)
					d := Decide(o, m, p, now)
					m = d.Memory
					nextPass = now.Add(interval)
					if !d.Ready {
						t.Fatalf("pass %s after turning ready (+%s), the primary away since: %s %v", now.Sub(readyAt), readyAt.Sub(t0), d.Situation, d)
					}
				}
				probe := o
				probe.Partial = true
				if d := Decide(probe, m, p, now); !d.Ready {
					t.Fatalf("probe %s after turning ready (+%s), the primary away since: %s %v", now.Sub(readyAt), readyAt.Sub(t0), d.Situation, d)
				}
			}
		})
	}
}

// TestDecideOwnDataAdvice: the statement a person is told to run is the
// one the server's version has (RESET BINARY LOGS AND GTIDS from MySQL
// 8.2, RESET MASTER before and on MariaDB).
func TestDecideOwnDataAdvice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ version, want, not string }{
		{"8.0.40", "run RESET MASTER", "AND GTIDS"},
		{"8.1.0", "run RESET MASTER", "AND GTIDS"},
		{"8.4.3", "run RESET BINARY LOGS AND GTIDS", "RESET MASTER"},
		{"10.11.19-MariaDB", "run RESET MASTER", "AND GTIDS"},
	} {
		fc := flavours[0]
		if strings.Contains(tc.version, "MariaDB") {
			fc = flavours[1]
		}
		o, m := fc.newReplica(t)
		o.Local.Version, o.Local.Server = tc.version, server(t, tc.version)
		o.Local.GTIDs = gtids(fc.flavor, fc.localWrite)
		o.Replica.UserTables = []string{"app.orders"}
		d := Decide(o, m, testPolicy(wire.RoleReplica), t0)
		if d.Situation != SitReplicaOwnData || !strings.Contains(d.Reason, tc.want) || strings.Contains(d.Reason, tc.not) {
			t.Errorf("%s: %s %q, want %s with %q", tc.version, d.Situation, d.Reason, SitReplicaOwnData, tc.want)
		}
	}
}

// TestDecideCopyAccount: a MySQL primary keeps a clone account of its own
// (BACKUP_ADMIN only, the password derived from the seed secret) and takes
// BACKUP_ADMIN back from the replication account that releases before it
// granted it; a MariaDB primary keeps a backup account (mariadb-backup's
// privileges only). None of it costs the primary its readiness.
func TestDecideCopyAccount(t *testing.T) {
	t.Parallel()
	fc := flavours[0]
	rows := []situation{
		{name: "upgrade: no clone account, BACKUP_ADMIN on the replication account", situation: SitPrimaryCorrectingCopyAcct, ready: true,
			reason:  "primary is writable; correcting the clone account",
			actions: []ActionKind{ActCreateCopyAccount, ActRevokeBackupAdmin},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.CopyAccount, m.CopyAccountFP = &AccountFacts{}, ""
				o.Account.Grants.BackupAdmin = true
				return o, m
			},
			check: func(t *testing.T, _ flavourCase, d Decision) {
				if d.Memory.CopyAccountFP != copyFP {
					t.Errorf("memory %q, want the password it was created with remembered", d.Memory.CopyAccountFP)
				}
				if len(d.Account.ExtraGrants) != 0 || d.Problems["grants"] != "" {
					t.Errorf("BACKUP_ADMIN this tool granted is reported as extra: %+v %v", d.Account, d.Problems)
				}
			}},
		{name: "BACKUP_ADMIN on a marked replication account is revoked", situation: SitPrimaryCorrectingCopyAcct, ready: true,
			reason: "correcting the clone account", actions: []ActionKind{ActRevokeBackupAdmin},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Account.Grants.BackupAdmin = true
				return o, m
			}},
		{name: "an unmarked replication account with BACKUP_ADMIN is not adopted", situation: SitPrimaryAccountForeign,
			reason: "it has other privileges: BACKUP_ADMIN ON *.*",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Account.Marked, o.Account.LoginTested, o.Account.PasswordWorks = false, true, true
				o.Account.Grants.BackupAdmin = true
				return o, m
			}},
		{name: "the seed secret changed: the clone password follows", situation: SitPrimaryCorrectingCopyAcct, ready: true,
			reason: "correcting the clone account", actions: []ActionKind{ActSetCopyPassword},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Credentials.CopyFP = newCopyFP
				o.CopyAccount.LoginTested = true
				return o, m
			},
			check: func(t *testing.T, _ flavourCase, d Decision) {
				if d.Memory.CopyAccountFP != newCopyFP {
					t.Errorf("memory %q, want %q", d.Memory.CopyAccountFP, newCopyFP)
				}
			}},
		{name: "the clone password works: remembered", situation: SitPrimaryWritable, ready: true, reason: "primary is writable",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Credentials.CopyFP = newCopyFP
				o.CopyAccount.LoginTested, o.CopyAccount.PasswordWorks = true, true
				return o, m
			},
			check: func(t *testing.T, _ flavourCase, d Decision) {
				if d.Memory.CopyAccountFP != newCopyFP {
					t.Errorf("memory %q, want %q", d.Memory.CopyAccountFP, newCopyFP)
				}
			}},
		{name: "the clone password could not be checked: left alone", situation: SitPrimaryWritable, ready: true, reason: "primary is writable",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Credentials.CopyFP = newCopyFP
				o.CopyAccount.LoginTested, o.CopyAccount.PasswordUnknown = true, "Error 1040: Too many connections"
				return o, m
			},
			check: func(t *testing.T, _ flavourCase, d Decision) {
				if d.Memory.CopyAccountFP != copyFP || !strings.Contains(d.Problems["copy-account"], "Too many connections") {
					t.Errorf("memory %q, problems %v: want it checked again and the reason logged", d.Memory.CopyAccountFP, d.Problems)
				}
			}},
		{name: "the clone account lacks BACKUP_ADMIN", situation: SitPrimaryCorrectingCopyAcct, ready: true,
			reason: "correcting the clone account", actions: []ActionKind{ActGrantCopyAccount},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.CopyAccount.Grants.BackupAdmin = false
				return o, m
			}},
		{name: "verified TLS: the clone account requires it", situation: SitPrimaryCorrectingCopyAcct, ready: true,
			reason: "correcting the clone account", actions: []ActionKind{ActCloneRequireSSL},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Account.RequireSSL = true
				return o, m
			},
			policy: func(p *Policy) { p.TLS, p.TLSCA = true, "/tls/ca.crt" }},
		{name: "grants beyond BACKUP_ADMIN are reported, not revoked", situation: SitPrimaryWritable, ready: true, reason: "primary is writable",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.CopyAccount.Grants = sqldialect.Grants{BackupAdmin: true, Replication: true, Extra: []string{"SELECT ON *.*"}}
				return o, m
			},
			check: func(t *testing.T, _ flavourCase, d Decision) {
				if p := d.Problems["copy-grants"]; !strings.Contains(p, "REPLICATION SLAVE ON *.*, SELECT ON *.*") {
					t.Errorf("problem %q", p)
				}
			}},
		{name: "a clone account we did not create is left alone", situation: SitPrimaryCopyAcctForeign, ready: true,
			reason: "exists but mysql-bootstrap did not create it", actions: []ActionKind{ActRevokeBackupAdmin},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.CopyAccount = &AccountFacts{Exists: true, LoginTested: true, Grants: sqldialect.Grants{Extra: []string{"ALL PRIVILEGES ON *.*"}}}
				o.Account.Grants.BackupAdmin = true
				return o, m
			}},
		{name: "replication account corrections come first", situation: SitPrimaryCorrectingAcct,
			reason: "correcting the replication account", actions: []ActionKind{ActGrantReplication},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Account.Grants.Replication = false
				o.CopyAccount = &AccountFacts{}
				return o, m
			}},
	}
	maria := flavours[1]
	mariaRows := []situation{
		{name: "MariaDB: no backup account", situation: SitPrimaryCorrectingCopyAcct, ready: true,
			reason: "correcting the backup account mysql-bootstrap-backup", actions: []ActionKind{ActCreateCopyAccount},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.CopyAccount, m.CopyAccountFP = &AccountFacts{}, ""
				return o, m
			}},
		{name: "MariaDB: the backup account lacks a privilege", situation: SitPrimaryCorrectingCopyAcct, ready: true,
			reason: "correcting the backup account", actions: []ActionKind{ActGrantCopyAccount},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.CopyAccount.Grants = sqldialect.ClassifyGrants([]string{"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO `b`@`127.0.0.1`"})
				return o, m
			}},
		{name: "MariaDB: SELECT on the backup account is reported; no TLS demanded of a local account", situation: SitPrimaryWritable, ready: true, reason: "primary is writable",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.CopyAccount.Grants.Extra = append(o.CopyAccount.Grants.Extra, "SELECT ON *.*")
				o.Account.RequireSSL = true
				return o, m
			},
			policy: func(p *Policy) { p.TLS, p.TLSCA = true, "/tls/ca.crt" },
			check: func(t *testing.T, _ flavourCase, d Decision) {
				if p := d.Problems["copy-grants"]; !strings.Contains(p, "beyond RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR, REPLICATION SLAVE ADMIN: SELECT ON *.*") {
					t.Errorf("problem %q", p)
				}
			}},
		{name: "MariaDB: the seed secret changed", situation: SitPrimaryCorrectingCopyAcct, ready: true,
			reason: "correcting the backup account", actions: []ActionKind{ActSetCopyPassword},
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.Credentials.CopyFP = newCopyFP
				o.CopyAccount.LoginTested = true
				return o, m
			}},
		{name: "MariaDB: a backup account we did not create", situation: SitPrimaryCopyAcctForeign, ready: true,
			reason: "the backup account mysql-bootstrap-backup exists but mysql-bootstrap did not create it",
			setup: func(t testing.TB, fc flavourCase) (Observation, Memory) {
				o, m := fc.primary(t)
				o.CopyAccount.Marked = false
				return o, m
			}},
	}
	for _, fr := range []struct {
		fc   flavourCase
		rows []situation
	}{{fc, rows}, {maria, mariaRows}} {
		for _, s := range fr.rows {
			fc := fr.fc
			t.Run(s.name, func(t *testing.T) {
				t.Parallel()
				o, m := s.setup(t, fc)
				p := testPolicy(wire.RolePrimary)
				if s.policy != nil {
					s.policy(&p)
				}
				d := Decide(o, m, p, o.At)
				if d.Situation != s.situation {
					t.Errorf("situation %q, want %q (%s)", d.Situation, s.situation, d.Reason)
				}
				if doc, ok := situationDoc(d.Situation); !ok || doc.Ready != d.Ready {
					t.Errorf("situation %q (ready=%v) is not in the table as such (%+v)", d.Situation, d.Ready, doc)
				}
				if d.Ready != s.ready || !strings.Contains(d.Reason, s.reason) {
					t.Errorf("got ready=%v %q\nwant ready=%v with %q", d.Ready, d.Reason, s.ready, s.reason)
				}
				if got := kinds(d.Actions); !slices.Equal(got, s.actions) {
					t.Errorf("actions %v, want %v", got, s.actions)
				}
				if s.check != nil {
					s.check(t, fc, d)
				}
			})
		}
	}
}
