#!/usr/bin/env bash
# compare.sh - the same workload matrix against Apache ZooKeeper 3.8
# (Debian's zookeeper package) and paddockd, one server at a time, on
# equivalent zoo.cfg files; prints one table with both results and the ratio.
#
# usage: tools/bench/compare.sh BUILD_DIR [DURATION_S]
#   BUILD_DIR  meson build dir holding tools/paddockd and tools/bench/paddock-bench
#   env: CONNS (16) WINDOW (32) WARMUP (3) KEYS (1000) VALUE (100)
#        SERVER_CPU (1) BENCH_CPU (0) WORKLOADS ("get set create mix")
#        SKIP_ZK=1 / SKIP_PADDOCK=1 to run one side only
#        SKIP_GENCHECK=1: no zkc_async runs (the generator check)
#        EXTRA_CFG: zoo.cfg lines both servers get (lib.sh write_cfg)
#        RATE=R: open loop at R ops/s in total (paddock-bench -r; latency
#        from the intended send time), for both servers; default closed
#        ENSEMBLE=3: three servers on loopback (all on SERVER_CPU), the
#        bench's sessions spread over them (--servers), for ZooKeeper and
#        then for paddockd
#        TLS=1: both servers also serve a secureClientPort (ZooKeeper with
#        Netty), with PEM stores made here by openssl (a CA, the server's
#        key and certificate, a client certificate); the bench talks TLS
#        to it (paddock-bench --tls).  Standalone only; no generator check
set -u
. "$(dirname "$0")/lib.sh"

BUILD=${1:?usage: compare.sh BUILD_DIR [DURATION_S]}
BUILD=$(cd "$BUILD" && pwd)
DUR=${2:-10}
CONNS=${CONNS:-16}
WINDOW=${WINDOW:-32}
WARMUP=${WARMUP:-3}
KEYS=${KEYS:-1000}
VALUE=${VALUE:-100}
SERVER_CPU=${SERVER_CPU:-1}
BENCH_CPU=${BENCH_CPU:-0}
WORKLOADS=${WORKLOADS:-"get set create mix"}
ENSEMBLE=${ENSEMBLE:-1}
case $ENSEMBLE in 1 | 3) ;; *) echo "compare.sh: ENSEMBLE is 1 or 3" >&2; exit 2 ;; esac
BENCH=$BUILD/tools/bench/paddock-bench
ZKC=$BUILD/tools/bench/zkc_async
PADDOCKD=$BUILD/tools/paddockd
ZKCP="/usr/share/java/zookeeper.jar:/usr/share/java/*"
TLS=${TLS:-0}
[ "$TLS" = 1 ] && { SKIP_GENCHECK=1; [ "$ENSEMBLE" = 1 ] || { echo "compare.sh: TLS=1 is standalone only" >&2; exit 2; }; }

[ -x "$BENCH" ] || { echo "compare.sh: $BENCH missing: ninja -C $BUILD tools/bench/paddock-bench" >&2; exit 2; }
command -v java >/dev/null || { echo "compare.sh: java missing: apt-get install -y zookeeper" >&2; exit 2; }
[ -f /usr/share/java/zookeeper.jar ] || { echo "compare.sh: apt-get install -y zookeeper" >&2; exit 2; }

WORK=$(mktemp -d /tmp/paddock-compare.XXXXXX)
cleanup() {
	stop_server
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# TLS=1: the stores, once
if [ "$TLS" = 1 ]; then
	mkdir -p "$WORK/tls"
	(cd "$WORK/tls" &&
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 \
			-subj /CN=bench-ca &&
		openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr \
			-subj /CN=localhost &&
		echo "subjectAltName=IP:127.0.0.1" >san.ext &&
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
			-out server-cert.pem -days 2 -extfile san.ext &&
		cat server-key.pem server-cert.pem >server.pem &&
		openssl req -newkey rsa:2048 -nodes -keyout client-key.pem -out client.csr \
			-subj /CN=bench &&
		openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
			-out client-cert.pem -days 2) >/dev/null 2>&1 ||
		{ echo "compare.sh: openssl could not make the TLS stores" >&2; exit 2; }
fi

# $1 server dir, $2 its client port: the bench's target ("-p PORT"); with
# TLS=1 the zoo.cfg gets a secureClientPort and the target is that
target_of() {
	if [ "$TLS" != 1 ]; then
		echo "-p $2"
		return
	fi
	local sp t=$WORK/tls
	sp=$(free_port)
	cat >>"$1/zoo.cfg" <<CFG
secureClientPort=$sp
serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
ssl.keyStore.location=$t/server.pem
ssl.keyStore.type=PEM
ssl.trustStore.location=$t/ca.pem
ssl.trustStore.type=PEM
CFG
	echo "-p $sp --tls $t/ca.pem,$t/client-cert.pem,$t/client-key.pem"
}

# $1 label, $2 bench target ("-p PORT" or "--servers LIST"); fills
# results in $WORK/$1.<workload>.csv
run_matrix() {
	local label=$1 target=$2 w args
	for w in $WORKLOADS; do
		args="-W $w"
		[ "$w" = mix ] && args="-W mix:0.9"
		[ -n "${RATE:-}" ] && args="$args -r $RATE"
		taskset -c "$BENCH_CPU" "$BENCH" $target $args -t 1 -c "$CONNS" -w "$WINDOW" \
			-d "$DUR" --warmup "$WARMUP" -k "$KEYS" -s "$VALUE" --csv -q \
			--prefix "/cmp-$w" >"$WORK/$label.$w.csv" 2>"$WORK/$label.$w.err" ||
			echo "compare.sh: $label $w failed: $(tail -1 "$WORK/$label.$w.err")" >&2
	done
}

# ops/s and client CPU seconds of one command: prints "OPS CPU"
cpu_of() {
	local t
	t=$( { /usr/bin/time -f "TIME %U %S" "$@" >"$WORK/cpu.out"; } 2>&1 | awk '/^TIME/{print $2+$3}')
	echo "$t"
}

echo "== paddock-bench compare: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) cpu(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
	"kernel $(uname -r), $(java -version 2>&1 | head -1)"
if [ "$ENSEMBLE" = 3 ]; then
	echo "how: a 3-server ensemble on 127.0.0.1, all three pinned to cpu $SERVER_CPU, bench to cpu"\
		"$BENCH_CPU (taskset), its sessions spread over the three; zoo.cfg forceSync=yes,"\
		"dataDirs under $WORK ($(df -T "$WORK" | awk 'NR==2{print $2}'))"
else
	echo "how: one server at a time, server pinned to cpu $SERVER_CPU, bench to cpu $BENCH_CPU"\
		"(taskset); zoo.cfg forceSync=yes, dataDir under $WORK ($(df -T "$WORK" | awk 'NR==2{print $2}'))"
fi
loop="closed loop"
[ -n "${RATE:-}" ] && loop="open loop at $RATE ops/s"
[ "$TLS" = 1 ] && echo "TLS: both servers' secureClientPort (ZooKeeper: NettyServerCnxnFactory), PEM stores, client certificate; paddock-bench --tls"
echo "bench: paddock-bench -t 1 -c $CONNS -w $WINDOW -d ${DUR}s --warmup ${WARMUP}s -k $KEYS -s $VALUE"\
	"${RATE:+-r $RATE }($loop; mix = 90% getData / 10% setData)"
echo

# $1 label (zk, pd), $2 start function: a 3-server ensemble on loopback,
# server.N lines with fresh quorum/election ports; each member gets the
# standalone zoo.cfg plus them, and its myid; then the matrix over all
# three (--servers)
run_ensemble() {
	local label=$1 start=$2 servers p ready=1
	start_ensemble "$WORK" "$label" "$start"
	servers=$ENS_SERVERS
	for p in ${servers//,/ }; do wait_ready "${p##*:}" || ready=0; done
	if [ "$ready" = 1 ]; then
		run_matrix "$label" "--servers $servers"
	else
		echo "compare.sh: the $label ensemble did not form; see below" >&2
		tail -5 "$WORK/$label"?/out.log >&2
	fi
	stop_server
}

ZK_PORT=
if [ "${SKIP_ZK:-0}" != 1 ] && [ "$ENSEMBLE" = 3 ]; then
	run_ensemble zk start_zk
elif [ "${SKIP_ZK:-0}" != 1 ]; then
	ZK_PORT=$(free_port)
	write_cfg "$WORK/zk" "$ZK_PORT"
	zk_target=$(target_of "$WORK/zk" "$ZK_PORT")
	start_zk "$WORK/zk"
	if wait_ready "$ZK_PORT"; then
		run_matrix zk "$zk_target"
		# the generator check: same load from the stock C client's async API
		if [ -x "$ZKC" ] && [ "${SKIP_GENCHECK:-0}" != 1 ]; then
			for w in get set; do
				c=$(cpu_of taskset -c "$BENCH_CPU" "$ZKC" "127.0.0.1:$ZK_PORT" "$w" "$CONNS" "$WINDOW" "$DUR" "$KEYS")
				echo "$(grep -o '[0-9]* ops/s' "$WORK/cpu.out" | cut -d' ' -f1) $c" >"$WORK/zkc.$w"
				c=$(cpu_of taskset -c "$BENCH_CPU" "$BENCH" -p "$ZK_PORT" -W "$w" -c "$CONNS" -w "$WINDOW" \
					-d "$DUR" --warmup 1 -k "$KEYS" --csv -q --prefix "/gen-$w")
				echo "$(tail -1 "$WORK/cpu.out" | cut -d, -f9) $c" >"$WORK/pb.$w"
			done
		fi
	else
		echo "compare.sh: ZooKeeper did not start; see below" >&2
		tail -20 "$WORK/zk/out.log" >&2
	fi
	stop_server
fi

if [ "${SKIP_PADDOCK:-0}" != 1 ] && [ "$ENSEMBLE" = 3 ]; then
	run_ensemble pd start_paddockd
elif [ "${SKIP_PADDOCK:-0}" != 1 ]; then
	if [ -x "$PADDOCKD" ]; then
		P_PORT=$(free_port)
		write_cfg "$WORK/pd" "$P_PORT"
		pd_target=$(target_of "$WORK/pd" "$P_PORT")
		start_paddockd "$WORK/pd"
		if wait_ready "$P_PORT"; then
			run_matrix pd "$pd_target"
			# the stock client against the faster server: where the
			# generator, not the server, is the limit
			if [ -x "$ZKC" ] && [ "${SKIP_GENCHECK:-0}" != 1 ]; then
				for w in get set; do
					taskset -c "$BENCH_CPU" "$ZKC" "127.0.0.1:$P_PORT" "$w" "$CONNS" "$WINDOW" \
						"$DUR" "$KEYS" >"$WORK/pzkc.$w" 2>&1
				done
			fi
		else
			echo "compare.sh: paddockd did not answer on port $P_PORT (rows show n/a)" >&2
			tail -5 "$WORK/pd/out.log" >&2
		fi
		stop_server
	else
		echo "compare.sh: $PADDOCKD not built (rows show n/a)" >&2
	fi
fi

field() { # file column -> value or n/a
	[ -s "$1" ] && tail -1 "$1" | cut -d, -f"$2" || echo n/a
}

printf '%-8s | %12s %10s %6s | %12s %10s %6s | %8s\n' workload "zk ops/s" "zk p99us" "zk err" \
	"paddock ops/s" "p99us" "err" "ratio"
printf -- '---------+-------------------------------+-------------------------------+---------\n'
for w in $WORKLOADS; do
	zr=$(field "$WORK/zk.$w.csv" 9); zp=$(field "$WORK/zk.$w.csv" 12); ze=$(field "$WORK/zk.$w.csv" 8)
	pr=$(field "$WORK/pd.$w.csv" 9); pp=$(field "$WORK/pd.$w.csv" 12); pe=$(field "$WORK/pd.$w.csv" 8)
	ratio=$(awk -v a="$pr" -v b="$zr" 'BEGIN{ if (a+0>0 && b+0>0) printf "%.2fx", a/b; else print "n/a" }')
	printf '%-8s | %12s %10s %6s | %12s %10s %6s | %8s\n' "$w" "$zr" "$zp" "$ze" "$pr" "$pp" "$pe" "$ratio"
done

if [ -s "$WORK/zkc.get" ]; then
	echo
	echo "generator check against ZooKeeper (same -c $CONNS -w $WINDOW, client on cpu $BENCH_CPU):"
	printf '%-6s | %14s %16s | %14s %16s | %10s %10s\n' op "zkc ops/s" "zkc ops/cpu-s" \
		"bench ops/s" "bench ops/cpu-s" "rate x" "cpu-eff x"
	for w in get set; do
		read -r zo zc <"$WORK/zkc.$w"
		read -r po pc <"$WORK/pb.$w"
		# ops per client CPU second: what the generator could reach if the
		# server were not the limit (zkc runs warm-up+DUR, bench warm-up 1s+DUR)
		awk -v zo="$zo" -v zc="$zc" -v po="$po" -v pc="$pc" -v d="$DUR" -v w="$w" 'BEGIN{
			ze = zo*(d+1)/zc; pe = po*(d+1)/pc;
			printf "%-6s | %14.0f %16.0f | %14.0f %16.0f | %9.2fx %9.2fx\n", w, zo, ze, po, pe, po/zo, pe/ze }'
	done
fi

if [ -s "$WORK/pzkc.get" ]; then
	echo
	echo "generator check against paddockd (same -c $CONNS -w $WINDOW, client on cpu $BENCH_CPU):"
	printf '%-6s | %14s | %14s | %8s\n' op "zkc ops/s" "bench ops/s" "ratio"
	for w in get set; do
		zo=$(grep -o '[0-9]* ops/s' "$WORK/pzkc.$w" | cut -d' ' -f1)
		po=$(field "$WORK/pd.$w.csv" 9)
		if [ "$po" = n/a ] || [ -z "$zo" ]; then
			# the matrix did not run this workload against paddockd
			printf '%-6s | %14s | %14s | %8s\n' "$w" "${zo:-n/a}" "$po" n/a
			continue
		fi
		awk -v zo="$zo" -v po="$po" -v w="$w" 'BEGIN{
			printf "%-6s | %14.0f | %14.0f | %7.2fx\n", w, zo, po, (zo > 0 ? po/zo : 0) }'
	done
fi
