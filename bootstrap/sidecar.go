package bootstrap

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/dnswait"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// Sidecar keeps the local server in its role and reports on it.
type Sidecar struct {
	cfg      *Config
	id       Identity
	log      *slog.Logger
	local    *sql.DB
	resolver *dnswait.Resolver
	policy   decide.Policy
	box      statusBox
	creds    *credentials

	// primary is a pool of connections to the primary (primaryHost),
	// used by replicas to compare GTID sets; opened lazily, and again
	// when the primary moves. Only the reconcile loop uses it.
	primary     *sql.DB
	primaryHost string

	// peers finds the StatefulSet's pods (nil without SERVICE_NAME).
	peers *peerFinder
	// keeper follows the primary's Lease (PRIMARY=kubernetes; nil
	// otherwise); fenceDB is its own connection for the fence.
	keeper  *leaseKeeper
	fenceDB *sql.DB

	rec  *reconciler
	wake chan struct{} // a pass now, please (buffered, 1)
}

// wakeUp asks the loop for a reconcile pass without waiting for it.
func (s *Sidecar) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// NewSidecar prepares a sidecar; nothing is contacted until Serve.
func NewSidecar(cfg *Config, id Identity, log *slog.Logger, resolver *dnswait.Resolver) *Sidecar {
	s := &Sidecar{cfg: cfg, id: id, log: log, resolver: resolver, wake: make(chan struct{}, 1), policy: policyFor(cfg, id),
		creds: newCredentials(cfg)}
	s.local = s.openLocal(s.accountDSN())
	s.box.set(snapshot{status: wire.Status{
		Pod: id.Pod, Ordinal: id.Ordinal, Role: id.Role, ServerID: id.ServerID,
		PodHost: id.PodHost, PrimaryHost: id.PrimaryHost, Reason: "waiting for the local server",
	}})
	clone := &cloneJob{}
	cloneMarks := cloneMarkers{dir: cfg.StateDir}
	// The files in STATE_DIR another process obeys are signed with the
	// seed secret, as seed-exec checks them (statemac.go).
	secret := sidecarSeedSecret(cfg, s.creds)
	seeds := newSeedFiles(cfg.StateDir).signedWith(secret)
	overrides := &overrideFiles{dir: cfg.StateDir, secret: secret}
	exec := &executor{db: s.local, cfg: cfg, id: id, log: log, creds: s.creds, dsn: s.localAddr, longDSN: s.longDSN, rootDSN: s.rootDSN, clone: clone, cloneMarks: cloneMarks,
		seeds: seeds, overrides: overrides}
	var peers func(context.Context) (decide.Peers, error)
	var primaryStatus func(context.Context) (*wire.Status, error)
	if resolver != nil && id.ServiceHost != "" {
		pf := newPeerFinder(resolver, id, cfg)
		s.peers = pf
		peers = pf.find
		// s.id: the primary can move (PRIMARY=kubernetes); the reconcile
		// loop, which alone changes it, is the caller.
		primaryStatus = func(ctx context.Context) (*wire.Status, error) { return pf.statusOf(ctx, s.id.PrimaryLookupName()) }
	}
	s.rec = &reconciler{
		id:     id,
		log:    log,
		policy: s.policy,
		gather: &gatherer{local: s.local, primary: s.primaryDB, role: id.Role, account: exec.checkAccount, copyAccount: exec.checkCopyAccount, copyFP: exec.copyFP, creds: s.creds, peers: peers, primaryStatus: primaryStatus,
			clone: clone, cloneMarks: cloneMarks, seeds: seeds, overrides: overrides,
			peerMem: &peerMemoryStore{dir: cfg.StateDir, secret: secret}, self: id.Pod, statefulSet: id.StatefulSet, semiSync: cfg.SemiSync},
		exec:  exec,
		state: &stateStore{dir: cfg.StateDir},
		box:   &s.box,
		creds: s.creds,
	}
	return s
}

// Close releases the sidecar's connections.
func (s *Sidecar) Close() {
	_ = s.local.Close()
	if s.primary != nil {
		_ = s.primary.Close()
	}
	if s.fenceDB != nil {
		_ = s.fenceDB.Close()
	}
}

// Handler is the sidecar's HTTP API.
func (s *Sidecar) Handler() http.Handler { return newHandler(s) }

// Healthz reports whether the local server is alive: it answers, even if
// only to refuse the login ("access denied": the root password changed) or
// to say it is full ("too many connections"). Liveness must not restart a
// server for a password or a burst of clients.
func (s *Sidecar) Healthz(ctx context.Context) error {
	err := s.local.PingContext(ctx)
	if sqldialect.IsErrno(err, sqldialect.ErrnoAccessDenied, sqldialect.ErrnoConCount) {
		return nil
	}
	return err
}

// Current is the last pass's status with its verdict decided again now.
func (s *Sidecar) Current() wire.Status {
	snap := s.box.get()
	st := snap.status
	s.leaseStatus(&st)
	if snap.obs.At.IsZero() {
		return st
	}
	o := snap.obs
	o.Partial = true
	if dec := decide.Decide(o, snap.mem, s.policyNow(snap), time.Now()); !dec.Ready && st.Ready {
		st.Ready, st.Reason, st.Situation = false, dec.Reason, string(dec.Situation)
	}
	return st
}

// Readiness decides on the last pass's facts with the local server's
// start time and read-only state read now: a server that restarted since
// (it comes back read-only, replication stopped) is not vouched for, and
// the loop is woken to look at it at once.
func (s *Sidecar) Readiness(ctx context.Context) (bool, string) {
	snap := s.box.get()
	if snap.obs.At.IsZero() || !snap.obs.Local.Up || !snap.status.Ready {
		st := s.Current()
		return st.Ready, st.Reason
	}
	o := snap.obs
	o.Partial = true
	o.Local = s.probeLocal(ctx, o.Local)
	dec := decide.Decide(o, snap.mem, s.policyNow(snap), time.Now())
	if !dec.Ready {
		s.wakeUp()
	}
	return dec.Ready, dec.Reason
}

// probeLocal reads the local server's start time, read-only state and
// offline_mode into a copy of l; a server that does not answer is marked
// down.
func (s *Sidecar) probeLocal(ctx context.Context, l decide.LocalFacts) decide.LocalFacts {
	d, err := sqldialect.New(l.Server)
	if err == nil {
		l.StartedAt, err = serverStartedAt(ctx, s.local)
	}
	if err == nil {
		var ro, sro int
		err = s.local.QueryRowContext(ctx, d.ReadOnlyQuery()).Scan(&ro, &sro)
		l.ReadOnly, l.SuperReadOnly = ro != 0, sro != 0
	}
	if q, ok := d.OfflineModeQuery(); ok && err == nil {
		var off int
		err = s.local.QueryRowContext(ctx, q).Scan(&off)
		l.OfflineMode = off != 0
	}
	if err != nil {
		l.Up, l.Err = false, sqldialect.OneLine(err.Error())
	}
	return l
}

// Serve serves HTTP on ln and reconciles until ctx is cancelled, then shuts
// down within ShutdownTimeout and returns nil. It fails if the local server
// never answers within WAIT_TIMEOUT.
func (s *Sidecar) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: httpReadHeaderTimeout}
	httpErr := make(chan error, 1)
	go func() { httpErr <- srv.Serve(ln) }()
	s.log.Info("sidecar started", "pod", s.id.Pod, "role", s.id.Role, "server_id", s.id.ServerID,
		"primary_host", s.id.PrimaryHost, "http_addr", ln.Addr().String(), "version", Version)

	if s.keeper != nil {
		kctx, kcancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); s.keeper.run(kctx) }()
		defer func() { kcancel(); <-done }()
	}
	err := s.loop(ctx)

	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	select {
	case herr := <-httpErr:
		if err == nil && herr != nil && !errors.Is(herr, http.ErrServerClosed) {
			err = fmt.Errorf("serve HTTP: %w", herr)
		}
	default:
	}
	if err == nil {
		s.log.Info("sidecar stopped")
	}
	return err
}

// loop waits for the local server, then reconciles on a timer: quickly
// while the pod is not ready, every RECONCILE_INTERVAL once it is.
func (s *Sidecar) loop(ctx context.Context) error {
	if err := s.waitLocal(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	var notReadySince time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-s.wake:
			timer.Stop()
		}
		s.syncRole()
		st := s.rec.pass(ctx)
		s.labelRole(st)
		timer.Reset(nextPass(st.Ready, &notReadySince, s.cfg.ReconcileInterval))
	}
}

// nextPass returns the delay before the next reconcile pass.
func nextPass(ready bool, notReadySince *time.Time, interval time.Duration) time.Duration {
	if ready {
		*notReadySince = time.Time{}
		return interval
	}
	if notReadySince.IsZero() {
		*notReadySince = time.Now()
	}
	if time.Since(*notReadySince) < fastPassWindow {
		return min(interval, fastPass)
	}
	return min(interval, slowPass)
}

// waitLocal waits until the local server answers, logging progress every
// few seconds, for at most WAIT_TIMEOUT.
func (s *Sidecar) waitLocal(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WaitTimeout)
	defer cancel()
	start := time.Now()
	backoff := localPollFirst
	var lastLog time.Time
	for attempt := 1; ; attempt++ {
		pctx, pcancel := context.WithTimeout(ctx, probeTimeout)
		err := s.local.PingContext(pctx)
		pcancel()
		if err == nil {
			s.log.Info("local server answers", "address", net.JoinHostPort(s.cfg.MySQLHost, strconv.Itoa(s.cfg.MySQLPort)),
				"attempt", attempt, "elapsed", time.Since(start).Round(time.Millisecond).String())
			return nil
		}
		if sqldialect.IsErrno(err, sqldialect.ErrnoAccessDenied) {
			// Wrong credentials do not fix themselves, but the server may
			// still be running its first-start initialisation: keep trying
			// and say what to check.
			err = fmt.Errorf("%w (check MYSQL_ROOT_PASSWORD or its _FILE)", err)
		}
		s.box.set(s.notUp(err))
		if time.Since(lastLog) >= progressEvery {
			lastLog = time.Now()
			s.log.Info("waiting for the local server", "address", net.JoinHostPort(s.cfg.MySQLHost, strconv.Itoa(s.cfg.MySQLPort)),
				"attempt", attempt, "elapsed", time.Since(start).Round(time.Second).String(), "error", sqldialect.OneLine(err.Error()))
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w: the local server at %s did not answer within WAIT_TIMEOUT %s: %s (check the server container's logs)",
					ErrWaitTimeout, net.JoinHostPort(s.cfg.MySQLHost, strconv.Itoa(s.cfg.MySQLPort)), s.cfg.WaitTimeout, sqldialect.OneLine(err.Error()))
			}
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(backoff*2, localPollMax)
	}
}

// notUp is the snapshot while the sidecar waits for its server.
func (s *Sidecar) notUp(err error) snapshot {
	snap := s.box.get()
	snap.status.ServerUp, snap.status.Ready = false, false
	snap.status.Reason = "local server does not answer: " + sqldialect.OneLine(err.Error())
	snap.status.Situation = string(decide.SitServerDown)
	snap.status.LastReconcile = time.Now()
	return snap
}

// rootDSN is root's connection to the local server, used only to create
// or repair the sidecar's own account (accountConnector). Each new
// connection takes the root password as its file holds it now.
func (s *Sidecar) rootDSN() *mysql.Config {
	c := s.localAddr()
	c.User = "root"
	c.Passwd = s.creds.root.Get().Reveal()
	_ = c.Apply(mysql.BeforeConnect(func(_ context.Context, c *mysql.Config) error {
		c.Passwd = s.creds.root.Get().Reveal()
		return nil
	}))
	return c
}

// longDSN is the sidecar account's connection to the local server
// without read and write timeouts, for a statement that lasts as long as
// a copy of a donor's data (CLONE: CLONE_ADMIN). The pool that opens it
// sees the account already there: the sidecar's own pool made it.
func (s *Sidecar) longDSN() *mysql.Config {
	c := s.accountDSN()
	c.ReadTimeout, c.WriteTimeout = 0, 0
	return c
}

// localAddr is a connection to the local server, without credentials.
func (s *Sidecar) localAddr() *mysql.Config {
	c := baseDSN()
	c.Net = "tcp"
	c.Addr = net.JoinHostPort(s.cfg.MySQLHost, strconv.Itoa(s.cfg.MySQLPort))
	return c
}

// baseDSN holds the settings every connection shares. The session sql_mode
// is fixed so that the string escaping of statements that take no
// placeholders (CHANGE ... TO) holds whatever the server's default is.
func baseDSN() *mysql.Config {
	c := mysql.NewConfig()
	c.Timeout = dialTimeout
	c.ReadTimeout = ioTimeout
	c.WriteTimeout = ioTimeout
	c.Params = map[string]string{"sql_mode": "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"}
	return c
}

// newConnector makes the connector behind every pool openDB opens; tests
// replace it with a scripted server (internal/fakesql).
var newConnector = func(c *mysql.Config) (driver.Connector, error) { return mysql.NewConnector(c) }

func openDB(c *mysql.Config) *sql.DB {
	conn, err := newConnector(c)
	if err != nil {
		// NewConnector only fails on a malformed config, which we build.
		panic(err)
	}
	db := sql.OpenDB(conn)
	setPool(db)
	return db
}

// setPool sets the sizes and lifetime of a pool to the local server.
func setPool(db *sql.DB) {
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	db.SetConnMaxLifetime(connLifetime)
}

// primaryDB returns a pool to the primary as the replication user. Each new
// connection resolves the primary's name through the same resolver as the
// DNS waits, so it follows the primary to a new address; a new primary
// (PRIMARY=kubernetes) gets a new pool.
func (s *Sidecar) primaryDB() *sql.DB {
	host, lookup := s.id.PrimaryHost, s.id.PrimaryLookupName()
	if s.primary != nil && s.primaryHost == host {
		return s.primary
	}
	if s.primary != nil {
		_ = s.primary.Close()
	}
	s.primary, s.primaryHost = s.replicationDB(host, lookup), host
	s.primary.SetMaxIdleConns(1)
	s.primary.SetMaxOpenConns(1)
	return s.primary
}

// replicationDB is a pool to another pod's server (host, resolved as
// lookup through the sidecar's resolver at each connection, so that it
// follows the pod to a new address) as the replication user: the
// password as its file holds it now, and verified TLS to host's stable
// name when REPLICATION_TLS_CA_FILE is set.
func (s *Sidecar) replicationDB(host, lookup string) *sql.DB {
	c := baseDSN()
	c.User = s.cfg.ReplicationUser
	c.Net = "tcp"
	c.Addr = net.JoinHostPort(host, strconv.Itoa(s.cfg.MySQLPort))
	_ = c.Apply(mysql.BeforeConnect(func(_ context.Context, c *mysql.Config) error {
		c.Passwd = s.creds.replication.Get().Reveal()
		t, err := clientTLS(s.cfg, host)
		if err != nil {
			return err
		}
		if t != nil {
			c.TLS = t
		}
		return nil
	}))
	c.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		res, err := s.resolver.Lookup(ctx, lookup)
		if err != nil {
			return nil, err
		}
		if len(res.Addrs) == 0 {
			return nil, fmt.Errorf("resolve %s: %s", host, res.Outcome)
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", net.JoinHostPort(res.Addrs[0].String(), strconv.Itoa(s.cfg.MySQLPort)))
	}
	return openDB(c)
}

// driverLogger sends go-sql-driver's own messages to the process logger.
type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) {
	l.log.Debug("mysql driver", "message", sqldialect.OneLine(fmt.Sprint(v...)))
}
