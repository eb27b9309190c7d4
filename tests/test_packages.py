"""Each top-level package imports from this repository, never from a same-named PyPI distribution.

`rules` (django-rules) and `storage` are also names on PyPI; a venv that ever installs one of them
must not silently shadow ours.
"""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOP_LEVEL = ("bot", "rules", "handlers", "storage")


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_package_resolves_inside_the_repository(name):
    module = importlib.import_module(name)

    assert Path(module.__file__).resolve() == REPO / name / "__init__.py"


def test_the_distribution_lists_exactly_our_packages():
    packages = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]["packages"]

    assert {p.split(".")[0] for p in packages} == set(TOP_LEVEL)
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for name in TOP_LEVEL
        for init in (REPO / name).rglob("__init__.py")
    }
    assert on_disk <= set(packages), f"packages missing from pyproject.toml: {sorted(on_disk - set(packages))}"


def test_every_data_folder_is_declared_so_pip_install_prints_no_warnings():
    """setuptools warns (a page per folder) about an importable folder it ships but was not told of."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    shipped = set(setuptools["packages"])
    for name in TOP_LEVEL:
        for folder in (REPO / name).rglob("*"):
            if folder.is_dir() and folder.name != "__pycache__" and any(f.is_file() for f in folder.iterdir()):
                dotted = ".".join(folder.relative_to(REPO).parts)
                assert dotted in shipped, f"{dotted} is shipped as data but not declared in [tool.setuptools] packages"


def test_every_module_of_bot_sits_in_a_layer_of_the_import_contract():
    """The layers contract names bot's modules one by one (the shared vocabulary sits low, the rest on
    top); a new module left out would escape it, and handlers could import it unchecked."""
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]["contracts"]
    layered = {
        module.strip()
        for contract in contracts
        if contract["type"] == "layers"
        for layer in contract["layers"]
        for module in layer.replace("|", ":").split(":")
    }
    on_disk = {
        f"bot.{path.stem}" if path.is_file() else f"bot.{path.name}"
        for path in (REPO / "bot").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }

    assert on_disk <= layered, f"not in any layer: {sorted(on_disk - layered)}"
    assert not any("ignore_imports" in contract for contract in contracts)
