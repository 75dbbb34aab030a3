"""The run list sorts by any column and filters by words, for many runs."""

from __future__ import annotations

from PySide6.QtCore import Qt

from latent_explorer.explorer.views.run_table import COL_BETA, COL_ELBO, COL_NAME, run_matches
from latent_explorer.explorer.views.runs_dock import RunsPanel
from latent_explorer.training.config import TrainConfig
from latent_explorer.training.metrics.evaluate import EvalMetrics
from latent_explorer.training.record.run import Run


def make_runs() -> list[Run]:
    out = []
    for i, (kind, beta, arch, elbo) in enumerate([("vae", 0.01, "mlp", 120.0),
                                                  ("ae", 0.0, "mlp", None),
                                                  ("vae", 0.001, "conv", 95.5),
                                                  ("cvae", 1.0, "mlp", 140.25)]):
        cfg = TrainConfig(kind=kind, beta=beta, arch=arch, nz=8, dataset="mnist-sample")
        run = Run(name=f"run {chr(ord('d') - i)}", config=cfg, state="finished")
        if elbo is not None:
            run.metrics = EvalMetrics(bce=0.2, neg_elbo=elbo, kl=1.0, n=10)
        out.append(run)
    return out


def shown_names(panel) -> list[str]:
    return [r.name for r in panel.table.shown_runs()]


def test_a_header_click_sorts_numbers_as_numbers_and_keeps_the_selection(qtbot):
    panel = RunsPanel()
    qtbot.addWidget(panel)
    runs = make_runs()
    for r in runs:
        panel.model.add_run(r, "#123456")
    panel.table.select_run(runs[2])
    header = panel.table.horizontalHeader()
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=header.rect().center().__class__(
                         header.sectionViewportPosition(COL_ELBO) + 5, header.height() // 2))
    elbos = [r.metrics.neg_elbo if r.metrics else None for r in panel.table.shown_runs()]
    assert elbos in ([95.5, 120.0, 140.25, None], [140.25, 120.0, 95.5, None])  # none: last
    assert panel.table.selected_run() is runs[2]  # the selection follows its run
    panel.table.sortByColumn(COL_BETA, Qt.SortOrder.AscendingOrder)
    assert [r.config.beta for r in panel.table.shown_runs()][:3] == [0.001, 0.01, 1.0]
    panel.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
    assert shown_names(panel) == ["run a", "run b", "run c", "run d"]


def test_typing_in_the_filter_shows_only_the_runs_every_word_matches(qtbot):
    panel = RunsPanel()
    qtbot.addWidget(panel)
    for r in make_runs():
        panel.model.add_run(r, "#123456")
    qtbot.keyClicks(panel.filter, "vae conv")
    assert shown_names(panel) == ["run b"]
    panel.filter.clear()
    qtbot.keyClicks(panel.filter, "beta=0.01")  # β typed in ASCII (β=0.01 matches too)
    assert shown_names(panel) == ["run d"]
    panel.filter.clear()
    assert len(shown_names(panel)) == 4
    assert not panel.table.frozen.isRowHidden(0)  # the frozen Name column follows


def test_filter_words_known_answers():
    vae, ae, conv, cvae = make_runs()
    assert run_matches(conv, "CONV finished") and not run_matches(vae, "conv")
    assert run_matches(cvae, "") and run_matches(ae, "ae nz=8")
    assert not run_matches(ae, "β=0")  # an AE has no β
    assert run_matches(vae, "β=0.01") and run_matches(vae, "BETA=0.01")
