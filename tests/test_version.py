"""--version: the package's version, printed before torch or Qt load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from latent_explorer.training.version import pyproject_version, version

ROOT = Path(__file__).resolve().parents[1]


def test_version_matches_pyproject():
    assert pyproject_version(ROOT / "pyproject.toml") == version()
    assert version().count(".") >= 1


def test_pyproject_version_reads_the_project_table(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text('[tool.x]\nversion = "9"\n[project]\nname = "a"\nversion = "1.2.3"\n')
    assert pyproject_version(p) == "1.2.3"
    p.write_text("[project\nversion = ")
    assert pyproject_version(p) is None
    assert pyproject_version(tmp_path / "missing.toml") is None


@pytest.mark.slow  # a process
def test_main_prints_the_version_without_loading_torch_or_qt():
    code = ("import sys\nfrom latent_explorer import main\n"
            "rc = main.main(['--version'])\n"
            "heavy = sorted(m for m in ('torch', 'PySide6', 'numpy') if m in sys.modules)\n"
            "print(rc, heavy)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"latent-explorer {version()}", "0 []"]
