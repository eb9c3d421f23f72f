# Read `tshark -n -O frame,mongo` text (after packet.awk, for pid_of) and
# print one line per MongoDB wire-protocol message:
#
#   TIME SRC:PORT > DST:PORT [pid PID fd FD] OPCODE request ID [response_to ID] DOCUMENTS
#
# with the BSON documents written as {name: value, ...} from tshark's tree.
# With -v timings=1 it prints instead, for each reply matched to its query
# (same connection, responseTo == requestID):
#
#   QUERY_TIME REPLY_TIME LATENCY CLIENT > SERVER COMMAND QUERY_DOCUMENTS

BEGIN {
    opcode_name[1] = "OP_REPLY"; opcode_name[2001] = "OP_UPDATE"
    opcode_name[2002] = "OP_INSERT"; opcode_name[2004] = "OP_QUERY"
    opcode_name[2005] = "OP_GET_MORE"; opcode_name[2006] = "OP_DELETE"
    opcode_name[2007] = "OP_KILL_CURSORS"; opcode_name[2012] = "OP_COMPRESSED"
    opcode_name[2013] = "OP_MSG"
    container_line["BodyDocument"] = container_line["Document"] = container_line["Query"] = 1
    container_line["Selector"] = container_line["Update"] = container_line["Return Field Selector"] = 1
}

# The number in the parentheses that end the text: "0x00000065 (101)" -> 101.
function last_parenthesised(text) {
    sub(/\)$/, "", text)
    sub(/.*\(/, "", text)
    return text
}

# Microseconds from "SEC.FRACTION" to "SEC.FRACTION", exact (doubles would
# round an epoch time to about a microsecond).
function microseconds_between(start, end,    start_parts, end_parts) {
    split(start, start_parts, ".")
    split(end, end_parts, ".")
    return (end_parts[1] - start_parts[1]) * 1000000 \
        + (substr(end_parts[2] "000000", 1, 6) - substr(start_parts[2] "000000", 1, 6))
}

function close_containers(depth) {
    while (open_count > 0 && owner_depth[open_count] >= depth)
        documents = documents closer[open_count--]
}

function emit_message(    sender, receiver, header, key, latency) {
    if (!in_message)
        return
    in_message = 0
    close_containers(0)
    sender = endpoint(src_ip4, src_ip6, src_port)
    receiver = endpoint(dst_ip4, dst_ip6, dst_port)
    if (!timings) {
        header = time " " sender " > " receiver
        if (vlan != "")
            header = header " pid " pid_of(src_mac, dst_mac) " fd " vlan
        header = header " " (opcode in opcode_name ? opcode_name[opcode] : "opcode " opcode)
        header = header " request " request_id
        if (response_to != 0)
            header = header " response_to " response_to
        print header " " documents
        return
    }
    if (response_to == 0) {
        key = sender " " receiver " " request_id
        query_time[key] = time
        query_command[key] = command
        query_documents[key] = documents
        return
    }
    # A reply goes from the server to the client: the query's key reversed.
    key = receiver " " sender " " response_to
    if (!(key in query_time))
        return
    latency = microseconds_between(query_time[key], time)
    printf "%s %s %d.%06d %s > %s %s %s\n", query_time[key], time,
        int(latency / 1000000), latency % 1000000, receiver, sender,
        query_command[key], query_documents[key]
    delete query_time[key]
}

/^Frame [0-9]+:/ {
    emit_message()
    vlan = src_ip4 = src_ip6 = dst_ip4 = dst_ip6 = ""
    next
}
# "Epoch Time: 1795659949.791966000 seconds" ("Epoch Arrival Time" from tshark 4.2 on)
/^    Epoch (Arrival )?Time: / {
    time = $(NF - 1)
    sub(/000$/, "", time)
    next
}
/^Ethernet II, Src: / {
    src_mac = $4
    dst_mac = $6
    sub(/,$/, "", src_mac)
    next
}
/^802\.1Q Virtual LAN,/ {
    vlan = $NF
    next
}
/^Internet Protocol Version 4, Src: / {
    src_ip4 = $6
    dst_ip4 = $8
    sub(/,$/, "", src_ip4)
    next
}
/^Internet Protocol Version 6, Src: / {
    src_ip6 = $6
    dst_ip6 = $8
    sub(/,$/, "", src_ip6)
    next
}
/^Transmission Control Protocol, Src Port: / {
    src_port = $6
    dst_port = $9
    sub(/,$/, "", src_port)
    sub(/,$/, "", dst_port)
    next
}
/^Mongo Wire Protocol/ {
    emit_message()
    in_message = 1
    documents = command = ""
    open_count = 0
    response_to = 0
    expecting_value = 0
    next
}
!in_message { next }
{
    match($0, /^ */)
    depth = RLENGTH / 4
    text = substr($0, RLENGTH + 1)
    close_containers(depth)
}
depth == 1 && text ~ /^Request ID: / { request_id = last_parenthesised(text); next }
depth == 1 && text ~ /^Response To: / { response_to = last_parenthesised(text) + 0; next }
depth == 1 && text ~ /^OpCode: / { opcode = last_parenthesised(text) + 0; next }
text in container_line {
    if (!expecting_value && documents != "")
        documents = documents " "
    opener = value_type == "Array" && expecting_value ? "[" : "{"
    documents = documents opener
    closer[++open_count] = opener == "[" ? "]" : "}"
    owner_depth[open_count] = depth
    first_item[open_count] = 1
    expecting_value = 0
    next
}
text ~ /^Element: / && open_count > 0 {
    name = substr(text, 10)
    if (command == "")
        command = name
    if (!first_item[open_count])
        documents = documents ", "
    first_item[open_count] = 0
    if (closer[open_count] != "]")
        documents = documents name ": "
    expecting_value = 1
    value_type = ""
    next
}
text ~ /^Type: / {
    value_type = substr(text, 7)
    sub(/ \(.*/, "", value_type)
    next
}
expecting_value && text ~ /^(Value|ObjectID|Regex|Binary|Date|JavaScript code): / {
    value = text
    sub(/^[^:]*: /, "", value)
    if (value_type == "String" || value_type == "JavaScript code")
        value = "\"" value "\""
    else if (text ~ /^ObjectID: /)
        value = "ObjectId(" value ")"
    documents = documents value
    expecting_value = 0
    next
}
END { emit_message() }
