package deploytest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap"
)

// want is what one cluster (one StatefulSet and what selects its pods)
// of a rendering must look like.
type want struct {
	serverImage string   // the image the server container runs
	flavor      string   // FLAVOR of the mysql-bootstrap containers
	serverEnv   []string // variables the server container must set
	// externalSecrets are Secrets the pods read that the rendering leaves
	// to the user (an existing Secret named in the chart's values).
	externalSecrets []string
	// monitored: a PodMonitor must scrape this cluster's sidecars.
	monitored bool
	// sqlClients and metricsFrom are the peers besides the StatefulSet's
	// own pods that the NetworkPolicy must admit to 3306 and to 8080, in
	// its rules' order; noNetworkPolicy: the rendering has none (the
	// chart's networkPolicy.enabled=false).
	sqlClients, metricsFrom []networkingv1.NetworkPolicyPeer
	noNetworkPolicy         bool
	// primaryMode is the PRIMARY the rendering gives init and the
	// sidecar: "" for none (ordinal 0, the binary's default, no API
	// access), modeKubernetes for the Lease's holder (RBAC, role labels).
	primaryMode string
}

// seeds reports whether the flavour copies data to replicas through
// seed-exec and a backup container (mariadb-backup): MariaDB has no clone
// plugin; MySQL's clone plugin needs neither.
func (w want) seeds() bool { return w.flavor == string(bootstrap.FlavorMariaDB) }

var (
	// The mysql image's first start binary-logs its time zone tables; the
	// sidecar discards a new replica's first-start GTIDs, so
	// MYSQL_INITDB_SKIP_TZINFO is not needed.
	wantMySQL = want{
		serverImage: "mysql:9.7", flavor: string(bootstrap.FlavorMySQL),
		serverEnv: []string{"MYSQL_ROOT_PASSWORD_FILE"},
	}
	wantMariaDB = want{
		serverImage: "mariadb:11.8", flavor: string(bootstrap.FlavorMariaDB),
		serverEnv: []string{"MARIADB_ROOT_PASSWORD_FILE"},
	}
)

// source is one rendering of the manifests (a kustomize directory, or the
// chart with some values) and what each of its clusters must be, by
// StatefulSet name.
type source struct {
	name     string
	render   func(t testing.TB) ([]object, error)
	clusters map[string]want
	// flavor names the single-cluster sources the mutation tests break:
	// "" for the others.
	flavor string
}

// kustomizeSource renders a directory under deploy/kustomize.
func kustomizeSource(dir string, clusters map[string]want) source {
	return source{
		name: "kustomize/" + dir,
		render: func(t testing.TB) ([]object, error) {
			abs, err := filepath.Abs(filepath.Join("..", "kustomize", filepath.FromSlash(dir)))
			if err != nil {
				return nil, err
			}
			return kustomize(abs)
		},
		clusters: clusters,
	}
}

// sources are every rendering the checks run on.
func sources() []source {
	mysql := kustomizeSource("overlays/mysql", map[string]want{"mysql": wantMySQL})
	mysql.flavor = "mysql"
	mariadb := kustomizeSource("overlays/mariadb", map[string]want{"mysql": wantMariaDB})
	mariadb.flavor = "mariadb"
	monitored := wantMariaDB
	monitored.monitored = true
	// deploy/kustomize/components/monitoring's patch.
	monitored.metricsFrom = []networkingv1.NetworkPolicyPeer{namespacePeer("monitoring")}
	clients := wantMariaDB
	clients.sqlClients = []networkingv1.NetworkPolicyPeer{
		{PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"shop-api"}},
		}}},
		namespacePeer("reports"),
	}
	kubernetes := wantMySQL
	kubernetes.primaryMode = modeKubernetes
	return append([]source{
		mysql, mariadb,
		kustomizeSource("examples/two-clusters", map[string]want{"orders-mysql": wantMariaDB, "billing-mysql": wantMySQL}),
		kustomizeSource("examples/monitored", map[string]want{"shop-mysql": monitored}),
		kustomizeSource("examples/sql-clients", map[string]want{"mysql": clients}),
		kustomizeSource("examples/kubernetes-primary", map[string]want{"mysql": kubernetes}),
		prefixedSource("examples/kubernetes-primary", "orders-", map[string]want{"orders-mysql": kubernetes}),
	}, chartSources()...)
}

// prefixedSource renders a renamed copy of a directory under
// deploy/kustomize, as deploy/README.md tells users to make one: a
// namePrefix and the instance label with includeSelectors, in a
// kustomization of their own that names the directory as its resource.
func prefixedSource(dir, prefix string, clusters map[string]want) source {
	return source{
		name: "kustomize/" + dir + "+namePrefix " + prefix,
		render: func(t testing.TB) ([]object, error) {
			abs, err := filepath.Abs(filepath.Join("..", "kustomize", filepath.FromSlash(dir)))
			if err != nil {
				return nil, err
			}
			tmp := t.TempDir()
			rel, err := filepath.Rel(tmp, abs) // kustomize refuses absolute resources
			if err != nil {
				return nil, err
			}
			k := fmt.Sprintf("resources:\n  - %s\nnamePrefix: %s\nlabels:\n  - pairs:\n      %s: %smysql\n    includeSelectors: true\n",
				filepath.ToSlash(rel), prefix, instanceLabel, prefix)
			if err := os.WriteFile(filepath.Join(tmp, "kustomization.yaml"), []byte(k), 0o644); err != nil {
				return nil, err
			}
			return kustomize(tmp)
		},
		clusters: clusters,
	}
}

// namespacePeer is every pod of one namespace, by the name label
// Kubernetes puts on each.
func namespacePeer(name string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
		MatchLabels: map[string]string{"kubernetes.io/metadata.name": name},
	}}
}

// object is one rendered document.
type object struct {
	apiVersion, kind, name string
	yaml                   []byte
}

func (o object) id() string { return o.kind + "/" + o.name }

// kustomize renders a kustomization as `kubectl apply -k` would.
func kustomize(dir string) ([]object, error) {
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs []object
	for _, r := range rm.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", r.GetKind(), r.GetName(), err)
		}
		objs = append(objs, object{apiVersion: r.GetApiVersion(), kind: r.GetKind(), name: r.GetName(), yaml: y})
	}
	return objs, nil
}

// splitYAML reads a stream of YAML documents (helm template's output);
// empty documents are skipped.
func splitYAML(b []byte) ([]object, error) {
	rd := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var objs []object
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		var head struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("%w in document:\n%s", err, doc)
		}
		if head.Kind == "" && head.APIVersion == "" {
			continue // only comments
		}
		objs = append(objs, object{apiVersion: head.APIVersion, kind: head.Kind, name: head.Metadata.Name, yaml: doc})
	}
}

// podMonitor mirrors the fields of monitoring.coreos.com/v1 PodMonitor
// that the manifests use. It is decoded strictly: a field it lacks fails
// the build, so a misspelt field cannot pass; teach it a field before
// using one.
type podMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel            string               `json:"jobLabel,omitempty"`
		PodTargetLabels     []string             `json:"podTargetLabels,omitempty"`
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port        string `json:"port,omitempty"`
			Path        string `json:"path,omitempty"`
			Interval    string `json:"interval,omitempty"`
			Relabelings []struct {
				Action       string   `json:"action,omitempty"`
				SourceLabels []string `json:"sourceLabels,omitempty"`
				Regex        string   `json:"regex,omitempty"`
				TargetLabel  string   `json:"targetLabel,omitempty"`
				Replacement  *string  `json:"replacement,omitempty"`
			} `json:"relabelings,omitempty"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// prometheusRule is a monitoring.coreos.com/v1 PrometheusRule: its rules
// are checked by the Prometheus rule parser in deploy/monitoring; here its
// spec is only compared between the kustomize and chart renderings.
type prometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              map[string]any `json:"spec"`
}

// rendering is a source decoded into the API types and split into its
// clusters.
type rendering struct {
	source     source
	objects    []object
	statefuls  []*appsv1.StatefulSet
	services   []*corev1.Service
	pdbs       []*policyv1.PodDisruptionBudget
	secrets    []*corev1.Secret
	configMaps []*corev1.ConfigMap
	monitors   []*podMonitor
	rules      []*prometheusRule
	netpols    []*networkingv1.NetworkPolicy
	rbac       rbacObjects
	clusters   []*manifests
}

// rbacObjects are a rendering's ServiceAccounts and RBAC objects. The
// checks look at all of them for every cluster: in the default mode there
// must be none, and a cluster-scoped one is never wanted.
type rbacObjects struct {
	serviceAccounts     []*corev1.ServiceAccount
	roles               []*rbacv1.Role
	roleBindings        []*rbacv1.RoleBinding
	clusterRoles        []*rbacv1.ClusterRole
	clusterRoleBindings []*rbacv1.ClusterRoleBinding
}

func (o rbacObjects) clone() rbacObjects {
	var c rbacObjects
	for _, x := range o.serviceAccounts {
		c.serviceAccounts = append(c.serviceAccounts, x.DeepCopy())
	}
	for _, x := range o.roles {
		c.roles = append(c.roles, x.DeepCopy())
	}
	for _, x := range o.roleBindings {
		c.roleBindings = append(c.roleBindings, x.DeepCopy())
	}
	for _, x := range o.clusterRoles {
		c.clusterRoles = append(c.clusterRoles, x.DeepCopy())
	}
	for _, x := range o.clusterRoleBindings {
		c.clusterRoleBindings = append(c.clusterRoleBindings, x.DeepCopy())
	}
	return c
}

// decode turns rendered objects into the API types, strictly: a misspelt
// or misplaced field fails here instead of being dropped or rejected by
// the API server.
func decode(objs []object) (*rendering, error) {
	r := &rendering{objects: objs}
	for _, o := range objs {
		var obj any
		switch gk := o.apiVersion + " " + o.kind; gk {
		case "apps/v1 StatefulSet":
			s := &appsv1.StatefulSet{}
			r.statefuls = append(r.statefuls, s)
			obj = s
		case "v1 Service":
			s := &corev1.Service{}
			r.services = append(r.services, s)
			obj = s
		case "policy/v1 PodDisruptionBudget":
			p := &policyv1.PodDisruptionBudget{}
			r.pdbs = append(r.pdbs, p)
			obj = p
		case "v1 Secret":
			s := &corev1.Secret{}
			r.secrets = append(r.secrets, s)
			obj = s
		case "v1 ConfigMap":
			c := &corev1.ConfigMap{}
			r.configMaps = append(r.configMaps, c)
			obj = c
		case "networking.k8s.io/v1 NetworkPolicy":
			n := &networkingv1.NetworkPolicy{}
			r.netpols = append(r.netpols, n)
			obj = n
		case "monitoring.coreos.com/v1 PodMonitor":
			m := &podMonitor{}
			r.monitors = append(r.monitors, m)
			obj = m
		case "monitoring.coreos.com/v1 PrometheusRule":
			p := &prometheusRule{}
			r.rules = append(r.rules, p)
			obj = p
		case "v1 ServiceAccount":
			s := &corev1.ServiceAccount{}
			r.rbac.serviceAccounts = append(r.rbac.serviceAccounts, s)
			obj = s
		case "rbac.authorization.k8s.io/v1 Role":
			ro := &rbacv1.Role{}
			r.rbac.roles = append(r.rbac.roles, ro)
			obj = ro
		case "rbac.authorization.k8s.io/v1 RoleBinding":
			b := &rbacv1.RoleBinding{}
			r.rbac.roleBindings = append(r.rbac.roleBindings, b)
			obj = b
		case "rbac.authorization.k8s.io/v1 ClusterRole":
			ro := &rbacv1.ClusterRole{}
			r.rbac.clusterRoles = append(r.rbac.clusterRoles, ro)
			obj = ro
		case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
			b := &rbacv1.ClusterRoleBinding{}
			r.rbac.clusterRoleBindings = append(r.rbac.clusterRoleBindings, b)
			obj = b
		default:
			return nil, fmt.Errorf("%s (%s) is not an object these tests know: teach decode and the checks about it", o.id(), gk)
		}
		if err := yaml.UnmarshalStrict(o.yaml, obj); err != nil {
			return nil, fmt.Errorf("%s does not decode strictly into the API type (unknown or duplicate field?): %w", o.id(), err)
		}
	}
	for _, sts := range r.statefuls {
		m := &manifests{sts: sts, secrets: r.secrets, configMaps: r.configMaps}
		for _, s := range r.services {
			// In kubernetes mode a Service may select the Lease holder
			// only, or all but it: it belongs to the cluster if it
			// selects a pod whoever holds the Lease.
			if len(m.selectedByAnyHolder(s.Spec.Selector)) > 0 {
				m.services = append(m.services, s)
			}
		}
		for _, p := range r.pdbs {
			if sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector); err == nil && m.selectsAny(sel) {
				m.pdbs = append(m.pdbs, p)
			}
		}
		for _, pm := range r.monitors {
			if sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector); err == nil && m.selectsAny(sel) {
				m.monitors = append(m.monitors, pm)
			}
		}
		for _, n := range r.netpols {
			// An empty podSelector selects every pod of the namespace:
			// unlike selectsAny, count it.
			if sel, err := metav1.LabelSelectorAsSelector(&n.Spec.PodSelector); err == nil && (sel.Empty() || m.selectsAny(sel)) {
				m.netpols = append(m.netpols, n)
			}
		}
		r.clusters = append(r.clusters, m)
	}
	r.assignRBAC()
	return r, nil
}

// render renders and decodes a source, and gives each cluster what it
// must look like.
func render(t testing.TB, src source) *rendering {
	t.Helper()
	objs, err := src.render(t)
	if err != nil {
		t.Fatalf("%s: %v", src.name, err)
	}
	r, err := decode(objs)
	if err != nil {
		t.Fatalf("%s: %v", src.name, err)
	}
	r.source = src
	if len(r.statefuls) == 0 {
		t.Fatalf("%s renders no StatefulSet", src.name)
	}
	var names []string
	for _, m := range r.clusters {
		w, ok := src.clusters[m.sts.Name]
		if !ok {
			t.Fatalf("%s renders StatefulSet %s, which the test does not expect (it expects %v)", src.name, m.sts.Name, slices.Sorted(maps.Keys(src.clusters)))
		}
		m.want = w
		names = append(names, m.sts.Name)
	}
	if len(names) != len(src.clusters) {
		t.Fatalf("%s renders StatefulSets %v, want %v", src.name, names, slices.Sorted(maps.Keys(src.clusters)))
	}
	return r
}

// renderOne renders a single-cluster source.
func renderOne(t testing.TB, src source) *manifests {
	t.Helper()
	r := render(t, src)
	if len(r.clusters) != 1 {
		t.Fatalf("%s renders %d StatefulSets, want 1", src.name, len(r.clusters))
	}
	return r.clusters[0]
}

// manifests is one cluster of a rendering: a StatefulSet, the Services,
// PodDisruptionBudgets, PodMonitors and NetworkPolicies that select its
// pods, and the rendering's Secrets, ConfigMaps, ServiceAccounts and RBAC
// objects.
type manifests struct {
	want       want
	sts        *appsv1.StatefulSet
	services   []*corev1.Service
	pdbs       []*policyv1.PodDisruptionBudget
	secrets    []*corev1.Secret
	configMaps []*corev1.ConfigMap
	monitors   []*podMonitor
	netpols    []*networkingv1.NetworkPolicy
	rbac       rbacObjects
}

// clone returns a deep copy that a test may break.
func (m *manifests) clone() *manifests {
	c := &manifests{want: m.want, sts: m.sts.DeepCopy(), rbac: m.rbac.clone()}
	for _, s := range m.services {
		c.services = append(c.services, s.DeepCopy())
	}
	for _, p := range m.pdbs {
		c.pdbs = append(c.pdbs, p.DeepCopy())
	}
	for _, s := range m.secrets {
		c.secrets = append(c.secrets, s.DeepCopy())
	}
	for _, cm := range m.configMaps {
		c.configMaps = append(c.configMaps, cm.DeepCopy())
	}
	for _, pm := range m.monitors {
		cp := *pm
		cp.ObjectMeta = *pm.ObjectMeta.DeepCopy()
		cp.Spec.Selector = *pm.Spec.Selector.DeepCopy()
		cp.Spec.PodTargetLabels = slices.Clone(pm.Spec.PodTargetLabels)
		cp.Spec.PodMetricsEndpoints = slices.Clone(pm.Spec.PodMetricsEndpoints)
		c.monitors = append(c.monitors, &cp)
	}
	for _, n := range m.netpols {
		c.netpols = append(c.netpols, n.DeepCopy())
	}
	return c
}

// selectsAny reports whether sel matches any pod of the StatefulSet. An
// empty selector matches nothing here: for a Service it means no
// endpoints, for a PodDisruptionBudget or a PodMonitor every pod of the
// namespace, which is never what these manifests mean.
func (m *manifests) selectsAny(sel labels.Selector) bool {
	if sel.Empty() {
		return false
	}
	for holder := range m.replicas() {
		for i := range m.replicas() {
			if sel.Matches(m.podLabelsHeldBy(i, holder)) {
				return true
			}
		}
	}
	return false
}

// headless, primary and read are the Services the README documents, by
// the names they have next to the StatefulSet; nil when missing.
func (m *manifests) headless() *corev1.Service { return m.service(m.sts.Spec.ServiceName) }
func (m *manifests) primary() *corev1.Service  { return m.service(m.sts.Name + primarySuffix) }
func (m *manifests) read() *corev1.Service     { return m.service(m.sts.Name + readSuffix) }

// replicasService is <sts>-replicas (kubernetes mode); nil when missing.
func (m *manifests) replicasService() *corev1.Service { return m.service(m.sts.Name + replicasSuffix) }

// credentials is the Secret the pods' credentials volume reads; nil when
// the rendering leaves it to the user.
func (m *manifests) credentials() *corev1.Secret {
	for _, v := range m.sts.Spec.Template.Spec.Volumes {
		if v.Name == "credentials" && v.Secret != nil {
			return m.secret(v.Secret.SecretName)
		}
	}
	return nil
}

func (m *manifests) configMap(name string) *corev1.ConfigMap {
	for _, c := range m.configMaps {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// describe names a cluster in failures: the source and the StatefulSet.
func describe(src source, m *manifests) string {
	return fmt.Sprintf("%s (StatefulSet %s)", src.name, m.sts.Name)
}

// joinProblems is for failure messages that list problems.
func joinProblems(p []string) string { return "\n  " + strings.Join(p, "\n  ") }

// wantProblem fails t unless one of the problems the checks reported after
// the mutation named contains want: a mutation test's verdict.
func wantProblem(t *testing.T, mutation string, got []string, want string) {
	t.Helper()
	for _, problem := range got {
		if strings.Contains(problem, want) {
			return
		}
	}
	t.Errorf("after %q the checks reported %q, want a problem containing %q", mutation, got, want)
}
