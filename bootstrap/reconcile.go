package bootstrap

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// maxRounds bounds the observe → decide → act rounds of one pass: a pod
// that starts needs two or three (account, writable; read-only, CHANGE),
// and a pass that still has work after that leaves it to the next.
const maxRounds = 3

// reconciler runs passes: observe, decide, act, publish. It owns the
// memory; the published snapshot is its only output.
type reconciler struct {
	id     Identity
	log    *slog.Logger
	policy decide.Policy
	gather *gatherer
	exec   *executor
	state  *stateStore
	box    *statusBox
	creds  *credentials

	mem      decide.Memory
	restored bool // the state file was looked at
	errors   uint64
	version  string            // last server version logged
	problems map[string]string // conditions logged as present
	// forgetIgnored is why the forget-peer request last read was not
	// applied, as logged ("" when none was ignored).
	forgetIgnored string
	lastKey       string // last readiness logged
	// mariadb: the local server was seen to be MariaDB, which seeds over
	// backup-server's stream (logged once when it is plain HTTP).
	mariadb bool
}

// pass runs one reconcile and publishes its outcome.
func (r *reconciler) pass(ctx context.Context) wire.Status {
	ctx, cancel := context.WithTimeout(ctx, passTimeout)
	defer cancel()
	var (
		o      decide.Observation
		dec    decide.Decision
		actErr error
	)
	if rootChanged, replChanged := r.creds.refresh(); rootChanged || replChanged {
		r.log.Info("a password file changed: using the new password", "root", rootChanged, "replication", replChanged)
	}
	for round := 1; round <= maxRounds; round++ {
		var d *sqldialect.Dialect
		o, d = r.gather.gather(ctx, planFor(r.mem, r.creds.facts().ReplicationFP))
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return r.box.get().status // shutting down
		}
		r.restore(o)
		dec = decide.Decide(o, r.mem, r.policy, time.Now())
		r.logTransitions(o, dec)
		r.mem = dec.Memory
		if len(dec.Actions) == 0 || d == nil {
			break
		}
		if actErr = r.exec.run(ctx, d, dec.Actions); actErr != nil {
			if errors.Is(actErr, context.Canceled) && ctx.Err() != nil {
				return r.box.get().status
			}
			r.errors++
			r.log.Warn("reconcile action failed", "error", sqldialect.OneLine(actErr.Error()))
			break
		}
	}
	st := buildStatus(r.id, o, dec, r.mem)
	if r.policy.Hold != "" && r.id.Role == wire.RoleReplica {
		st.FailoverHold = failoverHold(r.policy.Hold, o, dec)
	}
	if r.policy.SemiSync {
		st.SemiSync = semiSyncStatus(o.Local.SemiSync)
	}
	st.Warnings = r.warnings(o)
	st.ReconcileErrors = r.errors
	if actErr != nil {
		st.ReconcileError = sqldialect.OneLine(actErr.Error())
		st.Ready, st.Reason, st.Situation = false, st.ReconcileError, string(decide.SitActionFailed)
	}
	r.logReadiness(st)
	if o.Local.Up && o.Local.Incomplete == "" && !o.Partial {
		var err error
		switch {
		case r.policy.Role == wire.RoleReplica:
			err = r.state.save(stateOf(o.Local, r.mem), o.At)
		default:
			// Unknown lineage is kept too: a restart must not find an
			// older record that the guard dropped.
			err = r.state.save(primaryStateOf(o.Local, r.mem), o.At)
		}
		if err != nil {
			r.problem("state", "cannot write the state file in STATE_DIR: "+sqldialect.OneLine(err.Error()))
		} else {
			r.problem("state", "")
		}
	}
	if o.Peers != nil && o.Peers.MemoryErr != nil {
		r.problem("peers", "cannot keep the peers seen in STATE_DIR: "+sqldialect.OneLine(o.Peers.MemoryErr.Error()))
	}
	if o.Peers != nil && o.Peers.ForgetIgnored != r.forgetIgnored {
		// The request is read at each listing of the peers: logged when
		// that changes.
		if o.Peers.ForgetIgnored != "" {
			r.log.Warn("a forget-peer request is ignored", "error", o.Peers.ForgetIgnored)
		} else {
			r.log.Info("no ignored forget-peer request any more", "was", r.forgetIgnored)
		}
		r.forgetIgnored = o.Peers.ForgetIgnored
	}
	r.box.set(snapshot{status: st, obs: o, mem: r.mem, policy: r.policy})
	return st
}

// restore merges the state file into memory once, on the first complete
// observation of the local server it belongs to.
func (r *reconciler) restore(o decide.Observation) {
	if r.restored || !o.Local.Up || o.Local.Incomplete != "" || o.Local.Unsupported != "" {
		return
	}
	r.restored = true
	s, ok, err := r.state.load()
	if err != nil {
		r.log.Warn("ignoring the state file", "dir", r.state.dir, "error", sqldialect.OneLine(err.Error()))
		return
	}
	if !ok {
		return
	}
	if r.policy.Role == wire.RolePrimary {
		mem, ok, err := s.restoreLineage(o.Local, r.mem)
		switch {
		case err != nil:
			r.log.Warn("ignoring the state file", "dir", r.state.dir, "error", sqldialect.OneLine(err.Error()))
		case ok:
			r.mem = mem
			r.log.Info("restored the lineage this primary took writes with", "origin", mem.Lineage.Origin, "gtids", mem.Lineage.GTIDs.String(),
				"intact", decide.LineageIntact(mem.Lineage, o.Local))
		}
		return
	}
	mem, ok, err := s.restore(o.Local, r.mem)
	switch {
	case err != nil:
		r.log.Warn("ignoring the state file", "dir", r.state.dir, "error", sqldialect.OneLine(err.Error()))
	case !ok:
		r.log.Info("ignoring the state file: it was written for other data", "dir", r.state.dir)
	default:
		r.mem = mem
		r.log.Info("restored what the last sidecar knew", "fresh_as_of", mem.FreshAsOf.UTC().Format(time.RFC3339), "caught_up", mem.CaughtUp)
	}
}

// warnings are the configuration's standing weaknesses for /status: on
// MariaDB without a CA, seed copies travel in clear (logged once, when
// the server is first seen to be MariaDB). MySQL's CLONE is verified with
// clone_ssl_ca over the server's port whenever REPLICATION_TLS_CA_FILE is
// set, and a CA is not asked of it.
func (r *reconciler) warnings(o decide.Observation) []string {
	if o.Local.Up && o.Local.Unsupported == "" && o.Local.Server.Flavor == sqldialect.MariaDB && !r.mariadb {
		r.mariadb = true
		if r.policy.TLSCA == "" {
			r.log.Warn(seedPlaintextWarning)
		}
	}
	if !r.mariadb || r.policy.TLSCA != "" {
		return nil
	}
	return []string{wire.WarningSeedPlaintext + ": " + seedPlaintextWarning}
}

// logTransitions logs what changed between the old memory and a decision:
// the server seen, a restart, and each problem when it starts and clears.
func (r *reconciler) logTransitions(o decide.Observation, dec decide.Decision) {
	l := o.Local
	if l.Up && l.Version != r.version {
		r.log.Info("local server detected", "flavor", l.Server.Flavor.String(), "version", l.Version)
		r.version = l.Version
	}
	if old := r.mem.ServerStartedAt; !old.IsZero() && dec.Memory.ServerStartedAt.Sub(old) > decide.RestartTolerance {
		r.log.Info("local server restarted", "started_at", dec.Memory.ServerStartedAt.UTC().Format(time.RFC3339))
	}
	for _, k := range slices.Sorted(maps.Keys(r.problems)) {
		if _, still := dec.Problems[k]; !still && k != "state" {
			r.problem(k, "")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(dec.Problems)) {
		r.problem(k, dec.Problems[k])
	}
}

// problem logs condition key when its message changes: a warning when it
// appears or changes, a note when it clears ("").
func (r *reconciler) problem(key, msg string) {
	if r.problems == nil {
		r.problems = map[string]string{}
	}
	old, had := r.problems[key]
	switch {
	case msg == "" && had:
		delete(r.problems, key)
		r.log.Info("problem cleared", "problem", key, "was", old)
	case msg != "" && sameButNumbers(msg, old):
		// The same problem with other counts (MySQL's receiver numbers its
		// reconnection attempts): not news.
	case msg != "":
		r.problems[key] = msg
		r.log.Warn("problem", "problem", key, "error", msg)
	}
}

// sameButNumbers reports whether a and b differ only in their digits.
func sameButNumbers(a, b string) bool {
	strip := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return '#'
			}
			return r
		}, s)
	}
	return a != "" && b != "" && strip(a) == strip(b)
}

// logReadiness logs changes of readiness, and of the reason while not
// ready; a ready replica's reason carries its lag, which changes all the
// time.
func (r *reconciler) logReadiness(st wire.Status) {
	key := "ready"
	if !st.Ready {
		key = st.Reason
	}
	if key == r.lastKey {
		return
	}
	r.lastKey = key
	args := []any{"ready", st.Ready, "reason", st.Reason, "role", st.Role}
	if st.Ready {
		r.log.Info("readiness changed", args...)
	} else {
		r.log.Warn("readiness changed", args...)
	}
}

// buildStatus is the Status an observation and its decision make.
func buildStatus(id Identity, o decide.Observation, dec decide.Decision, m decide.Memory) wire.Status {
	l := o.Local
	st := wire.Status{
		Pod: id.Pod, Ordinal: id.Ordinal, Role: id.Role, ServerID: id.ServerID,
		PodHost: id.PodHost, PrimaryHost: id.PrimaryHost,
		ServerUp: l.Up, Version: l.Version, ReadOnly: l.ReadOnly, SuperReadOnly: l.SuperReadOnly,
		ServerStartedAt: l.StartedAt, Ready: dec.Ready, Reason: dec.Reason, LastReconcile: o.At,
		Guard: dec.Guard, Situation: string(dec.Situation),
	}
	if l.Up && l.Unsupported == "" {
		st.Flavor = l.Server.Flavor.String()
		st.GTIDExecuted = l.GTIDs.String()
		st.GTIDPurged = l.Purged.String()
		st.GTIDOrigin = l.Origin
	}
	st.Seed = seedStatus(o.Seed, m)
	st.OfflineMode = l.OfflineMode
	st.KnownPeers = o.PeerMemory.Known()
	st.ForgottenPeers = o.PeerMemory.Forgotten
	if o.Peers != nil && o.Peers.Memory.Seen != nil {
		// This pass's listing is newer.
		st.KnownPeers, st.ForgottenPeers = o.Peers.Memory.Known(), o.Peers.Memory.Forgotten
	}
	st.Credentials = &wire.CredentialStatus{ReplicationTag: o.Credentials.ReplicationFP}
	if id.Role == wire.RoleReplica {
		st.Credentials.ChannelTag = m.ChannelFP
		if m.ChannelFP != "" {
			current := m.ChannelFP == o.Credentials.ReplicationFP
			st.Credentials.ChannelCurrent = &current
		}
	}
	if a := o.Account; a != nil && id.Role == wire.RolePrimary {
		st.Account = &wire.AccountStatus{Exists: a.Exists, Managed: a.Marked, RequireSSL: a.RequireSSL, OldPasswordRetained: a.OldPasswordRetained}
		if v := dec.Account; v != nil {
			st.Account.ExtraGrants, st.Account.WaitingFor = v.ExtraGrants, v.WaitingFor
		}
	}
	if r := o.Replica; r != nil && id.Role == wire.RoleReplica {
		ch := r.Channel
		rs := &wire.ReplicationStatus{
			Configured:   ch.Configured,
			SourceHost:   ch.SourceHost,
			SourcePort:   ch.SourcePort,
			AutoPosition: ch.AutoPosition,
			IOState:      string(ch.IO),
			IORunning:    ch.IO == sqldialect.ThreadRunning,
			SQLRunning:   ch.SQL == sqldialect.ThreadRunning,
			LagSeconds:   ch.Lag,
			LastError:    ch.LastError(),
			Changes:      m.Changes,
			Restarts:     m.Restarts,
			Resets:       m.Resets,
			CaughtUp:     m.CaughtUp,
		}
		if !ch.Configured {
			rs.IOState = ""
		}
		if v := dec.Replica; v != nil {
			rs.ErrantGTIDs = v.Errant
			rs.ErrantKnown = v.ErrantKnown
			rs.PrimaryError = v.SourceError
			rs.ChangeTries = v.ChangeTries
			rs.WritersDespiteReadOnly = v.Writers
			if !v.NextChange.IsZero() {
				t := v.NextChange
				rs.NextChange = &t
			}
			if v.Staleness != nil {
				s := int64(v.Staleness.Round(time.Second) / time.Second)
				rs.StalenessSeconds = &s
			}
		}
		st.Replication = rs
	}
	return st
}

// seedStatus is /status's view of a seed (nil when there is none).
func seedStatus(f decide.SeedFacts, m decide.Memory) *wire.SeedStatus {
	var state string
	switch {
	case f.Running:
		state = "running"
	case f.RestartNeeded:
		state = "restarting"
	case f.ResultPending:
		state = "applying"
	case f.Err != "":
		state = "failed"
	}
	if state == "" && m.Seeds == 0 {
		return nil
	}
	s := &wire.SeedStatus{State: state, Donor: f.Donor, Phase: f.Phase, Bytes: f.Bytes, Estimate: f.Estimate, Rate: f.Rate,
		Error: f.Err, Seeds: m.Seeds}
	if s.Donor == "" {
		s.Donor = m.SeedDonor
	}
	if !f.Started.IsZero() {
		t := f.Started
		s.Started = &t
	}
	return s
}

// policyFor is the decision policy of a pod.
func policyFor(cfg *Config, id Identity) decide.Policy {
	return decide.Policy{
		Role:         id.Role,
		PrimaryHost:  id.PrimaryHost,
		PrimaryMoves: cfg.PrimaryMode == PrimaryKubernetes,
		Port:         cfg.MySQLPort,
		User:         cfg.ReplicationUser,
		MaxLag:       cfg.MaxReplicationLag,
		StaleAfter:   3*cfg.ReconcileInterval + 10*time.Second,
		TLS:          cfg.ReplicationTLS,
		TLSCA:        cfg.TLSCAFile,
		TLSCert:      cfg.TLSCertFile,
		TLSKey:       cfg.TLSKeyFile,
		Pod:          id.Pod,
		AutoReseed:   cfg.AutoReseed,
		SeedStall:    cfg.SeedStallTimeout,
		SemiSync:     cfg.SemiSync,
	}
}

// semiSyncStatus is /status's semiSync of a pod with SEMI_SYNC set; f is
// nil when the state could not be read.
func semiSyncStatus(f *decide.SemiSyncFacts) *wire.SemiSyncStatus {
	st := &wire.SemiSyncStatus{Enabled: true}
	if f != nil {
		source, replica := f.Source, f.Replica
		st.Source, st.Replica = &source, &replica
	}
	return st
}
