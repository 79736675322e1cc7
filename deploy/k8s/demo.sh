#!/usr/bin/env bash
# The mysql-bootstrap demo on a real Kubernetes: the local single-node cluster
# of deploy/k8s/localk8s, and the shipped kustomize overlay with the images
# built here (deploy/k8s/overlays/SERVER: only the image names differ).
#
#   demo.sh up      build missing images and the cluster (cached), start the
#                   cluster unless it runs, apply the overlay in namespace
#                   NAMESPACE, wait until the three pods are Ready, show the
#                   roles (mysql-bootstrap peers), write a row through the
#                   mysql-primary Service, read it through mysql-read, and
#                   show a write on a replica refused
#   demo.sh status  the pods and the roles again
#   demo.sh down    delete the namespace and stop the cluster (localk8s down)
#
# Needs root (the kubelet, containerd and iptables do) and Docker (to build
# the images). Variables: SERVER (mariadb-10.11, the default, mariadb-11.8 or
# mysql-9.7; FLAVOR=mysql alone means mysql-9.7), NAMESPACE (default
# mysql-bootstrap-demo), DEMO_TIMEOUT (seconds, default 600), DEMO_BUILD (0:
# do not run images/build.sh), K8S_DIR (where the cluster lives).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NS=${NAMESPACE:-mysql-bootstrap-demo}
TIMEOUT=${DEMO_TIMEOUT:-600}
export GOTOOLCHAIN=local

if [[ -t 1 ]]; then B=$'\e[1m' R=$'\e[0m'; else B='' R=''; fi
say() { printf '%s==>%s %s\n' "$B" "$R" "$*" >&2; }
die() { printf 'deploy/k8s/demo.sh: %s\n' "$*" >&2; exit 1; }

SERVER=${SERVER:-}
if [[ -z $SERVER ]]; then
	case ${FLAVOR:-} in
	mysql) SERVER=mysql-9.7 ;;
	*) SERVER=mariadb-10.11 ;;
	esac
fi
case $SERVER in
mariadb | mariadb-10.11) SERVER=mariadb-10.11 SERVER_IMAGE=mysql-bootstrap/mariadb:10.11 ;;
mariadb-11.8) SERVER_IMAGE=mysql-bootstrap/mariadb:11.8 ;;
mysql | mysql-9.7) SERVER=mysql-9.7 SERVER_IMAGE=mysql-bootstrap/mysql:9.7 ;;
*) die "SERVER=$SERVER: want mariadb-10.11 (the default), mariadb-11.8 or mysql-9.7" ;;
esac
OVERLAY=$HERE/overlays/$SERVER

localk8s() { (cd "$ROOT" && go run ./deploy/k8s/cmd/localk8s "$@"); }
k() { localk8s kubectl -n "$NS" "$@"; }
# bounded SECONDS CMD...: CMD, killed after SECONDS.
bounded() { local s=$1; shift; timeout --kill-after=10 "$s" "$@"; }

# sql POD HOST USER [client options]: the server image's client in POD's
# server container, connecting to HOST as USER, SQL on stdin. The root
# password is read inside the pod from the mounted Secret; the app password
# comes on stdin's first line: never a process argument.
sql() {
	local pod=$1 host=$2 user=$3
	shift 3
	local pw=''
	[[ $user == app ]] && pw=$APP_PASSWORD
	{ printf '%s\n' "$pw"; cat; } | bounded 60 "$ROOT/bin/.localk8s-kubectl" -n "$NS" exec -i "$pod" -c server -- bash -c '
		IFS= read -r MYSQL_PWD
		[[ $1 == root ]] && MYSQL_PWD=$(cat /etc/mysql-credentials/root-password)
		export MYSQL_PWD
		client=$(command -v mariadb || command -v mysql) || { echo "no mariadb or mysql client in this image" >&2; exit 1; }
		user=$1 host=$2
		shift 2
		exec "$client" --connect-timeout=5 --host="$host" --user="$user" "$@"' sh "$user" "$host" "$@"
}

kubectl_wrapper() {
	# A kubectl that needs no `go run` per call: the cluster's own binary
	# and administrator kubeconfig.
	local dir=${K8S_DIR:-/var/lib/mysql-bootstrap-k8s}
	mkdir -p "$ROOT/bin"
	cat >"$ROOT/bin/.localk8s-kubectl" <<-EOF
		#!/bin/sh
		exec "$dir/bin/kubectl" --kubeconfig "$dir/admin.kubeconfig" "\$@"
	EOF
	chmod +x "$ROOT/bin/.localk8s-kubectl"
}

cmd_up() {
	[[ $(id -u) == 0 ]] || die "needs root: the kubelet, containerd and iptables of the local cluster do"
	local start=$SECONDS
	if [[ ${DEMO_BUILD:-1} != 0 ]]; then
		say "images: the project image and $SERVER_IMAGE (images/build.sh app $SERVER)"
		"$ROOT/images/build.sh" app "$SERVER"
	fi
	say "the local Kubernetes $(grep -o 'v1\.[0-9]*\.[0-9]*' "$ROOT/deploy/k8s/localk8s/cluster.go" | head -1) (localk8s build: the first time about 10 minutes on 2 cores, then cached)"
	localk8s build
	if localk8s status >/dev/null 2>&1; then
		say "the local cluster runs already: using it"
	else
		say "starting the local cluster (localk8s up)"
		localk8s up
	fi
	kubectl_wrapper
	local K=$ROOT/bin/.localk8s-kubectl
	say "copying the images into the cluster's containerd (localk8s load)"
	localk8s load mysql-bootstrap:dev "$SERVER_IMAGE"
	"$K" get namespace "$NS" >/dev/null 2>&1 || "$K" create namespace "$NS" >/dev/null
	if [[ -n $("$K" -n "$NS" get statefulset mysql -o name 2>/dev/null) ]]; then
		local img
		img=$("$K" -n "$NS" get statefulset mysql -o jsonpath='{.spec.template.spec.containers[?(@.name=="server")].image}')
		[[ $img == "$SERVER_IMAGE" ]] || die "namespace $NS runs $img; run '$0 down' (make demo-k8s-down) before starting $SERVER_IMAGE"
	fi
	say "kubectl apply -k ${OVERLAY#"$ROOT"/} -n $NS"
	local applied=$SECONDS
	"$K" -n "$NS" apply -k "$OVERLAY"
	say "waiting until mysql-0, mysql-1 and mysql-2 are Ready (at most ${TIMEOUT}s)"
	local n ready
	while :; do
		ready=0
		for n in 0 1 2; do
			[[ $("$K" -n "$NS" get pod "mysql-$n" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]] && ready=$((ready + 1))
		done
		((ready == 3)) && break
		if ((SECONDS - applied >= TIMEOUT)); then
			"$K" -n "$NS" get pods -o wide >&2
			for n in 0 1 2; do "$K" -n "$NS" logs "mysql-$n" -c sidecar --tail=5 >&2 || true; done
			die "the pods were not all Ready within ${TIMEOUT}s (see above)"
		fi
		sleep 1
	done
	say "all three pods Ready $((SECONDS - applied))s after kubectl apply"
	"$K" -n "$NS" get pods -o wide
	say "roles and replication (kubectl exec mysql-1 -c sidecar -- /mysql-bootstrap peers)"
	bounded 60 "$K" -n "$NS" exec mysql-1 -c sidecar -- /mysql-bootstrap peers
	APP_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	# A new pod's first connection through a Service can time out while
	# the cluster's network policy controller has not yet programmed the
	# new pods' addresses (seen once right after Ready): wait for one
	# answer, at most 60 tries of 5 s.
	local try
	for try in $(seq 1 60); do
		sql mysql-1 mysql-primary root <<<'SELECT 1' >/dev/null 2>&1 && break
		((try < 60)) || die "mysql-primary did not answer from mysql-1 within 60 tries"
		sleep 1
	done
	say "through the mysql-primary Service (as root): database demo, table demo.greetings, user app"
	sql mysql-1 mysql-primary root <<-EOF
		CREATE DATABASE IF NOT EXISTS demo;
		CREATE TABLE IF NOT EXISTS demo.greetings (
		  id INT AUTO_INCREMENT PRIMARY KEY,
		  message VARCHAR(200) NOT NULL,
		  written_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
		);
		DROP USER IF EXISTS 'app'@'%';
		CREATE USER 'app'@'%' IDENTIFIED BY '$APP_PASSWORD';
		GRANT SELECT, INSERT, UPDATE, DELETE ON demo.* TO 'app'@'%';
	EOF
	local msg="hello from deploy/k8s/demo.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ) #$RANDOM"
	say "through mysql-primary (as app): INSERT INTO demo.greetings (message) VALUES ('$msg')"
	sql mysql-1 mysql-primary app --table demo <<<"INSERT INTO greetings (message) VALUES ('$msg'); SELECT id, message, @@hostname AS written_on FROM greetings WHERE message = '$msg';"
	say "through mysql-read (as app), three times: every ready pod serves reads"
	local out i s0=$SECONDS
	for i in 1 2 3; do
		while :; do
			out=$(sql mysql-2 mysql-read app --table demo <<<"SELECT id, message, @@hostname AS read_on FROM greetings WHERE message = '$msg';" 2>&1) || true
			[[ $out == *"$msg"* ]] && break
			((SECONDS - s0 < 60)) || { printf '%s\n' "$out" >&2; die "mysql-read did not return the row within 60s"; }
			sleep 0.2
		done
		printf '%s\n' "$out"
	done
	say "on replica mysql-2 itself (as app): the same INSERT is refused"
	if out=$(sql mysql-2 127.0.0.1 app demo <<<"INSERT INTO greetings (message) VALUES ('written on a replica');" 2>&1); then
		die "mysql-2 accepted a write from app: the replica is not read-only"
	fi
	printf '%s\n' "$out"
	[[ $out == *1290* ]] || die "mysql-2 refused the write, but not with ERROR 1290 (read-only)"
	say "demo up in $((SECONDS - start))s ($((SECONDS - applied))s since kubectl apply)"
	say "try it"
	printf '  export KUBECONFIG=%s\n' "${K8S_DIR:-/var/lib/mysql-bootstrap-k8s}/admin.kubeconfig"
	printf '  %s -n %s get pods,svc,pvc   (kubectl: %s)\n' kubectl "$NS" "${K8S_DIR:-/var/lib/mysql-bootstrap-k8s}/bin/kubectl"
	printf '  kubectl -n %s exec mysql-0 -c sidecar -- /mysql-bootstrap peers\n' "$NS"
	printf '  kubectl -n %s delete pod mysql-0    # the primary comes back; writes wait for it\n' "$NS"
	printf '  remove everything: make demo-k8s-down\n'
}

cmd_status() {
	kubectl_wrapper
	local K=$ROOT/bin/.localk8s-kubectl
	"$K" -n "$NS" get pods,svc -o wide
	bounded 60 "$K" -n "$NS" exec mysql-1 -c sidecar -- /mysql-bootstrap peers
}

cmd_down() {
	[[ $(id -u) == 0 ]] || die "needs root"
	if localk8s status >/dev/null 2>&1; then
		kubectl_wrapper
		say "deleting namespace $NS"
		bounded 180 "$ROOT/bin/.localk8s-kubectl" delete namespace "$NS" --ignore-not-found --wait=true --timeout=150s || true
	fi
	say "stopping the local cluster (localk8s down)"
	localk8s down
	rm -f "$ROOT/bin/.localk8s-kubectl"
}

case ${1:-} in
up) cmd_up ;;
status) cmd_status ;;
down) cmd_down ;;
*)
	printf 'usage: %s up|status|down\n' "$0" >&2
	exit 2
	;;
esac
