package bootstrap

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/dnswait"
)

// ShutdownTimeout bounds how long the sidecar takes to stop after SIGTERM.
const ShutdownTimeout = 3 * time.Second

func runSidecar(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	cfg, id, log, err := loadPod(ctx, "sidecar", args, stdio, loader)
	if err != nil {
		return err
	}
	// The driver logs some connection errors itself; keep them structured.
	_ = mysql.SetLogger(driverLogger{log})
	resolver, err := dnswait.NewResolver(dnswait.Options{ResolvConf: cfg.ResolvConf})
	if err != nil {
		return &configError{problems: []string{fmt.Sprintf("RESOLV_CONF=%q cannot be used: %v", cfg.ResolvConf, err)}}
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on HTTP_ADDR %s: %w (is another process using the port?)", cfg.HTTPAddr, err)
	}
	sc := NewSidecar(cfg, id, log, resolver)
	defer sc.Close()
	return sc.Serve(ctx, ln)
}

// Sidecar keeps the local server in its role and reports on it.
type Sidecar struct {
	cfg      *Config
	id       Identity
	log      *slog.Logger
	local    *sql.DB
	resolver *dnswait.Resolver
	box      statusBox

	// primary is a pool of connections to the primary, used by replicas to
	// compare GTID sets; opened lazily.
	primaryOnce sync.Once
	primary     *sql.DB

	rec  reconciler
	wake chan struct{} // a pass now, please (buffered, 1)
}

// wakeUp asks the loop for a reconcile pass without waiting for it.
func (s *Sidecar) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// localDB adds what the probes need to the pool.
type localDB struct{ *sql.DB }

// StartedAt returns when the server started, from its Uptime.
func (db localDB) StartedAt(ctx context.Context) (time.Time, error) {
	return serverStartedAt(ctx, db.DB)
}

// ReadOnly reports read_only (which super_read_only implies), on both
// flavours and whether the server shows it as a number or a word.
func (db localDB) ReadOnly(ctx context.Context) (bool, error) {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT CAST(@@GLOBAL.read_only AS CHAR)").Scan(&v); err != nil {
		return false, err
	}
	return v != "0" && !strings.EqualFold(v, "OFF"), nil
}

func serverStartedAt(ctx context.Context, db *sql.DB) (time.Time, error) {
	var name string
	var uptime int64
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Uptime'").Scan(&name, &uptime); err != nil {
		return time.Time{}, err
	}
	return time.Now().Add(-time.Duration(uptime) * time.Second), nil
}

// NewSidecar prepares a sidecar; nothing is contacted until Serve.
func NewSidecar(cfg *Config, id Identity, log *slog.Logger, resolver *dnswait.Resolver) *Sidecar {
	s := &Sidecar{cfg: cfg, id: id, log: log, resolver: resolver, wake: make(chan struct{}, 1)}
	s.local = openDB(localDSN(cfg))
	s.box.set(Status{
		Pod: id.Pod, Ordinal: id.Ordinal, Role: id.Role, ServerID: id.ServerID,
		PodHost: id.PodHost, PrimaryHost: id.PrimaryHost, Reason: "waiting for the local server",
	})
	s.rec = reconciler{s: s}
	return s
}

// Close releases the sidecar's connections.
func (s *Sidecar) Close() {
	_ = s.local.Close()
	if s.primary != nil {
		_ = s.primary.Close()
	}
}

// Handler is the sidecar's HTTP API.
func (s *Sidecar) Handler() http.Handler {
	return newHandler(&s.box, localDB{s.local}, 3*s.cfg.ReconcileInterval+10*time.Second, s.wakeUp)
}

// Serve serves HTTP on ln and reconciles until ctx is cancelled, then shuts
// down within ShutdownTimeout and returns nil. It fails if the local server
// never answers within WAIT_TIMEOUT.
func (s *Sidecar) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	httpErr := make(chan error, 1)
	go func() { httpErr <- srv.Serve(ln) }()
	s.log.Info("sidecar started", "pod", s.id.Pod, "role", s.id.Role, "server_id", s.id.ServerID,
		"primary_host", s.id.PrimaryHost, "http_addr", ln.Addr().String(), "version", Version)

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
		st := s.rec.pass(ctx)
		timer.Reset(nextPass(st.Ready, &notReadySince, s.cfg.ReconcileInterval))
	}
}

// Pacing of reconcile passes while not ready: a pod that is starting or
// recovering is looked at often, so it joins its Service within a fraction
// of a second of being able to; one that stays not ready (a primary that is
// down) is looked at every second, not hammered.
const (
	fastPass       = 250 * time.Millisecond
	slowPass       = time.Second
	fastPassWindow = 15 * time.Second
)

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
	backoff := 100 * time.Millisecond
	var lastLog time.Time
	for attempt := 1; ; attempt++ {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		err := s.local.PingContext(pctx)
		pcancel()
		if err == nil {
			s.log.Info("local server answers", "address", net.JoinHostPort(s.cfg.MySQLHost, strconv.Itoa(s.cfg.MySQLPort)),
				"attempt", attempt, "elapsed", time.Since(start).Round(time.Millisecond).String())
			return nil
		}
		if errno, ok := mysqlErrno(err); ok && errno == errAccessDenied {
			// Wrong credentials do not fix themselves, but the server may
			// still be running its first-start initialisation: keep trying
			// and say what to check.
			err = fmt.Errorf("%w (check MYSQL_ROOT_PASSWORD or its _FILE)", err)
		}
		s.box.set(s.notUp(err))
		if time.Since(lastLog) >= 5*time.Second {
			lastLog = time.Now()
			s.log.Info("waiting for the local server", "address", net.JoinHostPort(s.cfg.MySQLHost, strconv.Itoa(s.cfg.MySQLPort)),
				"attempt", attempt, "elapsed", time.Since(start).Round(time.Second).String(), "error", oneLine(err.Error()))
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w: the local server at %s did not answer within WAIT_TIMEOUT %s: %s (check the server container's logs)",
					ErrWaitTimeout, net.JoinHostPort(s.cfg.MySQLHost, strconv.Itoa(s.cfg.MySQLPort)), s.cfg.WaitTimeout, oneLine(err.Error()))
			}
			return ctx.Err()
		case <-t.C:
		}
		// Capped low: a pod's server usually comes up within seconds of
		// its sidecar, and the sooner it is seen the sooner the pod serves.
		backoff = min(backoff*2, 250*time.Millisecond)
	}
}

func (s *Sidecar) notUp(err error) Status {
	st := s.box.get()
	st.ServerUp = false
	st.Ready = false
	st.Reason = "local server does not answer: " + oneLine(err.Error())
	st.LastReconcile = time.Now()
	return st
}

// localDSN is the admin connection to the local server.
func localDSN(cfg *Config) *mysql.Config {
	c := baseDSN()
	c.User = "root"
	c.Passwd = cfg.RootPassword.Reveal()
	c.Net = "tcp"
	c.Addr = net.JoinHostPort(cfg.MySQLHost, strconv.Itoa(cfg.MySQLPort))
	return c
}

// baseDSN holds the settings every connection shares. The session sql_mode
// is fixed so that the string escaping of statements that take no
// placeholders (CHANGE ... TO) holds whatever the server's default is.
func baseDSN() *mysql.Config {
	c := mysql.NewConfig()
	c.Timeout = 2 * time.Second
	c.ReadTimeout = 10 * time.Second
	c.WriteTimeout = 10 * time.Second
	c.Params = map[string]string{"sql_mode": "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"}
	return c
}

func openDB(c *mysql.Config) *sql.DB {
	conn, err := mysql.NewConnector(c)
	if err != nil {
		// NewConnector only fails on a malformed config, which we build.
		panic(err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	db.SetConnMaxLifetime(10 * time.Minute)
	return db
}

// primaryDB returns a pool to the primary as the replication user. Each new
// connection resolves the primary's name through the same resolver as the
// DNS waits, so it follows the primary to a new address.
func (s *Sidecar) primaryDB() *sql.DB {
	s.primaryOnce.Do(func() {
		c := baseDSN()
		c.User = s.cfg.ReplicationUser
		c.Passwd = s.cfg.ReplicationPassword.Reveal()
		c.Net = "tcp"
		c.Addr = net.JoinHostPort(s.id.PrimaryHost, strconv.Itoa(s.cfg.MySQLPort))
		c.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			res, err := s.resolver.Lookup(ctx, s.id.PrimaryLookupName())
			if err != nil {
				return nil, err
			}
			if len(res.Addrs) == 0 {
				return nil, fmt.Errorf("resolve %s: %s", s.id.PrimaryHost, res.Outcome)
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", net.JoinHostPort(res.Addrs[0].String(), strconv.Itoa(s.cfg.MySQLPort)))
		}
		s.primary = openDB(c)
		s.primary.SetMaxIdleConns(1)
		s.primary.SetMaxOpenConns(1)
	})
	return s.primary
}

// mysqlErrno returns the server's error number, if err carries one.
func mysqlErrno(err error) (uint16, bool) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number, true
	}
	return 0, false
}

// Server error numbers the sidecar branches on (same in MySQL and MariaDB).
const (
	errAccessDenied = 1045
)

// driverLogger sends go-sql-driver's own messages to the process logger.
type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) {
	l.log.Debug("mysql driver", "message", oneLine(fmt.Sprint(v...)))
}
