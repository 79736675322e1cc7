// Package tools pins the tools the build runs but the binary does not
// link: the helm CLI (helm lint and helm template in make test, helm
// package in make release) and cyclonedx-gomod (the release's SBOM). They
// are tool directives of this module of their own, so their many
// dependencies stay out of the main module's go.mod; build.sh builds them
// into bin/tools.
package tools
