package deploytest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestChecksCatchBrokenManifests breaks one thing at a time in a rendered
// overlay and asserts that the check meant to catch it reports it, so a
// check that can never fail does not pass silently.
func TestChecksCatchBrokenManifests(t *testing.T) {
	t.Parallel()
	base := render(t, overlays[1])
	setEnv := func(c *corev1.Container, name, value string) {
		for i := range c.Env {
			if c.Env[i].Name == name {
				c.Env[i] = corev1.EnvVar{Name: name, Value: value}
				return
			}
		}
		c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
	}
	tests := []struct {
		name   string
		check  func(*manifests) []string
		mutate func(m *manifests, p *pod)
		want   string // part of the expected problem
	}{
		{"serviceName names no Service", checkHeadlessService,
			func(m *manifests, p *pod) { m.sts.Spec.ServiceName = "mysql-typo" },
			"names no Service"},
		{"headless Service gets a cluster IP", checkHeadlessService,
			func(m *manifests, p *pod) { m.service("mysql").Spec.ClusterIP = "" },
			"want None"},
		{"headless Service hides not-ready pods", checkHeadlessService,
			func(m *manifests, p *pod) { m.service("mysql").Spec.PublishNotReadyAddresses = false },
			"publishNotReadyAddresses"},
		{"primary Service selects ordinal 1", checkSelectors,
			func(m *manifests, p *pod) {
				m.service("mysql-primary").Spec.Selector[appsv1.StatefulSetPodNameLabel] = "mysql-1"
			},
			"only ordinal 0"},
		{"read Service selects a label the pods lack", checkSelectors,
			func(m *manifests, p *pod) { m.service("mysql-read").Spec.Selector["tier"] = "db" },
			"matches none of the pods"},
		{"PDB selects nothing", checkSelectors,
			func(m *manifests, p *pod) {
				m.pdbs[0].Spec.Selector.MatchLabels["app.kubernetes.io/name"] = "db"
			},
			"protects nothing"},
		{"Service targets an undeclared port", checkServicePorts,
			func(m *manifests, p *pod) {
				m.service("mysql-primary").Spec.Ports[0].TargetPort = intstr.FromString("sql")
			},
			"no container of the pod template declares"},
		{"sidecar sets a misspelt variable", checkVariables,
			func(m *manifests, p *pod) { setEnv(p.sidecar, "SERVCE_NAME", "mysql") },
			"does not read"},
		{"SERVICE_NAME differs from serviceName", checkVariables,
			func(m *manifests, p *pod) { setEnv(p.init, "SERVICE_NAME", "db") },
			"SERVICE_NAME=\"db\""},
		{"init has no replication password", checkVariables,
			func(m *manifests, p *pod) { setEnv(p.init, "REPLICATION_PASSWORD_FILE", "") },
			"neither REPLICATION_PASSWORD nor REPLICATION_PASSWORD_FILE"},
		{"password as a literal", checkVariables,
			func(m *manifests, p *pod) { setEnv(p.sidecar, "MYSQL_ROOT_PASSWORD", "secret") },
			"mount the Secret"},
		{"sidecar points at another port", checkLocalServer,
			func(m *manifests, p *pod) { setEnv(p.sidecar, "MYSQL_PORT", "3307") },
			"MYSQL_PORT=\"3307\""},
		{"readiness on a path the sidecar does not serve", checkProbes,
			func(m *manifests, p *pod) { p.server.ReadinessProbe.HTTPGet.Path = "/ready" },
			"GETs \"/ready\""},
		{"server probes the sidecar's port by name", checkProbes,
			func(m *manifests, p *pod) {
				p.server.ReadinessProbe.HTTPGet.Port = intstr.FromString("http")
			},
			"named probe port"},
		{"sidecar moves to another port", checkProbes,
			func(m *manifests, p *pod) { setEnv(p.sidecar, "HTTP_ADDR", ":9090") },
			"listens on 9090"},
		{"liveness on /readyz", checkProbes,
			func(m *manifests, p *pod) { p.server.LivenessProbe.HTTPGet.Path = "/readyz" },
			"lagging replica would be restarted"},
		{"password file outside the Secret mount", checkSecretFiles,
			func(m *manifests, p *pod) {
				setEnv(p.sidecar, "MYSQL_ROOT_PASSWORD_FILE", "/etc/secrets/root-password")
			},
			"not inside any volumeMount"},
		{"Secret lacks the key", checkSecretFiles,
			func(m *manifests, p *pod) {
				s := m.secret("mysql-credentials")
				delete(s.StringData, "replication-password")
				delete(s.Data, "replication-password")
			},
			"reads key \"replication-password\""},
		{"volume items leave the key out", checkSecretFiles,
			func(m *manifests, p *pod) {
				for i := range p.spec.Volumes {
					if s := p.spec.Volumes[i].Secret; s != nil {
						s.Items = []corev1.KeyToPath{{Key: "root-password", Path: "root-password"}}
					}
				}
			},
			"not among the items"},
		{"server mounts the data elsewhere", checkSharedVolumes,
			func(m *manifests, p *pod) {
				for i := range p.server.VolumeMounts {
					if p.server.VolumeMounts[i].Name == "data" {
						p.server.VolumeMounts[i].MountPath = "/data"
					}
				}
			},
			"both must see the same DATA_DIR"},
		{"init writes the config elsewhere", checkSharedVolumes,
			func(m *manifests, p *pod) { setEnv(p.init, "CONFIG_DIR", "/etc/my.cnf.d") },
			"mounts no volume there"},
		{"server image of the other flavour", checkImages,
			func(m *manifests, p *pod) { p.server.Image = "mysql:9.7" },
			"want \"mariadb:11.8\""},
		{"FLAVOR does not match the image", checkImages,
			func(m *manifests, p *pod) { setEnv(p.sidecar, "FLAVOR", "mysql") },
			"FLAVOR=\"mysql\""},
		{"server creates a database on every pod", checkImages,
			func(m *manifests, p *pod) { setEnv(p.server, "MARIADB_DATABASE", "app") },
			"errant GTIDs"},
		{"sidecar root filesystem writable", checkSecurity,
			func(m *manifests, p *pod) {
				f := false
				p.sidecar.SecurityContext.ReadOnlyRootFilesystem = &f
			},
			"readOnlyRootFilesystem"},
		{"init runs as root", checkSecurity,
			func(m *manifests, p *pod) {
				root := int64(0)
				p.init.SecurityContext.RunAsUser = &root
			},
			"numeric non-root runAsUser"},
		{"ordered pod management", checkStatefulSet,
			func(m *manifests, p *pod) {
				m.sts.Spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
			},
			"want Parallel"},
		{"short startup budget", checkStatefulSet,
			func(m *manifests, p *pod) { p.server.StartupProbe.FailureThreshold = 30 },
			"startupProbe allows 300s"},
		{"short grace period", checkStatefulSet,
			func(m *manifests, p *pod) {
				g := int64(10)
				p.spec.TerminationGracePeriodSeconds = &g
			},
			"terminationGracePeriodSeconds"},
		{"no memory limit", checkResources,
			func(m *manifests, p *pod) { delete(p.sidecar.Resources.Limits, corev1.ResourceMemory) },
			"no memory limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.check(base); len(got) != 0 {
				t.Fatalf("the unbroken overlay already fails: %v", got)
			}
			m := base.clone()
			p, err := m.pod()
			if err != nil {
				t.Fatal(err)
			}
			tc.mutate(m, p)
			got := tc.check(m)
			for _, problem := range got {
				if strings.Contains(problem, tc.want) {
					return
				}
			}
			t.Errorf("after %q the check reported %q, want a problem containing %q", tc.name, got, tc.want)
		})
	}
}

// TestBuildIsStrict shows that a field the API types do not have fails the
// build instead of being silently dropped.
func TestBuildIsStrict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, patch, want string
	}{
		{"misspelt field", "      enableServiceLink: false\n", "enableServiceLink"},
		{"field at the wrong level", "      serviceName: mysql\n", "serviceName"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base, err := filepath.Abs(filepath.Join("..", "kustomize", "base"))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			write := func(name, content string) {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rel, err := filepath.Rel(dir, base) // kustomize refuses absolute bases
			if err != nil {
				t.Fatal(err)
			}
			write("kustomization.yaml", "resources:\n  - "+filepath.ToSlash(rel)+"\npatches:\n  - path: patch.yaml\n")
			write("patch.yaml", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: mysql\nspec:\n  template:\n    spec:\n"+tc.patch)
			_, err = build(dir)
			if err == nil || !strings.Contains(err.Error(), "strictly") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("build with %s: got error %v, want one naming %q", tc.name, err, tc.want)
			}
		})
	}
}
