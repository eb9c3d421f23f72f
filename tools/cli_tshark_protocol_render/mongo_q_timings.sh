#!/usr/bin/env bash
# mongo_q_timings.sh PCAP [PORT]: MongoDB query latencies on TCP port PORT
# (default 27017): each query paired with its reply (same connection, reply's
# responseTo == query's requestID), one line per pair:
#
#   QUERY_TIME REPLY_TIME LATENCY_SECONDS CLIENT > SERVER COMMAND QUERY
#
# Sort by the third column for the slowest queries: | sort -k3,3 -rn
set -euo pipefail
source "$(dirname "$0")/common.sh"
pcap_and_port "${0##*/}" 27017 "$@"
tshark -n -r "$pcap" -d "tcp.port==$port,mongo" -Y "mongo && tcp.port == $port" -O frame,mongo |
    LC_ALL=C awk -v timings=1 -f "$render_dir/packet.awk" -f "$render_dir/mongo.awk"
