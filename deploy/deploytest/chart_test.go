package deploytest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// chartDir is the Helm chart, relative to this package.
var chartDir = filepath.Join("..", "helm", "mysql-bootstrap")

var helmOnce = sync.OnceValues(func() (string, error) {
	if h := os.Getenv("HELM"); h != "" {
		return h, nil
	}
	// The helm CLI is a tool of the module in deploy/tools (its
	// dependencies stay out of the main go.mod); build.sh builds it once
	// into bin/tools and skips it when it is up to date.
	out, err := filepath.Abs(filepath.Join("..", "..", "bin", "tools"))
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join("..", "tools", "build.sh"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the helm CLI (deploy/tools/build.sh): %v\n%s", err, b)
	}
	return filepath.Join(out, "helm"), nil
})

// readChart reads every file of the chart in this process: go test caches
// a passing result by the files the test opened, and those the helm CLI
// opens are not among them, so an edited chart would otherwise be served
// an old result.
var readChart = sync.OnceValue(func() error {
	return filepath.WalkDir(chartDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		_, err = os.ReadFile(path)
		return err
	})
})

// helm runs the helm CLI (HELM, or deploy/tools' build) and returns its
// standard output.
func helm(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	if err := readChart(); err != nil {
		t.Fatal(err)
	}
	bin, err := helmOnce()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	// No user configuration, caches or plugins of the machine's.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out, nil
}

// release is one `helm template` of the chart.
type release struct {
	name, namespace string
	set             []string // --set arguments
}

func (r release) args() []string {
	args := []string{"template", r.name, chartDir, "--namespace", r.namespace}
	for _, s := range r.set {
		if strings.HasPrefix(s, "--") {
			args = append(args, s) // a flag of helm's
			continue
		}
		args = append(args, "--set", s)
	}
	return args
}

// chartSource renders one or more releases of the chart, in that order,
// as one stream: several releases in one namespace are several clusters.
func chartSource(name string, clusters map[string]want, releases ...release) source {
	return source{
		name: "chart/" + name,
		render: func(t testing.TB) ([]object, error) {
			var objs []object
			for _, r := range releases {
				out, err := helm(t, r.args()...)
				if err != nil {
					return nil, err
				}
				o, err := splitYAML(out)
				if err != nil {
					return nil, fmt.Errorf("helm %s: %w", strings.Join(r.args(), " "), err)
				}
				objs = append(objs, o...)
			}
			return objs, nil
		},
		clusters: clusters,
	}
}

// localImages are the images built here (images/build.sh), as the
// real-cluster tests would set them.
var localImages = []string{
	"image.repository=mysql-bootstrap", "image.tag=dev", "image.pullPolicy=Never",
	"server.image.pullPolicy=Never",
}

func chartSources() []source {
	monitored := func(w want) want { w.monitored = true; return w }
	mysql := chartSource("mysql", map[string]want{"db": wantMySQL},
		release{"db", "test", []string{"flavor=mysql"}})
	mysql.flavor = "mysql"
	mariadb := chartSource("mariadb-monitored", map[string]want{"db": monitored(wantMariaDB)},
		release{"db", "test", []string{"flavor=mariadb", "metrics.podMonitor.enabled=true"}})
	mariadb.flavor = "mariadb"

	// Every option that changes the pods at once, on local images.
	everything := wantMariaDB
	everything.serverImage = "mysql-bootstrap/mariadb:10.11"
	everything.externalSecrets = []string{"shop-credentials", "shop-tls"}
	everything = monitored(everything)
	everything.sqlClients = []networkingv1.NetworkPolicyPeer{
		{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop-api"}}},
		namespacePeer("reports"),
	}
	everything.metricsFrom = []networkingv1.NetworkPolicyPeer{{
		NamespaceSelector: namespacePeer("monitoring").NamespaceSelector,
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "prometheus"}},
	}}
	all := chartSource("everything", map[string]want{"shop-db": everything},
		release{"shop", "test", append([]string{
			"flavor=mariadb", "nameOverride=db", "replicas=5",
			"server.image.repository=mysql-bootstrap/mariadb", "server.image.tag=10.11",
			"credentials.existingSecret=shop-credentials", "credentials.rootPasswordKey=root",
			"credentials.replicationPasswordKey=replication",
			"tls.existingSecret=shop-tls",
			"server.config=[mysqld]\nmax_connections = 500",
			"config.MAX_REPLICATION_LAG=60s", "config.WAIT_TIMEOUT=1h",
			"persistence.storageClass=fast", "persistence.size=50Gi",
			"podLabels.team=shop", "podAnnotations.example\\.com/owner=shop",
			"tolerations[0].key=dedicated", "tolerations[0].operator=Exists",
			"topologySpreadConstraints[0].maxSkew=1",
			"topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone",
			"topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
			"metrics.podMonitor.enabled=true", "metrics.prometheusRule.enabled=true",
			"metrics.dashboard.enabled=true",
			"networkPolicy.sqlClients[0].podSelector.matchLabels.app=shop-api",
			"networkPolicy.sqlClients[1].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=reports",
			"networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=monitoring",
			"networkPolicy.metricsFrom[0].podSelector.matchLabels.app\\.kubernetes\\.io/name=prometheus",
		}, localImages...)})
	mysqlLocal := wantMySQL
	mysqlLocal.serverImage = "mysql-bootstrap/mysql:9.7"
	mariadbLocal := wantMariaDB
	mariadbLocal.serverImage = "mysql-bootstrap/mariadb:11.8"
	// billing in kubernetes mode beside orders on ordinal 0: one's RBAC
	// and role-label Services must not reach the other.
	mysqlLocal.primaryMode = modeKubernetes
	two := chartSource("two-releases", map[string]want{"orders": mariadbLocal, "billing": mysqlLocal},
		release{"orders", "shop", append([]string{"flavor=mariadb", "server.image.repository=mysql-bootstrap/mariadb"}, localImages...)},
		release{"billing", "shop", append([]string{"flavor=mysql", "server.image.repository=mysql-bootstrap/mysql", "primary.mode=kubernetes"}, localImages...)})

	kubernetes := wantMySQL
	kubernetes.primaryMode = modeKubernetes
	kube := chartSource("kubernetes", map[string]want{"db": kubernetes},
		release{"db", "test", []string{"flavor=mysql", "primary.mode=kubernetes"}})
	kubernetesMariaDB := wantMariaDB
	kubernetesMariaDB.primaryMode = modeKubernetes
	kubeRenamed := chartSource("kubernetes-renamed", map[string]want{"shop-db": kubernetesMariaDB},
		release{"shop", "test", []string{"flavor=mariadb", "nameOverride=db", "replicas=4",
			"primary.mode=kubernetes", "primary.leaseDuration=20s", "primary.leaseRenewInterval=5s"}})
	return []source{mysql, mariadb, all, two, kube, kubeRenamed}
}

// TestChartLint runs helm lint --strict on the chart with each set of
// values the renderings use.
func TestChartLint(t *testing.T) {
	t.Parallel()
	for _, set := range [][]string{
		nil,
		{"flavor=mariadb"},
		{"flavor=mariadb", "metrics.podMonitor.enabled=true", "metrics.prometheusRule.enabled=true", "metrics.dashboard.enabled=true",
			"tls.existingSecret=tls", "credentials.existingSecret=creds", "server.config=[mysqld]"},
		{"networkPolicy.sqlClients[0].podSelector.matchLabels.app=api", "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.team=observability"},
		{"networkPolicy.enabled=false"},
		{"primary.mode=kubernetes", "primary.leaseDuration=1m", "primary.leaseRenewInterval=10s"},
	} {
		t.Run(strings.Join(set, ","), func(t *testing.T) {
			t.Parallel()
			args := []string{"lint", "--strict", chartDir}
			for _, s := range set {
				args = append(args, "--set", s)
			}
			if out, err := helm(t, args...); err != nil {
				t.Errorf("%v\n%s", err, out)
			}
		})
	}
}

// TestChartRefuses shows that values the chart cannot honour fail the
// install with a message, instead of rendering something that breaks.
func TestChartRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  []string
		want string
	}{
		{"unknown flavour", []string{"flavor=postgres"}, "value must be one of 'mysql', 'mariadb'"},
		{"unknown flavour past the schema", []string{"flavor=postgres", "--skip-schema-validation"}, "want mysql or mariadb"},
		{"a misspelt value", []string{"replica=5"}, "additional properties 'replica' not allowed"},
		{"a digest that is not one", []string{"image.digest=latest"}, "/image/digest"},
		{"SERVICE_NAME in config", []string{"config.SERVICE_NAME=mysql"}, "the chart sets SERVICE_NAME itself"},
		{"a name too long for the revision label", []string{"fullnameOverride=" + strings.Repeat("a", 53)}, "longer than 52"},
		{"a name that is no DNS label", []string{"fullnameOverride=My_DB"}, "not a DNS label"},
		{"a SQL client that is no peer", []string{"networkPolicy.sqlClients[0]=shop-api"}, "/networkPolicy/sqlClients/0"},
		{"an empty peer, which the API refuses", []string{"networkPolicy.metricsFrom[0].podSelector=null"}, "/networkPolicy/metricsFrom/0"},
		{"an unknown primary mode", []string{"primary.mode=raft"}, "value must be one of 'ordinal-0', 'kubernetes'"},
		{"an unknown primary mode past the schema", []string{"primary.mode=raft", "--skip-schema-validation"}, "want ordinal-0 or kubernetes"},
		{"a Lease duration without its unit", []string{"primary.leaseDuration=10"}, "/primary/leaseDuration"},
		{"a renewal interval that is no duration", []string{"primary.leaseRenewInterval=often"}, "/primary/leaseRenewInterval"},
		{"PRIMARY in config", []string{"config.PRIMARY=kubernetes"}, "from primary.mode"},
		{"a Lease timing in config", []string{"primary.mode=kubernetes", "config.LEASE_DURATION=30s"}, "config.LEASE_DURATION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := helm(t, release{"db", "test", tc.set}.args()...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template with %v: %v, want an error containing %q", tc.set, err, tc.want)
			}
		})
	}
}

// TestChartKeepsPasswords shows the generated Secret is kept by helm
// uninstall (the data volumes hold the passwords too) and is generated,
// not a fixed value.
func TestChartKeepsPasswords(t *testing.T) {
	t.Parallel()
	var seen []string
	for range 2 {
		out, err := helm(t, release{"db", "test", nil}.args()...)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := splitYAML(out)
		if err != nil {
			t.Fatal(err)
		}
		r, err := decode(objs)
		if err != nil {
			t.Fatal(err)
		}
		s := r.clusters[0].credentials()
		if s == nil {
			t.Fatal("no credentials Secret rendered")
		}
		if s.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("Secret %s lacks helm.sh/resource-policy: keep: helm uninstall would delete the passwords the data volumes still use", s.Name)
		}
		for _, k := range []string{"root-password", "replication-password"} {
			if len(s.Data[k]) < 32 {
				t.Errorf("Secret %s key %s is %d bytes, want a generated 32-character password", s.Name, k, len(s.Data[k]))
			}
			seen = append(seen, string(s.Data[k]))
		}
	}
	if seen[0] == seen[2] || seen[0] == seen[1] {
		t.Errorf("passwords are not random: %q", seen)
	}
}
