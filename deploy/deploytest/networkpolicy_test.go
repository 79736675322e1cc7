package deploytest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// backupPort is BACKUP_ADDR's port in the shipped manifests: where a
// flavour runs no backup container (MySQL), the policy must still not
// open it wider than the StatefulSet's pods.
const backupPort = 8081

// policedPort is a port of the pods and who may reach it besides the
// StatefulSet's own pods.
type policedPort struct {
	what   string
	port   int32
	others []networkingv1.NetworkPolicyPeer // the documented sources
	own    bool                             // the own pods must reach it
}

// checkNetworkPolicy checks the NetworkPolicy of a cluster (README,
// Security): exactly one selects the pods, it selects exactly the
// StatefulSet's pods, it restricts ingress only, the own pods reach every
// port they use, 3306 and 8080 admit only the documented sources besides
// them, and 8081 (a whole copy of the data) nobody else.
func checkNetworkPolicy(m *manifests) []string {
	var p problems
	if m.want.noNetworkPolicy {
		for _, n := range m.netpols {
			p.addf("NetworkPolicy %s selects the pods, want none", n.Name)
		}
		return p
	}
	switch len(m.netpols) {
	case 0:
		return []string{"no NetworkPolicy selects the pods: 3306, 8080 and 8081 (a whole copy of the data) are open to the whole cluster"}
	case 1:
	default:
		names := make([]string, len(m.netpols))
		for i, n := range m.netpols {
			names[i] = n.Name
		}
		// Policies add up: the checks below would judge one of them alone.
		p.addf("NetworkPolicies %v all select the pods, want one (policies add up: one opens what another closes)", names)
		return p
	}
	np := m.netpols[0]
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		return []string{fmt.Sprintf("NetworkPolicy %s podSelector: %v", np.Name, err)}
	}
	if !m.ownPodsOnly(sel) {
		p.addf("NetworkPolicy %s podSelector %q selects pods that are not the StatefulSet's (it must require every label of the StatefulSet's selector)", np.Name, sel)
	}
	for i := range m.replicas() {
		if !sel.Matches(m.podLabels(i)) {
			p.addf("NetworkPolicy %s does not select pod %s-%d: its ports stay open to the whole cluster", np.Name, m.sts.Name, i)
		}
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		p.addf("NetworkPolicy %s policyTypes %v lacks Ingress: it restricts nothing the pods receive", np.Name, np.Spec.PolicyTypes)
	}
	if slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		p.addf("NetworkPolicy %s policyTypes %v lists Egress: what it does not allow is cut (DNS, the peers, the API), and the README says egress is not restricted", np.Name, np.Spec.PolicyTypes)
	}
	pd, err := m.pod()
	if err != nil {
		return append(p, err.Error())
	}
	httpPort, err := sidecarHTTPPort(pd.sidecar)
	if err != nil {
		return append(p, err.Error())
	}
	backup := int32(backupPort)
	if pd.backup != nil {
		n, err := addrPort(pd.backup, "BACKUP_ADDR")
		if err != nil {
			return append(p, err.Error())
		}
		backup = int32(n)
	}
	sql := int32(3306)
	for _, cp := range pd.server.Ports {
		if cp.Name == "mysql" {
			sql = cp.ContainerPort
		}
	}
	for _, pp := range []policedPort{
		{"SQL (replication, the sidecars, CLONE)", sql, m.want.sqlClients, true},
		{"HTTP (peers' /status, /metrics)", int32(httpPort), m.want.metricsFrom, true},
		{"backup (a whole copy of the data)", backup, nil, pd.backup != nil},
	} {
		p = append(p, m.checkPort(np, pd, pp)...)
	}
	return p
}

// checkPort compares who np admits to one port with who should be.
func (m *manifests) checkPort(np *networkingv1.NetworkPolicy, pd *pod, pp policedPort) []string {
	var p problems
	own := false
	var others []networkingv1.NetworkPolicyPeer
	for i, rule := range np.Spec.Ingress {
		if !admitsPort(rule.Ports, pp.port, pd) {
			continue
		}
		if len(rule.From) == 0 {
			p.addf("NetworkPolicy %s ingress rule %d admits every source to %d %s: it has no `from`", np.Name, i, pp.port, pp.what)
			continue
		}
		for _, peer := range rule.From {
			if m.isOwnPods(peer) {
				own = true
			} else {
				others = append(others, peer)
			}
		}
	}
	if pp.own && !own {
		p.addf("NetworkPolicy %s does not admit the StatefulSet's own pods to %d %s", np.Name, pp.port, pp.what)
	}
	if !apiequality.Semantic.DeepEqual(others, pp.others) && !(len(others) == 0 && len(pp.others) == 0) {
		p.addf("NetworkPolicy %s admits to %d %s, besides the StatefulSet's own pods:\n%s  want:\n%s", np.Name, pp.port, pp.what, peersYAML(others), peersYAML(pp.others))
	}
	return p
}

func peersYAML(peers []networkingv1.NetworkPolicyPeer) string {
	if len(peers) == 0 {
		return "    nobody\n"
	}
	b, err := yaml.Marshal(peers)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// admitsPort reports whether a rule's ports include TCP port (no ports:
// every port). A named port is looked up among the pod's containers, as
// the network plugin does.
func admitsPort(ports []networkingv1.NetworkPolicyPort, port int32, pd *pod) bool {
	if len(ports) == 0 {
		return true
	}
	for _, np := range ports {
		if np.Protocol != nil && *np.Protocol != corev1.ProtocolTCP {
			continue
		}
		if np.Port == nil {
			return true // every port of the protocol
		}
		from := int32(0)
		if np.Port.Type == intstr.String {
			for _, c := range pd.spec.Containers {
				for _, cp := range c.Ports {
					if cp.Name == np.Port.StrVal && cp.Protocol != corev1.ProtocolUDP && cp.Protocol != corev1.ProtocolSCTP {
						from = cp.ContainerPort
					}
				}
			}
		} else {
			from = np.Port.IntVal
		}
		to := from
		if np.EndPort != nil {
			to = *np.EndPort
		}
		if from != 0 && from <= port && port <= to {
			return true
		}
	}
	return false
}

// isOwnPods reports whether a peer is exactly the StatefulSet's pods: a
// podSelector of the policy's namespace that matches every ordinal and
// nothing without the StatefulSet's labels.
func (m *manifests) isOwnPods(peer networkingv1.NetworkPolicyPeer) bool {
	if peer.PodSelector == nil || peer.NamespaceSelector != nil || peer.IPBlock != nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
	if err != nil || !m.ownPodsOnly(sel) {
		return false
	}
	for i := range m.replicas() {
		if !sel.Matches(m.podLabels(i)) {
			return false
		}
	}
	return true
}

// ownPodsOnly reports whether sel requires every label of the
// StatefulSet's selector: a pod of the namespace that lacks one of them,
// or has another value, does not match. An empty selector matches every
// pod.
func (m *manifests) ownPodsOnly(sel labels.Selector) bool {
	if sel.Empty() || m.sts.Spec.Selector == nil || len(m.sts.Spec.Selector.MatchLabels) == 0 {
		return false
	}
	for k, v := range m.sts.Spec.Selector.MatchLabels {
		other := m.podLabels(0)
		other[k] = v + "-other"
		if sel.Matches(other) {
			return false
		}
		delete(other, k)
		if sel.Matches(other) {
			return false
		}
	}
	return true
}

// TestNetworkPolicyCheckCatchesOpenings opens, narrows or misdirects the
// shipped NetworkPolicy one way at a time, in the kustomize overlay and
// the chart of each flavour, and asserts that checkNetworkPolicy reports
// it: above all, 8081 opened to anything but the StatefulSet's own pods.
func TestNetworkPolicyCheckCatchesOpenings(t *testing.T) {
	t.Parallel()
	bases := flavorBases(t)
	tcp := func(ports ...int32) []networkingv1.NetworkPolicyPort {
		var out []networkingv1.NetworkPolicyPort
		for _, n := range ports {
			port := intstr.FromInt32(n)
			out = append(out, networkingv1.NetworkPolicyPort{Port: &port})
		}
		return out
	}
	allow := func(ports []networkingv1.NetworkPolicyPort, from ...networkingv1.NetworkPolicyPeer) func(*manifests) {
		return func(m *manifests) {
			np := m.netpols[0]
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: from, Ports: ports})
		}
	}
	podsLabelled := func(l map[string]string) networkingv1.NetworkPolicyPeer {
		return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: l}}
	}
	everyPod := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{}}
	everyNamespace := networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}}
	// ownRule is the rule that admits the StatefulSet's pods.
	ownRule := func(m *manifests) *networkingv1.NetworkPolicyIngressRule {
		for i, r := range m.netpols[0].Spec.Ingress {
			for _, peer := range r.From {
				if m.isOwnPods(peer) {
					return &m.netpols[0].Spec.Ingress[i]
				}
			}
		}
		panic("no rule admits the StatefulSet's own pods: update the mutation")
	}
	tests := []struct {
		name   string
		mutate func(m *manifests)
		want   string
	}{
		{"8081 open to every pod of the namespace", allow(tcp(8081), everyPod), "to 8081"},
		{"8081 open to every namespace", allow(tcp(8081), everyNamespace), "to 8081"},
		{"8081 open to an address block", allow(tcp(8081), networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}), "to 8081"},
		{"8081 open to everyone", allow(tcp(8081)), "admits every source to 8081"},
		{"8081 in a port range", allow([]networkingv1.NetworkPolicyPort{{Port: ptr(intstr.FromInt32(8000)), EndPort: ptr(int32(9000))}}, podsLabelled(map[string]string{"app": "shop-api"})), "to 8081"},
		{"8081 by a rule without ports", allow(nil, podsLabelled(map[string]string{"app": "shop-api"})), "to 8081"},
		{"8081 to pods with only the name label", allow(tcp(8081), podsLabelled(map[string]string{"app.kubernetes.io/name": "mysql"})), "to 8081"},
		{"own pods lose the instance label", func(m *manifests) {
			delete(ownRule(m).From[0].PodSelector.MatchLabels, instanceLabel)
		}, "to 3306"},
		{"own pods in every namespace", func(m *manifests) {
			ownRule(m).From[0].NamespaceSelector = &metav1.LabelSelector{}
		}, "to 3306"},
		{"3306 open to every namespace", allow(tcp(3306), everyNamespace), "to 3306"},
		{"8080 open to every pod", allow(tcp(8080), everyPod), "to 8080"},
		{"own pods cannot reach 3306", func(m *manifests) {
			r := ownRule(m)
			r.Ports = slices.DeleteFunc(r.Ports, func(p networkingv1.NetworkPolicyPort) bool { return p.Port.IntValue() == 3306 })
		}, "does not admit the StatefulSet's own pods to 3306"},
		{"podSelector selects the whole namespace", func(m *manifests) { m.netpols[0].Spec.PodSelector = metav1.LabelSelector{} }, "selects pods that are not the StatefulSet's"},
		{"podSelector misses ordinal 0", func(m *manifests) {
			m.netpols[0].Spec.PodSelector.MatchLabels["apps.kubernetes.io/pod-index"] = "1"
		}, "does not select pod"},
		{"egress cut", func(m *manifests) {
			m.netpols[0].Spec.PolicyTypes = append(m.netpols[0].Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}, "lists Egress"},
		{"no NetworkPolicy", func(m *manifests) { m.netpols = nil }, "no NetworkPolicy"},
		{"a second policy", func(m *manifests) { m.netpols = append(m.netpols, m.netpols[0].DeepCopy()) }, "want one"},
	}
	for _, tc := range tests {
		for _, flavor := range []string{"mariadb", "mysql"} {
			for _, base := range bases[flavor] {
				t.Run(tc.name+"/"+base.name, func(t *testing.T) {
					t.Parallel()
					if got := checkNetworkPolicy(base.m); len(got) != 0 {
						t.Fatalf("the unbroken manifests already fail: %v", got)
					}
					m := base.m.clone()
					tc.mutate(m)
					got := checkNetworkPolicy(m)
					wantProblem(t, tc.name, got, tc.want)
				})
			}
		}
	}
}

// TestNetworkPolicyCheckAcceptsAlternatives: other spellings of the same
// policy pass.
func TestNetworkPolicyCheckAcceptsAlternatives(t *testing.T) {
	t.Parallel()
	bases := flavorBases(t)
	tests := []struct {
		name   string
		flavor string
		mutate func(m *manifests)
	}{
		{"named ports", "mariadb", func(m *manifests) {
			for _, r := range m.netpols[0].Spec.Ingress {
				for i, p := range r.Ports {
					name := map[int]string{3306: "mysql", 8080: "http", 8081: "backup"}[p.Port.IntValue()]
					r.Ports[i].Port = ptr(intstr.FromString(name))
				}
			}
		}},
		{"own pods by matchExpressions", "mysql", func(m *manifests) {
			for _, r := range m.netpols[0].Spec.Ingress {
				for _, peer := range r.From {
					if m.isOwnPods(peer) {
						var exprs []metav1.LabelSelectorRequirement
						for k, v := range peer.PodSelector.MatchLabels {
							exprs = append(exprs, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpIn, Values: []string{v}})
						}
						peer.PodSelector.MatchLabels, peer.PodSelector.MatchExpressions = nil, exprs
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
				tc.mutate(m)
				if got := checkNetworkPolicy(m); len(got) != 0 {
					t.Errorf("after %q the check reported %q, want nothing", tc.name, got)
				}
			})
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestChartNetworkPolicyOff: networkPolicy.enabled=false renders none.
func TestChartNetworkPolicyOff(t *testing.T) {
	t.Parallel()
	w := wantMariaDB
	w.noNetworkPolicy = true
	src := chartSource("no-networkpolicy", map[string]want{"db": w},
		release{"db", "test", []string{"flavor=mariadb", "networkPolicy.enabled=false"}})
	m := renderOne(t, src)
	if p := checkNetworkPolicy(m); len(p) != 0 {
		t.Errorf("%s: %s", describe(src, m), joinProblems(p))
	}
	on := renderOne(t, chartSource("default", map[string]want{"db": wantMariaDB},
		release{"db", "test", []string{"flavor=mariadb"}}))
	on.want.noNetworkPolicy = true
	if p := checkNetworkPolicy(on); len(p) == 0 {
		t.Errorf("the check finds nothing wrong with a NetworkPolicy where none is wanted")
	}
}

// TestLabelsReachClientSelectors shows why the README and
// examples/sql-clients select clients by matchExpressions: a renamed copy's
// `labels: includeSelectors` adds the instance label to every
// podSelector.matchLabels of a NetworkPolicy, and a client selected by
// matchLabels is then no longer admitted.
func TestLabelsReachClientSelectors(t *testing.T) {
	t.Parallel()
	overlay, err := filepath.Abs(filepath.Join("..", "kustomize", "overlays", "mariadb"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rel, err := filepath.Rel(dir, overlay)
	if err != nil {
		t.Fatal(err)
	}
	patch := `- op: add
  path: /spec/ingress/-
  value:
    from:
      - podSelector: {matchLabels: {app: by-labels}}
      - podSelector: {matchExpressions: [{key: app, operator: In, values: [by-expressions]}]}
    ports: [{port: 3306}]
`
	k := "resources:\n  - " + filepath.ToSlash(rel) + "\nnamePrefix: orders-\nlabels:\n  - pairs: {app.kubernetes.io/instance: orders-mysql}\n    includeSelectors: true\n" +
		"patches:\n  - path: patch.yaml\n    target: {kind: NetworkPolicy, name: mysql}\n"
	for name, content := range map[string]string{"kustomization.yaml": k, "patch.yaml": patch} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := kustomize(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decode(objs)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.netpols) != 1 {
		t.Fatalf("%d NetworkPolicies rendered, want 1", len(r.netpols))
	}
	admitted := func(app string) bool {
		pod := labels.Set{"app": app}
		for _, rule := range r.netpols[0].Spec.Ingress {
			for _, peer := range rule.From {
				if sel, err := metav1.LabelSelectorAsSelector(peer.PodSelector); err == nil && sel.Matches(pod) {
					return true
				}
			}
		}
		return false
	}
	if admitted("by-labels") {
		t.Errorf("a client selected by matchLabels is still admitted after includeSelectors: the README's warning is stale")
	}
	if !admitted("by-expressions") {
		t.Errorf("a client selected by matchExpressions is not admitted after includeSelectors: the README's advice is wrong")
	}
}
