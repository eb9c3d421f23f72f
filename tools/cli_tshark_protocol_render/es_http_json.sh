#!/usr/bin/env bash
# es_http_json.sh PCAP [PORT]: the HTTP requests and responses of an Elasticsearch-style JSON API (TCP port PORT), bodies included
# (PORT defaults to 9200), whole, with their time, addresses, pid and fd.
# Output format: see payloads.sh.
set -euo pipefail
source "$(dirname "$0")/common.sh"
pcap_and_port "${0##*/}" 9200 "$@"
exec "$render_dir/payloads.sh" "$pcap" "tcp.port == $port"
