// Package deploytest holds tests only: they render the kustomize overlays
// under deploy/kustomize in-process, decode every object strictly into the
// Kubernetes API types, and check the invariants whose violation breaks a
// deployment (the headless Service, selectors, the variables mysql-bootstrap
// reads, probe paths and ports, secret files, shared volumes, images,
// security settings). The variable names and defaults come from
// bootstrap.Variables(), so the manifests cannot drift from the binary.
package deploytest
