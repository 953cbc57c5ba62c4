#!/usr/bin/env bash
# Build paddock and run every test suite: cmocka unit tests (meson test),
# the JUnit 5 suite (tests/java/run.py: the Java client and Curator),
# kazoo's own test suite (tests/kazoo), then the integration and fault
# tests (pytest, real paddockd + real clients, and Apache ZooKeeper 3.8
# for side-by-side comparisons).
#
# Also, always: the fuzz corpus replay (suite 'fuzz', tests/fuzz) in the
# normal build; an ASan+UBSan build with -Werror (build/asan) that runs
# the unit tests, the corpus replay and the integration and fault tests
# against its paddockd; a TSan build with -Werror (build/tsan) that runs
# the unit tests and the integration tests against its paddockd (the two
# integration runs at the same time).  Any sanitizer report fails the
# run.
#
# Optional stages (environment variables):
#   PADDOCK_CLANG=1        clang build with -Werror (build/clang) + unit
#                          tests and corpus replay
#   PADDOCK_LINT=0         skip tools/lint.sh (cppcheck + clang-tidy,
#                          zero findings; on by default, ~40 s)
#   PADDOCK_FUZZ_SECONDS=N run each libFuzzer target N seconds
#                          (tests/fuzz/run-fuzzers.sh; needs clang)
set -uo pipefail
cd "$(dirname "$0")/.."
export PADDOCK_LINT=${PADDOCK_LINT:-1} # deps.sh then installs the linters
bash tools/deps.sh || exit 1
[ -f build/build.ninja ] || meson setup build >/dev/null || exit 1
ninja -C build >/dev/null || { ninja -C build; exit 1; }
rc=0
meson test -C build --suite unit --suite fuzz --suite sim --print-errorlogs || rc=1

# pytest suites against a sanitizer build's paddockd: $1 label, $2 build
# dir, then pytest arguments up to "--", then VAR=value settings, where
# "@R" stands for a fresh report directory (log_path=@R/asan ...).
# Reports are printed; the status is 1 if pytest failed or any report
# was written.
sanitized_integration() {
	local label=$1 dir=$2 reports status=0 args=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	reports=$(mktemp -d /tmp/paddock-san-reports.XXXXXX)
	echo "== ${args[*]} against the $label paddockd ($dir)"
	env "${@//@R/$reports}" PADDOCK_BUILD="$PWD/$dir" /usr/bin/python3 \
		-m pytest -q -p no:cacheprovider "${args[@]}" || status=1
	if compgen -G "$reports/*" >/dev/null; then
		echo "$label reports from the integration run:"
		cat "$reports"/*
		status=1
	else
		echo "no $label reports"
	fi
	rm -rf "$reports"
	return $status
}

# Both sanitizer builds first, with their unit tests; then their
# integration suites at the same time: each keeps well under one of the
# two CPUs busy (servers, clients and ZooKeeper mostly wait on each
# other), so together they take the time of the longer one.
#
# ASan+UBSan, -Werror (gcc): unit tests, the fuzz corpus replay, then
# the integration and fault suites.  UBSan aborts on the first finding
# (halt_on_error); leaks are errors.
san_env=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	 UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1)
asan=build/asan asan_ok=0
echo "== ASan+UBSan build (-Werror): $asan"
if [ ! -f $asan/build.ninja ]; then
	meson setup $asan -Db_sanitize=address,undefined -Dwerror=true \
		>/dev/null || exit 1
fi
if ninja -C $asan >/dev/null || { ninja -C $asan; false; }; then
	asan_ok=1
	env "${san_env[@]}" meson test -C $asan --suite unit --suite fuzz \
		--print-errorlogs || rc=1
else
	rc=1
fi

# TSan, -Werror (gcc): unit tests, then the integration suite without
# the DPDK and TAP files (their stack is single-threaded, and they
# busy-poll: the ASan run and the normal one run them).  Neither
# sanitizer run has test_admin_ensemble.py: six servers for JSON shapes
# whose code (dataplane/commands.c) test_admin.py runs under both.  The
# ASan run has one of test_churn.py's three variants (all paddockd, with
# wiped disks): the other two spend their time in ZooKeeper's JVMs, and
# the normal run has them.  liburcu is not
# instrumented: the unit tests and paddockd link tests/tsan/urcu_tsan.c,
# which shows TSan its happens-before edges, and tools/tsan.supp lists
# (with reasons) what is left.  Any report fails the run (unit tests:
# halt_on_error, exit code 66; paddockd: its report files).
tsan=build/tsan tsan_ok=0
echo "== TSan build (-Werror): $tsan"
if [ ! -f $tsan/build.ninja ]; then
	meson setup $tsan -Db_sanitize=thread -Dwerror=true >/dev/null ||
		exit 1
fi
# history_size=7: keep enough history that the earlier access of a
# report has its stack, which the suppressions match against
tsan_opts="history_size=7:second_deadlock_stack=1:suppressions=$PWD/tools/tsan.supp"
if ninja -C $tsan >/dev/null || { ninja -C $tsan; false; }; then
	tsan_ok=1
	env TSAN_OPTIONS="halt_on_error=1:$tsan_opts" \
		meson test -C $tsan --suite unit --print-errorlogs || rc=1
else
	rc=1
fi

tsan_out=$(mktemp /tmp/paddock-tsan-run.XXXXXX)
tsan_pid=
if [ $tsan_ok = 1 ]; then
	sanitized_integration TSan $tsan tests/integration \
		--ignore=tests/integration/test_dpdk.py \
		--ignore=tests/integration/test_net_tcp.py \
		--ignore=tests/integration/test_admin_ensemble.py -- \
		TSAN_OPTIONS="$tsan_opts:log_path=@R/tsan" >"$tsan_out" 2>&1 &
	tsan_pid=$!
fi
if [ $asan_ok = 1 ]; then
	sanitized_integration ASan+UBSan $asan tests/integration tests/fault \
		--ignore=tests/integration/test_admin_ensemble.py \
		--deselect tests/fault/test_churn.py::test_zookeeper_members_agree_node_by_node_after_churn \
		-- ASAN_OPTIONS=detect_leaks=1:log_path=@R/asan \
		UBSAN_OPTIONS=print_stacktrace=1:log_path=@R/ubsan || rc=1
fi
if [ -n "$tsan_pid" ]; then
	wait "$tsan_pid" || rc=1
	cat "$tsan_out"
fi
rm -f "$tsan_out"

if [ "${PADDOCK_CLANG:-0}" = 1 ]; then
	echo "== clang build (-Werror): build/clang"
	[ -f build/clang/build.ninja ] || CC=clang meson setup build/clang \
		-Dwerror=true >/dev/null || exit 1
	if ninja -C build/clang >/dev/null || { ninja -C build/clang; false; }
	then
		meson test -C build/clang --suite unit --suite fuzz \
			--print-errorlogs || rc=1
	else
		rc=1
	fi
fi

if [ "$PADDOCK_LINT" = 1 ]; then
	echo "== static analysis (tools/lint.sh)"
	LINT_BUILD="$PWD/build/lint" bash tools/lint.sh || rc=1
fi

if [ -n "${PADDOCK_FUZZ_SECONDS:-}" ]; then
	FUZZ_BUILD="$PWD/build/fuzz" bash tests/fuzz/run-fuzzers.sh \
		"$PADDOCK_FUZZ_SECONDS" || rc=1
fi
# The JUnit 5 suite (tests/java): the Java client and Curator against
# ZooKeeper 3.8 and paddockd in one run, per-case outcomes compared; its
# last line counts the cases run against each server.
PADDOCK_BUILD="$PWD/build" /usr/bin/python3 tests/java/run.py || rc=1
# kazoo's own test suite (Debian's python3-kazoo ships it as kazoo.tests)
# on the 3-server ensembles its harness writes zoo.cfg files for, each
# server a paddockd (tests/kazoo/paddock_harness.py); what paddockd does
# not do is a strict xfail there.  (Under the same harness, ZooKeeper 3.8
# itself fails 8 of its timing-bound cases here; paddockd none.)
PYTHONPATH=tests/kazoo PADDOCK_BUILD="$PWD/build" /usr/bin/python3 -m pytest \
	-q -p no:cacheprovider -p paddock_harness --timeout=120 \
	--pyargs kazoo.tests || rc=1
# Last, so that the run ends with pytest's own summary line: the
# integration tests (real paddockd, kazoo, C client, zkCli, ZooKeeper side
# by side), the fault tests (kill -9, torn logs, a full disk) and the
# Debian package (tests/package: built, linted, installed, run, purged;
# as root only, since it installs it).
pkg=()
[ "$(id -u)" = 0 ] && pkg=(tests/package)
PADDOCK_BUILD="$PWD/build" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
	tests/integration tests/fault tests/lincheck "${pkg[@]}" || rc=1
exit $rc
