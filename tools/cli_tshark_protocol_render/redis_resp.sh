#!/usr/bin/env bash
# redis_resp.sh PCAP [PORT]: the Redis RESP commands and replies on TCP port
# PORT (default 6379), whole, with their time, addresses, pid and fd.
# Output format: see payloads.sh.
set -euo pipefail
source "$(dirname "$0")/common.sh"
pcap_and_port "${0##*/}" 6379 "$@"
exec "$render_dir/payloads.sh" "$pcap" "tcp.port == $port"
