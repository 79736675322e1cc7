// Package deploytest holds tests only: they render the kustomize overlays
// under deploy/kustomize in-process, decode every object strictly into the
// Kubernetes API types, and check the invariants whose violation breaks a
// deployment (the headless Service, selectors, the variables mysql-bootstrap
// reads, probe paths and ports, server liveness that needs neither the
// sidecar nor a password, secret files, shared volumes (data, STATE_DIR,
// the tools copy of mysql-bootstrap), MariaDB's seed-exec and backup
// containers, images, security settings). The variable names and defaults
// come from bootstrap.Variables(), so the manifests cannot drift from the
// binary.
package deploytest
