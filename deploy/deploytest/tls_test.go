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
	if pd.backup != nil {
		p = append(p, checkSeedTLS(pd)...)
	}
	return p
}

// checkSeedTLS checks the MariaDB seed stream's TLS: with a CA the
// sidecar asks for https copies, so backup-server must serve TLS
// (REPLICATION_TLS_CA_FILE, SEED_TLS_CERT_FILE and SEED_TLS_KEY_FILE in
// volumes it mounts) and seed-exec in the server container must verify
// the donor against the sidecar's CA; without one, neither has a CA.
func checkSeedTLS(pd *pod) []string {
	var p problems
	ca := effective(pd.sidecar, "REPLICATION_TLS_CA_FILE")
	if ca == "" {
		for _, c := range []*corev1.Container{pd.backup, pd.server} {
			if effective(c, "REPLICATION_TLS_CA_FILE") != "" {
				p.addf("container %s sets REPLICATION_TLS_CA_FILE but the sidecar does not: the sidecar asks for http copies, which a CA refuses", c.Name)
			}
		}
		return p
	}
	want, _ := where(pd.sidecar, ca)
	for _, c := range []*corev1.Container{pd.backup, pd.server} {
		file := effective(c, "REPLICATION_TLS_CA_FILE")
		if file == "" {
			p.addf("container %s sets no REPLICATION_TLS_CA_FILE while the sidecar does: the seed stream would not be served or verified over TLS", c.Name)
			continue
		}
		if got, vm := where(c, file); vm == nil || got != want {
			p.addf("container %s REPLICATION_TLS_CA_FILE=%s is not the sidecar's CA (%s)", c.Name, file, want)
		}
	}
	for _, name := range []string{"SEED_TLS_CERT_FILE", "SEED_TLS_KEY_FILE"} {
		file := effective(pd.backup, name)
		if file == "" {
			p.addf("backup-server sets no %s while a CA is configured: it exits 2 (the stream is served over TLS with the server's certificate)", name)
			continue
		}
		if _, vm := where(pd.backup, file); vm == nil {
			p.addf("backup-server %s=%s is in no volume it mounts", name, file)
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

	// The seed stream (MariaDB): backup-server and seed-exec.
	pd, _ = base.pod()
	if pd.backup == nil {
		t.Fatal("chart/everything has no backup-server: the seed stream's checks break nothing")
	}
	for _, tc := range []struct {
		name    string
		breakIt func(pd *pod)
		want    string
	}{
		{"backup-server without its certificate", func(pd *pod) { dropEnv(pd.backup, "SEED_TLS_CERT_FILE") },
			"backup-server sets no SEED_TLS_CERT_FILE"},
		{"backup-server without its key", func(pd *pod) { dropEnv(pd.backup, "SEED_TLS_KEY_FILE") },
			"backup-server sets no SEED_TLS_KEY_FILE"},
		{"backup-server without the TLS mount", func(pd *pod) {
			pd.backup.VolumeMounts = slices.DeleteFunc(pd.backup.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.Name == "tls" })
		}, "is in no volume it mounts"},
		{"backup-server without the CA", func(pd *pod) { dropEnv(pd.backup, "REPLICATION_TLS_CA_FILE") },
			"sets no REPLICATION_TLS_CA_FILE while the sidecar does"},
		{"seed-exec without the CA", func(pd *pod) { dropEnv(pd.server, "REPLICATION_TLS_CA_FILE") },
			"sets no REPLICATION_TLS_CA_FILE while the sidecar does"},
	} {
		m := base.clone()
		pd, _ := m.pod()
		tc.breakIt(pd)
		got := checkTLS(m)
		if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, tc.want) }) {
			t.Errorf("%s: the check reported %q, want %q", tc.name, got, tc.want)
		}
	}
}

// dropEnv removes variable name from c's environment.
func dropEnv(c *corev1.Container, name string) {
	c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
}
