"""The Directions tab with real widgets: attribute vectors from classes and from the Latent map's
lasso, their strip, saving them with a run, analogies and principal directions, each checked
against the same quantity computed here from the model's own encoder and decoder.

Untrained MLP models (fixed seed) on 200 bundled test digits, and a colour conv model: the
numbers need not mean anything to be checked, only to be the panel's arithmetic.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabWidget

from helpers import PAD
from latent_explorer.explorer.panels.directions import (
    ANALOGY,
    FROM_INDEX,
    ONE_IMAGE,
    PRINCIPAL,
    REST,
    DirectionsPanel,
    strength_text,
)
from latent_explorer.explorer.panels.directions_pages import STRENGTH_STEPS
from latent_explorer.explorer.panels.directions_targets import DIRECTIONS_IMAGE, DIRECTIONS_LASSO
from latent_explorer.explorer.panels.latent_map import LatentMapPanel
from latent_explorer.explorer.views.panel_host import PanelHost
from latent_explorer.models.autoencoders import build_model
from latent_explorer.training.data.datasets import Dataset, Split
from latent_explorer.training.engine.loop import TrainConfig
from latent_explorer.training.explore.directions import STRENGTHS, principal_directions
from latent_explorer.training.explore.render import to_numpy_images
from latent_explorer.training.record.run import Run
from latent_explorer.training.record.vectors import load_vectors

LEFT = Qt.MouseButton.LeftButton
WAIT = 20_000


def make_run(dataset: Dataset, kind: str = "vae", arch: str = "mlp", nz: int = 6,
             **places) -> Run:
    """An untrained model of the dataset's image shape (seed 0), finished, on `dataset`."""
    cfg = TrainConfig(kind=kind, nz=nz, hidden=(32,), epochs=1, device="cpu", arch=arch)
    torch.manual_seed(0)
    n_classes = len(dataset.class_names)
    model = build_model(cfg.model_config(n_classes=n_classes, image_shape=dataset.image_shape))
    return Run(f"{kind} {arch}", cfg, model.eval(), state="finished", dataset=dataset, **places)


@pytest.fixture(scope="module")
def digits(sample_dataset) -> Dataset:
    tr, te = sample_dataset.train, sample_dataset.test
    return Dataset("digits", Split(tr.images[:50], tr.labels[:50]),
                   Split(te.images[:200], te.labels[:200]), "200 test digits")


@pytest.fixture(scope="module")
def colour() -> Dataset:
    """3×16×16 images: random colour noise of three classes, 60 test images."""
    rng = np.random.default_rng(0)
    imgs = torch.from_numpy(rng.integers(0, 256, (60, 3, 16, 16), dtype=np.uint8))
    labels = torch.arange(60) % 3
    return Dataset("noise", Split(imgs[:30], labels[:30]), Split(imgs, labels), "noise",
                   class_names=("r", "g", "b"))


def open_panel(qtbot, run: Run) -> DirectionsPanel:
    """A shown Directions tab on `run`, once its test codes are ready (made in a thread)."""
    panel = DirectionsPanel()
    qtbot.addWidget(panel)
    panel.resize(1000, 560)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_runs([run])
    with qtbot.waitSignal(panel.maker.ready, timeout=WAIT):
        panel.set_run(run)
    assert panel.codes is not None and panel.codes.run_id == run.id
    return panel


def codes_of(run: Run) -> np.ndarray:
    """The test images' posterior means, from the model's encoder (true labels for a CVAE)."""
    test = run.dataset.test
    x = test.float_images().flatten(1)
    y = test.labels if run.is_conditional else None
    with torch.no_grad():
        return run.model.encode(x, y).mean.double().numpy()


def decoded(run: Run, z: np.ndarray, label: int | None = None) -> np.ndarray:
    """Display arrays of decode(z) for codes (n, D)."""
    zt = torch.as_tensor(np.asarray(z, np.float32)).reshape(-1, run.model.config.nz)
    y = None if label is None else torch.full((len(zt),), label, dtype=torch.long)
    with torch.no_grad():
        return to_numpy_images(run.model.decode(zt, y))


def cell(grid: np.ndarray, r: int, c: int, h: int, w: int) -> np.ndarray:
    return grid[PAD + r * (h + PAD): PAD + r * (h + PAD) + h,
                PAD + c * (w + PAD): PAD + c * (w + PAD) + w]


def choose(combo, data) -> None:
    """Pick the item holding `data`, as a user's choice (activated) does."""
    i = combo.findData(data)
    assert i >= 0, data
    combo.setCurrentIndex(i)
    combo.activated.emit(i)


def balanced_expectation(codes, labels, a: int, b: int | None, seed: int = 0):
    """White's balanced vector, written out: the larger set subsampled to the smaller's size
    without replacement (numpy's Generator(seed).choice, sorted), A first, then B."""
    ia = np.flatnonzero(labels == a)
    ib = np.flatnonzero(labels != a if b is None else labels == b)
    n = min(len(ia), len(ib))
    rng = np.random.default_rng(seed)
    if len(ia) > n:
        ia = np.sort(rng.choice(ia, n, replace=False))
    if len(ib) > n:
        ib = np.sort(rng.choice(ib, n, replace=False))
    return codes[ia].mean(0) - codes[ib].mean(0), len(ia), len(ib)


# -- attribute vectors -----------------------------------------------------------------------
def test_class_vector_is_the_balanced_difference_of_class_means_and_its_strip(qtbot, digits):
    run = make_run(digits)
    panel = open_panel(qtbot, run)
    a = panel.attribute
    codes, labels = codes_of(run), digits.test.labels.numpy()
    np.testing.assert_allclose(panel.codes.codes, codes, atol=1e-5)

    choose(a.class_a, 1)
    choose(a.class_b, 7)
    want, n_a, n_b = balanced_expectation(codes, labels, 1, 7)
    vec = panel.vector
    assert (vec.n_a, vec.n_b) == (n_a, n_b) == (min((labels == 1).sum(), (labels == 7).sum()),) * 2
    np.testing.assert_allclose(vec.vector, want, atol=1e-5)
    assert "balanced" in a.caption.text() and f"{n_a:,} codes in A" in a.caption.text()

    # The rest, unbalanced: every other test image counts.
    a.balanced.setChecked(False)
    choose(a.class_b, REST)
    vec = panel.vector
    np.testing.assert_allclose(vec.vector, codes[labels == 1].mean(0) - codes[labels != 1].mean(0),
                               atol=1e-5)
    assert (vec.n_a, vec.n_b) == ((labels == 1).sum(), (labels != 1).sum())
    # ... and balanced against the rest: the rest cut to A's size.
    a.balanced.setChecked(True)
    want, n_a, n_b = balanced_expectation(codes, labels, 1, None)
    np.testing.assert_allclose(panel.vector.vector, want, atol=1e-5)
    assert n_a == n_b == (labels == 1).sum()

    # The strip: one 28×28 cell per strength, z + s·v decoded, labelled with s.
    grid = a.strip_view.grid
    assert grid.shape == (28 + 2 * PAD, len(STRENGTHS) * (28 + PAD) + PAD)
    z = codes[panel.image_index]
    for j, s in enumerate(STRENGTHS):
        np.testing.assert_allclose(cell(grid, 0, j, 28, 28), decoded(run, z + s * want)[0],
                                   atol=1e-5)
    assert a.strip_view.label_texts() == [strength_text(s) for s in STRENGTHS]

    # The slider's strength, decoded live (once per event-loop turn) beside the image.
    with qtbot.waitSignal(a.edit_view.updated, timeout=WAIT):
        a.strength.setValue(-2 * STRENGTH_STEPS)
    assert panel.strength == -2.0
    np.testing.assert_allclose(cell(a.edit_view.grid, 0, 2, 28, 28),
                               decoded(run, z - 2 * want)[0], atol=1e-5)
    np.testing.assert_allclose(cell(a.edit_view.grid, 0, 0, 28, 28),
                               digits.test.float_images()[panel.image_index, 0].numpy(), atol=1e-6)

    # Another test image: the strip starts from its code.
    panel.set_image(5)
    np.testing.assert_allclose(cell(a.strip_view.grid, 0, 0, 28, 28),
                               decoded(run, codes[5] - 2 * want)[0], atol=1e-5)


def test_the_same_class_for_a_and_b_is_said_not_raised(qtbot, digits):
    panel = open_panel(qtbot, make_run(digits))
    before = panel.vector
    choose(panel.attribute.class_a, 3)
    choose(panel.attribute.class_b, 3)
    assert panel.vector is not before and "different classes" in panel.attribute.status.text()


def test_a_colour_strip_has_a_cell_of_the_model_image_size_per_strength(qtbot, colour):
    run = make_run(colour, arch="conv", nz=4)
    panel = open_panel(qtbot, run)
    grid = panel.attribute.strip_view.grid
    assert grid.shape == (16 + 2 * PAD, len(STRENGTHS) * (16 + PAD) + PAD, 3)
    codes, labels = codes_of(run), colour.test.labels.numpy()
    want, _, _ = balanced_expectation(codes, labels, 0, None)  # class r against the rest
    np.testing.assert_allclose(panel.vector.vector, want, atol=1e-5)
    np.testing.assert_allclose(cell(grid, 0, 8, 16, 16), decoded(run, codes[0] + 2 * want)[0],
                               atol=1e-5)


def test_an_image_sent_from_another_tab_is_the_one_edited(qtbot, digits):
    run = make_run(digits)
    panel = open_panel(qtbot, run)
    assert panel.accepts(DIRECTIONS_IMAGE) and panel.accepts(DIRECTIONS_LASSO)
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 6:22, 12:16] = 1.0  # a bar, not a test image
    panel.receive_image(DIRECTIONS_IMAGE, image)
    with torch.no_grad():
        z = run.model.encode(torch.from_numpy(image).reshape(1, -1)).mean.double().numpy()[0]
    v = panel.vector.vector
    np.testing.assert_allclose(cell(panel.attribute.strip_view.grid, 0, 4, 28, 28),
                               decoded(run, z)[0], atol=1e-5)  # s = 0: its reconstruction
    np.testing.assert_allclose(cell(panel.attribute.edit_view.grid, 0, 0, 28, 28), image[0])
    np.testing.assert_allclose(cell(panel.attribute.strip_view.grid, 0, 0, 28, 28),
                               decoded(run, z - 2 * v)[0], atol=1e-5)
    assert "another tab" in panel.image_note.text()


# -- saving vectors with the run --------------------------------------------------------------
def test_a_saved_vector_is_listed_when_the_tab_opens_again_and_can_be_deleted(qtbot, digits,
                                                                             tmp_path):
    folder = tmp_path / "run-folder"
    folder.mkdir()
    run = make_run(digits, folder=folder)
    panel = open_panel(qtbot, run)
    choose(panel.attribute.class_a, 2)
    made = panel.vector
    panel.attribute.name_edit.setText("two-ness")
    qtbot.mouseClick(panel.attribute.save_vector_button, LEFT)
    stored = load_vectors(folder)
    assert list(stored) == ["two-ness"] and (folder / "vectors.json").is_file()
    np.testing.assert_allclose(stored["two-ness"].vector, made.vector)
    assert (stored["two-ness"].n_a, stored["two-ness"].n_b) == (made.n_a, made.n_b)

    again = open_panel(qtbot, run)
    box = again.attribute.saved_box
    assert [box.itemText(i) for i in range(box.count())] == ["two-ness"]
    choose(again.attribute.class_a, 5)  # another vector first ...
    qtbot.mouseClick(again.attribute.use_button, LEFT)  # ... then the saved one
    np.testing.assert_allclose(again.vector.vector, made.vector)
    assert again.vector.name == "two-ness"
    qtbot.mouseClick(again.attribute.delete_button, LEFT)
    assert load_vectors(folder) == {} and box.count() == 0


def test_a_loaded_checkpoint_keeps_its_vectors_beside_it_and_a_run_in_memory_says_save_first(
        qtbot, digits, tmp_path):
    ckpt = tmp_path / "model.safetensors"
    run = make_run(digits, path=ckpt, saved=True)
    panel = open_panel(qtbot, run)
    assert panel.save_current("bar") == tmp_path / "model.vectors.json"
    assert list(load_vectors(ckpt)) == ["bar"]

    memory = make_run(digits)
    panel = open_panel(qtbot, memory)
    panel.attribute.name_edit.setText("lost")
    qtbot.mouseClick(panel.attribute.save_vector_button, LEFT)
    assert "Save the run first" in panel.attribute.status.text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.vectors.json"]


# -- the Latent map's lasso selections ---------------------------------------------------------
def test_lasso_selections_sent_from_the_map_make_the_vector(qtbot, digits):
    run = make_run(digits)
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    host = PanelHost(tabs)
    host.tab_requested.connect(tabs.setCurrentWidget)
    lmap, directions = LatentMapPanel(), DirectionsPanel()
    host.add(lmap)
    host.add(directions)
    tabs.resize(1200, 800)
    tabs.show()
    qtbot.waitExposed(tabs)
    host.update([run], run)
    c = lmap.coords
    mid = float(np.median(c[:, 0]))
    lo, hi = c.min(axis=0) - 1, c.max(axis=0) + 1
    left = lmap.select_polygon(np.array([[lo[0], lo[1]], [mid, lo[1]], [mid, hi[1]], [lo[0], hi[1]]]))
    top = lmap.select_polygon(np.array([[lo[0], mid], [hi[0], mid], [hi[0], hi[1]], [lo[0], hi[1]]]))
    button = lmap.selection_box.send_directions_button
    assert len(left) and len(top) and button.isEnabled()
    with qtbot.waitSignal(directions.maker.ready, timeout=WAIT):
        qtbot.mouseClick(button, LEFT)  # the tab comes to the front and encodes
    assert tabs.currentWidget() is directions
    vec = directions.vector
    assert (vec.n_a, vec.n_b) == (len(left), len(top))
    codes = codes_of(run)
    np.testing.assert_allclose(vec.vector, codes[left].mean(0) - codes[top].mean(0), atol=1e-5)
    assert directions.attribute.lasso_button.isEnabled()
    assert f"lasso A ({len(left)})" in directions.attribute.caption.text()
    # Classes again, then the lasso button brings the selections' vector back.
    choose(directions.attribute.class_a, 0)
    assert directions.vector.source.startswith("class 0")
    qtbot.mouseClick(directions.attribute.lasso_button, LEFT)
    np.testing.assert_allclose(directions.vector.vector, vec.vector)
    host.shutdown()


# -- analogies -------------------------------------------------------------------------------
def test_the_analogy_grid_shows_decode_c_plus_b_minus_a(qtbot, digits):
    run = make_run(digits)
    panel = open_panel(qtbot, run)
    panel.pages.setCurrentIndex(ANALOGY)
    g = panel.analogy
    codes, labels = codes_of(run), digits.test.labels.numpy()
    choose(g.a_box, 2)
    g.b_index.setValue(17)
    choose(g.b_box, ONE_IMAGE)
    choose(g.c_box, FROM_INDEX)
    g.c_count.setValue(4)
    g.c_index.setValue(30)
    z_a, z_b = codes[labels == 2].mean(0), codes[17]
    assert panel.analogy_c.tolist() == [30, 31, 32, 33]
    grid = g.grid_view.grid
    assert grid.shape == (2 * (28 + PAD) + PAD, 4 * (28 + PAD) + PAD)
    for j, i in enumerate(range(30, 34)):
        np.testing.assert_allclose(cell(grid, 0, j, 28, 28),
                                   digits.test.float_images()[i, 0].numpy(), atol=1e-6)
        np.testing.assert_allclose(cell(grid, 1, j, 28, 28),
                                   decoded(run, codes[i] + z_b - z_a)[0], atol=1e-5)
    np.testing.assert_allclose(cell(g.ab_view.grid, 0, 0, 28, 28), decoded(run, z_a)[0], atol=1e-5)
    assert "test image #17" in g.caption.text() and g.ab_view.label_texts() == ["A", "B"]
    # C: the first images of a class.
    choose(g.c_box, 4)
    assert panel.analogy_c.tolist() == np.flatnonzero(labels == 4)[:4].tolist()


def test_a_cvae_decodes_the_analogy_with_b_s_class(qtbot, digits):
    run = make_run(digits, kind="cvae")
    panel = open_panel(qtbot, run)
    g = panel.analogy
    codes, labels = codes_of(run), digits.test.labels.numpy()
    choose(g.a_box, 3)
    choose(g.b_box, 8)
    choose(g.c_box, 3)
    z = codes[panel.analogy_c[0]] + codes[labels == 8].mean(0) - codes[labels == 3].mean(0)
    np.testing.assert_allclose(panel.analogy_images[0], decoded(run, z, label=8)[0], atol=1e-5)
    assert "B's class" in g.caption.text()


# -- principal directions --------------------------------------------------------------------
def test_principal_sliders_show_their_share_of_variance_and_move_the_code(qtbot, digits):
    run = make_run(digits)
    panel = open_panel(qtbot, run)
    panel.pages.setCurrentIndex(PRINCIPAL)
    p = panel.principal
    codes = codes_of(run)
    # The shares from the codes' covariance eigenvalues, largest first.
    eig = np.sort(np.linalg.eigvalsh(np.cov(codes.T)))[::-1]
    shares = eig / eig.sum()
    texts = [p.labels[k].text() for k in range(p.shown)]
    assert p.shown == codes.shape[1] == len(texts)
    for k, text in enumerate(texts):
        assert text.startswith(f"PC{k + 1} · ") and text.endswith("% of variance")
        shown = float(text.split("· ")[1].split("%")[0])
        assert abs(shown - 100 * shares[k]) <= (0.05 if shown < 1 else 0.5), (text, shares[k])
    # Two sliders moved: the image's code + σ·std along each direction, decoded live.
    pcs = principal_directions(codes, 10)
    np.testing.assert_allclose(pcs.std ** 2, eig, rtol=1e-4)
    with qtbot.waitSignal(p.view.updated, timeout=WAIT):
        p.set_sigma(0, 2.0)
        p.set_sigma(2, -1.5)
    assert p.values[0].text() == "+2.0σ" and p.values[2].text() == "−1.5σ"
    z = codes[panel.image_index]
    moved = z + 2.0 * pcs.std[0] * pcs.directions[0] - 1.5 * pcs.std[2] * pcs.directions[2]
    np.testing.assert_allclose(panel.principal_code(), moved, atol=1e-5)
    np.testing.assert_allclose(cell(p.view.grid, 0, 2, 28, 28), decoded(run, moved)[0], atol=1e-5)
    with qtbot.waitSignal(p.view.updated, timeout=WAIT):
        qtbot.mouseClick(p.reset_button, LEFT)
    np.testing.assert_allclose(cell(p.view.grid, 0, 2, 28, 28), decoded(run, z)[0], atol=1e-5)
    # Save PNG takes the page in front.
    assert panel.export_grid().shape == p.view.grid.shape


def test_codes_are_made_off_the_gui_thread_and_reused_for_the_same_weights(qtbot, digits,
                                                                          monkeypatch):
    import threading

    from latent_explorer.explorer.panels import directions_codes

    threads = []
    real = directions_codes.make_codes

    def spy(run):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(run)

    monkeypatch.setattr(directions_codes, "make_codes", spy)
    run = make_run(digits)
    panel = open_panel(qtbot, run)
    assert threads == [False]
    first = panel.codes
    panel.set_run(None)
    assert panel.is_showing_hint and panel.codes is None
    panel.set_run(run)  # the same weights: at once, from the last codes made
    assert panel.codes is first and not panel.maker.is_busy and threads == [False]
    # Newer weights (a training run's next snapshot): encoded again, the class vector remade.
    torch.manual_seed(1)
    run.model = build_model(run.model.config).eval()
    with qtbot.waitSignal(panel.maker.ready, timeout=WAIT):
        panel.set_run(run)
    assert threads == [False, False]
    codes, labels = codes_of(run), digits.test.labels.numpy()
    np.testing.assert_allclose(panel.codes.codes, codes, atol=1e-5)
    want, _, _ = balanced_expectation(codes, labels, panel.attribute.class_a.currentData(), None)
    np.testing.assert_allclose(panel.vector.vector, want, atol=1e-5)


def test_another_run_starts_from_its_own_image_and_classes(qtbot, digits, colour):
    first, second = make_run(digits), make_run(colour, arch="conv", nz=4)
    panel = open_panel(qtbot, first)
    panel.set_image(150)
    choose(panel.attribute.class_a, 9)
    with qtbot.waitSignal(panel.maker.ready, timeout=WAIT):
        panel.set_run(second)  # 60 test images of classes r, g, b
    assert panel.image_index == 59 and panel.image_spin.value() == 59
    box = panel.attribute.class_a
    assert [box.itemText(i) for i in range(box.count())] == ["r", "g", "b"]
    assert panel.vector.dim == 4 and panel.vector.source.startswith("class r vs rest")
    assert panel.principal.shown == 4
