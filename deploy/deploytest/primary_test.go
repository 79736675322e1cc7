package deploytest

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The opt-in mode in which the primary is the holder of a Lease named
// after the StatefulSet (PRIMARY=kubernetes), and the label each sidecar
// then sets on its own pod, which the Services select.
const (
	modeKubernetes = "kubernetes"
	roleLabel      = "mysql-bootstrap/role"
	rolePrimary    = "primary"
	roleReplica    = "replica"
	replicasSuffix = "-replicas"
)

// kubernetesVariables are the variables only the kubernetes mode sets.
var kubernetesVariables = []string{"PRIMARY", "LEASE_DURATION", "LEASE_RENEW_INTERVAL"}

// labelsRoles reports whether the pods carry the role label: only a
// sidecar in kubernetes mode sets it.
func (m *manifests) labelsRoles() bool {
	cs := m.sts.Spec.Template.Spec.Containers
	for i := range cs {
		if subcommand(cs[i]) == "sidecar" {
			return effective(&cs[i], "PRIMARY") == modeKubernetes
		}
	}
	return false
}

// grant is one thing a Role allows: a verb on a resource of an API group
// (""), on the object named name or, when name is "", on any.
type grant struct{ group, resource, verb, name string }

func (g grant) String() string {
	s := g.verb + " " + g.resource
	if g.group != "" {
		s += "." + g.group
	}
	if g.name != "" {
		s += " named " + g.name
	}
	return s
}

// leaseGrants is what the Role of a cluster in kubernetes mode must grant,
// all of it and nothing else, with why (issue 22's spec).
func leaseGrants(lease string) map[grant]string {
	const leases = "coordination.k8s.io"
	return map[grant]string{
		{leases, "leases", "create", ""}:    "the first sidecar creates the Lease (RBAC cannot restrict create by name)",
		{leases, "leases", "get", lease}:    "every sidecar reads the Lease, which mysql-bootstrap names after the StatefulSet",
		{leases, "leases", "update", lease}: "the holder renews the Lease, a contender takes an expired one over, a switchover writes its annotations",
		{"", "pods", "get", ""}:             "the sidecars read their peers' pods",
		{"", "pods", "list", ""}:            "the sidecars list their peers' pods",
		{"", "pods", "patch", ""}:           "each sidecar sets the role label on its own pod, which the Services select",
		{"", "events", "create", ""}:        "role changes and switchovers are reported as Events",
	}
}

// grants expands a rule into what it allows.
func grants(rule rbacv1.PolicyRule) []grant {
	names := rule.ResourceNames
	if len(names) == 0 {
		names = []string{""}
	}
	var gs []grant
	for _, group := range rule.APIGroups {
		for _, resource := range rule.Resources {
			for _, verb := range rule.Verbs {
				for _, name := range names {
					gs = append(gs, grant{group, resource, verb, name})
				}
			}
		}
	}
	return gs
}

// rbacFor returns the ServiceAccount, RoleBindings and Roles a
// StatefulSet's pods use: the ServiceAccount they run as, the bindings
// whose subjects name it, the Roles those bindings refer to.
func (o rbacObjects) rbacFor(sts *appsv1.StatefulSet) rbacObjects {
	var own rbacObjects
	sa := sts.Spec.Template.Spec.ServiceAccountName
	if sa == "" {
		return own
	}
	for _, s := range o.serviceAccounts {
		if s.Name == sa && s.Namespace == sts.Namespace {
			own.serviceAccounts = append(own.serviceAccounts, s)
		}
	}
	for _, b := range o.roleBindings {
		if bindsServiceAccount(b, sa, sts.Namespace) {
			own.roleBindings = append(own.roleBindings, b)
			for _, r := range o.roles {
				if b.RoleRef.Kind == "Role" && r.Name == b.RoleRef.Name && r.Namespace == b.Namespace && !slices.Contains(own.roles, r) {
					own.roles = append(own.roles, r)
				}
			}
		}
	}
	return own
}

// assignRBAC gives each cluster of a rendering the RBAC objects its pods
// use, and every cluster those no pod uses and the cluster-scoped ones,
// which the checks then report.
func (r *rendering) assignRBAC() {
	used := map[any]bool{}
	owned := make([]rbacObjects, len(r.clusters))
	for i, m := range r.clusters {
		owned[i] = r.rbac.rbacFor(m.sts)
		for _, s := range owned[i].serviceAccounts {
			used[s] = true
		}
		for _, b := range owned[i].roleBindings {
			used[b] = true
		}
		for _, ro := range owned[i].roles {
			used[ro] = true
		}
	}
	unused := func(x any) bool { return !used[x] }
	var stray rbacObjects
	for _, s := range r.rbac.serviceAccounts {
		if unused(s) {
			stray.serviceAccounts = append(stray.serviceAccounts, s)
		}
	}
	for _, b := range r.rbac.roleBindings {
		if unused(b) {
			stray.roleBindings = append(stray.roleBindings, b)
		}
	}
	for _, ro := range r.rbac.roles {
		if unused(ro) {
			stray.roles = append(stray.roles, ro)
		}
	}
	for i, m := range r.clusters {
		m.rbac = rbacObjects{
			serviceAccounts:     append(owned[i].serviceAccounts, stray.serviceAccounts...),
			roles:               append(owned[i].roles, stray.roles...),
			roleBindings:        append(owned[i].roleBindings, stray.roleBindings...),
			clusterRoles:        r.rbac.clusterRoles,
			clusterRoleBindings: r.rbac.clusterRoleBindings,
		}
	}
}

// bindsServiceAccount reports whether b binds ServiceAccount sa of
// namespace ns (a subject without a namespace is in the binding's).
func bindsServiceAccount(b *rbacv1.RoleBinding, sa, ns string) bool {
	for _, s := range b.Subjects {
		if s.Kind == rbacv1.ServiceAccountKind && s.Name == sa && b.Namespace == ns && (s.Namespace == "" || s.Namespace == ns) {
			return true
		}
	}
	return false
}

// checkPrimaryMode checks the pods, RBAC and Services against the mode
// the rendering is meant to run in. Default (ordinal 0): no PRIMARY or
// LEASE_* variable, no token, no ServiceAccount, Role or RoleBinding.
// Kubernetes: PRIMARY=kubernetes on init and the sidecar with the same
// Lease timings, the token mounted, a ServiceAccount of their own bound to
// a Role that grants exactly what the spec lists, the Lease by the
// StatefulSet's name. Never a ClusterRole. (checkSelectors checks the
// Services of both modes.)
func checkPrimaryMode(m *manifests) []string {
	var p problems
	pd, err := m.pod()
	if err != nil {
		return []string{err.Error()}
	}
	for _, c := range m.rbac.clusterRoles {
		p.addf("ClusterRole %s is rendered: it is cluster-scoped, and mysql-bootstrap needs rights in its own namespace only (a Role)", c.Name)
	}
	for _, c := range m.rbac.clusterRoleBindings {
		p.addf("ClusterRoleBinding %s is rendered: it grants in every namespace, and mysql-bootstrap needs rights in its own namespace only (a RoleBinding)", c.Name)
	}
	if m.want.primaryMode != modeKubernetes {
		return append(p, m.checkNoAPI(pd)...)
	}

	for _, c := range []*corev1.Container{pd.init, pd.sidecar} {
		if e, _ := envVar(c, "PRIMARY"); e.Value != modeKubernetes {
			p.addf("container %s has PRIMARY=%q, want %q on init and the sidecar: mysql-bootstrap would take ordinal 0 for the primary while the Lease names another pod", c.Name, e.Value, modeKubernetes)
		}
	}
	for _, name := range []string{"LEASE_DURATION", "LEASE_RENEW_INTERVAL"} {
		if a, b := effective(pd.init, name), effective(pd.sidecar, name); a != b {
			p.addf("init has %s=%s but the sidecar %s: give both the same", name, a, b)
		}
	}
	duration, err1 := time.ParseDuration(effective(pd.sidecar, "LEASE_DURATION"))
	renew, err2 := time.ParseDuration(effective(pd.sidecar, "LEASE_RENEW_INTERVAL"))
	switch {
	case err1 != nil:
		p.addf("sidecar LEASE_DURATION=%q is not a duration: %v", effective(pd.sidecar, "LEASE_DURATION"), err1)
	case err2 != nil:
		p.addf("sidecar LEASE_RENEW_INTERVAL=%q is not a duration: %v", effective(pd.sidecar, "LEASE_RENEW_INTERVAL"), err2)
	case renew <= 0 || renew > duration/4:
		p.addf("sidecar LEASE_RENEW_INTERVAL=%s is not within (0, LEASE_DURATION/4 = %s]: mysql-bootstrap refuses it (the holder must renew several times before the Lease can expire)", renew, duration/4)
	}
	if a := pd.spec.AutomountServiceAccountToken; a == nil || !*a {
		p.addf("automountServiceAccountToken is not true in kubernetes mode: the sidecars get no token, cannot read or hold the Lease, and no pod ever becomes the primary")
	}
	sa := pd.spec.ServiceAccountName
	if sa == "" || sa == "default" {
		p.addf("the pods run as the namespace's default ServiceAccount: give them one of their own, bound to the Role (rights bound to the default one go to every pod of the namespace)")
		return p
	}
	if !slices.ContainsFunc(m.rbac.serviceAccounts, func(s *corev1.ServiceAccount) bool { return s.Name == sa && s.Namespace == m.sts.Namespace }) {
		p.addf("serviceAccountName %s names no ServiceAccount of the manifests: the StatefulSet controller could not create the pods", sa)
	}
	return append(p, m.checkRole(sa)...)
}

// checkNoAPI checks a cluster whose primary is ordinal 0: nothing in it
// uses the Kubernetes API.
func (m *manifests) checkNoAPI(pd *pod) []string {
	var p problems
	if a := pd.spec.AutomountServiceAccountToken; a == nil || *a {
		p.addf("automountServiceAccountToken is not false: with the primary on ordinal 0 nothing talks to the Kubernetes API, and the token would be in every container, mysqld's included")
	}
	if sa := pd.spec.ServiceAccountName; sa != "" && sa != "default" {
		p.addf("the pods run as ServiceAccount %s: with the primary on ordinal 0 they use no Kubernetes API", sa)
	}
	for _, c := range append(slices.Clone(pd.spec.InitContainers), pd.spec.Containers...) {
		for _, name := range kubernetesVariables {
			if e, ok := envVar(&c, name); ok {
				p.addf("container %s sets %s=%q: the default rendering leaves it unset (PRIMARY=%s, the binary's default, uses no Kubernetes API)", c.Name, name, e.Value, variables()["PRIMARY"].Default)
			}
		}
	}
	for _, s := range m.rbac.serviceAccounts {
		p.addf("ServiceAccount %s is rendered: with the primary on ordinal 0 the pods use no Kubernetes API", s.Name)
	}
	for _, r := range m.rbac.roles {
		p.addf("Role %s is rendered: with the primary on ordinal 0 the pods use no Kubernetes API", r.Name)
	}
	for _, b := range m.rbac.roleBindings {
		p.addf("RoleBinding %s is rendered: with the primary on ordinal 0 the pods use no Kubernetes API", b.Name)
	}
	return p
}

// checkRole checks what ServiceAccount sa may do: bound by RoleBindings
// of the StatefulSet's namespace to Roles of the manifests, which together
// grant exactly leaseGrants, the Lease by the StatefulSet's name.
func (m *manifests) checkRole(sa string) []string {
	var p problems
	ns := m.sts.Namespace
	var roles []*rbacv1.Role
	for _, b := range m.rbac.roleBindings {
		if !bindsServiceAccount(b, sa, ns) {
			continue
		}
		for _, s := range b.Subjects {
			if s.Kind != rbacv1.ServiceAccountKind || s.Name != sa {
				p.addf("RoleBinding %s also binds %s %s: only the StatefulSet's ServiceAccount %s needs these rights", b.Name, s.Kind, s.Name, sa)
			}
		}
		if ref := b.RoleRef; ref.Kind != "Role" || ref.APIGroup != rbacv1.GroupName {
			p.addf("RoleBinding %s binds ServiceAccount %s to %s %s (apiGroup %q): want a Role of the namespace", b.Name, sa, ref.Kind, ref.Name, ref.APIGroup)
			continue
		}
		i := slices.IndexFunc(m.rbac.roles, func(r *rbacv1.Role) bool { return r.Name == b.RoleRef.Name && r.Namespace == b.Namespace })
		if i < 0 {
			p.addf("RoleBinding %s refers to Role %s, which the manifests do not render", b.Name, b.RoleRef.Name)
			continue
		}
		roles = append(roles, m.rbac.roles[i])
	}
	if len(roles) == 0 {
		p.addf("no RoleBinding binds ServiceAccount %s (the pods' serviceAccountName) to a Role of the manifests: the sidecars would be refused the Lease", sa)
		return p
	}
	got := map[grant]string{} // what is granted -> by which Role
	for _, r := range roles {
		for i, rule := range r.Rules {
			if len(rule.NonResourceURLs) > 0 {
				p.addf("Role %s rule %d grants nonResourceURLs %v: mysql-bootstrap needs none", r.Name, i, rule.NonResourceURLs)
			}
			for _, list := range [][]string{rule.APIGroups, rule.Resources, rule.Verbs, rule.ResourceNames} {
				if slices.Contains(list, rbacv1.ResourceAll) {
					p.addf("Role %s rule %d uses \"*\" (apiGroups %q, resources %q, verbs %q): it grants whatever the API server serves, now and later; list what is needed", r.Name, i, rule.APIGroups, rule.Resources, rule.Verbs)
					break
				}
			}
			for _, g := range grants(rule) {
				got[g] = r.Name
			}
		}
	}
	want := leaseGrants(m.sts.Name)
	for _, g := range slices.SortedFunc(maps.Keys(got), compareGrants) {
		if _, ok := want[g]; !ok {
			p.addf("Role %s grants %s, which mysql-bootstrap does not need: grant exactly %s", got[g], g, grantList(want))
		}
	}
	for _, g := range slices.SortedFunc(maps.Keys(want), compareGrants) {
		if _, ok := got[g]; !ok {
			p.addf("no Role bound to ServiceAccount %s grants %s: %s", sa, g, want[g])
		}
	}
	return p
}

func compareGrants(a, b grant) int { return strings.Compare(a.String(), b.String()) }

func grantList(gs map[grant]string) string {
	var s []string
	for _, g := range slices.SortedFunc(maps.Keys(gs), compareGrants) {
		s = append(s, g.String())
	}
	return strings.Join(s, ", ")
}

// checkRoleService checks <sts>-primary (role primary) or <sts>-replicas
// (role replica) in kubernetes mode: it selects by the role label the
// sidecars set, and whichever pod holds the Lease, it selects exactly that
// pod (primary) or exactly the others (replicas).
func (m *manifests) checkRoleService(svc *corev1.Service, role string) []string {
	var p problems
	if got := svc.Spec.Selector[roleLabel]; got != role {
		p.addf("Service %s must select %s: %s, the label the sidecars set on their own pods in kubernetes mode; its selector is %v", svc.Name, roleLabel, role, svc.Spec.Selector)
		return p
	}
	for holder := range m.replicas() {
		var want []int
		for i := range m.replicas() {
			if (i == holder) == (role == rolePrimary) {
				want = append(want, i)
			}
		}
		if got := m.selectedHeldBy(svc.Spec.Selector, holder); !slices.Equal(got, want) {
			what := "the Lease holder only"
			if role == roleReplica {
				what = "every pod but the holder: never the primary"
			}
			p.addf("Service %s selects ordinals %v while %s-%d holds the Lease, want %v (%s)", svc.Name, got, m.sts.Name, holder, want, what)
			break
		}
	}
	if svc.Spec.PublishNotReadyAddresses {
		p.addf("Service %s publishes not-ready pods: a primary that is not writable, or a broken or lagging replica, would take connections", svc.Name)
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		p.addf("Service %s is headless: clients would resolve pod IPs and keep them after the roles move", svc.Name)
	}
	return p
}

// kubernetesBases are the unbroken single-cluster renderings in
// kubernetes mode: the kustomize example and the chart.
func kubernetesBases(t *testing.T) []base {
	var bases []base
	kinds := map[string]bool{}
	for _, src := range sources() {
		if len(src.clusters) != 1 {
			continue
		}
		for _, w := range src.clusters {
			if w.primaryMode == modeKubernetes {
				bases = append(bases, base{src.name, renderOne(t, src)})
				kind, _, _ := strings.Cut(src.name, "/")
				kinds[kind] = true
			}
		}
	}
	if !kinds["kustomize"] || !kinds["chart"] {
		t.Fatalf("the kubernetes-mode mutation tests need a kustomize and a chart rendering, got %d renderings", len(bases))
	}
	return bases
}

// TestPrimaryModeChecksCatch breaks one thing at a time in the renderings
// of both modes and asserts that checkPrimaryMode or checkSelectors
// reports it.
func TestPrimaryModeChecksCatch(t *testing.T) {
	t.Parallel()
	kubernetes := kubernetesBases(t)
	var ordinal0 []base
	for _, bs := range flavorBases(t) {
		ordinal0 = append(ordinal0, bs...)
	}
	setEnv := func(c *corev1.Container, name, value string) {
		dropEnv(c, name)
		c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
	}
	leaseRule := func(m *manifests) *rbacv1.PolicyRule {
		for _, r := range m.rbac.roles {
			for i, rule := range r.Rules {
				if len(rule.ResourceNames) > 0 && slices.Contains(rule.Resources, "leases") {
					return &r.Rules[i]
				}
			}
		}
		panic("no Role names the Lease: update the mutation")
	}
	primary := func(m *manifests) *corev1.Service { return m.primary() }
	tests := []struct {
		name       string
		kubernetes bool // break the kubernetes-mode renderings, else the default ones
		check      func(*manifests) []string
		mutate     func(m *manifests, p *pod)
		want       string // %s: the StatefulSet's name
	}{
		{"Role grants every verb", true, checkPrimaryMode,
			func(m *manifests, p *pod) { m.rbac.roles[0].Rules[0].Verbs = []string{"*"} },
			`uses "*"`},
		{"Role grants every resource", true, checkPrimaryMode,
			func(m *manifests, p *pod) { m.rbac.roles[0].Rules[0].Resources = []string{"*"} },
			`uses "*"`},
		{"Role reads Secrets", true, checkPrimaryMode,
			func(m *manifests, p *pod) {
				m.rbac.roles[0].Rules = append(m.rbac.roles[0].Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
			},
			"grants get secrets, which mysql-bootstrap does not need"},
		{"Role deletes pods", true, checkPrimaryMode,
			func(m *manifests, p *pod) {
				for i, rule := range m.rbac.roles[0].Rules {
					if slices.Contains(rule.Resources, "pods") {
						m.rbac.roles[0].Rules[i].Verbs = append(rule.Verbs, "delete")
					}
				}
			},
			"grants delete pods"},
		{"Lease by any name", true, checkPrimaryMode,
			func(m *manifests, p *pod) { leaseRule(m).ResourceNames = nil },
			"grants get leases.coordination.k8s.io, which mysql-bootstrap does not need"},
		{"Lease by the name before a namePrefix", true, checkPrimaryMode,
			func(m *manifests, p *pod) { leaseRule(m).ResourceNames = []string{"old-" + m.sts.Name} },
			"grants get leases.coordination.k8s.io named "},
		{"Lease never updated", true, checkPrimaryMode,
			func(m *manifests, p *pod) { leaseRule(m).Verbs = []string{"get"} },
			"grants update leases.coordination.k8s.io named "},
		{"a ClusterRole", true, checkPrimaryMode,
			func(m *manifests, p *pod) {
				m.rbac.clusterRoles = append(m.rbac.clusterRoles, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: m.sts.Name}, Rules: m.rbac.roles[0].Rules})
			},
			"ClusterRole %s is rendered"},
		{"RoleBinding to a ClusterRole", true, checkPrimaryMode,
			func(m *manifests, p *pod) { m.rbac.roleBindings[0].RoleRef.Kind = "ClusterRole" },
			"want a Role of the namespace"},
		{"RoleBinding binds the default ServiceAccount", true, checkPrimaryMode,
			func(m *manifests, p *pod) { m.rbac.roleBindings[0].Subjects[0].Name = "default" },
			"no RoleBinding binds ServiceAccount"},
		{"RoleBinding binds every authenticated user too", true, checkPrimaryMode,
			func(m *manifests, p *pod) {
				b := m.rbac.roleBindings[0]
				b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:authenticated"})
			},
			"also binds Group system:authenticated"},
		{"pods run as the default ServiceAccount", true, checkPrimaryMode,
			func(m *manifests, p *pod) { p.spec.ServiceAccountName = "" },
			"default ServiceAccount"},
		{"ServiceAccount not rendered", true, checkPrimaryMode,
			func(m *manifests, p *pod) { m.rbac.serviceAccounts = nil },
			"names no ServiceAccount of the manifests"},
		{"token not mounted in kubernetes mode", true, checkPrimaryMode,
			func(m *manifests, p *pod) { p.spec.AutomountServiceAccountToken = ptr(false) },
			"automountServiceAccountToken is not true"},
		{"sidecar without PRIMARY", true, checkPrimaryMode,
			func(m *manifests, p *pod) { dropEnv(p.sidecar, "PRIMARY") },
			"container sidecar has PRIMARY=\"\""},
		{"init in the other mode", true, checkPrimaryMode,
			func(m *manifests, p *pod) { setEnv(p.init, "PRIMARY", "ordinal-0") },
			"container init has PRIMARY=\"ordinal-0\""},
		{"init and sidecar on different Lease durations", true, checkPrimaryMode,
			func(m *manifests, p *pod) { setEnv(p.init, "LEASE_DURATION", "30s") },
			"init has LEASE_DURATION=30s"},
		{"renewal too slow for the Lease", true, checkPrimaryMode,
			func(m *manifests, p *pod) {
				setEnv(p.init, "LEASE_RENEW_INTERVAL", "9s")
				setEnv(p.sidecar, "LEASE_RENEW_INTERVAL", "9s")
			},
			"LEASE_RENEW_INTERVAL=9s is not within"},
		{"primary Service without the role label", true, checkSelectors,
			func(m *manifests, p *pod) { delete(primary(m).Spec.Selector, roleLabel) },
			"must select " + roleLabel + ": primary"},
		{"primary Service still by ordinal 0", true, checkSelectors,
			func(m *manifests, p *pod) { primary(m).Spec.Selector[appsv1.PodIndexLabel] = "0" },
			"roles move between ordinals"},
		{"primary Service selects the replicas", true, checkSelectors,
			func(m *manifests, p *pod) { primary(m).Spec.Selector[roleLabel] = roleReplica },
			"must select " + roleLabel + ": primary"},
		{"replicas Service without the role label", true, checkSelectors,
			func(m *manifests, p *pod) { delete(m.replicasService().Spec.Selector, roleLabel) },
			"must select " + roleLabel + ": replica"},
		{"no replicas Service", true, checkSelectors,
			func(m *manifests, p *pod) {
				m.services = slices.DeleteFunc(m.services, func(s *corev1.Service) bool { return s.Name == m.sts.Name+replicasSuffix })
			},
			"no Service %s" + replicasSuffix},
		{"token mounted with the primary on ordinal 0", false, checkPrimaryMode,
			func(m *manifests, p *pod) { p.spec.AutomountServiceAccountToken = ptr(true) },
			"automountServiceAccountToken is not false"},
		{"PRIMARY set in the default rendering", false, checkPrimaryMode,
			func(m *manifests, p *pod) { setEnv(p.sidecar, "PRIMARY", modeKubernetes) },
			"container sidecar sets PRIMARY=\"kubernetes\""},
		{"a Role in the default rendering", false, checkPrimaryMode,
			func(m *manifests, p *pod) {
				m.rbac.roles = append(m.rbac.roles, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: m.sts.Name}})
			},
			"Role %s is rendered"},
		{"a ClusterRoleBinding in the default rendering", false, checkPrimaryMode,
			func(m *manifests, p *pod) {
				m.rbac.clusterRoleBindings = append(m.rbac.clusterRoleBindings, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: m.sts.Name}})
			},
			"ClusterRoleBinding %s is rendered"},
	}
	for _, tc := range tests {
		bases := ordinal0
		if tc.kubernetes {
			bases = kubernetes
		}
		for _, base := range bases {
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
				want := tc.want
				if strings.Contains(want, "%s") {
					want = fmt.Sprintf(want, m.sts.Name)
				}
				wantProblem(t, tc.name, tc.check(m), want)
			})
		}
	}
}

// TestChartPrimaryDefaults shows that the chart's primary.* defaults are
// the binary's, so that ordinal-0, the chart's default, is the binary's
// default too and sets no variable.
func TestChartPrimaryDefaults(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Primary struct {
			Mode               string `json:"mode"`
			LeaseDuration      string `json:"leaseDuration"`
			LeaseRenewInterval string `json:"leaseRenewInterval"`
		} `json:"primary"`
	}
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	vars := variables()
	for _, c := range []struct{ value, got, variable string }{
		{"primary.mode", values.Primary.Mode, "PRIMARY"},
		{"primary.leaseDuration", values.Primary.LeaseDuration, "LEASE_DURATION"},
		{"primary.leaseRenewInterval", values.Primary.LeaseRenewInterval, "LEASE_RENEW_INTERVAL"},
	} {
		if want := vars[c.variable].Default; c.got != want {
			t.Errorf("values.yaml %s is %q, but mysql-bootstrap's %s defaults to %q", c.value, c.got, c.variable, want)
		}
	}
}
