"""The layering is one way: explorer -> training -> models; the core never imports Qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"models": ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "explorer", "training"),
             "training": ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "explorer")}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_packages_import_nothing_above_them() -> None:
    offences = []
    for pkg, banned in FORBIDDEN.items():
        for path in sorted((ROOT / pkg).rglob("*.py")):
            bad = _imports(path) & set(banned)
            if bad:
                offences.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert offences == []


def test_core_runs_without_qt_loaded() -> None:
    code = (
        "import sys, models, training, training.cli, training.render\n"
        "import training.explore\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'explorer')]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
