// Package podcluster runs the StatefulSet of deploy/kustomize/base as Docker
// containers, one Kubernetes pod at a time, for the end-to-end tests in
// deploy/e2e.
//
// A pod is what the kubelet would build:
//
//   - a pause container that owns the pod's network namespace. It sits on
//     the cluster network (a private, internal Docker network with a fixed
//     subnet) as <pod>.<service>.<namespace>.svc.cluster.local and as
//     <service>, the headless Service's name that resolves to every pod;
//     each incarnation gets a new, explicit address. It also sits on a
//     small per-pod "host" network that carries nothing but the published
//     ports (3306 and 8080 on 127.0.0.1), so that cutting a pod off the
//     cluster network leaves its probes observable from the test.
//   - the init container (mysql-bootstrap init), run to completion;
//   - the server container (MariaDB's or MySQL's entrypoint contract);
//   - the sidecar container (mysql-bootstrap sidecar);
//
// all three in the pause container's network namespace, with the securityContext
// of the manifest (uid 65532 with the supplementary group 999 that fsGroup
// gives, read-only root, no capabilities; the server as 999), and per-pod
// named volumes for the configuration and the data. Passwords are files in
// a shared credentials volume, 0440 root:999 like a Secret with
// defaultMode 0440 and fsGroup 999; they never appear in arguments or in
// the environment.
//
// Every container, network and volume carries the label
// org.mysql-bootstrap.e2e=<run id> and is removed in t.Cleanup, on failure
// too (the suite runs with TESTCONTAINERS_RYUK_DISABLED=true).
package podcluster
