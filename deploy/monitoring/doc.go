// Package monitoring holds tests only, in a module of its own so that the
// Prometheus module (its rule parser and PromQL engine) stays out of the
// main go.mod. They load the alert rules of deploy/kustomize/monitoring
// with Prometheus's rule parser and evaluate every alert against synthetic
// series, NaN (unknown) values included, to show each one fires when it
// should and stays quiet when it should not; check that every alert has a
// runbook in deploy/docs/alerts.md; that the rules and the Grafana
// dashboard only name metrics the README lists (a table generated from the
// sidecar's code); and that the chart's copies are current.
//
//	cd deploy/monitoring && go test ./...
package monitoring
