"""Lay the import package `latent_explorer` out as one folder of links, for tools that walk files.

pyproject.toml/setup.py map latent_explorer.models, .training and .explorer onto the folders at
the top of the checkout; Python's import system follows that mapping (the editable install's
finder), but import-linter and mypy read the package from the file system, where those folders
are not under latent_explorer/. This builds DEST/latent_explorer with links to the real files,
so those tools see the package exactly as a wheel installs it:

    python tools/package_tree.py build/package   # then run the tool with DEST as its cwd
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "latent_explorer"
FOLDERS = ("models", "training", "explorer")  # as in setup.py


def build_tree(dest: Path, root: Path = ROOT) -> Path:
    """Make dest/latent_explorer (links into root); return dest. Rebuilt from scratch each time."""
    pkg = dest / PACKAGE
    pkg.mkdir(parents=True, exist_ok=True)
    for entry in pkg.iterdir():
        if entry.is_symlink() or entry.is_file():
            entry.unlink()
    for item in sorted((root / PACKAGE).iterdir()):
        if item.suffix == ".py":
            os.symlink(item, pkg / item.name)
    for folder in FOLDERS:
        os.symlink(root / folder, pkg / folder, target_is_directory=True)
    return dest


if __name__ == "__main__":
    print(build_tree(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build" / "package")))
