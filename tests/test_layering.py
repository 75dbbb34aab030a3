"""The layering is one way: explorer -> training -> models; the core never imports Qt.

The contracts live in pyproject.toml ([tool.importlinter]) and import-linter checks them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    r = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command;"
                        " lint_imports_command()"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 kept, 0 broken" in r.stdout


def test_core_runs_without_qt_loaded() -> None:
    code = (
        "import sys, models, training, training.cli.main, training.explore.render\n"
        "import training.explore.panel_math\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'explorer')]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_window_opens_without_importing_torch() -> None:
    """The window shows before torch: nothing the window module imports may pull it in."""
    code = (
        "import sys\n"
        "from explorer.app import import_pyqtgraph\n"
        "import_pyqtgraph()\n"
        "import explorer.main_window, explorer.app\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication(['x', '-platform', 'offscreen'])\n"
        "from explorer.views.training_form import TrainingForm\n"
        "f = TrainingForm()  # a remembered sweep with a typo: checked and estimated, no torch\n"
        "f.set_values({'kind': 'vae', 'sweep': True, 'betas': '0, x', 'sweep_seeds': '0'})\n"
        "assert f.is_sweep and f.invalid_fields() == [f.betas], f.invalid_fields()\n"
        "heavy = [m for m in ('torch', 'torchvision', 'training.engine.loop', 'training.record.run', 'superqt')\n"
        "         if m in sys.modules]\n"
        "print(heavy)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_pyqtgraph_import_leaves_cuda_bindings_importable() -> None:
    """Hiding CUDA's bindings from pyqtgraph must not hide them from torch afterwards."""
    code = (
        "import sys, importlib.util\n"
        "from explorer.app import import_pyqtgraph\n"
        "import_pyqtgraph()\n"
        "assert 'pyqtgraph' in sys.modules\n"
        "assert sys.modules.get('cuda.bindings', 0) is not None\n"
        "if importlib.util.find_spec('cuda') is not None:\n"
        "    import cuda.bindings.runtime\n"
        "import torch\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
