package deploytest

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// instanceLabel tells one cluster's objects from another's in the same
// namespace. The manifests set it to the StatefulSet's name: a renamed
// copy (a kustomize namePrefix, a Helm release) gets a value of its own.
const instanceLabel = "app.kubernetes.io/instance"

// checkIsolation checks that the clusters of one rendering, applied to one
// namespace, stay apart: no two objects of a kind share a name, every
// Service, PodDisruptionBudget, PodMonitor and NetworkPolicy selects the pods of exactly
// one StatefulSet, no StatefulSet's selector, pod affinity or topology
// spread matches another's pods, and no two StatefulSets read the same
// Secret or ConfigMap or run as the same ServiceAccount.
func checkIsolation(r *rendering) []string {
	var p problems
	seen := map[string]bool{}
	for _, o := range r.objects {
		if seen[o.id()] {
			p.addf("two objects are named %s: applied to one namespace, one would replace the other", o.id())
		}
		seen[o.id()] = true
	}
	// owners returns the StatefulSets whose pods sel matches.
	owners := func(sel labels.Selector) []string {
		var names []string
		for _, m := range r.clusters {
			if m.selectsAny(sel) {
				names = append(names, m.sts.Name)
			}
		}
		return names
	}
	one := func(what string, sel labels.Selector) {
		switch got := owners(sel); len(got) {
		case 1:
		case 0:
			p.addf("%s selects %s, which matches no pod of any StatefulSet", what, sel)
		default:
			p.addf("%s selects %s, which matches the pods of StatefulSets %v: it crosses between clusters", what, sel, got)
		}
	}
	for _, s := range r.services {
		one("Service "+s.Name, labels.SelectorFromSet(s.Spec.Selector))
	}
	for _, pdb := range r.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			p.addf("PodDisruptionBudget %s: %v", pdb.Name, err)
			continue
		}
		one("PodDisruptionBudget "+pdb.Name, sel)
	}
	for _, pm := range r.monitors {
		sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
		if err != nil {
			p.addf("PodMonitor %s: %v", pm.Name, err)
			continue
		}
		one("PodMonitor "+pm.Name, sel)
	}
	for _, n := range r.netpols {
		sel, err := metav1.LabelSelectorAsSelector(&n.Spec.PodSelector)
		if err != nil {
			p.addf("NetworkPolicy %s: %v", n.Name, err)
			continue
		}
		one("NetworkPolicy "+n.Name, sel)
	}
	readers := map[string][]string{} // Secret/x or ConfigMap/x -> StatefulSets
	for _, m := range r.clusters {
		own := func(what string, ls *metav1.LabelSelector) {
			if ls == nil {
				return
			}
			sel, err := metav1.LabelSelectorAsSelector(ls)
			if err != nil {
				p.addf("StatefulSet %s %s: %v", m.sts.Name, what, err)
				return
			}
			for _, other := range r.clusters {
				if other != m && other.selectsAny(sel) {
					p.addf("StatefulSet %s %s %s matches the pods of StatefulSet %s too", m.sts.Name, what, sel, other.sts.Name)
				}
			}
		}
		own("selector", m.sts.Spec.Selector)
		spec := &m.sts.Spec.Template.Spec
		if a := spec.Affinity; a != nil {
			var terms []corev1.PodAffinityTerm
			for _, pa := range []*corev1.PodAntiAffinity{a.PodAntiAffinity} {
				if pa == nil {
					continue
				}
				terms = append(terms, pa.RequiredDuringSchedulingIgnoredDuringExecution...)
				for _, w := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
					terms = append(terms, w.PodAffinityTerm)
				}
			}
			for _, term := range terms {
				own("pod anti-affinity", term.LabelSelector)
			}
		}
		for _, tsc := range spec.TopologySpreadConstraints {
			own("topology spread constraint", tsc.LabelSelector)
		}
		for _, ref := range podReferences(spec) {
			if !slices.Contains(readers[ref], m.sts.Name) {
				readers[ref] = append(readers[ref], m.sts.Name)
			}
		}
	}
	for _, ref := range slices.Sorted(maps.Keys(readers)) {
		if sts := readers[ref]; len(sts) > 1 {
			p.addf("StatefulSets %v all read %s: each cluster needs its own", sts, ref)
		}
	}
	services := map[string]string{}
	for _, m := range r.clusters {
		if other, ok := services[m.sts.Spec.ServiceName]; ok {
			p.addf("StatefulSets %s and %s share serviceName %s: their pods' stable names would mix", other, m.sts.Name, m.sts.Spec.ServiceName)
		}
		services[m.sts.Spec.ServiceName] = m.sts.Name
	}
	return p
}

// podReferences are the Secrets and ConfigMaps a pod template reads, as
// Kind/name.
func podReferences(spec *corev1.PodSpec) []string {
	var refs []string
	if sa := spec.ServiceAccountName; sa != "" && sa != "default" {
		// Its Role names one StatefulSet's Lease.
		refs = append(refs, "ServiceAccount/"+sa)
	}
	for _, v := range spec.Volumes {
		switch {
		case v.Secret != nil:
			refs = append(refs, "Secret/"+v.Secret.SecretName)
		case v.ConfigMap != nil:
			refs = append(refs, "ConfigMap/"+v.ConfigMap.Name)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					refs = append(refs, "Secret/"+s.Secret.Name)
				}
				if s.ConfigMap != nil {
					refs = append(refs, "ConfigMap/"+s.ConfigMap.Name)
				}
			}
		}
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		for _, e := range c.Env {
			if f := e.ValueFrom; f != nil && f.SecretKeyRef != nil {
				refs = append(refs, "Secret/"+f.SecretKeyRef.Name)
			} else if f != nil && f.ConfigMapKeyRef != nil {
				refs = append(refs, "ConfigMap/"+f.ConfigMapKeyRef.Name)
			}
		}
		for _, ef := range c.EnvFrom {
			if ef.SecretRef != nil {
				refs = append(refs, "Secret/"+ef.SecretRef.Name)
			}
			if ef.ConfigMapRef != nil {
				refs = append(refs, "ConfigMap/"+ef.ConfigMapRef.Name)
			}
		}
	}
	return refs
}

// checkInstance checks one cluster's instance label: on the pod template,
// equal to the StatefulSet's name, and in every selector that picks its
// pods, so that a second cluster in the namespace (another name, another
// instance) is never selected.
func checkInstance(m *manifests) []string {
	var p problems
	got, ok := m.sts.Spec.Template.Labels[instanceLabel]
	switch {
	case !ok:
		p.addf("the pod template has no %s label: two clusters in one namespace could not be told apart", instanceLabel)
		return p
	case got != m.sts.Name:
		p.addf("the pod template's %s is %q, want the StatefulSet's name %q: a renamed copy (a namePrefix) that keeps the label selects the other copy's pods; set it with the prefix (kustomize labels with includeSelectors)", instanceLabel, got, m.sts.Name)
	}
	has := func(what string, ls *metav1.LabelSelector) {
		if ls == nil {
			return
		}
		if ls.MatchLabels[instanceLabel] != got {
			for _, e := range ls.MatchExpressions {
				if e.Key == instanceLabel && e.Operator == metav1.LabelSelectorOpIn && slices.Equal(e.Values, []string{got}) {
					return
				}
			}
			p.addf("%s does not select %s=%s: it would select another cluster's pods in the namespace", what, instanceLabel, got)
		}
	}
	has("StatefulSet "+m.sts.Name+" selector", m.sts.Spec.Selector)
	for _, s := range m.services {
		has("Service "+s.Name, &metav1.LabelSelector{MatchLabels: s.Spec.Selector})
	}
	for _, pdb := range m.pdbs {
		has("PodDisruptionBudget "+pdb.Name, pdb.Spec.Selector)
	}
	for _, pm := range m.monitors {
		has("PodMonitor "+pm.Name, &pm.Spec.Selector)
	}
	if a := m.sts.Spec.Template.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			has("pod anti-affinity", w.PodAffinityTerm.LabelSelector)
		}
		for _, term := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			has("pod anti-affinity", term.LabelSelector)
		}
	}
	for _, tsc := range m.sts.Spec.Template.Spec.TopologySpreadConstraints {
		has("topology spread constraint", tsc.LabelSelector)
	}
	return p
}

// TestIsolation renders the sources with more than one cluster, as
// applied to one namespace, and checks that they stay apart.
func TestIsolation(t *testing.T) {
	t.Parallel()
	n := 0
	for _, src := range sources() {
		if len(src.clusters) < 2 {
			continue
		}
		n++
		t.Run(src.name, func(t *testing.T) {
			t.Parallel()
			if p := checkIsolation(render(t, src)); len(p) > 0 {
				t.Errorf("%s:%s", src.name, joinProblems(p))
			}
		})
	}
	if n < 2 {
		t.Errorf("%d sources render two clusters, want the kustomize example and two Helm releases", n)
	}
}

// TestIsolationCatchesCrossing breaks the isolation of the two-clusters
// renderings one way at a time and asserts that checkIsolation or
// checkInstance reports it.
func TestIsolationCatchesCrossing(t *testing.T) {
	t.Parallel()
	var multi []source
	for _, src := range sources() {
		if len(src.clusters) >= 2 {
			multi = append(multi, src)
		}
	}
	// cluster returns the rendering's second cluster, the one the
	// mutations break.
	second := func(r *rendering) *manifests { return r.clusters[1] }
	first := func(r *rendering) *manifests { return r.clusters[0] }
	relabel := func(m *manifests, value string) {
		// What a copy with a namePrefix but no instance label looks like:
		// every instance label and selector keeps the other's value.
		m.sts.Spec.Template.Labels[instanceLabel] = value
		m.sts.Spec.Selector.MatchLabels[instanceLabel] = value
		for _, s := range m.services {
			s.Spec.Selector[instanceLabel] = value
		}
		for _, pdb := range m.pdbs {
			pdb.Spec.Selector.MatchLabels[instanceLabel] = value
		}
		for _, w := range m.sts.Spec.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			w.PodAffinityTerm.LabelSelector.MatchLabels[instanceLabel] = value
		}
	}
	tests := []struct {
		name   string
		mutate func(r *rendering)
		want   string
	}{
		{"second copy keeps the first's instance label",
			func(r *rendering) { relabel(second(r), first(r).sts.Spec.Template.Labels[instanceLabel]) },
			"crosses between clusters"},
		{"PodDisruptionBudget without the instance",
			func(r *rendering) { delete(second(r).pdbs[0].Spec.Selector.MatchLabels, instanceLabel) },
			"crosses between clusters"},
		{"read Service without the instance",
			func(r *rendering) { delete(second(r).read().Spec.Selector, instanceLabel) },
			"crosses between clusters"},
		{"anti-affinity without the instance",
			func(r *rendering) {
				w := second(r).sts.Spec.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution
				delete(w[0].PodAffinityTerm.LabelSelector.MatchLabels, instanceLabel)
			},
			"pod anti-affinity"},
		{"both read one Secret",
			func(r *rendering) {
				for _, v := range second(r).sts.Spec.Template.Spec.Volumes {
					if v.Secret != nil {
						v.Secret.SecretName = first(r).credentials().Name
					}
				}
			},
			"each cluster needs its own"},
		{"both run as one ServiceAccount",
			func(r *rendering) {
				first(r).sts.Spec.Template.Spec.ServiceAccountName = "mysql-bootstrap"
				second(r).sts.Spec.Template.Spec.ServiceAccountName = "mysql-bootstrap"
			},
			"all read ServiceAccount/mysql-bootstrap"},
		{"one headless Service for both",
			func(r *rendering) { second(r).sts.Spec.ServiceName = first(r).sts.Spec.ServiceName },
			"share serviceName"},
		{"a name used twice",
			func(r *rendering) {
				o := r.objects[len(r.objects)-1]
				r.objects = append(r.objects, o)
			},
			"two objects are named"},
	}
	for _, src := range multi {
		for _, tc := range tests {
			t.Run(src.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				r := render(t, src)
				if p := checkIsolation(r); len(p) > 0 {
					t.Fatalf("the unbroken rendering already fails:%s", joinProblems(p))
				}
				tc.mutate(r)
				got := checkIsolation(r)
				for _, m := range r.clusters {
					got = append(got, checkInstance(m)...)
				}
				wantProblem(t, tc.name, got, tc.want)
			})
		}
	}
}

// TestNamePrefixAloneCollides shows why the example sets the instance
// label: two copies with only a namePrefix select each other's pods.
func TestNamePrefixAloneCollides(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	overlays, err := filepath.Abs(filepath.Join("..", "kustomize", "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	var resources []string
	for _, c := range []struct{ prefix, overlay string }{{"orders-", "mariadb"}, {"billing-", "mysql"}} {
		sub := filepath.Join(dir, c.prefix)
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(sub, filepath.Join(overlays, c.overlay))
		if err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprintf("resources:\n  - %s\nnamePrefix: %s\n", filepath.ToSlash(rel), c.prefix)
		if err := os.WriteFile(filepath.Join(sub, "kustomization.yaml"), []byte(k), 0o644); err != nil {
			t.Fatal(err)
		}
		resources = append(resources, "  - "+c.prefix)
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources:\n"+strings.Join(resources, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := kustomize(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decode(objs)
	if err != nil {
		t.Fatal(err)
	}
	got := checkIsolation(r)
	for _, m := range r.clusters {
		got = append(got, checkInstance(m)...)
	}
	var crossing, label bool
	for _, problem := range got {
		crossing = crossing || strings.Contains(problem, "crosses between clusters")
		label = label || strings.Contains(problem, "want the StatefulSet's name")
	}
	if !crossing || !label {
		t.Errorf("two namePrefix copies without instance labels: the checks reported %q, want a crossing selector and an instance label that is not the StatefulSet's name", got)
	}
}
