#!/usr/bin/env bash
# statsd.sh PCAP [PORT]: every StatsD datagram to or from UDP port PORT
# (default 8125), one packet after another, with its time, addresses, pid and fd.
# Output format: see payloads.sh.
set -euo pipefail
source "$(dirname "$0")/common.sh"
pcap_and_port "${0##*/}" 8125 "$@"
exec "$render_dir/payloads.sh" "$pcap" "udp.port == $port"
