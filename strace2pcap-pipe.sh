#!/usr/bin/env bash
# strace2pcap-pipe.sh OUT.pcap "STRACE ARGS" [CONVERTER OPTIONS...]: like
# strace2pcap.sh, but the pcap also streams to standard output, live.
# -h for usage.
STRACE2PCAP_NAME=strace2pcap-pipe.sh exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/strace2pcap.sh" --pipe "$@"
