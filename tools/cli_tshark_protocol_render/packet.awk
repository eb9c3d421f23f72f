# Functions shared by the renderers (awk -F '\t' -f packet.awk -f PROGRAM.awk),
# reading the lines of common.sh's packet_fields:
# $1 time  $2 ip.src  $3 ipv6.src  $4 tcp.srcport  $5 udp.srcport  $6 ip.dst
# $7 ipv6.dst  $8 tcp.dstport  $9 udp.dstport  $10 eth.src  $11 eth.dst
# $12 vlan.id  $13 tcp.stream  $14 tcp.payload  $15 udp.payload

BEGIN {
    for (byte = 0; byte < 256; byte++) {
        hex = sprintf("%02x", byte)
        byte_value[hex] = byte
        # Printable ASCII, tab, LF and CR as they are; any other byte as \xHH.
        byte_text[hex] = (byte >= 32 && byte < 127) || byte == 9 || byte == 10 || byte == 13 \
            ? sprintf("%c", byte) : "\\x" hex
    }
}

function endpoint(ip4, ip6, port) {
    return ip4 != "" ? ip4 ":" port : "[" ip6 "]:" port
}

# The process MAC holds the pid as decimal digits; its byte 1 is 00 for every
# pid below 10^8, while the syscall-side MAC carries the syscall code there.
function pid_of(src_mac, dst_mac,    mac) {
    mac = substr(src_mac, 4, 2) == "00" ? src_mac : dst_mac
    gsub(":", "", mac)
    return mac + 0
}

# "TIME SRC:PORT > DST:PORT [pid PID fd FD]" for the current line; the pid
# and fd only when the capture has the VLAN tag py_strace2pcap writes.
function packet_header(    time, header) {
    time = $1
    sub(/000$/, "", time)
    header = time " " endpoint($2, $3, $4 $5) " > " endpoint($6, $7, $8 $9)
    if ($12 != "")
        header = header " pid " pid_of($10, $11) " fd " $12
    return header
}

# The payload of the current line as hex without separators.
function payload_hex(    hex) {
    hex = $14 != "" ? $14 : $15
    gsub(":", "", hex)
    return hex
}

# Print hex bytes as text (see byte_text), ending with a newline.
function print_text(hex,    i, length_hex) {
    length_hex = length(hex)
    for (i = 1; i < length_hex; i += 2)
        printf "%s", byte_text[substr(hex, i, 2)]
    if (length_hex && substr(hex, length_hex - 1) != "0a")
        printf "\n"
}

# The unsigned big-endian number in the hex bytes starting at byte offset.
function number_at(hex, offset, size,    value, i) {
    value = 0
    for (i = 0; i < size; i++)
        value = value * 256 + byte_value[substr(hex, 2 * (offset + i) + 1, 2)]
    return value
}
