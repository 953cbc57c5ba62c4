#!/usr/bin/env bash
# Long fuzzing mode: build the libFuzzer targets with clang (ASan+UBSan)
# and run each for a set time.
#
#   tests/fuzz/run-fuzzers.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to $FUZZ_SECONDS or 300; targets default to
# all (config jute sequencer conn recover).  Build dir: $FUZZ_BUILD (default
# /tmp/build-fuzz).  Each target starts from its checked-in seeds
# (tests/fuzz/corpus/<t>, read only) plus a work corpus in
# $FUZZ_WORK/<t> (default /tmp/paddock-fuzz/<t>) that grows across runs;
# crash/leak/timeout inputs land in $FUZZ_WORK/artifacts/.  To keep new
# interesting inputs, minimise them into the checked-in corpus:
#   $FUZZ_BUILD/tests/fuzz/fuzz_<t> -merge=1 tests/fuzz/corpus/<t> \
#       $FUZZ_WORK/<t>
# (keep the files small: -max_len=4096).  Exit status 1 if any target
# found something.
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-${FUZZ_SECONDS:-300}}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config jute sequencer conn recover)
build=${FUZZ_BUILD:-/tmp/build-fuzz}
work=${FUZZ_WORK:-/tmp/paddock-fuzz}
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null ||
		exit 1
fi
ninja -C "$build" >/dev/null || { ninja -C "$build"; exit 1; }
mkdir -p "$work/artifacts"
rc=0
for t in "${targets[@]}"; do
	mkdir -p "$work/$t"
	echo "== fuzz_$t for ${secs}s"
	# -timeout: the targets abort on their own after 10 s without a
	# reply; -rss_limit_mb: fuzz_conn keeps a live server (reset every
	# 20000 inputs)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	"$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=4096 \
		-timeout=25 -rss_limit_mb=4096 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/${t}-" \
		"$work/$t" "tests/fuzz/corpus/$t" \
		>"$work/$t.log" 2>&1
	st=$?
	grep -E '^#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb' \
		"$work/$t.log"
	if [ $st -ne 0 ]; then
		echo "fuzz_$t: FOUND SOMETHING (status $st), see $work/$t.log"
		grep -E 'ERROR|SUMMARY|Test unit written' "$work/$t.log" | head
		rc=1
	fi
done
exit $rc
