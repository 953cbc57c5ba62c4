#!/usr/bin/env bash
# Install the Debian 12 packages paddock needs to build and test (idempotent).
set -euo pipefail
pkgs=(build-essential meson ninja-build pkg-config libdpdk-dev dpdk-dev
      liburcu-dev libcmocka-dev libssl-dev zookeeper zookeeper-bin
      libzookeeper-mt-dev python3-kazoo python3-pytest python3-pytest-timeout
      default-jre-headless netcat-openbsd gnuplot-nox)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	echo "deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
