"""Directions in the latent space: attribute vectors, analogies and principal directions.

Three pages over one chosen image (a test image by index, or an image sent from another tab):

- Attribute vector (White 2016, "Sampling Generative Networks"): the mean code of class A's
  test images minus that of class B's (or of all the others), balanced by subsampling the larger
  set; or the Latent map's lasso selections A and B ("Send A/B to Directions" there), used whole.
  The image's code moves by strength · vector (a slider, −2…+2) and the strip below decodes it
  at every strength of STRENGTHS. A vector can be saved with the run under a name
  (training/record/vectors.py: in its workspace folder, or beside its checkpoint file) and
  applied again later.
- Analogy: A is to B as C is to C + (B − A); A and B are a class's mean code or one test image,
  C several test images.
- Principal directions (GANSpace, Härkönen et al. 2020): the PCA of the test images' posterior
  means, one slider per direction in units of the codes' standard deviation along it, labelled
  with its share of variance; the image's code moves along them, decoded live.

The math is training/explore/directions.py's; the test split's codes and their PCA are made in
a worker thread (directions_codes.py) when the tab is first shown for a run's weights. A CVAE
encodes with the true label and decodes with the image's label (an analogy: with B's).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np
import torch
from PySide6.QtWidgets import QLabel, QPushButton, QSpinBox, QTabWidget, QVBoxLayout, QWidget
from superqt.utils import qthrottled

from latent_explorer.explorer.panels.base import Panel, as_model_image, image_shape_of, run_caption
from latent_explorer.explorer.panels.directions_codes import CodesMaker, TestCodes
from latent_explorer.explorer.panels.directions_pages import (
    STRENGTH_STEPS,
    AnalogyPage,
    AttributePage,
    PrincipalPage,
    fill_combo,
)
from latent_explorer.explorer.panels.directions_targets import (
    DIRECTIONS_IMAGE,
    DIRECTIONS_LASSO,
    LassoPair,
)
from latent_explorer.explorer.widgets.flow_layout import flow, group
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.explore.directions import (
    STRENGTHS,
    AttributeVector,
    analogy,
    apply_vector,
    attribute_vector,
)
from latent_explorer.training.explore.render import stack_grids, to_numpy_images
from latent_explorer.training.record.run import Run
from latent_explorer.training.record.vectors import delete_vector, load_vectors, save_vector

REST = -1  # class B "the rest": every test image not in A
ONE_IMAGE = -1  # an analogy's A or B is one test image (else a class, by number)
FROM_INDEX = -1  # an analogy's C images are the test images from an index on (else a class's)
SEED = 0  # the balanced subsample's seed: the same vector every time
ATTRIBUTE, ANALOGY, PRINCIPAL = range(3)  # the pages, in tab order


def strength_text(s: float) -> str:
    """'+1.5' / '−2': a strength as the strip's labels write it."""
    return f"{s:+g}".replace("-", "−")


def share_text(share: float) -> str:
    """'18%' for a share of 0.18; a share under 1% keeps a decimal ('0.3%'), so a direction
    with almost no variance is not read as exactly none."""
    pct = 100 * float(share)
    return f"{pct:.0f}%" if pct >= 0.95 else f"{pct:.1f}%"


def vector_place(run: Run) -> Path | None:
    """Where `run`'s vectors are kept: its workspace folder, else its checkpoint file (None:
    the run is only in memory)."""
    if run.folder is not None:
        return run.folder
    return run.path


class DirectionsPanel(Panel):
    """Attribute vectors, analogies and principal directions, applied to one image."""

    title = "Directions"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.codes: TestCodes | None = None  # the selected run's test codes, once made
        self.vector: AttributeVector | None = None  # the vector the attribute page applies
        self.lasso: LassoPair | None = None  # the last selections sent from the Latent map
        self.saved: dict[str, AttributeVector] = {}  # the selected run's saved vectors
        self.image_index = 0  # the chosen test image, unless `custom` is set
        self.custom: np.ndarray | None = None  # an image sent here, (C, H, W) float32
        self._custom_code: tuple[np.ndarray, int | None] | None = None  # its (z, label)
        self.strip_images: np.ndarray | None = None  # the strip's decodings (display arrays)
        self.edited_image: np.ndarray | None = None  # z + strength · vector decoded
        self.analogy_images: np.ndarray | None = None  # decode(C + B − A), one per C
        self.analogy_c: np.ndarray | None = None  # the C test images' indices
        self.pc_image: np.ndarray | None = None  # the image's code moved along the sliders
        self._seed = 0
        self._run_id: int | None = None  # the run the state above belongs to
        self._vector_from = "classes"  # what made `vector`: "classes", "lasso" or "saved"

        self.maker = CodesMaker(self)
        self.maker.ready.connect(self._on_codes_ready)
        self.maker.failed.connect(self._on_codes_failed)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.image_spin = QSpinBox()
        self.image_spin.setToolTip("The test image the directions are applied to")
        self.another_button = QPushButton("Another")
        self.another_button.setToolTip("A random test image")
        self.image_note = QLabel()
        self.attribute, self.analogy, self.principal = AttributePage(), AnalogyPage(), PrincipalPage()
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(self.attribute, "Attribute vector")
        self.pages.addTab(self.analogy, "Analogy")
        self.pages.addTab(self.principal, "Principal directions")

        layout = QVBoxLayout(self.content)
        layout.addWidget(self.caption)
        layout.addLayout(flow(group("Image: test #", self.image_spin, self.another_button),
                              self.image_note, self.save_button))
        layout.addWidget(self.pages, 1)

        a, g, p = self.attribute, self.analogy, self.principal
        # Latest value wins while dragging: decode once per event-loop turn.
        self._strength_later = qthrottled(self._draw_edited, timeout=0, leading=False, parent=self)
        self._pcs_later = qthrottled(self._draw_principal, timeout=0, leading=False, parent=self)
        self.image_spin.valueChanged.connect(self._on_image_spin_changed)
        self.another_button.clicked.connect(self._on_another_clicked)
        a.class_a.activated.connect(self._on_classes_chosen)
        a.class_b.activated.connect(self._on_classes_chosen)
        a.balanced.toggled.connect(self._on_classes_chosen)
        a.lasso_button.clicked.connect(self._on_lasso_clicked)
        a.strength.valueChanged.connect(self._on_strength_changed)
        a.save_vector_button.clicked.connect(self._on_save_vector_clicked)
        a.name_edit.returnPressed.connect(self._on_save_vector_clicked)
        a.use_button.clicked.connect(self._on_use_clicked)
        a.delete_button.clicked.connect(self._on_delete_clicked)
        for box in (g.a_box, g.b_box, g.c_box):
            box.activated.connect(self._on_analogy_changed)
        for spin in (g.a_index, g.b_index, g.c_index, g.c_count):
            spin.valueChanged.connect(self._on_analogy_changed)
        p.edited.connect(self._pcs_later)
        p.reset_button.clicked.connect(p.reset)
        self._on_strength_changed(a.strength.value())
        self._enable(False)

    # -- the run -------------------------------------------------------------------------------
    def _update_run(self) -> None:
        run = self.run
        n = len(run.dataset.test)
        self.image_spin.blockSignals(True)
        self.image_spin.setRange(0, n - 1)
        self.image_spin.setValue(min(self.image_index, n - 1))
        self.image_spin.blockSignals(False)
        self.image_index = self.image_spin.value()  # a smaller test split: within it
        for spin in (self.analogy.a_index, self.analogy.b_index, self.analogy.c_index):
            spin.blockSignals(True)
            spin.setRange(0, n - 1)
            spin.blockSignals(False)
        self._fill_class_boxes(run.class_names)
        self._load_saved()
        if run.id != self._run_id:  # another run: its own codes, vectors and image
            self._run_id = run.id
            self.codes = self.vector = self.lasso = None
            self.custom = self._custom_code = None
            self._vector_from = "classes"
            self.attribute.lasso_button.setEnabled(False)
        self.mark_stale()

    def refresh(self) -> None:
        """Make (or take from the cache) the test codes of the run's weights, then redraw."""
        codes = self.maker.make(self.run)
        if codes is not None:
            self._set_codes(codes)
            return
        self._enable(False)
        self.caption.setText(f"{run_caption(self.run)}: encoding its {len(self.run.dataset.test):,} "
                             "test images…")

    def _on_codes_ready(self, codes: TestCodes) -> None:
        if self.run is not None and not self.is_showing_hint and codes.run_id == self.run.id:
            self._set_codes(codes)

    def _on_codes_failed(self, message: str) -> None:
        self.caption.setText(f"The test images could not be encoded: {escape(message)}")

    def _set_codes(self, codes: TestCodes) -> None:
        self.codes = codes
        self._enable(True)
        self.caption.setText(f"{run_caption(self.run)}: directions among the posterior means of "
                             f"its {len(codes.codes):,} test images.")
        if self.custom is not None:  # the weights changed: encode the image again
            self._custom_code = self._encode_custom(self.custom)
        self._set_principal_labels()
        # Newer weights move the codes: a vector made from them is made again; a saved one
        # stays as it was saved.
        if self._vector_from == "lasso":
            self.build_from_lasso()
        elif self._vector_from == "saved" and self.vector is not None:
            self._draw_attribute()
        else:
            self.build_from_classes()
        self._draw_analogy()
        self._draw_principal()

    def _clear(self) -> None:
        self.maker.forget()
        self._run_id = None
        self.codes = self.vector = self.lasso = None
        self._vector_from = "classes"
        self.custom = self._custom_code = None
        self.strip_images = self.edited_image = self.analogy_images = self.pc_image = None
        for view in (self.attribute.edit_view, self.attribute.strip_view, self.analogy.ab_view,
                     self.analogy.grid_view, self.principal.view):
            view.clear_images()
        self.attribute.lasso_button.setEnabled(False)

    def shutdown(self) -> None:
        self.maker.shutdown()

    def _enable(self, on: bool) -> None:
        for w in (self.attribute, self.analogy, self.principal, self.image_spin,
                  self.another_button):
            w.setEnabled(on)
        self.attribute.lasso_button.setEnabled(on and self.lasso is not None)

    def _fill_class_boxes(self, names: tuple[str, ...]) -> None:
        a, g = self.attribute, self.analogy
        fill_combo(a.class_a, [(n, c) for c, n in enumerate(names)])
        fill_combo(a.class_b, [("the rest", REST)] + [(n, c) for c, n in enumerate(names)])
        if a.class_b.currentData() == REST and len(names) == 2:
            a.class_b.setCurrentIndex(2)  # two classes: B is the other one
        means = [(f"mean of {n}", c) for c, n in enumerate(names)]
        fill_combo(g.a_box, means + [("test image", ONE_IMAGE)])
        fill_combo(g.b_box, means + [("test image", ONE_IMAGE)])
        if g.b_box.currentIndex() == 0 and len(names) > 1:
            g.b_box.setCurrentIndex(1)
        fill_combo(g.c_box, [(f"images of {n}", c) for c, n in enumerate(names)]
                   + [("images from #", FROM_INDEX)])

    # -- the chosen image ------------------------------------------------------------------------
    def set_image(self, index: int) -> None:
        """Apply the directions to test image `index`."""
        self.image_spin.setValue(int(index))  # valueChanged: _on_image_spin_changed
        if self.custom is not None:  # the same index: the spin box said nothing
            self._on_image_spin_changed(self.image_spin.value())

    def accepts(self, target: str) -> bool:
        return target in (DIRECTIONS_IMAGE, DIRECTIONS_LASSO)

    def receive_image(self, target: str, image) -> None:
        if target == DIRECTIONS_LASSO:
            self.use_lasso(image)
        else:
            self.use_image(image)

    def use_image(self, image: np.ndarray) -> None:
        """Apply the directions to an image in [0, 1] sent from another tab (a drawing, a
        selection's decoded mean): (C, H, W) as the run's model takes it, or (H, W) grey."""
        if self.run is None or self.is_showing_hint:
            return
        self.custom = as_model_image(image, image_shape_of(self.run))
        self._custom_code = self._encode_custom(self.custom)
        self._redraw_image()

    def _encode_custom(self, image: np.ndarray) -> tuple[np.ndarray, int | None]:
        """(posterior mean (D,), label): a CVAE reads the label from the image (its best guess)."""
        from latent_explorer.training.explore import drawing

        a = drawing.analyse(self.run.model, image)
        return np.asarray(a.mean, np.float64), a.label

    def origin(self) -> tuple[np.ndarray, int | None, np.ndarray]:
        """The chosen image's code (D,), the label a CVAE decodes it with, and the image as a
        display array."""
        if self.custom is not None and self._custom_code is not None:
            z, label = self._custom_code
            return z, label, to_numpy_images(self.custom[None])[0]
        i = self.image_index
        x, y = explore.split_images(self.run.dataset.test, [i])
        return self.codes.codes[i], int(y[0]) if self.run.is_conditional else None, to_numpy_images(x)[0]

    def _on_image_spin_changed(self, value: int) -> None:
        self.image_index = int(value)
        self.custom = self._custom_code = None
        self._redraw_image()

    def _on_another_clicked(self) -> None:
        if self.run is None:
            return
        self._seed += 1
        n = len(self.run.dataset.test)
        self.set_image(int(np.random.default_rng(self._seed).integers(n)))

    def _redraw_image(self) -> None:
        note = "" if self.custom is None else "Using the image sent from another tab."
        self.image_note.setText(note)
        if self.codes is None:
            return
        self._draw_attribute()
        self._draw_principal()

    def _decode(self, z: np.ndarray, label: int | None) -> np.ndarray:
        """Display arrays of codes z (n, D) (a CVAE: all with `label`)."""
        zt = torch.as_tensor(np.asarray(z, np.float32)).reshape(-1, self.run.model.config.nz)
        return explore.decode(self.run.model, zt, label)

    # -- attribute vectors -------------------------------------------------------------------------
    def build_from_classes(self) -> AttributeVector | None:
        """The vector from the chosen classes: mean(A) − mean(B or the rest), balanced or not."""
        if self.codes is None:
            return None
        a = self.attribute
        ca, cb = a.class_a.currentData(), a.class_b.currentData()
        names = self.run.class_names
        if ca is None or cb is None:
            return None
        if ca == cb:
            self._say("Choose two different classes for A and B.")
            return None
        labels = self.codes.labels
        mask_b = None if cb == REST else labels == cb
        b_name = "rest" if cb == REST else names[cb]
        balanced = a.balanced.isChecked()
        how = f", balanced (seed {SEED})" if balanced else ""
        try:
            vec = attribute_vector(self.codes.codes, labels == ca, mask_b, balanced=balanced,
                                   seed=SEED, name=f"{names[ca]} − {b_name}",
                                   source=f"class {names[ca]} vs {b_name}{how}")
        except ValueError as e:
            self._say(str(e).capitalize() + ".")
            return None
        self._vector_from = "classes"
        self.set_vector(vec)
        return vec

    def use_lasso(self, pair: LassoPair) -> AttributeVector | None:
        """Keep the Latent map's selections A and B and make their vector."""
        self.lasso = pair
        self._vector_from = "lasso"
        self.attribute.lasso_button.setEnabled(self.codes is not None)
        self.pages.setCurrentIndex(ATTRIBUTE)
        return self.build_from_lasso()

    def build_from_lasso(self) -> AttributeVector | None:
        """mean(codes of selection A) − mean(codes of selection B), each set whole: the user
        drew them, and their sizes are the ones the Latent map said."""
        pair, codes = self.lasso, self.codes
        if pair is None or codes is None:
            return None
        if pair.run_id is not None and pair.run_id != codes.run_id:
            self._say("The lasso selections were drawn on another run's map: select that run, "
                      "or draw them again on this one's.")
            return None
        n = len(codes.codes)
        a, b = np.zeros(n, bool), np.zeros(n, bool)
        a[np.asarray(pair.a, np.int64)] = True
        b[np.asarray(pair.b, np.int64)] = True
        try:
            vec = attribute_vector(codes.codes, a, b, balanced=False, name="lasso A − B",
                                   source=f"lasso A ({int(a.sum())}) vs lasso B ({int(b.sum())})")
        except ValueError as e:
            self._say(str(e).capitalize() + ".")
            return None
        self._vector_from = "lasso"
        self.set_vector(vec)
        return vec

    def set_vector(self, vec: AttributeVector) -> None:
        """Apply `vec` to the chosen image (its name goes to the name field)."""
        self.vector = vec
        self.attribute.name_edit.setText(vec.name)
        self._draw_attribute()

    @property
    def strength(self) -> float:
        return self.attribute.strength.value() / STRENGTH_STEPS

    def _on_strength_changed(self, value: int) -> None:
        self.attribute.strength_label.setText(strength_text(value / STRENGTH_STEPS))
        self._strength_later()

    def _on_classes_chosen(self, *_args) -> None:
        self.build_from_classes()

    def _on_lasso_clicked(self) -> None:
        self.build_from_lasso()

    def _draw_attribute(self) -> None:
        """The caption, the strip over STRENGTHS and the image edited at the slider's strength."""
        a, vec = self.attribute, self.vector
        if self.codes is None or vec is None:
            a.strip_view.clear_images()
            a.edit_view.clear_images()
            self.strip_images = None
            return
        if vec.dim != self.codes.codes.shape[1]:
            self._say(f"{escape(vec.name)} has {vec.dim} dimensions; this run's codes "
                      f"{self.codes.codes.shape[1]}.")
            return
        norm = float(np.linalg.norm(vec.vector))
        a.caption.setText(f"<b>{escape(vec.name)}</b>: {escape(vec.source) or 'saved'}; "
                          f"{vec.n_a:,} codes in A, {vec.n_b:,} in B; ‖v‖ = {norm:.3g}. "
                          "Right: z + s·v for s = −2 … +2.")
        z, label, _ = self.origin()
        self.strip_images = self._decode(apply_vector(z, vec.vector)[0], label)
        a.strip_view.set_images(self.strip_images, ncols=len(STRENGTHS))
        a.strip_view.set_cell_labels([strength_text(s) for s in STRENGTHS])
        self._say("")
        self._draw_edited()

    def _draw_edited(self) -> None:
        a, vec = self.attribute, self.vector
        if self.codes is None or vec is None or vec.dim != self.codes.codes.shape[1]:
            return
        z, label, image = self.origin()
        recon, edited = self._decode(np.stack([z, z + self.strength * vec.vector]), label)
        self.edited_image = edited
        a.edit_view.set_images(np.stack([image, recon, edited]), ncols=3)
        a.edit_view.set_cell_labels(["image", "recon.", strength_text(self.strength)])

    def _say(self, text: str) -> None:
        self.attribute.status.setText(text)

    # -- saved vectors -------------------------------------------------------------------------
    def _load_saved(self) -> None:
        place = vector_place(self.run) if self.run is not None else None
        self.saved = load_vectors(place) if place is not None else {}
        a = self.attribute
        fill_combo(a.saved_box, [(name, name) for name in self.saved])
        for w in (a.saved_box, a.use_button, a.delete_button):
            w.setEnabled(bool(self.saved))

    def save_current(self, name: str | None = None) -> Path | None:
        """Save the shown vector with the run under `name` (the name field's by default)."""
        a = self.attribute
        name = (a.name_edit.text() if name is None else name).strip()
        if self.vector is None or self.run is None:
            return None
        place = vector_place(self.run)
        if place is None:
            self._say(f"Save the run first (File → Save) to keep vectors with "
                      f"<b>{escape(self.run.name)}</b>: it is only in memory.")
            return None
        if not name:
            self._say("Give the vector a name to save it under.")
            return None
        vec = AttributeVector(name, self.vector.vector, self.vector.n_a, self.vector.n_b,
                              self.vector.source)
        try:
            path = save_vector(place, vec)
        except (OSError, ValueError) as e:
            self._say(f"Not saved: {escape(str(e))}")
            return None
        self.vector = vec
        self._vector_from = "saved"
        self._load_saved()
        a.saved_box.setCurrentIndex(a.saved_box.findData(name))
        self._say(f"Saved <b>{escape(name)}</b> in {escape(path.name)}.")
        return path

    def use_saved(self, name: str) -> AttributeVector | None:
        """Apply the saved vector `name` (its dimension must be the run's nz)."""
        vec = self.saved.get(name)
        if vec is None or self.codes is None:
            return None
        if vec.dim != self.codes.codes.shape[1]:
            self._say(f"<b>{escape(name)}</b> has {vec.dim} dimensions, this run's codes "
                      f"{self.codes.codes.shape[1]}: it was made with another model.")
            return None
        self._vector_from = "saved"
        self.set_vector(vec)
        return vec

    def delete_saved(self, name: str) -> None:
        place = vector_place(self.run) if self.run is not None else None
        if place is None or name not in self.saved:
            return
        try:
            delete_vector(place, name)
        except OSError as e:
            self._say(f"Not deleted: {escape(str(e))}")
            return
        self._load_saved()
        self._say(f"Deleted <b>{escape(name)}</b>.")

    def _on_save_vector_clicked(self) -> None:
        self.save_current()

    def _on_use_clicked(self) -> None:
        name = self.attribute.saved_box.currentData()
        if name is not None:
            self.use_saved(name)

    def _on_delete_clicked(self) -> None:
        name = self.attribute.saved_box.currentData()
        if name is not None:
            self.delete_saved(name)

    # -- analogies -------------------------------------------------------------------------------
    def _term(self, c: int, spin: QSpinBox) -> tuple[np.ndarray, int, str]:
        """A or B, class c's mean code or (ONE_IMAGE) the spin box's test image: (its code (D,),
        its class, how the caption names it)."""
        names = self.run.class_names
        if c != ONE_IMAGE:
            mask = self.codes.labels == c
            if not mask.any():
                raise ValueError(f"no test image is a {names[c]}")
            return self.codes.codes[mask].mean(axis=0), int(c), f"the mean of {names[c]}"
        i = spin.value()
        c = int(self.codes.labels[i])
        return self.codes.codes[i], c, f"test image #{i} ({names[c]})"

    def c_indices(self) -> np.ndarray:
        """The C images: the first n test images of the chosen class, or n from an index on."""
        g = self.analogy
        c = g.c_box.currentData()
        n = g.c_count.value()
        if c != FROM_INDEX:
            return np.flatnonzero(self.codes.labels == c)[:n]
        start = g.c_index.value()
        return np.arange(start, min(start + n, len(self.codes.codes)))

    def _on_analogy_changed(self, *_args) -> None:
        self._draw_analogy()

    def _draw_analogy(self) -> None:
        g = self.analogy
        if self.codes is None or g.a_box.currentData() is None or g.c_box.currentData() is None:
            return
        g.a_index.setEnabled(g.a_box.currentData() == ONE_IMAGE)
        g.b_index.setEnabled(g.b_box.currentData() == ONE_IMAGE)
        g.c_index.setEnabled(g.c_box.currentData() == FROM_INDEX)
        try:
            z_a, ca, a_text = self._term(g.a_box.currentData(), g.a_index)
            z_b, cb, b_text = self._term(g.b_box.currentData(), g.b_index)
        except ValueError as e:
            g.caption.setText(escape(str(e).capitalize()) + ".")
            return
        idx = self.c_indices()
        if not len(idx):
            g.caption.setText("No test image is of that class.")
            g.grid_view.clear_images()
            return
        label = cb if self.run.is_conditional else None
        a_label = ca if self.run.is_conditional else None
        out = analogy(z_a, z_b, self.codes.codes[idx])
        self.analogy_c = idx
        self.analogy_images = self._decode(out, label)
        originals = to_numpy_images(explore.split_images(self.run.dataset.test, idx)[0])
        g.grid_view.set_images(np.concatenate([originals, self.analogy_images]), ncols=len(idx))
        ab = np.concatenate([self._decode(z_a[None], a_label), self._decode(z_b[None], label)])
        g.ab_view.set_images(ab, ncols=2)
        g.ab_view.set_cell_labels(["A", "B"])
        cvae = " A CVAE decodes it with B's class." if self.run.is_conditional else ""
        g.caption.setText(f"A = {escape(a_text)}, B = {escape(b_text)}: each C image (top) "
                          f"and C + (B − A) decoded below it.{cvae}")

    # -- principal directions ---------------------------------------------------------------------
    def principal_labels(self) -> list[str]:
        """'PC1 · 18% of variance', … for each direction the sliders offer."""
        pcs = self.codes.pcs if self.codes is not None else None
        if pcs is None:
            return []
        return [f"PC{k + 1} · {share_text(e)} of variance" for k, e in enumerate(pcs.explained)]

    def _set_principal_labels(self) -> None:
        p, pcs = self.principal, self.codes.pcs
        p.set_labels(self.principal_labels())  # reset: edited → a redraw
        if pcs is None:
            p.caption.setText("Principal directions need at least two test images.")
            return
        k, dims = len(pcs.explained), self.codes.codes.shape[1]
        which = (f"All {k} principal directions" if k == dims else
                 f"The top {k} principal directions ({share_text(pcs.explained.sum())} of the "
                 "variance)")
        p.caption.setText(f"{which} of the test codes (GANSpace), moved in standard deviations "
                          "along each.")

    def principal_code(self) -> np.ndarray | None:
        """The image's code moved by each slider's σ × that direction's std (D,)."""
        pcs = self.codes.pcs if self.codes is not None else None
        if pcs is None:
            return None
        z, _label, _ = self.origin()
        s = np.asarray(self.principal.sigmas(), np.float64)
        k = len(s)
        return z + (s * pcs.std[:k]) @ pcs.directions[:k]

    def _draw_principal(self) -> None:
        if self.codes is None or self.run is None or self.is_showing_hint:
            return
        moved = self.principal_code()
        if moved is None:
            return
        z, label, image = self.origin()
        recon, self.pc_image = self._decode(np.stack([z, moved]), label)
        self.principal.view.set_images(np.stack([image, recon, self.pc_image]), ncols=3)
        self.principal.view.set_cell_labels(["image", "recon.", "moved"])

    # -- export ----------------------------------------------------------------------------------
    def export_grid(self) -> np.ndarray | None:
        """What the page in front shows: the edit and its strip, the analogy grid, or the
        image moved along the principal directions."""
        page = self.pages.currentIndex()
        if page == ATTRIBUTE:
            grids = [v.grid for v in (self.attribute.edit_view, self.attribute.strip_view)]
        elif page == ANALOGY:
            grids = [v.grid for v in (self.analogy.ab_view, self.analogy.grid_view)]
        else:
            grids = [self.principal.view.grid]
        grids = [g for g in grids if g is not None]
        return stack_grids(grids) if grids else None


__all__ = ["ANALOGY", "ATTRIBUTE", "DirectionsPanel", "FROM_INDEX", "ONE_IMAGE", "PRINCIPAL",
           "REST", "share_text",
           "strength_text", "vector_place"]
