# mysql-bootstrap: a static binary in an otherwise empty image.
#
# Without a registry, build it with images/build.sh: it builds the builder image
# locally and vendors the modules into a throwaway context, so this build needs no
# network. With a registry, `docker build --build-arg BUILDER_IMAGE=golang:1.26-bookworm .`
# also works: without a vendor/ directory the modules are downloaded here.
ARG BUILDER_IMAGE=mysql-bootstrap/go:1.26

FROM ${BUILDER_IMAGE} AS build
# Lets images/build.sh find this stage's leftovers (the legacy builder keeps them).
LABEL org.mysql-bootstrap.stage=build
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
COPY . .
ARG VERSION=dev
RUN set -eu; \
    if [ -f vendor/modules.txt ]; then mod=-mod=vendor; else go mod download; mod=-mod=readonly; fi; \
    go build "$mod" -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/mysql-bootstrap ./cmd/mysql-bootstrap

FROM scratch
ARG VERSION=dev
# For TLS to servers with publicly signed certificates; nothing else comes along.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/mysql-bootstrap /mysql-bootstrap
# Numeric, so runAsNonRoot can verify it without an /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/mysql-bootstrap"]
LABEL org.opencontainers.image.title="mysql-bootstrap" \
      org.opencontainers.image.description="Init container and sidecar that give MySQL/MariaDB StatefulSet pods their identity and replication" \
      org.opencontainers.image.source="https://github.com/mysql-bootstrap/mysql-bootstrap" \
      org.opencontainers.image.version="${VERSION}"
