#!/usr/bin/env bash
# Install the Debian 12 packages paddock needs to build and test (idempotent).
set -euo pipefail
pkgs=(build-essential meson ninja-build pkg-config libdpdk-dev dpdk-dev
      liburcu-dev libcmocka-dev libssl-dev zlib1g-dev libisal-dev zookeeper zookeeper-bin
      libmicrohttpd-dev libjansson-dev # admin/: the AdminServer, /metrics
      libsystemd-dev # paddockd: sd_notify for systemd's Type=notify
      libsasl2-dev libsasl2-modules # SASL DIGEST-MD5 (Cyrus and its plug-in)
      debhelper lintian # debian/: dpkg-buildpackage, tests/package
      prometheus # tests/integration/test_admin.py scrapes paddockd with it
      libzookeeper-mt-dev python3-kazoo python3-pytest python3-pytest-timeout
      python3-pure-sasl # kazoo's SASL (sasl_options)
      python3-mock python3-objgraph # kazoo's own suite (tests/kazoo)
      default-jre-headless default-jdk-headless netcat-openbsd gnuplot-nox
      liblwip-dev # tools/bench/stack-bench (lwIP against our own TCP)
      ethtool iproute2 # tools/dpdk-netns.sh: a veth without TX checksum offload
      libtsan2 # libtsan2: the TSan stage of tools/test-all.sh (gcc)
      # tests/java: JUnit 5, AssertJ and Curator (run.py compiles with javac)
      junit5 libassertj-core-java libcurator-client-java
      libcurator-framework-java libcurator-recipes-java libcurator-test-java
      libcurator-discovery-java)
# Optional stages of tools/test-all.sh, only when asked for.
if [ "${PADDOCK_LINT:-0}" = 1 ]; then
	pkgs+=(clang clang-tidy cppcheck) # tools/lint.sh
fi
if [ "${PADDOCK_CLANG:-0}" = 1 ] || [ -n "${PADDOCK_FUZZ_SECONDS:-}" ]; then
	pkgs+=(clang)
fi
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
