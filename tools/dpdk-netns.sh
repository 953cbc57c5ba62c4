#!/usr/bin/env bash
# dpdk-netns.sh up|down — the network configs/dpdk-af_packet.cfg serves:
# a veth pair whose end pd0 stays in this namespace with no address (the
# DPDK net_af_packet port reads it) and whose end pd1 sits in the network
# namespace paddock-client as 10.88.0.1/24, with transmit checksum
# offload off (otherwise the kernel leaves TCP checksums for a NIC to
# fill, and the DPDK stack, which checks them, drops every segment).
# `up` prints the address paddockd then answers at.  Root only.
#
# Environment (defaults in brackets): PADDOCK_NETNS [paddock-client],
# PADDOCK_IFACE [pd0], PADDOCK_PEER_IFACE [pd1], PADDOCK_NET [10.88.0]
# (a /24: .1 is the client end, .2 paddockd's), PADDOCK_CLIENT_PORT [2181].
set -euo pipefail
ns=${PADDOCK_NETNS:-paddock-client}
dev=${PADDOCK_IFACE:-pd0}
peer=${PADDOCK_PEER_IFACE:-pd1}
net=${PADDOCK_NET:-10.88.0}
port=${PADDOCK_CLIENT_PORT:-2181}

die() {
	echo "dpdk-netns.sh: $*" >&2
	exit 1
}

case "${1:-}" in
up)
	[ "$(id -u)" = 0 ] || die "needs root (ip netns, veth)"
	command -v ethtool >/dev/null || die "ethtool is missing (apt-get install ethtool)"
	ip netns list | grep -qw "$ns" && die "namespace $ns exists (run: $0 down)"
	ip link show "$dev" >/dev/null 2>&1 && die "interface $dev exists (run: $0 down)"
	ip netns add "$ns"
	ip link add "$dev" type veth peer name "$peer"
	ip link set "$peer" netns "$ns"
	ip -n "$ns" addr add "$net.1/24" dev "$peer"
	ip -n "$ns" link set "$peer" up
	ip -n "$ns" link set lo up
	ip netns exec "$ns" ethtool -K "$peer" tx off >/dev/null
	ip link set "$dev" up
	# no IPv6 chatter on the DPDK side's wire
	sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1" 2>/dev/null || true
	echo "$net.2:$port"
	;;
down)
	ip netns del "$ns" 2>/dev/null || true
	ip link del "$dev" 2>/dev/null || true
	;;
*)
	echo "usage: $0 up|down" >&2
	exit 2
	;;
esac
