# mysql-bootstrap: the targets people expect. `make help` lists them.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := bin/mysql-bootstrap
IMAGE ?= mysql-bootstrap:dev
# The registry make release names the image in (a placeholder: where you
# will push it); the one thing a release needs set.
REGISTRY ?= ghcr.io/example
export GOTOOLCHAIN := local
export TESTCONTAINERS_RYUK_DISABLED := true
# make test runs the end-to-end clusters of the three servers two at a time
# (E2E_PARALLEL=0: one after another).
E2E_PARALLEL ?= 1
export E2E_PARALLEL
# ... and MariaDB 11.8's with verified TLS everywhere (replication, the
# sidecars' connections, the seed stream): E2E_TLS=all for every server.
E2E_TLS ?= mariadb-11.8
export E2E_TLS

# The local Kubernetes of make demo-k8s and the tests (deploy/k8s/localk8s);
# K8S_DIR (default /var/lib/mysql-bootstrap-k8s) holds it.
LOCALK8S := $(GO) run ./deploy/k8s/cmd/localk8s

# Modules of their own, so that their dependencies stay out of go.mod:
# deploy/monitoring (tests of the alert rules with Prometheus's evaluator)
# and deploy/tools (the helm CLI and cyclonedx-gomod, built by
# deploy/tools/build.sh into bin/tools); deploy/k8s/build/* build the local
# Kubernetes, CoreDNS and kube-router (localk8s build).
NESTED := deploy/monitoring deploy/tools
# Wrapper modules with nothing of ours to vet: their go.mod must stay tidy.
WRAPPERS := deploy/k8s/build/kubernetes deploy/k8s/build/coredns deploy/k8s/build/kube-router

.PHONY: help build test unit lint image images demo demo-down demo-k8s demo-k8s-down k8s-build k8s-up k8s-down bench release tools clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

build: ## static binary in bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mysql-bootstrap
	@ls -l $(BIN)

test: lint ## every test: unit, golden, fuzz seeds, real-server integration, manifests (kustomize and Helm), alert rules, e2e on MySQL 9.7, MariaDB 11.8 and 10.11, then the cases on a real Kubernetes (root)
	$(GO) test -race -count=1 -timeout 45m $$($(GO) list ./... | grep -v '/deploy/k8s/e2e$$')
	cd deploy/monitoring && $(GO) test -count=1 ./...
	$(GO) test -race -count=1 -timeout 45m ./deploy/k8s/e2e/

unit: ## only the tests that need no server
	$(GO) test -count=1 -short ./...
	cd deploy/monitoring && $(GO) test -count=1 -short ./...

lint: ## go vet, gofmt and tidy go.mod files (the main module's and the nested ones')
	$(GO) vet ./...
	@for m in $(NESTED); do (cd $$m && $(GO) vet ./...) || exit 1; done
	@out=$$(gofmt -l cmd bootstrap deploy internal); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	@for m in $(NESTED) $(WRAPPERS); do (cd $$m && $(GO) mod tidy -diff) || { echo "$$m: go.mod/go.sum are not tidy: run go mod tidy there"; exit 1; }; done

tools: ## the helm CLI and cyclonedx-gomod in bin/tools (deploy/tools; make test and make release build them when needed)
	deploy/tools/build.sh

images: ## the local Debian bases, the MySQL 9.7, MariaDB 11.8 and 10.11 server images and the Go builder (no registry needed)
	images/build.sh debian-bookworm servers go

image: ## the mysql-bootstrap image (FROM scratch), building its base images first if needed
	IMAGE=$(IMAGE) VERSION=$(VERSION) images/build.sh app

demo: ## 3-pod primary/replicas demo in Docker Compose (deploy/compose); SERVER=mariadb-10.11 (default), mariadb-11.8 or mysql-9.7 (FLAVOR=mysql: mysql-9.7)
	deploy/compose/demo.sh up

demo-down: ## remove the demo's containers, volumes and secrets, whichever server it ran
	deploy/compose/demo.sh down

demo-k8s: ## the demo on a real single-node Kubernetes (deploy/k8s, root); SERVER as for demo
	deploy/k8s/demo.sh up

demo-k8s-down: ## delete the Kubernetes demo and stop the local cluster
	deploy/k8s/demo.sh down

k8s-build: ## build the local Kubernetes v1.34.4 (Go module proxy), CoreDNS and pause into K8S_DIR; cached
	$(LOCALK8S) build

k8s-up: k8s-build ## start the local single-node Kubernetes (root); then KUBECONFIG=K8S_DIR/admin.kubeconfig
	$(LOCALK8S) up

k8s-down: ## stop the local Kubernetes and remove what it created
	$(LOCALK8S) down

bench: ## benchmarks on real containers (needs Docker, ~15 min per server; BENCH_SERVER=mysql-9.7|mariadb-11.8, default mariadb-10.11): replication delays, cold start, failover, sidecar memory/CPU, binary size
	deploy/bench/run.sh

release: ## versioned artifacts in dist/<version>/, offline, nothing published: binaries linux/amd64+arm64, the image for both (OCI layout), manifests and chart by tag and digest, SBOMs, SHA256SUMS (REGISTRY=ghcr.io/example: where you will push)
	REGISTRY=$(REGISTRY) VERSION=$(VERSION) deploy/release/release.sh

clean: ## remove build output
	rm -rf bin dist .bench
