#!/usr/bin/env bash
# ensemble-cpu.sh - what a write costs a 3-member ensemble: CPU time,
# context switches and system calls of the three paddockd processes per
# committed transaction, under compare.sh's ENSEMBLE=3 set load (all
# three servers on SERVER_CPU, the bench's sessions spread over them).
# Less noisy than ops/s on a shared CPU, where the three servers' batch
# sizes (and with them the cost per write) follow the load.  Several
# builds alternate ROUNDS times in one run, each on a fresh ensemble.
#
# usage: tools/bench/ensemble-cpu.sh BUILD_DIR [BUILD_DIR...]
#   env: ROUNDS (3) DUR (4: seconds measured, after 3 s of load)
#        WORKLOAD (set) SERVER_CPU (1) BENCH_CPU (0)
# needs perf (task-clock, context-switches, raw_syscalls:sys_enter)
set -u
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] || { echo "usage: ensemble-cpu.sh BUILD_DIR [BUILD_DIR...]" >&2; exit 2; }
command -v perf >/dev/null || { echo "ensemble-cpu.sh: perf missing" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-4}
WORKLOAD=${WORKLOAD:-set}
SERVER_CPU=${SERVER_CPU:-1}
BENCH_CPU=${BENCH_CPU:-0}
WORK=$(mktemp -d /tmp/paddock-enscpu.XXXXXX)
trap 'stop_server; rm -rf "$WORK"' EXIT INT TERM

# the leader's last zxid (srvr), as a number
zxid_of() {
	local z
	z=$(echo srvr | timeout 5 nc -q1 127.0.0.1 "$1" | awk '/^Zxid:/{print $2}')
	echo $((z))
}

# $1 build: one measurement on a fresh ensemble, one line out
measure() {
	local build=$1 servers p leader= z0 z1 n pids
	PADDOCKD=$build/tools/paddockd
	BENCH=$build/tools/bench/paddock-bench
	rm -rf "$WORK"/pd?
	start_ensemble "$WORK" pd start_paddockd
	servers=$ENS_SERVERS
	for p in ${servers//,/ }; do
		wait_ready "${p##*:}" || { echo "$build: the ensemble did not form"; stop_server; return; }
		echo srvr | timeout 5 nc -q1 127.0.0.1 "${p##*:}" | grep -q '^Mode: leader' && leader=${p##*:}
	done
	taskset -c "$BENCH_CPU" "$BENCH" --servers "$servers" -W "$WORKLOAD" -c 16 -w 32 \
		-d "$((DUR + 5))s" --warmup 1s -k 1000 -s 100 -q >/dev/null 2>&1 &
	local bench=$!
	sleep 3
	pids=$(echo $SRV_PIDS | tr ' ' ,)
	z0=$(zxid_of "$leader")
	perf stat -x, -e task-clock,context-switches,raw_syscalls:sys_enter -p "$pids" \
		-- sleep "$DUR" 2>"$WORK/stat"
	z1=$(zxid_of "$leader")
	wait "$bench"
	stop_server
	n=$(((z1 & 0xffffffff) - (z0 & 0xffffffff)))
	awk -F, -v n="$n" -v d="$DUR" -v b="$build" '{ v[$3] = $1 } END {
		if (n <= 0) { print b ": no writes measured"; exit }
		printf "%-24s %9d txn/s %7.3f us CPU/txn %6.3f cs/txn %6.3f syscalls/txn\n",
			b, n / d, v["task-clock"] * 1000 / n,
			v["context-switches"] / n, v["raw_syscalls:sys_enter"] / n }' "$WORK/stat"
}

echo "== ensemble-cpu: $(date -u +%Y-%m-%dT%H:%MZ), $WORKLOAD, 3 members on cpu $SERVER_CPU, bench on cpu $BENCH_CPU, ${DUR}s measured"
for r in $(seq 1 "$ROUNDS"); do
	for b in "$@"; do
		measure "$(cd "$b" && pwd)"
	done
done
