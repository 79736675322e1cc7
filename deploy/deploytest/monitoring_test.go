package deploytest

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap"
)

// alertJob is the job label the PodMonitor gives the sidecars' series:
// MySQLBootstrapSidecarDown selects up{job="mysql-bootstrap"}.
const alertJob = "mysql-bootstrap"

// checkMonitoring checks the PodMonitor of a monitored cluster: one, on
// the sidecar's metrics port and path, carrying the pods' instance label
// into the series (the alert rules and the dashboard group by it).
func checkMonitoring(m *manifests) []string {
	var p problems
	if !m.want.monitored {
		for _, pm := range m.monitors {
			p.addf("PodMonitor %s selects the pods, but this rendering is not meant to be monitored", pm.Name)
		}
		return p
	}
	if len(m.monitors) != 1 {
		p.addf("%d PodMonitors select the pods, want 1", len(m.monitors))
		return p
	}
	pd, err := m.pod()
	if err != nil {
		return []string{err.Error()}
	}
	httpPort, err := sidecarHTTPPort(pd.sidecar)
	if err != nil {
		return []string{err.Error()}
	}
	pm := m.monitors[0]
	if len(pm.Spec.PodMetricsEndpoints) != 1 {
		p.addf("PodMonitor %s has %d endpoints, want 1 (the sidecar's)", pm.Name, len(pm.Spec.PodMetricsEndpoints))
		return p
	}
	ep := pm.Spec.PodMetricsEndpoints[0]
	i := slices.IndexFunc(pd.sidecar.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == ep.Port })
	switch {
	case ep.Port == "":
		p.addf("PodMonitor %s endpoint names no port: name the sidecar's port", pm.Name)
	case i < 0:
		p.addf("PodMonitor %s scrapes port %q, which the sidecar does not declare (ports %v)", pm.Name, ep.Port, pd.sidecar.Ports)
	case int(pd.sidecar.Ports[i].ContainerPort) != httpPort:
		p.addf("PodMonitor %s scrapes port %s (%d), but the sidecar serves /metrics on %d (HTTP_ADDR)", pm.Name, ep.Port, pd.sidecar.Ports[i].ContainerPort, httpPort)
	}
	if ep.Path != "" && ep.Path != bootstrap.PathMetrics {
		p.addf("PodMonitor %s scrapes path %q, the sidecar serves %s", pm.Name, ep.Path, bootstrap.PathMetrics)
	}
	job := ""
	for _, rl := range ep.Relabelings {
		if rl.TargetLabel == "job" && (rl.Action == "" || rl.Action == "replace") && rl.Replacement != nil && len(rl.SourceLabels) == 0 {
			job = *rl.Replacement
		}
	}
	if job != alertJob {
		p.addf("PodMonitor %s does not set job=%s (relabelings), which the alert on failed scrapes selects (up{job=%q})", pm.Name, alertJob, alertJob)
	}
	if !slices.Contains(pm.Spec.PodTargetLabels, instanceLabel) {
		p.addf("PodMonitor %s does not carry the pods' %s label into the series (podTargetLabels %v): the alerts and the dashboard tell clusters apart by it", pm.Name, instanceLabel, pm.Spec.PodTargetLabels)
	}
	return p
}

// TestMonitoringChecksCatchBrokenPodMonitors breaks the PodMonitor of
// every monitored rendering one way at a time.
func TestMonitoringChecksCatchBrokenPodMonitors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(m *manifests)
		want   string
	}{
		{"scrapes the server's port", func(m *manifests) { m.monitors[0].Spec.PodMetricsEndpoints[0].Port = "mysql" }, "which the sidecar does not declare"},
		{"scrapes another path", func(m *manifests) { m.monitors[0].Spec.PodMetricsEndpoints[0].Path = "/status" }, "scrapes path"},
		{"drops the instance label", func(m *manifests) { m.monitors[0].Spec.PodTargetLabels = nil }, "podTargetLabels"},
		{"none", func(m *manifests) { m.monitors = nil }, "0 PodMonitors"},
		{"keeps the default job", func(m *manifests) { m.monitors[0].Spec.PodMetricsEndpoints[0].Relabelings = nil }, "does not set job=mysql-bootstrap"},
	}
	n := 0
	for _, src := range sources() {
		for _, name := range slices.Sorted(maps.Keys(src.clusters)) {
			if !src.clusters[name].monitored {
				continue
			}
			n++
			for _, tc := range tests {
				t.Run(src.name+"/"+name+"/"+tc.name, func(t *testing.T) {
					t.Parallel()
					r := render(t, src)
					i := slices.IndexFunc(r.clusters, func(m *manifests) bool { return m.sts.Name == name })
					m := r.clusters[i].clone()
					if got := checkMonitoring(m); len(got) > 0 {
						t.Fatalf("the unbroken rendering already fails: %v", got)
					}
					tc.mutate(m)
					got := checkMonitoring(m)
					for _, problem := range got {
						if strings.Contains(problem, tc.want) {
							return
						}
					}
					t.Errorf("after %q the check reported %q, want a problem containing %q", tc.name, got, tc.want)
				})
			}
		}
	}
	if n < 3 {
		t.Errorf("%d monitored clusters among the sources, want the kustomize component's and the chart's", n)
	}
}

// TestMonitoringBundlesAgree shows that the chart's alert rules and
// dashboard are those of deploy/kustomize/monitoring (which
// deploy/monitoring tests): the chart keeps copies, since Helm reads no
// file outside the chart.
func TestMonitoringBundlesAgree(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs(filepath.Join("..", "kustomize", "monitoring"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kustomize(dir)
	if err != nil {
		t.Fatal(err)
	}
	k, err := decode(objs)
	if err != nil {
		t.Fatal(err)
	}
	out, err := helm(t, release{"db", "test", []string{"metrics.prometheusRule.enabled=true", "metrics.dashboard.enabled=true"}}.args()...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err = splitYAML(out)
	if err != nil {
		t.Fatal(err)
	}
	c, err := decode(objs)
	if err != nil {
		t.Fatal(err)
	}
	if len(k.rules) != 1 || len(c.rules) != 1 {
		t.Fatalf("PrometheusRules: %d from kustomize, %d from the chart, want 1 each", len(k.rules), len(c.rules))
	}
	if len(k.rules[0].Spec) == 0 {
		t.Fatal("the kustomize PrometheusRule has an empty spec")
	}
	if d := cmp.Diff(k.rules[0].Spec, c.rules[0].Spec); d != "" {
		t.Errorf("the chart's rules differ from deploy/kustomize/monitoring's (-kustomize +chart); run cd deploy/monitoring && go test -run TestChartCopies -update:\n%s", d)
	}
	const key = "mysql-bootstrap-dashboard.json"
	dashboard := func(r *rendering) (string, map[string]string) {
		for _, cm := range r.configMaps {
			if d, ok := cm.Data[key]; ok {
				return d, cm.Labels
			}
		}
		t.Fatalf("no ConfigMap holds %s", key)
		return "", nil
	}
	kd, kl := dashboard(k)
	cd, cl := dashboard(c)
	if kd != cd {
		t.Errorf("the chart's dashboard differs from deploy/kustomize/monitoring's; run cd deploy/monitoring && go test -run TestChartCopies -update")
	}
	if kl["grafana_dashboard"] != "1" || cl["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMaps lack the label grafana_dashboard: \"1\" that Grafana's sidecar looks for: kustomize %v, chart %v", kl, cl)
	}
}
