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
