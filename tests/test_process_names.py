"""A child's lines often come before its parent's clone returns (strace -f
prints the clone as <unfinished ...> first): the child still gets its name."""

from process_names import ProcessNames
from strace_parser import PROCESS, StraceParser

TRACE = [
    '100   1795659371.500000 execve("\\x2f\\x62\\x69\\x6e\\x2f\\x63\\x75\\x72\\x6c", '
    '["\\x63\\x75\\x72\\x6c"], 0x7ffd /* 1 var */) = 0 <0.000100>',
    '200   1795659371.550000 sendto(7<TCP:[127.0.0.1:40000->127.0.0.1:18080]>, '
    '"\\x6f\\x6c\\x64", 3, MSG_NOSIGNAL, NULL, 0) = 3 <0.000069>',
    '100   1795659371.600000 clone3({flags=CLONE_VM|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD'
    '|CLONE_SETTLS, exit_signal=0, stack=0x7f, stack_size=0x7fff00}, 88 <unfinished ...>',
    '101   1795659371.600100 sendto(5<TCP:[127.0.0.1:36234->127.0.0.1:18080]>, '
    '"\\x68\\x69", 2, MSG_NOSIGNAL, NULL, 0) = 2 <0.000069>',
    '200   1795659371.600150 sendto(7<TCP:[127.0.0.1:40000->127.0.0.1:18080]>, '
    '"\\x6f\\x6c\\x64", 3, MSG_NOSIGNAL, NULL, 0) = 3 <0.000069>',
    '100   1795659371.600200 <... clone3 resumed>) = 101 <0.000300>',
]


def annotated_events(lines):
    parser = StraceParser(process_events=True)
    names = ProcessNames()
    events = []
    for line in lines:
        for event in parser.parse(line):
            if event["protocol"] == PROCESS:
                names.observe(event)
            else:
                names.annotate(event)
                events.append(event)
    return events


def test_child_seen_before_its_clone_returns_gets_the_parents_name():
    first_old, child, second_old = annotated_events(TRACE)
    assert (child["pid"], child.get("comm"), child.get("process")) == (101, "curl", 100)
    # A thread already met before the clone is not taken for its child.
    assert first_old["comm"] is None and second_old["comm"] is None


def test_a_vfork_child_that_execs_before_the_vfork_returns_keeps_its_name():
    """sh runs python with vfork: the child's execve (and its thread's
    connection) come before ``<... vfork resumed>``, which gave the child
    the shell's name over python's (the recorded pcapng test, on a loaded
    machine: comm=sh on the python client's packets)."""
    shell = '27117 1795775088.100000 execve("\\x2f\\x62\\x69\\x6e\\x2f\\x73\\x68", ' \
            '["\\x73\\x68"], 0x7ffd /* 1 var */) = 0 <0.000100>'
    python = '27122 1795775088.155925 execve("\\x2f\\x62\\x69\\x6e\\x2f\\x70\\x79\\x74\\x68\\x6f' \
             '\\x6e\\x33", ["\\x70\\x79\\x74\\x68\\x6f\\x6e\\x33"], 0x55 /* 39 vars */) = 0 <0.000322>'
    lines = [shell, "27117 1795775088.146000 vfork( <unfinished ...>", python,
             "27117 1795775088.157528 <... vfork resumed>) = 27122 <0.011499>",
             "27122 1795775088.484256 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|"
             "CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS, exit_signal=0, stack=0x7f, "
             "stack_size=0x7fff80}, 88) = 27128 <0.000067>",
             '27128 1795775088.500000 sendto(3<TCP:[127.0.0.1:36234->127.0.0.1:18080]>, '
             '"\\x68\\x69", 2, 0, NULL, 0) = 2 <0.000049>']
    [event] = annotated_events(lines)
    assert (event["pid"], event.get("comm"), event.get("process")) == (27128, "python3", 27122)
