package decide

import "github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"

// Situation names what decide concluded, as a code a test, a dashboard,
// an alert and a person can all point at (Decision.Situation, /status
// "situation", mysql_bootstrap_situation). Every exit of decide sets
// exactly one; the reason beside it is the sentence for the person.
type Situation string

// The situations, in the order decide looks at them. situations (below)
// says what each means.
const (
	SitSeeding               Situation = "seeding"
	SitSeedStalled           Situation = "seed-stalled"
	SitSeedStopping          Situation = "seed-stopping"
	SitServerDown            Situation = "server-down"
	SitServerUnsupported     Situation = "server-unsupported"
	SitObservationIncomplete Situation = "observation-incomplete"
	SitObservationStale      Situation = "observation-stale"
	SitServerRestarted       Situation = "server-restarted"
	SitSeedRestarting        Situation = "seed-restarting"
	SitCloneGuardUp          Situation = "clone-guard-up"
	SitSeedApplying          Situation = "seed-applying"
	SitSeedUnproven          Situation = "seed-unproven"
	SitOfflineMode           Situation = "offline-mode"
	// SitActionFailed is set by the reconcile loop, not by decide: a
	// statement it decided failed.
	SitActionFailed Situation = "action-failed"
	// SitFenced: PRIMARY=kubernetes, this pod must not take writes now
	// (Policy.Fence says why: its Lease lapsed, it hands the Lease over,
	// or no holder is known yet).
	SitFenced Situation = "fenced"

	// SitPrimaryApplyingRelay and SitPrimaryEndingReplication: a pod
	// that became primary (PRIMARY=kubernetes) still has its replication
	// channel: it applies what it received, then ends the channel,
	// before its guard runs.
	SitPrimaryApplyingRelay     Situation = "primary-applying-relay-log"
	SitPrimaryEndingReplication Situation = "primary-ending-replication"
	// SitPrimaryLacksFailoverSet: FAILOVER=auto, a pod that took the
	// Lease lacks part of what it held when it did.
	SitPrimaryLacksFailoverSet Situation = "primary-lacks-failover-set"
	SitPrimaryMakingWritable   Situation = "primary-making-writable"
	SitPrimaryLookingAtPeers   Situation = "primary-looking-at-peers"
	SitPrimaryWaitingForPeers  Situation = "primary-guard-waiting-for-peers"
	SitPrimaryWaitingForPerson Situation = "primary-guard-waiting-for-person"
	SitPrimaryRecovering       Situation = "primary-recovering"
	SitPrimaryAccountForeign   Situation = "primary-account-foreign"
	SitPrimaryCorrectingAcct   Situation = "primary-correcting-account"
	SitPrimaryWritable         Situation = "primary-writable"
	// SitPrimaryEnablingSemiSync: SEMI_SYNC, a writable primary whose
	// commits do not wait for a replica's acknowledgement yet.
	SitPrimaryEnablingSemiSync Situation = "primary-enabling-semi-sync"
	// SitPrimaryCorrectingCopyAcct and SitPrimaryCopyAcctForeign are a
	// writable primary (ready) whose copy account (MySQL's clone account,
	// MariaDB's backup account) is being corrected, or is not this tool's.
	SitPrimaryCorrectingCopyAcct Situation = "primary-correcting-copy-account"
	SitPrimaryCopyAcctForeign    Situation = "primary-copy-account-foreign"

	SitReplicaNotObserved    Situation = "replica-not-observed"
	SitReplicaMakingReadOnly Situation = "replica-making-read-only"
	// SitReplicaEndingSemiSyncSource: SEMI_SYNC, a replica (a former
	// primary) whose semi-sync source side is still on.
	SitReplicaEndingSemiSyncSource Situation = "replica-ending-semi-sync-source"
	// SitReplicaHoldingForFailover: FAILOVER=auto, the primary's Lease
	// expired; the receiver stays stopped until a new primary holds it.
	SitReplicaHoldingForFailover Situation = "replica-holding-for-failover"
	// SitReplicaDiscardingTail: FAILOVER=auto, a former primary that
	// lost its Lease to a failover holds transactions no replica
	// acknowledged: a copy of a donor's data replaces them.
	SitReplicaDiscardingTail    Situation = "replica-discarding-unacknowledged-tail"
	SitReplicaResettingFirst    Situation = "replica-resetting-first-start"
	SitReplicaOwnData           Situation = "replica-own-data"
	SitReplicaDiverged          Situation = "replica-diverged"
	SitReplicaPrimaryRecovering Situation = "replica-primary-recovering"
	SitReplicaServingRecovering Situation = "replica-serving-while-primary-recovers"
	SitReplicaSeedStarting      Situation = "replica-seed-starting"
	SitReplicaSeedWaiting       Situation = "replica-seed-waiting"
	SitReplicaSeedNoDonor       Situation = "replica-seed-no-donor"
	SitReplicaSeedDisabled      Situation = "replica-seed-disabled"
	SitReplicaNotConfigured     Situation = "replica-not-configured"
	SitReplicaWrongSource       Situation = "replica-wrong-source"
	SitReplicaSourceUnknown     Situation = "replica-source-unknown"
	SitReplicaErrant            Situation = "replica-errant"
	SitReplicaSQLError          Situation = "replica-sql-error"
	SitReplicaThreadsStopped    Situation = "replica-threads-stopped"
	SitReplicaCatchingUp        Situation = "replica-catching-up"
	SitReplicaStalenessUnknown  Situation = "replica-staleness-unknown"
	SitReplicaLagging           Situation = "replica-lagging"
	SitReplicaReplicating       Situation = "replica-replicating"
	SitReplicaServingStaleOK    Situation = "replica-serving-stale-ok"
)

// SituationDoc is one row of the situations table: what a code means,
// what the sidecar does about it, and what a person does.
type SituationDoc struct {
	Code    Situation
	Ready   bool
	Meaning string
	Sidecar string
	Person  string
}

// situations is the one table of every code (README's "Situations" is
// generated from it: go test ./bootstrap -run TestREADMESituations -update).
var situations = []SituationDoc{
	{SitSeeding, false, "A copy of a donor's data into this pod is under way.", "Nothing else; watches the copy's progress.", "Wait; /status seed shows the bytes copied."},
	{SitSeedStalled, false, "A running clone moved no byte for SEED_STALL_TIMEOUT.", "Stops it (KILL QUERY, on a connection of its own, given up after 5 s) and tries another donor as soon as it has ended.", "Nothing; if it repeats, check the donors' network."},
	{SitSeedStopping, false, "A clone stopped for a stall has not ended yet: MySQL ends it once its read from the lost donor times out, within about 30 s of the KILL.", "Waits; sends KILL QUERY again after another SEED_STALL_TIMEOUT without a byte; tries another donor once it has ended.", "Nothing; if it lasts minutes, check the server's error log."},
	{SitServerDown, false, "The local server does not answer.", "Waits for it; looks at everything again once it is back.", "Check the server container's log if it does not come back."},
	{SitServerUnsupported, false, "The server's version is not supported.", "Nothing.", "Use MySQL 8.0 or later, or MariaDB 10.5 or later."},
	{SitObservationIncomplete, false, "A fact about the local server could not be read.", "Nothing this pass; reads it again next pass.", "Check the reason (often a missing privilege)."},
	{SitObservationStale, false, "The last observation is older than the probe may trust.", "Nothing: the reconcile loop is stuck or slow.", "Check the sidecar's log; a restart of the sidecar clears a stuck loop."},
	{SitServerRestarted, false, "The server restarted since the last full pass (seen by a probe).", "Waits for the next full pass.", "Nothing."},
	{SitSeedRestarting, false, "A copy of a donor's data is in place.", "Shuts the server down so that it restarts on the copy.", "Nothing."},
	{SitCloneGuardUp, false, "A clone's guard (read-only lifted behind offline_mode) is still up and no clone runs.", "Puts read-only back, then offline_mode OFF.", "Nothing."},
	{SitSeedApplying, false, "The server was restored from a copy (MariaDB).", "Gives it the copy's GTID position.", "Nothing."},
	{SitSeedUnproven, false, "A copy is recorded as complete, but the server container has not proven the data directory holds it.", "Nothing: its position is not applied.", "Check the server container's seed-exec log; it checks again at its next start."},
	{SitOfflineMode, false, "offline_mode is ON: the server refuses every client without CONNECTION_ADMIN.", "Nothing.", "SET GLOBAL offline_mode = OFF once whatever set it is done."},
	{SitActionFailed, false, "A statement the sidecar decided failed (the reason is the server's error).", "Logs it, counts it (reconcileErrors) and decides again next pass.", "Read the reason: a missing privilege or a server refusing the statement needs a person."},

	{SitFenced, false, "PRIMARY=kubernetes: this pod must not take writes now: it holds the Lease but could not renew it in time (the API server is unreachable), it is handing the Lease over in a switchover, or it has not read the Lease yet.",
		"Makes the server read-only and keeps it so; reads the Lease every LEASE_RENEW_INTERVAL.", "Check that the API server is reachable from the pod and the Role grants leases get/update (the reason names the error)."},
	{SitPrimaryApplyingRelay, false, "The pod became primary (it holds the Lease) and has not applied everything its channel received.", "Waits for the applier; takes no writes.", "Nothing, unless the applier stopped on an error (the reason says)."},
	{SitPrimaryEndingReplication, false, "The pod became primary and still has the replication channel of its replica days.", "Stops replication and removes the channel (RESET REPLICA ALL), then runs the guard.", "Nothing."},
	{SitPrimaryLacksFailoverSet, false, "FAILOVER=auto: this pod took the Lease by a failover and lacks part of what it held then (its relay log, which a restart of its server drops): they may be writes the old primary acknowledged.",
		"Takes no writes.", "Bring back the pod that holds them (the old primary, or a replica), or take writes without them: mysql-bootstrap primary-override --use-own-data."},
	{SitPrimaryMakingWritable, false, "The primary is read-only and its guard passed.", "Makes it writable.", "Nothing."},
	{SitPrimaryLookingAtPeers, false, "The primary has not looked at its peers yet.", "Asks them before it takes writes.", "Nothing."},
	{SitPrimaryWaitingForPeers, false, "A peer that may hold transactions the primary lacks does not answer.", "Waits for it; takes no writes.", "Bring the peer back, or mysql-bootstrap primary-override --use-own-data (forget-peer POD for a pod removed for good)."},
	{SitPrimaryWaitingForPerson, false, "The pods disagree and none holds every transaction.", "Writes and wipes nothing.", "Choose: mysql-bootstrap primary-override --use-own-data, or --seed-from POD."},
	{SitPrimaryRecovering, false, "A peer holds transactions the primary lacks and every pod's.", "Copies that peer's data before it takes writes.", "Nothing."},
	{SitPrimaryAccountForeign, false, "REPLICATION_USER names an account this tool did not create, which differs from what it would make.", "Leaves the account alone; stays not ready.", "Set REPLICATION_USER to another name, or drop that account."},
	{SitPrimaryCorrectingAcct, false, "The replication account is missing or differs from what it should be.", "Creates or corrects it (grants, password, REQUIRE SSL).", "Nothing."},
	{SitPrimaryWritable, true, "The primary takes writes.", "Keeps its replication account right.", "Nothing."},
	{SitPrimaryEnablingSemiSync, false, "SEMI_SYNC: the primary is writable but its commits do not wait for a replica's acknowledgement (its replication account had to be created or changed first, which a waiting primary could not do before a replica connects, or someone turned semi-sync off).",
		"Turns the semi-sync source side on (replica side off); not ready until it is on.", "Nothing, unless the statement fails (MySQL: the semisync plugins not loaded; the reason says)."},
	{SitPrimaryCorrectingCopyAcct, true, "The primary takes writes; its copy account (MySQL: mysql-bootstrap-clone, which recipients CLONE through; MariaDB: mysql-bootstrap-backup, as which backup-server runs mariadb-backup) is missing or differs from what it should be, or the replication account still holds BACKUP_ADMIN.",
		"Creates or corrects the copy account (its privileges, the password derived from the seed secret, REQUIRE SSL for the clone account) and revokes BACKUP_ADMIN from the replication account.", "Nothing."},
	{SitPrimaryCopyAcctForeign, true, "The primary takes writes, but an account named as its copy account exists that this tool did not create.",
		"Leaves it alone; copies from the pods may fail.", "Drop that account (on the primary) so that the sidecar creates its own."},

	{SitReplicaNotObserved, false, "The replica's replication state was not observed yet.", "Observes it next pass.", "Nothing."},
	{SitReplicaMakingReadOnly, false, "The replica is writable.", "Makes it read-only (super_read_only on MySQL).", "Nothing."},
	{SitReplicaEndingSemiSyncSource, false, "SEMI_SYNC: this replica (a former primary) is still a semi-sync source; commits may wait on it for an acknowledgement that will not come.",
		"Ends every client session (KILL CONNECTION: their clients are told nothing committed; MySQL keeps new ones out with offline_mode meanwhile), then turns the source side off and makes the server read-only.", "Nothing; clients connected straight to this pod reconnect (through the mysql-primary Service)."},
	{SitReplicaHoldingForFailover, false, "FAILOVER=auto: the primary has not renewed its Lease for its read-only deadline (LEASE_DURATION - 2 x LEASE_RENEW_INTERVAL, on this pod's clock): it takes no writes if it runs at all.",
		"Stops the receiver, so that the old primary gets no acknowledgement the candidates do not see, and publishes what it received (/status failoverHold); once the Lease expires the most advanced replica takes it; a renewal ends the hold.", "Nothing; if no replica takes over, /status lease.failover on each says why."},
	{SitReplicaDiscardingTail, false, "FAILOVER=auto: this pod was the primary until a failover; it holds transactions the new primary lacks, which no replica acknowledged (SEMI_SYNC), so no client was told they committed.",
		"Replaces its data with a copy of a donor's (the discarded GTIDs are logged), then replicates.", "Nothing."},
	{SitReplicaResettingFirst, false, "A replica that never replicated holds only its first start's transactions.", "Removes their GTIDs (not the tables) before it replicates.", "Nothing."},
	{SitReplicaOwnData, false, "A replica that never replicated holds data of its own the primary lacks.", "Neither resets it nor replicates into it.", "Rebuild it from an empty volume, or remove that data and reset its binary logs."},
	{SitReplicaDiverged, false, "The primary's history no longer holds transactions this replica got from it.", "Stops replication and does not resume it.", "Rebuild the replica if the primary is right, or recover the primary from it."},
	{SitReplicaPrimaryRecovering, false, "The primary lacks transactions this replica holds and takes no writes; the data is too old or of unknown age to serve.", "Touches nothing.", "Nothing while the primary recovers."},
	{SitReplicaServingRecovering, true, "The primary lacks transactions this replica holds and takes no writes; the data is fresh enough.", "Touches nothing; serves reads.", "Nothing while the primary recovers."},
	{SitReplicaSeedStarting, false, "The replica needs a copy of a donor's data (the primary purged what it lacks, or its first start created accounts).", "Starts the copy.", "Nothing."},
	{SitReplicaSeedWaiting, false, "The last copy failed.", "Tries again after the seed back-off (30 s, doubling to 10 min).", "Check the seed's error in /status if it keeps failing."},
	{SitReplicaSeedNoDonor, false, "The replica needs a copy, but no donor holds every transaction it has.", "Copies nothing over them; waits for a donor.", "Bring back the primary or a replica that holds them."},
	{SitReplicaSeedDisabled, false, "The replica needs a copy, and AUTO_RESEED=false.", "Nothing.", "Empty its volume to rebuild it, or set AUTO_RESEED=true."},
	{SitReplicaNotConfigured, false, "Replication is not configured yet.", "Configures it (CHANGE, START).", "Nothing."},
	{SitReplicaWrongSource, false, "Replication does not point at the primary.", "Points it at the primary (CHANGE).", "Nothing."},
	{SitReplicaSourceUnknown, false, "The primary could not be asked for its transactions, and none are remembered.", "Waits for the primary.", "Check the primary and the replication login."},
	{SitReplicaErrant, false, "The replica has transactions the primary lacks (errant GTIDs).", "Does not restart replication into it.", "Rebuild the replica from the primary."},
	{SitReplicaSQLError, false, "The applier stopped on an error.", "Does not restart it: skipping would lose or diverge data.", "Read the error; fix it, or rebuild the replica."},
	{SitReplicaThreadsStopped, false, "The replication threads are not running.", "Starts them, with a back-off (1 s, doubling to 1 min).", "Nothing, unless it keeps stopping."},
	{SitReplicaCatchingUp, false, "The replica has not yet applied what the primary held when it started replicating, or, after its server restarted, what the primary held when it was first asked since (while the primary answers, the time kept from before the restart does not make it ready).", "Nothing; replication runs.", "Nothing."},
	{SitReplicaStalenessUnknown, false, "How old the replica's data is, is unknown.", "Nothing; replication runs or reconnects.", "Check the primary if it lasts."},
	{SitReplicaLagging, false, "The replica's data may be older than MAX_REPLICATION_LAG.", "Nothing; replication runs or reconnects.", "Check the primary and the link if it lasts."},
	{SitReplicaReplicating, true, "The replica replicates and its data is fresh enough.", "Keeps it so.", "Nothing."},
	{SitReplicaServingStaleOK, true, "The receiver is not connected, but the data is within MAX_REPLICATION_LAG.", "Keeps serving reads while it reconnects.", "Nothing, unless it lasts."},
}

// situationDoc returns the table's row for c.
func situationDoc(c Situation) (SituationDoc, bool) {
	for _, s := range situations {
		if s.Code == c {
			return s, true
		}
	}
	return SituationDoc{}, false
}

// guardOf is the Status.Guard code a situation implies ("" for none):
// Guard is kept on /status and mysql_bootstrap_guard for compatibility,
// and TestDecide checks that decide sets the two alike.
func guardOf(c Situation) string {
	switch c {
	case SitPrimaryWaitingForPeers:
		return wire.GuardWaitingForPeers
	case SitPrimaryWaitingForPerson:
		return wire.GuardWaitingForPerson
	case SitPrimaryRecovering:
		return wire.GuardRecovering
	}
	return ""
}
