package deploytest

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap"
)

// Names the README documents for clients: writes go to <sts>-primary,
// reads to <sts>-read.
const (
	primarySuffix = "-primary"
	readSuffix    = "-read"
)

// minStartupBudgetSeconds is how long the server may take to start (first
// initialisation, long crash recovery) before the kubelet kills it.
const minStartupBudgetSeconds = 30 * 60

// serverUID is the mysql user of both official images.
const serverUID = 999

// forbiddenServerEnv are variables of the official images that create
// objects on every pod when it initialises its data directory: binlogged
// writes on replicas that the primary never had. The sidecar copes (README:
// an account means a copy of a donor's data per new replica), but the
// shipped manifests do not pay that price.
var forbiddenServerEnv = []string{
	"MYSQL_DATABASE", "MYSQL_USER", "MYSQL_PASSWORD",
	"MARIADB_DATABASE", "MARIADB_USER", "MARIADB_PASSWORD", "MARIADB_PASSWORD_HASH",
	"MARIADB_REPLICATION_USER", "MARIADB_MASTER_HOST",
}

func (m *manifests) service(name string) *corev1.Service {
	for _, s := range m.services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (m *manifests) serviceNames() []string {
	var names []string
	for _, s := range m.services {
		names = append(names, s.Name)
	}
	return names
}

func (m *manifests) secret(name string) *corev1.Secret {
	for _, s := range m.secrets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (m *manifests) replicas() int {
	if m.sts.Spec.Replicas == nil {
		return 1
	}
	return int(*m.sts.Spec.Replicas)
}

// podLabels returns the labels of pod <sts>-<ordinal>: the template's,
// those the StatefulSet controller adds and, in kubernetes mode, the role
// its sidecar sets with ordinal 0 holding the Lease.
func (m *manifests) podLabels(ordinal int) labels.Set { return m.podLabelsHeldBy(ordinal, 0) }

// podLabelsHeldBy is podLabels with pod <sts>-<holder> holding the Lease.
// The role label is there only when the sidecar runs in kubernetes mode:
// nothing else sets it.
func (m *manifests) podLabelsHeldBy(ordinal, holder int) labels.Set {
	l := labels.Set{}
	maps.Copy(l, m.sts.Spec.Template.Labels)
	l[appsv1.StatefulSetPodNameLabel] = fmt.Sprintf("%s-%d", m.sts.Name, ordinal)
	l[appsv1.PodIndexLabel] = strconv.Itoa(ordinal)
	if m.labelsRoles() {
		l[roleLabel] = roleReplica
		if ordinal == holder {
			l[roleLabel] = rolePrimary
		}
	}
	return l
}

// selected returns the ordinals whose pods a Service selector matches
// (in kubernetes mode, while ordinal 0 holds the Lease). An empty
// selector selects nothing: the Service gets no endpoints.
func (m *manifests) selected(selector map[string]string) []int {
	return m.selectedHeldBy(selector, 0)
}

// selectedHeldBy is selected with pod <sts>-<holder> holding the Lease.
func (m *manifests) selectedHeldBy(selector map[string]string, holder int) []int {
	if len(selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(selector)
	var ordinals []int
	for i := range m.replicas() {
		if sel.Matches(m.podLabelsHeldBy(i, holder)) {
			ordinals = append(ordinals, i)
		}
	}
	return ordinals
}

// selectedByAnyHolder returns the ordinals a selector matches whichever
// pod holds the Lease.
func (m *manifests) selectedByAnyHolder(selector map[string]string) []int {
	var ordinals []int
	for holder := range m.replicas() {
		for _, i := range m.selectedHeldBy(selector, holder) {
			if !slices.Contains(ordinals, i) {
				ordinals = append(ordinals, i)
			}
		}
	}
	slices.Sort(ordinals)
	return ordinals
}

// pod is the pod template with its containers found by what they run.
type pod struct {
	spec    *corev1.PodSpec
	init    *corev1.Container // mysql-bootstrap init
	server  *corev1.Container // mysqld or mariadbd, started directly or through mysql-bootstrap seed-exec
	sidecar *corev1.Container // mysql-bootstrap sidecar
	backup  *corev1.Container // mysql-bootstrap backup-server (MariaDB seeding); nil when there is none
}

func (m *manifests) pod() (*pod, error) {
	spec := &m.sts.Spec.Template.Spec
	p := &pod{spec: spec}
	var problems []string
	for i := range spec.InitContainers {
		if subcommand(spec.InitContainers[i]) == "init" {
			if p.init != nil {
				problems = append(problems, "more than one init container runs mysql-bootstrap init")
			}
			p.init = &spec.InitContainers[i]
		}
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		switch subcommand(*c) {
		case "sidecar":
			if p.sidecar != nil {
				problems = append(problems, "more than one container runs mysql-bootstrap sidecar")
			}
			p.sidecar = c
		case "backup-server":
			if p.backup != nil {
				problems = append(problems, fmt.Sprintf("containers %s and %s both run mysql-bootstrap backup-server: the checks expect at most one", p.backup.Name, c.Name))
			}
			p.backup = c
		case "", "seed-exec":
			// seed-exec restores a requested copy, then execs the image's
			// entrypoint: the container is the server all the same.
			if p.server != nil {
				problems = append(problems, fmt.Sprintf("containers %s and %s both look like the server: the checks expect one server container", p.server.Name, c.Name))
			}
			p.server = c
		}
	}
	if p.init == nil {
		problems = append(problems, "no init container runs mysql-bootstrap init (command /mysql-bootstrap, args [init])")
	}
	if p.sidecar == nil {
		problems = append(problems, "no container runs mysql-bootstrap sidecar (command /mysql-bootstrap, args [sidecar])")
	}
	if p.server == nil {
		problems = append(problems, "no server container (one that does not run mysql-bootstrap, or runs the image's entrypoint through mysql-bootstrap seed-exec)")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("StatefulSet %s: %s", m.sts.Name, strings.Join(problems, "; "))
	}
	return p, nil
}

// bootstrapContainers are the containers whose whole environment is
// mysql-bootstrap's: init, sidecar and, when there is one, backup.
func (pd *pod) bootstrapContainers() []*corev1.Container {
	cs := []*corev1.Container{pd.init, pd.sidecar}
	if pd.backup != nil {
		cs = append(cs, pd.backup)
	}
	return cs
}

// seedExec reports whether the server starts through mysql-bootstrap
// seed-exec (MariaDB seeding).
func (pd *pod) seedExec() bool { return subcommand(*pd.server) == "seed-exec" }

// subcommand returns the mysql-bootstrap command a container runs, or ""
// if it does not run mysql-bootstrap.
func subcommand(c corev1.Container) string {
	argv := append(slices.Clone(c.Command), c.Args...)
	for i, a := range argv {
		if path.Base(a) == "mysql-bootstrap" && i+1 < len(argv) {
			return argv[i+1]
		}
	}
	if len(c.Command) == 0 && isBootstrapImage(c.Image) && len(c.Args) > 0 {
		return c.Args[0]
	}
	return ""
}

func isBootstrapImage(image string) bool {
	name, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name = name[:i]
	}
	return path.Base(name) == "mysql-bootstrap"
}

// variables returns what mysql-bootstrap reads, by name.
func variables() map[string]bootstrap.Variable {
	vars := map[string]bootstrap.Variable{}
	for _, v := range bootstrap.Variables() {
		vars[v.Name] = v
	}
	return vars
}

func envVar(c *corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

func isSet(c *corev1.Container, name string) bool {
	e, ok := envVar(c, name)
	return ok && (e.Value != "" || e.ValueFrom != nil)
}

// effective returns what mysql-bootstrap in c sees for a variable: the
// manifest's literal value, else the default from bootstrap.Variables().
func effective(c *corev1.Container, name string) string {
	if e, ok := envVar(c, name); ok && e.Value != "" {
		return e.Value
	}
	return variables()[name].Default
}

// sidecarHTTPPort is the port the sidecar listens on: HTTP_ADDR as the
// manifest sets it, else its default.
func sidecarHTTPPort(sidecar *corev1.Container) (int, error) {
	return addrPort(sidecar, "HTTP_ADDR")
}

// addrPort is the fixed port of a host:port variable (HTTP_ADDR,
// BACKUP_ADDR) as mysql-bootstrap in c sees it.
func addrPort(c *corev1.Container, name string) (int, error) {
	addr := effective(c, name)
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("container %s %s=%q is not host:port: %v", c.Name, name, addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("container %s %s=%q has no fixed port the probes and peers can use", c.Name, name, addr)
	}
	return n, nil
}

// place is where a path a container sees lives: a volume (pod volume or
// volumeClaimTemplate) and the path inside it, subPath included ("" for
// the volume's root). Two containers see the same files where they see
// the same place.
type place struct{ volume, path string }

func (pl place) String() string {
	if pl.path == "" {
		return "the root of volume " + pl.volume
	}
	return fmt.Sprintf("%s in volume %s", pl.path, pl.volume)
}

// within reports whether pl is pl2 or inside it.
func (pl place) within(pl2 place) bool {
	return pl.volume == pl2.volume && (pl2.path == "" || pl.path == pl2.path || strings.HasPrefix(pl.path, pl2.path+"/"))
}

// where returns the place of file as c sees it, through the deepest mount
// that holds it, and that mount; nil when no mount holds it (the file is
// in the container's own filesystem, gone with the container).
func where(c *corev1.Container, file string) (place, *corev1.VolumeMount) {
	file = path.Clean(file)
	var mount *corev1.VolumeMount
	for i, vm := range c.VolumeMounts {
		dir := path.Clean(vm.MountPath)
		inside := file == dir || strings.HasPrefix(file, dir+"/") || dir == "/"
		if inside && (mount == nil || len(dir) > len(path.Clean(mount.MountPath))) {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil {
		return place{}, nil
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(file, path.Clean(mount.MountPath)), "/")
	p := path.Join(path.Clean("/"+mount.SubPath), rel)[1:]
	return place{volume: mount.Name, path: p}, mount
}

// mounts reports whether c mounts volume name anywhere.
func mounts(c *corev1.Container, name string) bool {
	return slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.Name == name })
}

// toolsBinary is where init copies mysql-bootstrap: TOOLS_DIR/mysql-bootstrap
// (installBinary in package bootstrap). dir is "" when init sets no
// TOOLS_DIR (it has no default).
func toolsBinary(init *corev1.Container) (dir, file string) {
	dir = effective(init, "TOOLS_DIR")
	if dir == "" {
		return "", ""
	}
	return path.Clean(dir), path.Join(dir, "mysql-bootstrap")
}

// toolsProblem says why container c cannot run file as the copy of
// mysql-bootstrap that init puts in TOOLS_DIR, or "". The server image's
// containers have no mysql-bootstrap of their own: file must be that
// copy, seen through a mount of the same volume.
func toolsProblem(pd *pod, c *corev1.Container, file string) string {
	dir, bin := toolsBinary(pd.init)
	if dir == "" {
		return fmt.Sprintf("init sets no TOOLS_DIR, so nothing copies mysql-bootstrap where the %s image can run it", c.Image)
	}
	want, im := where(pd.init, bin)
	if im == nil {
		return fmt.Sprintf("init mounts no volume at TOOLS_DIR=%s, so its copy of mysql-bootstrap is lost with the init container", dir)
	}
	if !path.IsAbs(file) {
		return fmt.Sprintf("%q is not an absolute path: the %s image has no mysql-bootstrap on its PATH; run %s from a mount of volume %s", file, c.Image, bin, im.Name)
	}
	got, m := where(c, file)
	switch {
	case m == nil:
		return fmt.Sprintf("%s is in no volume container %s mounts: mount volume %s (init's TOOLS_DIR=%s) at %s", file, c.Name, im.Name, dir, path.Dir(file))
	case got != want:
		return fmt.Sprintf("%s is %s in container %s, but init copies mysql-bootstrap to %s (TOOLS_DIR=%s)", file, got, c.Name, want, dir)
	}
	return ""
}

// needsService reports whether mysql-bootstrap <sub> needs the pod's
// stable identity (SERVICE_NAME, POD_NAME, POD_NAMESPACE). init, sidecar
// and backup-server load with Need{Service: true, Passwords: true} and
// derive the identity (loadPod in package bootstrap); seed-exec loads with
// Need{Passwords: true} only.
func needsService(sub string) bool { return sub != "seed-exec" }

// requiredVariables are those mysql-bootstrap <sub> refuses to start
// without (each may be given as its _FILE variant). The help text marks
// them "required"; the root password is needed as well (Need{Passwords:
// true}) even where --help does not say so. seed-exec needs the passwords
// (the secret ones) but not SERVICE_NAME.
func requiredVariables(sub string) []string {
	secret := map[string]bool{}
	var names []string
	for _, v := range bootstrap.Variables() {
		secret[v.Name] = v.Secret
		if strings.HasPrefix(v.Help, "required") {
			names = append(names, v.Name)
		}
	}
	if !slices.Contains(names, "MYSQL_ROOT_PASSWORD") {
		names = append(names, "MYSQL_ROOT_PASSWORD")
	}
	if !needsService(sub) {
		names = slices.DeleteFunc(names, func(n string) bool { return !secret[n] })
	}
	return names
}

// problems collects what a check finds wrong.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// check is one invariant of the rendered manifests. It returns every
// violation, each saying what is wrong and why it matters.
type check struct {
	name string
	run  func(*manifests) []string
}

var checks = []check{
	{"headless Service", checkHeadlessService},
	{"selectors", checkSelectors},
	{"instance label", checkInstance},
	{"Service target ports", checkServicePorts},
	{"mysql-bootstrap variables", checkVariables},
	{"local server address", checkLocalServer},
	{"probes", checkProbes},
	{"secret files", checkSecretFiles},
	{"shared volumes", checkSharedVolumes},
	{"images and flavour", checkImages},
	{"security", checkSecurity},
	{"StatefulSet settings", checkStatefulSet},
	{"resources", checkResources},
	{"monitoring", checkMonitoring},
	{"TLS files", checkTLS},
	{"NetworkPolicy", checkNetworkPolicy},
	{"primary mode and RBAC", checkPrimaryMode},
}

// TestManifests runs every check on every cluster of every source: the
// kustomize overlays, the two-clusters example and the chart with several
// sets of values.
func TestManifests(t *testing.T) {
	t.Parallel()
	for _, src := range sources() {
		t.Run(src.name, func(t *testing.T) {
			t.Parallel()
			r := render(t, src)
			for _, m := range r.clusters {
				for _, c := range checks {
					t.Run(m.sts.Name+"/"+c.name, func(t *testing.T) {
						for _, p := range c.run(m) {
							t.Errorf("%s: %s", describe(src, m), p)
						}
					})
				}
			}
		})
	}
}

// TestVariablesExist fails when mysql-bootstrap stops reading a variable
// the manifests or these checks rely on: rename it in both places.
func TestVariablesExist(t *testing.T) {
	t.Parallel()
	vars := variables()
	for _, name := range []string{
		"POD_NAME", "POD_NAMESPACE", "SERVICE_NAME", "FLAVOR", "MYSQL_HOST", "MYSQL_PORT",
		"MYSQL_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD_FILE", "REPLICATION_PASSWORD", "REPLICATION_PASSWORD_FILE",
		"CONFIG_DIR", "DATA_DIR", "STATE_DIR", "TOOLS_DIR", "HTTP_ADDR", "BACKUP_ADDR", "WAIT_TIMEOUT",
		"PRIMARY", "LEASE_DURATION", "LEASE_RENEW_INTERVAL",
	} {
		if _, ok := vars[name]; !ok {
			t.Errorf("bootstrap.Variables() no longer lists %s: update deploy/kustomize and deploy/deploytest", name)
		}
	}
	for _, name := range []string{"HTTP_ADDR", "BACKUP_ADDR", "CONFIG_DIR", "DATA_DIR", "STATE_DIR", "MYSQL_HOST", "MYSQL_PORT"} {
		if vars[name].Default == "" {
			t.Errorf("bootstrap.Variables() gives %s no default: the manifests rely on it; set it in deploy/kustomize/base/statefulset.yaml", name)
		}
	}
}

func checkHeadlessService(m *manifests) []string {
	var p problems
	name := m.sts.Spec.ServiceName
	if name == "" {
		p.addf("StatefulSet %s has no serviceName: its pods get no stable DNS names and replicas cannot find the primary", m.sts.Name)
		return p
	}
	svc := m.service(name)
	if svc == nil {
		p.addf("StatefulSet %s has serviceName %q, which names no Service in the manifests (Services: %v): pods get no stable DNS names", m.sts.Name, name, m.serviceNames())
		return p
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		p.addf("Service %s (the StatefulSet's serviceName) has clusterIP %q, want None: only a headless Service publishes <pod>.%s names", name, svc.Spec.ClusterIP, name)
	}
	if !svc.Spec.PublishNotReadyAddresses {
		p.addf("Service %s has publishNotReadyAddresses false: the primary's name would appear only once it is ready, while replicas wait for that name to start", name)
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Name != "" }) {
		p.addf("Service %s has no named port: no SRV records are published", name)
	}
	if got := m.selected(svc.Spec.Selector); len(got) != m.replicas() {
		p.addf("Service %s selects pods %v of %d: the headless Service must select every pod of StatefulSet %s", name, got, m.replicas(), m.sts.Name)
	}
	return p
}

func checkSelectors(m *manifests) []string {
	var p problems
	tmpl := labels.Set(m.sts.Spec.Template.Labels)
	if m.sts.Spec.Selector == nil || len(m.sts.Spec.Selector.MatchLabels)+len(m.sts.Spec.Selector.MatchExpressions) == 0 {
		p.addf("StatefulSet %s has an empty selector", m.sts.Name)
	} else if sel, err := metav1.LabelSelectorAsSelector(m.sts.Spec.Selector); err != nil {
		p.addf("StatefulSet %s selector: %v", m.sts.Name, err)
	} else if !sel.Matches(tmpl) {
		p.addf("StatefulSet %s selector %s does not match its pod template labels %v: the API server rejects it", m.sts.Name, sel, tmpl)
	}

	all := make([]int, m.replicas())
	for i := range all {
		all[i] = i
	}
	primaryPod := m.sts.Name + "-0"
	kubernetes := m.want.primaryMode == modeKubernetes
	for _, svc := range m.services {
		got := m.selectedByAnyHolder(svc.Spec.Selector)
		if len(got) == 0 {
			p.addf("Service %s selector %v matches none of the pods %s-0..%d (template labels %v): it has no endpoints", svc.Name, svc.Spec.Selector, m.sts.Name, m.replicas()-1, tmpl)
			continue
		}
		if pn, ok := svc.Spec.Selector[appsv1.StatefulSetPodNameLabel]; ok {
			p.addf("Service %s selects %s=%s: a namePrefix renames the pods but not this value; select ordinal 0 with %s: \"0\"", svc.Name, appsv1.StatefulSetPodNameLabel, pn, appsv1.PodIndexLabel)
		}
		pi, ok := svc.Spec.Selector[appsv1.PodIndexLabel]
		switch {
		case ok && kubernetes:
			p.addf("Service %s selects %s=%s: in kubernetes mode the primary is whichever pod holds the Lease, so roles move between ordinals; select by %s", svc.Name, appsv1.PodIndexLabel, pi, roleLabel)
		case ok && pi != "0":
			p.addf("Service %s selects %s=%s: only ordinal 0 (%s) is ever writable", svc.Name, appsv1.PodIndexLabel, pi, primaryPod)
		}
	}

	primary := m.service(m.sts.Name + primarySuffix)
	switch {
	case primary == nil:
		p.addf("no Service %s%s for writes (Services: %v)", m.sts.Name, primarySuffix, m.serviceNames())
	case kubernetes:
		p = append(p, m.checkRoleService(primary, rolePrimary)...)
	case primary.Spec.Selector[appsv1.PodIndexLabel] != "0":
		p.addf("Service %s must select the primary (%s) with %s: \"0\", its selector is %v", primary.Name, primaryPod, appsv1.PodIndexLabel, primary.Spec.Selector)
	case !slices.Equal(m.selected(primary.Spec.Selector), []int{0}):
		p.addf("Service %s selects ordinals %v, want exactly [0]", primary.Name, m.selected(primary.Spec.Selector))
	}
	if primary != nil && primary.Spec.ClusterIP == corev1.ClusterIPNone {
		p.addf("Service %s is headless: clients would resolve a pod IP and keep it after mysql-0 moves", primary.Name)
	}
	if kubernetes {
		if rs := m.replicasService(); rs == nil {
			p.addf("no Service %s%s for reads from the replicas only, which kubernetes mode provides (Services: %v)", m.sts.Name, replicasSuffix, m.serviceNames())
		} else {
			p = append(p, m.checkRoleService(rs, roleReplica)...)
		}
	}

	read := m.service(m.sts.Name + readSuffix)
	switch {
	case read == nil:
		p.addf("no Service %s%s for reads (Services: %v)", m.sts.Name, readSuffix, m.serviceNames())
	case !slices.Equal(m.selected(read.Spec.Selector), all):
		p.addf("Service %s selects ordinals %v, want all of %v", read.Name, m.selected(read.Spec.Selector), all)
	case read.Spec.PublishNotReadyAddresses:
		p.addf("Service %s publishes not-ready pods: broken or lagging replicas would serve reads", read.Name)
	}

	if len(m.pdbs) == 0 {
		p.addf("no PodDisruptionBudget: a node drain may take down every pod at once")
	}
	for _, pdb := range m.pdbs {
		if pdb.Spec.Selector == nil {
			p.addf("PodDisruptionBudget %s has no selector", pdb.Name)
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			p.addf("PodDisruptionBudget %s selector: %v", pdb.Name, err)
			continue
		}
		if sel.Empty() || !sel.Matches(tmpl) {
			p.addf("PodDisruptionBudget %s selector %s does not match the pod template labels %v: it protects nothing", pdb.Name, sel, tmpl)
		}
		if mu := pdb.Spec.MaxUnavailable; mu == nil || mu.String() != "1" || pdb.Spec.MinAvailable != nil {
			p.addf("PodDisruptionBudget %s: want maxUnavailable 1 (and no minAvailable), got maxUnavailable %v minAvailable %v", pdb.Name, mu, pdb.Spec.MinAvailable)
		}
	}
	return p
}

func checkServicePorts(m *manifests) []string {
	var p problems
	containers := m.sts.Spec.Template.Spec.Containers
	for _, svc := range m.services {
		for _, sp := range svc.Spec.Ports {
			tp := sp.TargetPort
			found := false
			for _, c := range containers {
				for _, cp := range c.Ports {
					if tp.StrVal != "" && cp.Name == tp.StrVal ||
						tp.StrVal == "" && (tp.IntVal == cp.ContainerPort || tp.IntVal == 0 && sp.Port == cp.ContainerPort) {
						found = true
					}
				}
			}
			if !found {
				p.addf("Service %s port %s targets %s, which no container of the pod template declares", svc.Name, sp.Name, tp.String())
			}
		}
	}
	return p
}

func checkVariables(m *manifests) []string {
	var p problems
	pd, err := m.pod()
	if err != nil {
		return []string{err.Error()}
	}
	known := variables()
	cs := pd.bootstrapContainers()
	if pd.seedExec() {
		cs = append(cs, pd.server)
	}
	for _, c := range cs {
		sub := subcommand(*c)
		// The server's environment is mostly the image's: only the
		// variables mysql-bootstrap reads are checked there.
		own := c != pd.server
		if own && len(c.EnvFrom) > 0 {
			p.addf("container %s uses envFrom: list variables one by one so they can be checked against bootstrap.Variables()", c.Name)
		}
		seen := map[string]bool{}
		for _, e := range c.Env {
			if seen[e.Name] {
				p.addf("container %s sets %s twice", c.Name, e.Name)
			}
			seen[e.Name] = true
			v, ok := known[e.Name]
			if !ok {
				if own {
					p.addf("container %s sets %s, which mysql-bootstrap does not read (it reads %v)", c.Name, e.Name, slices.Sorted(maps.Keys(known)))
				}
				continue
			}
			if v.Secret && (e.Value != "" || e.ValueFrom != nil) {
				p.addf("container %s sets the secret %s as an environment value: mount the Secret and set %s_FILE instead", c.Name, e.Name, e.Name)
			}
		}
		for _, name := range requiredVariables(sub) {
			if !isSet(c, name) && !isSet(c, name+"_FILE") {
				hint := ""
				if !own {
					hint = " (the image's own variables, such as MARIADB_ROOT_PASSWORD_FILE, are not mysql-bootstrap's)"
				}
				p.addf("container %s sets neither %s nor %s_FILE: mysql-bootstrap %s exits with an invalid configuration%s", c.Name, name, name, sub, hint)
			}
		}
		if !needsService(sub) {
			continue
		}
		// mysql-bootstrap reads the Service from the pod's stable name in
		// /etc/hosts; a value here would survive a namePrefix that renames
		// the Service, and point at the wrong one.
		if e, ok := envVar(c, "SERVICE_NAME"); ok {
			p.addf("container %s sets SERVICE_NAME=%q: leave it unset, mysql-bootstrap reads the StatefulSet's serviceName (%q) from the pod's stable name, and a renamed copy of the manifests would keep this value", c.Name, e.Value, m.sts.Spec.ServiceName)
		}
		for name, field := range map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"} {
			e, ok := envVar(c, name)
			if !ok || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != field {
				p.addf("container %s must set %s from the downward API (fieldRef %s)", c.Name, name, field)
			}
		}
	}
	return p
}

func checkLocalServer(m *manifests) []string {
	var p problems
	pd, err := m.pod()
	if err != nil {
		return []string{err.Error()}
	}
	// Those that connect to the pod's own server: the sidecar manages it,
	// backup-server streams its data, server-alive reads its greeting.
	local := []*corev1.Container{pd.sidecar}
	if pd.backup != nil {
		local = append(local, pd.backup)
	}
	ported := pd.bootstrapContainers()
	if runsServerAlive(pd.server) {
		local = append(local, pd.server)
		ported = append(ported, pd.server)
	}
	for _, c := range local {
		if h := effective(c, "MYSQL_HOST"); h != "127.0.0.1" && h != "::1" && h != "localhost" {
			p.addf("container %s MYSQL_HOST=%q: mysql-bootstrap %s works on the server of its own pod, want 127.0.0.1", c.Name, h, serverAliveOr(c))
		}
	}
	var serverPorts []int32
	for _, cp := range pd.server.Ports {
		serverPorts = append(serverPorts, cp.ContainerPort)
	}
	for _, c := range ported {
		port, err := strconv.Atoi(effective(c, "MYSQL_PORT"))
		if err != nil || !slices.Contains(serverPorts, int32(port)) {
			p.addf("container %s uses MYSQL_PORT=%q, but the server container declares ports %v", c.Name, effective(c, "MYSQL_PORT"), serverPorts)
		}
	}
	return p
}

// serverAliveOr names what mysql-bootstrap runs as in c: its subcommand,
// or server-alive for the server's probes.
func serverAliveOr(c *corev1.Container) string {
	if sub := subcommand(*c); sub != "" && sub != "seed-exec" {
		return sub
	}
	return "server-alive"
}

// probePort resolves a probe's port as the kubelet does: a name is looked
// up among the probed container's own ports, not the pod's.
func probePort(c *corev1.Container, h corev1.ProbeHandler) (int, error) {
	var name string
	var n int32
	switch {
	case h.HTTPGet != nil:
		name, n = h.HTTPGet.Port.StrVal, h.HTTPGet.Port.IntVal
	case h.TCPSocket != nil:
		name, n = h.TCPSocket.Port.StrVal, h.TCPSocket.Port.IntVal
	}
	if name == "" {
		return int(n), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == name {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("port %q is not a port of container %s: the kubelet looks a named probe port up in the probed container only, use the number", name, c.Name)
}

// serverAliveTimeout is how long server-alive's whole check may take when
// no --timeout is given (aliveTimeout in package bootstrap, cmdalive.go).
const serverAliveTimeout = 3 * time.Second

// serverAliveArgs returns the arguments after server-alive when argv runs
// mysql-bootstrap server-alive directly (no shell: the server image need
// not have one), and whether it does.
func serverAliveArgs(argv []string) ([]string, bool) {
	if len(argv) < 2 || path.Base(argv[0]) != "mysql-bootstrap" || argv[1] != "server-alive" {
		return nil, false
	}
	return argv[2:], true
}

// runsServerAlive reports whether any probe of c runs server-alive.
func runsServerAlive(c *corev1.Container) bool {
	for _, pr := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
		if pr != nil && pr.Exec != nil {
			if _, ok := serverAliveArgs(pr.Exec.Command); ok {
				return true
			}
		}
	}
	return false
}

func checkProbes(m *manifests) []string {
	var p problems
	pd, err := m.pod()
	if err != nil {
		return []string{err.Error()}
	}
	httpPort, err := sidecarHTTPPort(pd.sidecar)
	if err != nil {
		return []string{err.Error()}
	}
	if !slices.ContainsFunc(pd.sidecar.Ports, func(cp corev1.ContainerPort) bool { return int(cp.ContainerPort) == httpPort }) {
		p.addf("sidecar listens on %d (HTTP_ADDR) but declares ports %v", httpPort, pd.sidecar.Ports)
	}
	if v, ok := m.sts.Spec.Template.Annotations["prometheus.io/port"]; ok && v != strconv.Itoa(httpPort) {
		p.addf("annotation prometheus.io/port=%q, but the sidecar serves /metrics on %d", v, httpPort)
	}
	for _, c := range m.sts.Spec.Template.Spec.InitContainers {
		if c.ReadinessProbe != nil || c.LivenessProbe != nil || c.StartupProbe != nil {
			p.addf("init container %s has probes: the API server rejects them on init containers", c.Name)
		}
	}

	// Readiness is the role's: the sidecar's /readyz, for both. The
	// sidecar's own liveness may be anything on its port but /readyz.
	type want struct {
		c        *corev1.Container
		kind     string
		probe    *corev1.Probe
		path     string // "" when any handler on the sidecar's port will do
		required bool
	}
	for _, w := range []want{
		{pd.server, "readinessProbe", pd.server.ReadinessProbe, bootstrap.PathReadyz, true},
		{pd.sidecar, "readinessProbe", pd.sidecar.ReadinessProbe, bootstrap.PathReadyz, true},
		{pd.sidecar, "livenessProbe", pd.sidecar.LivenessProbe, "", false},
		{pd.sidecar, "startupProbe", pd.sidecar.StartupProbe, "", false},
	} {
		c := w.c
		if w.probe == nil {
			if w.required {
				p.addf("container %s has no %s (want GET %s on port %d)", c.Name, w.kind, w.path, httpPort)
			}
			continue
		}
		h := w.probe.ProbeHandler
		switch {
		case h.HTTPGet != nil:
			got := h.HTTPGet.Path
			if got != bootstrap.PathReadyz && got != bootstrap.PathHealthz {
				p.addf("container %s %s GETs %q: the sidecar serves %s and %s", c.Name, w.kind, got, bootstrap.PathHealthz, bootstrap.PathReadyz)
			} else if w.path != "" && got != w.path {
				p.addf("container %s %s GETs %s, want %s", c.Name, w.kind, got, w.path)
			}
			if w.kind != "readinessProbe" && got == bootstrap.PathReadyz {
				p.addf("container %s %s uses %s: a lagging replica would be restarted instead of leaving the read Service", c.Name, w.kind, got)
			}
			if h.HTTPGet.Host != "" {
				p.addf("container %s %s sets host %q: probes must reach the pod itself", c.Name, w.kind, h.HTTPGet.Host)
			}
		case h.TCPSocket != nil && w.path == "":
		default:
			p.addf("container %s %s must be an HTTP GET of %s on the sidecar's port %d", c.Name, w.kind, w.path, httpPort)
			continue
		}
		port, err := probePort(c, h)
		if err != nil {
			p.addf("container %s %s: %v", c.Name, w.kind, err)
		} else if port != httpPort {
			p.addf("container %s %s probes port %d, but the sidecar listens on %d (HTTP_ADDR)", c.Name, w.kind, port, httpPort)
		}
	}

	p = append(p, serverLiveness(pd)...)
	p = append(p, backupProbes(pd)...)
	return p
}

// serverLiveness checks the server's startup and liveness probes: they
// decide when the kubelet restarts mysqld, so they must depend on neither
// the sidecar nor a password. server-alive reads the server's greeting
// without logging in (and counts a MariaDB restore in progress as alive);
// a tcpSocket on the MySQL port is as independent, but cannot see a
// restore, so it will not do where the server starts through seed-exec.
func serverLiveness(pd *pod) problems {
	var p problems
	mysqlPort, _ := strconv.Atoi(effective(pd.sidecar, "MYSQL_PORT"))
	bin := "<TOOLS_DIR>/mysql-bootstrap"
	if _, b := toolsBinary(pd.init); b != "" {
		bin = b
	}
	fix := fmt.Sprintf("use an exec probe of %s server-alive or tcpSocket on the server port %d", bin, mysqlPort)
	if pd.seedExec() {
		fix = fmt.Sprintf("use an exec probe of %s server-alive", bin)
	}
	s := pd.server
	for _, w := range []struct {
		kind  string
		probe *corev1.Probe
	}{{"startupProbe", s.StartupProbe}, {"livenessProbe", s.LivenessProbe}} {
		if w.probe == nil {
			p.addf("server container has no %s: %s", w.kind, fix)
			continue
		}
		h := w.probe.ProbeHandler
		switch {
		case h.Exec != nil:
			args, ok := serverAliveArgs(h.Exec.Command)
			if !ok {
				p.addf("server container %s runs %q, not mysql-bootstrap server-alive: a probe that logs in would restart mysqld when the root password changes, one that asks the sidecar when the sidecar crashes; %s", w.kind, h.Exec.Command, fix)
				continue
			}
			if problem := toolsProblem(pd, s, h.Exec.Command[0]); problem != "" {
				p.addf("server container %s runs %s: %s", w.kind, h.Exec.Command[0], problem)
			}
			fs := flag.NewFlagSet("server-alive", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			timeout := fs.Duration("timeout", serverAliveTimeout, "")
			if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
				p.addf("server container %s: server-alive does not take the arguments %q", w.kind, args)
				continue
			}
			seconds := w.probe.TimeoutSeconds
			if seconds == 0 {
				seconds = 1 // the API's default
			}
			if time.Duration(seconds)*time.Second <= *timeout {
				p.addf("server container %s has timeoutSeconds %d, but server-alive may take %s (--timeout): the kubelet would count a slow answer as a failure; give it more than that", w.kind, seconds, *timeout)
			}
		case h.TCPSocket != nil:
			if pd.seedExec() {
				p.addf("server container %s is a tcpSocket, but the server starts through seed-exec: nothing listens while a copy is restored (for as long as it takes), and the kubelet would restart the container in the middle of it; %s", w.kind, fix)
				continue
			}
			if h.TCPSocket.Host != "" {
				p.addf("server container %s sets host %q: probes must reach the pod itself", w.kind, h.TCPSocket.Host)
			}
			if port, err := probePort(s, h); err != nil {
				p.addf("server container %s: %v", w.kind, err)
			} else if port != mysqlPort {
				p.addf("server container %s connects to port %d, but the server listens on %d (MYSQL_PORT)", w.kind, port, mysqlPort)
			}
		case h.HTTPGet != nil:
			p.addf("server container %s GETs %s on port %s, an HTTP server that is not mysqld (the sidecar's, which logs in as root): a sidecar crash or a root password change would restart mysqld; %s", w.kind, h.HTTPGet.Path, h.HTTPGet.Port.String(), fix)
			if h.HTTPGet.Path == bootstrap.PathReadyz {
				p.addf("server container %s uses %s: a lagging replica would be restarted instead of leaving the read Service", w.kind, h.HTTPGet.Path)
			}
		default:
			p.addf("server container %s is neither an exec of mysql-bootstrap server-alive nor a tcpSocket: %s", w.kind, fix)
		}
	}
	return p
}

// backupProbes checks the backup container's port and probes. It answers
// only GET /backup with a token, so its probes can only see its listener.
func backupProbes(pd *pod) problems {
	var p problems
	b := pd.backup
	if b == nil {
		return p
	}
	port, err := addrPort(b, "BACKUP_ADDR")
	if err != nil {
		p.addf("%v", err)
		return p
	}
	// The sidecar fetches a donor's copy from the donor pod's stable name
	// and its own BACKUP_ADDR's port (backupURL in package bootstrap).
	if fetch, err := addrPort(pd.sidecar, "BACKUP_ADDR"); err != nil {
		p.addf("%v", err)
	} else if fetch != port {
		p.addf("backup container %s listens on %d (BACKUP_ADDR), but the sidecar fetches copies from peers' port %d (its BACKUP_ADDR): seeding would fail", b.Name, port, fetch)
	}
	if !slices.ContainsFunc(b.Ports, func(cp corev1.ContainerPort) bool { return int(cp.ContainerPort) == port }) {
		p.addf("backup container %s listens on %d (BACKUP_ADDR) but declares ports %v", b.Name, port, b.Ports)
	}
	if b.StartupProbe == nil && b.LivenessProbe == nil {
		p.addf("backup container %s has no liveness probe: a backup-server that stopped listening would never be restarted (want tcpSocket on %d)", b.Name, port)
	}
	for _, w := range []struct {
		kind  string
		probe *corev1.Probe
	}{{"startupProbe", b.StartupProbe}, {"livenessProbe", b.LivenessProbe}, {"readinessProbe", b.ReadinessProbe}} {
		if w.probe == nil {
			continue
		}
		h := w.probe.ProbeHandler
		if h.TCPSocket == nil {
			p.addf("backup container %s %s must be a tcpSocket on %d: backup-server answers only GET /backup, with a token", b.Name, w.kind, port)
			continue
		}
		if got, err := probePort(b, h); err != nil {
			p.addf("backup container %s %s: %v", b.Name, w.kind, err)
		} else if got != port {
			p.addf("backup container %s %s probes port %d, but backup-server listens on %d (BACKUP_ADDR)", b.Name, w.kind, got, port)
		}
	}
	return p
}

func checkSecretFiles(m *manifests) []string {
	var p problems
	spec := &m.sts.Spec.Template.Spec
	all := append(slices.Clone(spec.InitContainers), spec.Containers...)
	for _, c := range all {
		for _, e := range c.Env {
			if !strings.HasSuffix(e.Name, "_FILE") || e.Value == "" {
				continue
			}
			if problem := secretFile(m, &c, e); problem != "" {
				p.addf("container %s: %s=%s %s", c.Name, e.Name, e.Value, problem)
			}
		}
	}
	return p
}

// secretFile says what is wrong with a *_FILE variable, or "".
func secretFile(m *manifests, c *corev1.Container, e corev1.EnvVar) string {
	file := path.Clean(e.Value)
	var mount *corev1.VolumeMount
	for i, vm := range c.VolumeMounts {
		dir := path.Clean(vm.MountPath)
		inside := strings.HasPrefix(file, dir+"/") || vm.SubPath != "" && file == dir
		if inside && (mount == nil || len(dir) > len(path.Clean(mount.MountPath))) {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil {
		var paths []string
		for _, vm := range c.VolumeMounts {
			paths = append(paths, vm.MountPath)
		}
		return fmt.Sprintf("is not inside any volumeMount of the container (mounts: %v)", paths)
	}
	var vol *corev1.Volume
	for i, v := range m.sts.Spec.Template.Spec.Volumes {
		if v.Name == mount.Name {
			vol = &m.sts.Spec.Template.Spec.Volumes[i]
		}
	}
	if vol == nil || vol.Secret == nil {
		return fmt.Sprintf("is in volume %s mounted at %s, which is not a Secret volume", mount.Name, mount.MountPath)
	}
	if !mount.ReadOnly {
		return fmt.Sprintf("is in Secret volume %s, mounted read-write: mount it readOnly", mount.Name)
	}
	rel := strings.TrimPrefix(file, path.Clean(mount.MountPath)+"/")
	if mount.SubPath != "" {
		if file == path.Clean(mount.MountPath) {
			rel = mount.SubPath
		} else {
			rel = path.Join(mount.SubPath, rel)
		}
	}
	key := rel
	if len(vol.Secret.Items) > 0 {
		key = ""
		for _, it := range vol.Secret.Items {
			if path.Clean(it.Path) == rel {
				key = it.Key
			}
		}
		if key == "" {
			return fmt.Sprintf("names %q, which is not among the items of volume %s", rel, vol.Name)
		}
	}
	s := m.secret(vol.Secret.SecretName)
	if s == nil && slices.Contains(m.want.externalSecrets, vol.Secret.SecretName) {
		return "" // the user's Secret: its keys are the user's to provide
	}
	if s == nil {
		return fmt.Sprintf("reads Secret %s (volume %s), which the manifests do not render", vol.Secret.SecretName, vol.Name)
	}
	_, inData := s.Data[key]
	_, inString := s.StringData[key]
	if !inData && !inString {
		keys := slices.Sorted(maps.Keys(s.Data))
		keys = append(keys, slices.Sorted(maps.Keys(s.StringData))...)
		return fmt.Sprintf("reads key %q of Secret %s, which has keys %v", key, s.Name, keys)
	}
	return ""
}

func checkSharedVolumes(m *manifests) []string {
	var p problems
	pd, err := m.pod()
	if err != nil {
		return []string{err.Error()}
	}
	mountAt := func(c *corev1.Container, dir string) *corev1.VolumeMount {
		for i, vm := range c.VolumeMounts {
			if path.Clean(vm.MountPath) == path.Clean(dir) {
				return &c.VolumeMounts[i]
			}
		}
		return nil
	}
	claims := map[string]corev1.PersistentVolumeClaim{}
	for _, pvc := range m.sts.Spec.VolumeClaimTemplates {
		claims[pvc.Name] = pvc
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pd.spec.Volumes {
		volumes[v.Name] = v
	}
	var data *place // where DATA_DIR is, when init mounts it
	dataDir := effective(pd.init, "DATA_DIR")
	for _, name := range []string{"CONFIG_DIR", "DATA_DIR"} {
		dir := effective(pd.init, name)
		im := mountAt(pd.init, dir)
		if im == nil {
			p.addf("init container uses %s=%s, but mounts no volume there", name, dir)
			continue
		}
		if im.ReadOnly && name == "CONFIG_DIR" {
			p.addf("init container mounts %s (%s) read-only: it writes the server configuration there", im.Name, dir)
		}
		want, _ := where(pd.init, dir)
		// mysqld reads both at init's paths: the image's includedir and
		// default datadir.
		switch got, sm := where(pd.server, dir); {
		case got == want:
		case !mounts(pd.server, im.Name):
			p.addf("server container does not mount volume %s, which init uses for %s=%s", im.Name, name, dir)
		case sm == nil:
			p.addf("%s=%s is %s in init but in no volume in the server: both must see the same %s at the same path", name, dir, want, name)
		default:
			p.addf("%s=%s is %s in init but %s in the server: both must see the same %s at the same path", name, dir, want, got, name)
		}
		if name == "DATA_DIR" {
			data = &want
			pvc, ok := claims[im.Name]
			if !ok {
				p.addf("DATA_DIR volume %s is not a volumeClaimTemplate: the data would not survive the pod", im.Name)
				continue
			}
			if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOnce) && !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOncePod) {
				p.addf("volumeClaimTemplate %s has access modes %v, want ReadWriteOnce", pvc.Name, pvc.Spec.AccessModes)
			}
			if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.IsZero() {
				p.addf("volumeClaimTemplate %s requests no storage", pvc.Name)
			}
		}
	}

	// STATE_DIR: what the sidecar must remember across restarts (how fresh
	// the replica's data is, a seed in progress). It describes the data,
	// so it lives and dies with it: on the data claim, beside the data
	// directory, never inside it (the server owns that directory, and a
	// seed replaces it).
	stateDir := effective(pd.sidecar, "STATE_DIR")
	state, sm := where(pd.sidecar, stateDir)
	stateOK := false
	switch _, isClaim := claims[state.volume]; {
	case sm == nil:
		p.addf("sidecar keeps its state in STATE_DIR=%s, which is in no volume it mounts: the state (how fresh the replica's data is, a seed in progress) would be lost with the container; mount the data claim there with its own subPath", stateDir)
	case !isClaim:
		p.addf("sidecar STATE_DIR=%s is %s, which is not a volumeClaimTemplate: the state would be lost with the pod; mount the data claim there with its own subPath", stateDir, state)
	case data != nil && state.volume != data.volume:
		p.addf("sidecar STATE_DIR=%s is %s, but DATA_DIR is %s: the state must go with the data it describes (same claim, its own subPath)", stateDir, state, *data)
	case data != nil && (state.within(*data) || data.within(state)):
		p.addf("sidecar STATE_DIR=%s is %s and DATA_DIR is %s: the state would be inside the server's data directory (or the data inside the state); give STATE_DIR a subPath of its own beside DATA_DIR's", stateDir, state, *data)
	case sm.ReadOnly:
		p.addf("sidecar mounts STATE_DIR=%s read-only: it writes its state there", stateDir)
	default:
		stateOK = true
	}

	if pd.seedExec() {
		// seed-exec reads the sidecar's seed request in its own STATE_DIR
		// and restores the copy into its own DATA_DIR; server-alive reads
		// the progress there too.
		dir := effective(pd.server, "STATE_DIR")
		switch got, vm := where(pd.server, dir); {
		case !stateOK:
			// The sidecar's STATE_DIR is wrong already, reported above.
		case vm == nil || got != state:
			seen := "no volume"
			if vm != nil {
				seen = got.String()
			}
			p.addf("server runs seed-exec, which reads the sidecar's seed request in STATE_DIR=%s, but sees %s there, while the sidecar's STATE_DIR=%s is %s: mount that at %s in the server too", dir, seen, stateDir, state, dir)
		case vm.ReadOnly:
			p.addf("server runs seed-exec, which writes its progress in STATE_DIR=%s, but mounts it read-only", dir)
		}
		dir = effective(pd.server, "DATA_DIR")
		if got, vm := where(pd.server, dir); data != nil && (vm == nil || got != *data) {
			p.addf("server runs seed-exec, which restores copies into its DATA_DIR=%s, but that is not the server's data directory (%s at %s)", dir, *data, dataDir)
		}
	}

	if b := pd.backup; b != nil && data != nil {
		// mariadb-backup takes the data directory's path from the server
		// and reads the files there, so the backup container needs them at
		// the server's path.
		if got, vm := where(b, dataDir); vm == nil || got != *data {
			p.addf("backup container %s does not mount %s at %s, where the server has its data directory: mariadb-backup reads the files at the path the server reports", b.Name, *data, dataDir)
		}
		if got := effective(b, "DATA_DIR"); path.Clean(got) != path.Clean(dataDir) {
			p.addf("backup container %s has DATA_DIR=%s, but the server's data directory is %s", b.Name, got, dataDir)
		}
	}

	// TOOLS_DIR: init copies mysql-bootstrap there on every start for the
	// server image's containers. An emptyDir holds exactly this pod's
	// binary; a persistent volume would keep an old one across image
	// changes, and on the data claim it would sit beside the server's data.
	toolsDir, _ := toolsBinary(pd.init)
	if toolsDir != "" {
		tm := mountAt(pd.init, toolsDir)
		switch {
		case tm == nil:
			p.addf("init container uses TOOLS_DIR=%s, but mounts no volume there", toolsDir)
		case tm.ReadOnly:
			p.addf("init container mounts %s (TOOLS_DIR=%s) read-only: it copies mysql-bootstrap there", tm.Name, toolsDir)
		case volumes[tm.Name].EmptyDir == nil: // also when it is a claim
			p.addf("TOOLS_DIR=%s is on volume %s, which is not an emptyDir: init copies mysql-bootstrap there on every start, so only an emptyDir is sure to hold this pod's binary (and not the data claim's space)", toolsDir, tm.Name)
		}
	}
	for i := range pd.spec.Containers {
		c := &pd.spec.Containers[i]
		if len(c.Command) == 0 {
			continue
		}
		bin := path.Clean(c.Command[0])
		underTools := toolsDir != "" && (bin == toolsDir || strings.HasPrefix(bin, toolsDir+"/"))
		if underTools || path.Base(bin) == "mysql-bootstrap" && !isBootstrapImage(c.Image) {
			if problem := toolsProblem(pd, c, c.Command[0]); problem != "" {
				p.addf("container %s runs %s: %s", c.Name, c.Command[0], problem)
			}
		}
	}

	declared := map[string]bool{}
	for name := range volumes {
		declared[name] = true
	}
	for name := range claims {
		declared[name] = true
	}
	for _, c := range append(slices.Clone(pd.spec.InitContainers), pd.spec.Containers...) {
		for _, vm := range c.VolumeMounts {
			if !declared[vm.Name] {
				p.addf("container %s mounts volume %s, which is neither a pod volume nor a volumeClaimTemplate", c.Name, vm.Name)
			}
		}
	}
	return p
}

func checkImages(m *manifests) []string {
	var p problems
	pd, err := m.pod()
	if err != nil {
		return []string{err.Error()}
	}
	o := m.want
	if pd.server.Image != o.serverImage {
		p.addf("server container image is %q, want %q", pd.server.Image, o.serverImage)
	}
	for _, c := range pd.bootstrapContainers() {
		if got := effective(c, "FLAVOR"); got != o.flavor {
			p.addf("container %s has FLAVOR=%q, but the server image is %s: want %q", c.Name, got, o.serverImage, o.flavor)
		}
	}
	if pd.init.Image != pd.sidecar.Image {
		p.addf("init runs %s but sidecar runs %s: run one mysql-bootstrap image", pd.init.Image, pd.sidecar.Image)
	}
	if !isBootstrapImage(pd.init.Image) {
		p.addf("init image %q is not a mysql-bootstrap image", pd.init.Image)
	}
	if b := pd.backup; b != nil && b.Image != pd.server.Image {
		p.addf("backup container %s runs %s but the server %s: mariadb-backup must come from the server's image (its version must match the server's)", b.Name, b.Image, pd.server.Image)
	}
	switch {
	case o.seeds() && !pd.seedExec():
		p.addf("server container does not start through mysql-bootstrap seed-exec (command %q, args %q): %s has no clone plugin, so a replica that needs a copy of the data could never restore one", pd.server.Command, pd.server.Args, o.serverImage)
	case !o.seeds() && pd.seedExec():
		p.addf("server container starts through seed-exec, which restores mariadb-backup copies: MariaDB only, %s seeds with its clone plugin", o.serverImage)
	}
	// MySQL waits up to 10 s for its replicas' connections when it stops:
	// the preStop hook turns offline_mode ON first.
	if !o.seeds() {
		pre := pd.server.Lifecycle
		switch {
		case pre == nil || pre.PreStop == nil || pre.PreStop.Exec == nil || len(pre.PreStop.Exec.Command) < 2 || pre.PreStop.Exec.Command[1] != "server-stop":
			p.addf("server container has no preStop hook running mysql-bootstrap server-stop: %s then waits up to 10 s for its replicas' connections when it stops, and a new primary pod starts only after that", o.serverImage)
		default:
			if problem := toolsProblem(pd, pd.server, pre.PreStop.Exec.Command[0]); problem != "" {
				p.addf("server preStop hook: %s", problem)
			}
		}
	}
	switch {
	case o.seeds() && pd.backup == nil:
		p.addf("no container runs mysql-bootstrap backup-server: %s has no clone plugin, so peers seeding from this pod would get no copy", o.serverImage)
	case !o.seeds() && pd.backup != nil:
		p.addf("container %s runs backup-server, which serves mariadb-backup copies: MariaDB only, %s seeds with its clone plugin", pd.backup.Name, o.serverImage)
	}
	for _, name := range o.serverEnv {
		if !isSet(pd.server, name) {
			p.addf("server container does not set %s", name)
		}
	}
	for _, e := range pd.server.Env {
		if slices.Contains(forbiddenServerEnv, strings.TrimSuffix(e.Name, "_FILE")) {
			p.addf("server container sets %s: the image would create it on every pod, writes the primary never had (an account makes every new replica copy a donor's data instead of replicating, tables are errant GTIDs); create it once through %s%s", e.Name, m.sts.Name, primarySuffix)
		}
	}
	return p
}

func checkSecurity(m *manifests) []string {
	var p problems
	pd, err := m.pod()
	if err != nil {
		return []string{err.Error()}
	}
	psc := pd.spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if psc.FSGroup == nil {
		p.addf("pod securityContext has no fsGroup: volumes stay root-owned and the non-root containers cannot write them")
	}
	podSeccomp := psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
	for _, c := range append(slices.Clone(pd.spec.InitContainers), pd.spec.Containers...) {
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		nonRoot := sc.RunAsNonRoot
		if nonRoot == nil {
			nonRoot = psc.RunAsNonRoot
		}
		if nonRoot == nil || !*nonRoot {
			p.addf("container %s: runAsNonRoot is not true", c.Name)
		}
		uid := sc.RunAsUser
		if uid == nil {
			uid = psc.RunAsUser
		}
		if uid == nil || *uid == 0 {
			p.addf("container %s: no numeric non-root runAsUser (the kubelet cannot verify runAsNonRoot for a named image user)", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			p.addf("container %s: allowPrivilegeEscalation is not false", c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			p.addf("container %s is privileged", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			p.addf("container %s does not drop ALL capabilities", c.Name)
		}
		if !podSeccomp && (sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
			p.addf("container %s has no RuntimeDefault seccomp profile (pod or container)", c.Name)
		}
	}
	for _, c := range []*corev1.Container{pd.init, pd.sidecar} {
		if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			p.addf("container %s: readOnlyRootFilesystem is not true (mysql-bootstrap writes only to its volumes)", c.Name)
		}
	}
	if sc := pd.server.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != serverUID {
		p.addf("server container must run as uid %d, the mysql user of the official images", serverUID)
	}
	if b := pd.backup; b != nil {
		if sc := b.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != serverUID {
			p.addf("backup container %s must run as uid %d, the server's: mariadb-backup reads the server's files", b.Name, serverUID)
		}
	}
	return p
}

func checkStatefulSet(m *manifests) []string {
	var p problems
	pd, err := m.pod()
	if err != nil {
		return []string{err.Error()}
	}
	if m.sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		p.addf("StatefulSet %s has podManagementPolicy %q, want Parallel: replicas wait for the primary themselves", m.sts.Name, m.sts.Spec.PodManagementPolicy)
	}
	if m.sts.Spec.Replicas == nil || *m.sts.Spec.Replicas < 1 {
		p.addf("StatefulSet %s does not set replicas", m.sts.Name)
	}
	if g := pd.spec.TerminationGracePeriodSeconds; g == nil || *g < 30 {
		p.addf("terminationGracePeriodSeconds is %v, want at least 30 so mysqld shuts down cleanly", g)
	}
	if pd.spec.EnableServiceLinks == nil || *pd.spec.EnableServiceLinks {
		p.addf("enableServiceLinks is not false: a Service named mysql with a cluster IP would inject MYSQL_PORT=tcp://..., which mysql-bootstrap reads")
	}
	if sp := pd.server.StartupProbe; sp == nil {
		p.addf("server container has no startupProbe: liveness would kill a long crash recovery")
	} else {
		period, failures := sp.PeriodSeconds, sp.FailureThreshold
		if period == 0 {
			period = 10
		}
		if failures == 0 {
			failures = 3
		}
		if budget := sp.InitialDelaySeconds + period*failures; budget < minStartupBudgetSeconds {
			p.addf("server startupProbe allows %ds (initialDelaySeconds + periodSeconds x failureThreshold), want at least %ds for a long crash recovery", budget, minStartupBudgetSeconds)
		}
	}
	return p
}

func checkResources(m *manifests) []string {
	var p problems
	spec := &m.sts.Spec.Template.Spec
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[r]; !ok {
				p.addf("container %s requests no %s", c.Name, r)
			}
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
			p.addf("container %s has no memory limit", c.Name)
		}
	}
	return p
}
