# lib.sh - shell pieces shared by compare.sh, largetree.sh and overload.sh
# (sourced).

# a free TCP port on 127.0.0.1
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# $1 dir, $2 port: the zoo.cfg both servers get (forceSync=yes is the
# ZooKeeper default, written out so nobody wonders; snapCount is left at
# its default of 100000)
write_cfg() {
	mkdir -p "$1/data"
	cat >"$1/zoo.cfg" <<CFG
tickTime=2000
dataDir=$1/data
clientPort=$2
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=yes
admin.enableServer=false
4lw.commands.whitelist=*
CFG
	# EXTRA_CFG: more zoo.cfg lines for both servers, e.g.
	# EXTRA_CFG='globalOutstandingLimit=100000' (\n between lines)
	[ -z "${EXTRA_CFG:-}" ] || printf '%b\n' "$EXTRA_CFG" >>"$1/zoo.cfg"
}

# $1 pid: the process exists and is not a zombie (a server the script
# started stays a zombie until it is waited for)
alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# --- servers, started the way compare.sh and overload.sh start them
# (largetree.sh has its own single-server start and stop, for its timed
# restarts). The caller sets SERVER_CPU, BENCH, PADDOCKD and ZKCP; the
# servers running are SRV_PIDS.
SRV_PIDS=

# $1 dir: one ZooKeeper server on $1/zoo.cfg, pinned to SERVER_CPU
start_zk() {
	taskset -c "$SERVER_CPU" java -Dzookeeper.log.dir="$1" -Dzookeeper.root.logger=WARN,CONSOLE \
		-cp "$ZKCP" org.apache.zookeeper.server.quorum.QuorumPeerMain "$1/zoo.cfg" \
		>"$1/out.log" 2>&1 &
	SRV_PIDS="$SRV_PIDS $!"
}

# $1 dir: paddockd on $1/zoo.cfg, pinned to SERVER_CPU
start_paddockd() {
	taskset -c "$SERVER_CPU" "$PADDOCKD" "$1/zoo.cfg" >"$1/out.log" 2>&1 &
	SRV_PIDS="$SRV_PIDS $!"
}

# stops every server: SIGTERM, and SIGKILL for one still running
# STOP_TIMEOUT (30) seconds later (a hung server)
stop_server() {
	local p end=$((SECONDS + ${STOP_TIMEOUT:-30}))
	for p in $SRV_PIDS; do kill "$p" 2>/dev/null; done
	for p in $SRV_PIDS; do
		while alive "$p" && [ $SECONDS -lt $end ]; do sleep 0.1; done
		if alive "$p"; then
			echo "$(basename "$0"): server $p did not stop on SIGTERM; kill -9" >&2
			kill -9 "$p" 2>/dev/null
		fi
		# bash reports a job killed by a signal when it reaps it: not news
		{ wait "$p"; } 2>/dev/null
	done
	SRV_PIDS=
}

# $1 work dir, $2 label, $3 start function (start_zk, start_paddockd): a
# 3-server ensemble on loopback in $1/<label>1..3, server.N lines with
# fresh quorum and election ports, each member the standalone zoo.cfg
# plus them and its myid.  ENS_SERVERS gets their client addresses
# (host:port,...), as paddock-bench --servers takes them.
start_ensemble() {
	local work=$1 label=$2 start=$3 members= i port
	ENS_SERVERS=
	for i in 1 2 3; do
		members="${members}server.$i=127.0.0.1:$(free_port):$(free_port)
"
	done
	for i in 1 2 3; do
		port=$(free_port)
		ENS_SERVERS="$ENS_SERVERS${ENS_SERVERS:+,}127.0.0.1:$port"
		write_cfg "$work/$label$i" "$port"
		printf 'initLimit=10\nsyncLimit=5\n%s' "$members" >>"$work/$label$i/zoo.cfg"
		echo "$i" >"$work/$label$i/data/myid"
		"$start" "$work/$label$i"
	done
}

# $1 port: waits until every server runs and the port answers a session
# (paddock-bench's own setup path; an ensemble member answers only once
# it is in a quorum), at most about 30 s
wait_ready() {
	local port=$1 i p
	for i in $(seq 1 150); do
		for p in $SRV_PIDS; do alive "$p" || return 1; done
		if answers "$port"; then return 0; fi
		sleep 0.2
	done
	return 1
}

# $1 port: a fresh session there gets an exists answered within 5 s
answers() {
	timeout -k 1 5 "$BENCH" -p "$1" -W exists -c 1 -w 1 -d 100ms --warmup 0 -q --no-setup \
		--prefix /zookeeper >/dev/null 2>&1
}
