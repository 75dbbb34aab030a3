"""The contract between the main window and every exploration panel."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from training.run import Run


class Panel(QWidget):
    """A tab in the main window that explores 'the selected run'.

    The window calls `set_runs` whenever the list of usable runs changes (a run finished,
    was loaded, renamed or removed) and `set_run` whenever the selection changes. Panels draw
    only: the math lives in Qt-free functions (training/explore.py).
    """

    title = "Panel"

    def set_runs(self, runs: list[Run]) -> None:
        """All runs with a usable model, in run-list order (for 'compare with' pickers)."""

    def set_run(self, run: Run | None) -> None:
        """The selected run, or None: show a hint instead of images."""
