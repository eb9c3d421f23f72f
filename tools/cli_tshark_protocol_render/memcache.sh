#!/usr/bin/env bash
# memcache.sh PCAP [PORT]: the memcached commands and replies on TCP or UDP
# port PORT (default 11211), whole, with their time, addresses, pid and fd.
# Output format: see payloads.sh.
set -euo pipefail
source "$(dirname "$0")/common.sh"
pcap_and_port "${0##*/}" 11211 "$@"
exec "$render_dir/payloads.sh" "$pcap" "tcp.port == $port || udp.port == $port"
