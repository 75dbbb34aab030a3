"""The layering is one way: explorer -> training -> models; the core never imports Qt.

The contracts live in pyproject.toml ([tool.importlinter]) and import-linter checks them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold(tmp_path: Path) -> None:
    # import-linter reads the package from the file system: give it latent_explorer as a wheel
    # lays it out (tools/package_tree.py), from a folder where no other latent_explorer is found
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from package_tree import build_tree
    finally:
        sys.path.remove(str(ROOT / "tools"))
    tree = build_tree(tmp_path)
    r = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command;"
                        " lint_imports_command()", str(ROOT / "pyproject.toml")],
                       cwd=tree, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 kept, 0 broken" in r.stdout


def test_core_runs_without_qt_loaded() -> None:
    code = (
        "import sys\n"
        "import latent_explorer.models, latent_explorer.training\n"
        "import latent_explorer.training.cli.main, latent_explorer.training.explore.render\n"
        "import latent_explorer.training.explore.panel_math\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')\n"
        "       or m.startswith('latent_explorer.explorer')]\n"
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
        "from latent_explorer.explorer.app import import_pyqtgraph\n"
        "import_pyqtgraph()\n"
        "import latent_explorer.explorer.main_window, latent_explorer.explorer.app\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication(['x', '-platform', 'offscreen'])\n"
        "from latent_explorer.explorer.views.training_form import TrainingForm\n"
        "f = TrainingForm()  # a remembered sweep with a typo: checked and estimated, no torch\n"
        "f.set_values({'kind': 'vae', 'sweep': True, 'betas': '0, x', 'sweep_seeds': '0'})\n"
        "assert f.is_sweep and f.invalid_fields() == [f.betas], f.invalid_fields()\n"
        "heavy = [m for m in ('torch', 'torchvision', 'latent_explorer.training.engine.loop', 'latent_explorer.training.record.run', 'superqt')\n"
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
        "from latent_explorer.explorer.app import import_pyqtgraph\n"
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
