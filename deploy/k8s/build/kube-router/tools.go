//go:build tools

// Package kuberouter only names the command localk8s builds, so that go
// mod tidy keeps its dependencies.
package kuberouter

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
