package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

// kubectl runs kubectl as the cluster's administrator in namespace ns.
func kubectl(ctx context.Context, ns string, args ...string) (string, error) {
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	return cluster.Kubectl(ctx, args...)
}

// set is one StatefulSet as the tests see it: its namespace and name.
type set struct {
	ns, name string
}

func (s set) podName(ordinal int) string { return fmt.Sprintf("%s-%d", s.name, ordinal) }

func (s set) pod(ctx context.Context, ordinal int) (*corev1.Pod, error) {
	var p corev1.Pod
	if err := api.Get(ctx, "/api/v1/namespaces/"+s.ns+"/pods/"+s.podName(ordinal), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func (s set) statefulSet(ctx context.Context) (*appsv1.StatefulSet, error) {
	var st appsv1.StatefulSet
	if err := api.Get(ctx, "/apis/apps/v1/namespaces/"+s.ns+"/statefulsets/"+s.name, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// replicas is the StatefulSet's spec.replicas.
func (s set) replicas(ctx context.Context) (int, error) {
	st, err := s.statefulSet(ctx)
	if err != nil {
		return 0, err
	}
	if st.Spec.Replicas == nil {
		return 1, nil
	}
	return int(*st.Spec.Replicas), nil
}

// podReady is the pod's Ready condition.
func podReady(p *corev1.Pod) bool {
	if p == nil || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// restarts sums the pod's container restarts.
func restarts(p *corev1.Pod) map[string]int32 {
	m := map[string]int32{}
	for _, cs := range p.Status.ContainerStatuses {
		m[cs.Name] = cs.RestartCount
	}
	return m
}

// notReady says why pod ordinal is not Ready, or "" when it is.
func (s set) notReady(ctx context.Context, ordinal int) string {
	p, err := s.pod(ctx, ordinal)
	if err != nil {
		return err.Error()
	}
	if podReady(p) {
		return ""
	}
	why := []string{string(p.Status.Phase)}
	for _, cs := range p.Status.InitContainerStatuses {
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			why = append(why, "init "+cs.Name+" "+containerState(cs))
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if !cs.Ready {
			why = append(why, cs.Name+" "+containerState(cs))
		}
	}
	if p.Status.PodIP != "" {
		if st, err := sidecarStatus(ctx, p.Status.PodIP); err == nil {
			why = append(why, "sidecar: "+st.Reason)
		}
	}
	return strings.Join(why, "; ")
}

func containerState(cs corev1.ContainerStatus) string {
	switch {
	case cs.State.Waiting != nil:
		return "waiting (" + cs.State.Waiting.Reason + ")"
	case cs.State.Terminated != nil:
		return fmt.Sprintf("terminated (exit %d, %s)", cs.State.Terminated.ExitCode, cs.State.Terminated.Reason)
	case cs.State.Running != nil:
		return fmt.Sprintf("running, not ready (restarts %d)", cs.RestartCount)
	}
	return "unknown"
}

// waitReady waits until pods 0..n-1 all exist and are Ready, and returns
// when that became true.
func (s set) waitReady(ctx context.Context, n int, timeout time.Duration) (time.Time, error) {
	err := testkit.Eventually(ctx, timeout, fmt.Sprintf("%s/%s: pods 0..%d Ready", s.ns, s.name, n-1), func(ctx context.Context) error {
		var bad []string
		for i := range n {
			if why := s.notReady(ctx, i); why != "" {
				bad = append(bad, s.podName(i)+": "+why)
			}
		}
		if len(bad) > 0 {
			return errors.New(strings.Join(bad, " | "))
		}
		return nil
	})
	return time.Now(), err
}

// podIP returns pod ordinal's address, once it has one.
func (s set) podIP(ctx context.Context, ordinal int) (string, error) {
	p, err := s.pod(ctx, ordinal)
	if err != nil {
		return "", err
	}
	if p.Status.PodIP == "" {
		return "", fmt.Errorf("%s has no address yet (%s)", p.Name, p.Status.Phase)
	}
	return p.Status.PodIP, nil
}

// serviceIP returns a Service's cluster IP (kube-proxy forwards it from
// this machine too).
func (s set) serviceIP(ctx context.Context, service string) (string, error) {
	var svc corev1.Service
	if err := api.Get(ctx, "/api/v1/namespaces/"+s.ns+"/services/"+service, &svc); err != nil {
		return "", err
	}
	return svc.Spec.ClusterIP, nil
}

// endpoints returns the pod names a Service selects (its EndpointSlices,
// ready or not).
func (s set) endpoints(ctx context.Context, service string) ([]string, error) {
	return s.endpointsWhere(ctx, service, false)
}

// readyEndpoints returns the pod names a Service sends traffic to.
func (s set) readyEndpoints(ctx context.Context, service string) ([]string, error) {
	return s.endpointsWhere(ctx, service, true)
}

func (s set) endpointsWhere(ctx context.Context, service string, readyOnly bool) ([]string, error) {
	var l discoveryv1.EndpointSliceList
	if err := api.Get(ctx, "/apis/discovery.k8s.io/v1/namespaces/"+s.ns+"/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D"+service, &l); err != nil {
		return nil, err
	}
	var names []string
	for _, es := range l.Items {
		for _, ep := range es.Endpoints {
			if readyOnly && ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			if ep.TargetRef != nil {
				names = append(names, ep.TargetRef.Name)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// sidecarStatus fetches a pod's /status from its sidecar.
func sidecarStatus(ctx context.Context, ip string) (podcluster.Status, error) {
	var st podcluster.Status
	body, err := sidecarGet(ctx, ip, "/status")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("/status: %v", err)
	}
	return st, nil
}

// sidecarCredentials fetches the string fields of the credentials part of
// a pod's /status (the tags; channelCurrent is a boolean).
func sidecarCredentials(ctx context.Context, ip string) (map[string]string, error) {
	body, err := sidecarGet(ctx, ip, "/status")
	if err != nil {
		return nil, err
	}
	var st struct {
		Credentials map[string]any `json:"credentials"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, err
	}
	tags := map[string]string{}
	for k, v := range st.Credentials {
		if s, ok := v.(string); ok {
			tags[k] = s
		}
	}
	return tags, nil
}

func sidecarGet(ctx context.Context, ip, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(ip, "8080")+path, nil)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// openDB returns a pool to the server at host:3306.
func openDB(host, user, password, database string) *sql.DB {
	db, err := podcluster.OpenDB(net.JoinHostPort(host, "3306"), user, password, database)
	if err != nil {
		panic(err) // only a malformed configuration, which this is not
	}
	return db
}

// evict asks the API server to evict pod ordinal, as kubectl drain does.
func (s set) evict(ctx context.Context, ordinal int) error {
	body := map[string]any{
		"apiVersion": "policy/v1",
		"kind":       "Eviction",
		"metadata":   map[string]string{"name": s.podName(ordinal), "namespace": s.ns},
	}
	return api.Create(ctx, "/api/v1/namespaces/"+s.ns+"/pods/"+s.podName(ordinal)+"/eviction", body, nil)
}

// errnum returns the server's error number of err, or 0.
func errnum(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

func itoa(n int) string { return strconv.Itoa(n) }
