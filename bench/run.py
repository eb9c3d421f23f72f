#!/usr/bin/env python3
"""Benchmark runner: the converter against the Python floors, same run.

    python3 bench/run.py                          # all workloads, median of 3
    python3 bench/run.py -w small,udp -n 5        # some workloads, median of 5
    python3 bench/run.py --rss-scaling small      # also peak RSS at 1x and 4x
    python3 bench/run.py --startup                # start-up time on a 10-line trace

Each workload's trace is generated (bench/generate.py) into a temporary
directory (``--workdir``, default the system's temp dir; deleted at the
end), then converted ``--repeat`` times, each time next to the two floors
of bench/floors.py, in rotating order, each in a fresh process whose wall
time, CPU time (user + system) and peak RSS (``wait4``) are recorded (the
converter's modules compiled to bytecode first, as ``pip install`` does).  The
result is the ratio of the medians: converter / floor, of wall times and of
CPU times (less disturbed by other work on the machine).  The ``spread``
column is the largest (max - min) / median of any command's wall times:
how noisy the machine was.

For the noise workload the budget is the read floor plus the time to
decode the socket lines' strings alone (the hex floor minus the read floor
on the same trace without its noise lines).
"""

import argparse
import collections
import json
import os
import shutil
import statistics
import subprocess
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate  # noqa: E402  (bench/ is not a package)

CONVERTER = os.path.join(os.path.dirname(HERE), "py_strace2pcap.py")
FLOORS = os.path.join(HERE, "floors.py")
GENERATOR = os.path.join(HERE, "generate.py")
PCAP_HEADER = 24
PCAP_RECORD = struct.Struct("<IIII")
# The targets: converter / floor.
TARGETS = {"small": ("hex", 2.5), "bulk": ("hex", 1.5), "noise": ("budget", 1.5),
           "unix": ("hex", 3.0), "udp": ("hex", 2.5)}
MB = 1e6


Run = collections.namedtuple("Run", "wall cpu rss")


def measured(command):
    """Run ``command``; return its Run: wall seconds, CPU seconds (user +
    system) and peak RSS in MB, of that process alone (``wait4``)."""
    started = time.perf_counter()
    pid = os.posix_spawn(command[0], command, os.environ, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("%s exited with %d" % (" ".join(command), status))
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0)


def count_packets(path):
    """Records in a little-endian pcap file (walks the record headers)."""
    packets = 0
    with open(path, "rb") as pcap:
        pcap.seek(PCAP_HEADER)
        while True:
            header = pcap.read(PCAP_RECORD.size)
            if len(header) < PCAP_RECORD.size:
                return packets
            pcap.seek(PCAP_RECORD.unpack(header)[2], os.SEEK_CUR)
            packets += 1


def converter_command(python, trace, pcap, workload, converter=CONVERTER):
    """The argv converting ``trace`` to ``pcap`` with the workload's flags."""
    return [python, converter, "-q", "-r", trace, pcap] + generate.WORKLOAD_FLAGS.get(workload, [])


def make_trace(python, workdir, workload, scale, sockets_only=False):
    """Generate a trace file (in a child process, so that this process stays
    small: a spawned child's peak RSS starts from its parent's); return
    (path, generator summary)."""
    suffix = "-sockets" if sockets_only else ""
    path = os.path.join(workdir, "%s-%g%s.strace" % (workload, scale, suffix))
    command = [python, GENERATOR, workload, path, "--scale", str(scale)]
    if sockets_only:
        command.append("--sockets-only")
    summary = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
    summary["bytes"] = os.path.getsize(path)
    return path, summary


def median_runs(commands, repeat):
    """Run each named command ``repeat`` times in rotating order; return
    {name: [Run, ...]}."""
    runs = {name: [] for name in commands}
    names = list(commands)
    for round_number in range(repeat):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            runs[name].append(measured(commands[name]))
    return runs


def medians(runs, field):
    """{name: median of ``field`` over that command's runs}."""
    return {name: statistics.median(getattr(run, field) for run in values)
            for name, values in runs.items()}


def spread(values):
    """(max - min) / median: how noisy the runs were."""
    return (max(values) - min(values)) / statistics.median(values)


def compile_modules(python, converter):
    """Compile the converter's modules to bytecode once, as ``pip install``
    does: where PYTHONDONTWRITEBYTECODE is set, every run would compile them
    again (about 50 ms a run on this machine)."""
    subprocess.run([python, "-m", "compileall", "-q", "-l",
                    os.path.dirname(os.path.abspath(converter))], check=True)


def bench_workload(python, converter, workdir, workload, scale, repeat):
    """Measure one workload; return a result dict."""
    trace, summary = make_trace(python, workdir, workload, scale)
    pcap = os.path.join(workdir, workload + ".pcap")
    commands = {"convert": converter_command(python, trace, pcap, workload, converter),
                "read": [python, FLOORS, "read", trace],
                "hex": [python, FLOORS, "hex", trace]}
    runs = median_runs(commands, repeat)
    packets = count_packets(pcap)
    os.unlink(pcap)
    wall, cpu = medians(runs, "wall"), medians(runs, "cpu")
    result = dict(summary)
    result.update(
        seconds=wall["convert"], cpu_seconds=cpu["convert"], read_floor=wall["read"],
        hex_floor=wall["hex"], read_floor_cpu=cpu["read"], hex_floor_cpu=cpu["hex"],
        packets_written=packets, rss_mb=max(run.rss for run in runs["convert"]),
        spread=max(spread([run.wall for run in values]) for values in runs.values()))
    for floor in ("read", "hex"):
        result["x_" + floor] = wall["convert"] / wall[floor]
        result["x_%s_cpu" % floor] = cpu["convert"] / cpu[floor]
    if workload == "noise":
        sockets, _ = make_trace(python, workdir, workload, scale, sockets_only=True)
        socket_runs = median_runs({"read": [python, FLOORS, "read", sockets],
                                   "hex": [python, FLOORS, "hex", sockets]}, repeat)
        os.unlink(sockets)
        for suffix, field in (("", "wall"), ("_cpu", "cpu")):
            floors = medians(socket_runs, field)
            budget = result["read_floor" + suffix] + max(0.0, floors["hex"] - floors["read"])
            result["budget" + suffix] = budget
            result["x_budget" + suffix] = result[
                "cpu_seconds" if suffix else "seconds"] / budget
    os.unlink(trace)
    target_floor, target = TARGETS[workload]
    result["target"] = "<= %.1fx %s" % (target, target_floor)
    if workload == "unix":  # synthetic handshakes and seeding come on top
        result["packets_ok"] = packets >= summary["packets"]
    else:
        result["packets_ok"] = packets == summary["packets"]
    result["met"] = result["x_" + target_floor] <= target and result["packets_ok"]
    result["met_cpu"] = result["x_%s_cpu" % target_floor] <= target and result["packets_ok"]
    return result


def rss_scaling(python, converter, workdir, workload, repeat):
    """Peak RSS (MB) of the converter at 1x and 4x the workload's size."""
    sizes = {}
    for scale in (1, 4):
        trace, _ = make_trace(python, workdir, workload, scale)
        pcap = os.path.join(workdir, "scaling.pcap")
        runs = median_runs({"convert": converter_command(python, trace, pcap, workload, converter)},
                          repeat)
        sizes[scale] = max(run.rss for run in runs["convert"])
        os.unlink(pcap)
        os.unlink(trace)
    return sizes


def startup(converter, workdir, pythons, repeat):
    """Median seconds to convert a 10-line trace, and to start the bare
    interpreter (``-c pass``), per interpreter command."""
    trace = os.path.join(workdir, "ten.strace")
    with open(trace, "w", encoding="latin-1") as out:
        generate.generate("small", out, 0.001)
    with open(trace, encoding="latin-1") as whole:
        lines = whole.readlines()[:10]
    with open(trace, "w", encoding="latin-1") as out:
        out.writelines(lines)
    pcap = os.path.join(workdir, "ten.pcap")
    times = {}
    for python in pythons:
        runs = median_runs({"convert": [python, converter, "-q", "-r", trace, pcap],
                            "bare": [python, "-c", "pass"]}, repeat)
        times[python] = medians(runs, "wall")
    return times


def shell_python3(python):
    """The ``python3`` a shell finds (e.g. a pyenv shim, which runs ``python``
    with its own directory put first on PATH), or None if that is ``python``."""
    own = os.path.dirname(os.path.realpath(python))
    path = os.pathsep.join(directory for directory in os.environ.get("PATH", "").split(os.pathsep)
                           if os.path.realpath(directory) != own)
    found = shutil.which("python3", path=path)
    if found is None or os.path.realpath(found) == os.path.realpath(python):
        return None
    return found


def table(results):
    """The results as a Markdown table."""
    rows = ["| workload | trace MB | lines | packets | seconds | MB/s | lines/s | packets/s "
            "| peak RSS MB | read floor s | hex floor s | × read | × hex | × hex, CPU "
            "| target | met (wall / CPU) | spread |",
            "|---" * 17 + "|"]
    for result in results:
        x_hex = "%.2f" % result["x_hex"]
        x_hex_cpu = "%.2f" % result["x_hex_cpu"]
        if "x_budget" in result:
            x_hex += " (× budget %.2f)" % result["x_budget"]
            x_hex_cpu += " (× budget %.2f)" % result["x_budget_cpu"]
        rows.append(
            "| %s | %.0f | %d | %d | %.2f | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %s "
            "| %s | %s | %s / %s | %.0f%% |" % (
                result["workload"], result["bytes"] / MB, result["lines"],
                result["packets_written"], result["seconds"],
                result["bytes"] / MB / result["seconds"], result["lines"] / result["seconds"],
                result["packets_written"] / result["seconds"], result["rss_mb"],
                result["read_floor"], result["hex_floor"], result["x_read"], x_hex, x_hex_cpu,
                result["target"], "yes" if result["met"] else "no",
                "yes" if result["met_cpu"] else "no", 100 * result["spread"]))
    return "\n".join(rows)


def main(argv=None):
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-w", "--workloads", default="small,bulk,noise,unix,udp")
    parser.add_argument("-n", "--repeat", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter to run the converter and floors with")
    parser.add_argument("--converter", default=CONVERTER,
                        help="the py_strace2pcap.py to measure (e.g. of another checkout)")
    parser.add_argument("--rss-scaling", metavar="WORKLOADS", default="",
                        help="also measure peak RSS at 1x and 4x for these workloads")
    parser.add_argument("--startup", action="store_true",
                        help="also time a 10-line trace (this interpreter and python3 on PATH)")
    parser.add_argument("--json", metavar="FILE", help="write the raw results here too")
    arguments = parser.parse_args(argv)
    compile_modules(arguments.python, arguments.converter)
    if arguments.workdir:
        os.makedirs(arguments.workdir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="strace2pcap-bench-", dir=arguments.workdir)
    report = {"results": []}
    try:
        for workload in filter(None, arguments.workloads.split(",")):
            result = bench_workload(arguments.python, arguments.converter, workdir, workload, arguments.scale,
                                    arguments.repeat)
            report["results"].append(result)
            print(json.dumps(result), file=sys.stderr)
        if report["results"]:
            print(table(report["results"]))
        for workload in filter(None, arguments.rss_scaling.split(",")):
            sizes = rss_scaling(arguments.python, arguments.converter, workdir, workload, arguments.repeat)
            report.setdefault("rss_scaling", {})[workload] = sizes
            print("peak RSS %s: %.0f MB at 1x, %.0f MB at 4x" % (workload, sizes[1], sizes[4]))
        if arguments.startup:
            pythons = [arguments.python, shell_python3(arguments.python)]
            report["startup"] = startup(arguments.converter, workdir, list(filter(None, pythons)),
                                        max(5, arguments.repeat))
            for python, seconds in report["startup"].items():
                print("start-up, 10-line trace, %s: %.3f s (bare interpreter %.3f s)"
                      % (python, seconds["convert"], seconds["bare"]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if arguments.json:
        with open(arguments.json, "w") as out:
            json.dump(report, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
