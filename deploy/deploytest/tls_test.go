package deploytest

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// checkTLS checks the files of verified TLS: the server reads
// REPLICATION_TLS_CA_FILE (and the client certificate and key) at the path
// the sidecar names in CHANGE REPLICATION SOURCE, so the server container
// must see the same file there.
func checkTLS(m *manifests) []string {
	var p problems
	pd, err := m.pod()
	if err != nil {
		return []string{err.Error()}
	}
	for _, name := range []string{"REPLICATION_TLS_CA_FILE", "REPLICATION_TLS_CERT_FILE", "REPLICATION_TLS_KEY_FILE"} {
		file := effective(pd.sidecar, name)
		if file == "" {
			continue
		}
		want, sm := where(pd.sidecar, file)
		if sm == nil {
			p.addf("sidecar %s=%s is in no volume it mounts", name, file)
			continue
		}
		if got, vm := where(pd.server, file); vm == nil || got != want {
			p.addf("sidecar %s=%s is %s, but the server does not see that file at %s: the server reads it when the sidecar points replication at it", name, file, want, file)
		}
	}
	return p
}

// TestTLSCheckCatchesMissingFiles breaks the TLS files of the chart
// rendered with tls.existingSecret.
func TestTLSCheckCatchesMissingFiles(t *testing.T) {
	t.Parallel()
	var src *source
	for _, s := range sources() {
		if s.name == "chart/everything" {
			src = &s
		}
	}
	if src == nil {
		t.Fatal("no chart/everything source")
	}
	base := renderOne(t, *src)
	if got := checkTLS(base); len(got) > 0 {
		t.Fatalf("the unbroken rendering already fails: %v", got)
	}
	pd, err := base.pod()
	if err != nil {
		t.Fatal(err)
	}
	if effective(pd.sidecar, "REPLICATION_TLS_CA_FILE") == "" {
		t.Fatal("chart/everything sets no REPLICATION_TLS_CA_FILE: the test breaks nothing")
	}
	m := base.clone()
	pd, _ = m.pod()
	pd.server.VolumeMounts = slices.DeleteFunc(pd.server.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.Name == "tls" })
	got := checkTLS(m)
	if len(got) == 0 || !strings.Contains(got[0], "the server does not see that file") {
		t.Errorf("server without the TLS mount: the check reported %q", got)
	}
}
