#!/usr/bin/env bash
# strace2pcap.sh: run strace with the options py_strace2pcap.py needs and the
# converter as strace's output sink.  strace2pcap-pipe.sh calls this with
# --pipe to stream the pcap to standard output as well.
set -u

program=${STRACE2PCAP_NAME:-strace2pcap.sh}
pipe_mode=0
if [ "${1-}" = "--pipe" ]; then
    pipe_mode=1
    shift
fi

usage() {
    if [ "$pipe_mode" = 1 ]; then
        cat <<EOF
usage: $program OUT.pcap|- "STRACE ARGS" [CONVERTER OPTIONS...]

Trace a command or a running process and write its socket traffic to standard
output as a pcap stream, live (for | tshark -r -, | tcpdump -r -,
| wireshark -k -i -); also keep it in OUT.pcap unless OUT.pcap is "" or "-".
The traced command's own standard output goes to standard error.

  $program out.pcap "curl -s http://127.0.0.1:8080/" | tcpdump -A -r -
  $program - "-p 1234" --capture-unix-socket | wireshark -k -i -
EOF
    else
        cat <<EOF
usage: $program OUT.pcap "STRACE ARGS" [CONVERTER OPTIONS...]

Trace a command or a running process and write its socket traffic to OUT.pcap,
live (the file grows while the command runs).

  $program out.pcap "curl -s http://127.0.0.1:8080/"
  $program out.pcap "-p 1234" --capture-unix-socket
EOF
    fi
    cat <<EOF

STRACE ARGS is one string, split like a shell command line (quotes group
words; nothing is expanded): a command, or -p PID to attach to a process, with
any extra strace options in front.  CONVERTER OPTIONS go to py_strace2pcap.py
(see py_strace2pcap.py --help), e.g. --capture-unix-socket, -q.
Exit status: the traced command's; the converter's when it failed (its
message says so); 2 when strace or Python 3.9+ is missing or the arguments
are wrong.  Set PYTHON to choose the Python interpreter.
EOF
}

die() {
    echo "$program: $*" >&2
    exit 2
}

# Quote one word for /bin/sh, which runs strace's "! command" sink.
sh_quote() {
    local single="'"
    printf "'%s'" "${1//$single/$single\\$single$single}"
}

case "${1-}" in
    -h|--help) usage; exit 0 ;;
esac
if [ "$#" -lt 2 ]; then
    usage >&2
    exit 2
fi
output=$1
strace_words=$2
shift 2
converter_options=("$@")
if [ "$pipe_mode" = 1 ] && [ "$output" = "-" ]; then
    output=""
fi
[ "$pipe_mode" = 1 ] || [ -n "$output" ] || die "OUT.pcap is missing"
[ "$output" != "-" ] || die "OUT.pcap - is stdout: use strace2pcap-pipe.sh for that"
if [ "$pipe_mode" = 1 ] && [ -t 1 ]; then
    die "standard output is a terminal: pipe the pcap stream into a reader (| tshark -r -," \
        "| tcpdump -r -, | wireshark -k -i -), or use strace2pcap.sh to write a file"
fi

here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
python=${PYTHON:-python3}
command -v strace >/dev/null 2>&1 || die "strace not found: install it (e.g. apt-get install strace)"
command -v "$python" >/dev/null 2>&1 || die "$python not found: install Python 3 or set PYTHON"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' >/dev/null 2>&1 \
    || die "$python is too old: py-strace2pcap needs Python 3.9 or newer (set PYTHON)"
converter=$here/py_strace2pcap.py
[ -f "$converter" ] || die "py_strace2pcap.py not found next to this script ($here)"
for option in "${converter_options[@]}"; do
    case "$option" in
        -r*|--input*) die "CONVERTER OPTIONS must not set the input ($option): strace's output is it" ;;
    esac
done
# The converter options, tried on an empty trace before anything runs: a
# mistyped one would end the sink at strace's first line.
"$python" "$converter" /dev/null "${converter_options[@]}" -q -r /dev/null >/dev/null \
    || die "the converter options are wrong (see above, and py_strace2pcap.py --help)"

# strace args as words, split by shlex: quotes honoured, no expansion, no code run.
mapfile -d '' -t strace_args < <("$python" -c '
import shlex, sys
for word in shlex.split(sys.argv[1]):
    sys.stdout.write(word + "\0")
' "$strace_words" 2>/dev/null)
[ "${#strace_args[@]}" -gt 0 ] || die "STRACE ARGS is empty or has an unclosed quote: $strace_words"
if [ -n "$output" ]; then
    ( : >>"$output" ) 2>/dev/null || die "cannot write $output"
    # So is the output: one the converter cannot write (a full disk) or
    # will not write over (a trace) ended the sink at the first line too.
    "$python" "$converter" "$output" "${converter_options[@]}" -q -r /dev/null >/dev/null \
        || die "cannot write $output (see above)"
fi

# Exactly the syscalls the converter reads (from its parser, so the two never
# disagree): the socket calls, dup2/dup3 (onto a socket: a close), and those
# that start or rename processes, for the process names.
# "?" keeps strace quiet about names this architecture lacks (recv, send).
syscalls=$("$python" -c '
import sys
sys.path.insert(0, sys.argv[1])
from strace_parser import TRACED_SYSCALLS
names = sorted(TRACED_SYSCALLS)
print(",".join("?" + name for name in names))
' "$here") || die "cannot read the syscall list from $here/strace_parser.py"

# The sink ignores SIGINT: on Ctrl-C strace detaches (or the command dies) and
# closes the pipe, and the converter still converts every line to the end.
# It leaves the converter's exit status in a file: strace reports only the
# command's, and a converter that failed mid-run (a full disk) left a pcap cut short.
status_file=$(mktemp "${TMPDIR:-/tmp}/strace2pcap.XXXXXX") || die "cannot make a temporary file"
trap 'rm -f "$status_file"' EXIT
converter_command="$(sh_quote "$python") $(sh_quote "$converter")"
if [ "$pipe_mode" = 1 ]; then
    converter_command+=" -"
else
    converter_command+=" $(sh_quote "$output")"
fi
for option in "${converter_options[@]}"; do
    converter_command+=" $(sh_quote "$option")"
done
sink="trap '' INT; { $converter_command; echo \$? >$(sh_quote "$status_file"); }"

strace_options=(-f -s655350 -ttt -T -yy -xx -e "trace=$syscalls")
# strace's own options, before the command's name (the words after it are
# the command's): -p attaches; -o would take the converter's place.
attaching=0
value_next=0
for word in "${strace_args[@]}"; do
    if [ "$value_next" = 1 ]; then
        value_next=0
        continue
    fi
    case "$word" in
        -o*|--output*) die "STRACE ARGS must not set strace's output ($word): the converter is it" ;;
        -p*|--attach*) attaching=1 ;;
        --) break ;;
        -[abeEIOpPsSuUX]) value_next=1 ;;
        -*) ;;
        *) break ;;
    esac
done
# seccomp-bpf stops the tracee only on the syscalls traced: far less overhead
# for a started command (strace cannot use it when attaching with -p, and
# strace before 5.3 does not have it).
if [ "$attaching" = 0 ] && strace -h 2>&1 | grep -q -- --seccomp-bpf; then
    strace_options+=(--seccomp-bpf)
fi

if [ "$pipe_mode" = 1 ]; then
    # The pcap stream goes to our standard output through fd 3; strace's and
    # the traced command's standard output go to standard error instead.
    if [ -n "$output" ]; then
        sink+=" | tee -i $(sh_quote "$output")"
    fi
    sink="{ $sink; } >&3 3>&-"
    strace "${strace_options[@]}" -o "! $sink" "${strace_args[@]}" 3>&1 1>&2
else
    strace "${strace_options[@]}" -o "! $sink" "${strace_args[@]}"
fi
status=$?
# strace that could not start the command does not wait for its sink: wait
# for the converter's status (its summary before the prompt, and no status
# file written after the trap removed it).
for _ in $(seq 100); do
    [ -s "$status_file" ] && break
    sleep 0.05
done
converter_status=$(cat "$status_file")
# 141: the pcap stream's reader went away (| head): quiet, as Unix tools are.
if [ -n "$converter_status" ] && [ "$converter_status" != 0 ] && [ "$converter_status" != 141 ]; then
    echo "$program: the converter failed (exit status $converter_status; the command's:" \
         "$status): the pcap may be cut short" >&2
    exit "$converter_status"
fi
[ "$converter_status" != 141 ] || exit 141
exit "$status"
