"""The Latent map tab's lasso selections: the last two (A, then B), each with its strip of first
images and the decoding of its mean code, "Send to interpolation", "Send A/B to Directions"
(the two sets of test images, whose mean codes' difference the Directions tab applies as an
attribute vector) and "Clear selections".

Both selections stay in view together (issue 35: A vanished when B was drawn, so the pair
the Directions tab uses could not be seen): each has a row here and an outline on the map in
its own colour (SELECTION_COLORS), labelled with its letter. A third lasso makes the old B the
new A, as the pair sent is always the last two.

The panel finds the points and decodes; this box keeps the selections and shows them. Images
are display arrays (training/explore/render.py): (n, H, W) grey or (n, H, W, 3) colour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape, unescape

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from latent_explorer.explorer.panels.base import Panel, row
from latent_explorer.explorer.panels.directions_targets import DIRECTIONS_LASSO, LassoPair
from latent_explorer.explorer.widgets.image_view import ImageView

STRIP_MAX = 40  # images of a lasso selection shown in its strip
STRIP_ROWS = 2
SELECTION_NAMES = ("A", "B")
# A and B on the map and in their rows: light colours that read on the map's dark background
# and are not among the class colours' (TAB10) tones; A's marks are rings, B's squares, so the
# two differ without colour too.
SELECTION_COLORS = ("#ffd866", "#78dce8")
SELECTION_SYMBOLS = ("o", "s")
HINT = ("Lasso: drag around points to select them. The first selection is A, the next B "
        "(a third makes B the new A); each row shows its first images and, right, the "
        "decoding of their mean code.")
EMPTY = "The lasso caught no points."
CAPTION_CLASSES = 4  # classes a row's caption names (its tooltip names them all)


def selection_caption(n: int, counts: np.ndarray, names: tuple[str, ...] | list[str],
                      which: str, classes: int | None = None) -> str:
    """'Selection A: 12 images; by class 3: 7, 5: 5.', classes by count, largest first (the
    first `classes` of them and '…', when given: a row's caption is one line)."""
    parts = [f"{names[c] if c < len(names) else c}: {k}"
             for c, k in sorted(enumerate(counts), key=lambda t: -t[1]) if k]
    if classes is not None and len(parts) > classes:
        parts = parts[:classes] + ["…"]
    shown = f" (the first {STRIP_MAX} shown)" if n > STRIP_MAX else ""
    text = f"Selection {which}: {n:,} images{shown}; by class " + ", ".join(parts)
    return text if text.endswith("…") else text + "."


def strip_columns(n: int) -> int:
    """Columns of a strip of n images: STRIP_ROWS rows at most for STRIP_MAX images."""
    return max(1, min(n, STRIP_MAX // STRIP_ROWS))


@dataclass
class Selection:
    """One lasso selection: the test images inside `polygon` (map coordinates, None when made
    without one) and what its row shows (none of it for an empty selection)."""

    indices: np.ndarray  # into the test split
    polygon: np.ndarray | None = None  # (M, 2), as drawn
    images: np.ndarray | None = None  # display arrays of the first STRIP_MAX images
    mean: np.ndarray | None = None  # the decoding of the mean code, a display array
    counts: np.ndarray | None = None  # images per class
    names: tuple[str, ...] = field(default_factory=tuple)  # the class names

    def caption(self, which: str, classes: int | None = None) -> str:
        if not len(self.indices) or self.counts is None:
            return f"Selection {which}: {EMPTY[0].lower()}{EMPTY[1:]}"
        return selection_caption(len(self.indices), self.counts, self.names, which, classes)


class SelectionRow(QWidget):
    """One selection's row: its letter in its colour with the caption, its strip of images and
    its decoded mean."""

    def __init__(self, which: str, color: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.which, self.color = which, color
        self.shown = 0  # images in the strip now
        # The caption starts with the letter in the colour of its outline on the map.
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        # Its wrapped lines' height: a short window takes room from the sliders below (they
        # scroll), not from this text, which it drew over itself.
        self.caption.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.strip = ImageView(min_height=40)
        self.strip.setMaximumHeight(90)
        self.mean_view = ImageView(min_height=40)
        self.mean_view.setMaximumHeight(90)
        self.mean_view.setMaximumWidth(90)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        strip_row = row(stretch=False)
        strip_row.addWidget(self.strip, 1)
        strip_row.addWidget(self.mean_view)
        layout.addLayout(strip_row)
        self.show_selection(None)

    def show_selection(self, sel: Selection | None) -> None:
        """Show `sel` (None: nothing selected for this letter yet)."""
        if sel is None or sel.images is None or sel.mean is None:
            self.strip.clear_images()
            self.mean_view.clear_images()
            self.shown = 0
            self._say(sel.caption(self.which) if sel is not None else
                      f"Selection {self.which}: none yet.")
            return
        images = sel.images[:STRIP_MAX]
        self.strip.set_images(images, ncols=strip_columns(len(images)))
        self.shown = len(images)
        self.mean_view.set_images(sel.mean[None], ncols=1)
        self._say(sel.caption(self.which, CAPTION_CLASSES), sel.caption(self.which))

    def _say(self, text: str, full: str | None = None) -> None:
        self.caption.setText(f'<b><span style="color:{self.color}">■</span></b> {escape(text)}')
        self.caption.setToolTip(full or text)

    @property
    def text(self) -> str:
        """The caption as the user reads it (no markup)."""
        return unescape(re.sub(r"<[^>]+>", "", self.caption.text())).removeprefix("■ ")


class SelectionBox(QGroupBox):
    """The last two lasso selections (A, B), each with its images and decoded mean."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Selection", parent)
        self.items: list[Selection] = []  # the last two lasso selections, A first
        self.hint = QLabel(HINT)
        self.hint.setWordWrap(True)
        self.rows = [SelectionRow(w, c) for w, c in zip(SELECTION_NAMES, SELECTION_COLORS)]
        self.send_button = QPushButton("Send to interpolation")
        self.send_button.setToolTip("The decoded means of selections A and B become the "
                                    "interpolation's start and end")
        self.send_button.setEnabled(False)
        self.send_directions_button = QPushButton("Send A/B to Directions")
        self.send_directions_button.setToolTip(
            "The Directions tab makes the attribute vector mean(A) − mean(B) of the two "
            "selections' codes and applies it to an image")
        self.send_directions_button.setEnabled(False)
        self.send_directions_button.clicked.connect(self.send_to_directions)
        self.clear_button = QPushButton("Clear selections")
        self.clear_button.setToolTip("Forget selections A and B and take their outlines off "
                                     "the map")
        self.clear_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.hint)
        for r in self.rows:
            layout.addWidget(r)
        layout.addLayout(row(self.send_button, self.send_directions_button, self.clear_button))

    # -- what the panel and tests read ---------------------------------------------------------
    @property
    def selections(self) -> list[np.ndarray]:
        """The last two selections' indices into the test split, A first."""
        return [s.indices for s in self.items]

    @property
    def last(self) -> np.ndarray | None:
        return self.items[-1].indices if self.items else None

    @property
    def mean(self) -> np.ndarray | None:
        """The decoded mean code of the last selection (None: none, or it caught nothing)."""
        return self.items[-1].mean if self.items else None

    @property
    def which(self) -> str:
        """The last selection's letter: 'A' for the first of two, 'B' for the second."""
        return SELECTION_NAMES[max(len(self.items) - 1, 0)]

    @property
    def last_row(self) -> SelectionRow:
        return self.rows[max(len(self.items) - 1, 0)]

    @property
    def caption(self) -> QLabel:
        """The last selection's caption."""
        return self.last_row.caption

    @property
    def strip(self) -> ImageView:
        """The last selection's strip of images."""
        return self.last_row.strip

    @property
    def mean_view(self) -> ImageView:
        """The last selection's decoded mean."""
        return self.last_row.mean_view

    # -- changing the selections ---------------------------------------------------------------
    def add(self, selection: Selection) -> None:
        """A new selection: it becomes B and the one before A (the one before that goes)."""
        self.items = (self.items + [selection])[-2:]
        self._refresh()

    def clear(self) -> None:
        self.items = []
        self._refresh()

    def _refresh(self) -> None:
        for i, r in enumerate(self.rows):
            r.show_selection(self.items[i] if i < len(self.items) else None)
        both = len(self.items) == 2 and all(len(s.indices) for s in self.items)
        self.send_button.setEnabled(both)
        self.send_directions_button.setEnabled(both)
        self.clear_button.setEnabled(bool(self.items))

    def send_to_directions(self) -> LassoPair | None:
        """Send selections A and B (test-split indices) to the Directions tab, through the
        panel holding this box (its `sent` signal, which the window routes); returns the pair
        (None: not two selections, or no panel holds the box)."""
        if len(self.items) < 2:
            return None
        panel = self.parentWidget()
        while panel is not None and not isinstance(panel, Panel):
            panel = panel.parentWidget()
        if panel is None:
            return None
        run = panel.run
        a, b = self.selections
        pair = LassoPair(np.array(a, np.int64), np.array(b, np.int64),
                         run.id if run is not None else None)
        panel.sent.emit(DIRECTIONS_LASSO, pair)
        return pair


__all__ = ["CAPTION_CLASSES", "EMPTY", "HINT", "SELECTION_COLORS", "SELECTION_NAMES", "SELECTION_SYMBOLS",
           "STRIP_MAX", "STRIP_ROWS", "Selection", "SelectionBox", "SelectionRow",
           "selection_caption", "strip_columns"]
