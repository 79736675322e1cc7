#!/usr/bin/env bash
# make release: the versioned artifacts of one commit in dist/<version>/,
# built here, offline (Go modules from the module cache), and published
# nowhere:
#
#   mysql-bootstrap-<v>-linux-amd64, -linux-arm64    static binaries (CGO_ENABLED=0)
#   mysql-bootstrap-<v>-oci.tar                      the image for both architectures: an OCI image
#                                                    layout (an index of two images), which
#                                                    `docker load` also takes (tags mysql-bootstrap:<v>-amd64/-arm64)
#   mysql-bootstrap-<v>-mysql.yaml, -mariadb.yaml    the kustomize overlays rendered with the image by tag and digest
#   mysql-bootstrap-<chart version>.tgz              the Helm chart, its default image by tag and digest
#   mysql-bootstrap-<v>-linux-<arch>.cdx.json        CycloneDX SBOMs of the binaries' modules (cyclonedx-gomod)
#   IMAGE                                            the image reference, REGISTRY/mysql-bootstrap:<v>@sha256:...
#   SHA256SUMS                                       sha256sum -c SHA256SUMS
#
# REGISTRY (default ghcr.io/example, a placeholder) is the one thing to set:
# where you will push the image. The digest is the image index's, which a
# registry serves unchanged when the layout is copied as it is:
#   skopeo copy --all --preserve-digests oci-archive:mysql-bootstrap-<v>-oci.tar docker://REGISTRY/mysql-bootstrap:<v>
# (or crane push / oras cp of the layout). docker load + docker push would
# compress the layers anew and change the digest.
#
# VERSION defaults to git describe; SOURCE_DATE_EPOCH (default: the commit's
# time) fixes every timestamp, so the same commit gives the same image digest.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

REGISTRY=${REGISTRY:-ghcr.io/example}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# Helm wants SemVer: v1.2.3 -> 1.2.3; anything else -> 0.0.0-g<version>.
if [[ $VERSION =~ ^v?([0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?)$ ]]; then
  chart_version=${BASH_REMATCH[1]}
else
  chart_version=0.0.0-g${VERSION//[^0-9A-Za-z-]/-}
fi
out=dist/$VERSION
name=mysql-bootstrap-$VERSION
step() { echo "== [${SECONDS}s] $*"; }

rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step "tools (deploy/tools/build.sh: helm, cyclonedx-gomod)"
deploy/tools/build.sh >/dev/null
tools=$PWD/bin/tools

for arch in amd64 arm64; do
  step "binary linux/$arch"
  GOOS=linux GOARCH=$arch go build -trimpath -ldflags "-s -w -X main.version=$VERSION" \
    -o "$out/$name-linux-$arch" ./cmd/mysql-bootstrap
done

step "image (OCI layout, linux/amd64 and linux/arm64)"
digest=$(go run ./deploy/release image -version "$VERSION" -created "$SOURCE_DATE_EPOCH" -revision "$revision" \
  -out "$out/$name-oci.tar" "linux/amd64=$out/$name-linux-amd64" "linux/arm64=$out/$name-linux-arm64")
image=$REGISTRY/mysql-bootstrap:$VERSION@$digest
echo "$image" >"$out/IMAGE"

step "manifests (kustomize overlays) with $image"
go run ./deploy/release manifests -image "$image" -out "$out" -prefix "$name"

step "chart $chart_version"
cp -r deploy/helm/mysql-bootstrap "$work/"
values=$work/mysql-bootstrap/values.yaml
# The image block's keys are the only ones indented by two spaces.
sed -i -e "s|^  repository: ghcr.io/example/mysql-bootstrap\$|  repository: $REGISTRY/mysql-bootstrap|" \
  -e "s|^  tag: \"\"\$|  tag: \"$VERSION\"|" -e "s|^  digest: \"\"\$|  digest: \"$digest\"|" "$values"
"$tools/helm" lint --strict "$work/mysql-bootstrap" >/dev/null
"$tools/helm" package "$work/mysql-bootstrap" --version "$chart_version" --app-version "$VERSION" -d "$out" >/dev/null
chart=$out/mysql-bootstrap-$chart_version.tgz
for flavor in mysql mariadb; do
  rendered=$("$tools/helm" template db "$chart" --set flavor=$flavor)
  n=$(grep -c "image: $image\$" <<<"$rendered" || true)
  if [ "$n" -lt 2 ]; then
    echo "the packaged chart ($flavor) does not run $image in init and sidecar:" >&2
    grep 'image:' <<<"$rendered" >&2
    exit 1
  fi
done
for f in "$out"/$name-*.yaml; do
  grep -q "image: $image\$" "$f" || { echo "$f does not name $image" >&2; exit 1; }
done

for arch in amd64 arm64; do
  step "SBOM linux/$arch (CycloneDX)"
  "$tools/cyclonedx-gomod" bin -json -noserial -notimestamp -version "$VERSION" \
    -output "$out/$name-linux-$arch.cdx.json" "$out/$name-linux-$arch" 2>/dev/null
done

if [ "${RELEASE_DOCKER_CHECK:-auto}" != 0 ] && docker info >/dev/null 2>&1; then
  host=$(go env GOARCH)
  step "docker load and run the linux/$host image (tags mysql-bootstrap:$VERSION-amd64/-arm64, removed after)"
  docker load -i "$out/$name-oci.tar" >/dev/null
  got=$(docker run --rm "mysql-bootstrap:$VERSION-$host" version)
  docker rmi "mysql-bootstrap:$VERSION-amd64" "mysql-bootstrap:$VERSION-arm64" >/dev/null
  [[ $got == *"$VERSION"* ]] || { echo "the image's binary says $got, want $VERSION" >&2; exit 1; }
fi

step "SHA256SUMS"
(cd "$out" && sha256sum -- $(ls | grep -v '^SHA256SUMS$') >SHA256SUMS && sha256sum -c --quiet SHA256SUMS)

step "done: $out"
ls -l "$out"
echo "image: $image"
