# Sourced by the renderers in this directory; not run on its own.
#
# pcap_and_port NAME DEFAULT_PORT "$@"  checks the arguments "PCAP [PORT]"
#     and sets $pcap and $port, or prints the usage and exits 2.
# packet_fields FILTER [TSHARK_OPTION...]  prints one tab-separated line per
#     packet of $pcap matching FILTER that carries a payload: the fields
#     packet.awk reads (time, addresses, ports, MACs, VLAN id, payload hex).

render_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

pcap_and_port() {
    local name=$1 default_port=$2
    shift 2
    if [ $# -lt 1 ] || [ $# -gt 2 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
        echo "usage: $name PCAP [PORT]   (PORT defaults to $default_port)" >&2
        exit 2
    fi
    pcap=$1
    port=${2:-$default_port}
    case $port in
        '' | *[!0-9]*) echo "$name: PORT must be a number, not '$port'" >&2; exit 2 ;;
    esac
    if [ ! -r "$pcap" ] || [ -d "$pcap" ]; then
        echo "$name: cannot read '$pcap'" >&2
        exit 2
    fi
    if ! command -v tshark >/dev/null; then
        echo "$name: tshark is not installed" >&2
        exit 2
    fi
}

packet_fields() {
    local filter=$1
    shift
    tshark -n -r "$pcap" "$@" -Y "($filter) && (tcp.len > 0 || udp.length > 8)" \
        -T fields -E separator=/t -E occurrence=f \
        -e frame.time_epoch -e ip.src -e ipv6.src -e tcp.srcport -e udp.srcport \
        -e ip.dst -e ipv6.dst -e tcp.dstport -e udp.dstport \
        -e eth.src -e eth.dst -e vlan.id -e tcp.stream -e tcp.payload -e udp.payload
}
