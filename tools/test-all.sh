#!/usr/bin/env bash
# Build paddock and run every test suite: cmocka unit tests (meson test)
# and the integration tests (pytest, real paddockd + real clients, and
# Apache ZooKeeper 3.8 for side-by-side comparisons).
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh || exit 1
[ -f build/build.ninja ] || meson setup build >/dev/null || exit 1
ninja -C build >/dev/null || { ninja -C build; exit 1; }
rc=0
meson test -C build --suite unit --print-errorlogs || rc=1
PADDOCK_BUILD="$PWD/build" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
	tests/integration || rc=1
exit $rc
