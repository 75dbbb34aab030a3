"""Faults a new user hit, each driven through the real widgets (qtbot) or the CLI:

1. Play on the timeline did nothing while the strip followed a training run's newest snapshot.
2. The loss plots jumped when the timeline caption wrapped onto another line.
3. UMAP's first fit was slow and silent (numba compiling): its compile cache, what the CLI and
   the Latent map tab say meanwhile. No test here pays numba's compile cost.
4. Relaunching restored a form that had never trained (a dataset that failed to load).
5. The training ETA followed a change of speed too slowly and never said it was unsure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import replace

import numpy as np
import pytest

from helpers import LEFT, WAIT_MS, make_panel, make_window
from latent_explorer.explorer.views.timeline_view import TimelineView
from latent_explorer.explorer.views.training_monitor import TrainingMonitor
from latent_explorer.training.engine.loop import TrainConfig, Trainer
from latent_explorer.training.record.run import Run
from latent_explorer.training.record.timeline import TimelineRecorder


@pytest.fixture(scope="module")
def trained(small_dataset) -> Run:
    """3 epochs (30 steps) of a small VAE with a timeline of 9 snapshots."""
    cfg = TrainConfig(kind="vae", beta=0.005, nz=4, hidden=(32,), epochs=3, batch_size=64,
                      lr=3e-3, seed=0, device="cpu", dataset="mnist-sample")
    t = Trainer(cfg, small_dataset, timeline=TimelineRecorder(n_codes=200, max_snapshots=10))
    r = t.run()
    assert r.state == "finished"
    return Run("VAE", cfg, r.model, r.history, state="finished", dataset=small_dataset,
               timeline=t.timeline_recorder.timeline)


def live_copy(run: Run, snapshots: int, name: str = "live VAE") -> Run:
    """`run` as if still training, with only its first `snapshots` snapshots recorded so far."""
    tl = replace(run.timeline, snapshots=list(run.timeline.snapshots[:snapshots]))
    return Run(name, run.config, run.model, run.history, state="running", dataset=run.dataset,
               timeline=tl)


# -- 1. Play while following ---------------------------------------------------------------------
def test_play_while_following_a_training_run_plays_from_the_first_snapshot(qtbot, trained):
    full = trained.timeline.snapshots
    n = len(full)
    assert n >= 8
    tv = TimelineView()
    qtbot.addWidget(tv)
    tv.show()
    live = live_copy(trained, 3)
    tv.set_run(live)
    assert tv.is_following and tv.index == 2
    # Snapshots arrive faster than the strip redraws (at most every LIVE_REFRESH_MS): the
    # first is drawn at once, the next wait, so the newest is not on the slider yet.
    live.timeline.snapshots.append(full[3])
    tv.timeline_changed(live)
    live.timeline.snapshots.extend(full[4:n - 2])
    tv.timeline_changed(live)
    assert tv.count == n - 2 and tv.slider.maximum() == 3 and tv.is_following

    seen: list[int] = []
    tv.slider.valueChanged.connect(seen.append)
    qtbot.mouseClick(tv.play_button, LEFT)
    assert tv.is_playing and not tv.is_following and tv.play_button.text() == "Pause"
    assert tv.index == 0  # from the first snapshot, not creeping behind the run
    live.timeline.snapshots.extend(full[n - 2:])  # recorded while it plays: played too
    qtbot.waitUntil(lambda: not tv.is_playing, timeout=WAIT_MS)
    assert seen[seen.index(0):] == list(range(n))
    assert tv.index == n - 1 and tv.is_following and tv.play_button.text() == "Play"
    tv.stop()


def test_play_from_a_chosen_snapshot_and_play_on_a_single_snapshot(qtbot, trained):
    tv = TimelineView()
    qtbot.addWidget(tv)
    tv.show()
    tv.set_run(trained)
    n = tv.count
    tv.slider.setValue(n - 3)  # as a drag: following stops
    assert not tv.is_following
    seen: list[int] = []
    tv.slider.valueChanged.connect(seen.append)
    qtbot.mouseClick(tv.play_button, LEFT)
    qtbot.waitUntil(lambda: not tv.is_playing, timeout=WAIT_MS)
    assert seen == [n - 2, n - 1] and tv.is_following  # from the one shown, then follows
    one = live_copy(trained, 1)
    tv.set_run(one)
    tv.play()  # nothing to play: the button does not stay pressed
    assert not tv.is_playing and not tv.play_button.isChecked()
    tv.stop()


# -- 2. The caption never moves the plots -----------------------------------------------------------
def test_a_longer_timeline_caption_never_moves_the_loss_plots(qtbot, trained):
    monitor = TrainingMonitor()
    qtbot.addWidget(monitor)
    monitor.resize(820, 620)
    monitor.show()
    qtbot.waitExposed(monitor)
    caption, plot = monitor.timeline.caption, monitor.loss_plot

    def settled():
        qtbot.wait(20)  # the layout's posted LayoutRequest
        return plot.geometry(), caption.height()

    before = settled()
    assert "Select a run" in caption.full_text()  # short: one line of text
    monitor.set_selected_run(trained)
    assert settled() == before
    long_name = "VAE " + "with a very long name the user typed " * 6
    monitor.set_selected_run(live_copy(trained, len(trained.timeline), name=long_name))
    assert settled() == before
    assert caption.full_text().startswith(long_name)
    assert caption.is_elided() and caption.toolTip() == caption.full_text()
    assert caption.text().count("\n") == 1  # two lines shown, the last one elided
    monitor.resize(1400, 620)  # wider: more of it shows, the height stays
    qtbot.wait(20)
    assert caption.height() == before[1]
    monitor.shutdown()


# -- 4. Relaunch restores only a form that trained ---------------------------------------------------
def test_relaunch_restores_the_form_of_the_last_run_that_trained_to_its_end(qtbot, settings,
                                                                             datasets):
    from helpers import click_train, fill_form, wait_ended, wait_running

    w = make_window(qtbot, settings, datasets)
    fill_form(w, kind="cvae", nz=6, epochs=2, seed=3)
    good = click_train(qtbot, w)
    wait_ended(qtbot, w, good)
    assert good.state == "finished"
    # A dataset that cannot be had (kmnist, offline): the run fails at loading it.
    fill_form(w, kind="vae", dataset="kmnist", epochs=5)
    assert w.form.values()["dataset"] == "kmnist"
    bad = click_train(qtbot, w)
    wait_ended(qtbot, w, bad)
    assert bad.state == "failed"
    # 200 epochs typed by mistake: the run starts, the user stops it.
    fill_form(w, kind="ae", epochs=200, seed=9)
    long = click_train(qtbot, w)
    wait_running(qtbot, w, long)
    w.stop_selected()
    wait_ended(qtbot, w, long)
    assert long.state == "stopped"
    fill_form(w, kind="vae", dataset="kmnist", epochs=200)  # left so at closing
    w.close()

    again = make_window(qtbot, settings, datasets)
    v = again.form.values()
    assert (v["kind"], v["nz"], v["epochs"], v["seed"], v["dataset"]) == \
        ("cvae", 6, 2, 3, "mnist-sample")
    assert "kmnist" not in settings.value("form/values")
    again.close()


def test_a_form_never_trained_is_not_remembered(qtbot, settings, datasets):
    from helpers import fill_form

    w = make_window(qtbot, settings, datasets)
    defaults = w.form.values()
    fill_form(w, dataset="kmnist", epochs=200)  # edited, never trained
    w.close()
    again = make_window(qtbot, settings, datasets)
    assert again.form.values() == defaults
    again.close()


# -- 5. The ETA follows a change of speed within 3 epochs and says when it is unsure -------------
def feed_epoch(est, steps_per_epoch: int, rate: float, chunk: int = 12) -> list[bool]:
    """One epoch as the loop reports it: chunks of `chunk` steps at `rate` steps/s (a scripted
    clock: each chunk took chunk / rate seconds of training), then the epoch's end. The
    estimate's `is_unsure` after each chunk."""
    unsure = []
    for _ in range(steps_per_epoch // chunk):
        est.add_steps(chunk, rate, steps_per_epoch)
        unsure.append(est.is_unsure)
    est.add_epoch(0.0)
    return unsure


def test_eta_moves_to_a_halved_speed_within_three_epochs_and_says_when_unsure():
    from latent_explorer.training.engine.eta import EtaEstimator

    spe, epochs = 600, 20  # 600 steps an epoch at 120 steps/s: 5 s epochs
    est = EtaEstimator()
    first = feed_epoch(est, spe, 120.0)
    assert all(first)  # the first epoch: unsure throughout
    for _ in range(5):
        assert not any(feed_epoch(est, spe, 120.0))  # a steady speed: sure
    assert est.steps_per_second == pytest.approx(120.0)
    after = feed_epoch(est, spe, 60.0)  # the machine got busy: half the speed from here
    assert any(after)  # the speed is changing: unsure meanwhile
    feed_epoch(est, spe, 60.0)
    feed_epoch(est, spe, 60.0)  # 3 epochs at the new speed
    left = (epochs - 9) * spe
    assert est.steps_per_second == pytest.approx(60.0, rel=0.05)
    assert est.eta_seconds(left) == pytest.approx(left / 60.0, rel=0.05)
    assert not est.is_unsure


def test_eta_text_is_exact_when_sure_and_rough_when_unsure():
    from latent_explorer.explorer.session.jobs import Progress
    from latent_explorer.training.engine.eta import EtaEstimator, eta_text, rough_duration
    from latent_explorer.training.engine.loop import StepsEvent

    assert eta_text(210.0) == "03:30" and eta_text(float("nan"), True) == "--"
    assert eta_text(200.0, unsure=True) == "about 3 min (unsure)"
    assert eta_text(41.0, unsure=True) == "about 50 s (unsure)"
    assert rough_duration(4800) == "1 h 20 min" and rough_duration(7200) == "2 h"

    z = np.zeros((1, 12), np.float32)
    ev = StepsEvent(0, z, z, z, epoch=1, step_in_epoch=12, steps_per_epoch=600,
                    total_steps=6000, steps_per_second=120.0)
    est = EtaEstimator()
    est.add_steps(12, 120.0, 600)
    p = Progress.of(ev, 10, est)  # the first epoch: no evaluation timed, the speed settling
    assert p.eta_unsure and "(unsure)" in p.text() and "(unsure)" in p.text(short=True)
    for _ in range(3):
        feed_epoch(est, 600, 120.0)
    p = Progress.of(ev, 10, est)
    assert not p.eta_unsure and p.eta_text == eta_text(p.eta_seconds) and ":" in p.eta_text


# -- 3. UMAP's first fit: cached compilation, and saying what happens ---------------------------
def run_python(code: str, env: dict) -> dict:
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


NUMBA_CACHE_CHECK = """
import json, os, sys
{before}
from latent_explorer.training.explore import latent_methods as lm
cold = (lm.fit_start_text("umap", 500), lm.umap_start_text())
path = lm.use_numba_cache()
import numba
(path / "umap_0123").mkdir(parents=True, exist_ok=True)
(path / "umap_0123" / "layouts.f-1.py311.nbi").write_bytes(b"")
warm = (lm.fit_start_text("umap", 500), lm.umap_start_text())
print(json.dumps({{"path": str(path), "env": os.environ["NUMBA_CACHE_DIR"],
                  "config": numba.config.CACHE_DIR, "cold": cold, "warm": warm,
                  "umap imported": "umap" in sys.modules}}))
"""


@pytest.mark.slow  # a process
@pytest.mark.parametrize("numba_first", [False, True], ids=["numba later", "numba already"])
def test_numba_caches_compiled_code_in_the_users_cache_folder(tmp_path, numba_first):
    """In a fresh process, without importing umap (no compiling): numba's cache folder is
    numba/ in the project's cache folder, whether numba is imported after or before."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["LATENT_EXPLORER_CACHE"] = str(tmp_path / "cache")
    got = run_python(NUMBA_CACHE_CHECK.format(before="import numba" if numba_first else ""), env)
    want = str(tmp_path / "cache" / "numba")
    assert got["path"] == got["env"] == got["config"] == want
    assert not got["umap imported"]
    fit_line, status = got["cold"]  # nothing compiled yet: the wait is said, and why
    assert fit_line == ("fitting UMAP to 500 codes (the first time compiles numba code, about "
                        "a minute; later runs reuse the cache)...")
    assert "compiling numba code" in status and "later runs reuse the cache" in status
    fit_line, status = got["warm"]  # umap's code in the cache: no such warning
    assert fit_line == "fitting UMAP to 500 codes..." and "compiling" not in status


@pytest.mark.slow  # a process
def test_a_numba_cache_folder_the_user_chose_is_kept(tmp_path):
    env = {**os.environ, "LATENT_EXPLORER_CACHE": str(tmp_path / "cache"),
           "NUMBA_CACHE_DIR": str(tmp_path / "mine")}
    got = run_python(NUMBA_CACHE_CHECK.format(before=""), env)
    assert got["path"] == got["env"] == got["config"] == str(tmp_path / "mine")


@pytest.fixture(scope="module")
def vae_file(tmp_path_factory, small_dataset):
    from latent_explorer.training.engine.loop import train
    from latent_explorer.training.record.checkpoint import Checkpoint, save_checkpoint

    cfg = TrainConfig(kind="vae", epochs=1, batch_size=64, device="cpu", nz=8,
                      dataset="mnist-sample")
    r = train(cfg, small_dataset)
    return save_checkpoint(tmp_path_factory.mktemp("map") / "vae.safetensors",
                           Checkpoint(r.model, cfg, r.history, r.metrics, name="tiny",
                                      dataset="mnist-sample"))


def first_two_dims(codes, params, progress, should_stop):
    """In place of UMAP's layout (no numba compiling in a test): the codes' first two dims."""
    from latent_explorer.training.explore import latent_methods as lm

    return lm.FittedMap("umap", params, np.ascontiguousarray(codes[:, :2], np.float32), "",
                        axis_labels=("UMAP 1", "UMAP 2"), placer=lambda q: q[:, :2])


def test_cli_map_says_what_the_umap_wait_is_for_and_how_long_it_took(vae_file, tmp_path,
                                                                      capsys, monkeypatch):
    from latent_explorer.training.cli.main import run_cli
    from latent_explorer.training.explore import latent_methods as lm

    umap = lm.get_map_method("umap")
    monkeypatch.setitem(lm.MAP_METHODS, "umap", replace(umap, fit=first_two_dims))
    out = tmp_path / "m.npz"
    assert run_cli(["map", str(vae_file), "--method", "umap", "--n", "60", "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == lm.fit_start_text("umap", 60)  # before the fit, on stderr
    assert err[0].startswith("fitting UMAP to 60 codes") and err[0].endswith("...")
    assert err[-1].startswith("fitted UMAP in ") and err[-1].endswith(" s")
    assert run_cli(["map", str(vae_file), "--method", "pca", "--n", "60", "--out", str(out)]) == 0
    assert "fitting" not in capsys.readouterr().err  # PCA is instant: nothing to wait for


def seconds_so_far(text: str) -> int:
    assert text.endswith(" s so far"), text
    return int(text.rsplit("·", 1)[1].split()[0])


def test_the_latent_map_tab_says_in_words_what_a_umap_fit_is_doing(qtbot, runs, monkeypatch):
    """UMAP's real fit says what it does first (it stops there, before any numba); then a
    stand-in waits until the test lets it finish."""
    from latent_explorer.explorer.panels.latent_map import LatentMapPanel
    from latent_explorer.training.explore import latent_methods as lm

    umap = lm.get_map_method("umap")
    release = threading.Event()

    def fit(codes, params, progress, should_stop):
        with pytest.raises(lm.MapCancelled):
            umap.fit(codes, params, progress, lambda: True)  # its first words, then stops
        while not release.wait(0.05):
            if should_stop():
                raise lm.MapCancelled()
        return first_two_dims(codes, params, progress, should_stop)

    monkeypatch.setitem(lm.MAP_METHODS, "umap", replace(umap, fit=fit))
    vae = runs["vae"]
    run = Run(vae.name, vae.config, vae.model, vae.history, state="finished", dataset=vae.dataset)
    p = make_panel(qtbot, LatentMapPanel, [run], run, show=True)
    p.method_box.setCurrentIndex(p.method_box.findData("umap"))
    try:
        qtbot.waitUntil(lambda: lm.umap_start_text() in p.fit_status.text(), timeout=WAIT_MS)
        assert p.busy_row.isVisible() and p.cancel_button.isVisible()
        assert p.progress.maximum() == 0  # busy, no made-up percentage
        assert not p.progress.isTextVisible()  # the words are the label's, in full
        assert p.fit_status.width() > 3 * p.progress.width()
        qtbot.waitUntil(lambda: seconds_so_far(p.fit_status.text()) >= 1, timeout=WAIT_MS)
    finally:
        release.set()
    qtbot.waitUntil(lambda: not p.busy_row.isVisible(), timeout=WAIT_MS)
    assert "UMAP map computed in" in p.method_status.text()
    assert p.plot.getAxis("bottom").labelText == "UMAP 1"
    p.shutdown()
