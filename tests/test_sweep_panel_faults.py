"""The Sweep tab's faults (issue 35): members that never took a step (a Ray cluster that could not
be reached) counted apart from members that failed later, a quality cell that says "—" when
there is none and no promise of a quality column when nothing will be scored, and "Save table
CSV…" writing the CLI's summary.csv columns (β per image, bits/dim, MIG).

Real widgets (qtbot, offscreen). The never-started members come out of the sweep job's own
mapping (SweepJob.apply), fed the results a Ray sweep's driver hands over; the CSV's figures
are checked against the CLI's own `summary_row` of the same models.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtGui import QTextDocument

from helpers import LEFT, make_panel, sweep_config
from latent_explorer.explorer.panels.sweep import COL_QUALITY, NONE, SweepPanel
from latent_explorer.explorer.session.datasets import DatasetCache
from latent_explorer.explorer.session.disentangle_runner import (factor_source, score_codes,
                                                                 shared_factor_scores)
from latent_explorer.explorer.session.job_events import MemberEvent, TrainingEnded
from latent_explorer.explorer.session.jobs import SweepJob
from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.training.config import TrainConfig
from latent_explorer.training.data.datasets import Dataset
from latent_explorer.training.engine.events import TrainResult
from latent_explorer.training.metrics.disentanglement import codes_of, mig
from latent_explorer.training.metrics.evaluate import EvalMetrics, evaluate
from latent_explorer.training.metrics.sweep_report import CSV_FIELDS, read_summary_csv, summary_row
from latent_explorer.training.record.history import History
from latent_explorer.training.record.run import Run

RAY_ERROR = "RayUnavailable: no Ray cluster at 10.0.0.1:6379: Connection refused"


def shown(label) -> str:
    """A rich-text label's text as the user reads it (entities decoded, tags gone)."""
    doc = QTextDocument()
    doc.setHtml(label.text())
    return doc.toPlainText()


def ended(job: SweepJob, m: int, result: TrainResult) -> None:
    list(job.apply(MemberEvent(m, TrainingEnded(result))))


def ray_sweep(vae: Run, never: int, trained: int, diverged: int = 0) -> list[Run]:
    """A sweep's members after its job ended: `never` failed before their first step (as a
    Ray sweep whose cluster could not be reached ends them), `trained` finished with the VAE's
    weights and history, `diverged` failed later and kept their last good weights."""
    n = never + trained + diverged
    cfg = sweep_config(betas=tuple(0.001 * (m + 1) for m in range(n)))
    runs = [Run(f"m{m}", cfg.member_config(m), group="sweep 7", dataset=vae.dataset)
            for m in range(n)]
    job = SweepJob(runs, cfg, DatasetCache())
    for m in range(never):  # the driver hands back the initial weights and an empty history
        ended(job, m, TrainResult("failed", vae.model, History(), None, RAY_ERROR))
    for m in range(never, never + trained):
        ended(job, m, TrainResult("finished", vae.model, vae.history, vae.history.last_metrics,
                                  None))
    for m in range(never + trained, n):
        ended(job, m, TrainResult("failed", vae.model, vae.history, None, "diverged"))
    job.disconnect_worker()
    return runs


def test_members_that_never_started_are_counted_apart_with_their_reason(qtbot, runs):
    members = ray_sweep(runs["vae"], never=2, trained=2, diverged=1)
    never, trained, diverged = members[:2], members[2:4], members[4]
    assert all(r.model is None and len(r.history) == 0 for r in never)
    trained[0].measures.update(quality=0.42)
    p = make_panel(qtbot, SweepPanel, members, trained[0], show=True)
    header = shown(p.header)
    assert ("2 never started (could not reach the Ray cluster): no Ray cluster at "
            "10.0.0.1:6379: Connection refused") in header
    # Only the member that trained and then failed kept weights to speak of.
    assert "1 failed (kept their last good weights)" in header
    assert "2 failed" not in header and "3 failed" not in header
    assert "the quality column fills in" in header  # some members will be scored
    # The table: "—" where a member has no quality, the measured one as a percentage.
    cells = [p.table.item(i, COL_QUALITY).text() for i in range(len(members))]
    assert cells == [NONE, NONE, "42%", NONE, NONE]
    assert [p.table.item(i, 2).text() for i in range(2)] == ["never started ⚠"] * 2
    assert p.table.item(4, 2).text() == "failed ⚠"
    # The grid: a row per member with weights, none for those that never started.
    assert p.row_label_texts() == ["test images", *[p.label_of(r) for r in (*trained, diverged)]]
    assert p.grid is not None and p.grid.shape[0] == 2 + (1 + 3) * 30


def test_a_sweep_with_no_weights_promises_no_quality_column(qtbot, runs):
    members = ray_sweep(runs["vae"], never=3, trained=0)
    p = make_panel(qtbot, SweepPanel, members, members[0], show=True)
    header = shown(p.header)
    assert "3 never started (could not reach the Ray cluster)" in header
    assert "failed (kept" not in header
    assert "quality column" not in header and "judge of sample quality" not in header
    assert [p.table.item(i, COL_QUALITY).text() for i in range(3)] == [NONE] * 3
    assert p.grid is None and "No member took a step" in p.grid_caption.text()


def test_never_started_reasons_that_differ_are_each_said_once(qtbot, runs):
    members = ray_sweep(runs["vae"], never=2, trained=1)
    members[1].error = "never started: dataset 'faces' not found"
    p = make_panel(qtbot, SweepPanel, members, members[2])
    assert ("2 never started: could not reach the Ray cluster: no Ray cluster at "
            "10.0.0.1:6379: Connection refused; dataset 'faces' not found") in shown(p.header)


# -- the table's CSV: the CLI's columns ---------------------------------------------------------
@pytest.fixture(scope="module")
def sprites() -> Dataset:
    from latent_explorer.training.data.sprites import load_sprites

    return load_sprites(n_train=60, n_test=120)


def logistic_member(ds: Dataset, beta: float, seed: int) -> Run:
    """An untrained conv-free VAE on 64×64 sprites with the discretised logistic likelihood
    (so its metrics have bits/dim), evaluated on the test split as an epoch end would."""
    import torch

    torch.manual_seed(seed)
    cfg = TrainConfig(kind="vae", nz=4, hidden=(8,), beta=beta, seed=seed, epochs=1,
                      device="cpu", dataset=ds.name, likelihood="logistic")
    model = LatentModel(cfg.model_config(n_classes=ds.n_classes, image_shape=ds.image_shape))
    run = Run(f"β={beta:g} s{seed}", cfg, model, state="finished", dataset=ds, group="sweep 8")
    run.metrics = evaluate(model, ds.test)
    return run


def test_save_table_writes_the_clis_columns(qtbot, sprites, tmp_path):
    a, b = logistic_member(sprites, 0.002, 0), logistic_member(sprites, 0.02, 1)
    never = Run("β=0.2 s0", TrainConfig(kind="vae", nz=4, hidden=(8,), beta=0.2, device="cpu"),
                None, state="failed", dataset=sprites, group="sweep 8",
                error="never started (could not reach the Ray cluster): no Ray cluster at x")
    members = [a, b, never]
    p = make_panel(qtbot, SweepPanel, members, a)
    # The Factors tab's scores: a against the sprites' factors, b against its class label only.
    src = factor_source(sprites)
    codes_a = codes_of(a.model, sprites.test.images)
    store = shared_factor_scores()
    store.put(a, score_codes(codes_a, src.values, src.names))
    labels = sprites.test.labels.numpy().astype(np.float64)[:, None]
    store.put(b, score_codes(codes_of(b.model, sprites.test.images), labels, ("label",),
                             kind="labels"))
    path = tmp_path / "table.csv"
    p.ask_path = lambda *_a: str(path)
    qtbot.mouseClick(p.save_csv_button, LEFT)
    with open(path, newline="", encoding="utf-8") as fh:
        assert tuple(next(csv.reader(fh))) == CSV_FIELDS  # the CLI's header, column for column
    rows = read_summary_csv(path)
    assert len(rows) == 3
    # The CLI's own row of a, from the same model and metrics (no IW bound, no judge).
    cli = summary_row(a.model, a.beta, 0, "finished", a.metrics, sprites.test, iw_k=0)
    pixels = 64 * 64
    assert rows[0].beta_per_image == pytest.approx(0.002 * pixels) == pytest.approx(cli.beta_per_image)
    assert a.metrics.bits_per_dim is not None
    assert rows[0].bits_per_dim == pytest.approx(cli.bits_per_dim, abs=1e-4)
    assert rows[0].mig == pytest.approx(cli.mig, abs=1e-4)
    assert rows[0].mig == pytest.approx(mig(codes_a, src.values).score, abs=1e-4)
    # b: its bits/dim, but no MIG (scored against labels, which the CLI's column is not).
    assert rows[1].beta_per_image == pytest.approx(0.02 * pixels)
    assert rows[1].bits_per_dim == pytest.approx(b.metrics.bits_per_dim, abs=1e-4)
    assert rows[1].mig is None and rows[1].dci_disentanglement is None
    # The member that never started: β per image from its data's shape, nothing measured.
    assert rows[2].beta_per_image == pytest.approx(0.2 * pixels)
    assert rows[2].bits_per_dim is None and rows[2].mig is None and rows[2].bce is None
    assert rows[2].error.startswith("never started")


# -- the rate–distortion plane's labels (issue 35: "−ELBO 10…" cut at the plot's edge) ----------
# (β, KL, −ELBO) of three members: a β sweep's spread, and a tight cluster high in rate and
# distortion whose top diagonal comes in at the right edge (where "−ELBO 20…" was cut).
SPREAD = ((10.0, 2.0, 203.0), (0.1, 21.0, 151.0), (0.0, 63.0, 118.0))
CORNER = ((0.01, 90.0, 185.0), (0.005, 95.0, 192.0), (0.0, 100.0, 200.0))


def plane_members(runs, figures=SPREAD) -> list[Run]:
    """Three members of one sweep with the given test figures."""
    vae = runs["vae"]
    out = []
    for beta, kl, neg_elbo in figures:
        cfg = TrainConfig(kind="vae", nz=vae.config.nz, hidden=vae.config.hidden, beta=beta,
                          epochs=1)
        metrics = EvalMetrics(0.2, neg_elbo, kl, n=len(vae.dataset.test))
        out.append(Run(f"b{beta:g}", cfg, vae.model, vae.history, state="finished",
                       metrics=metrics, dataset=vae.dataset, group="plane"))
    return out


@pytest.mark.parametrize("figures", [SPREAD, CORNER], ids=["spread", "corner"])
def test_elbo_labels_sit_whole_inside_the_plane(qtbot, runs, figures):
    members = plane_members(runs, figures)
    p = make_panel(qtbot, SweepPanel, members, members[0])
    p.resize(900, 700)
    qtbot.waitUntil(lambda: len(p.iso_label_boxes()) > 0)
    qtbot.waitExposed(p)

    def outside() -> list:
        view = p.plane_box().adjusted(-1, -1, 1, 1)
        return [(text, box) for text, box in p.iso_label_boxes() if not view.contains(box)]

    # Labels are placed once the view has its range and size (pyqtgraph's next layout pass).
    qtbot.waitUntil(lambda: not outside(), timeout=3000)
    assert all(text.startswith("−ELBO ") for text, _ in p.iso_label_boxes())


@pytest.mark.parametrize("figures", [SPREAD, CORNER], ids=["spread", "corner"])
def test_the_clis_plane_keeps_its_labels_inside_the_axes(tmp_path, runs, monkeypatch, figures):
    import matplotlib.figure

    from latent_explorer.training.metrics.sweep_report import save_rate_distortion_png

    rows = [summary_row(r.model, r.config.beta, 0, "finished", r.metrics, r.dataset.test,
                        iw_k=0) for r in plane_members(runs, figures)]
    figs = []
    save = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda fig, *a, **k: (figs.append(fig), save(fig, *a, **k))[1])
    save_rate_distortion_png(rows, tmp_path / "rd.png")
    fig = figs[0]
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    inside = ax.get_window_extent(renderer).expanded(1.01, 1.01)
    elbo = [t for t in ax.texts if t.get_text().startswith("−ELBO")]
    assert elbo, "no −ELBO label drawn"
    for t in elbo:
        e = t.get_window_extent(renderer)
        assert (inside.x0 <= e.x0 and e.x1 <= inside.x1
                and inside.y0 <= e.y0 and e.y1 <= inside.y1), t.get_text()
