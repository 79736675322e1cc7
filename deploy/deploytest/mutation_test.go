package deploytest

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	bases := flavorBases(t)
	setEnv := func(c *corev1.Container, name, value string) {
		for i := range c.Env {
			if c.Env[i].Name == name {
				c.Env[i] = corev1.EnvVar{Name: name, Value: value}
				return
			}
		}
		c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
	}
	// mountAt returns c's mount at dir. Its absence is a mistake in the
	// table below (the manifests changed), not a finding of a check.
	mountAt := func(c *corev1.Container, dir string) *corev1.VolumeMount {
		for i := range c.VolumeMounts {
			if c.VolumeMounts[i].MountPath == dir {
				return &c.VolumeMounts[i]
			}
		}
		panic(fmt.Sprintf("container %s mounts nothing at %s: update the mutation", c.Name, dir))
	}
	unmount := func(c *corev1.Container, dir string) {
		mountAt(c, dir)
		c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.MountPath == dir })
	}
	sidecarHTTP := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
		HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)},
	}}
	tests := []struct {
		name   string
		flavor string // "" for mariadb, the one with every container
		check  func(*manifests) []string
		mutate func(m *manifests, p *pod)
		want   string // part of the expected problem
	}{
		{"serviceName names no Service", "", checkHeadlessService,
			func(m *manifests, p *pod) { m.sts.Spec.ServiceName = "mysql-typo" },
			"names no Service"},
		{"headless Service gets a cluster IP", "", checkHeadlessService,
			func(m *manifests, p *pod) { m.headless().Spec.ClusterIP = "" },
			"want None"},
		{"headless Service hides not-ready pods", "", checkHeadlessService,
			func(m *manifests, p *pod) { m.headless().Spec.PublishNotReadyAddresses = false },
			"publishNotReadyAddresses"},
		{"primary Service selects ordinal 1", "", checkSelectors,
			func(m *manifests, p *pod) {
				m.primary().Spec.Selector[appsv1.PodIndexLabel] = "1"
			},
			"only ordinal 0"},
		{"primary Service selects by pod name", "", checkSelectors,
			func(m *manifests, p *pod) {
				delete(m.primary().Spec.Selector, appsv1.PodIndexLabel)
				m.primary().Spec.Selector[appsv1.StatefulSetPodNameLabel] = m.sts.Name + "-0"
			},
			"a namePrefix renames the pods"},
		{"read Service selects a label the pods lack", "", checkSelectors,
			func(m *manifests, p *pod) { m.read().Spec.Selector["tier"] = "db" },
			"matches none of the pods"},
		{"PDB selects nothing", "", checkSelectors,
			func(m *manifests, p *pod) {
				m.pdbs[0].Spec.Selector.MatchLabels["app.kubernetes.io/name"] = "db"
			},
			"protects nothing"},
		{"instance label kept by a renamed copy", "", checkInstance,
			func(m *manifests, p *pod) { m.sts.Spec.Template.Labels[instanceLabel] = "mysql-old" },
			"want the StatefulSet's name"},
		{"primary Service without the instance", "", checkInstance,
			func(m *manifests, p *pod) { delete(m.primary().Spec.Selector, instanceLabel) },
			"would select another cluster's pods"},
		{"Service targets an undeclared port", "", checkServicePorts,
			func(m *manifests, p *pod) {
				m.primary().Spec.Ports[0].TargetPort = intstr.FromString("sql")
			},
			"no container of the pod template declares"},
		{"sidecar sets a misspelt variable", "", checkVariables,
			func(m *manifests, p *pod) { setEnv(p.sidecar, "SERVCE_NAME", "mysql") },
			"does not read"},
		{"SERVICE_NAME set in the manifests", "", checkVariables,
			func(m *manifests, p *pod) { setEnv(p.init, "SERVICE_NAME", "mysql") },
			"sets SERVICE_NAME=\"mysql\": leave it unset"},
		{"init has no replication password", "", checkVariables,
			func(m *manifests, p *pod) { setEnv(p.init, "REPLICATION_PASSWORD_FILE", "") },
			"neither REPLICATION_PASSWORD nor REPLICATION_PASSWORD_FILE"},
		{"seed-exec without the replication password", "", checkVariables,
			func(m *manifests, p *pod) {
				p.server.Env = slices.DeleteFunc(p.server.Env, func(e corev1.EnvVar) bool { return e.Name == "REPLICATION_PASSWORD_FILE" })
			},
			"container server sets neither REPLICATION_PASSWORD nor REPLICATION_PASSWORD_FILE: mysql-bootstrap seed-exec"},
		{"backup without its pod name", "", checkVariables,
			func(m *manifests, p *pod) { setEnv(p.backup, "POD_NAME", "") },
			"container backup must set POD_NAME from the downward API"},
		{"password as a literal", "", checkVariables,
			func(m *manifests, p *pod) { setEnv(p.sidecar, "MYSQL_ROOT_PASSWORD", "secret") },
			"mount the Secret"},
		{"sidecar points at another port", "", checkLocalServer,
			func(m *manifests, p *pod) { setEnv(p.sidecar, "MYSQL_PORT", "3307") },
			"MYSQL_PORT=\"3307\""},
		{"readiness on a path the sidecar does not serve", "", checkProbes,
			func(m *manifests, p *pod) { p.server.ReadinessProbe.HTTPGet.Path = "/ready" },
			"GETs \"/ready\""},
		{"server probes the sidecar's port by name", "", checkProbes,
			func(m *manifests, p *pod) {
				p.server.ReadinessProbe.HTTPGet.Port = intstr.FromString("http")
			},
			"named probe port"},
		{"sidecar moves to another port", "", checkProbes,
			func(m *manifests, p *pod) { setEnv(p.sidecar, "HTTP_ADDR", ":9090") },
			"listens on 9090"},
		{"liveness on /readyz", "", checkProbes,
			func(m *manifests, p *pod) {
				p.server.LivenessProbe = sidecarHTTP.DeepCopy()
				p.server.LivenessProbe.HTTPGet.Path = "/readyz"
			},
			"lagging replica would be restarted"},
		{"server liveness back to the sidecar's /healthz", "", checkProbes,
			func(m *manifests, p *pod) { p.server.LivenessProbe = sidecarHTTP.DeepCopy() },
			"a sidecar crash or a root password change would restart mysqld; use an exec probe of /tools/mysql-bootstrap server-alive"},
		{"server startup is a mysqladmin ping", "", checkProbes,
			func(m *manifests, p *pod) {
				p.server.StartupProbe.Exec.Command = []string{"mysqladmin", "ping", "--password=secret"}
			},
			"not mysql-bootstrap server-alive"},
		{"server probe runs mysql-bootstrap from a shell", "", checkProbes,
			func(m *manifests, p *pod) {
				p.server.LivenessProbe.Exec.Command = []string{"sh", "-c", "/tools/mysql-bootstrap server-alive"}
			},
			"not mysql-bootstrap server-alive"},
		{"server probes run a tools copy the server does not mount", "", checkProbes,
			func(m *manifests, p *pod) { unmount(p.server, "/tools") },
			"mount volume tools (init's TOOLS_DIR=/tools) at /tools"},
		{"server probes run mysql-bootstrap from the config volume", "", checkProbes,
			func(m *manifests, p *pod) {
				p.server.StartupProbe.Exec.Command[0] = "/etc/mysql/conf.d/mysql-bootstrap"
			},
			"but init copies mysql-bootstrap to mysql-bootstrap in volume tools"},
		{"init copies nothing into tools", "", checkProbes,
			func(m *manifests, p *pod) {
				p.init.Env = slices.DeleteFunc(p.init.Env, func(e corev1.EnvVar) bool { return e.Name == "TOOLS_DIR" })
			},
			"init sets no TOOLS_DIR"},
		{"server-alive cut off by the kubelet", "", checkProbes,
			func(m *manifests, p *pod) { p.server.LivenessProbe.TimeoutSeconds = 0 },
			"timeoutSeconds 1"},
		{"tcpSocket liveness where seed-exec restores", "", checkProbes,
			func(m *manifests, p *pod) {
				p.server.LivenessProbe.ProbeHandler = corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(3306)}}
			},
			"restart the container in the middle of it"},
		{"MySQL server probe on another port", "mysql", checkProbes,
			func(m *manifests, p *pod) {
				p.server.LivenessProbe.ProbeHandler = corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(33060)}}
			},
			"connects to port 33060"},
		{"backup probed over HTTP", "", checkProbes,
			func(m *manifests, p *pod) {
				p.backup.LivenessProbe.ProbeHandler = corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/backup", Port: intstr.FromInt32(8081)}}
			},
			"backup-server answers only GET /backup"},
		{"backup listens where the sidecar does not fetch", "", checkProbes,
			func(m *manifests, p *pod) { setEnv(p.backup, "BACKUP_ADDR", ":9091") },
			"the sidecar fetches copies from peers' port 8081"},
		{"password file outside the Secret mount", "", checkSecretFiles,
			func(m *manifests, p *pod) {
				setEnv(p.sidecar, "MYSQL_ROOT_PASSWORD_FILE", "/etc/secrets/root-password")
			},
			"not inside any volumeMount"},
		{"Secret lacks the key", "", checkSecretFiles,
			func(m *manifests, p *pod) {
				s := m.credentials()
				delete(s.StringData, "replication-password")
				delete(s.Data, "replication-password")
			},
			"reads key \"replication-password\""},
		{"volume items leave the key out", "", checkSecretFiles,
			func(m *manifests, p *pod) {
				for i := range p.spec.Volumes {
					if s := p.spec.Volumes[i].Secret; s != nil {
						s.Items = []corev1.KeyToPath{{Key: "root-password", Path: "root-password"}}
					}
				}
			},
			"not among the items"},
		{"server mounts the data elsewhere", "", checkSharedVolumes,
			func(m *manifests, p *pod) { mountAt(p.server, "/var/lib/mysql").MountPath = "/data" },
			"both must see the same DATA_DIR"},
		{"sidecar state not on a volume", "", checkSharedVolumes,
			func(m *manifests, p *pod) { unmount(p.sidecar, "/var/lib/mysql-bootstrap") },
			"STATE_DIR=/var/lib/mysql-bootstrap, which is in no volume it mounts"},
		{"sidecar state inside the data directory", "", checkSharedVolumes,
			func(m *manifests, p *pod) { mountAt(p.sidecar, "/var/lib/mysql-bootstrap").SubPath = "mysql" },
			"the state would be inside the server's data directory"},
		{"sidecar state at the claim's root, around the data directory", "mysql", checkSharedVolumes,
			func(m *manifests, p *pod) { mountAt(p.sidecar, "/var/lib/mysql-bootstrap").SubPath = "" },
			"the state would be inside the server's data directory (or the data inside the state)"},
		{"sidecar state on an emptyDir", "mysql", checkSharedVolumes,
			func(m *manifests, p *pod) { mountAt(p.sidecar, "/var/lib/mysql-bootstrap").Name = "config" },
			"not a volumeClaimTemplate: the state would be lost with the pod"},
		{"seed-exec without the sidecar's state", "", checkSharedVolumes,
			func(m *manifests, p *pod) { unmount(p.server, "/var/lib/mysql-bootstrap") },
			"server runs seed-exec, which reads the sidecar's seed request"},
		{"backup without the data", "", checkSharedVolumes,
			func(m *manifests, p *pod) { unmount(p.backup, "/var/lib/mysql") },
			"backup container backup does not mount mysql in volume data at /var/lib/mysql"},
		{"backup runs a tools copy it does not mount", "", checkSharedVolumes,
			func(m *manifests, p *pod) { unmount(p.backup, "/tools") },
			"container backup runs /tools/mysql-bootstrap"},
		{"tools on the data claim", "", checkSharedVolumes,
			func(m *manifests, p *pod) {
				for _, c := range []*corev1.Container{p.init, p.server, p.backup} {
					mountAt(c, "/tools").Name = "data"
					mountAt(c, "/tools").SubPath = "tools"
				}
			},
			"not an emptyDir"},
		{"init writes the config elsewhere", "", checkSharedVolumes,
			func(m *manifests, p *pod) { setEnv(p.init, "CONFIG_DIR", "/etc/my.cnf.d") },
			"mounts no volume there"},
		{"server image of the other flavour", "", checkImages,
			func(m *manifests, p *pod) { p.server.Image = "mysql:9.7" },
			"want \"mariadb:11.8\""},
		{"FLAVOR does not match the image", "", checkImages,
			func(m *manifests, p *pod) { setEnv(p.sidecar, "FLAVOR", "mysql") },
			"FLAVOR=\"mysql\""},
		{"MariaDB server without seed-exec", "", checkImages,
			func(m *manifests, p *pod) {
				p.server.Command = nil
				p.server.Args = nil
			},
			"does not start through mysql-bootstrap seed-exec"},
		{"backup on another server version", "", checkImages,
			func(m *manifests, p *pod) { p.backup.Image = "mariadb:10.11" },
			"mariadb-backup must come from the server's image"},
		{"MySQL server without its preStop hook", "mysql", checkImages,
			func(m *manifests, p *pod) { p.server.Lifecycle = nil },
			"no preStop hook running mysql-bootstrap server-stop"},
		{"MySQL server's preStop hook outside the tools volume", "mysql", checkImages,
			func(m *manifests, p *pod) {
				p.server.Lifecycle.PreStop.Exec.Command[0] = "/usr/local/bin/mysql-bootstrap"
			},
			"server preStop hook"},
		{"MySQL server through seed-exec", "mysql", checkImages,
			func(m *manifests, p *pod) {
				p.server.Command = []string{"/tools/mysql-bootstrap", "seed-exec", "--", "docker-entrypoint.sh"}
				p.server.Args = []string{"mysqld"}
			},
			"MariaDB only"},
		{"server creates a database on every pod", "", checkImages,
			func(m *manifests, p *pod) { setEnv(p.server, "MARIADB_DATABASE", "app") },
			"errant GTIDs"},
		{"sidecar root filesystem writable", "", checkSecurity,
			func(m *manifests, p *pod) {
				f := false
				p.sidecar.SecurityContext.ReadOnlyRootFilesystem = &f
			},
			"readOnlyRootFilesystem"},
		{"backup runs as mysql-bootstrap's uid", "", checkSecurity,
			func(m *manifests, p *pod) {
				uid := int64(65532)
				p.backup.SecurityContext.RunAsUser = &uid
			},
			"mariadb-backup reads the server's files"},
		{"init runs as root", "", checkSecurity,
			func(m *manifests, p *pod) {
				root := int64(0)
				p.init.SecurityContext.RunAsUser = &root
			},
			"numeric non-root runAsUser"},
		{"ordered pod management", "", checkStatefulSet,
			func(m *manifests, p *pod) {
				m.sts.Spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
			},
			"want Parallel"},
		{"short startup budget", "", checkStatefulSet,
			func(m *manifests, p *pod) { p.server.StartupProbe.FailureThreshold = 30 },
			"startupProbe allows 60s"},
		{"short grace period", "", checkStatefulSet,
			func(m *manifests, p *pod) {
				g := int64(10)
				p.spec.TerminationGracePeriodSeconds = &g
			},
			"terminationGracePeriodSeconds"},
		{"no memory limit", "", checkResources,
			func(m *manifests, p *pod) { delete(p.sidecar.Resources.Limits, corev1.ResourceMemory) },
			"no memory limit"},
		{"backup without a memory limit", "", checkResources,
			func(m *manifests, p *pod) { delete(p.backup.Resources.Limits, corev1.ResourceMemory) },
			"container backup has no memory limit"},
		{"backup points at another server", "", checkLocalServer,
			func(m *manifests, p *pod) { setEnv(p.backup, "MYSQL_HOST", "mysql-0.mysql") },
			"container backup MYSQL_HOST=\"mysql-0.mysql\""},
	}
	for _, tc := range tests {
		for _, base := range bases[cmp.Or(tc.flavor, "mariadb")] {
			t.Run(tc.name+"/"+base.name, func(t *testing.T) {
				t.Parallel()
				if got := tc.check(base.m); len(got) != 0 {
					t.Fatalf("the unbroken manifests already fail: %v", got)
				}
				m := base.m.clone()
				p, err := m.pod()
				if err != nil {
					t.Fatal(err)
				}
				tc.mutate(m, p)
				got := tc.check(m)
				wantProblem(t, tc.name, got, tc.want)
			})
		}
	}
}

// TestChecksAcceptAlternatives changes one thing at a time to another form
// the checks must accept, so a check does not demand the manifest's exact
// spelling.
func TestChecksAcceptAlternatives(t *testing.T) {
	t.Parallel()
	bases := flavorBases(t)
	tcp := func(port intstr.IntOrString) corev1.ProbeHandler {
		return corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}}
	}
	tests := []struct {
		name   string
		flavor string
		check  func(*manifests) []string
		mutate func(m *manifests, p *pod)
	}{
		{"MySQL server probed by tcpSocket on 3306", "mysql", checkProbes,
			func(m *manifests, p *pod) {
				p.server.StartupProbe.ProbeHandler = tcp(intstr.FromInt32(3306))
				p.server.LivenessProbe.ProbeHandler = tcp(intstr.FromInt32(3306))
			}},
		{"MySQL server probed by tcpSocket on its port's name", "mysql", checkProbes,
			func(m *manifests, p *pod) { p.server.LivenessProbe.ProbeHandler = tcp(intstr.FromString("mysql")) }},
		{"server-alive with its own timeout", "mariadb", checkProbes,
			func(m *manifests, p *pod) {
				p.server.LivenessProbe.Exec.Command = append(p.server.LivenessProbe.Exec.Command, "--timeout=2s")
				p.server.LivenessProbe.TimeoutSeconds = 3
			}},
		{"tools mounted one level up", "mariadb", checkProbes,
			func(m *manifests, p *pod) {
				for i, vm := range p.server.VolumeMounts {
					if vm.Name == "tools" {
						p.server.VolumeMounts[i].MountPath = "/opt/tools"
					}
				}
				p.server.StartupProbe.Exec.Command[0] = "/opt/tools/mysql-bootstrap"
				p.server.LivenessProbe.Exec.Command[0] = "/opt/tools/mysql-bootstrap"
			}},
		{"state elsewhere on the claim", "mariadb", checkSharedVolumes,
			func(m *manifests, p *pod) {
				for _, c := range []*corev1.Container{p.sidecar, p.server} {
					for i, vm := range c.VolumeMounts {
						if vm.MountPath == "/var/lib/mysql-bootstrap" {
							c.VolumeMounts[i].SubPath = "state/mysql-bootstrap"
						}
					}
				}
			}},
	}
	for _, tc := range tests {
		for _, base := range bases[tc.flavor] {
			t.Run(tc.name+"/"+base.name, func(t *testing.T) {
				t.Parallel()
				m := base.m.clone()
				p, err := m.pod()
				if err != nil {
					t.Fatal(err)
				}
				tc.mutate(m, p)
				if got := tc.check(m); len(got) != 0 {
					t.Errorf("after %q the check reported %q, want nothing", tc.name, got)
				}
			})
		}
	}
}

// base is an unbroken single-cluster rendering for the mutation tests.
type base struct {
	name string // the source's
	m    *manifests
}

// flavorBases renders every single-cluster source by flavour: the
// kustomize overlay and the chart, so that each mutation breaks both.
func flavorBases(t *testing.T) map[string][]base {
	bases := map[string][]base{}
	for _, src := range sources() {
		if src.flavor != "" {
			bases[src.flavor] = append(bases[src.flavor], base{src.name, renderOne(t, src)})
		}
	}
	for _, f := range []string{"mysql", "mariadb"} {
		if len(bases[f]) < 2 {
			t.Fatalf("the mutation tests need the %s overlay and the %s chart, got %d renderings", f, f, len(bases[f]))
		}
	}
	return bases
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
			objs, err := kustomize(dir)
			if err == nil {
				_, err = decode(objs)
			}
			if err == nil || !strings.Contains(err.Error(), "strictly") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("build with %s: got error %v, want one naming %q", tc.name, err, tc.want)
			}
		})
	}
}
