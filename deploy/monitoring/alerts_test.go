package monitoring

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
	"go.yaml.in/yaml/v3"
)

const (
	rulesFile  = "../kustomize/monitoring/prometheusrule.yaml"
	runbooks   = "../docs/alerts.md"
	runbookURL = "https://github.com/mysql-bootstrap/mysql-bootstrap/blob/main/deploy/docs/alerts.md#"
)

var promql = parser.NewParser(parser.Options{})

// ruleSpec returns the spec of the PrometheusRule, as YAML: the rule
// groups in Prometheus's own format.
func ruleSpec(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var obj struct {
		APIVersion string    `yaml:"apiVersion"`
		Kind       string    `yaml:"kind"`
		Spec       yaml.Node `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	if obj.APIVersion != "monitoring.coreos.com/v1" || obj.Kind != "PrometheusRule" {
		t.Fatalf("%s is %s %s, want a monitoring.coreos.com/v1 PrometheusRule", rulesFile, obj.APIVersion, obj.Kind)
	}
	spec, err := yaml.Marshal(&obj.Spec)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// loadRules parses the rules as Prometheus does (unknown fields refused).
func loadRules(t testing.TB) []rulefmt.Rule {
	t.Helper()
	groups, errs := rulefmt.Parse(ruleSpec(t), false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("%s: %v", rulesFile, errs)
	}
	var rs []rulefmt.Rule
	for _, g := range groups.Groups {
		rs = append(rs, g.Rules...)
	}
	if len(rs) == 0 {
		t.Fatalf("%s holds no rules", rulesFile)
	}
	return rs
}

func findRule(t testing.TB, rs []rulefmt.Rule, alert string) rulefmt.Rule {
	t.Helper()
	for _, r := range rs {
		if r.Alert == alert {
			return r
		}
	}
	t.Fatalf("no alert %s in %s", alert, rulesFile)
	return rulefmt.Rule{}
}

// pod labels one pod's series as the PodMonitor scrapes them.
func pod(name string) string {
	return fmt.Sprintf(`namespace="shop", app_kubernetes_io_instance="db", pod=%q, job="mysql-bootstrap", container="sidecar"`, name)
}

// series is one line of a promqltest load block: metric{labels} values,
// one value a minute from 0. extra are more labels.
func series(metric, podName, extra, values string) string {
	ls := pod(podName)
	if extra != "" {
		ls += ", " + extra
	}
	return fmt.Sprintf("%s{%s} %s", metric, ls, values)
}

// repeat writes v n times, for values promqltest cannot expand (NaN).
func repeat(v string, n int) string {
	return strings.TrimSpace(strings.Repeat(v+" ", n))
}

// evaluate runs one alerting rule over the series every minute from 0 to
// at minutes (so that "for" counts as Prometheus counts it) and returns
// the pods it fires for at the end, and the firing alerts.
func evaluate(t *testing.T, r rulefmt.Rule, load []string, at int) ([]string, []*rules.Alert) {
	t.Helper()
	storage := promqltest.LoadedStorage(t, "load 1m\n  "+strings.Join(load, "\n  "))
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, promqltest.DefaultMaxSamplesPerQuery)
	expr, err := promql.ParseExpr(r.Expr)
	if err != nil {
		t.Fatalf("%s: %v", r.Alert, err)
	}
	rule := rules.NewAlertingRule(r.Alert, expr, time.Duration(r.For), time.Duration(r.KeepFiringFor),
		labels.FromMap(r.Labels), labels.FromMap(r.Annotations), labels.EmptyLabels(), "", true, slog.New(slog.DiscardHandler))
	query := rules.EngineQueryFunc(engine, storage)
	start := time.Unix(0, 0).UTC()
	for m := 0; m <= at; m++ {
		if _, err := rule.Eval(context.Background(), 0, start.Add(time.Duration(m)*time.Minute), query, nil, 0); err != nil {
			t.Fatalf("%s at %dm: %v", r.Alert, m, err)
		}
	}
	var pods []string
	var firing []*rules.Alert
	for _, a := range rule.ActiveAlerts() {
		if a.State == rules.StateFiring {
			pods = append(pods, a.Labels.Get("pod"))
			firing = append(firing, a)
		}
	}
	slices.Sort(pods)
	return pods, firing
}

// alertCase is one situation an alert must fire in (pods) or stay quiet
// in (no pods).
type alertCase struct {
	alert string
	name  string
	load  []string
	at    int      // minutes
	pods  []string // the pods it must fire for; none: quiet
}

func alertCases() []alertCase {
	nan := func(n int) string { return repeat("NaN", n) }
	return []alertCase{
		{"MySQLBootstrapPrimaryNotWritable", "the primary read-only for 5 minutes", []string{
			series("mysql_bootstrap_ready", "db-0", "", "0x5"),
			series("mysql_bootstrap_role", "db-0", `role="primary"`, "1x5"),
			series("mysql_bootstrap_role", "db-0", `role="replica"`, "0x5"),
		}, 5, []string{"db-0"}},
		{"MySQLBootstrapPrimaryNotWritable", "a replica not ready", []string{
			series("mysql_bootstrap_ready", "db-1", "", "0x5"),
			series("mysql_bootstrap_role", "db-1", `role="primary"`, "0x5"),
			series("mysql_bootstrap_role", "db-1", `role="replica"`, "1x5"),
		}, 5, nil},
		{"MySQLBootstrapPrimaryNotWritable", "the primary back within a minute", []string{
			series("mysql_bootstrap_ready", "db-0", "", "0 1x5"),
			series("mysql_bootstrap_role", "db-0", `role="primary"`, "1x5"),
		}, 5, nil},

		{"MySQLBootstrapNotReady", "a replica not ready for 15 minutes", []string{
			series("mysql_bootstrap_ready", "db-1", "", "0x15"),
			series("mysql_bootstrap_seed_running", "db-1", "", "0x15"),
			series("mysql_bootstrap_ready", "db-2", "", "1x15"),
		}, 15, []string{"db-1"}},
		{"MySQLBootstrapNotReady", "a replica copying a donor's data", []string{
			series("mysql_bootstrap_ready", "db-1", "", "0x15"),
			series("mysql_bootstrap_seed_running", "db-1", "", "1x15"),
		}, 15, nil},
		{"MySQLBootstrapNotReady", "not ready for 5 minutes only", []string{
			series("mysql_bootstrap_ready", "db-1", "", "1x9 0x6"),
		}, 15, nil},

		{"MySQLBootstrapServerDown", "the server down for 10 minutes", []string{
			series("mysql_bootstrap_server_up", "db-2", "", "0x10"),
		}, 10, []string{"db-2"}},
		{"MySQLBootstrapServerDown", "a restart of 3 minutes", []string{
			series("mysql_bootstrap_server_up", "db-2", "", "0x3 1x7"),
		}, 10, nil},

		{"MySQLBootstrapSidecarDown", "a sidecar not scraped for 10 minutes", []string{
			series("up", "db-1", "", "0x10"),
			series("up", "db-2", "", "1x10"),
		}, 10, []string{"db-1"}},
		{"MySQLBootstrapSidecarDown", "another job's target down", []string{
			`up{namespace="shop", pod="web-1", job="web"} 0x10`,
		}, 10, nil},

		{"MySQLBootstrapReplicationIOStopped", "a replica disconnected for 10 minutes", []string{
			series("mysql_bootstrap_replication_io_running", "db-1", "", "0x10"),
			series("mysql_bootstrap_seed_running", "db-1", "", "0x10"),
		}, 10, []string{"db-1"}},
		{"MySQLBootstrapReplicationIOStopped", "a replica seeding", []string{
			series("mysql_bootstrap_replication_io_running", "db-1", "", "0x10"),
			series("mysql_bootstrap_seed_running", "db-1", "", "1x10"),
		}, 10, nil},
		{"MySQLBootstrapReplicationIOStopped", "a replica connected", []string{
			series("mysql_bootstrap_replication_io_running", "db-1", "", "1x10"),
		}, 10, nil},

		{"MySQLBootstrapReplicationSQLStopped", "an applier stopped on an error", []string{
			series("mysql_bootstrap_replication_sql_running", "db-2", "", "1 1 0x8"),
		}, 10, []string{"db-2"}},
		{"MySQLBootstrapReplicationSQLStopped", "an applier running", []string{
			series("mysql_bootstrap_replication_sql_running", "db-2", "", "1x10"),
		}, 10, nil},

		{"MySQLBootstrapReplicaStale", "data 10 minutes old", []string{
			series("mysql_bootstrap_replication_staleness_seconds", "db-1", "", "60+60x10"),
		}, 10, []string{"db-1"}},
		{"MySQLBootstrapReplicaStale", "fresh data", []string{
			series("mysql_bootstrap_replication_staleness_seconds", "db-1", "", "0x10"),
		}, 10, nil},
		{"MySQLBootstrapReplicaStale", "unknown staleness (NaN) is not over the bound: the next alert's", []string{
			series("mysql_bootstrap_replication_staleness_seconds", "db-1", "", nan(21)),
		}, 20, nil},

		{"MySQLBootstrapReplicaStalenessUnknown", "unknown (NaN) for 20 minutes", []string{
			series("mysql_bootstrap_replication_staleness_seconds", "db-1", "", nan(21)),
			series("mysql_bootstrap_seed_running", "db-1", "", "0x20"),
			series("mysql_bootstrap_replication_staleness_seconds", "db-2", "", "0x20"),
		}, 20, []string{"db-1"}},
		{"MySQLBootstrapReplicaStalenessUnknown", "known, however old", []string{
			series("mysql_bootstrap_replication_staleness_seconds", "db-1", "", "0+60x20"),
		}, 20, nil},
		{"MySQLBootstrapReplicaStalenessUnknown", "unknown while seeding", []string{
			series("mysql_bootstrap_replication_staleness_seconds", "db-1", "", nan(21)),
			series("mysql_bootstrap_seed_running", "db-1", "", "1x20"),
		}, 20, nil},
		{"MySQLBootstrapReplicaStalenessUnknown", "unknown for 5 minutes", []string{
			series("mysql_bootstrap_replication_staleness_seconds", "db-1", "", "0x15 "+nan(5)),
		}, 20, nil},

		{"MySQLBootstrapErrantTransactions", "errant GTIDs", []string{
			series("mysql_bootstrap_replication_errant_gtids", "db-2", "", "0 0 1x3"),
		}, 4, []string{"db-2"}},
		{"MySQLBootstrapErrantTransactions", "none", []string{
			series("mysql_bootstrap_replication_errant_gtids", "db-2", "", "0x4"),
		}, 4, nil},

		{"MySQLBootstrapSeedFailing", "every retry fails for an hour", []string{
			// failed, retried (running), failed again: about every 5 minutes.
			series("mysql_bootstrap_seed_failed", "db-3", "", repeat("1 1 1 1 0", 12)),
		}, 59, []string{"db-3"}},
		{"MySQLBootstrapSeedFailing", "one failure, then a copy that worked", []string{
			series("mysql_bootstrap_seed_failed", "db-3", "", "0 1 1 0x57"),
		}, 59, nil},

		{"MySQLBootstrapGuardWaitingForPerson", "the pods disagree", []string{
			series("mysql_bootstrap_guard", "db-0", `state="waiting-for-person"`, "1x3"),
			series("mysql_bootstrap_guard", "db-0", `state="waiting-for-peers"`, "0x3"),
		}, 3, []string{"db-0"}},
		{"MySQLBootstrapGuardWaitingForPerson", "waiting for a peer, not a person", []string{
			series("mysql_bootstrap_guard", "db-0", `state="waiting-for-person"`, "0x3"),
			series("mysql_bootstrap_guard", "db-0", `state="waiting-for-peers"`, "1x3"),
		}, 3, nil},

		{"MySQLBootstrapGuardWaitingForPeers", "a peer silent for 15 minutes", []string{
			series("mysql_bootstrap_guard", "db-0", `state="waiting-for-peers"`, "1x15"),
		}, 15, []string{"db-0"}},
		{"MySQLBootstrapGuardWaitingForPeers", "a peer back within 5 minutes", []string{
			series("mysql_bootstrap_guard", "db-0", `state="waiting-for-peers"`, "1x5 0x10"),
		}, 15, nil},

		{"MySQLBootstrapReconcileErrors", "a pass failing every minute for 30 minutes", []string{
			series("mysql_bootstrap_reconcile_errors_total", "db-1", "", "0+1x30"),
		}, 30, []string{"db-1"}},
		{"MySQLBootstrapReconcileErrors", "errors that stopped 10 minutes ago", []string{
			series("mysql_bootstrap_reconcile_errors_total", "db-1", "", "0+1x20 20x10"),
		}, 30, nil},
		{"MySQLBootstrapReconcileErrors", "old errors, none new", []string{
			series("mysql_bootstrap_reconcile_errors_total", "db-1", "", "7x30"),
		}, 30, nil},

		{"MySQLBootstrapReconcileStuck", "no pass since the start", []string{
			series("mysql_bootstrap_last_reconcile_timestamp_seconds", "db-1", "", "0x15"),
		}, 15, []string{"db-1"}},
		{"MySQLBootstrapReconcileStuck", "a pass every minute", []string{
			series("mysql_bootstrap_last_reconcile_timestamp_seconds", "db-1", "", "0+60x15"),
		}, 15, nil},
	}
}

// TestAlerts evaluates every alert against its cases and requires each
// alert to have a case where it fires and one where it stays quiet.
func TestAlerts(t *testing.T) {
	t.Parallel()
	rs := loadRules(t)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range alertCases() {
		r := findRule(t, rs, tc.alert)
		if len(tc.pods) > 0 {
			fires[tc.alert] = true
		} else {
			quiet[tc.alert] = true
		}
		t.Run(tc.alert+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			got, firing := evaluate(t, r, tc.load, tc.at)
			if !slices.Equal(got, tc.pods) {
				t.Errorf("%s fires for pods %q after %dm, want %q", tc.alert, got, tc.at, tc.pods)
			}
			for _, a := range firing {
				a.Annotations.Range(func(l labels.Label) {
					if strings.Contains(l.Value, "error") && strings.Contains(l.Value, "template") {
						t.Errorf("%s annotation %s does not expand: %s", tc.alert, l.Name, l.Value)
					}
				})
				if a.Labels.Get("namespace") == "" {
					t.Errorf("%s fires without the namespace label: %s", tc.alert, a.Labels)
				}
			}
		})
	}
	for _, r := range rs {
		if r.Alert == "" {
			continue
		}
		if !fires[r.Alert] || !quiet[r.Alert] {
			t.Errorf("alert %s needs a case where it fires and one where it stays quiet (fires %v, quiet %v)", r.Alert, fires[r.Alert], quiet[r.Alert])
		}
	}
}

// TestNaiveThresholdMissesUnknown shows why the rules handle NaN
// explicitly: a plain threshold on a lag that is unknown never fires.
func TestNaiveThresholdMissesUnknown(t *testing.T) {
	t.Parallel()
	naive := rulefmt.Rule{Alert: "NaiveLag", Expr: "mysql_bootstrap_replication_lag_seconds > 30", For: model.Duration(5 * time.Minute)}
	load := []string{series("mysql_bootstrap_replication_lag_seconds", "db-1", "", repeat("NaN", 31))}
	if got, _ := evaluate(t, naive, load, 30); len(got) != 0 {
		t.Fatalf("a threshold fired on NaN (%q): the premise of MySQLBootstrapReplicaStalenessUnknown is wrong", got)
	}
	unknown := findRule(t, loadRules(t), "MySQLBootstrapReplicaStalenessUnknown")
	load = []string{series("mysql_bootstrap_replication_staleness_seconds", "db-1", "", repeat("NaN", 31))}
	if got, _ := evaluate(t, unknown, load, 30); !slices.Equal(got, []string{"db-1"}) {
		t.Errorf("MySQLBootstrapReplicaStalenessUnknown fires for %q on 30 minutes of NaN, want db-1", got)
	}
}

// TestRulesAreComplete checks what every alert carries: a severity, a
// summary and description, and a runbook that exists.
func TestRulesAreComplete(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(runbooks)
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^### (\S+)$`).FindAllStringSubmatch(string(doc), -1) {
		headings[m[1]] = true
	}
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			t.Errorf("recording rule %s: the rules are alerts only", r.Record)
			continue
		}
		if s := r.Labels["severity"]; s != "warning" && s != "critical" {
			t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if r.Annotations[a] == "" {
				t.Errorf("%s has no %s", r.Alert, a)
			}
		}
		if want := runbookURL + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
			t.Errorf("%s runbook_url is %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
		}
		if !headings[r.Alert] {
			t.Errorf("%s has no runbook: %s needs a heading \"### %s\"", r.Alert, runbooks, r.Alert)
		}
		delete(headings, r.Alert)
	}
	for h := range headings {
		t.Errorf("%s has a runbook for %s, which is no alert", runbooks, h)
	}
}

// metricNames returns the metric names an expression selects.
func metricNames(t testing.TB, expr string) []string {
	t.Helper()
	e, err := promql.ParseExpr(expr)
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// readmeMetrics are the metrics README.md lists (its generated table).
func readmeMetrics(t testing.TB) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, "<!-- metrics:begin"), strings.Index(s, "<!-- metrics:end -->")
	if i < 0 || j < i {
		t.Fatal("README.md has no generated metrics table")
	}
	names := map[string]bool{"up": true} // Prometheus's own, per target
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(s[i:j], -1) {
		names[m[1]] = true
	}
	if len(names) < 10 {
		t.Fatalf("README.md lists %d metrics: the table's format changed", len(names))
	}
	return names
}

// TestRulesNameKnownMetrics fails when a rule selects a metric the sidecar
// does not serve (a rename would silence the alert for good).
func TestRulesNameKnownMetrics(t *testing.T) {
	t.Parallel()
	known := readmeMetrics(t)
	for _, r := range loadRules(t) {
		for _, n := range metricNames(t, r.Expr) {
			if !known[n] {
				t.Errorf("%s selects %s, which README.md's metrics table (generated from the code) does not list", r.Alert, n)
			}
		}
	}
}
