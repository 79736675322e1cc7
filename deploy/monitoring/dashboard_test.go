package monitoring

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "copy the rules and the dashboard into the Helm chart")

const (
	dashboardFile = "../kustomize/monitoring/mysql-bootstrap-dashboard.json"
	chartFiles    = "../helm/mysql-bootstrap/files/"
)

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// grafanaVariables stand in for the dashboard's variables, so that its
// queries parse as PromQL.
var grafanaVariables = strings.NewReplacer("$namespace", "shop", "$instance", "db", "$__rate_interval", "5m")

// TestDashboard checks the Grafana dashboard: it is JSON, every query
// parses as PromQL and names only metrics the sidecar serves, every query
// is scoped to the chosen namespace and cluster, and it shows what the
// issue asks of it (roles, readiness, lag and staleness, seeding, the
// reconcile loop).
func TestDashboard(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("dashboard has no title or uid")
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	for _, v := range []string{"datasource", "namespace", "instance"} {
		if !vars[v] {
			t.Errorf("dashboard has no variable %s", v)
		}
	}
	known := readmeMetrics(t)
	shown := map[string]bool{}
	queries := 0
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			queries++
			if !strings.Contains(q.Expr, `namespace="$namespace"`) || !strings.Contains(q.Expr, `app_kubernetes_io_instance=~"$instance"`) {
				t.Errorf("panel %q query %q is not scoped to $namespace and $instance: it would mix clusters", p.Title, q.Expr)
			}
			for _, n := range metricNames(t, grafanaVariables.Replace(q.Expr)) {
				if !known[n] {
					t.Errorf("panel %q selects %s, which README.md's metrics table (generated from the code) does not list", p.Title, n)
				}
				shown[n] = true
			}
		}
	}
	for _, n := range []string{
		"mysql_bootstrap_info", "mysql_bootstrap_ready", "mysql_bootstrap_replication_lag_seconds",
		"mysql_bootstrap_replication_staleness_seconds", "mysql_bootstrap_seed_bytes", "mysql_bootstrap_seed_estimate_bytes",
		"mysql_bootstrap_reconcile_errors_total", "mysql_bootstrap_last_reconcile_timestamp_seconds", "mysql_bootstrap_guard",
	} {
		if !shown[n] {
			t.Errorf("the dashboard shows nothing of %s", n)
		}
	}
	if queries < 10 {
		t.Errorf("the dashboard has %d queries: it lost its panels", queries)
	}
}

// chartAlerts is the chart's copy of the rules: the PrometheusRule's spec,
// a level less indented, under a header.
func chartAlerts(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\nspec:\n")
	if i < 0 {
		t.Fatalf("%s has no top-level spec", rulesFile)
	}
	var out strings.Builder
	out.WriteString("# The spec of deploy/kustomize/monitoring/prometheusrule.yaml, copied by\n" +
		"# `cd deploy/monitoring && go test -run TestChartCopies -update`; runbooks in\n" +
		"# deploy/docs/alerts.md.\n")
	for _, l := range strings.Split(strings.TrimSuffix(s[i+len("\nspec:\n"):], "\n"), "\n") {
		out.WriteString(strings.TrimPrefix(l, "  ") + "\n")
	}
	return []byte(out.String())
}

// TestChartCopies keeps the chart's copies of the rules and the dashboard
// (Helm reads no file outside the chart) equal to deploy/kustomize's.
func TestChartCopies(t *testing.T) {
	dash, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{
		"alerts.yaml":                    chartAlerts(t),
		"mysql-bootstrap-dashboard.json": dash,
	} {
		if *update {
			if err := os.WriteFile(chartFiles+name, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(chartFiles + name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s%s differs from deploy/kustomize/monitoring's; run cd deploy/monitoring && go test -run TestChartCopies -update", chartFiles, name)
		}
	}
}
