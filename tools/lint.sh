#!/usr/bin/env bash
# Static analysis of paddock's C sources: cppcheck and clang-tidy with the
# checked-in configuration.  Exit status 1 if either reports anything.
#
#   tools/lint.sh            # both
#   tools/lint.sh cppcheck   # one of them
#   tools/lint.sh clang-tidy
#
# Configuration:
#   .clang-tidy                checks (and why some are off)
#   tools/lint/urcu.cfg        cppcheck definitions of liburcu macros
#   tools/lint/cppcheck.supp   cppcheck suppressions, each with its reason;
#                              one-off ones are inline
#                              (// cppcheck-suppress id) next to the code
# clang-tidy needs a compile database from a clang build; it uses
# $LINT_BUILD (default /tmp/build-lint, configured with CC=clang if
# missing).  cppcheck runs with --enable=warning,performance,portability
# (its "style" class is mostly false positives on this code base).
set -uo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
jobs=${LINT_JOBS:-2}
build=${LINT_BUILD:-/tmp/build-lint}
rc=0

# every C file of the project: libraries, tools, tests
mapfile -t files < <(find tree config consensus dataplane log tools tests \
	-name '*.c' -not -path '*/build*' | sort)

if [ "$what" = all ] || [ "$what" = cppcheck ]; then
	echo "== cppcheck ($(cppcheck --version)) on ${#files[@]} files"
	out=$(cppcheck --enable=warning,performance,portability \
		--library=tools/lint/urcu.cfg --inline-suppr \
		--suppressions-list=tools/lint/cppcheck.supp \
		--std=c11 -D_GNU_SOURCE -I. --quiet -j"$jobs" \
		--template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
		"${files[@]}" 2>&1)
	if [ -n "$out" ]; then
		echo "$out"
		echo "cppcheck: findings above"
		rc=1
	else
		echo "cppcheck: clean"
	fi
fi

if [ "$what" = all ] || [ "$what" = clang-tidy ]; then
	if [ ! -f "$build/compile_commands.json" ]; then
		CC=clang meson setup "$build" >/dev/null || exit 1
	fi
	# the build generates no headers, so the database alone will do; it
	# is cut to one entry per file (clang-tidy checks a file once per
	# entry: replay_main.c is in every fuzz target's)
	db=$(mktemp -d /tmp/paddock-lint-db.XXXXXX)
	tidy=$(command -v clang-tidy || command -v clang-tidy-14)
	echo "== $("$tidy" --version | grep -m1 version) on ${#files[@]} files"
	# only files in the compile database (with their real flags)
	mapfile -t dbfiles < <(/usr/bin/python3 - "$build" "$PWD" "$db" <<'PY'
import json, os, sys
build, top, db = sys.argv[1], sys.argv[2], sys.argv[3]
seen, entries = set(), []
for e in json.load(open(os.path.join(build, "compile_commands.json"))):
    f = os.path.normpath(os.path.join(e["directory"], e["file"]))
    if f.startswith(top + "/") and f not in seen:
        seen.add(f)
        entries.append(e)
        print(os.path.relpath(f, top))
json.dump(entries, open(os.path.join(db, "compile_commands.json"), "w"))
PY
)
	out=$(printf '%s\n' "${dbfiles[@]}" | xargs -P"$jobs" -n1 \
		"$tidy" -p "$db" --quiet --use-color=false 2>/dev/null |
		grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' | sort -u)
	rm -rf "$db"
	if [ -n "$out" ]; then
		echo "$out"
		echo "clang-tidy: $(echo "$out" | wc -l) findings above"
		rc=1
	else
		echo "clang-tidy: clean (${#dbfiles[@]} files)"
	fi
fi
exit $rc
