"""Where and on how many threads to train: the form's Device combo and CPU threads box.

The combo offers 'auto' and the CPU until torch has loaded (the form imports no torch), then
every device torch says is available; the chosen device goes into the run's TrainConfig and the
thread count to the job's worker, whose thread sets torch's threads before it trains. Driven
through the real window (qtbot).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from helpers import click_train, fill_form, make_window, wait_ended
from latent_explorer.explorer.session.job_events import TrainingStarted
from latent_explorer.explorer.views.training_form import TrainingForm, config_from_values
from latent_explorer.training.engine.device import device_choices


def items(combo) -> list:
    return [combo.itemData(i) for i in range(combo.count())]


def test_before_torch_the_form_offers_auto_and_the_cpu(qtbot):
    form = TrainingForm()
    qtbot.addWidget(form)
    assert items(form.device) == ["auto", "cpu"] and form.device.currentData() == "auto"
    assert form.cpu_threads.value() == 0 and form.cpu_threads.text() == "automatic"


def test_a_remembered_device_is_chosen_once_torch_lists_it(qtbot):
    form = TrainingForm()
    qtbot.addWidget(form)
    form.set_values({"device": "cuda", "threads": 2})
    assert form.device.currentData() == "auto"  # not listed yet: 'auto' meanwhile
    form.set_devices([("cpu", "CPU"), ("cuda", "CUDA (Some GPU)")])
    assert form.device.currentData() == "cuda" and form.device.currentText() == "CUDA (Some GPU)"
    v = form.values()
    assert v["device"] == "cuda" and v["threads"] == 2
    cfg = config_from_values(v)  # the threads are the worker's, not the run's
    assert cfg.device == "cuda" and not hasattr(cfg, "threads")
    # A device this machine lacks falls back to 'auto'.
    form.set_devices([("cpu", "CPU")])
    assert form.device.currentData() == "auto"


def test_the_window_lists_what_torch_has(window):
    f = window.form
    assert items(f.device) == ["auto", *(name for name, _ in device_choices())]
    assert f.cpu_threads.maximum() >= 1


def started_events(w) -> list:
    seen: list = []
    w.session.run_event.connect(lambda run, ev: seen.append((run, ev))
                                if isinstance(ev, TrainingStarted) else None)
    return seen


@pytest.mark.parametrize("threads", [1, 2])
def test_the_device_and_threads_reach_the_run_and_its_worker(qtbot, window, threads):
    w = window
    seen = started_events(w)
    fill_form(w, device="cpu", threads=threads, epochs=1)
    assert w.form.device.currentData() == "cpu" and w.form.cpu_threads.value() == threads
    run = click_train(qtbot, w)
    assert run.config.device == "cpu"
    wait_ended(qtbot, w, run)
    assert run.state == "finished", run.error
    (_, ev), = [(r, e) for r, e in seen if r is run]
    assert ev.threads == threads  # what the worker's thread set before training
    plural = "s" if threads != 1 else ""
    assert ev.device == f"CPU ({threads} thread{plural})"
    assert w.device_label.text() == f"Device: CPU ({threads} thread{plural})"


def test_a_sweep_takes_the_threads_too(qtbot, window):
    w = window
    seen = started_events(w)
    fill_form(w, device="cpu", threads=1, epochs=1)
    w.form.sweep.setChecked(True)
    w.form.betas.setText("0, 1")
    w.form.sweep_seeds.setText("0")
    assert w.form.sweep_values()["device"] == "cpu"
    assert w.form.sweep_executor()["threads"] == 1
    n = len(w.runs)
    w.form.request_train()
    runs = w.runs[n:]
    assert len(runs) == 2 and all(r.config.device == "cpu" for r in runs)
    for r in runs:
        wait_ended(qtbot, w, r)
    assert {e.threads for _, e in seen} == {1}


def test_the_device_and_threads_are_remembered_with_the_form(qtbot, tmp_path, datasets):
    settings = QSettings(str(tmp_path / "remember.ini"), QSettings.Format.IniFormat)
    w = make_window(qtbot, settings, datasets)
    fill_form(w, device="cpu", threads=1, epochs=1)
    run = click_train(qtbot, w)
    wait_ended(qtbot, w, run)  # a run that trained to its end keeps its form
    w.shutdown()
    again = make_window(qtbot, settings, datasets)
    assert again.form.device.currentData() == "cpu" and again.form.cpu_threads.value() == 1
    again.shutdown()
