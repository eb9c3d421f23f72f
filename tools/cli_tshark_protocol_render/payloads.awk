# Print each packet as its header line and its payload as text.
{
    hex = payload_hex()
    print packet_header() " " length(hex) / 2 " bytes"
    print_text(hex)
}
