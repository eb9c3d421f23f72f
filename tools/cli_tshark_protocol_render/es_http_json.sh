#!/usr/bin/env bash
# es_http_json.sh PCAP [PORT]: the HTTP requests and responses of a JSON API
# such as Elasticsearch's on TCP port PORT (default 9200), headers and JSON
# bodies whole, with their time, addresses, pid and fd.
# Output format: see payloads.sh.
set -euo pipefail
source "$(dirname "$0")/common.sh"
pcap_and_port "${0##*/}" 9200 "$@"
exec "$render_dir/payloads.sh" "$pcap" "tcp.port == $port"
