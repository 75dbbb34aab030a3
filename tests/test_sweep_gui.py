"""β sweeps in the app: the sweep job's mapping onto runs, the form's sweep mode, the Sweep tab,
the background scorer (IW bound, judge) and `eval --iw/--binarize/--quality`."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from helpers import cell, fill_form, make_window, sweep_config
from latent_explorer.explorer.session.job_events import (DatasetLoaded, EpochEvent, MessagePosted, ReconstructionsReady,
                                 StepsEvent, TrainingEnded)
from latent_explorer.explorer.panels.sweep import COL_BOUND, COL_QUALITY, SweepPanel
from latent_explorer.explorer.views.run_table import COL_FILE, COL_GROUP, COL_IW, COL_QUALITY as RUN_COL_QUALITY
from latent_explorer.explorer.session.session import RunSession
from latent_explorer.explorer.session.jobs import SweepJob, member_run_name
from latent_explorer.training.cli.main import run_cli
from latent_explorer.training.metrics.evaluate import RateDistortion
from latent_explorer.training.record.run import Run, RunState
from latent_explorer.training.engine.sweep import SweepConfig
from latent_explorer.training.metrics.sweep_report import GOOD_QUALITY

WAIT_MS = 60_000
TINY = dict(nz=4, hidden=(32,), lr=1e-3)  # the sweeps here need members, not learning


def member_runs(cfg: SweepConfig) -> list[Run]:
    runs = [Run(member_run_name(b, s), cfg.member_config(m), group="sweep 1")
            for m, (b, s) in enumerate(cfg.members())]
    for r in runs:
        r.state = RunState.RUNNING  # as Job.start leaves them
    return runs


def record(job: SweepJob) -> list[tuple[Run, object]]:
    seen: list = []
    job.event.connect(lambda run, ev: seen.append((run, ev)))
    return seen


# -- the job, synchronously (no thread) ----------------------------------------------------------
def test_sweep_job_maps_member_events_onto_runs_and_a_failure_fails_only_its_run(qtbot, datasets):
    cfg = sweep_config(TINY, betas=(0.005, 1e39, 1.0), epochs=2)
    runs = member_runs(cfg)
    job = SweepJob(runs, cfg, datasets)
    seen = record(job)
    job.worker.run()  # synchronously: its events reach the job directly, in order
    ok, bad, ok2 = runs
    for r in (ok, ok2):
        assert r.state == RunState.FINISHED and r.error is None and r.model is not None
        assert len(r.history) == 20 and [e.epoch for e in r.history.epochs] == [1, 2]
        assert r.metrics == r.history.epochs[-1].metrics and r.dataset is not None
        evs = [e for run, e in seen if run is r]
        assert isinstance(evs[0], DatasetLoaded)
        assert sum(e.n_steps for e in evs if isinstance(e, StepsEvent)) == 20
        assert [e.epoch for e in evs if isinstance(e, EpochEvent)] == [1, 2]
        captions = [e.caption for e in evs if isinstance(e, ReconstructionsReady)]
        assert {"after epoch 1", "after epoch 2"} <= set(captions)
        assert sum(isinstance(e, TrainingEnded) for e in evs) == 1
        assert isinstance(evs[-1], TrainingEnded) and evs[-1].result.state == "finished"
    # The diverged member fails alone, with the engine's message, and keeps its weights.
    assert bad.state == RunState.FAILED and "diverged" in bad.error and "beta (1e+39)" in bad.error
    assert bad.model is not None and bad.metrics is None
    bad_evs = [e for run, e in seen if run is bad]
    assert not any(isinstance(e, (StepsEvent, EpochEvent)) for e in bad_evs)
    assert any(isinstance(e, MessagePosted) and "stopped alone" in e.text for e in bad_evs)
    # Each member's model is its own: β differs, weights differ.
    assert ok.model.config.beta == 0.005 and ok2.model.config.beta == 1.0
    assert not np.allclose(ok.history.total, ok2.history.total)


def test_sweep_job_that_cannot_load_its_data_fails_every_member(qtbot, datasets, tmp_path):
    cfg = sweep_config(TINY, dataset="folder", data_dir=str(tmp_path))
    runs = member_runs(cfg)
    job = SweepJob(runs, cfg, datasets)
    job.worker.run()
    assert all(r.state == RunState.FAILED and "not found" in r.error and r.model is None
               for r in runs)


def test_sweep_job_stopped_before_its_loop_leaves_runs_stopped(qtbot, datasets):
    cfg = sweep_config(TINY)
    runs = member_runs(cfg)
    job = SweepJob(runs, cfg, datasets)
    job.worker.request_stop()
    job.worker.run()
    assert all(r.state == RunState.STOPPED and r.model is None and r.error is None for r in runs)


# -- the session: one job, stop keeps the weights, the scorer fills the figures --------------------
def test_session_sweep_stop_acts_on_every_member_and_keeps_weights(qtbot, datasets):
    s = RunSession(datasets, score=False)
    try:
        runs = s.start_sweep(sweep_config(TINY, betas=(0.0, 0.01, 1.0), epochs=2000))
        assert len(runs) == 3 and len({r.group for r in runs}) == 1
        assert runs[0].group == "sweep 1: VAE β×3" and runs[1].name == "β=0.01 s0"
        assert s.sweep_members(runs[2]) == runs
        qtbot.waitUntil(lambda: all(len(r.history.epochs) > 0 for r in runs), timeout=WAIT_MS)
        s.pause(runs[1])
        assert all(r.state == RunState.PAUSED for r in runs)
        s.resume(runs[2])
        assert all(r.state == RunState.RUNNING for r in runs)
        s.stop(runs[2])
        qtbot.waitUntil(lambda: not s.has_active, timeout=WAIT_MS)
        assert all(r.state == RunState.STOPPED and r.is_usable for r in runs)
        assert all(len(r.history) > 0 for r in runs)
    finally:
        assert s.shutdown(2000)


def test_shutdown_stops_the_scorer_within_the_timeout(qtbot, datasets, runs):
    s = RunSession(datasets)
    vae = s.add(Run("v", runs["vae"].config, runs["vae"].model, runs["vae"].history,
                    state="finished", dataset=runs["vae"].dataset))
    assert s.scorer.request(vae)
    assert s.shutdown(2000) and not s.scorer.is_running


def test_scorer_texts_match_the_core():
    from latent_explorer.explorer.session.scorer_text import IW_K, NATS_LINE
    from latent_explorer.training.metrics.sweep_report import DEFAULT_IW_K, NATS_NOTE

    assert IW_K == DEFAULT_IW_K and NATS_LINE == NATS_NOTE


# -- the form --------------------------------------------------------------------------------------
def test_form_sweep_mode_validates_inline_and_fills_a_log_grid(qtbot, settings, datasets):
    w = make_window(qtbot, settings, datasets)
    try:
        f = w.form
        fill_form(w)
        assert not f.betas.isVisible() and f.beta.isVisible()
        qtbot.mouseClick(f.sweep, Qt.MouseButton.LeftButton)
        assert f.is_sweep and f.betas.isVisible() and not f.beta.isVisible()
        assert f.betas.text() == "0, 1e-4, 1e-3, 1e-2, 0.1, 1, 10"
        f.betas.setText("0, x")
        qtbot.mouseClick(f.train_button, Qt.MouseButton.LeftButton)
        assert "beta 'x' is not a number" in f.message.text() and w.runs == []
        f.betas.setText("0.1, 0.1")
        qtbot.mouseClick(f.train_button, Qt.MouseButton.LeftButton)
        assert "listed twice" in f.message.text()
        f.sweep_seeds.setText("0, -1")
        assert "seed must be" in "; ".join(f.problems())
        f.sweep_seeds.setText("0")
        qtbot.mouseClick(f.log_grid_button, Qt.MouseButton.LeftButton)
        assert f.log_grid.isVisible()
        f.grid_from.setText("1e-3")
        f.grid_to.setText("1")
        qtbot.mouseClick(f.grid_fill, Qt.MouseButton.LeftButton)
        assert f.betas.text() == "0, 0.001, 0.01, 0.1, 1"
        assert f.problems() == []
        f.kind.setCurrentIndex(f.kind.findData("ae"))  # an AE has no β to sweep
        assert not f.sweep.isEnabled() and not f.is_sweep and f.beta.isVisible()
    finally:
        w.shutdown()


# -- the window: a 3-member sweep from the form to the Sweep tab -------------------------------------
def test_sweep_from_the_form_trains_explorable_members_and_fills_the_sweep_tab(
        qtbot, settings, datasets, tmp_path, small_judge):
    w = make_window(qtbot, settings, datasets, load_panels=True)
    try:
        fill_form(w, nz=4, epochs=2)
        w.form.sweep.setChecked(True)
        w.form.betas.setText("0, 0.01, 1")
        qtbot.mouseClick(w.form.train_button, Qt.MouseButton.LeftButton)
        members = w.runs
        assert len(members) == 3, w.form.message.text()
        assert [r.beta for r in members] == [0.0, 0.01, 1.0]
        assert cell(w, members[0], COL_GROUP) == members[0].group != ""
        assert w.selected_run() is members[0]
        qtbot.waitUntil(lambda: all(r.state == "finished" for r in members), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: all("quality" in r.measures for r in members), timeout=WAIT_MS)
        for r in members:
            assert r in w.usable_runs() and r.is_usable
            assert float(cell(w, r, COL_IW)) > 0 and cell(w, r, RUN_COL_QUALITY).endswith("%")
        panel = next(p for p in w.panels if isinstance(p, SweepPanel))
        for p in w.panels:  # every tab takes a member (a panel that raises fails the test)
            w.tabs.setCurrentWidget(p)
            qtbot.waitExposed(p)
        w.tabs.setCurrentWidget(panel)
        assert not panel.is_showing_hint
        # One point per member, at its test rate and distortion.
        pts = panel.points()
        assert [r for r, _, _ in pts] == members
        for r, rate, dist in pts:
            rd = RateDistortion.from_metrics(r.metrics)
            assert rate == pytest.approx(rd.rate) and dist == pytest.approx(rd.distortion)
        # Clicking the last member's point selects it: the run list and every tab follow.
        target = members[2]
        vb = panel.plot.getPlotItem().vb
        scene = vb.mapViewToScene(QPointF(*panel.point_view_pos(target)))
        pos = panel.plot.mapFromScene(scene)
        qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)
        qtbot.waitUntil(lambda: w.selected_run() is target)
        assert panel.run is target
        # The table: one row per member, the best marked, what each means said.
        assert panel.table.rowCount() == 3
        best = panel.best()
        assert best["bound"] is not None
        assert "★" in panel.table.item(members.index(best["bound"]), COL_BOUND).text()
        qualities = [r.measures["quality"] for r in members]
        if max(qualities) >= GOOD_QUALITY:
            assert "★" in panel.table.item(members.index(best["quality"]), COL_QUALITY).text()
        else:  # short training: no member's samples are good, and the tab says so
            assert best["quality"] is None
            assert "no member's samples are good" in panel.best_label.text()
            assert not any("★" in panel.table.item(i, COL_QUALITY).text() for i in range(3))
        assert "best bound" in panel.best_label.text() and "not comparable" in \
            panel.nats_label.text()
        bounds = [r.measures["iw_bound"] for r in members]
        assert best["bound"] is members[int(np.argmin(bounds))]
        assert panel.row_label_texts() == ["test images", "β=0", "β=0.01", "β=1"]
        assert panel.grid is not None and panel.grid.shape[0] == 2 + 4 * 30
        # Exports through the buttons, the dialog answered.
        answers = iter([str(tmp_path / "plane.png"), str(tmp_path / "grid.png"),
                        str(tmp_path / "table.csv")])
        panel.ask_path = lambda *_a: next(answers)
        for b in (panel.save_plane_button, panel.save_button, panel.save_csv_button):
            qtbot.mouseClick(b, Qt.MouseButton.LeftButton)
        for name in ("plane.png", "grid.png"):
            assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with open(tmp_path / "table.csv", newline="") as fh:
            table = list(csv.DictReader(fh))
        assert [r["beta"] for r in table] == ["0", "0.01", "1"]
        assert any("bound" in r["best"] for r in table)
        # Log axes keep the points, in log10 view coordinates.
        panel.log_axes.setChecked(True)
        x, y = panel.point_view_pos(members[0])
        assert y == pytest.approx(np.log10(pts[0][2]))
    finally:
        w.close()
    assert not w.session.has_active


def test_a_saved_member_reopens_in_its_sweep(qtbot, datasets, runs, tmp_path):
    s = RunSession(datasets, score=False)
    try:
        r = runs["vae"]
        member = s.add(Run("β=0.005 s1", r.config, r.model, r.history, state="finished",
                           dataset=r.dataset, group="sweep 1: VAE β×3"))
        path = s.save(member, tmp_path / "member")
        loaded = s.open(path)
        assert loaded.group == "sweep 1: VAE β×3" and s.sweep_members(member) == [member, loaded]
        qtbot.waitUntil(lambda: loaded.dataset is not None, timeout=WAIT_MS)
    finally:
        assert s.shutdown(2000)


def test_sweep_tab_explains_a_single_run(qtbot, runs):
    p = SweepPanel()
    qtbot.addWidget(p)
    p.set_runs([runs["vae"]])
    p.set_run(runs["vae"])
    assert p.is_showing_hint and "Sweep β" in p.hint.text() and "not a member" in p.hint.text()


# -- eval --iw / --binarize / --quality --------------------------------------------------------------
@pytest.fixture
def vae_file(tmp_path, runs):
    from latent_explorer.training.record.checkpoint import Checkpoint, save_checkpoint

    r = runs["vae"]
    path = tmp_path / "vae.safetensors"
    save_checkpoint(path, Checkpoint(r.model, r.config, r.history, r.history.last_metrics,
                                     name="vae", dataset="mnist-sample"))
    return path


def test_eval_prints_the_iw_bound_with_its_convention_and_the_binarised_one(capsys, vae_file):
    assert run_cli(["eval", str(vae_file), "--iw", "5"]) == 0
    out = capsys.readouterr().out
    assert "IW bound (k=5):" in out and "not comparable with published" in out
    grey = float(out.split("IW bound (k=5):")[1].split()[0])
    assert run_cli(["eval", str(vae_file), "--iw", "5", "--binarize"]) == 0
    out = capsys.readouterr().out
    assert "binarised" in out
    binar = float(out.split("binarised test images:")[1].split()[0])
    assert binar > 0 and binar != pytest.approx(grey)


def test_eval_quality_and_refusals(capsys, vae_file, tmp_path, runs):
    assert run_cli(["eval", str(vae_file), "--quality"]) == 0
    out = capsys.readouterr().out
    assert "sample quality:" in out and "judge test accuracy" in out
    assert run_cli(["eval", str(vae_file), "--iw", "-1"]) == 2
    assert "--iw must be 0 or more" in capsys.readouterr().err
    from latent_explorer.training.record.checkpoint import Checkpoint, save_checkpoint

    r = runs["ae"]
    ae = tmp_path / "ae.safetensors"
    save_checkpoint(ae, Checkpoint(r.model, r.config, r.history, r.history.last_metrics,
                                   name="ae", dataset="mnist-sample"))
    assert run_cli(["eval", str(ae), "--iw", "5"]) == 2
    assert "needs a VAE or CVAE" in capsys.readouterr().err


def test_a_sweep_member_is_explored_while_the_sweep_trains(qtbot, settings, datasets,
                                                           monkeypatch):
    from latent_explorer.explorer.session import jobs

    monkeypatch.setattr(jobs, "WEIGHTS_INTERVAL_S", 0.3)
    w = make_window(qtbot, settings, datasets, load_panels=True)
    try:
        fill_form(w, nz=4, epochs=2000)
        w.form.sweep.setChecked(True)
        w.form.betas.setText("0, 1")
        qtbot.mouseClick(w.form.train_button, Qt.MouseButton.LeftButton)
        members = w.runs
        recon = next(p for p in w.panels if p.title == "Reconstructions")
        w.tabs.setCurrentWidget(recon)
        w.run_table.select_run(members[1])
        qtbot.waitUntil(lambda: not recon.is_showing_hint, timeout=WAIT_MS)
        assert members[1].is_active and recon.view.has_image
        assert "training: its weights as of epoch" in recon.caption.text()
        assert members[1].model is not members[0].model
        assert members[1].model.config.beta == 1.0  # the member's own weights and β
        w.stop_selected()
        qtbot.waitUntil(lambda: not w.session.has_active, timeout=WAIT_MS)
        assert all(r.state == "stopped" and r.snapshot_epoch is None for r in members)
    finally:
        w.shutdown()


def test_save_a_whole_sweep_into_one_folder(qtbot, settings, datasets, tmp_path):
    from latent_explorer.training.record.checkpoint import load_checkpoint

    w = make_window(qtbot, settings, datasets)
    out = tmp_path / "sweep"
    out.mkdir()
    try:
        fill_form(w, nz=4, epochs=1)
        w.form.sweep.setChecked(True)
        w.form.betas.setText("0, 0.01")
        qtbot.mouseClick(w.form.train_button, Qt.MouseButton.LeftButton)
        members = w.runs
        button = w.runs_panel.save_sweep_button
        assert not button.isEnabled()  # still training
        qtbot.waitUntil(lambda: not w.session.has_active, timeout=WAIT_MS)
        w.run_table.select_run(members[1])
        assert button.isEnabled() and w.menu_actions.save_sweep.isEnabled()
        w.dialogs.path = str(out)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        files = sorted(p.name for p in out.iterdir())
        assert files == ["vae-beta0-seed0.safetensors", "vae-beta0.01-seed0.safetensors"]
        assert all(r.saved and r.path.parent == out for r in members)
        assert cell(w, members[0], COL_FILE) == "vae-beta0-seed0.safetensors"
        ck = load_checkpoint(out / "vae-beta0.01-seed0.safetensors")
        assert ck.group == members[1].group and ck.train_config.beta == 0.01
        assert w.session.unsaved_runs() == []
        # Again: the files exist, so it asks first; refused, nothing is written.
        w.dialogs.answer = False
        before = (out / "vae-beta0-seed0.safetensors").stat().st_mtime_ns
        assert w.save_selected_sweep() == []
        assert "Replace them?" in w.dialogs.confirms[-1][1]
        assert (out / "vae-beta0-seed0.safetensors").stat().st_mtime_ns == before
        # A single run is no sweep: the action says what it needs.
        fill_form(w, epochs=1)
        w.form.sweep.setChecked(False)
        single = w.start_run(w.form.values())
        qtbot.waitUntil(lambda: not w.session.has_active, timeout=WAIT_MS)
        w.run_table.select_run(single)
        assert not button.isEnabled() and "select a sweep member" in button.toolTip()
    finally:
        w.shutdown()
