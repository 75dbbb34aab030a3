"""The Help menu's content: where the user guide is, and the keyboard shortcuts as the window's
actions define them.

The user guide is docs/user-guide.md beside the package in a source checkout (the file the
repository's README links to; a wheel installs it inside the package). The
shortcuts are read from the QActions themselves, so the list can never disagree with the keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from PySide6.QtCore import QUrl, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

# The online user guide, for an installed package (a wheel carries no docs/): the one place
# the address is written.
# The folder above explorer/: the checkout's top, where docs/ is; in a wheel the package
# folder latent_explorer/, where setup.py installs docs/ too. The guide opens offline either way.
ROOT = Path(__file__).resolve().parents[2]


def user_guide_file(root: Path = ROOT) -> Path | None:
    """docs/user-guide.md under `root`; None where this copy has none."""
    path = root / "docs" / "user-guide.md"
    return path if path.is_file() else None


def user_guide_url(root: Path = ROOT) -> QUrl | None:
    """The user guide's file URL; None when this copy has no guide."""
    path = user_guide_file(root)
    return QUrl.fromLocalFile(str(path)) if path is not None else None


@dataclass(frozen=True)
class ShortcutRow:
    """One action's keys: 'Run', 'Pause', 'Ctrl+P', and where they work when not everywhere."""

    menu: str
    action: str
    keys: str
    where: str = ""


def plain(text: str) -> str:
    """A menu text without its mnemonic marks ('&Pause' -> 'Pause', 'A && B' -> 'A & B')."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def shortcut_rows(actions: Iterable[QAction]) -> list[ShortcutRow]:
    """Every action of `actions` that has a shortcut, in the order given (each action once):
    its menu, its text, its keys as the platform writes them, and where they work when they
    belong to one widget (e.g. Delete in the run list)."""
    rows: list[ShortcutRow] = []
    seen: set[int] = set()
    for a in actions:
        keys = [k for k in a.shortcuts() if not k.isEmpty()]
        if not keys or id(a) in seen:
            continue
        seen.add(id(a))
        objects = a.associatedObjects()
        menus = [plain(o.title()) for o in objects if isinstance(o, QMenu)]
        where = ""
        if a.shortcutContext() in (Qt.ShortcutContext.WidgetShortcut,
                                   Qt.ShortcutContext.WidgetWithChildrenShortcut):
            owners = [o for o in objects if isinstance(o, QWidget) and not isinstance(o, QMenu)]
            names = [o.accessibleName() or o.objectName() for o in owners]
            named = [n.lower() for n in names if n]
            where = "in the " + ", ".join(named) if named else "where it is shown"
        text = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
        rows.append(ShortcutRow(menus[0] if menus else "", plain(a.text()), text, where))
    return rows


class ShortcutsDialog(QDialog):
    """A table of the shortcuts (menu, command, keys); it only draws the rows it is given."""

    def __init__(self, rows: list[ShortcutRow], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.rows = list(rows)
        self.table = QTableWidget(len(rows), 3)
        self.table.setAccessibleName("Keyboard shortcuts")
        self.table.setHorizontalHeaderLabels(["Menu", "Command", "Keys"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for i, r in enumerate(rows):
            command = f"{r.action} ({r.where})" if r.where else r.action
            for j, text in enumerate((r.menu, command, r.keys)):
                self.table.setItem(i, j, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(460, 420)

    def keys_of(self, command: str) -> str | None:
        """The keys the table lists for `command` (its text without '&'), None if not listed."""
        for r in self.rows:
            if r.action == command:
                return r.keys
        return None
