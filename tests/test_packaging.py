"""`pip install .` must install every module the converter imports."""

import tomllib

import support


def test_every_root_module_is_installed():
    project = tomllib.loads((support.REPO / "pyproject.toml").read_text())
    installed = set(project["tool"]["setuptools"]["py-modules"])
    modules = {path.stem for path in support.REPO.glob("*.py")}
    assert installed == modules
