"""`pip install .` must install every module the converter imports."""

import subprocess
import sys
import tomllib

import support


def test_every_root_module_is_installed():
    project = tomllib.loads((support.REPO / "pyproject.toml").read_text())
    installed = set(project["tool"]["setuptools"]["py-modules"])
    modules = {path.stem for path in support.REPO.glob("*.py")}
    assert installed == modules


def test_the_help_names_the_command_as_it_can_be_run_again():
    """pip installs py-strace2pcap (no py_strace2pcap.py); a checkout's
    script runs from its directory as ./py_strace2pcap.py, which strace's
    sink (-o '! CMD') needs: the help's examples say what was run."""
    from py_strace2pcap import command_name
    assert command_name("/usr/local/bin/py-strace2pcap") == "py-strace2pcap"
    assert command_name("py_strace2pcap.py") == "./py_strace2pcap.py"
    assert command_name("/src/py_strace2pcap.py") == "/src/py_strace2pcap.py"
    result = subprocess.run([sys.executable, str(support.CONVERTER), "--help"],
                            capture_output=True, check=True, timeout=60)
    assert "-o '! %s out.pcap'" % support.CONVERTER in result.stdout.decode()
