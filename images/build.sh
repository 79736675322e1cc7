#!/usr/bin/env bash
# Builds every container image this project needs without a container registry:
#
#   mmdebstrap | docker import     ->  mysql-bootstrap/debian:SUITE   (bookworm, trixie, sid)
#   debian:bookworm + apt          ->  mysql-bootstrap/mariadb:10.11  (images/mariadb)
#   debian:trixie + apt            ->  mysql-bootstrap/mariadb:11.8   (images/mariadb)
#   debian:sid + apt               ->  mysql-bootstrap/mysql:9.7      (images/mysql)
#   debian:bookworm + host GOROOT  ->  $GO_IMAGE                      (images/go)
#   $GO_IMAGE + ./Dockerfile       ->  $IMAGE                         (the project, FROM scratch)
#
# Usage: images/build.sh [TARGET ...]   (default: all)
#   debian-bookworm debian-trixie debian-sid   a Debian base (debian: bookworm)
#   mariadb-10.11 mariadb-11.8 mysql-9.7       a server image, and its Debian base
#                                              (mariadb: mariadb-10.11, mysql: mysql-9.7,
#                                              servers: all three)
#   go                                         the Go builder, and debian-bookworm
#   app                                        the project image, and go
#   all                                        all of the above
#
# Base images are rebuilt only when their inputs changed (recorded in a label) or
# FORCE=1; the project image is always rebuilt (docker's layer cache keeps that cheap).
# The project build runs with --network=none: modules are vendored on the host into
# a throwaway build context, so containers never need the Go module proxy.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO=${GO:-go}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-}
GO_IMAGE=${GO_IMAGE:-}
IMAGE=${IMAGE:-mysql-bootstrap:dev}
VERSION=${VERSION:-}
FORCE=${FORCE:-0}
BUILD_NETWORK=${BUILD_NETWORK:-host}
INPUTS_LABEL=org.mysql-bootstrap.inputs

# The server images: tag, Debian suite, build directory under images/, and the
# release series the build insists on (a suite that moves to another series fails
# the build instead of silently changing what the tests run).
declare -A SERVER_TAG=(
	[mariadb-10.11]=mysql-bootstrap/mariadb:10.11
	[mariadb-11.8]=mysql-bootstrap/mariadb:11.8
	[mysql-9.7]=mysql-bootstrap/mysql:9.7
)
declare -A SERVER_SUITE=([mariadb-10.11]=bookworm [mariadb-11.8]=trixie [mysql-9.7]=sid)
declare -A SERVER_DIR=([mariadb-10.11]=mariadb [mariadb-11.8]=mariadb [mysql-9.7]=mysql)
SERVERS=(mariadb-10.11 mariadb-11.8 mysql-9.7)
SUITES=(bookworm trixie sid)

debian_tag() { printf 'mysql-bootstrap/debian:%s' "$1"; }

die() { printf 'images/build.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '==> [%3ds] %s\n' "$SECONDS" "$*" >&2; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# up_to_date TAG HASH: the image exists and was built from the same inputs.
up_to_date() {
	[[ $FORCE == 1 ]] && return 1
	local got
	got=$(docker image inspect --format "{{index .Config.Labels \"$INPUTS_LABEL\"}}" "$1" 2>/dev/null) || return 1
	[[ $got == "$2" ]]
}

# remember_old TAG: note the image TAG points at before it is rebuilt, so that
# drop_replaced can remove it afterwards and reruns do not pile up dangling images.
REPLACED=()
remember_old() {
	local id
	id=$(docker image inspect --format '{{.Id}}' "$1" 2>/dev/null) && REPLACED+=("$id $1")
	return 0
}

# drop_replaced: remove the remembered images that no tag uses any more, newest
# first (a base goes once its children are gone); images still in use are kept.
drop_replaced() {
	local i id tag
	for ((i = ${#REPLACED[@]} - 1; i >= 0; i--)); do
		read -r id tag <<<"${REPLACED[i]}"
		[[ $id != "$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null)" ]] || continue
		docker rmi "$id" >/dev/null 2>&1 || true
	done
}

image_id() {
	docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || die "image $1 is missing; build it first (images/build.sh ${2:-all})"
}

# inputs_hash WORD... FILE...: a digest of the words and of the files' contents.
inputs_hash() {
	local arg
	for arg; do
		if [[ -f $arg ]]; then sha256sum <"$arg"; else printf '%s\n' "$arg"; fi
	done | sha256sum | cut -c1-16
}

check_docker() {
	command -v docker >/dev/null || die "docker not found in PATH"
	docker info >/dev/null 2>&1 || die "cannot talk to the docker daemon (is it running, may this user use it?)"
}

# build_debian SUITE: mysql-bootstrap/debian:SUITE, a minbase rootfs from mmdebstrap.
build_debian() {
	local suite=$1 tag
	tag=$(debian_tag "$suite")
	local args=(
		--variant=minbase
		--include=ca-certificates
		--aptopt='APT::Install-Recommends "false"'
		--aptopt='APT::Install-Suggests "false"'
		--aptopt='Acquire::Languages "none"'
		--dpkgopt='path-exclude=/usr/share/doc/*'
		--dpkgopt='path-include=/usr/share/doc/*/copyright'
		--dpkgopt='path-exclude=/usr/share/man/*'
		--dpkgopt='path-exclude=/usr/share/info/*'
		--dpkgopt='path-exclude=/usr/share/locale/*'
		--dpkgopt='path-exclude=/usr/share/lintian/*'
		# Services must not start while packages are installed in a container build.
		# (mmdebstrap's own policy-rc.d is removed at the end; this one stays).
		--skip=chroot/policy-rc.d
		--extract-hook='printf "#!/bin/sh\nexit 101\n" >"$1/usr/sbin/policy-rc.d"; chmod 0755 "$1/usr/sbin/policy-rc.d"'
		--customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/log/apt/* "$1"/var/log/dpkg.log "$1"/var/log/bootstrap.log'
	)
	# sid's Release file on a mirror can be past its Valid-Until date; the option
	# stays in the image's apt configuration, so the server build's apt-get works too.
	[[ $suite == sid ]] && args+=(--aptopt='Acquire::Check-Valid-Until "false"')
	local hash
	hash=$(inputs_hash "$suite" "$DEBIAN_MIRROR" "${args[@]}")
	if up_to_date "$tag" "$hash"; then
		say "$tag is up to date"
		return
	fi
	if ! command -v mmdebstrap >/dev/null; then
		[[ $(id -u) == 0 ]] && command -v apt-get >/dev/null ||
			die "mmdebstrap not found; install it (apt-get install -y mmdebstrap)"
		say "installing mmdebstrap"
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap; } >"$TMP/apt.log" 2>&1 ||
			{ tail -n 20 "$TMP/apt.log" >&2; die "apt-get install mmdebstrap failed"; }
	fi
	remember_old "$tag"
	say "building $tag with mmdebstrap ($suite, minbase)"
	# No mirror argument: mmdebstrap uses deb.debian.org for the suite, plus -updates
	# and -security where the suite has them. Its own tarball goes to stdout,
	# straight into docker import.
	local mirror=() id
	[[ -n $DEBIAN_MIRROR ]] && mirror=("$DEBIAN_MIRROR")
	# Imported untagged and tagged only on success: a failed mmdebstrap still hands
	# docker import a (truncated) stream.
	if ! id=$(mmdebstrap --format=tar "${args[@]}" "$suite" - "${mirror[@]}" 2>"$TMP/mmdebstrap-$suite.log" |
		docker import \
			--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'ENV LANG=C.UTF-8' \
			--change "LABEL $INPUTS_LABEL=$hash org.opencontainers.image.title=debian-$suite-minbase" \
			--change 'CMD ["/bin/bash"]' \
			--message "mmdebstrap $suite minbase" -); then
		[[ $id == sha256:* ]] && docker rmi "$id" >/dev/null 2>&1
		grep -v '^I: ' "$TMP/mmdebstrap-$suite.log" | tail -n 20 >&2
		die "mmdebstrap | docker import failed for $tag (needs root, or unprivileged user namespaces, and apt access to the Debian mirror)"
	fi
	docker tag "$id" "$tag"
}

# build_server NAME: one of SERVERS, from its Debian base and images/<dir>.
build_server() {
	local name=$1 tag=${SERVER_TAG[$1]} suite=${SERVER_SUITE[$1]} dir="$ROOT/images/${SERVER_DIR[$1]}"
	local series=${name#*-} base_tag base hash
	base_tag=$(debian_tag "$suite")
	base=$(image_id "$base_tag" "debian-$suite")
	hash=$(inputs_hash "$base" "$series" "$dir"/*)
	if up_to_date "$tag" "$hash"; then
		say "$tag is up to date"
		return
	fi
	remember_old "$tag"
	say "building $tag from $base_tag"
	# The Dockerfile installs Debian packages: the build uses $BUILD_NETWORK (host by
	# default) so it reaches the mirror whenever this machine does. The apt layer
	# comes before the image's own files, so changing those reuses it.
	docker build --network="$BUILD_NETWORK" \
		--build-arg BASE_IMAGE="$base_tag" \
		--build-arg SERIES="$series" \
		--label "$INPUTS_LABEL=$hash" \
		-t "$tag" "$dir" ||
		die "docker build of $tag failed (apt must reach the Debian mirror; see BUILD_NETWORK)"
	say "$tag: $(docker run --rm --network=none --entrypoint=sh "$tag" -c 'exec "$(command -v mariadbd || command -v mysqld)" --version')"
}

build_go() {
	local base goroot gover name hash dir="$ROOT/images/go"
	base=$(image_id "$(debian_tag bookworm)" debian-bookworm)
	goroot=$("$GO" env GOROOT) && gover=$("$GO" env GOVERSION) || die "cannot run $GO; set GO to a Go toolchain"
	[[ -x $goroot/bin/go ]] || die "GOROOT $goroot has no bin/go"
	name=$(basename "$goroot")
	hash=$(inputs_hash "$base" "$gover" "$goroot" "$dir/Dockerfile")
	if up_to_date "$GO_IMAGE" "$hash"; then
		say "$GO_IMAGE is up to date"
		return
	fi
	remember_old "$GO_IMAGE"
	say "building $GO_IMAGE from $(debian_tag bookworm) and $goroot ($gover)"
	# The context is a tar stream: the Dockerfile plus this machine's GOROOT as go/,
	# without the toolchain's own tests.
	tar -c -f - -C "$dir" Dockerfile \
		-C "$(dirname "$goroot")" --transform="s|^$name|go|" \
		--anchored --exclude="$name/test" --exclude="$name/api" --no-anchored --exclude=testdata \
		"$name" |
		docker build --network=none \
			--build-arg BASE_IMAGE="$(debian_tag bookworm)" \
			--label "$INPUTS_LABEL=$hash" \
			-t "$GO_IMAGE" - ||
		die "docker build of $GO_IMAGE failed"
}

build_app() {
	image_id "$GO_IMAGE" go >/dev/null
	[[ -d $ROOT/cmd/mysql-bootstrap ]] || die "$ROOT/cmd/mysql-bootstrap does not exist yet"
	local ctx="$TMP/context"
	mkdir -p "$ctx"
	# Copy the working tree (tracked and untracked-but-not-ignored files; .dockerignore
	# still applies when the context is sent), then vendor the modules next to it.
	if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard -- . ':!:vendor' |
			xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
			tar --null -T - -c -f -) | tar -x -f - -C "$ctx"
	else
		tar -c -f - -C "$ROOT" --exclude=.git --exclude=./vendor . | tar -x -f - -C "$ctx"
	fi
	say "vendoring modules into the build context"
	(cd "$ROOT" && GOFLAGS= GOWORK=off "$GO" mod vendor -o "$ctx/vendor") ||
		die "go mod vendor failed (is go.mod tidy, and can this machine reach the module proxy?)"
	remember_old "$IMAGE"
	say "building $IMAGE (version $VERSION) with $GO_IMAGE, no network"
	local started
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	docker build --network=none \
		--build-arg BUILDER_IMAGE="$GO_IMAGE" \
		--build-arg VERSION="$VERSION" \
		-f "$ctx/Dockerfile" -t "$IMAGE" "$ctx" ||
		die "docker build of $IMAGE failed"
	# The legacy builder leaves the build stage behind as a dangling image (~500 MB);
	# keep this build's (the cache for an unchanged rerun), drop older ones.
	docker image prune --force --filter dangling=true \
		--filter label=org.mysql-bootstrap.stage=build --filter until="$started" >/dev/null || true
}

# expand TARGET...: the build steps for the targets, each after what it is built
# from, each once, in a fixed order.
expand() {
	local t want=() s
	for t; do
		case $t in
		all) want+=(debian-bookworm "${SERVERS[@]/#/server-}" go app) ;;
		servers) want+=("${SERVERS[@]/#/server-}") ;;
		debian) want+=(debian-bookworm) ;;
		mariadb) want+=(server-mariadb-10.11) ;;
		mysql) want+=(server-mysql-9.7) ;;
		debian-bookworm | debian-trixie | debian-sid | go | app) want+=("$t") ;;
		*)
			[[ -n ${SERVER_TAG[$t]:-} ]] || die "unknown target $t (want all, servers, debian-{bookworm,trixie,sid}, ${SERVERS[*]}, mariadb, mysql, go, app)"
			want+=("server-$t")
			;;
		esac
	done
	local -A need=()
	for t in "${want[@]}"; do
		need[$t]=1
		case $t in
		server-*) need[debian-${SERVER_SUITE[${t#server-}]}]=1 ;;
		go) need[debian-bookworm]=1 ;;
		app) need[go]=1 need[debian-bookworm]=1 ;;
		esac
	done
	for t in "${SUITES[@]/#/debian-}" "${SERVERS[@]/#/server-}" go app; do
		[[ -n ${need[$t]:-} ]] && printf '%s\n' "$t"
	done
	return 0
}

main() {
	local targets=() steps=() t
	targets=("$@")
	[[ ${#targets[@]} -eq 0 ]] && targets=(all)
	local list
	list=$(expand "${targets[@]}")
	mapfile -t steps <<<"$list"
	check_docker
	# One build at a time per machine (the tags are the docker daemon's, not the
	# checkout's): a concurrent run waits, then finds the images up to date.
	if command -v flock >/dev/null; then
		exec 9>"${TMPDIR:-/tmp}/mysql-bootstrap-images.lock"
		if ! flock -n 9; then
			say "waiting for another images/build.sh to finish"
			flock -w 1800 9 || die "another images/build.sh held the lock for 30 minutes"
		fi
	fi
	if [[ -z $GO_IMAGE && " ${steps[*]} " == *" go "* ]]; then
		local v
		v=$("$GO" env GOVERSION 2>/dev/null) || die "cannot run $GO; set GO to a Go toolchain"
		v=${v#go}
		GO_IMAGE=mysql-bootstrap/go:${v%.*}
	fi
	if [[ -z $VERSION ]]; then
		VERSION=$(git -C "$ROOT" describe --tags --always --dirty 2>/dev/null) || VERSION=dev
	fi
	for t in "${steps[@]}"; do
		case $t in
		debian-*) build_debian "${t#debian-}" ;;
		server-*) build_server "${t#server-}" ;;
		*) "build_$t" ;;
		esac
	done
	drop_replaced
	say "done: ${steps[*]} (${SECONDS}s)"
}

main "$@"
