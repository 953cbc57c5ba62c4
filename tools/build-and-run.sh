#!/usr/bin/env bash
# Build paddock (installing Debian packages) and start a standalone server
# on 127.0.0.1:2181 with data under ./data.  Extra arguments go to paddockd
# (e.g. a zoo.cfg path).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
exec build/tools/paddockd "$@"
