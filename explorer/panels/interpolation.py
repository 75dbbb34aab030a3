"""Two-point latent interpolation: strips for one or two runs and a live scrubber."""

from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from superqt.utils import qthrottled

from latent_explorer.explorer.panels.base import (
    INTERPOLATION_END,
    INTERPOLATION_START,
    Panel,
    as_model_image,
    image_shape_of,
    image_words,
    labeled_slider,
    row,
    run_caption,
    same_images,
)
from latent_explorer.explorer.widgets.compare_box import CompareBox
from latent_explorer.explorer.widgets.flow_layout import flow, group
from latent_explorer.explorer.widgets.image_view import ImageView
from latent_explorer.training.explore import drawing
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.explore.render import stack_grids
from latent_explorer.training.record.run import Run

GALLERY_ROWS, GALLERY_COLS = 2, 16
SENT_PLACEHOLDER = "sent image"
# What a strip's caption calls an image sent from another tab (a drawing, a lasso selection's
# mean, a loaded picture): the tab cannot tell which, so it never says "your drawing".
SENT_WORDS = "the image sent from another tab"
SCRUB_STEPS = 1000


class InterpolationPanel(Panel):
    """Start and end image (by label or from a gallery), linear or slerp strips, a t scrubber."""

    title = "Interpolation"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.i0 = 0
        self.i1 = 1
        # An image sent from another tab (a drawing, a loaded picture) used instead of test
        # image i0 / i1: float32 in [0, 1], as the run's model takes it, (C, H, W).
        self.custom: list[np.ndarray | None] = [None, None]
        self._example_seed = 0
        self._gallery_seed = 0
        self._test = None  # the split the indices refer to
        self.gallery_indices = np.zeros(0, np.int64)
        self.pairs: dict[int, explore.LatentPair] = {}  # run id -> encodings of (i0, i1)
        self.strips: list[np.ndarray] = []
        self.scrub_images: np.ndarray | None = None

        self.start_digit, self.end_digit = QComboBox(), QComboBox()
        for combo in (self.start_digit, self.end_digit):
            # An image sent from another tab has no test label: the box shows this, not the
            # class of the test image it replaced.
            combo.setPlaceholderText(SENT_PLACEHOLDER)
        self._class_names: tuple[str, ...] = ()
        self._set_class_names(tuple(str(c) for c in range(10)))
        self.start_another = QPushButton("another one")
        self.end_another = QPushButton("another one")
        self.start_another.setToolTip("A different test image with this label")
        self.end_another.setToolTip("A different test image with this label")
        self.steps = QSpinBox()
        self.steps.setRange(2, 20)
        self.steps.setValue(10)
        self.steps.setToolTip("Decodings between (and including) the two encodings")
        self.method = QComboBox()
        self.method.addItem("linear", "linear")
        self.method.addItem("spherical (slerp)", "slerp")
        self.mix_label = QCheckBox("interpolate the label too")
        self.mix_label.setToolTip("CVAE: blend the one-hot from the start label to the end label "
                                  "(by default the start label is kept)")
        self.compare = CompareBox("Interpolate the same pair with a second run, one strip below")

        self.gallery = ImageView(min_height=70)
        self.gallery.setToolTip("Click an image to make it the start (or end) image; right-click: end")
        self.click_start = QRadioButton("start")
        self.click_end = QRadioButton("end")
        self.click_start.setChecked(True)
        self.other_images = QPushButton("Other images")

        self.views = [ImageView(min_height=60), ImageView(min_height=60)]
        self.captions = [QLabel(), QLabel()]
        self.scrub = labeled_slider(0, SCRUB_STEPS, SCRUB_STEPS // 2)
        self.scrub.setToolTip("Decode the point at t while dragging")
        self.scrub_label = QLabel("t = 0.50")
        self.scrub_view = ImageView(min_height=110)
        self.scrub_view.setMaximumWidth(260)

        layout = QVBoxLayout(self.content)
        # The settings wrap onto more lines in a narrow tab; the scrubber sits beside the
        # strips rather than below them, so the tab fits a laptop's height.
        layout.addLayout(flow(group("Start: class", self.start_digit, self.start_another),
                              group("End: class", self.end_digit, self.end_another),
                              group("Steps", self.steps), self.method, self.mix_label,
                              self.compare, self.save_button))
        layout.addLayout(row("Test images — a click sets the", self.click_start, self.click_end,
                             self.other_images))
        layout.addWidget(self.gallery, 1)
        strips = QVBoxLayout()
        for cap, view in zip(self.captions, self.views):
            cap.setWordWrap(True)
            strips.addWidget(cap)
            strips.addWidget(view, 1)
        scrub_box = QVBoxLayout()
        scrub_box.addLayout(row("Scrub", self.scrub, self.scrub_label, stretch=False))
        scrub_box.addWidget(self.scrub_view, 1)
        self.scrub.setMinimumWidth(120)
        bottom = row(stretch=False)
        bottom.addLayout(strips, 1)
        bottom.addLayout(scrub_box)
        layout.addLayout(bottom, 2)

        # Latest value wins while dragging: decode once per event-loop turn, the newest t.
        self._scrub_later = qthrottled(self._update_scrub, timeout=0, leading=False, parent=self)
        self.start_digit.activated.connect(self._on_start_digit_activated)
        self.end_digit.activated.connect(self._on_end_digit_activated)
        self.start_another.clicked.connect(self._on_start_another_clicked)
        self.end_another.clicked.connect(self._on_end_another_clicked)
        self.steps.valueChanged.connect(self._on_setting_changed)
        self.method.currentIndexChanged.connect(self._on_setting_changed)
        self.mix_label.toggled.connect(self._on_setting_changed)
        self.compare.changed.connect(self._on_compare_changed)
        self.gallery.cell_clicked.connect(self._on_gallery_cell_clicked)
        self.other_images.clicked.connect(self._on_other_images_clicked)
        self.scrub.valueChanged.connect(self._on_scrub_changed)

    def _set_class_names(self, names: tuple[str, ...]) -> None:
        if names == self._class_names:
            return
        for combo in (self.start_digit, self.end_digit):
            combo.blockSignals(True)
            combo.clear()
            for c, name in enumerate(names):
                combo.addItem(name, c)
            combo.blockSignals(False)
        self._class_names = names

    # -- choosing the pair -------------------------------------------------------------------
    def set_endpoints(self, i0: int | None = None, i1: int | None = None) -> None:
        """Use test images i0 (start) and i1 (end), by index into the test split."""
        if i0 is not None:
            self.i0 = int(i0)
            self.custom[0] = None
        if i1 is not None:
            self.i1 = int(i1)
            self.custom[1] = None
        self._update_pair()

    def set_custom_endpoint(self, which: int, image: np.ndarray) -> None:
        """Use an image in [0, 1] (e.g. a drawing; as the run's model takes it, (C, H, W), or
        (H, W) grey) as the start (0) or end (1) image."""
        self.custom[which] = np.asarray(image, dtype=np.float32).copy()
        self._update_pair()

    def accepts(self, target: str) -> bool:
        return target in (INTERPOLATION_START, INTERPOLATION_END)

    def receive_image(self, target: str, image: np.ndarray) -> None:
        self.set_custom_endpoint(0 if target == INTERPOLATION_START else 1, image)

    def pick_by_label(self, which: str, label: int, another: bool = False) -> None:
        """Start or end: a test image of `label`; `another` draws a different one."""
        test = self.run.dataset.test
        current = self.i0 if which == "start" else self.i1
        self._example_seed += 1
        i = explore.pick_example(test.labels, label, self._example_seed,
                                 exclude=current if another else None)
        if i is None:
            self.captions[0].setText(f"No test image has the label {self._class_names[label]}.")
            return
        self.set_endpoints(i0=i) if which == "start" else self.set_endpoints(i1=i)

    @property
    def t(self) -> float:
        return self.scrub.value() / SCRUB_STEPS

    # -- slots -------------------------------------------------------------------------------
    def _on_start_digit_activated(self, index: int) -> None:
        self.pick_by_label("start", self.start_digit.itemData(index))

    def _on_end_digit_activated(self, index: int) -> None:
        self.pick_by_label("end", self.end_digit.itemData(index))

    def _on_start_another_clicked(self) -> None:
        self.pick_by_label("start", self.start_digit.currentData(), another=True)

    def _on_end_another_clicked(self) -> None:
        self.pick_by_label("end", self.end_digit.currentData(), another=True)

    def _on_gallery_cell_clicked(self, cell: int, button) -> None:
        i = int(self.gallery_indices[cell])
        if button == Qt.MouseButton.RightButton or self.click_end.isChecked():
            self.set_endpoints(i1=i)
            self.click_start.setChecked(True)  # the next click picks a new start
        else:
            self.set_endpoints(i0=i)
            self.click_end.setChecked(True)

    def _on_other_images_clicked(self) -> None:
        self._gallery_seed += 1
        self._update_gallery()

    def _on_setting_changed(self, *_args) -> None:
        self._update_strips()

    def _on_compare_changed(self) -> None:
        if self.run is not None and not self.is_showing_hint:
            self._update_pair()

    def _on_scrub_changed(self, value: int) -> None:
        self.scrub_label.setText(f"t = {value / SCRUB_STEPS:.2f}")
        self._scrub_later()

    # -- drawing -----------------------------------------------------------------------------
    def _update_run_list(self) -> None:
        self.compare.set_runs(self.runs)

    def _clear(self) -> None:
        self.pairs = {}
        self.strips = []
        self.scrub_images = None
        for v in (*self.views, self.gallery, self.scrub_view):
            v.clear_images()
        for c in self.captions:
            c.clear()

    def _update_run(self) -> None:
        self._set_class_names(self.run.class_names)
        test = self.run.dataset.test
        if test is not self._test:  # another dataset: indices into the old one mean nothing
            self._test = test
            self.i0 = 0
            labels = test.labels.numpy()
            other = np.flatnonzero(labels != labels[0])
            self.i1 = int(other[0]) if len(other) else min(1, len(test) - 1)
            self._update_gallery()
        elif not self.gallery.has_image:  # cleared while a hint showed: draw it again
            self._update_gallery()
        self.compare.set_selected(self.run)
        self.mix_label.setEnabled(self.run.is_conditional)
        self._update_pair()

    def _update_gallery(self) -> None:
        test = self.run.dataset.test
        self.gallery_indices = explore.pick_indices(len(test), GALLERY_ROWS * GALLERY_COLS,
                                                    self._gallery_seed > 0, self._gallery_seed)
        x, _ = explore.split_images(test, self.gallery_indices)
        self.gallery.set_images(x.numpy(), ncols=GALLERY_COLS)

    def shown_runs(self) -> list[Run]:
        """The selected run and the compared one, if it takes images of the same shape (it
        encodes the same two images)."""
        other = self.compare.other_than(self.run)
        return [self.run] + ([other] if other is not None and same_images(self.run, other) else [])

    def _update_pair(self) -> None:
        """Encode the pair with each shown run, then redraw the strips and the scrubber."""
        if self.run is None or self.is_showing_hint:
            return
        test = self.run.dataset.test
        x, y = explore.split_images(test, [self.i0, self.i1])
        x, y = x.clone(), y.clone()
        for j, image in enumerate(self.custom):
            if image is not None:
                try:
                    image = as_model_image(image, image_shape_of(self.run))
                except ValueError as e:  # sent for another run's model: the test image again
                    self.custom[j] = None
                    self.captions[0].setText(str(e))
                    continue
                self.custom[j] = image
                x[j] = torch.from_numpy(image)
                y[j] = self._custom_label(image)
        self._x = x
        self.y0, self.y1 = int(y[0]), int(y[1])
        for combo, another, lab, image in (
                (self.start_digit, self.start_another, self.y0, self.custom[0]),
                (self.end_digit, self.end_another, self.y1, self.custom[1])):
            # A sent image has no test label: the box shows SENT_PLACEHOLDER (index -1), and
            # "another one" has no class to draw another image of.
            combo.setCurrentIndex(combo.findData(lab) if image is None else -1)
            another.setEnabled(image is None)
        self.pairs = {r.id: explore.encode_pair(r.model, x[0], x[1], self.y0, self.y1)
                      for r in self.shown_runs()}
        self._update_strips()

    def _custom_label(self, image: np.ndarray) -> int:
        """A drawing's label for a CVAE: the guess of the first shown CVAE (0: none needs one)."""
        cvae = next((r for r in self.shown_runs() if r.is_conditional), None)
        return drawing.classify(cvae.model, image)[0] if cvae is not None else 0

    def _class_name(self, label: int) -> str:
        """The class's name ("heart", "Sneaker"), which is the digit itself for digits."""
        return self._class_names[label] if 0 <= label < len(self._class_names) else str(label)

    def _endpoint_text(self, which: int, conditional: bool) -> str:
        name = self._class_name(self.y0 if which == 0 else self.y1)
        if self.custom[which] is not None:
            return SENT_WORDS + (f" (read as {name})" if conditional else "")
        return f"image #{self.i0 if which == 0 else self.i1} ({name})"

    def _update_strips(self) -> None:
        if self.run is None or self.is_showing_hint or not self.pairs:
            return
        runs = self.shown_runs()
        steps, method = self.steps.value(), self.method.currentData()
        mix = self.mix_label.isChecked()
        self.strips = []
        x0, x1 = self._x[0], self._x[1]
        for j, (view, caption) in enumerate(zip(self.views, self.captions)):
            visible = j < len(runs)
            view.setVisible(visible)
            caption.setVisible(visible)
            if not visible:
                continue
            r = runs[j]
            pair = self.pairs.get(r.id) or explore.encode_pair(r.model, x0, x1, self.y0, self.y1)
            self.pairs[r.id] = pair
            # As one-image batches (1, C, H, W): a lone (3, H, W) would read as 3 grey images.
            strip = explore.interpolation_strip(r.model, pair, x0[None], x1[None], steps, method,
                                                mix and r.is_conditional)
            self.strips.append(view.set_images(strip, ncols=len(strip)))
            how = "spherical (slerp)" if method == "slerp" else "linear"
            label = ""
            if r.is_conditional:
                label = (f"; label one-hot {self._class_name(self.y0)} → "
                         f"{self._class_name(self.y1)}" if mix
                         else f"; decoded with the start label {self._class_name(self.y0)}")
            start = self._endpoint_text(0, r.is_conditional)
            end = self._endpoint_text(1, r.is_conditional)
            caption.setText(f"{run_caption(r)}: start {start}, {steps} {how} decodings from "
                            f"t = 0 to 1{label}, end {end}.{self._not_compared()}")
        self._update_scrub()

    def _not_compared(self) -> str:
        """A sentence when the compared run cannot take these images (another shape)."""
        other = self.compare.other_than(self.run)
        if other is None or same_images(self.run, other):
            return ""
        return (f" Not compared with <b>{other.name}</b>: it takes {image_words(other)} images, "
                f"these are {image_words(self.run)}.")

    def _update_scrub(self) -> None:
        if self.run is None or self.is_showing_hint or not self.pairs:
            return
        t, method, mix = self.t, self.method.currentData(), self.mix_label.isChecked()
        images = [explore.decode_pair_at(r.model, self.pairs[r.id], t, method,
                                         mix and r.is_conditional)
                  for r in self.shown_runs() if r.id in self.pairs]
        self.scrub_images = np.concatenate(images)
        self.scrub_view.set_images(self.scrub_images, ncols=1)

    def export_grid(self) -> np.ndarray | None:
        return stack_grids(self.strips) if self.strips else None
