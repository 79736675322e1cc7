// Package localk8s runs a real single-node Kubernetes on this machine,
// offline: etcd from Debian, kube-apiserver, kube-controller-manager,
// kube-scheduler, kubelet, kube-proxy and kubectl built from the Go module
// proxy (deploy/k8s/build/kubernetes), a containerd of its own (Debian's
// containerd and runc, its own root, state and socket), Debian's CNI plugins
// on a bridge of its own, CoreDNS built from its module
// (deploy/k8s/build/coredns), kube-router's network policy controller built
// from its module (deploy/k8s/build/kube-router: the bridge CNI ignores
// NetworkPolicies), and a small provisioner of local PersistentVolumes. The end-to-end tests of deploy/k8s/e2e and make
// demo-k8s use it; it is not part of mysql-bootstrap.
//
// Everything lives under one directory (Dir: K8S_DIR, default
// /var/lib/mysql-bootstrap-k8s): bin/ and pki/ and images/ are a cache kept
// between runs; the rest (etcd's data, containerd's root, the kubelet's
// directory, the volumes, logs) belongs to one run and goes with Down.
// Down touches only what Up started: processes by recorded PID (checked
// against their executable), containerd shims that name this cluster's
// socket, the kubepods cgroups, the KUBE-* and CNI-* iptables chains, the
// bridge mbk8s0, mounts under Dir, and the sysctls the kubelet and
// kube-proxy change, which it restores.
//
// It needs root (the kubelet, containerd and iptables do) and Docker (to
// build the pause and CoreDNS images and to export the images a test
// loads).
package localk8s
