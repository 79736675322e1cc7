package bootstrap

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// A switchover moves the primary's Lease to a replica (README: The
// primary that can move). `mysql-bootstrap switchover --to POD` writes a
// request on the Lease; the holder's sidecar carries it out:
//
//  1. it checks the target: a replica of this primary, ready, no
//     transaction this primary lacks (errant), data at most --max-lag old;
//     otherwise the request is refused and nothing changes;
//  2. it makes its server read-only (the fence: nothing more is
//     acknowledged) and reads its final GTID position;
//  3. it waits, at most --wait, for the target to have applied that
//     position (WAIT_FOR_EXECUTED_GTID_SET, MASTER_GTID_WAIT), renewing
//     the Lease meanwhile; if the target cannot, the switchover is
//     aborted and this pod takes writes again;
//  4. it writes the Lease with the target as holder (optimistic
//     concurrency: one write wins), and wakes the target;
//  5. the target ends its replication, passes its guard and takes
//     writes; this pod replicates from it. The role labels move the
//     <sts>-primary Service.

// switchoverRequest is the request `switchover` writes on the Lease.
type switchoverRequest struct {
	ID string `json:"id"`
	// To is a pod of the StatefulSet, or anyReadyReplica.
	To            string    `json:"to"`
	MaxLagSeconds int64     `json:"maxLagSeconds"`
	WaitSeconds   int64     `json:"waitSeconds"`
	Requested     time.Time `json:"requested"`
	By            string    `json:"by,omitempty"`
}

// anyReadyReplica asks for the most advanced ready replica.
const anyReadyReplica = "any-ready-replica"

// requestMaxAge: a request older than this (its holder was away) is
// refused rather than carried out long after it was made.
const requestMaxAge = 2 * time.Minute

// switchoverOps are the parts of a switchover that talk to servers and
// pods; the sidecar provides them (sidecarSwitchover), tests fake them.
type switchoverOps interface {
	// check chooses and checks the target: its pod name, or the reason
	// the switchover is refused.
	check(ctx context.Context, req switchoverRequest) (target, refusal string)
	// position reads the local server's final GTID position (after the
	// fence): what the target must have applied.
	position(ctx context.Context) (string, error)
	// applied waits at most d for the target to have applied pos; false
	// with no error when it has not yet.
	applied(ctx context.Context, target, pos string, d time.Duration) (bool, error)
	// errant reads, after the wait, the target's transactions and this
	// server's (read-only now, so final), and describes how they differ
	// ("" when they are the same): the last check before the Lease moves.
	errant(ctx context.Context, target string) (string, error)
	// wake asks the target's sidecar to read the Lease now.
	wake(ctx context.Context, target string)
}

// serveRequest carries out the switchover request on the Lease, if any,
// while this pod holds it.
func (k *leaseKeeper) serveRequest(ctx context.Context) {
	k.mu.Lock()
	l := k.lease
	k.mu.Unlock()
	if k.ops == nil || l == nil || l.HolderIdentity != k.self {
		return
	}
	raw := l.Annotations[SwitchoverAnnotation]
	if raw == "" {
		return
	}
	var req switchoverRequest
	res := wire.SwitchoverStatus{From: k.self, Started: k.now().UTC()}
	if err := json.Unmarshal([]byte(raw), &req); err != nil || req.ID == "" || req.To == "" {
		res.State, res.Reason = wire.SwitchoverRefused, "the request on the Lease is not one `mysql-bootstrap switchover` writes"
		k.finish(ctx, res)
		return
	}
	res.ID, res.To = req.ID, req.To
	// A request written by hand is held to the command's bounds.
	req.WaitSeconds = min(max(req.WaitSeconds, 1), 60)
	req.MaxLagSeconds = max(req.MaxLagSeconds, 1)
	if age := k.now().Sub(req.Requested); age > requestMaxAge {
		res.State, res.Reason = wire.SwitchoverRefused, fmt.Sprintf("the request is %s old (at most %s): run switchover again", age.Round(time.Second), requestMaxAge)
		k.finish(ctx, res)
		return
	}
	k.carryOut(ctx, req, res)
}

// carryOut runs steps 1 to 4 (see above).
func (k *leaseKeeper) carryOut(ctx context.Context, req switchoverRequest, res wire.SwitchoverStatus) {
	k.log.Info("switchover requested", "id", req.ID, "to", req.To, "by", req.By)
	target, refusal := k.ops.check(ctx, req)
	if refusal != "" {
		res.State, res.Reason = wire.SwitchoverRefused, refusal
		k.finish(ctx, res)
		return
	}
	res.To = target
	k.mu.Lock()
	k.handover = target
	k.mu.Unlock()
	if err := k.fence("switchover to " + target); err != nil {
		// The server may still take writes: the Lease must not move.
		k.abort(ctx, res, "cannot make this primary read-only: "+sqldialect.OneLine(err.Error()))
		return
	}
	fenced := k.now()
	k.changed()
	k.setLabel(roleLabelReplica)
	k.syncLabel(ctx)

	pos, err := k.ops.position(ctx)
	if err != nil {
		k.abort(ctx, res, "cannot read this primary's final GTID position: "+sqldialect.OneLine(err.Error()))
		return
	}
	res.GTIDs = pos
	wait := time.Duration(req.WaitSeconds) * time.Second
	deadline := fenced.Add(wait)
	for {
		chunk := min(time.Second, max(deadline.Sub(k.now()), 0))
		ok, err := k.ops.applied(ctx, target, pos, chunk)
		if err != nil {
			k.abort(ctx, res, fmt.Sprintf("cannot ask %s whether it applied %s: %s", target, pos, sqldialect.OneLine(err.Error())))
			return
		}
		if ok {
			break
		}
		if !k.now().Before(deadline) {
			k.abort(ctx, res, fmt.Sprintf("%s had not applied this primary's last transactions (%s) within --wait %s", target, pos, wait))
			return
		}
		// Still the holder while it waits.
		k.renewLease(ctx, k.now())
	}

	// The target holds exactly this primary's history, nothing more or less.
	if errant, err := k.ops.errant(ctx, target); err != nil || errant != "" {
		reason := fmt.Sprintf("%s's transactions differ from this primary's final ones (%s): it cannot take over without losing or diverging data", target, errant)
		if err != nil {
			reason = "cannot compare " + target + "'s transactions with this primary's: " + sqldialect.OneLine(err.Error())
		}
		k.abort(ctx, res, reason)
		return
	}
	// The Lease moves, with the outcome, in one write.
	res.State, res.Finished = wire.SwitchoverDone, k.now().UTC()
	res.ReadOnlyMillis = res.Finished.Sub(fenced).Milliseconds()
	moved, err := k.moveLease(ctx, target, res)
	if errors.Is(err, errLeaseTaken) || errors.Is(err, kube.ErrConflict) {
		k.abort(ctx, res, "cannot write the Lease: "+sqldialect.OneLine(err.Error()))
		return
	}
	if err != nil {
		// The write may have been applied with its answer lost: this pod
		// stays fenced (handover set) until a read of the Lease says
		// whether it moved (resolveHandover).
		k.log.Error("switchover: the Lease write's outcome is unknown; staying read-only until the Lease is read", "to", target, "error", sqldialect.OneLine(err.Error()))
		k.mu.Lock()
		k.unsettled = &res
		k.mu.Unlock()
		return
	}
	k.mu.Lock()
	k.handover = ""
	k.renewedAt = time.Time{}
	if k.fenceTimer != nil {
		k.fenceTimer.Stop()
	}
	k.mu.Unlock()
	k.seen(moved)
	k.ops.wake(ctx, target)
	k.changed()
	k.log.Info("switchover done: the Lease moved", "id", req.ID, "to", target, "gtids", pos, "read_only_ms", res.ReadOnlyMillis)
	msg := fmt.Sprintf("switchover %s: %s -> %s, the old primary read-only for %d ms", req.ID, k.self, target, res.ReadOnlyMillis)
	k.event(ctx, "Normal", "SwitchoverDone", msg)
	k.eventOn(ctx, target, "Normal", "SwitchoverDone", msg)
}

// moveLease writes the Lease with target as holder and res as the last
// outcome, the request removed. A conflict is retried once on a fresh
// read, if this pod still holds it.
func (k *leaseKeeper) moveLease(ctx context.Context, target string, res wire.SwitchoverStatus) (*kube.Lease, error) {
	k.mu.Lock()
	l := k.lease
	k.mu.Unlock()
	for try := 0; ; try++ {
		// The Lease moves by a switchover: a failover record goes.
		n := annotated(l, map[string]any{SwitchoverResultAnnotation: res}, SwitchoverAnnotation, FailoverAnnotation)
		now := k.now()
		n.HolderIdentity, n.AcquireTime, n.RenewTime = target, now, now
		n.LeaseTransitions++
		cctx, cancel := k.call(ctx)
		got, err := k.api.UpdateLease(cctx, &n)
		cancel()
		if err == nil || !errors.Is(err, kube.ErrConflict) || try > 0 {
			return got, err
		}
		cctx, cancel = k.call(ctx)
		l, err = k.api.GetLease(cctx, k.name)
		cancel()
		if err != nil {
			return nil, err
		}
		if l.HolderIdentity != k.self {
			return nil, fmt.Errorf("%w: the Lease is held by %q now", errLeaseTaken, l.HolderIdentity)
		}
	}
}

// errLeaseTaken: the Lease changed hands while a switchover waited.
var errLeaseTaken = errors.New("it changed hands")

// abort ends a switchover that fenced this pod: the Lease stays, the
// outcome is recorded, and the reconcile loop makes the server writable
// again (its guard passes at once: its data is what it took writes with).
func (k *leaseKeeper) abort(ctx context.Context, res wire.SwitchoverStatus, reason string) {
	k.mu.Lock()
	k.handover = ""
	k.mu.Unlock()
	res.State, res.Reason = wire.SwitchoverAborted, reason
	k.finish(ctx, res)
	k.changed()
}

// finish records a refused or aborted switchover on the Lease (the
// request removed) and in an Event.
func (k *leaseKeeper) finish(ctx context.Context, res wire.SwitchoverStatus) {
	res.Finished = k.now().UTC()
	k.log.Warn("switchover "+res.State, "id", res.ID, "to", res.To, "reason", res.Reason)
	for try := 0; try < 2; try++ {
		k.mu.Lock()
		l := k.lease
		k.mu.Unlock()
		if l == nil || l.HolderIdentity != k.self {
			break
		}
		n := annotated(l, map[string]any{SwitchoverResultAnnotation: res}, SwitchoverAnnotation)
		cctx, cancel := k.call(ctx)
		got, err := k.api.UpdateLease(cctx, &n)
		cancel()
		if err == nil {
			k.seen(got)
			break
		}
		k.failed("record the switchover's outcome on the Lease", err)
		cctx, cancel = k.call(ctx)
		if got, err := k.api.GetLease(cctx, k.name); err == nil {
			k.seen(got)
		}
		cancel()
	}
	k.event(ctx, "Warning", "Switchover"+upperFirst(res.State), fmt.Sprintf("switchover %s to %s %s: %s", res.ID, res.To, res.State, res.Reason))
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// The role label's values.
const (
	roleLabelPrimary = "primary"
	roleLabelReplica = "replica"
)

// sidecarSwitchover is the sidecar's side of a switchover. It runs in the
// keeper's goroutine: id is its own copy of the pod's identity (the
// reconcile loop changes the sidecar's role and primary; the fields used
// here never change).
type sidecarSwitchover struct {
	s  *Sidecar
	id Identity
}

// hostOf is a pod's stable name.
func (o sidecarSwitchover) hostOf(pod string) string { return pod + "." + o.id.ServiceHost }

func (o sidecarSwitchover) check(ctx context.Context, req switchoverRequest) (string, string) {
	s := o.s
	if s.peers == nil {
		return "", "this pod cannot find its peers (no SERVICE_NAME)"
	}
	mine, d, err := o.localGTIDs(ctx)
	if err != nil {
		return "", "cannot read this primary's transactions: " + sqldialect.OneLine(err.Error())
	}
	maxLag := time.Duration(req.MaxLagSeconds) * time.Second
	if req.To == anyReadyReplica {
		peers, err := s.peers.find(ctx)
		if err != nil {
			return "", "cannot list the replicas: " + sqldialect.OneLine(err.Error())
		}
		best, bestCount, reasons := "", uint64(0), []string{}
		for _, p := range peers {
			st := p.Status
			if st == nil || st.Pod == o.id.Pod {
				continue
			}
			if why := targetRefusal(st, mine, d, o.id.PodHost, maxLag); why != "" {
				reasons = append(reasons, why)
				continue
			}
			set, _ := sqldialect.ParseGTIDSet(d.Server().Flavor, st.GTIDExecuted)
			if n := set.Count(); best == "" || n > bestCount {
				best, bestCount = st.Pod, n
			}
		}
		if best == "" {
			if len(reasons) == 0 {
				reasons = []string{"none answers"}
			}
			return "", "no replica can take over: " + strings.Join(reasons, "; ")
		}
		return best, o.freshErrant(ctx, best)
	}
	if _, err := o.id.PeerPod(o.hostOf(req.To)); err != nil {
		return "", "--to " + req.To + ": not another pod of StatefulSet " + o.id.StatefulSet
	}
	st, err := s.peers.statusOf(ctx, o.hostOf(req.To)+".")
	if err != nil {
		return "", req.To + " does not answer on " + PathStatus + ": " + sqldialect.OneLine(err.Error())
	}
	if why := targetRefusal(st, mine, d, o.id.PodHost, maxLag); why != "" {
		return "", why
	}
	return req.To, o.freshErrant(ctx, req.To)
}

// freshErrant compares the target's transactions, read now over SQL,
// with this primary's, read after them (this primary takes writes until
// the fence: what the target got from it before is in a later read):
// its /status may be a pass old, and an errant write since must refuse
// the switchover as surely as one it reports.
func (o sidecarSwitchover) freshErrant(ctx context.Context, target string) string {
	theirs, mine, err := o.bothGTIDs(ctx, target)
	extra := theirs.Minus(mine).String()
	if err != nil {
		return "cannot compare " + target + "'s transactions with this primary's: " + sqldialect.OneLine(err.Error())
	}
	if extra != "" {
		return target + " has transactions this primary lacks (errant GTIDs " + extra + "): it cannot take over without losing or diverging data; rebuild it from the primary"
	}
	return ""
}

// targetGTIDs reads the target's transactions over SQL, as the
// replication user.
func (o sidecarSwitchover) targetGTIDs(ctx context.Context, target string) (sqldialect.GTIDSet, error) {
	d, err := o.dialect(ctx)
	if err != nil {
		return sqldialect.GTIDSet{}, err
	}
	db := o.s.peerDB(o.hostOf(target))
	defer db.Close()
	var raw string
	if err := db.QueryRowContext(ctx, d.GTIDExecutedQuery()).Scan(&raw); err != nil {
		return sqldialect.GTIDSet{}, err
	}
	return sqldialect.ParseGTIDSet(d.Server().Flavor, raw)
}

// bothGTIDs reads the target's transactions, then this server's: the
// order matters while this server takes writes (a transaction replicated
// between the two reads is in both).
func (o sidecarSwitchover) bothGTIDs(ctx context.Context, target string) (theirs, mine sqldialect.GTIDSet, err error) {
	if theirs, err = o.targetGTIDs(ctx, target); err != nil {
		return theirs, mine, err
	}
	mine, _, err = o.localGTIDs(ctx)
	return theirs, mine, err
}

// errant is the last check before the Lease moves, this server
// read-only: the target must hold exactly this server's transactions.
// One it lacks was written past the fence after the position was read
// (MariaDB's read_only does not bind READ_ONLY ADMIN): the Lease moving
// would lose it.
func (o sidecarSwitchover) errant(ctx context.Context, target string) (string, error) {
	theirs, mine, err := o.bothGTIDs(ctx, target)
	if err != nil {
		return "", err
	}
	var diff []string
	if extra := theirs.Minus(mine); !extra.IsEmpty() {
		diff = append(diff, "errant GTIDs "+extra.String())
	}
	if lacks := mine.Minus(theirs); !lacks.IsEmpty() {
		diff = append(diff, "lacks "+lacks.String()+", written here after the final position was read")
	}
	return strings.Join(diff, "; "), nil
}

// targetRefusal says why st cannot take over from a primary holding
// mine ("" when it can).
func targetRefusal(st *wire.Status, mine sqldialect.GTIDSet, d *sqldialect.Dialect, primaryHost string, maxLag time.Duration) string {
	set, err := sqldialect.ParseGTIDSet(d.Server().Flavor, st.GTIDExecuted)
	switch {
	case st.Role != wire.RoleReplica:
		return st.Pod + " is not a replica (" + string(st.Role) + ")"
	case !st.ServerUp || err != nil:
		return st.Pod + "'s server does not answer"
	case !mine.Contains(set):
		return st.Pod + " has transactions this primary lacks (errant GTIDs " + set.Minus(mine).String() + "): it cannot take over without losing or diverging data; rebuild it from the primary"
	case !st.Ready:
		return st.Pod + " is not ready: " + st.Reason
	case st.Replication == nil || !st.Replication.Configured || st.Replication.SourceHost != primaryHost:
		return st.Pod + " does not replicate from this primary"
	case st.Replication.StalenessSeconds == nil:
		return st.Pod + "'s lag is unknown"
	case time.Duration(*st.Replication.StalenessSeconds)*time.Second > maxLag:
		return fmt.Sprintf("%s lags: its data may be %ds old, more than --max-lag %s", st.Pod, *st.Replication.StalenessSeconds, maxLag)
	}
	return ""
}

// localGTIDs reads the local server's transactions now.
func (o sidecarSwitchover) localGTIDs(ctx context.Context) (sqldialect.GTIDSet, *sqldialect.Dialect, error) {
	d, err := o.dialect(ctx)
	if err != nil {
		return sqldialect.GTIDSet{}, nil, err
	}
	var raw string
	if err := o.s.local.QueryRowContext(ctx, d.GTIDExecutedQuery()).Scan(&raw); err != nil {
		return sqldialect.GTIDSet{}, nil, err
	}
	set, err := sqldialect.ParseGTIDSet(d.Server().Flavor, raw)
	return set, d, err
}

// dialect is the local server's: as the last reconcile pass saw it, or
// asked now when no pass has.
func (o sidecarSwitchover) dialect(ctx context.Context) (*sqldialect.Dialect, error) {
	return o.s.dialectOn(ctx, o.s.local)
}

func (o sidecarSwitchover) position(ctx context.Context) (string, error) {
	d, err := o.dialect(ctx)
	if err != nil {
		return "", err
	}
	q := "SELECT @@GLOBAL.gtid_executed"
	if d.Server().Flavor == sqldialect.MariaDB {
		q = "SELECT @@GLOBAL.gtid_binlog_pos"
	}
	var pos string
	err = o.s.local.QueryRowContext(ctx, q).Scan(&pos)
	return pos, err
}

func (o sidecarSwitchover) applied(ctx context.Context, target, pos string, d time.Duration) (bool, error) {
	db := o.s.peerDB(o.hostOf(target))
	defer db.Close()
	// Whole seconds, rounded up, at least 1: with 0, MySQL's
	// WAIT_FOR_EXECUTED_GTID_SET waits for ever and MariaDB's
	// MASTER_GTID_WAIT does not wait at all.
	secs := max(int64((d+time.Second-1)/time.Second), 1)
	flavor, err := o.dialect(ctx)
	if err != nil {
		return false, err
	}
	var r sql.NullInt64
	if flavor.Server().Flavor == sqldialect.MariaDB {
		err = db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos, secs).Scan(&r)
		return err == nil && r.Valid && r.Int64 == 0, err
	}
	err = db.QueryRowContext(ctx, "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)", pos, secs).Scan(&r)
	return err == nil && r.Valid && r.Int64 == 0, err
}

func (o sidecarSwitchover) wake(ctx context.Context, target string) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := wakePeer(ctx, o.hostOf(target), o.s.cfg.HTTPAddr); err != nil {
		o.s.log.Info("could not wake the new primary's sidecar (it reads the Lease within LEASE_RENEW_INTERVAL)", "pod", target, "error", sqldialect.OneLine(err.Error()))
	}
}

// PathWake is where a sidecar is asked to read the Lease now (POST, no
// body): a switchover's old primary wakes its target.
const PathWake = "/wake"

// wakePeer POSTs /wake to the sidecar at host (the port of HTTP_ADDR).
func wakePeer(ctx context.Context, host, httpAddr string) error {
	_, port, _ := net.SplitHostPort(httpAddr)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+net.JoinHostPort(host, port)+PathWake, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s", resp.Status)
	}
	return nil
}

// peerDB is a pool of one connection to another pod's server as the
// replication user (verified TLS to its stable name with a CA).
func (s *Sidecar) peerDB(host string) *sql.DB {
	db := s.replicationDB(host, host+".")
	db.SetMaxOpenConns(1)
	return db
}

// newRequestID is a short random id for a switchover.
func newRequestID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// switchoverAPI is what the switchover command asks of the API.
type switchoverAPI interface {
	GetLease(ctx context.Context, name string) (*kube.Lease, error)
	UpdateLease(ctx context.Context, l *kube.Lease) (*kube.Lease, error)
}

// newSwitchoverAPI is the in-cluster client; tests replace it.
var newSwitchoverAPI = func(namespace string) (switchoverAPI, error) { return kube.InCluster(namespace) }

// wakeHolder asks the holder's sidecar to read the Lease now (wakePeer);
// tests replace it.
var wakeHolder = wakePeer

// runSwitchover writes a switchover request on the Lease, wakes the
// holder and waits for the outcome:
//
//	mysql-bootstrap switchover --to mysql-1
//
// Exit 0 when the Lease moved (or the target already holds it), 1 when
// the holder refused or aborted it (the reason is printed), 3 when no
// outcome came within --timeout, 2 for bad arguments.
func runSwitchover(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	fs := newFlagSet("switchover", stdio)
	to := fs.String("to", "", "the pod to make primary, or any-ready-replica (the most advanced ready replica)")
	maxLag := fs.Duration("max-lag", 5*time.Second, "refuse a target whose data may be older than this")
	wait := fs.Duration("wait", 10*time.Second, "how long the old primary, read-only, waits for the target to apply its last transactions before it aborts and takes writes again")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for the outcome")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: switchover takes no arguments besides its flags, got %q", ErrUsage, fs.Args())
	}
	cfg, id, err := loadIdentity(ctx, loader, Need{Service: true})
	if err != nil {
		return err
	}
	switch {
	case cfg.PrimaryMode != PrimaryKubernetes:
		return invalidf("switchover needs PRIMARY=kubernetes (PRIMARY=%s: the primary is always pod %s-0)", cfg.PrimaryMode, id.StatefulSet)
	case *to == "":
		return fmt.Errorf("%w: switchover needs --to POD or --to %s", ErrUsage, anyReadyReplica)
	case *to != anyReadyReplica && !validPeerName(*to, id.StatefulSet):
		return invalidf("--to %q is invalid: expected a pod of StatefulSet %s such as %s-1, or %s", *to, id.StatefulSet, id.StatefulSet, anyReadyReplica)
	case *maxLag < time.Second || *wait < time.Second || *wait > time.Minute || *timeout < *wait:
		return invalidf("--max-lag %s, --wait %s, --timeout %s are invalid: expected --max-lag of at least 1s, --wait from 1s to 1m, --timeout of at least --wait", *maxLag, *wait, *timeout)
	}
	api, err := newSwitchoverAPI(cfg.Namespace)
	if err != nil {
		return invalidf("switchover: %v", err)
	}
	req := switchoverRequest{ID: newRequestID(), To: *to, MaxLagSeconds: int64(*maxLag / time.Second), WaitSeconds: int64(*wait / time.Second),
		Requested: time.Now().UTC(), By: id.Pod}
	holder, err := postRequest(ctx, api, id.StatefulSet, req)
	if err != nil {
		return err
	}
	if holder == *to {
		fmt.Fprintf(stdio.Out, "%s already holds the Lease %s: it is the primary\n", holder, id.StatefulSet)
		return nil
	}
	fmt.Fprintf(stdio.Out, "switchover %s: asked %s (the primary) to hand over to %s\n", req.ID, holder, *to)
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	if err := wakeHolder(wctx, holder+"."+id.ServiceHost, cfg.HTTPAddr); err != nil {
		fmt.Fprintf(stdio.Err, "could not wake %s's sidecar (%v): it reads the Lease within LEASE_RENEW_INTERVAL %s\n", holder, sqldialect.OneLine(err.Error()), cfg.LeaseRenewInterval)
	}
	cancel()
	res, err := awaitOutcome(ctx, api, id.StatefulSet, req.ID, *timeout)
	if err != nil {
		return err
	}
	switch res.State {
	case wire.SwitchoverDone:
		fmt.Fprintf(stdio.Out, "switchover %s done: %s is the primary; %s was read-only for %d ms and replicates from it\n", res.ID, res.To, res.From, res.ReadOnlyMillis)
		return nil
	default:
		return fmt.Errorf("switchover %s %s: %s", res.ID, res.State, res.Reason)
	}
}

// validPeerName: pod is a pod name of StatefulSet sts.
func validPeerName(pod, sts string) bool {
	s, _, err := wire.ParsePodName(pod)
	return err == nil && s == sts
}

// postRequest writes req on the Lease (optimistic concurrency, retried on
// a conflict) and returns the holder it asks.
func postRequest(ctx context.Context, api switchoverAPI, name string, req switchoverRequest) (string, error) {
	for try := 0; try < 5; try++ {
		l, err := api.GetLease(ctx, name)
		if err != nil {
			return "", fmt.Errorf("read the Lease %s: %w", name, err)
		}
		if l.HolderIdentity == "" {
			return "", fmt.Errorf("the Lease %s names no primary: nothing to switch over from", name)
		}
		if l.HolderIdentity == req.To {
			return l.HolderIdentity, nil
		}
		if raw := l.Annotations[SwitchoverAnnotation]; raw != "" {
			var other switchoverRequest
			if json.Unmarshal([]byte(raw), &other) == nil && time.Since(other.Requested) < requestMaxAge {
				return "", fmt.Errorf("switchover %s (to %s, requested by %s at %s) is still pending: wait for it, or for %s to pass",
					other.ID, other.To, other.By, other.Requested.Format(time.RFC3339), requestMaxAge)
			}
		}
		n := annotated(l, map[string]any{SwitchoverAnnotation: req})
		if _, err = api.UpdateLease(ctx, &n); err == nil {
			return l.HolderIdentity, nil
		}
		if !errors.Is(err, kube.ErrConflict) {
			return "", fmt.Errorf("write the request on the Lease %s: %w", name, err)
		}
	}
	return "", fmt.Errorf("the Lease %s kept changing: try again", name)
}

// awaitOutcome polls the Lease until the outcome of request id is on it.
func awaitOutcome(ctx context.Context, api switchoverAPI, name, id string, timeout time.Duration) (wire.SwitchoverStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		l, err := api.GetLease(ctx, name)
		if err == nil {
			var res wire.SwitchoverStatus
			if raw := l.Annotations[SwitchoverResultAnnotation]; raw != "" && json.Unmarshal([]byte(raw), &res) == nil && res.ID == id {
				return res, nil
			}
			last = "the request waits for " + l.HolderIdentity
		} else if ctx.Err() == nil {
			// (A read cut short by the timeout says nothing new.)
			last = sqldialect.OneLine(err.Error())
		}
		select {
		case <-ctx.Done():
			return wire.SwitchoverStatus{}, fmt.Errorf("%w: no outcome of switchover %s within --timeout %s (%s); the holder's sidecar carries it out while the request is less than %s old",
				ErrWaitTimeout, id, timeout, last, requestMaxAge)
		case <-tick.C:
		}
	}
}
