"""The Latent map tab's lasso selection: the last two selections (A, B), the first images of
the last one in a strip, the decoding of its mean code beside it, "Send to interpolation", and
"Send A/B to Directions" (the two sets of test images, whose mean codes' difference the
Directions tab applies as an attribute vector).

The panel finds the points and decodes; this box keeps the selections and shows them. Images
are display arrays (training/explore/render.py): (n, H, W) grey or (n, H, W, 3) colour.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget

from latent_explorer.explorer.panels.base import Panel, row
from latent_explorer.explorer.panels.directions_targets import DIRECTIONS_LASSO, LassoPair
from latent_explorer.explorer.widgets.image_view import ImageView

STRIP_MAX = 40  # images of a lasso selection shown in its strip
STRIP_ROWS = 2
HINT = "Lasso: drag around points to select them."


def selection_caption(n: int, counts: np.ndarray, names: tuple[str, ...] | list[str],
                      which: str) -> str:
    """'Selection A: 12 images; by class 3: 7, 5: 5. …', classes by count, largest first."""
    parts = [f"{names[c] if c < len(names) else c}: {k}"
             for c, k in sorted(enumerate(counts), key=lambda t: -t[1]) if k]
    shown = f" (the first {STRIP_MAX} shown)" if n > STRIP_MAX else ""
    return (f"Selection {which}: {n:,} images{shown}; by class " + ", ".join(parts)
            + ". Right: the decoded mean of their codes.")


class SelectionBox(QGroupBox):
    """The last two lasso selections, the last one's images and decoded mean."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Selection", parent)
        self.selections: list[np.ndarray] = []  # the last two lasso selections (indices)
        self.mean: np.ndarray | None = None  # the decoded mean code of the last, displayed
        self.caption = QLabel(HINT)
        self.caption.setWordWrap(True)
        self.strip = ImageView(min_height=40)
        self.strip.setMaximumHeight(90)
        self.mean_view = ImageView(min_height=40)
        self.mean_view.setMaximumHeight(90)
        self.mean_view.setMaximumWidth(90)
        self.send_button = QPushButton("Send to interpolation")
        self.send_button.setToolTip("The decoded means of the last two selections "
                                    "become the interpolation's start and end")
        self.send_button.setEnabled(False)
        self.send_directions_button = QPushButton("Send A/B to Directions")
        self.send_directions_button.setToolTip(
            "The Directions tab makes the attribute vector mean(A) − mean(B) of the two "
            "selections' codes and applies it to an image")
        self.send_directions_button.setEnabled(False)
        self.send_directions_button.clicked.connect(self.send_to_directions)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        strip_row = row(stretch=False)
        strip_row.addWidget(self.strip, 1)
        strip_row.addWidget(self.mean_view)
        layout.addLayout(strip_row)
        layout.addLayout(row(self.send_button, self.send_directions_button))

    @property
    def last(self) -> np.ndarray | None:
        return self.selections[-1] if self.selections else None

    @property
    def which(self) -> str:
        """'A' for the first of two selections, 'B' for the second."""
        return "B" if len(self.selections) == 2 else "A"

    def add(self, indices: np.ndarray) -> None:
        """A new selection: it and the one before are kept."""
        self.selections = (self.selections + [np.asarray(indices)])[-2:]
        both = len(self.selections) == 2 and all(len(s) for s in self.selections)
        self.send_button.setEnabled(both)
        self.send_directions_button.setEnabled(both)

    def show_selection(self, images: np.ndarray, mean: np.ndarray, caption: str) -> None:
        """The last selection's first images (display arrays) and its decoded mean."""
        self.strip.set_images(images, ncols=max(1, min(len(images), STRIP_MAX // STRIP_ROWS)))
        self.mean = mean
        self.mean_view.set_images(mean[None], ncols=1)
        self.caption.setText(caption)

    def show_empty(self, text: str) -> None:
        """The last lasso caught nothing (the one before still counts for nothing to send)."""
        self.strip.clear_images()
        self.mean_view.clear_images()
        self.mean = None
        self.caption.setText(text)

    def clear(self) -> None:
        self.selections = []
        self.show_empty(HINT)
        self.send_button.setEnabled(False)
        self.send_directions_button.setEnabled(False)

    def send_to_directions(self) -> LassoPair | None:
        """Send selections A and B (test-split indices) to the Directions tab, through the
        panel holding this box (its `sent` signal, which the window routes); returns the pair
        (None: not two selections, or no panel holds the box)."""
        if len(self.selections) < 2:
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


__all__ = ["HINT", "STRIP_MAX", "SelectionBox", "selection_caption"]
