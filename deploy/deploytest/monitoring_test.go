package deploytest

import (
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap"
)

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
