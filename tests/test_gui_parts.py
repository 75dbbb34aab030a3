"""The window's parts on their own: EMA smoothing, form parsing, the plot with long runs."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QColor, QPalette

from latent_explorer.explorer.views.loss_plot import LossPlot, ema_smooth
from latent_explorer.explorer.views.training_form import parse_lr
from latent_explorer.explorer.widgets.beta_control import BETA_STOPS, nearest_stop, parse_beta
from latent_explorer.training.record.history import History
from latent_explorer.training.engine.loop import TrainConfig
from latent_explorer.training.record.run import Run


def naive_ema(x, w):
    last, out = 0.0, []
    for i, v in enumerate(x):
        last = last * w + (1 - w) * v
        out.append(last / (1 - w ** (i + 1)) if w > 0 else v)
    return np.array(out)


@pytest.mark.parametrize("w", [0.0, 0.01, 0.6, 0.9, 0.99])
def test_ema_matches_tensorboard_and_continues_across_chunks(w):
    x = np.random.default_rng(0).random(777) * 3
    whole, _, _ = ema_smooth(x, w)
    a, last, n = ema_smooth(x[:100], w)
    b, _, _ = ema_smooth(x[100:], w, last, n)
    assert np.allclose(whole, naive_ema(x, w), atol=1e-5)
    assert np.allclose(np.concatenate([a, b]), whole, atol=1e-5)


def test_beta_and_lr_parsing():
    assert parse_beta("0") == (0.0, None) and parse_beta("10") == (10.0, None)
    assert parse_beta("1e-4") == (1e-4, None)
    for bad in ("1e-5", "11", "-0.1", "nan", "inf", "x", ""):
        assert parse_beta(bad)[0] is None and parse_beta(bad)[1]
    assert parse_lr("1e3") == (1000.0, None) and parse_lr("0")[0] is None
    assert BETA_STOPS[0] == 0 and BETA_STOPS[1] == 1e-4 and BETA_STOPS[-1] == 10
    assert BETA_STOPS[nearest_stop(0.005)] == 0.005 and nearest_stop(0) == 0


def shown_loss_plot(qtbot, width: int, height: int) -> LossPlot:
    """A LossPlot on screen at this size (drawn curves depend on the real view box)."""
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(width, height)
    plot.show()
    qtbot.waitExposed(plot)
    return plot


def test_plot_holds_100k_steps_and_downsamples(qtbot):
    plot = shown_loss_plot(qtbot, 900, 300)
    run = Run("long", TrainConfig(epochs=1))
    plot.add_run(run, "#e6550d")
    rng = np.random.default_rng(0)
    for first in range(0, 100_000, 5_000):
        v = rng.random(5_000).astype(np.float32)
        plot.append_steps(run.id, first, v, v, v)
    plot.flush()
    plot.plots["total"].getViewBox().autoRange()
    assert plot.step_count(run.id) == 100_000
    x, y = plot.curve_data(run.id, "total")
    assert len(x) == 100_000
    # Once layout and auto-range settle, the curve is peak-downsampled to the pixels.
    qtbot.waitUntil(lambda: len(plot.drawn_data(run.id, "total")[0]) < 20_000)


def test_plot_follows_a_dark_palette(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    pal = QPalette()
    pal.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    pal.setColor(QPalette.ColorRole.WindowText, QColor("#eeeeee"))
    plot.setPalette(pal)
    assert plot.graphics.backgroundBrush().color().name() == "#1e1e1e"
    assert plot.plots["total"].getAxis("left").textPen().color().name() == "#eeeeee"


def test_loaded_history_and_markers(qtbot):
    from latent_explorer.training.metrics.evaluate import EvalMetrics

    plot = LossPlot()
    qtbot.addWidget(plot)
    h = History.from_arrays(np.ones(30), np.zeros(30), np.ones(30))
    h.add_epoch(1, 15, EvalMetrics(0.2, 100.0, 5.0, 10))
    h.add_epoch(2, 30, EvalMetrics(0.1, 90.0, 4.0, 10))
    run = Run("loaded", TrainConfig(kind="vae", beta=0.5, epochs=2), history=h)
    plot.add_run(run, "#3182bd")
    plot.flush()
    assert plot.step_count(run.id) == 30 and plot.marker_count(run.id) == 2
    sx, sy = plot.marker_data(run.id, "total")
    assert np.allclose(sy, [0.2 + 0.5 * 5.0, 0.1 + 0.5 * 4.0])
    plot.set_run_visible(run.id, False)
    assert not plot.is_curve_shown(run.id, "total")
    plot.remove_run(run.id)
    assert not plot.has_run(run.id)


def shown_curves(plot: LossPlot, channel: str = "total") -> dict[str, list[tuple[int, np.ndarray]]]:
    """What the user sees on one plot: colour -> [(pen alpha, y data)] of each drawn curve."""
    out: dict[str, list[tuple[int, np.ndarray]]] = {}
    for item in plot.plots[channel].listDataItems():
        if not isinstance(item, pg.PlotDataItem):  # the test-set markers
            continue
        x, y = item.getOriginalDataset()
        if item.isVisible() and x is not None and len(x):
            pen = item.opts["pen"]
            color = pen.color() if hasattr(pen, "color") else QColor(pen)
            out.setdefault(color.name(), []).append((color.alpha(), np.asarray(y)))
    return out


def test_a_sweep_plot_shows_every_member_and_only_the_selected_runs_raw_steps(qtbot):
    from latent_explorer.explorer.views.loss_plot import run_color

    plot = shown_loss_plot(qtbot, 1100, 400)
    betas = (0.0, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)
    runs = [Run(f"β={b:g} s0", TrainConfig(kind="vae", beta=b), group="sweep 1") for b in betas]
    rng = np.random.default_rng(0)
    steps = {}
    for i, r in enumerate(runs):
        plot.add_run(r, run_color(i))
        steps[r.id] = rng.random(300).astype(np.float32) + i
        for first in range(0, 300, 50):  # as a sweep reports: every member, a chunk at a time
            v = steps[r.id][first:first + 50]
            plot.append_steps(r.id, first, v, v, v)
    selected = runs[3]
    plot.set_highlighted(selected.id)
    qtbot.waitUntil(lambda: len(shown_curves(plot)) == len(runs))  # the redraw timer drew them

    for channel in ("total", "recon", "kl"):
        curves = shown_curves(plot, channel)
        assert set(curves) == {QColor(run_color(i)).name() for i in range(len(runs))}
        for i, r in enumerate(runs):
            drawn = curves[QColor(run_color(i)).name()]
            opaque = [y for alpha, y in drawn if alpha == 255]
            faint = [y for alpha, y in drawn if alpha < 255]
            assert len(opaque) == 1 and len(opaque[0]) == 300  # the smoothed curve, every step
            if r is selected:  # the raw per-step losses, behind it
                assert len(faint) == 1 and np.array_equal(faint[0], steps[r.id])
            else:
                assert faint == []
    # The legend names every member, whole, the selected one in bold.
    text = plot.legend.text()
    for r in runs:
        assert r.name.replace(" ", "&nbsp;") in text
    assert f"<b>{selected.name.replace(' ', '&nbsp;')}</b>" in text
    assert plot.legend_entries() == [r.name for r in runs]

    # Selecting another member moves the raw curve to it.
    plot.set_highlighted(runs[0].id)
    color0, color3 = QColor(run_color(0)).name(), QColor(run_color(3)).name()
    qtbot.waitUntil(lambda: len(shown_curves(plot)[color0]) == 2)
    curves = shown_curves(plot)
    assert len(curves[color3]) == 1 and len(curves) == len(runs)
    assert plot.raw_run_id == runs[0].id


def test_a_single_run_shows_its_raw_steps_without_being_selected(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    run = Run("alone", TrainConfig(kind="vae"))
    plot.add_run(run, "#e6550d")
    v = np.linspace(1, 0, 40, dtype=np.float32)
    plot.append_steps(run.id, 0, v, v, v)
    qtbot.waitUntil(lambda: len(shown_curves(plot).get("#e6550d", [])) == 2)
    faint = [y for alpha, y in shown_curves(plot)["#e6550d"] if alpha < 255]
    assert len(faint) == 1 and np.array_equal(faint[0], v)


def test_removing_the_selected_run_gives_the_raw_steps_to_the_one_left(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    a, b = Run("a", TrainConfig(kind="vae")), Run("b", TrainConfig(kind="vae"))
    plot.add_run(a, "#e6550d")
    plot.add_run(b, "#3182bd")
    v = np.linspace(1, 0, 40, dtype=np.float32)
    for r in (a, b):
        plot.append_steps(r.id, 0, v, v, v)
    plot.set_highlighted(a.id)
    qtbot.waitUntil(lambda: len(shown_curves(plot).get("#e6550d", [])) == 2)
    assert len(shown_curves(plot)["#3182bd"]) == 1
    plot.remove_run(a.id)
    qtbot.waitUntil(lambda: len(shown_curves(plot).get("#3182bd", [])) == 2)
    assert "#e6550d" not in shown_curves(plot)
