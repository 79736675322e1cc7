package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
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

// source is what the endpoints serve: the sidecar, or a fake in tests.
type source interface {
	// Healthz reports whether the local server is alive.
	Healthz(ctx context.Context) error
	// Readiness is the verdict of decide on the last pass's facts with
	// the local server's state read now (a probe must see a restart at
	// once, and must not wait for an unreachable primary).
	Readiness(ctx context.Context) (ready bool, reason string)
	// Current is the last pass's status, its verdict decided again now
	// (a stuck loop must not keep a pod ready).
	Current() wire.Status
}

// newHandler returns the sidecar's HTTP API.
func newHandler(src source) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(&statusCollector{src: src})

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathHealthz, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
		defer cancel()
		if err := src.Healthz(ctx); err != nil {
			http.Error(w, "local server does not answer: "+sqldialect.OneLine(err.Error()), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET "+PathReadyz, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
		defer cancel()
		ready, reason := src.Readiness(ctx)
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
		_ = enc.Encode(src.Current())
	})
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if w, ok := src.(interface{ Wake() }); ok {
		// A switchover's old primary asks its target to read the Lease
		// now. It carries nothing and changes nothing but the timing of
		// a read.
		mux.HandleFunc("POST "+PathWake, func(rw http.ResponseWriter, r *http.Request) {
			w.Wake()
			rw.WriteHeader(http.StatusNoContent)
		})
	}
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
	descStale    = prometheus.NewDesc("mysql_bootstrap_replication_staleness_seconds", "How old the data a replica serves may be (lag while connected, time since the primary was last heard from while reconnecting); NaN when unknown (replicas only).", nil, nil)
	descResets   = prometheus.NewDesc("mysql_bootstrap_replication_first_start_resets_total", "Removals of a new replica's first-start GTIDs by this sidecar (replicas only).", nil, nil)
	descSeeds    = prometheus.NewDesc("mysql_bootstrap_seeds_total", "Copies of a donor's data this sidecar started (seeding).", nil, nil)
	descSeeding  = prometheus.NewDesc("mysql_bootstrap_seed_running", "1 while a copy of a donor's data into this pod is under way.", nil, nil)
	descSeedB    = prometheus.NewDesc("mysql_bootstrap_seed_bytes", "Bytes of the current or last seed copied so far.", nil, nil)
	descSeedEst  = prometheus.NewDesc("mysql_bootstrap_seed_estimate_bytes", "Estimated size of the current or last seed; 0 when unknown.", nil, nil)
	descTries    = prometheus.NewDesc("mysql_bootstrap_replication_change_retries", "CHANGE statements that have not fixed a refused replication channel yet (replicas only).", nil, nil)
	descSeedFail = prometheus.NewDesc("mysql_bootstrap_seed_failed", "1 when the last copy of a donor's data failed and no new one runs yet (it is retried after 30 s, doubling to 10 min).", nil, nil)
	descGuard    = prometheus.NewDesc("mysql_bootstrap_guard", "1 for why the primary does not take writes yet (state: waiting-for-peers, waiting-for-person, recovering), 0 for the other states (primary only).",
		[]string{"state"}, nil)
	descSituation = prometheus.NewDesc("mysql_bootstrap_situation", "1 for the code of the sidecar's last decision (see README: Situations); absent before the first.",
		[]string{"situation"}, nil)
)

// guardStates are the label values of mysql_bootstrap_guard.
var guardStates = []string{wire.GuardWaitingForPeers, wire.GuardWaitingForPerson, wire.GuardRecovering}

// statusCollector turns the current Status into metrics at scrape time.
type statusCollector struct{ src source }

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descRole, descUp, descReady, descReadOnly, descIO, descSQL, descLag, descErrant, descChanges, descRestarts, descRecErr, descRecLast, descStale, descResets, descTries, descSeeds, descSeeding, descSeedB, descSeedEst, descSeedFail, descGuard, descSituation} {
		ch <- d
	}
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Current()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descInfo, 1, s.Pod, string(s.Role), s.Flavor, s.Version, fmt.Sprint(s.ServerID))
	gauge(descRole, b2f(s.Role == wire.RolePrimary), string(wire.RolePrimary))
	gauge(descRole, b2f(s.Role == wire.RoleReplica), string(wire.RoleReplica))
	gauge(descUp, b2f(s.ServerUp))
	gauge(descReady, b2f(s.Ready))
	gauge(descReadOnly, b2f(s.ReadOnly))
	if s.Situation != "" {
		gauge(descSituation, 1, s.Situation)
	}
	ch <- prometheus.MustNewConstMetric(descRecErr, prometheus.CounterValue, float64(s.ReconcileErrors))
	if !s.LastReconcile.IsZero() {
		gauge(descRecLast, float64(s.LastReconcile.UnixNano())/1e9)
	}
	if sd := s.Seed; sd != nil {
		ch <- prometheus.MustNewConstMetric(descSeeds, prometheus.CounterValue, float64(sd.Seeds))
		gauge(descSeeding, b2f(sd.State == "running"))
		gauge(descSeedB, float64(sd.Bytes))
		gauge(descSeedEst, float64(sd.Estimate))
		gauge(descSeedFail, b2f(sd.State == "failed"))
	} else if s.Role == wire.RoleReplica {
		ch <- prometheus.MustNewConstMetric(descSeeds, prometheus.CounterValue, 0)
		gauge(descSeeding, 0)
		gauge(descSeedFail, 0)
	}
	if s.Role == wire.RolePrimary {
		for _, g := range guardStates {
			gauge(descGuard, b2f(s.Guard == g), g)
		}
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
		ch <- prometheus.MustNewConstMetric(descResets, prometheus.CounterValue, float64(r.Resets))
		gauge(descTries, float64(r.ChangeTries))
		stale := math.NaN()
		if r.StalenessSeconds != nil {
			stale = float64(*r.StalenessSeconds)
		}
		gauge(descStale, stale)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
