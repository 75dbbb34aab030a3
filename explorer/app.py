"""QApplication set-up and the main window's launch."""

from __future__ import annotations

import sys


def run_app(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication([sys.argv[0], *(argv or [])])
    w = QLabel("Latent Explorer: the main window is being built.")
    w.setWindowTitle("Latent Explorer")
    w.resize(480, 120)
    w.show()
    return app.exec()
