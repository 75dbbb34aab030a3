"""The Factors tab and what it feeds: disentanglement scored in the background, shown as a heat
map with MIG and DCI, naming the Latent map's traversal sliders, in the run list's tooltip and
as MIG against β in the Sweep tab.

The model here is a real LatentModel whose encoder copies known factors: it reads each sprite's
factor values off a table (keyed by the image's bytes) and puts the x position in z1, while the
other dimensions are fixed noise. So z1 must come out as "≈ x" with the largest MI, and the MIG
shown must be `mig(...)` of exactly those codes, computed here independently of the panel.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import make_panel

from latent_explorer.explorer.panels.factors import FactorsPanel
from latent_explorer.explorer.session.disentangle_runner import (
    LABEL_FACTOR,
    DisentangleRunner,
    factor_source,
    score_codes,
    shared_factor_scores,
)
from latent_explorer.models.autoencoders import LatentModel, ModelConfig
from latent_explorer.training.data.datasets import Dataset, Split
from latent_explorer.training.explore import panel_math as explore
from latent_explorer.training.metrics.disentanglement import mig
from latent_explorer.training.record.run import Run
from latent_explorer.training.config import TrainConfig

NZ = 4
X_DIM = 1  # the dimension that copies the x position
X_FACTOR = 3  # sprites' factor order: shape, scale, orientation, x, y


class CopyFactors(LatentModel):
    """A VAE whose encoder's posterior mean is a known function of each image's factors: z1 = x
    position, the rest fixed noise per image; log σ = 0. The decoder is the untrained MLP."""

    def __init__(self, config: ModelConfig, split: Split, seed: int = 0) -> None:
        super().__init__(config)
        images = split.images.reshape(len(split), -1).numpy()
        self.keys = {row.tobytes(): i for i, row in enumerate(images)}
        rng = np.random.default_rng(seed)
        codes = rng.normal(size=(len(split), config.nz))
        codes[:, X_DIM] = split.factors[:, X_FACTOR].numpy()
        self.table = codes

    def _encode_net(self, x: torch.Tensor, one_hot: torch.Tensor | None) -> torch.Tensor:
        flat = (x.reshape(x.shape[0], -1) * 255).round().to(torch.uint8).cpu().numpy()
        rows = [self.keys[r.tobytes()] for r in flat]
        mean = torch.as_tensor(self.table[rows], dtype=torch.float32)
        return torch.cat([mean, torch.zeros_like(mean)], dim=1)


@pytest.fixture(scope="module")
def sprites() -> Dataset:
    from latent_explorer.training.data.sprites import load_sprites

    return load_sprites(n_train=600, n_test=300)


def copy_run(ds: Dataset, seed: int = 0, beta: float = 0.005, group: str = "") -> Run:
    cfg = TrainConfig(kind="vae", nz=NZ, hidden=(8,), beta=beta, seed=seed, epochs=1,
                      device="cpu", dataset=ds.name)
    model = CopyFactors(cfg.model_config(n_classes=ds.n_classes, image_shape=ds.image_shape),
                        ds.test, seed=seed)
    run = Run(f"copy β={beta:g} s{seed}", cfg, model, state="finished", dataset=ds, group=group)
    run.history.epochs.append(_epoch_record())
    return run


def _epoch_record():
    from latent_explorer.training.metrics.evaluate import EvalMetrics
    from latent_explorer.training.record.history import EpochRecord

    return EpochRecord(1, 10, EvalMetrics(bce=0.1, neg_elbo=50.0, kl=5.0))


def expected_codes(run: Run) -> np.ndarray:
    return run.model.table  # every test image, in order: the 300 are under the 10,000 limit


def faces() -> Dataset:
    """Images with one class and no factors: nothing to score against."""
    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (40, 1, 28, 28), generator=g, dtype=torch.uint8)
    split = Split(imgs, torch.zeros(40, dtype=torch.int64))
    return Dataset("faces", split, split, "faces: one class", class_names=("face",))


# -- the panel, scored by its own worker ---------------------------------------------------------
def test_panel_scores_in_the_background_and_shows_the_copied_factor(qtbot, sprites):
    run = copy_run(sprites)
    panel = make_panel(qtbot, FactorsPanel, [run], run, show=True)
    assert not panel.is_showing_hint
    assert "Scoring 300 codes" in panel.status.text()
    qtbot.waitUntil(lambda: panel.scores is not None, timeout=60_000)
    qtbot.waitUntil(lambda: not panel.runner.is_running, timeout=10_000)
    assert panel.runner.pending == 0

    src = factor_source(sprites)
    expected = mig(expected_codes(run), src.values)
    s = panel.scores
    np.testing.assert_allclose(s.mi, expected.mi)
    assert s.score == pytest.approx(expected.score)
    assert f"MIG {expected.score:.3f}" in panel.mig_label.text()
    # The top row is the dimension that copies x, labelled with it; columns are the factors.
    assert panel.rows[0] == X_DIM
    assert panel.row_labels()[0] == f"z{X_DIM} ≈ x"
    assert panel.column_labels() == list(sprites.factor_names)
    np.testing.assert_allclose(panel.heat_map(), expected.mi[panel.rows])
    # Per factor: x's top dim is z1 and its MIG entry is the independent one.
    x_row = [panel.table.item(X_FACTOR, c).text() for c in range(panel.table.columnCount())]
    assert x_row[0] == "x" and x_row[2] == f"z{X_DIM}"
    assert x_row[4] == f"{expected.per_factor[X_FACTOR]:.3f}"
    assert "disentanglement_lib" in panel.convention.text()
    assert s.dci is not None and f"{s.dci.disentanglement:.3f}" in panel.dci_label.text()
    # Grouped by factor: x's group (factor 3) comes after dims carrying factors 0-2.
    panel.order_box.setCurrentIndex(1)
    assert list(panel.rows) == list(s.order)


def test_a_dataset_without_factors_or_labels_says_so(qtbot):
    ds = faces()
    cfg = TrainConfig(kind="vae", nz=2, hidden=(8,), epochs=1, device="cpu", dataset="faces")
    model = LatentModel(cfg.model_config(n_classes=1))
    run = Run("faces run", cfg, model, state="finished", dataset=ds)
    run.history.epochs.append(_epoch_record())
    panel = make_panel(qtbot, FactorsPanel, [run], run)
    assert panel.is_showing_hint
    assert "no known generative factors and no class labels" in panel.hint.text()
    assert not panel.runner.is_running and panel.runner.pending == 0
    assert factor_source(ds) is None


def test_a_labelled_dataset_is_scored_against_its_class(qtbot, runs):
    run = runs["vae"]  # small MNIST: ten classes, no factors
    src = factor_source(run.dataset)
    assert src.names == (LABEL_FACTOR,) and src.kind == "labels"
    np.testing.assert_array_equal(src.values[:, 0], run.dataset.test.labels.numpy())
    panel = make_panel(qtbot, FactorsPanel, [run], run)
    qtbot.waitUntil(lambda: panel.scores is not None, timeout=60_000)
    qtbot.waitUntil(lambda: not panel.runner.is_running, timeout=10_000)
    from latent_explorer.training.metrics.disentanglement import codes_of

    codes = codes_of(run.model, run.dataset.test.images)
    assert panel.scores.score == pytest.approx(mig(codes, src.values).score)
    assert panel.column_labels() == [LABEL_FACTOR]


def test_shutdown_stops_a_waiting_worker(qtbot, sprites):
    """A run queued while another trains waits; closing ends the thread all the same."""
    done = copy_run(sprites, seed=3)
    runner = DisentangleRunner()
    runner.set_training(True)
    assert runner.request(done)
    assert shared_factor_scores().is_scoring(done)
    assert not runner.request(done)  # the same weights are queued once
    assert runner.is_running
    assert runner.shutdown(5000)
    assert not runner.is_running
    assert not shared_factor_scores().is_scoring(done)  # forgotten: it may be scored again


# -- what the scores feed ------------------------------------------------------------------------
def test_sliders_are_named_once_the_run_is_scored(qtbot, sprites):
    from latent_explorer.explorer.panels.map_traversal import TraversalSliders

    run = copy_run(sprites, seed=1)
    sliders = TraversalSliders(run_of=lambda: run)
    qtbot.addWidget(sliders)
    usage = explore.dimension_usage(explore.encode_split(run.model, sprites.test))
    sliders.set_usage(usage)
    k = sliders.slider_dims.index(X_DIM)
    before = sliders.slider_labels[k].text()
    assert before.startswith(f"z{X_DIM} ") and "≈" not in before
    scores = score_codes(expected_codes(run), factor_source(sprites).values,
                         sprites.factor_names)
    shared_factor_scores().put(run, scores)  # the store says so: the labels follow
    label = scores.labels[X_DIM]
    assert sliders.slider_labels[k].text() == label.text
    assert label.text.startswith(f"z{X_DIM} ≈ x, MI ")
    assert f"{scores.mi[X_DIM, X_FACTOR]:.2f} nats" in label.text


def test_run_list_tooltip_gives_mig_and_top_dims(qtbot, sprites):
    from PySide6.QtCore import Qt

    from latent_explorer.explorer.views.run_table import COL_NAME, RunTableModel

    run = copy_run(sprites, seed=2)
    model = RunTableModel()
    model.add_run(run, "#1f77b4")

    def tip() -> str:
        return model.data(model.index(0, COL_NAME), Qt.ItemDataRole.ToolTipRole)

    assert tip() == run.name
    src = factor_source(sprites)
    scores = score_codes(expected_codes(run), src.values, src.names)
    shared_factor_scores().put(run, scores)
    expected = mig(expected_codes(run), src.values).score
    assert f"MIG {expected:.2f} (disentanglement_lib)" in tip()
    assert f"z{X_DIM} ≈ x" in tip().split("top dims: ")[1].split(";")[0]


def test_sweep_tab_plots_mig_against_beta_per_image(qtbot, sprites):
    from latent_explorer.explorer.panels.sweep import SweepPanel

    betas, seeds = (0.001, 0.01), (0, 1)
    members = [copy_run(sprites, seed=s, beta=b, group="sweep 9") for b in betas for s in seeds]
    panel = make_panel(qtbot, SweepPanel, members, members[0])
    assert panel.mig_points() == [] and panel.mig_plot.isVisibleTo(panel)
    src = factor_source(sprites)
    store = shared_factor_scores()
    want = {}
    rng = np.random.default_rng(5)
    for r in members:  # each member's codes: the copy plus its own amount of noise on z1
        codes = expected_codes(r).copy()
        codes[:, X_DIM] += rng.normal(scale=0.3 * r.config.beta / 0.01, size=len(codes))
        store.put(r, score_codes(codes, src.values, src.names))
        want[r.id] = mig(codes, src.values).score
    per_image = 64 * 64
    pts = panel.mig_points()
    assert [p[0] for p in pts] == members
    for r, b, v in pts:
        assert b == pytest.approx(r.config.beta * per_image)
        assert v == pytest.approx(want[r.id])
    means = panel.mig_means()
    assert [b for b, _ in means] == pytest.approx([b * per_image for b in betas])
    for b, mean in zip(betas, (m for _, m in means)):
        assert mean == pytest.approx(np.mean([want[r.id] for r in members if r.beta == b]))


def test_sweep_tab_says_when_there_is_nothing_to_score(qtbot):
    from latent_explorer.explorer.panels.sweep import SweepPanel

    ds = faces()
    cfg = TrainConfig(kind="vae", nz=2, hidden=(8,), epochs=1, device="cpu", dataset="faces")
    members = []
    for b in (0.01, 0.1):
        r = Run(f"faces β={b}", cfg, LatentModel(cfg.model_config(n_classes=1)),
                state="finished", dataset=ds, group="sweep 8")
        r.history.epochs.append(_epoch_record())
        members.append(r)
    panel = make_panel(qtbot, SweepPanel, members, members[0])
    assert not panel.is_showing_hint
    assert not panel.mig_plot.isVisibleTo(panel)
    assert "no known generative factors and no class labels" in panel.mig_caption.text()


def test_latent_map_sliders_follow_the_scores_of_the_run_they_show(qtbot, sprites):
    """In the Latent map tab the sliders find their run through the panel they sit in."""
    from latent_explorer.explorer.panels.latent_map import LatentMapPanel

    run = copy_run(sprites, seed=4)
    panel = make_panel(qtbot, LatentMapPanel, [run], run, show=True)
    qtbot.waitUntil(lambda: panel.usage is not None)
    sliders = panel.traversal
    assert sliders.run() is run
    k = sliders.slider_dims.index(X_DIM)
    assert "≈" not in sliders.slider_labels[k].text()
    src = factor_source(sprites)
    other = copy_run(sprites, seed=5)  # another run's scores leave these labels alone
    shared_factor_scores().put(other, score_codes(expected_codes(other), src.values, src.names))
    assert "≈" not in sliders.slider_labels[k].text()
    scores = score_codes(expected_codes(run), src.values, src.names)
    shared_factor_scores().put(run, scores)
    assert sliders.slider_labels[k].text() == scores.labels[X_DIM].text
    assert sliders.factor_scores is scores


def test_the_window_scores_an_ended_run_and_closes_cleanly(qtbot, settings, datasets, sprites):
    from PySide6.QtCore import Qt

    from helpers import cell, make_window
    from latent_explorer.explorer.views.run_table import COL_NAME

    w = make_window(qtbot, settings, datasets, load_panels=True)
    panel = next(p for p in w.panels if isinstance(p, FactorsPanel))
    run = copy_run(sprites, seed=6)
    w.session.add(run)  # as a loaded checkpoint is: ended, with its data
    qtbot.waitUntil(lambda: shared_factor_scores().scores(run) is not None, timeout=60_000)
    want = mig(expected_codes(run), factor_source(sprites).values).score
    assert f"MIG {want:.2f} (disentanglement_lib)" in cell(w, run, COL_NAME,
                                                          Qt.ItemDataRole.ToolTipRole)
    assert w.shutdown()
    assert not panel.runner.is_running


def test_a_training_run_is_scored_on_demand_from_its_epoch_end_weights(qtbot, sprites):
    from PySide6.QtCore import Qt

    run = copy_run(sprites, seed=7)
    run.state, run.snapshot_epoch = "running", 1
    panel = make_panel(qtbot, FactorsPanel, [run], run, show=True)
    assert panel.runner.pending == 0  # a run still training is not queued by itself
    assert "is training" in panel.status.text()
    assert panel.score_button.isVisible() and panel.score_button.isEnabled()
    qtbot.mouseClick(panel.score_button, Qt.MouseButton.LeftButton)  # scored while "training"
    qtbot.waitUntil(lambda: panel.scores is not None, timeout=60_000)
    qtbot.waitUntil(lambda: not panel.runner.is_running, timeout=10_000)
    assert "weights as of epoch 1" in panel.status.text()
    assert panel.scores.score == pytest.approx(
        mig(expected_codes(run), factor_source(sprites).values).score)
    assert not panel.score_button.isEnabled()
