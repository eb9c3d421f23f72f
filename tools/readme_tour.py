#!/usr/bin/env python3
"""Regenerate the command outputs shown in README.md ("A tour", "Tools").

Each shown output in README.md is a ``console`` code block right after a
marker line ``<!-- output: NAME -->``; NAME is a key of COMMANDS below.  This
script runs every command from the repository root, on the shipped example
files, and writes its output into the block (``$ COMMAND`` then the output),
so the README shows what the code prints today.

    tools/readme_tour.py           rewrite README.md (and example/curl-http.pcap)
    tools/readme_tour.py --check   exit 1 if README.md is not up to date

The commands run in a scratch copy of ``example/`` (the rest of the checkout
is symlinked), so --check leaves the tree untouched.  CR before LF is dropped
from shown output, as a terminal shows it; the converter's "in N s" run time
is not compared by --check.
"""

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
RENDER = "tools/cli_tshark_protocol_render/"

# NAME -> (shell command as shown, whether its standard error is part of what is shown).
COMMANDS = {
    "convert": ("./py_strace2pcap.py example/curl-http.pcap -r example/curl-http.strace", True),
    "tshark": ("tshark -r example/curl-http.pcap", False),
    "pid-fd": ("tshark -r example/curl-http.pcap -Y 'eth.addr == 00:00:00:00:43:39 && vlan.id == 5'"
               " -T fields -e frame.number -e eth.src -e eth.dst -e tcp.len", False),
    "render": (RENDER + "es_http_json.sh example/curl-http.pcap 18080 | head -12", False),
    "xx2generic": ("tools/strace_convert/xx2generic.py example/curl-http.strace"
                   " | grep -m2 -E ' (connect|sendto)[(][0-9]+<TCP'", False),
    "statsd": (RENDER + "statsd.sh example/tools/statsd.pcap 22125", False),
    "memcache": (RENDER + "memcache.sh example/tools/memcache.pcap 22211", False),
    "es_http_json": (RENDER + "es_http_json.sh example/tools/es_http_json.pcap 22920", False),
    "fcgi": (RENDER + "fcgi.sh example/tools/fcgi.pcap 22900", False),
    "redis_resp": (RENDER + "redis_resp.sh example/tools/redis.pcap 22379", False),
    "mongo": (RENDER + "mongo.sh example/tools/mongo.pcap 22017", False),
    "mongo_q_timings": (RENDER + "mongo_q_timings.sh example/tools/mongo.pcap 22017", False),
}

BLOCK = re.compile(r"(<!-- output: (?P<name>[\w-]+) -->\n)```console\n.*?```\n", re.S)
RUN_TIME = re.compile(r" in \d+(?:\.\d+)? s\b")


def scratch_checkout(directory):
    """Symlink the checkout into ``directory``, with a real copy of example/."""
    for entry in REPO.iterdir():
        if entry.name in (".git", "example"):
            continue
        (directory / entry.name).symlink_to(entry)
    shutil.copytree(REPO / "example", directory / "example")


def shown_output(command, with_stderr, directory):
    """The console block text for ``command`` run in ``directory``."""
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=directory,
                            capture_output=True, timeout=300,
                            env={**os.environ, "LC_ALL": "C.UTF-8", "COLUMNS": "100"})
    if result.returncode != 0:
        raise SystemExit("readme_tour: '%s' failed (%d): %s"
                         % (command, result.returncode, result.stderr.decode(errors="replace")))
    output = result.stdout + (result.stderr if with_stderr else b"")
    text = output.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return "```console\n$ %s\n%s%s```\n" % (command, text, "" if text.endswith("\n") else "\n")


def regenerate(readme_text, directory):
    """``readme_text`` with every marked block replaced by its command's output now."""
    def replace(match):
        name = match["name"]
        if name not in COMMANDS:
            raise SystemExit("readme_tour: README.md marks an unknown output '%s'" % name)
        return match[1] + shown_output(*COMMANDS[name], directory)
    return BLOCK.sub(replace, readme_text)


def fresh_readme(current):
    """``current`` README text with every output regenerated; also returns the
    regenerated example pcap's bytes."""
    missing = set(COMMANDS) - set(match["name"] for match in BLOCK.finditer(current))
    if missing:
        raise SystemExit("readme_tour: README.md has no block for %s" % ", ".join(sorted(missing)))
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        scratch_checkout(directory)
        fresh = regenerate(current, directory)
        return fresh, (directory / "example" / "curl-http.pcap").read_bytes()


def same_outputs(current, fresh):
    """Whether two README texts agree, the converter's run time aside."""
    return RUN_TIME.sub(" in N s", current) == RUN_TIME.sub(" in N s", fresh)


def main(argv=None):
    """Rewrite README.md, or with --check report whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if README.md differs from what it would be")
    arguments = parser.parse_args(argv)
    current = README.read_text()
    fresh, example_pcap = fresh_readme(current)
    if not arguments.check:
        README.write_text(fresh)
        (REPO / "example" / "curl-http.pcap").write_bytes(example_pcap)
        return 0
    if same_outputs(current, fresh):
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        current.splitlines(True), fresh.splitlines(True), "README.md", "regenerated"))
    print("README.md is stale: run tools/readme_tour.py", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
