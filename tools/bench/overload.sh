#!/usr/bin/env bash
# overload.sh - open-loop overload of Apache ZooKeeper 3.8 (Debian's
# zookeeper package) and paddockd, one server at a time, each started fresh
# as compare.sh starts it (same zoo.cfg, forceSync=yes, server pinned to
# SERVER_CPU, load to BENCH_CPU). For each server and workload:
#   1. capacity: closed loop, CONNS x WINDOW, CAP_DUR seconds;
#   2. open loop (--rate) at LOADS times that capacity, DUR seconds each,
#      with a window (OVL_WINDOW) so large that the generator never holds
#      load back: what the server does not take piles up in it, in the
#      socket buffers or in the bench's send buffers, never in a schedule
#      the bench quietly stops offering;
#   3. meanwhile a light probe session (PROBE_RATE getData/s, open loop,
#      its own prefix) shows what the overload does to everybody else; it
#      runs SCHED_FIFO (chrt -f 1) beside the load generator so that its
#      own wake-ups do not queue behind the generator on the shared CPU;
#   4. the server's peak resident memory in each run (VmHWM after resetting
#      it through /proc/PID/clear_refs, and VmRSS sampled every 100 ms).
# Prints one table. When the server does not answer a fresh session within
# 5 s after a run (or is gone), the row says HUNG (DIED) and the server is
# started fresh for the next run.
#
# usage: tools/bench/overload.sh BUILD_DIR
#   BUILD_DIR  meson build dir holding tools/paddockd and tools/bench/paddock-bench
#   env: LOADS ("1 2 5") WORKLOADS ("set get") DUR (6) WARMUP (1)
#        CAP_DUR (5) JIT_WARM (10 s of closed-loop mix before the first
#        capacity run, so ZooKeeper's JIT has compiled the request path)
#        CONNS (16) WINDOW (32) OVL_WINDOW (16m) KEYS (1000) VALUE (100)
#        PROBE_RATE (200) SERVER_CPU (1) BENCH_CPU (0) PROBE_CPU (BENCH_CPU)
#        PROBE_CHRT (1; 0 runs the probe at normal priority)
#        RSS_BOUND_MB (rows above it are marked; none by default)
#        SETTLE_MAX (15 s: after a run, wait at most this long for the
#        server to go idle) WAIT_IDLE (0; on a shared machine, wait up to
#        that many seconds before each run for the machine to be idle)
#        SKIP_ZK=1 / SKIP_PADDOCK=1, KEEP=1 keeps the work directory
#        (bench JSON, server logs)
set -u
. "$(dirname "$0")/lib.sh"

BUILD=${1:?usage: overload.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd)
LOADS=${LOADS:-"1 2 5"}
WORKLOADS=${WORKLOADS:-"set get"}
DUR=${DUR:-6}
WARMUP=${WARMUP:-1}
CAP_DUR=${CAP_DUR:-5}
JIT_WARM=${JIT_WARM:-10}
CONNS=${CONNS:-16}
WINDOW=${WINDOW:-32}
OVL_WINDOW=${OVL_WINDOW:-16m}
KEYS=${KEYS:-1000}
VALUE=${VALUE:-100}
PROBE_RATE=${PROBE_RATE:-200}
SERVER_CPU=${SERVER_CPU:-1}
BENCH_CPU=${BENCH_CPU:-0}
PROBE_CPU=${PROBE_CPU:-$BENCH_CPU}
PROBE_CHRT=${PROBE_CHRT:-1}
RSS_BOUND_MB=${RSS_BOUND_MB:-}
SETTLE_MAX=${SETTLE_MAX:-15}
WAIT_IDLE=${WAIT_IDLE:-0}
STOP_TIMEOUT=10
BENCH=$BUILD/tools/bench/paddock-bench
PADDOCKD=$BUILD/tools/paddockd
ZKCP="/usr/share/java/zookeeper.jar:/usr/share/java/*"
PY=/usr/bin/python3

[ -x "$BENCH" ] || { echo "overload.sh: $BENCH missing: ninja -C $BUILD tools/bench/paddock-bench" >&2; exit 2; }
"$BENCH" --help | grep -q "schedule backs up" ||
	{ echo "overload.sh: $BENCH predates open-loop accounting (sent/unanswered): rebuild it" >&2; exit 2; }
[ -x "$PY" ] || { echo "overload.sh: $PY missing" >&2; exit 2; }
if [ "${SKIP_ZK:-0}" != 1 ]; then
	command -v java >/dev/null || { echo "overload.sh: java missing: apt-get install -y zookeeper" >&2; exit 2; }
	[ -f /usr/share/java/zookeeper.jar ] || { echo "overload.sh: apt-get install -y zookeeper" >&2; exit 2; }
fi
PROBE_PRIO=
if [ "$PROBE_CHRT" = 1 ]; then
	if chrt -f 1 true 2>/dev/null; then PROBE_PRIO="chrt -f 1"
	else echo "overload.sh: chrt -f 1 not allowed here: the probe runs at normal priority" >&2; fi
fi
for x in $LOADS; do
	case $x in '' | *[!0-9.]*) echo "overload.sh: LOADS are multiples of capacity, got '$x'" >&2; exit 2 ;; esac
done

WORK=$(mktemp -d /tmp/paddock-overload.XXXXXX)
SAMPLER=
cleanup() {
	[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
	stop_server
	if [ "${KEEP:-0}" = 1 ]; then echo "overload.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }

# $1 pid, $2 file: keeps the highest VmRSS (kB) seen in $2, every 100 ms,
# until killed or the process is gone
rss_sampler() {
	local max=0 k v _
	while [ -r "/proc/$1/status" ]; do
		while read -r k v _; do
			[ "$k" = VmRSS: ] && [ "$v" -gt "$max" ] && max=$v && echo "$max" >"$2"
		done <"/proc/$1/status"
		sleep 0.1
	done
}

# $1, $2: two "cpu" lines of /proc/stat; prints "BUSY WALL": the CPU
# seconds processes used between them (user, nice, system: not interrupts,
# which the loopback traffic of the runs itself causes) and the seconds
# that passed
cpu_between() {
	echo "$1
$2" | awk -v hz="$(getconf CLK_TCK)" -v n="$(nproc)" '{ busy = $2 + $3 + $4; tot = 0; for (i = 2; i <= 9; i++) tot += $i }
	NR == 1 { b0 = busy; t0 = tot } NR == 2 { printf "%.3f %.3f\n", (busy - b0) / hz, (tot - t0) / hz / n }'
}

# percent of the machine's CPU time in use over one second
machine_busy() {
	local a
	a=$(head -1 /proc/stat)
	sleep 1
	cpu_between "$a" "$(head -1 /proc/stat)" | awk -v n="$(nproc)" '{ printf "%.0f\n", 100 * $1 / ($2 * n + 1e-9) }'
}

# WAIT_IDLE > 0: waits at most that long until the machine is less than
# 10 % busy over a second (the server under test idles by now)
wait_idle() {
	local end=$((SECONDS + WAIT_IDLE))
	while [ "$WAIT_IDLE" -gt 0 ] && [ "$(machine_busy)" -gt 10 ] && [ $SECONDS -lt $end ]; do :; done
}

# $1 pid: its CPU seconds so far
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# after a run: waits until the server uses under 10 % of a CPU over half a
# second (ZooKeeper works off what the closed sessions left), at most
# SETTLE_MAX seconds; prints the seconds waited
settle() {
	local t0=$SECONDS c0 c1
	c0=$(awk '{ print $14 + $15 }' "/proc/$SRV/stat" 2>/dev/null) || { echo 0; return; }
	while [ $((SECONDS - t0)) -lt "$SETTLE_MAX" ]; do
		sleep 0.5
		c1=$(awk '{ print $14 + $15 }' "/proc/$SRV/stat" 2>/dev/null) || break
		[ $((c1 - c0)) -le $(($(getconf CLK_TCK) / 20)) ] && break
		c0=$c1
	done
	echo $((SECONDS - t0))
}

# $1 bench JSON, then keys (dotted for nested ones): their values, n/a
# where missing. "stall" = measured seconds in which no reply came at all.
jget() {
	"$PY" - "$@" <<'PYEOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    d = {}
out = []
for k in sys.argv[2:]:
    if k == "stall":
        tl = d.get("timeline")
        v = None if tl is None else sum(1 for t in tl if not t["warmup"] and t["ops_per_s"] == 0)
    else:
        v = d
        for part in k.split("."):
            v = v.get(part) if isinstance(v, dict) else None
    out.append("n/a" if v is None else str(v))
print(" ".join(out))
PYEOF
}

# the server under test: LABEL (zk|pd), NAME, SRV (its pid), PORT, DIR
NSTART=0
# starts LABEL fresh (new dataDir, new port), sets up the probe's keys and,
# the first time, runs JIT_WARM seconds of closed-loop mix. 1 if it never
# answered.
server_up() {
	NSTART=$((NSTART + 1))
	DIR=$WORK/$LABEL.$NSTART
	PORT=$(free_port)
	write_cfg "$DIR" "$PORT"
	if [ "$LABEL" = zk ]; then start_zk "$DIR"; else start_paddockd "$DIR"; fi
	SRV=${SRV_PIDS##* }
	if ! wait_ready "$PORT"; then
		echo "overload.sh: $NAME did not answer on port $PORT; see below" >&2
		tail -5 "$DIR/out.log" >&2
		stop_server
		return 1
	fi
	timeout -k 5 30 taskset -c "$PROBE_CPU" "$BENCH" -p "$PORT" -W get -c 1 -w 1 -k 100 \
		--prefix /ovl-probe -d 100ms --warmup 0 -q >/dev/null 2>&1 ||
		echo "overload.sh: $NAME: the probe's setup failed" >&2
	if [ "$NSTART" = 1 ] && [ "$JIT_WARM" != 0 ]; then
		timeout -k 5 $((JIT_WARM + 30)) taskset -c "$BENCH_CPU" "$BENCH" -p "$PORT" -W mix:0.5 \
			-c "$CONNS" -w "$WINDOW" -k "$KEYS" -s "$VALUE" --prefix /ovl-warm -d "$JIT_WARM" \
			--warmup 0 -q >/dev/null 2>&1 || echo "overload.sh: $NAME: the warm-up run failed" >&2
		settle >/dev/null
	fi
	return 0
}

# $1 row ("cap" or the multiple of capacity), $2 workload, $3 rate (0:
# closed loop). Runs the load, the probe and the memory sampler together,
# appends the row to $WORK/rows and sets RUN_TPUT (replies/s) and RUN_OK
# (0 when the server hung or died: it has been restarted).
run_load() {
	local row=$1 w=$2 rate=$3 tag="$WORK/$LABEL.$2.$1" args dur m_pid p_pid rc prc
	local peak hwm notes= waited offered tput errs unans cfail stall cpu pops pp50 pp99 pmax perrs punans pcfail plag
	local st0 sv0 sv1 others
	if [ "$rate" = 0 ]; then
		dur=$CAP_DUR args="-w $WINDOW"
	else
		dur=$DUR args="-w $OVL_WINDOW -r $rate"
	fi
	wait_idle
	: >"$tag.rss"
	echo 5 >"/proc/$SRV/clear_refs" 2>/dev/null # VmHWM := VmRSS
	st0=$(head -1 /proc/stat)
	sv0=$(proc_cpu "$SRV")
	rss_sampler "$SRV" "$tag.rss" &
	SAMPLER=$!
	# the bench drains at most 3 s, then closes within 2 s
	timeout -k 5 $((WARMUP + dur + 25)) /usr/bin/time -f "%U %S" -o "$tag.time" \
		taskset -c "$BENCH_CPU" "$BENCH" -p "$PORT" -W "$w" \
		-c "$CONNS" $args -k "$KEYS" -s "$VALUE" --prefix "/ovl-$w" --warmup "$WARMUP" -d "$dur" \
		--json -q >"$tag.json" 2>"$tag.err" &
	m_pid=$!
	timeout -k 5 $((WARMUP + dur + 25)) $PROBE_PRIO /usr/bin/time -f "%U %S" -o "$tag.probe.time" \
		taskset -c "$PROBE_CPU" "$BENCH" -p "$PORT" -W get -c 1 \
		-w 1m -r "$PROBE_RATE" -k 100 --prefix /ovl-probe --no-setup --warmup "$WARMUP" -d "$dur" \
		--json -q >"$tag.probe.json" 2>"$tag.probe.err" &
	p_pid=$!
	wait "$m_pid"
	rc=$?
	wait "$p_pid"
	prc=$?
	kill "$SAMPLER" 2>/dev/null
	wait "$SAMPLER" 2>/dev/null
	SAMPLER=
	sv1=$(proc_cpu "$SRV")
	# CPUs' worth used by anything but the server, the bench and the probe
	others=$(cpu_between "$st0" "$(head -1 /proc/stat)" | awk -v s="$sv1" -v s0="$sv0" \
		-v b="$(awk '{ print $1 + $2 }' "$tag.time" 2>/dev/null | tail -1)" \
		-v p="$(awk '{ print $1 + $2 }' "$tag.probe.time" 2>/dev/null | tail -1)" \
		'{ printf "%.2f\n", ($1 - (s - s0) - b - p) / ($2 + 1e-9) }')
	hwm=$(status_kb "$SRV" VmHWM)
	peak=$(cat "$tag.rss" 2>/dev/null)
	[ -n "$hwm" ] && [ "$hwm" -gt "${peak:-0}" ] && peak=$hwm

	read -r offered tput errs unans cfail stall cpu <<<"$(jget "$tag.json" offered throughput errors \
		unanswered connection_failures stall client_cpu)"
	read -r pops pp50 pp99 pmax perrs punans pcfail plag <<<"$(jget "$tag.probe.json" ops latency_us.p50 \
		latency_us.p99 latency_us.max errors unanswered connection_failures send_lag_us.max)"
	[ "$pops" = 0 ] && pp50=- pp99=- pmax=- # not one probe reply
	RUN_TPUT=$tput
	RUN_OK=1
	if ! alive "$SRV"; then
		notes="DIED"
		RUN_OK=0
	elif ! answers "$PORT"; then
		# three tries of 5 s: a server that is only slow answers a later one
		if answers "$PORT" || answers "$PORT"; then
			notes="slow to answer after"
		else
			notes="HUNG"
			RUN_OK=0
		fi
	fi
	if [ "$RUN_OK" = 1 ]; then
		waited=$(settle)
		[ "$waited" -ge "$SETTLE_MAX" ] && notes="$notes busy ${waited}s after"
	fi
	case $rc in 0) ;; 124 | 137) notes="$notes bench timeout" ;;
	*) notes="$notes bench rc $rc" ;; esac
	case $prc in 0) ;; 124 | 137) notes="$notes probe timeout" ;;
	*) notes="$notes probe rc $prc" ;; esac
	[ "$stall" != n/a ] && [ "$stall" -gt 0 ] && notes="$notes no reply ${stall}s"
	[ "$cfail" != n/a ] && [ "$cfail" -gt 0 ] && notes="$notes $cfail conn failed"
	[ "$perrs" != n/a ] && [ "$perrs" -gt 0 ] && notes="$notes probe errors $perrs"
	[ "$punans" != n/a ] && [ "$punans" -gt 0 ] && notes="$notes probe unanswered $punans"
	[ "$pcfail" != n/a ] && [ "$pcfail" -gt 0 ] && notes="$notes probe conn failed"
	# the generator could not send at the rate asked (one CPU's worth)
	awk -v r="$rate" -v o="$offered" 'BEGIN { exit !(r > 0 && o != "n/a" && o < 0.95 * r) }' &&
		notes="$notes bench sent $(awk -v r="$rate" -v o="$offered" 'BEGIN { printf "%.0f", 100 * o / r }')% of rate"
	awk -v c="$cpu" 'BEGIN { exit !(c != "n/a" && c > 0.9) }' && notes="$notes bench CPU $cpu"
	awk -v o="$others" 'BEGIN { exit !(o > 0.15) }' && notes="$notes others used $others CPU"
	awk -v l="$plag" 'BEGIN { exit !(l != "n/a" && l > 1000) }' &&
		notes="$notes probe sent up to $(awk -v l="$plag" 'BEGIN { printf "%.1f", l / 1000 }')ms late"
	[ -n "$RSS_BOUND_MB" ] && [ -n "$peak" ] && [ "$peak" -gt $((RSS_BOUND_MB * 1024)) ] &&
		notes="$notes RSS over ${RSS_BOUND_MB} MB"
	[ "$rate" = 0 ] && offered=closed
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$NAME" "$w" "$row" "$offered" \
		"$tput" "$errs" "$unans" "$pp50" "$pp99" "$pmax" "${peak:-n/a}" "${notes# }" \
		>>"$WORK/rows"
	if [ "$RUN_OK" = 0 ]; then
		echo "overload.sh: $NAME $notes after $w at $row; restarting it fresh" >&2
		stop_server
		server_up || return 1
	fi
	return 0
}

# $1 label, $2 name: every run against one server
measure() {
	LABEL=$1 NAME=$2 NSTART=0
	local busy w x cap
	busy=$(machine_busy)
	[ "$busy" -gt 10 ] &&
		echo "overload.sh: before $NAME, ${busy}% of the machine's CPU was in use by other processes: expect low numbers" >&2
	echo "$NAME: machine ${busy}% busy before start" >>"$WORK/notes"
	if ! server_up; then
		printf '%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\tdid not start\n' "$NAME" >>"$WORK/rows"
		return
	fi
	for w in $WORKLOADS; do
		run_load cap "$w" 0 || return
		cap=$RUN_TPUT
		if [ "$RUN_OK" = 0 ] || ! awk -v c="$cap" 'BEGIN { exit !(c + 0 > 0) }'; then
			echo "overload.sh: $NAME: no capacity for $w; its open-loop runs are skipped" >&2
			continue
		fi
		for x in $LOADS; do
			run_load "${x}x" "$w" "$(awk -v c="$cap" -v x="$x" 'BEGIN { printf "%.0f", c * x }')" || return
		done
	done
	stop_server
}

T0=$SECONDS
echo "== paddock overload: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) cpu(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
	"kernel $(uname -r), $(java -version 2>&1 | head -1)"
echo "how: one server at a time, started fresh, pinned to cpu $SERVER_CPU; load and probe on cpu"\
	"$BENCH_CPU / $PROBE_CPU (taskset); zoo.cfg forceSync=yes, dataDir under $WORK"\
	"($(df -T "$WORK" | awk 'NR==2{print $2}')); ${JIT_WARM}s closed-loop mix first"
echo "load: paddock-bench -c $CONNS -k $KEYS -s $VALUE; capacity = closed loop -w $WINDOW, ${WARMUP}s + ${CAP_DUR}s;"\
	"then open loop --rate (load x capacity) -w $OVL_WINDOW, ${WARMUP}s + ${DUR}s"
echo "probe: ${PROBE_PRIO:+$PROBE_PRIO }paddock-bench -W get -c 1 --rate $PROBE_RATE (open loop) on its own prefix, same interval"
echo

if [ "${SKIP_ZK:-0}" != 1 ]; then
	measure zk zookeeper
fi
if [ "${SKIP_PADDOCK:-0}" != 1 ]; then
	if [ -x "$PADDOCKD" ]; then
		measure pd paddockd
	else
		echo "overload.sh: $PADDOCKD not built" >&2
	fi
fi

printf '%-9s | %-4s | %-4s | %10s | %10s | %6s | %9s | %9s %9s %9s | %8s | %s\n' server op load \
	"offered/s" "achieved/s" errors unanswered "probe p50" p99 max "peak RSS" notes
printf -- '----------+------+------+------------+------------+--------+-----------+-------------------------------+----------+------\n'
[ -f "$WORK/rows" ] && while IFS=$'\t' read -r name w row off tput errs unans p50 p99 pmax peak notes; do
	awk -v name="$name" -v w="$w" -v row="$row" -v off="$off" -v tput="$tput" -v errs="$errs" \
		-v unans="$unans" -v p50="$p50" -v p99="$p99" -v pmax="$pmax" -v peak="$peak" -v notes="$notes" '
	function n(v) { return (v == "n/a" || v == "-" || v == "closed") ? v : sprintf("%.0f", v) }
	function ms(v) { return (v == "n/a" || v == "-") ? v : sprintf("%.2fms", v / 1000) }
	BEGIN {
		mb = (peak == "n/a" || peak == "-") ? peak : sprintf("%.0f MB", peak / 1024);
		printf "%-9s | %-4s | %-4s | %10s | %10s | %6s | %9s | %9s %9s %9s | %8s | %s\n", name, w, row,
			n(off), n(tput), errs, unans, ms(p50), ms(p99), ms(pmax), mb, notes }'
done <"$WORK/rows"
echo
echo "load: cap = the closed-loop run that measured capacity; Nx = open loop at N times it."
echo "offered/s: requests sent per second of the measured interval; achieved/s: replies received"\
	"in it (whatever their send time); errors: error replies; unanswered: sent in the interval and"\
	"still without a reply when the bench stopped (3 s after it): the backlog; probe: latency from"\
	"the intended send time; peak RSS: the server's, in the run."
[ -n "$RSS_BOUND_MB" ] && echo "RSS bound: $RSS_BOUND_MB MB"
[ -f "$WORK/notes" ] && cat "$WORK/notes"
echo "took $((SECONDS - T0)) s"
