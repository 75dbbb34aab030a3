"""Every modal question the window asks, in one small object that tests replace.

The window never calls QFileDialog or QMessageBox itself: it asks `window.dialogs`, so a test
sets `window.dialogs = FakeDialogs(...)` and no test ever blocks on a modal dialog.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

CHECKPOINT_FILTER = "Latent Explorer checkpoints (*.safetensors);;All files (*)"
EXPORT_FILTER = "Loss history (*.csv);;Plot image (*.png)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"


# Window managers cut a title longer than the dialog is wide, and an input dialog is only as
# wide as its field: the title stays one short word, the question is in the body, and the dialog
# is made at least as wide as its title with room for the title bar's buttons.
EPOCHS_TITLE = "Continue"
TITLE_BAR_ROOM = 160  # px: an icon and close/maximise buttons on common window managers


def epochs_dialog(parent: QWidget | None, current: int, minimum: int) -> QInputDialog:
    """The 'continue training to how many epochs?' dialog, not yet shown."""
    dialog = QInputDialog(parent)
    dialog.setInputMode(QInputDialog.InputMode.IntInput)
    dialog.setWindowTitle(EPOCHS_TITLE)
    dialog.setLabelText(f"Continue training: the run has trained {current} "
                        f"epoch{'s' if current != 1 else ''}.\nTrain it to a total of (epochs):")
    dialog.setIntRange(minimum, 100_000)
    dialog.setIntValue(max(minimum, 2 * current))
    fm = dialog.fontMetrics()
    dialog.setMinimumWidth(fm.horizontalAdvance(dialog.windowTitle()) + TITLE_BAR_ROOM)
    return dialog


class Dialogs:
    """The window's modal dialogs; each returns the user's answer (None or False: cancelled)."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent

    def open_path(self, directory: str = "") -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open checkpoint", directory,
                                              CHECKPOINT_FILTER)
        return path or None

    def image_path(self, directory: str = "") -> str | None:
        """An image file to read (the Draw tab's input for a model of colour or other-size
        images); None: cancelled."""
        path, _ = QFileDialog.getOpenFileName(self.parent, "Load an image", directory,
                                              IMAGE_FILTER)
        return path or None

    def save_path(self, suggested: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, "Save run as", suggested,
                                              CHECKPOINT_FILTER)
        return path or None

    def folder_path(self, title: str, directory: str = "") -> str | None:
        """A folder to write into (e.g. a whole sweep's checkpoints); None: cancelled."""
        path = QFileDialog.getExistingDirectory(self.parent, title, directory)
        return path or None

    def export_path(self, suggested: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, "Export", suggested, EXPORT_FILTER)
        return path or None

    def data_path(self, title: str, suggested: str, file_filter: str) -> str | None:
        """A file to export a tab's data to (samples, codes); a name typed without a suffix
        gets the chosen filter's. None: cancelled."""
        path, chosen = QFileDialog.getSaveFileName(self.parent, title, suggested, file_filter)
        if path and "." not in path.rsplit("/", 1)[-1]:
            m = re.search(r"\(\*(\.\w+)", chosen or "")
            path += m.group(1) if m else ""
        return path or None

    def open_url(self, url: QUrl) -> bool:
        """Open a file (the user guide) or a web page in the desktop's own viewer."""
        return QDesktopServices.openUrl(url)

    def show_shortcuts(self, rows: list) -> None:
        """The keyboard shortcuts (explorer.commands.help.shortcut_rows), in a window of their
        own that stays open beside the main one."""
        from latent_explorer.explorer.commands.help import ShortcutsDialog

        dialog = ShortcutsDialog(rows, self.parent)
        dialog.show()
        dialog.raise_()

    def ask_epochs(self, current: int, minimum: int) -> int | None:
        """The total epochs to continue a run to (at least `minimum`); None: cancelled."""
        dialog = epochs_dialog(self.parent, current, minimum)
        ok = dialog.exec() == QInputDialog.DialogCode.Accepted
        return int(dialog.intValue()) if ok else None

    def confirm(self, title: str, text: str) -> bool:
        """Yes or No, No the default: Enter never removes, quits or deletes by accident."""
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        return QMessageBox.question(self.parent, title, text, buttons,
                                    QMessageBox.StandardButton.No) == QMessageBox.StandardButton.Yes

    def workspace_folder(self, directory: str) -> str | None:
        """A folder to use as the workspace of runs; None: cancelled."""
        path = QFileDialog.getExistingDirectory(self.parent, "Open workspace", directory)
        return path or None

    def confirm_close(self, active: list, unsaved: list) -> bool:
        lines = []
        if active:
            lines.append(f"{len(active)} run(s) are training or queued; they will be stopped.")
        if unsaved:
            names = ", ".join(r.name for r in unsaved[:5]) + ("…" if len(unsaved) > 5 else "")
            lines.append(f"{len(unsaved)} trained run(s) are not saved and will be lost: {names}.")
        return self.confirm("Quit Latent Explorer", "\n\n".join(lines + ["Quit anyway?"]))

    def show_error(self, title: str, text: str) -> None:
        QMessageBox.warning(self.parent, title, text)

    def show_about(self, html: str) -> None:
        QMessageBox.about(self.parent, "About Latent Explorer", html)
