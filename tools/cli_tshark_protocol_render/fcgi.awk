# Decode the FastCGI records of each packet (after packet.awk): the packet
# header line, then one indented line per record, PARAMS as NAME = VALUE
# lines, STDIN/STDOUT/STDERR/DATA content as text.  A record cut by a segment
# boundary is completed from the next segment of the same direction.

BEGIN {
    split("BEGIN_REQUEST ABORT_REQUEST END_REQUEST PARAMS STDIN STDOUT STDERR DATA " \
          "GET_VALUES GET_VALUES_RESULT UNKNOWN_TYPE", record_name, " ")
    split("RESPONDER AUTHORIZER FILTER", role_name, " ")
}

# Print the name-value pairs of a PARAMS record (lengths of 1 or 4 bytes).
function print_params(content,    offset, total, sizes, which, name_text, value_text) {
    total = length(content) / 2
    offset = 0
    while (offset < total) {
        for (which = 1; which <= 2; which++) {
            if (number_at(content, offset, 1) < 128) {
                sizes[which] = number_at(content, offset, 1)
                offset += 1
            } else {
                sizes[which] = number_at(content, offset, 4) - 2147483648
                offset += 4
            }
        }
        name_text = substr(content, 2 * offset + 1, 2 * sizes[1])
        value_text = substr(content, 2 * (offset + sizes[1]) + 1, 2 * sizes[2])
        printf "    "
        print_inline(name_text)
        printf " = "
        print_inline(value_text)
        printf "\n"
        offset += sizes[1] + sizes[2]
    }
}

# Hex bytes as text without the trailing newline print_text adds.
function print_inline(hex,    i) {
    for (i = 1; i < length(hex); i += 2)
        printf "%s", byte_text[substr(hex, i, 2)]
}

function print_record(type, request_id, content,    name, role) {
    name = type in record_name ? record_name[type] : "TYPE_" type
    printf "  %s id %d, %d bytes\n", name, request_id, length(content) / 2
    if (type == 1) {
        role = number_at(content, 0, 2)
        printf "    role %s, keep_conn %d\n", role in role_name ? role_name[role] : role,
            number_at(content, 2, 1) % 2
    } else if (type == 3) {
        printf "    app_status %d, protocol_status %d\n",
            number_at(content, 0, 4), number_at(content, 4, 1)
    } else if (type == 4 || type == 9 || type == 10) {
        print_params(content)
    } else if (type >= 5 && type <= 8) {
        print_text(content)
    }
}

{
    direction = $13 " " $4
    hex = pending[direction] payload_hex()
    total = length(hex) / 2
    print packet_header() " " total " bytes"
    offset = 0
    while (total - offset >= 8) {
        if (number_at(hex, offset, 1) != 1) {
            # Not at a record boundary (the trace began mid-stream): show the rest.
            printf "  not FastCGI records:\n"
            print_text(substr(hex, 2 * offset + 1))
            offset = total
            break
        }
        content_length = number_at(hex, offset + 4, 2)
        record_end = offset + 8 + content_length + number_at(hex, offset + 6, 1)
        if (record_end > total)
            break
        print_record(number_at(hex, offset + 1, 1), number_at(hex, offset + 2, 2),
                     substr(hex, 2 * (offset + 8) + 1, 2 * content_length))
        offset = record_end
    }
    pending[direction] = substr(hex, 2 * offset + 1)
    if (offset < total)
        printf "  (%d bytes of a record continue in the next segment)\n", total - offset
}
