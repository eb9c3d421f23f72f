#!/usr/bin/env bash
# payloads.sh PCAP DISPLAY_FILTER [TSHARK_OPTION...]
#
# Print the application payload of every packet of PCAP that matches the
# tshark DISPLAY_FILTER, whole (not cut as Wireshark's panes cut it):
#
#   TIME SRC:PORT > DST:PORT pid PID fd FD LENGTH bytes
#   the payload: printable ASCII, tab, CR and LF as they are, other bytes as \xHH
#
# "pid PID fd FD" comes from py_strace2pcap's MAC/VLAN encoding (README, "What
# is in the pcap") and is left out for other captures.  Extra arguments go to
# tshark (e.g. -d tcp.port==7000,http).  The per-protocol renderers here are
# this with a port filter.
set -euo pipefail
source "$(dirname "$0")/common.sh"

if [ $# -lt 2 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    echo "usage: ${0##*/} PCAP DISPLAY_FILTER [TSHARK_OPTION...]" >&2
    exit 2
fi
pcap_and_port "${0##*/}" 0 "$1"
filter=$2
shift 2
packet_fields "$filter" "$@" |
    LC_ALL=C awk -F '\t' -f "$render_dir/packet.awk" -f "$render_dir/payloads.awk"
