#!/usr/bin/env bash
# Builds the pinned tools of this module (go.mod's tool directives) into
# bin/tools at the repository's root, or into $1. A tool already up to date
# is not rebuilt (go build compares build IDs), so this is cheap to repeat.
# The first build compiles Helm and its dependencies: about 3.5 minutes on
# 2 cores, from the module cache (the Go module proxy fills it once).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../bin/tools}
mkdir -p "$out"
export GOTOOLCHAIN=local CGO_ENABLED=0
cd "$here"
go build -trimpath -o "$out/" helm.sh/helm/v4/cmd/helm github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod
