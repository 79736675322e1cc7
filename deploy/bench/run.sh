#!/usr/bin/env bash
# make bench: the figures DESIGN.md's "Targets" promise, measured on real
# containers (see the package comment in main_test.go).
#
#   deploy/bench/run.sh
#
# Builds what images are missing (images/build.sh; the mysql-bootstrap image
# is always rebuilt, from cache when the sources did not change), prints the
# machine, runs the Go benchmarks of deploy/bench with -benchtime=Nx (N
# samples, medians reported), and prints a summary table. Raw output goes
# to .bench/<time>/ (.bench/latest links to the last run).
#
# BENCH_SERVER picks the server: mariadb-10.11 (default), mariadb-11.8 or
# mysql-9.7 (make bench BENCH_SERVER=mysql-9.7), or another image.
#
# Samples per figure: COLD (cold-start rounds, default 5), NEWIP (restarts of
# the primary with the sidecar, 5), BASELINE (restarts with MySQL's default
# retry settings, about a minute each, 3), IDLE (30 s idle windows, 10: the
# sidecar's memory is read from the second half, once it has levelled off),
# SEED (seeds of a new replica, each beside a raw copy of the donor's data
# directory, 3), K8S (rounds on the local Kubernetes of deploy/k8s: apply ->
# Ready and a deleted primary pod -> writes, 3; needs root, skipped
# otherwise). BENCH_SEED_MIB sets how much data is seeded (default 1024).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export TESTCONTAINERS_RYUK_DISABLED=true
GO=${GO:-go}
COLD=${COLD:-5} NEWIP=${NEWIP:-5} BASELINE=${BASELINE:-3} IDLE=${IDLE:-10} SEED=${SEED:-3} K8S=${K8S:-3}

START=$SECONDS
OUT=.bench/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
ln -sfn "$(basename "$OUT")" .bench/latest
export BENCH_SUMMARY=$ROOT/$OUT/summary.tsv BENCH_RUNIDS=$ROOT/$OUT/runids
: >"$BENCH_SUMMARY"
: >"$BENCH_RUNIDS"
RAW=$OUT/raw.txt

say() { printf '==> [%3ds] %s\n' "$((SECONDS - START))" "$*" >&2; }

# Remove whatever an interrupted benchmark left behind: only the objects of
# the run ids this script's benchmarks recorded.
cleanup() {
	local id
	[[ -s $BENCH_RUNIDS ]] || return 0
	command -v docker >/dev/null || return 0
	while read -r id; do
		[[ -n $id ]] || continue
		local f="label=org.mysql-bootstrap.e2e=$id"
		docker ps -aq --filter "$f" | xargs -r docker rm -f >/dev/null 2>&1 || true
		docker network ls -q --filter "$f" | xargs -r docker network rm >/dev/null 2>&1 || true
		docker volume ls -q --filter "$f" | xargs -r docker volume rm -f >/dev/null 2>&1 || true
	done <"$BENCH_RUNIDS"
}
trap cleanup EXIT

docker_ok=0
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	docker_ok=1
	targets=(debian-bookworm app)
	case ${BENCH_SERVER:=mariadb-10.11} in
	mariadb-10.11 | mariadb-11.8 | mysql-9.7) targets+=("$BENCH_SERVER") ;;
	mariadb) targets+=(mariadb-10.11) ;;
	mysql) targets+=(mysql-9.7) ;;
	esac
	export BENCH_SERVER
	say "images/build.sh ${targets[*]} (log: $OUT/images.log)"
	if ! images/build.sh "${targets[@]}" >"$OUT/images.log" 2>&1; then
		tail -20 "$OUT/images.log" >&2
		echo "bench: images/build.sh failed" >&2
		exit 1
	fi
else
	say "no Docker engine: only the binary size is measured, the rest is skipped"
fi

machine() {
	local cpu mem docker_v
	cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
	docker_v=$( ((docker_ok)) && docker version --format '{{.Server.Version}}' 2>/dev/null || echo unavailable)
	printf 'machine: %s cores, %s, %s RAM, kernel %s, docker %s, %s, %s; server %s\n' \
		"$(nproc)" "$cpu" "$mem" "$(uname -r)" "$docker_v" "$($GO env GOVERSION)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${BENCH_SERVER:-mariadb-10.11}"
}
MACHINE=$(machine)
echo "$MACHINE" | tee "$OUT/machine.txt"
if ((docker_ok)); then
	others=$(docker ps -q | wc -l)
	if ((others > 0)); then
		echo "warning: $others container(s) not started by this run are running; they share the cores with the benchmarks" | tee -a "$OUT/machine.txt"
	fi
fi

# bench NAME BENCHTIME TIMEOUT: one go test run, appended to the raw output.
bench() {
	say "$1 (-benchtime=$2)"
	if ! $GO test -run '^$' -bench "$1" -benchtime "$2" -timeout "$3" -count 1 -v ./deploy/bench 2>&1 | tee -a "$RAW" | grep -E '^(Benchmark|--- |FAIL|ok|panic|# server|\s+\S+_test\.go:[0-9]+: (restart|round|WARNING))'; then
		echo "bench: $1 failed (see $RAW)" >&2
		exit 1
	fi
}

bench '^BenchmarkBinarySize$' 1x 5m
bench '^BenchmarkColdStart$' "${COLD}x" 20m
bench '^BenchmarkSidecarIdle$' "${IDLE}x" "$((IDLE / 2 + 6))m"
bench '^BenchmarkPrimaryNewIP$/^sidecar$' "${NEWIP}x" 10m
bench '^BenchmarkPrimaryNewIP$/^mysql_defaults$' "${BASELINE}x" 20m
bench '^BenchmarkSeed$' "${SEED}x" "$((10 + SEED * (3 + ${BENCH_SEED_MIB:-1024} / 256)))m"

# The same pods on a real Kubernetes (deploy/k8s/localk8s, built and started
# by the benchmark's package unless a local cluster runs already).
if ((docker_ok)) && [[ $(id -u) == 0 ]]; then
	say "BenchmarkKubernetes (-benchtime=${K8S}x; the local cluster is built first if needed: about 8 min cold)"
	if ! K8S_E2E_SERVERS=${BENCH_SERVER:-mariadb-10.11} $GO test -run '^$' -bench '^Benchmark(Kubernetes|Switchover)$' -benchtime "${K8S}x" -timeout 40m -count 1 -v ./deploy/k8s/e2e 2>&1 |
		tee -a "$RAW" | grep -E '^(Benchmark|--- |FAIL|ok|panic|k8s e2e:|\s+\S+_test\.go:[0-9]+: )'; then
		echo "bench: BenchmarkKubernetes failed (see $RAW)" >&2
		exit 1
	fi
else
	say "BenchmarkKubernetes skipped: the local Kubernetes needs root and Docker"
fi

{
	echo
	echo "$MACHINE"
	{
		printf 'figure\tmedian\tn\ttarget\tmet\n'
		cat "$BENCH_SUMMARY"
	} | column -t -s $'\t'
} | tee "$OUT/summary.txt"
echo
echo "total $((SECONDS - START)) s; raw output in $OUT/" | tee -a "$OUT/summary.txt"
