// Package deploytest holds tests only. They render every way the project
// installs (the kustomize overlays and examples under deploy/kustomize,
// in-process, and the Helm chart in deploy/helm with several sets of values,
// through the helm CLI that deploy/tools pins), decode every object strictly
// into the Kubernetes API types, split the result into clusters (one per
// StatefulSet, with what selects its pods), and run the same checks on each:
// the headless Service, selectors and the instance label, the variables
// mysql-bootstrap reads, probe paths and ports, server liveness that needs
// neither the sidecar nor a password, secret files, shared volumes (data,
// STATE_DIR, the tools copy of mysql-bootstrap), MariaDB's seed-exec and
// backup containers, images, security settings, the PodMonitor, and the
// primary's mode: no API access by default; with PRIMARY=kubernetes, a
// Role that grants exactly the Lease, pod and Event verbs the sidecars
// need, bound to the pods' own ServiceAccount, and Services that select
// the role label whichever pod holds the Lease. Renderings
// of two clusters in one namespace are checked to stay apart (no name,
// selector, affinity or Secret crosses). The variable names and defaults
// come from bootstrap.Variables(), so the manifests cannot drift from the
// binary; mutation tests break each check's subject to show it can fail.
package deploytest
