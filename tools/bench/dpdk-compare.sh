#!/usr/bin/env bash
# dpdk-compare.sh BUILD_DIR [DURATION_S] — paddockd in kernel-TCP mode
# against paddockd in DPDK mode (issue 15), in the same run, one server
# core each: the server (all its threads) on SERVER_CPU, the load
# generator on BENCH_CPU.  Kernel: paddock-bench over loopback TCP.
# DPDK: paddock-bench-dpdk over a net_memif pair (the server's end in
# paddockd, the client's in the bench, both busy-polling), net/'s TCP on
# both ends.  For each: `get` with CONNS sessions x WINDOW outstanding
# (reads/s per server core) and with one session and one request
# outstanding (the round trip's p50 and p99).  Root only (memif's socket).
#
# Environment: CONNS [16], WINDOW [32], KEYS [1000], VALUE [100],
# SERVER_CPU [1], BENCH_CPU [0], RUNS [1] (alternating kernel and DPDK).
set -u
. "$(dirname "$0")/lib.sh"

BUILD=${1:?usage: dpdk-compare.sh BUILD_DIR [DURATION_S]}
BUILD=$(cd "$BUILD" && pwd)
DUR=${2:-10}
CONNS=${CONNS:-16}
WINDOW=${WINDOW:-32}
KEYS=${KEYS:-1000}
VALUE=${VALUE:-100}
SERVER_CPU=${SERVER_CPU:-1}
BENCH_CPU=${BENCH_CPU:-0}
RUNS=${RUNS:-1}
PADDOCKD=$BUILD/tools/paddockd
BENCH=$BUILD/tools/bench/paddock-bench
DBENCH=$BUILD/tools/bench/paddock-bench-dpdk
for b in "$PADDOCKD" "$BENCH" "$DBENCH"; do
	[ -x "$b" ] || { echo "dpdk-compare.sh: $b missing (ninja -C $BUILD)" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/paddock-dpdk-compare.XXXXXX)
SOCK=$WORK/memif.sock
pid=
stop() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	pid=
}
trap 'stop; rm -rf "$WORK"' EXIT INT TERM

# $1 mode (kernel|dpdk): a fresh standalone paddockd, one worker
start() {
	local d=$WORK/$1 port
	rm -rf "$d" "$SOCK"
	mkdir -p "$d/data"
	port=$(free_port)
	{
		echo "tickTime=2000"
		echo "dataDir=$d/data"
		echo "clientPort=$port"
		echo "clientPortAddress=127.0.0.1"
		echo "admin.enableServer=false"
		echo "paddock.workers=1"
		if [ "$1" = dpdk ]; then
			echo "paddock.dataplane=dpdk"
			echo "paddock.dpdk.eal=--no-pci --no-huge --no-shconf -m 256 -l $SERVER_CPU --vdev=net_memif0,role=server,socket=$SOCK"
			echo "paddock.dpdk.ip=10.89.0.2"
			echo "paddock.dpdk.maxConns=256"
		fi
	} >"$d/zoo.cfg"
	taskset -c "$SERVER_CPU" "$PADDOCKD" "$d/zoo.cfg" >"$d/out.log" 2>&1 &
	pid=$!
	PORT=$port
	if [ "$1" = kernel ]; then
		SRV_PIDS=$pid
		wait_ready "$port" || { cat "$d/out.log" >&2; exit 1; }
	else
		# memif's socket is abstract (no file): wait for the banner
		for _ in $(seq 100); do grep -q "serving on" "$d/out.log" && break; sleep 0.05; done
		grep -q "serving on" "$d/out.log" || { echo "dpdk-compare.sh: paddockd did not start" >&2; cat "$d/out.log" >&2; exit 1; }
	fi
}

# $1 mode, $2 conns, $3 window: prints "OPS P50 P99"
bench() {
	local out
	if [ "$1" = kernel ]; then
		out=$(taskset -c "$BENCH_CPU" "$BENCH" -p "$PORT" -W get -t 1 -c "$2" -w "$3" \
			-d "$DUR" --warmup 2 -k "$KEYS" -s "$VALUE" 2>&1)
	else
		out=$(taskset -c "$BENCH_CPU" "$DBENCH" --eal "--no-pci --no-huge --no-shconf -m 256 -l $BENCH_CPU --vdev=net_memif0,role=client,socket=$SOCK" \
			--ip 10.89.0.1 --server "10.89.0.2:$PORT" -c "$2" -w "$3" -d "$DUR" --warmup 2 \
			-k "$KEYS" -s "$VALUE" 2>&1)
	fi
	echo "$out" | awk '/^ops /{for(i=1;i<=NF;i++) if($i=="ops/s") o=$(i-1)}
		/^latency/{p50=$3; p99=$7; sub("us","",p50); sub("us","",p99)}
		END{if(o=="") print "failed"; else print o, p50, p99}'
	echo "$out" | grep -q "^ops " || echo "$out" | tail -3 >&2
}

echo "== dpdk-compare: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cpu(s), $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
echo "server on cpu $SERVER_CPU (all its threads, 1 worker), bench on cpu $BENCH_CPU; get, $KEYS keys of $VALUE bytes, ${DUR}s (+2s warm-up)"
printf "%-7s | %14s %9s %9s | %13s %13s\n" mode "reads/s" "p50 us" "p99 us" "1-out p50 us" "1-out p99 us"
for r in $(seq "$RUNS"); do
	for mode in kernel dpdk; do
		start "$mode"
		read -r ops p50 p99 < <(bench "$mode" "$CONNS" "$WINDOW")
		stop
		start "$mode"
		read -r _ s50 s99 < <(bench "$mode" 1 1)
		stop
		printf "%-7s | %14s %9s %9s | %13s %13s\n" "$mode" "$ops" "$p50" "$p99" "$s50" "$s99"
	done
done
