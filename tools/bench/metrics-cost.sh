#!/usr/bin/env bash
# metrics-cost.sh - what serving metrics costs the request path: paddockd
# with the Prometheus provider and the AdminServer off, then on with a
# scraper (curl, on the bench's CPU) fetching /metrics and
# /commands/monitor every SCRAPE_MS (1000: 15 times as often as
# Prometheus' usual 15 s), alternating ROUNDS times in one run,
# same workloads, same CPUs.  The counters behind the metrics are kept
# either way (per worker, no locked instruction); "on" adds the HTTP
# threads and the scrapes (each asks every worker a question, dp_ask).
#
# usage: tools/bench/metrics-cost.sh BUILD_DIR [DURATION_S]
#   env: ROUNDS (2) WORKLOADS ("get set") CONNS (16) WINDOW (32)
#        SERVER_CPU (1) BENCH_CPU (0) SCRAPE_MS (1000)
set -u
. "$(dirname "$0")/lib.sh"

BUILD=${1:?usage: metrics-cost.sh BUILD_DIR [DURATION_S]}
BUILD=$(cd "$BUILD" && pwd)
DUR=${2:-10}
ROUNDS=${ROUNDS:-2}
WORKLOADS=${WORKLOADS:-"get set"}
CONNS=${CONNS:-16}
WINDOW=${WINDOW:-32}
SERVER_CPU=${SERVER_CPU:-1}
BENCH_CPU=${BENCH_CPU:-0}
SCRAPE_MS=${SCRAPE_MS:-1000}
BENCH=$BUILD/tools/bench/paddock-bench
PADDOCKD=$BUILD/tools/paddockd
command -v curl >/dev/null || { echo "metrics-cost.sh: curl missing" >&2; exit 2; }

WORK=$(mktemp -d /tmp/paddock-metrics.XXXXXX)
SCRAPER=
cleanup() {
	[ -n "$SCRAPER" ] && kill "$SCRAPER" 2>/dev/null
	stop_server
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "== metrics on/off: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cpu(s)," \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "paddockd on cpu $SERVER_CPU, paddock-bench -c $CONNS -w $WINDOW -d ${DUR}s on cpu" \
	"$BENCH_CPU; on = Prometheus /metrics + AdminServer, scraped every ${SCRAPE_MS} ms"
printf '%-6s %-4s %5s | %12s %10s | %s\n' round mode load "ops/s" "p99 us" scrapes
for r in $(seq 1 "$ROUNDS"); do
	for mode in off on; do
		d=$WORK/$r-$mode
		port=$(free_port)
		write_cfg "$d" "$port"
		if [ $mode = on ]; then
			mport=$(free_port) aport=$(free_port)
			cat >>"$d/zoo.cfg" <<CFG
metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
metricsProvider.httpHost=127.0.0.1
metricsProvider.httpPort=$mport
admin.enableServer=true
admin.serverAddress=127.0.0.1
admin.serverPort=$aport
CFG
		fi
		start_paddockd "$d"
		wait_ready "$port" || { echo "metrics-cost.sh: paddockd did not start" >&2; tail "$d/out.log"; exit 1; }
		if [ $mode = on ]; then
			taskset -c "$BENCH_CPU" bash -c "n=0; while :; do
				curl -sf http://127.0.0.1:$mport/metrics >/dev/null &&
				curl -sf http://127.0.0.1:$aport/commands/monitor >/dev/null &&
				n=\$((n + 1)) && echo \$n >$d/scrapes
				sleep $(awk -v m="$SCRAPE_MS" 'BEGIN{print m/1000}')
			done" &
			SCRAPER=$!
		fi
		for w in $WORKLOADS; do
			taskset -c "$BENCH_CPU" "$BENCH" -p "$port" -W "$w" -t 1 -c "$CONNS" -w "$WINDOW" \
				-d "$DUR" --warmup 2 --csv -q --prefix "/mc-$w" >"$d/$w.csv" 2>"$d/$w.err"
			s=$(cat "$d/scrapes" 2>/dev/null || echo 0)
			printf '%-6s %-4s %5s | %12s %10s | %s\n' "$r" "$mode" "$w" \
				"$(tail -1 "$d/$w.csv" | cut -d, -f9)" "$(tail -1 "$d/$w.csv" | cut -d, -f12)" \
				"$([ $mode = on ] && echo "$s" || echo -)"
		done
		if [ -n "$SCRAPER" ]; then
			kill "$SCRAPER" 2>/dev/null
			wait "$SCRAPER" 2>/dev/null
			SCRAPER=
		fi
		stop_server
	done
done
