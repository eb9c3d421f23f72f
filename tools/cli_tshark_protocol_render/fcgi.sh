#!/usr/bin/env bash
# fcgi.sh PCAP [PORT]: the FastCGI records between a web server and a FastCGI
# application such as php-fpm on TCP port PORT (default 9000), decoded: per
# packet a header line (as payloads.sh), then each record with its type and
# request id, PARAMS as NAME = VALUE lines, STDIN/STDOUT/STDERR as text.
set -euo pipefail
source "$(dirname "$0")/common.sh"
pcap_and_port "${0##*/}" 9000 "$@"
packet_fields "tcp.port == $port" |
    LC_ALL=C awk -F '\t' -f "$render_dir/packet.awk" -f "$render_dir/fcgi.awk"
