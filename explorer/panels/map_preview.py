"""The Latent map tab's preview: the chosen point's images (the test image and its
reconstruction, a drawing and its, or a decoded map point) beside the traversal's live
decoding, and a caption; hovering a point shows its images instead until the mouse leaves.

Images are display arrays (training/explore/render.py): (n, H, W) grey or (n, H, W, 3) colour.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from latent_explorer.explorer.panels.base import row
from latent_explorer.explorer.widgets.image_view import ImageView

HINT = "Hover or click a point; click empty space to decode it."
MAX_VIEW_HEIGHT = 240  # the rest of the height goes to the sliders


class PointPreview(QWidget):
    """The chosen point's images, the traversal image, and a caption."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.images: np.ndarray | None = None  # the chosen point's, shown when not hovering
        self.text = ""
        self.traversal_image: np.ndarray | None = None
        self.view = ImageView(min_height=100)
        self.traversal_view = ImageView(min_height=100)
        for view in (self.view, self.traversal_view):
            view.setMaximumHeight(MAX_VIEW_HEIGHT)
        self.caption = QLabel(HINT)
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        images = row(stretch=False)
        images.addWidget(self.view, 2)
        images.addWidget(self.traversal_view, 1)
        layout.addLayout(images)
        layout.addWidget(self.caption)

    def show_chosen(self, images: np.ndarray, text: str) -> None:
        """The chosen point's images: shown now, and again whenever the mouse leaves a point."""
        self.images, self.text = images, text
        self.restore()

    def show_hovered(self, images: np.ndarray, text: str) -> None:
        self.view.set_images(images, ncols=len(images))
        self.caption.setText(text)

    def restore(self) -> None:
        """Back to the chosen point's images (the mouse left the point it hovered)."""
        if self.images is not None:
            self.view.set_images(self.images, ncols=len(self.images))
        self.caption.setText(self.text or HINT)

    def show_traversal(self, images: np.ndarray) -> None:
        self.traversal_image = images
        self.traversal_view.set_images(images, ncols=1)

    def clear(self) -> None:
        self.images = self.traversal_image = None
        self.text = ""
        self.view.clear_images()
        self.traversal_view.clear_images()


__all__ = ["PointPreview"]
