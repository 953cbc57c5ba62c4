#!/usr/bin/env bash
# largetree.sh - the large-tree measurement of issue 5: N znodes of 100 bytes
# in Apache ZooKeeper 3.8 (Debian's zookeeper package) and in paddockd, one
# server at a time, on equivalent zoo.cfg files. For each server: resident
# memory before and after the load, bytes per znode, the snapshot covering
# the whole tree (size and time to write it) and the restart time (process
# start to the first answered getData) after SIGTERM and after kill -9, with
# the znode count checked after each restart. Prints one table.
#
# usage: tools/bench/largetree.sh BUILD_DIR [N]
#   BUILD_DIR  meson build dir holding tools/paddockd and tools/bench/paddock-bench
#   N          znodes to load (1000000); values are VALUE (100) bytes,
#              paths PREFIX/k0 .. PREFIX/k<N-1> (paddock-bench's setup phase)
#   env: SERVER_CPU (1) BENCH_CPU (0) ZK_HEAP (4g) PREFIX (/big)
#        READY_TIMEOUT (300 s, per start) LOAD_TIMEOUT (3600 s)
#        SNAP_TIMEOUT (60 s of extra setData load to reach a snapshot)
#        SKIP_ZK=1 / SKIP_PADDOCK=1 to run one side only; KEEP=1 keeps the
#        work directory (data, logs) for a look afterwards
set -u
. "$(dirname "$0")/lib.sh"

BUILD=${1:?usage: largetree.sh BUILD_DIR [N]}
BUILD=$(cd "$BUILD" && pwd)
N=${2:-1000000}
VALUE=${VALUE:-100}
PREFIX=${PREFIX:-/big}
SERVER_CPU=${SERVER_CPU:-1}
BENCH_CPU=${BENCH_CPU:-0}
ZK_HEAP=${ZK_HEAP:-4g}
READY_TIMEOUT=${READY_TIMEOUT:-300}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-3600}
SNAP_TIMEOUT=${SNAP_TIMEOUT:-60}
BENCH=$BUILD/tools/bench/paddock-bench
PADDOCKD=$BUILD/tools/paddockd
PY=/usr/bin/python3

case $N in '' | *[!0-9]*) echo "largetree.sh: N must be a number, got '$N'" >&2; exit 2 ;; esac
[ "$N" -ge 1 ] || { echo "largetree.sh: N must be at least 1" >&2; exit 2; }
[ -x "$BENCH" ] || { echo "largetree.sh: $BENCH missing: ninja -C $BUILD tools/bench/paddock-bench" >&2; exit 2; }
[ -x "$PY" ] || { echo "largetree.sh: $PY missing" >&2; exit 2; }
if [ "${SKIP_ZK:-0}" != 1 ]; then
	command -v java >/dev/null || { echo "largetree.sh: java missing: apt-get install -y zookeeper" >&2; exit 2; }
	[ -f /usr/share/java/zookeeper.jar ] || { echo "largetree.sh: apt-get install -y zookeeper" >&2; exit 2; }
fi

# the data directories live on the disk of $TMPDIR (/tmp by default)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/paddock-largetree.XXXXXX")
SRV_PID=
POLL_PID=
cleanup() {
	[ -n "$POLL_PID" ] && kill "$POLL_PID" 2>/dev/null
	[ -n "$SRV_PID" ] && kill -9 "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "largetree.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM


now() { echo "$EPOCHREALTIME"; } # seconds.microseconds, no fork


# A tiny ZooKeeper client: "4lw PORT CMD" prints the answer of a four
# letter word; "poll PORT PATH TIMEOUT_S READYFILE" touches READYFILE, then
# tries (every 5 ms) to open a session and getData PATH until a read is
# answered with no error, and prints the wall-clock time of that answer
# (or "timeout").
cat >"$WORK/zkpoll.py" <<'PYEOF'
import os, socket, struct, sys, time

def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b

def frame(s):
    (n,) = struct.unpack(">i", recvn(s, 4))
    return recvn(s, n)

def send(s, body):
    s.sendall(struct.pack(">i", len(body)) + body)

def try_read(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    try:
        send(s, struct.pack(">iqiqi", 0, 0, 30000, 0, 16) + b"\0" * 16 + b"\0")
        r = frame(s)
        if struct.unpack(">q", r[8:16])[0] == 0:
            return None
        p = path.encode()
        send(s, struct.pack(">iii", 1, 4, len(p)) + p + b"\0")
        while True:
            r = frame(s)
            xid, _, err = struct.unpack(">iqi", r[:16])
            if xid == 1:
                break
        t = time.time()
        send(s, struct.pack(">ii", 2, -11))
        try:
            frame(s)
        except Exception:
            pass
        return t, err
    finally:
        s.close()

def fourlw(port, cmd):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(cmd.encode())
    out = b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            out += c
    except socket.timeout:
        pass
    sys.stdout.write(out.decode(errors="replace"))

if sys.argv[1] == "4lw":
    try:
        fourlw(int(sys.argv[2]), sys.argv[3])
    except Exception as e:
        sys.stderr.write("4lw %s: %s\n" % (sys.argv[3], e))
        sys.exit(1)
else:
    port, path, limit = int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    open(sys.argv[5], "w").close()
    end = time.time() + limit
    while time.time() < end:
        try:
            r = try_read(port, path)
            if r and r[1] == 0:
                print("%.6f" % r[0])
                sys.exit(0)
        except Exception:
            pass
        time.sleep(0.005)
    print("timeout")
PYEOF

# $1 port, $2 command: the answer of a four letter word
fourlw() { taskset -c "$BENCH_CPU" "$PY" "$WORK/zkpoll.py" 4lw "$1" "$2" 2>/dev/null; }
znode_count() { fourlw "$1" mntr | awk '$1 == "zk_znode_count" { print $2 }'; }
last_zxid() { fourlw "$1" srvr | awk '/^Zxid:/ { print $2 }'; }
hex2dec() { [ -n "$1" ] && echo $(("${1/0x/16#}")) || echo -1; }

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# waits until the port answers a session (paddock-bench's own setup path),
# at most READY_TIMEOUT seconds
wait_ready() {
	local port=$1 end=$((SECONDS + READY_TIMEOUT))
	while [ $SECONDS -lt $end ]; do
		alive "$SRV_PID" || return 1
		if taskset -c "$BENCH_CPU" "$BENCH" -p "$port" -W exists -c 1 -w 1 -d 100ms --warmup 0 -q \
			--no-setup --prefix /zookeeper >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	return 1
}

# $1 signal (TERM): stops the server, at most 60 s, then kill -9
stop_server() {
	local sig=${1:-TERM} end=$((SECONDS + 60))
	[ -n "$SRV_PID" ] || return 0
	# bash reports a job killed by a signal on stderr when it reaps it:
	# not news here, so the reaping happens with stderr on /dev/null
	exec 4>&2 2>/dev/null
	kill -"$sig" "$SRV_PID"
	while alive "$SRV_PID" && [ $SECONDS -lt $end ]; do sleep 0.05; done
	if alive "$SRV_PID"; then
		echo "largetree.sh: server did not stop within 60 s of SIG$sig; kill -9" >&4
		kill -9 "$SRV_PID"
	fi
	wait "$SRV_PID"
	exec 2>&4 4>&-
	SRV_PID=
}

# $1 dir: starts that server (appending to $1/out.log) and sets SRV_PID and
# T_START (the wall-clock time just before the exec)
start_server() {
	local dir=$1
	T_START=$(now)
	if [ "$(basename "$dir")" = zk ]; then
		taskset -c "$SERVER_CPU" java -Xmx"$ZK_HEAP" -Dzookeeper.log.dir="$dir" \
			-Dlog4j.configuration="file:$dir/log4j.properties" -cp "$ZKCP" \
			org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" >>"$dir/out.log" 2>&1 &
	else
		taskset -c "$SERVER_CPU" "$PADDOCKD" "$dir/zoo.cfg" >>"$dir/out.log" 2>&1 &
	fi
	SRV_PID=$!
}

# $1 dir, $2 port: starts the server (SRV_PID) and sets RESTART_S to the
# time from process start to the first getData of PREFIX/k0 answered
# without error ("n/a" if none). Not for $(...): SRV_PID must stay set.
timed_start() {
	local dir=$1 port=$2 ready=$WORK/poll.ready t_ok end
	rm -f "$ready" "$WORK/poll.out"
	taskset -c "$BENCH_CPU" "$PY" "$WORK/zkpoll.py" poll "$port" "$PREFIX/k0" "$READY_TIMEOUT" "$ready" \
		>"$WORK/poll.out" 2>/dev/null &
	POLL_PID=$!
	end=$((SECONDS + 10))
	while [ ! -e "$ready" ] && [ $SECONDS -lt $end ]; do sleep 0.01; done
	start_server "$dir"
	end=$((SECONDS + READY_TIMEOUT + 5))
	while alive "$POLL_PID" && [ $SECONDS -lt $end ]; do
		alive "$SRV_PID" || break
		sleep 0.01
	done
	kill "$POLL_PID" 2>/dev/null
	wait "$POLL_PID" 2>/dev/null
	POLL_PID=
	t_ok=$(cat "$WORK/poll.out" 2>/dev/null)
	case $t_ok in
	[0-9]*) RESTART_S=$(awk -v a="$T_START" -v b="$t_ok" 'BEGIN { printf "%.3f", b - a }') ;;
	*) RESTART_S=n/a ;;
	esac
}

# $1 label (zk|pd), $2 dir: the snapshot lines of its log as "ZXID_HEX MS
# ZNODES FILE" (ZooKeeper: the "Snapshotting: 0x.. to FILE" line paired
# with the "Snapshot taken in T ms" line that follows it; ZNODES is "-")
snap_lines() {
	if [ "$1" = zk ]; then
		awk '/Snapshotting: 0x/ { for (i = 1; i <= NF; i++) if ($i == "Snapshotting:") { z = $(i + 1); f = $(i + 3) } }
		     /Snapshot taken in [0-9]+ ms/ { if (z != "") { for (i = 1; i <= NF; i++) if ($i == "in") ms = $(i + 1);
		                                                    print z, ms, "-", f; z = "" } }' "$2/out.log"
	else
		awk '/paddockd: snapshot 0x[0-9a-f]+ written in/ { n = $8; sub(/^[(]/, "", n); z = substr($3, 3);
		     while (length(z) < 16) z = "0" z; print $3, $6, n, dir "/data/snapshot." z }' dir="$2" "$2/out.log"
	fi
}

# $1 label, $2 dir, $3 zxid (decimal) the load ended at: the last snapshot
# line whose zxid covers the whole load (paddockd: and >= N znodes). Both
# take fuzzy snapshots named after the last zxid applied when they began.
covering_snap() {
	local z ms n f
	snap_lines "$1" "$2" | while read -r z ms n f; do
		[ "$(hex2dec "$z")" -ge "$3" ] || continue
		[ "$n" = - ] || [ "$n" -ge "$N" ] || continue
		echo "$z $ms $n $f"
	done | tail -1
}

# newest complete snapshot file of a dataDir
newest_snap() {
	local d=$1
	[ -d "$d/version-2" ] && d=$d/version-2
	ls -t "$d"/snapshot.* 2>/dev/null | grep -v '\.tmp$' | head -1
}

# ZooKeeper only: heap in use after a full GC, in kB (jcmd + jstat)
zk_live_heap_kb() {
	command -v jcmd >/dev/null && command -v jstat >/dev/null || return 0
	timeout 60 taskset -c "$BENCH_CPU" jcmd "$1" GC.run >/dev/null 2>&1 || return 0
	timeout 60 taskset -c "$BENCH_CPU" jstat -gc "$1" 2>/dev/null |
		awk 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i }
		     NR == 2 { printf "%.0f\n", $c["S0U"] + $c["S1U"] + $c["EU"] + $c["OU"] }'
}

# $1 label (zk|pd), $2 server name: the whole measurement; results go to
# $WORK/$1.res as KEY=VALUE lines
measure() {
	local label=$1 name=$2 dir=$WORK/$1 port res=$WORK/$1.res
	local rss0 rss1 h0= h1= t0 t1 zx cnt0 snap end f
	port=$(free_port)
	write_cfg "$dir" "$port"
	: >"$res"
	start_server "$dir"
	if ! wait_ready "$port"; then
		echo "largetree.sh: $name did not answer on port $port within ${READY_TIMEOUT}s (row shows n/a)" >&2
		tail -5 "$dir/out.log" >&2
		stop_server KILL
		return
	fi
	sleep 1
	rss0=$(rss_kb "$SRV_PID")
	[ "$label" = zk ] && h0=$(zk_live_heap_kb "$SRV_PID")

	# 2. the load: paddock-bench's setup creates PREFIX, its six
	# directories and PREFIX/k0..k<N-1>; then a 1 s get run, not counted
	t0=$(now)
	if ! timeout "$LOAD_TIMEOUT" taskset -c "$BENCH_CPU" "$BENCH" -p "$port" -W get -k "$N" -s "$VALUE" \
		--prefix "$PREFIX" -d 1s --warmup 0 -q >"$WORK/$label.load" 2>&1; then
		echo "largetree.sh: $name: load failed: $(tail -1 "$WORK/$label.load")" >&2
	fi
	t1=$(now)
	zx=$(hex2dec "$(last_zxid "$port")")
	cnt0=$(znode_count "$port")
	echo "load_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a - 1 }')" >>"$res"
	echo "count0=${cnt0:-n/a}" >>"$res"

	# 3. memory once the server has settled
	sleep 5
	rss1=$(rss_kb "$SRV_PID")
	echo "rss0=${rss0:-} rss1=${rss1:-}" | tr ' ' '\n' >>"$res"
	if [ "$label" = zk ]; then
		h1=$(zk_live_heap_kb "$SRV_PID")
		echo "heap0=${h0:-}" >>"$res"
		echo "heap1=${h1:-}" >>"$res"
	fi

	# 4. the first snapshot that covers the whole tree; if the load did
	# not end with one, keep writing (setData of the same keys) until the
	# next one is written, at most SNAP_TIMEOUT seconds
	end=$((SECONDS + SNAP_TIMEOUT))
	snap=$(covering_snap "$label" "$dir" "$zx")
	while [ -z "$snap" ] && [ $SECONDS -lt $end ] && alive "$SRV_PID"; do
		taskset -c "$BENCH_CPU" "$BENCH" -p "$port" -W set -k "$N" -s "$VALUE" --prefix "$PREFIX" \
			--no-setup -c 4 -w 32 -d 250ms --warmup 0 -q >/dev/null 2>&1
		snap=$(covering_snap "$label" "$dir" "$zx")
	done
	if [ -n "$snap" ]; then
		# its file; the newest complete one if that name is not there
		f=$(echo "$snap" | cut -d' ' -f4)
		[ -f "$f" ] || f=$(newest_snap "$dir/data")
		echo "snap_ms=$(echo "$snap" | cut -d' ' -f2)" >>"$res"
		echo "snap_znodes=$(echo "$snap" | cut -d' ' -f3)" >>"$res"
		echo "snap_zxid=$(echo "$snap" | cut -d' ' -f1)" >>"$res"
		[ -n "$f" ] && echo "snap_bytes=$(stat -c %s "$f")" >>"$res" && echo "snap_file=$(basename "$f")" >>"$res"
	else
		echo "largetree.sh: $name: no snapshot covering zxid $(printf '0x%x' "$zx") within ${SNAP_TIMEOUT}s of extra writes" >&2
	fi

	# 5. restarts: SIGTERM, then kill -9
	local cnt_before cnt
	cnt_before=$(znode_count "$port")
	echo "count_before_restart=${cnt_before:-n/a}" >>"$res"
	for sig in TERM KILL; do
		stop_server "$sig"
		timed_start "$dir" "$port"
		echo "restart_$sig=$RESTART_S" >>"$res"
		if alive "$SRV_PID"; then
			cnt=$(znode_count "$port")
			echo "count_$sig=${cnt:-n/a}" >>"$res"
		else
			echo "largetree.sh: $name did not come back after SIG$sig" >&2
			tail -5 "$dir/out.log" >&2
			echo "count_$sig=n/a" >>"$res"
		fi
	done
	stop_server TERM
}

# the average length of the loaded paths PREFIX/k<i>, i < N
AVG_PATH=$(awk -v n="$N" -v p="$PREFIX" 'BEGIN {
	s = 0; lo = 0; d = 1; hi = 10;
	while (lo < n) { top = (hi < n ? hi : n); s += (top - lo) * d; lo = top; hi *= 10; d++ }
	printf "%.2f", length(p) + 2 + s / n }')
TARGET=$(awk -v a="$AVG_PATH" -v v="$VALUE" 'BEGIN { printf "%.1f", 1.5 * (a + v) + 64 }')

echo "== paddock large tree: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) cpu(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
	"kernel $(uname -r), $(java -version 2>&1 | head -1)"
echo "how: one server at a time, server pinned to cpu $SERVER_CPU, clients to cpu $BENCH_CPU (taskset);"\
	"zoo.cfg forceSync=yes tickTime=2000 snapCount default, dataDir under $WORK"\
	"($(df -T "$WORK" | awk 'NR==2{print $2" on "$1}')); ZooKeeper JVM -Xmx$ZK_HEAP"
echo "load: paddock-bench setup, $N znodes $PREFIX/k<i> of $VALUE B (average path $AVG_PATH B),"\
	"one session pipelining 2000 creates; RSS = VmRSS, 'after' 5 s after the load"
echo

# ZooKeeper logs at INFO to the console: the snapshot lines need it
ZKCP="$WORK/zk:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar"
if [ "${SKIP_ZK:-0}" != 1 ]; then
	mkdir -p "$WORK/zk"
	cat >"$WORK/zk/log4j.properties" <<'L4J'
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n
L4J
	measure zk "ZooKeeper"
fi

if [ "${SKIP_PADDOCK:-0}" != 1 ]; then
	if [ -x "$PADDOCKD" ]; then
		measure pd paddockd
	else
		echo "largetree.sh: $PADDOCKD not built (row shows n/a)" >&2
	fi
fi

get() { # file key -> value or n/a
	local v
	v=$([ -f "$1" ] && awk -F= -v k="$2" '$1 == k { v = $2 } END { print v }' "$1")
	echo "${v:-n/a}"
}

printf '%-9s | %13s | %17s | %11s | %11s | %11s | %15s | %17s\n' server "load znodes/s" \
	"RSS before/after" "bytes/znode" "snapshot MB" "snapshot ms" "restart s T/K" "znodes T/K"
printf -- '----------+---------------+-------------------+-------------+-------------+-------------+-----------------+------------------\n'
for label in zk pd; do
	r=$WORK/$label.res
	[ "$label" = zk ] && name=zookeeper || name=paddockd
	[ "$label" = zk ] && [ "${SKIP_ZK:-0}" = 1 ] && continue
	[ "$label" = pd ] && [ "${SKIP_PADDOCK:-0}" = 1 ] && continue
	awk -v name="$name" -v n="$N" -v ls="$(get "$r" load_s)" -v r0="$(get "$r" rss0)" -v r1="$(get "$r" rss1)" \
		-v sb="$(get "$r" snap_bytes)" -v sm="$(get "$r" snap_ms)" -v rt="$(get "$r" restart_TERM)" \
		-v rk="$(get "$r" restart_KILL)" -v c0="$(get "$r" count_before_restart)" \
		-v ct="$(get "$r" count_TERM)" -v ck="$(get "$r" count_KILL)" 'BEGIN {
		rate = (ls + 0 > 0) ? sprintf("%.0f", n / ls) : "n/a";
		rss = (r0 + 0 > 0 && r1 + 0 > 0) ? sprintf("%.1f / %.1f", r0 / 1024, r1 / 1024) : "n/a";
		bpz = (r0 + 0 > 0 && r1 + 0 > 0) ? sprintf("%.1f", (r1 - r0) * 1024 / n) : "n/a";
		smb = (sb + 0 > 0) ? sprintf("%.2f", sb / 1048576) : "n/a";
		ok = (ct == c0 && ck == c0) ? "" : " !";
		printf "%-9s | %13s | %17s | %11s | %11s | %11s | %15s | %17s\n", name, rate, rss, bpz, smb, sm,
			rt " / " rk, ct " / " ck ok }'
done
echo
echo "bytes/znode = (RSS after - RSS before) / $N; paddockd target (issue 5): 1.5 x (path $AVG_PATH + value $VALUE) + 64 = $TARGET B"
echo "restart = process start to the first getData $PREFIX/k0 answered without error, after SIGTERM (T)"\
	"and after kill -9 (K); paddockd target < 1 s"
for label in zk pd; do
	r=$WORK/$label.res
	[ -f "$r" ] || continue
	[ "$label" = zk ] && name=zookeeper || name=paddockd
	echo "$name: znodes before restart $(get "$r" count_before_restart) (mntr zk_znode_count; $N loaded +"\
		"the bench's directories and the servers' own nodes), snapshot $(get "$r" snap_file)"\
		"(zxid $(get "$r" snap_zxid)$([ "$label" = pd ] && echo ", $(get "$r" snap_znodes) znodes"))"
done
if [ -f "$WORK/zk.res" ]; then
	awk -v n="$N" -v h0="$(get "$WORK/zk.res" heap0)" -v h1="$(get "$WORK/zk.res" heap1)" 'BEGIN {
		if (h0 + 0 > 0 && h1 + 0 > 0)
			printf "zookeeper: live Java heap after a full GC (jcmd GC.run, jstat -gc): %.1f MB before, %.1f MB after = %.1f B/znode\n",
				h0 / 1024, h1 / 1024, (h1 - h0) * 1024 / n }'
	echo "zookeeper: snapshot ms from its log (\"Snapshot taken in T ms\", ZooKeeperServer.takeSnapshot)"
fi
[ -f "$WORK/pd.res" ] && echo "paddockd: snapshot ms from its stderr (\"paddockd: snapshot 0x.. written in T ms (N znodes)\")"
exit 0
