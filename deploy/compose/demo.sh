#!/usr/bin/env bash
# The mysql-bootstrap demo: a 3-pod StatefulSet (one primary, two replicas) in
# Docker Compose, as described in deploy/compose/README.md.
#
#   demo.sh up      build missing images, write secrets, start the pods, wait
#                   until all are ready, show roles, replication and read-only
#   demo.sh status  the role/replication table again
#   demo.sh restart N   restart pod mysql-N as Kubernetes would (all its containers)
#   demo.sh down    remove the containers, volumes and secrets
#
# Both up and down are idempotent; every wait is bounded by DEMO_TIMEOUT.
# Variables: SERVER (the server: mariadb-10.11, the default, mariadb-11.8 or
# mysql-9.7; FLAVOR=mysql alone means mysql-9.7), DEMO_TIMEOUT (seconds,
# default 300), DEMO_BUILD (0: do not run images/build.sh), COMPOSE (the
# compose command, default: `docker compose` if installed, else
# docker-compose), COMPOSE_PROJECT_NAME (default mysql-bootstrap-demo), and
# those of docker-compose.yml: SERVER_IMAGE (another server image instead of
# SERVER's), BOOTSTRAP_IMAGE, POD_IMAGE, FLAVOR, HTTP_PORT_N, MYSQL_PORT_N.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECRETS=$HERE/.secrets
PROJECT=${COMPOSE_PROJECT_NAME:-mysql-bootstrap-demo}
TIMEOUT=${DEMO_TIMEOUT:-300}
PODS=(0 1 2)

# Compose reads deploy/compose/.env too (the environment wins): take the image
# names from it so that the right images are built and checked.
if [[ -f $HERE/.env ]]; then
	while IFS='=' read -r key value; do
		case $key in
		POD_IMAGE | SERVER_IMAGE | BOOTSTRAP_IMAGE | SERVER | FLAVOR)
			value=${value%\"} value=${value#\"} value=${value%\'} value=${value#\'}
			[[ -n ${!key:-} ]] || printf -v "$key" '%s' "$value"
			;;
		esac
	done <"$HERE/.env"
fi

if [[ -t 1 ]]; then B=$'\e[1m' R=$'\e[0m'; else B='' R=''; fi
say() { printf '%s==>%s %s\n' "$B" "$R" "$*" >&2; }
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 1; }

# The server: SERVER names one of the images images/build.sh makes (its build
# target), and sets the FLAVOR mysql-bootstrap is given; SERVER_IMAGE runs any
# other image with the official entrypoint contract (FLAVOR then defaults to auto).
SERVER=${SERVER:-}
if [[ -z $SERVER && -z ${SERVER_IMAGE:-} ]]; then
	case ${FLAVOR:-} in
	mysql) SERVER=mysql-9.7 ;;
	*) SERVER=mariadb-10.11 ;;
	esac
fi
LOCAL_SERVER_TARGET=''
case $SERVER in
mariadb-10.11 | mariadb) LOCAL_SERVER_TARGET=mariadb-10.11 LOCAL_SERVER_IMAGE=mysql-bootstrap/mariadb:10.11 ;;
mariadb-11.8) LOCAL_SERVER_TARGET=mariadb-11.8 LOCAL_SERVER_IMAGE=mysql-bootstrap/mariadb:11.8 ;;
mysql-9.7 | mysql) LOCAL_SERVER_TARGET=mysql-9.7 LOCAL_SERVER_IMAGE=mysql-bootstrap/mysql:9.7 ;;
'') ;;
*) die "SERVER=$SERVER: want mariadb-10.11 (the default), mariadb-11.8 or mysql-9.7, or set SERVER_IMAGE to another image" ;;
esac
if [[ -n $LOCAL_SERVER_TARGET ]]; then
	[[ -z ${SERVER_IMAGE:-} || $SERVER_IMAGE == "$LOCAL_SERVER_IMAGE" ]] ||
		die "SERVER=$SERVER and SERVER_IMAGE=$SERVER_IMAGE: set one of them"
	SERVER_IMAGE=$LOCAL_SERVER_IMAGE
	case ${FLAVOR:-} in
	'' | auto | "${LOCAL_SERVER_TARGET%%-*}") ;;
	*) die "FLAVOR=$FLAVOR does not fit SERVER=$SERVER" ;;
	esac
	: "${FLAVOR:=${LOCAL_SERVER_TARGET%%-*}}"
fi
export SERVER_IMAGE FLAVOR=${FLAVOR:-auto}

# The server container's command, as the overlays set it: on MariaDB it starts
# through seed-exec and each pod gets a backup container (compose profile
# seeding); MySQL seeds with its clone plugin and needs neither.
server_kind=$FLAVOR
if [[ $server_kind == auto ]]; then
	case ${SERVER_IMAGE##*/} in
	mysql* | percona*) server_kind=mysql ;;
	*) server_kind=mariadb ;;
	esac
fi
case $server_kind in
mysql) export SERVER_ENTRYPOINT=docker-entrypoint.sh SERVER_COMMAND=mysqld COMPOSE_PROFILES= ;;
*) export SERVER_ENTRYPOINT="/tools/mysql-bootstrap seed-exec -- docker-entrypoint.sh" SERVER_COMMAND=mariadbd COMPOSE_PROFILES=seeding ;;
esac

# The local images images/build.sh makes, and the compose file's defaults. A
# BOOTSTRAP_IMAGE tagged mysql-bootstrap:* is built from this tree too.
LOCAL_POD_IMAGE=mysql-bootstrap/debian:bookworm
export POD_IMAGE=${POD_IMAGE:-$LOCAL_POD_IMAGE}
export BOOTSTRAP_IMAGE=${BOOTSTRAP_IMAGE:-mysql-bootstrap:dev}

# --- compose ----------------------------------------------------------------

COMPOSE_CMD=()
find_compose() {
	command -v docker >/dev/null || die "docker not found in PATH"
	docker info >/dev/null 2>&1 || die "cannot talk to the docker daemon (is it running, may this user use it?)"
	if [[ -n ${COMPOSE:-} ]]; then
		read -r -a COMPOSE_CMD <<<"$COMPOSE"
	elif docker compose version >/dev/null 2>&1; then
		COMPOSE_CMD=(docker compose)
	elif command -v docker-compose >/dev/null; then
		COMPOSE_CMD=(docker-compose)
	else
		die "neither 'docker compose' (v2) nor 'docker-compose' (v1) is installed"
	fi
	local v
	v=$("${COMPOSE_CMD[@]}" version --short 2>/dev/null) || die "'${COMPOSE_CMD[*]} version' failed"
	v=${v#v}
	# depends_on: condition: service_completed_successfully came with 1.29.
	if [[ $v == 1.* ]] && (( $(cut -d. -f2 <<<"$v") < 29 )); then
		die "${COMPOSE_CMD[*]} $v is too old: the init containers need docker-compose 1.29 or Compose v2"
	fi
}

compose() { "${COMPOSE_CMD[@]}" --project-name "$PROJECT" --file "$HERE/docker-compose.yml" "$@"; }

# bounded CMD...: the command CMD, killed after TIMEOUT seconds.
bounded() {
	if command -v timeout >/dev/null; then timeout "$TIMEOUT" "$@"; else "$@"; fi
}
bounded_compose() { bounded "${COMPOSE_CMD[@]}" --project-name "$PROJECT" --file "$HERE/docker-compose.yml" "$@"; }

show_logs() {
	say "last lines of the logs (${COMPOSE_CMD[*]} logs):"
	compose ps >&2 || true
	compose logs --no-color --tail=25 >&2 || true
}

# --- images -----------------------------------------------------------------

ensure_images() {
	local targets=() img
	[[ $POD_IMAGE == "$LOCAL_POD_IMAGE" ]] && targets+=(debian-bookworm)
	# A server image is built (with its Debian base) only when missing or stale.
	[[ -n $LOCAL_SERVER_TARGET ]] && targets+=("$LOCAL_SERVER_TARGET")
	# app is always rebuilt (cheap with the layer cache), so the demo runs the code in the tree.
	[[ $BOOTSTRAP_IMAGE == mysql-bootstrap:* ]] && targets+=(app)
	if ((${#targets[@]})) && [[ ${DEMO_BUILD:-1} != 0 ]]; then
		[[ -x $ROOT/images/build.sh ]] || die "$ROOT/images/build.sh is missing: it builds the images the demo runs"
		say "building images (images/build.sh ${targets[*]})"
		(cd "$ROOT" && IMAGE=$BOOTSTRAP_IMAGE images/build.sh "${targets[@]}") ||
			die "images/build.sh ${targets[*]} failed (see above)"
	fi
	for img in "$POD_IMAGE" "$SERVER_IMAGE" "$BOOTSTRAP_IMAGE"; do
		docker image inspect "$img" >/dev/null 2>&1 || say "image $img is not here: compose will try to pull it"
	done
}

# --- secrets ----------------------------------------------------------------

project_volumes() { docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT"; }

# random_password: 24 characters of [A-Za-z0-9], safe in SQL literals unquoted.
random_password() {
	local p=''
	while ((${#p} < 24)); do p+=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+='); done
	printf '%s' "${p:0:24}"
}

write_secrets() {
	local f missing=()
	for f in root-password replication-password app-password; do
		[[ -s $SECRETS/$f ]] || missing+=("$f")
	done
	((${#missing[@]})) || return 0
	if [[ -n $(project_volumes) ]]; then
		die "$SECRETS lacks ${missing[*]} but the volumes of an earlier run (which hold the old passwords) exist; run '$0 down' first"
	fi
	say "writing random passwords to ${SECRETS#"$ROOT"/}/ (mode 0600)"
	(
		umask 077
		mkdir -p "$SECRETS"
		chmod 0700 "$SECRETS"
		for f in root-password replication-password app-password; do
			random_password >"$SECRETS/$f.tmp"
			mv "$SECRETS/$f.tmp" "$SECRETS/$f"
		done
	)
}

# --- HTTP and JSON ------------------------------------------------------------

# host_port N CONTAINER_PORT: the 127.0.0.1 port the pod N publishes.
host_port() {
	local p
	p=$(docker port "pod-$1" "$2/tcp" 2>/dev/null | head -n 1) || true
	[[ -n $p ]] || return 1
	printf '%s' "${p##*:}"
}

# http_get PORT PATH: prints the status code (000: no answer) on the first
# line and the body after it. curl if installed, else bash's /dev/tcp.
http_get() {
	local port=$1 path=$2 out
	if command -v curl >/dev/null; then
		out=$(curl -s --max-time 3 -w '\n%{http_code}' "http://127.0.0.1:$port$path" 2>/dev/null) || true
		[[ -n $out ]] || out=$'\n000'
		printf '%s\n%s\n' "${out##*$'\n'}" "${out%$'\n'*}"
		return
	fi
	out=$(
		exec 2>/dev/null
		exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 0
		printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
		if command -v timeout >/dev/null; then timeout 3 cat <&3; else cat <&3; fi
	) || true
	local code body
	code=$(head -n 1 <<<"$out" | cut -d' ' -f2)
	body=$(sed '1,/^\r\{0,1\}$/d' <<<"$out")
	printf '%s\n%s\n' "${code:-000}" "$body"
}

# json_get JSON PATH: a scalar of the sidecar's /status (PATH: key or
# replication.key) as text; null as "null". jq if installed, else a match on
# the key, which is unique in /status.
json_get() {
	if command -v jq >/dev/null; then
		jq -r ".$2 | if . == null then \"null\" else tostring end" <<<"$1" 2>/dev/null || printf '?'
		return
	fi
	local key=${2##*.} m
	m=$(grep -oE "\"$key\"[[:space:]]*:[[:space:]]*(\"([^\"\\\\]|\\\\.)*\"|[^,}[:space:]]+)" <<<"$1" | head -n 1) || true
	[[ -n $m ]] || { printf 'null'; return; }
	m=$(sed -E 's/^"[^"]*"[[:space:]]*:[[:space:]]*//' <<<"$m")
	if [[ $m == \"*\" ]]; then m=${m:1:${#m}-2} m=${m//\\\"/\"}; fi
	printf '%s' "$m"
}

# --- steps ------------------------------------------------------------------

wait_ready() {
	local start=$SECONDS next=$((SECONDS + 5)) n port res code line all
	declare -A state
	say "waiting (at most ${TIMEOUT}s) until every pod's sidecar answers 200 on /readyz"
	while :; do
		all=1 line=''
		for n in "${PODS[@]}"; do
			if port=$(host_port "$n" 8080); then
				res=$(http_get "$port" /readyz)
				code=$(head -n 1 <<<"$res")
				case $code in
				200) state[$n]=ready ;;
				000) state[$n]='no answer yet' all=0 ;;
				*) state[$n]="$code $(sed -n 2p <<<"$res")" all=0 ;;
				esac
			else
				state[$n]='pod not running' all=0
			fi
			line+="  mysql-$n: ${state[$n]};"
		done
		if ((all)); then
			say "all pods ready after $((SECONDS - start))s"
			return 0
		fi
		if ((SECONDS - start >= TIMEOUT)); then
			show_logs
			die "timed out after ${TIMEOUT}s waiting for /readyz:${line%;}"
		fi
		if ((SECONDS >= next)); then
			printf '  %3ds%s\n' "$((SECONDS - start))" "${line%;}" >&2
			next=$((SECONDS + 5))
		fi
		sleep 1
	done
}

onoff() { case $1 in true) echo ON ;; false) echo OFF ;; *) echo "$1" ;; esac; }
yesno() { case $1 in true) echo Yes ;; false) echo No ;; *) echo "$1" ;; esac; }

status_table() {
	local n port res code json role io sql lag src
	printf '%-8s %-8s %-9s %-9s %-6s %-10s %-4s %-7s %s\n' POD ROLE SERVER_ID READ_ONLY READY IO SQL LAG SOURCE
	for n in "${PODS[@]}"; do
		if ! port=$(host_port "$n" 8080); then
			printf '%-8s (pod not running)\n' "mysql-$n"
			continue
		fi
		res=$(http_get "$port" /status)
		code=$(head -n 1 <<<"$res")
		json=$(sed 1d <<<"$res")
		if [[ $code != 200 ]]; then
			printf '%-8s (/status answered %s)\n' "mysql-$n" "$code"
			continue
		fi
		role=$(json_get "$json" role)
		io=- sql=- lag=- src=-
		if [[ $(json_get "$json" replication.configured) != null ]]; then
			io=$(json_get "$json" replication.ioState)
			sql=$(json_get "$json" replication.sqlRunning)
			sql=$(yesno "$sql")
			lag=$(json_get "$json" replication.lagSeconds)
			[[ $lag == null ]] && lag=unknown || lag=${lag}s
			src=$(json_get "$json" replication.sourceHost):$(json_get "$json" replication.sourcePort)
		fi
		printf '%-8s %-8s %-9s %-9s %-6s %-10s %-4s %-7s %s\n' "mysql-$n" "$role" \
			"$(json_get "$json" serverId)" "$(onoff "$(json_get "$json" readOnly)")" \
			"$(yesno "$(json_get "$json" ready)")" "${io:--}" "$sql" "$lag" "$src"
		local err
		err=$(json_get "$json" replication.lastError)
		[[ $err == null || -z $err ]] || printf '         replication error: %s\n' "$err"
		err=$(json_get "$json" reason)
		[[ $(json_get "$json" ready) == true || -z $err ]] || printf '         not ready: %s\n' "$err"
	done
}

# sql CONTAINER USER [client options...]: the server image's client inside
# CONTAINER, as USER, with SQL on stdin. The password (.secrets/root-password
# for root, .secrets/app-password for app) goes on the first line of stdin
# into MYSQL_PWD: never into a process argument.
sql() {
	local c=$1 user=$2 pwfile
	shift 2
	case $user in root) pwfile=$SECRETS/root-password ;; *) pwfile=$SECRETS/$user-password ;; esac
	{ cat "$pwfile"; printf '\n'; cat; } | docker exec -i "$c" bash -c '
		IFS= read -r MYSQL_PWD; export MYSQL_PWD
		client=$(command -v mariadb || command -v mysql) || { echo "no mariadb or mysql client in this image" >&2; exit 1; }
		exec "$client" --connect-timeout=5 --user="$0" "$@"' "$user" "$@"
}

demo_data() {
	local out
	say "on the primary (mysql-0, as root): database demo, table demo.greetings, user app"
	# CREATE USER with the password comes through stdin, like every statement here.
	sql mysql-0 root <<-EOF
		CREATE DATABASE IF NOT EXISTS demo;
		CREATE TABLE IF NOT EXISTS demo.greetings (
		  id INT AUTO_INCREMENT PRIMARY KEY,
		  message VARCHAR(200) NOT NULL,
		  written_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
		);
		CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY '$(cat "$SECRETS/app-password")';
		GRANT SELECT, INSERT, UPDATE, DELETE ON demo.* TO 'app'@'%';
	EOF
	write_and_read
	say "on replica mysql-1 (as app): the same INSERT is refused"
	if out=$(sql mysql-1 app --protocol=tcp --host=127.0.0.1 demo \
		<<<"INSERT INTO greetings (message) VALUES ('written on a replica');" 2>&1); then
		die "mysql-1 accepted a write from app: the replica is not read-only"
	fi
	printf '%s\n' "$out"
	[[ $out == *1290* ]] || die "mysql-1 refused the write, but not with ERROR 1290 (read-only)"
}

# write_and_read: a row written on the primary as app, read back on each replica.
write_and_read() {
	local msg
	msg="hello from demo.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ) #$RANDOM"
	say "on the primary (mysql-0, as app): INSERT INTO demo.greetings (message) VALUES ('$msg')"
	sql mysql-0 app --protocol=tcp --host=127.0.0.1 --table demo \
		<<<"INSERT INTO greetings (message) VALUES ('$msg'); SELECT id, message, written_at, @@hostname AS read_on FROM greetings WHERE message = '$msg';"

	local n start out
	for n in "${PODS[@]:1}"; do
		say "on replica mysql-$n (as app): waiting for the row (at most ${TIMEOUT}s)"
		start=$SECONDS
		while :; do
			out=$(sql "mysql-$n" app --protocol=tcp --host=127.0.0.1 --table demo \
				<<<"SELECT id, message, written_at, @@hostname AS read_on FROM greetings WHERE message = '$msg';" 2>&1) || true
			[[ $out == *"$msg"* ]] && break
			if ((SECONDS - start >= TIMEOUT)); then
				printf '%s\n' "$out" >&2
				status_table >&2
				die "mysql-$n did not receive the row within ${TIMEOUT}s"
			fi
			sleep 0.2
		done
		printf '%s\n' "$out"
	done
}

epilogue() {
	local n hp mp
	say "try it"
	for n in "${PODS[@]}"; do
		hp=$(host_port "$n" 8080) || hp='?'
		mp=$(host_port "$n" 3306) || mp='?'
		printf '  mysql-%s  http://127.0.0.1:%s/status (/readyz /healthz /metrics)   mysql -h127.0.0.1 -P%s -uapp -p demo\n' "$n" "$hp" "$mp"
	done
	local client
	client=$(docker exec mysql-0 sh -c 'command -v mariadb || command -v mysql' 2>/dev/null) || client=mysql
	printf '  app password: %s   root: docker exec -it mysql-0 %s -uroot -p\n' "${SECRETS#"$ROOT"/}/app-password" "${client##*/}"
	printf '  logs: %s --project-name %s --file %s logs -f sidecar-1\n' "${COMPOSE_CMD[*]}" "$PROJECT" "${HERE#"$ROOT"/}/docker-compose.yml"
	printf '  remove everything: %s down\n' "${0#"$ROOT"/}"
}

# same_server: the volumes of an earlier `up` hold a datadir of the server
# recorded in .secrets/server-image; another server must not start on it.
same_server() {
	local was
	[[ -n $(project_volumes) ]] || return 0
	was=$(cat "$SECRETS/server-image" 2>/dev/null) || return 0
	[[ $was == "$SERVER_IMAGE" ]] ||
		die "the demo's volumes hold a $was datadir; run '$0 down' (make demo-down) before starting $SERVER_IMAGE"
}

cmd_up() {
	find_compose
	same_server
	ensure_images
	write_secrets
	printf '%s\n' "$SERVER_IMAGE" >"$SECRETS/server-image"
	say "starting 3 pods of $SERVER_IMAGE, FLAVOR=$FLAVOR (${COMPOSE_CMD[*]} --project-name $PROJECT up -d)"
	local start=$SECONDS
	bounded_compose up -d || { show_logs; die "compose up failed or took more than ${TIMEOUT}s (see above)"; }
	wait_ready
	say "roles and replication (GET /status of each sidecar)"
	status_table
	say "the cluster as any pod sees it (docker exec sidecar-1 /mysql-bootstrap peers)"
	bounded docker exec sidecar-1 /mysql-bootstrap peers || die "mysql-bootstrap peers failed in sidecar-1 (see above)"
	demo_data
	say "demo up in $((SECONDS - start))s"
	epilogue
}

# Docker has no pods: a container joined to pod-N's network namespace keeps
# the old, unplugged one when pod-N restarts. So restart a pod the way the
# kubelet does: stop its containers, recreate the namespace, run init again,
# start the server and the sidecar.
cmd_restart() {
	local n=${1:-} out
	[[ $n =~ ^[0-2]$ ]] || die "usage: $0 restart 0|1|2"
	find_compose
	docker container inspect "pod-$n" >/dev/null 2>&1 || die "pod-$n does not exist; run '$0 up' first"
	say "restarting pod mysql-$n: stop sidecar-$n and mysql-$n, restart pod-$n, run init-$n, start mysql-$n and sidecar-$n"
	local start=$SECONDS
	local backup=()
	docker container inspect "backup-$n" >/dev/null 2>&1 && backup=("backup-$n")
	bounded docker stop --time 60 "sidecar-$n" "${backup[@]}" "mysql-$n" >/dev/null
	bounded docker restart "pod-$n" >/dev/null
	if ! out=$(bounded docker start --attach "init-$n" 2>&1); then
		printf '%s\n' "$out" >&2
		die "init-$n failed (see its log above)"
	fi
	docker start "mysql-$n" "${backup[@]}" "sidecar-$n" >/dev/null
	wait_ready
	say "pod mysql-$n restarted, all pods ready after $((SECONDS - start))s"
	status_table
	write_and_read
}

cmd_status() {
	find_compose
	compose ps
	status_table
}

cmd_down() {
	find_compose
	say "removing containers, network and volumes (${COMPOSE_CMD[*]} --project-name $PROJECT down -v)"
	# compose reads the whole file, secrets included, even to remove things.
	local placeholder=0 f
	if [[ ! -d $SECRETS ]]; then
		placeholder=1
		mkdir -p "$SECRETS"
		for f in root-password replication-password; do : >"$SECRETS/$f"; done
	fi
	# Every profile: the backup containers too, whichever server ran.
	COMPOSE_PROFILES=seeding bounded_compose down -v --remove-orphans || die "compose down failed (see above)"
	rm -rf "$SECRETS"
	((placeholder)) || say "removed ${SECRETS#"$ROOT"/}/"
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
restart) cmd_restart "${2:-}" ;;
*)
	printf 'usage: %s up|status|restart N|down\n' "$0" >&2
	exit 2
	;;
esac
