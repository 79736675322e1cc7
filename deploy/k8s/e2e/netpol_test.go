package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

// 10. The shipped NetworkPolicy, enforced by the cluster's kube-router: a
// pod without the StatefulSet's labels reaches none of 3306, 8080 and 8081
// of a StatefulSet pod, while a pod of the StatefulSet reaches each (so a
// refusal is the policy's, not a port nobody listens on); once the policy
// names the client for SQL (the README's patch), it reaches 3306 and still
// not 8081. The earlier cases ran under the same policy: the pods
// replicated and seeded through it, and the kubelet's probes passed.
func (s *suite) networkPolicy(t *testing.T) {
	ctx := context.Background()
	target, err := s.podIP(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	ports := []int{3306, 8080}
	if s.srv.Flavor == "mariadb" {
		ports = append(ports, 8081)
	}
	// The client runs the server image for its bash (/dev/tcp) and timeout,
	// labelled as an application, not as the StatefulSet.
	const client = "e2e-client"
	if _, err := kubectl(ctx, s.ns, "run", client, "--image="+s.srv.Image, "--image-pull-policy=IfNotPresent",
		"--labels=app="+client, "--restart=Never", "--command", "--", "sleep", "600"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := kubectl(context.Background(), s.ns, "delete", "pod", client, "--wait=false", "--grace-period=0"); err != nil {
			t.Logf("delete the client pod: %v", err)
		}
	}()
	if _, err := kubectl(ctx, s.ns, "wait", "pod/"+client, "--for=condition=Ready", "--timeout=90s"); err != nil {
		t.Fatal(err)
	}
	// reaches reports whether a TCP connection from a container to
	// target:port opens within 2 s.
	reaches := func(ctx context.Context, pod, container string, port int) bool {
		args := []string{"exec", pod}
		if container != "" {
			args = append(args, "-c", container)
		}
		args = append(args, "--", "timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/"+target+"/"+strconv.Itoa(port))
		_, err := kubectl(ctx, s.ns, args...)
		return err == nil
	}
	// Each port from the StatefulSet's own pod 0: open.
	for _, port := range ports {
		if !reaches(ctx, s.podName(0), "server", port) {
			t.Errorf("%s cannot reach %s:%d: the policy shuts out the StatefulSet's own pods", s.podName(0), target, port)
		}
	}
	for _, port := range ports {
		if reaches(ctx, client, "", port) {
			t.Errorf("a pod without the StatefulSet's labels reaches %s:%d: the NetworkPolicy is not enforced or too wide", target, port)
		}
	}
	// The README's patch for SQL clients, naming this one, appended after
	// the shipped rules and removed at the end.
	var np struct {
		Spec struct {
			Ingress []json.RawMessage `json:"ingress"`
		} `json:"spec"`
	}
	if err := api.Get(ctx, "/apis/networking.k8s.io/v1/namespaces/"+s.ns+"/networkpolicies/"+s.name, &np); err != nil {
		t.Fatal(err)
	}
	shipped := len(np.Spec.Ingress)
	defer func() {
		remove := `[{"op":"remove","path":"/spec/ingress/` + strconv.Itoa(shipped) + `"}]`
		if _, err := kubectl(context.Background(), s.ns, "patch", "networkpolicy", s.name, "--type=json", "-p", remove); err != nil {
			t.Errorf("remove the client's rule: %v", err)
		}
	}()
	patch := `[{"op":"add","path":"/spec/ingress/-","value":{"from":[{"podSelector":{"matchExpressions":[{"key":"app","operator":"In","values":["` + client + `"]}]}}],"ports":[{"protocol":"TCP","port":3306}]}}]`
	if _, err := kubectl(ctx, s.ns, "patch", "networkpolicy", s.name, "--type=json", "-p", patch); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := testkit.Eventually(ctx, time.Minute, "the named client reaches 3306", func(ctx context.Context) error {
		if !reaches(ctx, client, "", 3306) {
			return fmt.Errorf("%s:3306 still refused", target)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.figure(t, "the NetworkPolicy's new rule admitted the client within %s", time.Since(start).Round(100*time.Millisecond))
	var still []string
	for _, port := range ports[1:] {
		if reaches(ctx, client, "", port) {
			still = append(still, strconv.Itoa(port))
		}
	}
	if len(still) > 0 {
		t.Errorf("a client named for SQL reaches %s too", strings.Join(still, ", "))
	}
}
