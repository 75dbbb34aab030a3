"""What `make test` sets up before the suite: tools/install.py's two-part install and
tools/warm_caches.py's bytecode filter. A slip in either costs minutes, never a failing test,
so these check the parts that could slip quietly."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tools():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        yield importlib.import_module("install"), importlib.import_module("warm_caches")
    finally:
        sys.path.remove(str(ROOT / "tools"))


def test_the_install_asks_for_what_pyproject_lists_and_finds_the_maps_packages(tools):
    install, _ = tools
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+; on 3.10 the install is one part
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    reqs = install.requirements()
    assert reqs == project["dependencies"] + project["optional-dependencies"]["test"]
    # The first part installs every package the numba warm-up imports; a renamed dependency
    # would leave it importing what is not there yet.
    first = {install.name_of(r) for r in reqs if install.name_of(r) in install.MAP_PACKAGES}
    assert first == set(install.MAP_PACKAGES)
    assert install.name_of("PySide6-Essentials>=6.5,!=6.12.*; python_version < '3.12'") == \
        "pyside6-essentials"
    assert install.name_of("ray[tune]>=2.9") == "ray"


@pytest.mark.parametrize("path, left_out", [
    ("pandas/tests/frame/test_api.py", True),
    ("torch/testing/_internal/common_utils.py", True),
    ("ray/rllib/algorithms/ppo.py", True),
    ("sympy/physics/units.py", True),
    ("pyqtgraph/examples/demo.py", True),
    ("mypy/checker.py", True),
    ("ray/tune/tuner.py", False),
    ("sympy/core/expr.py", False),
    ("torch/nn/modules/linear.py", False),
    ("fontTools/misc/textTools.py", False),
])
def test_bytecode_leaves_out_only_what_nothing_imports(tools, path, left_out):
    _, warm = tools
    site = "/home/tests/ci/.venv/lib/python3.11/site-packages"  # 'tests' above site: compiled
    assert bool(warm.not_imported(site).search(f"{site}/{path}")) is left_out
