#!/usr/bin/env bash
# mongo.sh PCAP [PORT]: the MongoDB wire-protocol messages on TCP port PORT
# (default 27017), one line each: time, addresses, pid and fd, opcode,
# request id (and the request a reply answers), the BSON documents as
# {name: value, ...}, decoded by tshark's Mongo dissector.
set -euo pipefail
source "$(dirname "$0")/common.sh"
pcap_and_port "${0##*/}" 27017 "$@"
tshark -n -r "$pcap" -d "tcp.port==$port,mongo" -Y "mongo && tcp.port == $port" -O frame,mongo |
    LC_ALL=C awk -f "$render_dir/packet.awk" -f "$render_dir/mongo.awk"
