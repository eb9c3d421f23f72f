#!/usr/bin/env bash
# statsd.sh PCAP [PORT]: the StatsD metrics (UDP datagrams to or from PORT)
# (PORT defaults to 8125), whole, with their time, addresses, pid and fd.
# Output format: see payloads.sh.
set -euo pipefail
source "$(dirname "$0")/common.sh"
pcap_and_port "${0##*/}" 8125 "$@"
exec "$render_dir/payloads.sh" "$pcap" "udp.port == $port"
