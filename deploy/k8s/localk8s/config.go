package localk8s

import (
	"bytes"
	"fmt"
	"text/template"
)

// The components' configuration files, rendered into config/ on every Up.
var configFiles = map[string]string{
	// containerd: a second instance beside Docker's, with its own root,
	// state, socket and runc root. restrict_oom_score_adj: processes here
	// lack CAP_SYS_RESOURCE, and runc fails to start sandboxes at -998
	// otherwise ("can't get final child's PID from pipe: EOF").
	"containerd.toml": `version = 2
root = "{{.Dir}}/containerd/root"
state = "{{.Dir}}/containerd/state"
[grpc]
  address = "{{.Dir}}/run/containerd.sock"
[ttrpc]
  address = "{{.Dir}}/run/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{.PauseImage}}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_cdi = false
  netns_mounts_under_state_dir = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
        Root = "{{.Dir}}/run/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{{.Dir}}/config/cni"
[plugins."io.containerd.internal.v1.opt"]
  path = "{{.Dir}}/containerd/opt"
`,
	// The bridge plugin finds mbk8s0 made by Up (with the node's address
	// on it). firewall: Docker sets the FORWARD policy to DROP.
	"cni/10-localk8s.conflist": `{
  "cniVersion": "1.0.0",
  "name": "localk8s",
  "plugins": [
    {"type": "bridge", "bridge": "{{.Bridge}}", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "{{.PodSubnet}}", "gateway": "{{.NodeIP}}"}]],
              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "{{.Dir}}/cni/ipam"}},
    {"type": "firewall", "backend": "iptables"}
  ]
}
`,
	// cgroup v1 here: the kubelet 1.34 still runs on it when told so.
	"kubelet.yaml": `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: {{.Dir}}/pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failCgroupV1: false
containerRuntimeEndpoint: unix://{{.Dir}}/run/containerd.sock
clusterDNS: [{{.DNSServiceIP}}]
clusterDomain: {{.ClusterDomain}}
failSwapOn: false
resolvConf: /etc/resolv.conf
address: {{.NodeIP}}
port: {{.KubeletPort}}
healthzBindAddress: 127.0.0.1
healthzPort: 10248
readOnlyPort: 0
registerNode: true
serializeImagePulls: false
# A Secret's change reaches the pods' files within about a sync period:
# 15 s here instead of the default 1 m, so the rotation case waits less.
syncFrequency: 15s
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
podLogsDir: {{.Dir}}/pod-logs
`,
	"kube-proxy.yaml": `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: {{.Dir}}/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: {{.ClusterCIDR}}
hostnameOverride: {{.NodeName}}
bindAddress: {{.NodeIP}}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
nodePortAddresses: ["{{.NodeIP}}/32"]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`,
	// What a kubeadm cluster has: CoreDNS with the kubernetes plugin
	// (ttl 30) and a 30 s cache, which also caches negative answers; and a
	// default StorageClass whose volumes the provisioner makes.
	"addons.yaml": `apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes {{.ClusterDomain}} in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 30
        }
        cache 30
        loop
        reload
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      priorityClassName: system-cluster-critical
      containers:
      - name: coredns
        image: {{.CorednsImage}}
        imagePullPolicy: Never
        args: ["-conf", "/etc/coredns/Corefile"]
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
        ports:
        - {containerPort: 53, name: dns, protocol: UDP}
        - {containerPort: 53, name: dns-tcp, protocol: TCP}
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2}
        livenessProbe: {httpGet: {path: /health, port: 8080}}
        securityContext:
          capabilities: {add: [NET_BIND_SERVICE], drop: [ALL]}
          readOnlyRootFilesystem: true
      volumes:
      - name: config
        configMap: {name: coredns, items: [{key: Corefile, path: Corefile}]}
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  selector: {k8s-app: kube-dns}
  clusterIP: {{.DNSServiceIP}}
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: {{.StorageClass}}
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: {{.Provisioner}}
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
`,
}

// renderConfig writes every configuration file into config/.
func (c *Cluster) renderConfig() error {
	data := map[string]any{
		"Dir": c.Dir, "Bridge": Bridge, "NodeIP": NodeIP, "NodeName": NodeName, "PodSubnet": PodSubnet,
		"ClusterCIDR": ClusterCIDR, "DNSServiceIP": DNSServiceIP, "ClusterDomain": ClusterDomain,
		"KubeletPort": kubeletPort, "PauseImage": pauseImage, "CorednsImage": corednsImage,
		"StorageClass": storageClass, "Provisioner": provisionerName,
	}
	for name, text := range configFiles {
		t, err := template.New(name).Option("missingkey=error").Parse(text)
		if err != nil {
			return fmt.Errorf("config %s: %w", name, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return fmt.Errorf("config %s: %w", name, err)
		}
		if err := writeFileAtomic(c.path("config", name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
