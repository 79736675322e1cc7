package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Paths the sidecar serves; the manifests' probes point at them.
const (
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
	PathStatus  = "/status"
	PathMetrics = "/metrics"
)

// localServer is what the probes ask the local server directly.
type localServer interface {
	// PingContext checks that the server answers.
	PingContext(ctx context.Context) error
	// StartedAt returns when the server process started (now - Uptime).
	StartedAt(ctx context.Context) (time.Time, error)
	// ReadOnly reports whether the server refuses client writes now.
	ReadOnly(ctx context.Context) (bool, error)
}

// restartTolerance absorbs the one-second resolution of Uptime.
const restartTolerance = 2 * time.Second

// newHandler returns the sidecar's HTTP API over the status box. staleAfter
// is how old the last reconcile may be before readiness stops trusting it;
// wake asks the reconcile loop for a pass now.
func newHandler(box *statusBox, db localServer, staleAfter time.Duration, wake func()) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(&statusCollector{box: box, staleAfter: staleAfter})

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathHealthz, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			http.Error(w, "local server does not answer: "+oneLine(err.Error()), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET "+PathReadyz, func(w http.ResponseWriter, r *http.Request) {
		s := current(box, staleAfter)
		ready, reason := s.Ready, s.Reason
		if ready {
			// A server that restarted since the last pass comes back as the
			// file configured it (read-only, replication stopped): do not
			// vouch for it until the loop has looked again.
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			started, err := db.StartedAt(ctx)
			readOnly := false
			if err == nil && s.Role == RolePrimary {
				// Uptime has a resolution of a second; a primary that came
				// back within it still shows as read-only.
				readOnly, err = db.ReadOnly(ctx)
			}
			cancel()
			switch {
			case err != nil:
				ready, reason = false, "local server does not answer: "+oneLine(err.Error())
				wake()
			case started.Sub(s.ServerStartedAt) > restartTolerance:
				ready, reason = false, "local server restarted since the last check"
				wake()
			case readOnly:
				ready, reason = false, "primary is read-only (did the server restart?)"
				wake()
			}
		}
		if !ready {
			if reason == "" {
				reason = "not checked yet"
			}
			http.Error(w, "not ready: "+reason, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ready: %s\n", reason)
	})
	mux.HandleFunc("GET "+PathStatus, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(current(box, staleAfter))
	})
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

var (
	descInfo = prometheus.NewDesc("mysql_bootstrap_info", "Constant 1, labelled with who this pod is and what server it runs.",
		[]string{"pod", "role", "flavor", "version", "server_id"}, nil)
	descRole = prometheus.NewDesc("mysql_bootstrap_role", "1 for the pod's role (primary or replica), 0 for the other.",
		[]string{"role"}, nil)
	descUp       = prometheus.NewDesc("mysql_bootstrap_server_up", "1 when the local server answered the last check.", nil, nil)
	descReady    = prometheus.NewDesc("mysql_bootstrap_ready", "1 when the pod is ready for its role (what /readyz says).", nil, nil)
	descReadOnly = prometheus.NewDesc("mysql_bootstrap_read_only", "1 when the local server refuses client writes.", nil, nil)
	descIO       = prometheus.NewDesc("mysql_bootstrap_replication_io_running", "1 when the replica's IO thread is connected to the primary (replicas only).", nil, nil)
	descSQL      = prometheus.NewDesc("mysql_bootstrap_replication_sql_running", "1 when the replica's SQL thread is applying (replicas only).", nil, nil)
	descLag      = prometheus.NewDesc("mysql_bootstrap_replication_lag_seconds", "Seconds behind the primary; NaN when unknown (replicas only).", nil, nil)
	descErrant   = prometheus.NewDesc("mysql_bootstrap_replication_errant_gtids", "1 when the replica holds transactions the primary lacks (replicas only).", nil, nil)
	descChanges  = prometheus.NewDesc("mysql_bootstrap_replication_changes_total", "CHANGE REPLICATION SOURCE/MASTER statements run by this sidecar.", nil, nil)
	descRestarts = prometheus.NewDesc("mysql_bootstrap_replication_restarts_total", "Replication thread (re)starts by this sidecar.", nil, nil)
	descRecErr   = prometheus.NewDesc("mysql_bootstrap_reconcile_errors_total", "Reconcile passes that failed.", nil, nil)
	descRecLast  = prometheus.NewDesc("mysql_bootstrap_last_reconcile_timestamp_seconds", "Unix time of the last reconcile pass.", nil, nil)
)

// current is the status every endpoint serves: the last reconcile's, not
// ready when that is older than staleAfter (a stuck loop must not keep a
// pod in its Service), so /readyz, /status and /metrics never disagree.
func current(box *statusBox, staleAfter time.Duration) Status {
	s := box.get()
	if age := time.Since(s.LastReconcile); s.Ready && age > staleAfter {
		s.Ready, s.Reason = false, fmt.Sprintf("last check was %s ago", age.Round(time.Second))
	}
	return s
}

// statusCollector turns the current Status into metrics at scrape time.
type statusCollector struct {
	box        *statusBox
	staleAfter time.Duration
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descRole, descUp, descReady, descReadOnly, descIO, descSQL, descLag, descErrant, descChanges, descRestarts, descRecErr, descRecLast} {
		ch <- d
	}
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	s := current(c.box, c.staleAfter)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descInfo, 1, s.Pod, string(s.Role), s.Flavor, s.Version, fmt.Sprint(s.ServerID))
	gauge(descRole, b2f(s.Role == RolePrimary), string(RolePrimary))
	gauge(descRole, b2f(s.Role == RoleReplica), string(RoleReplica))
	gauge(descUp, b2f(s.ServerUp))
	gauge(descReady, b2f(s.Ready))
	gauge(descReadOnly, b2f(s.ReadOnly))
	ch <- prometheus.MustNewConstMetric(descRecErr, prometheus.CounterValue, float64(s.ReconcileErrors))
	if !s.LastReconcile.IsZero() {
		gauge(descRecLast, float64(s.LastReconcile.UnixNano())/1e9)
	}
	if r := s.Replication; r != nil {
		gauge(descIO, b2f(r.IORunning))
		gauge(descSQL, b2f(r.SQLRunning))
		lag := math.NaN()
		if r.LagSeconds != nil {
			lag = float64(*r.LagSeconds)
		}
		gauge(descLag, lag)
		gauge(descErrant, b2f(r.ErrantGTIDs != ""))
		ch <- prometheus.MustNewConstMetric(descChanges, prometheus.CounterValue, float64(r.Changes))
		ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(r.Restarts))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
