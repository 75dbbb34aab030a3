"""Data out, not only pictures: the tabs write what they show as arrays and tables.

- Prior samples and Conditional: "Export samples…" writes the shown samples as a float32 .npy
  (N, C, H, W) in [0, 1], as the CLI's `sample` does, or as a PNG grid.
- Latent map: "Export…" writes the test codes (μ, log σ), labels, map coordinates and the lasso
  selection as .npz, .npy (a record array) or .csv (index,label,x,y,z0..zK-1,selected).
- The writers are Qt-free (training/explore/export.py) and shared with the CLI (`sample`,
  `map --out m.csv`); a bad path is one clear message, and nothing else changes.

Each export goes through the real window: its button, the window's (fake) file dialog, the
file read back with numpy or csv.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from helpers import LEFT, make_window
from latent_explorer.explorer.panels.conditional import ConditionalPanel
from latent_explorer.explorer.panels.latent_map import LatentMapPanel
from latent_explorer.explorer.panels.prior import PriorPanel
from latent_explorer.training.cli.main import run_cli
from latent_explorer.training.explore.export import (MAP_SUFFIXES, SAMPLE_SUFFIXES, ExportError,
                                                     MapExport, check_out_path, write_map,
                                                     write_samples)
from latent_explorer.training.record.checkpoint import Checkpoint, save_checkpoint
from latent_explorer.training.record.run import Run


# -- the Qt-free writers ---------------------------------------------------------------------------
def test_samples_are_written_as_float32_npy_or_a_png_grid(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((6, 28, 28)).astype(np.float64)  # any float type: stored as float32
    p = write_samples(tmp_path / "s.npy", images)
    a = np.load(p)
    assert a.dtype == np.float32 and a.shape == (6, 1, 28, 28)
    np.testing.assert_allclose(a[:, 0], images, atol=1e-6)
    png = write_samples(tmp_path / "s.png", images, ncols=3, scale=2)
    from PIL import Image

    with Image.open(png) as im:  # 3 columns × 2 rows of 28 px with 2 px padding, ×2
        assert im.size == ((3 * 30 + 2) * 2, (2 * 30 + 2) * 2)


def _map_data(n=12, k=3, selected=(1, 4, 5), sigmas=True) -> MapExport:
    rng = np.random.default_rng(1)
    return MapExport(rng.normal(size=(n, k)).astype(np.float32),
                     rng.normal(size=(n, 2)).astype(np.float32),
                     np.arange(n, dtype=np.int64) % 10,
                     rng.normal(size=(n, k)).astype(np.float32) if sigmas else None,
                     None if selected is None else np.array(selected))


def test_a_map_round_trips_through_npz_npy_and_csv(tmp_path):
    d = _map_data()
    with np.load(write_map(tmp_path / "m.npz", d)) as f:
        assert set(f.files) == {"codes", "coords", "labels", "log_sigma", "selected"}
        np.testing.assert_array_equal(f["codes"], d.codes)
        np.testing.assert_array_equal(f["log_sigma"], d.log_sigmas)
        assert f["coords"].dtype == np.float32 and f["labels"].dtype == np.int64
        assert f["selected"].tolist() == [1, 4, 5]
    rec = np.load(write_map(tmp_path / "m.npy", d))  # a record array: no pickle needed
    assert rec.shape == (12,) and rec["z"].shape == (12, 3)
    np.testing.assert_array_equal(rec["z"], d.codes)
    np.testing.assert_array_equal(rec["log_sigma"], d.log_sigmas)
    assert rec["index"].tolist() == list(range(12)) and rec["selected"].sum() == 3
    with open(write_map(tmp_path / "m.csv", d), newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["index", "label", "x", "y", "z0", "z1", "z2", "selected"]
    body = np.array(rows[1:], float)
    assert body.shape == (12, 8)
    np.testing.assert_array_equal(body[:, 0], np.arange(12))
    np.testing.assert_array_equal(body[:, 1], d.labels)
    np.testing.assert_array_equal(body[:, 2:4].astype(np.float32), d.coords)  # exact
    np.testing.assert_array_equal(body[:, 4:7].astype(np.float32), d.codes)
    assert np.flatnonzero(body[:, 7]).tolist() == [1, 4, 5]


def test_a_map_without_sigma_or_selection_leaves_them_out(tmp_path):
    d = _map_data(sigmas=False, selected=None)
    with np.load(write_map(tmp_path / "ae.npz", d)) as f:
        assert set(f.files) == {"codes", "coords", "labels"}  # as the CLI's `map` writes
    rec = np.load(write_map(tmp_path / "ae.npy", d))
    assert "log_sigma" not in rec.dtype.names and not rec["selected"].any()


@pytest.mark.parametrize("case", ["suffix", "folder", "no folder"])
def test_a_bad_path_is_one_sentence_before_anything_is_written(tmp_path, case):
    path = {"suffix": tmp_path / "m.txt", "folder": tmp_path,
            "no folder": tmp_path / "no" / "such" / "m.npz"}[case]
    with pytest.raises(ExportError) as e:
        check_out_path(path, MAP_SUFFIXES)
    assert "\n" not in str(e.value)
    with pytest.raises(ExportError):
        write_samples(tmp_path / "s.jpg", np.zeros((1, 28, 28)))
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert SAMPLE_SUFFIXES == (".npy", ".png")


# -- the CLI writes the same files -------------------------------------------------------------
@pytest.fixture(scope="module")
def vae_file(tmp_path_factory, runs):
    r = runs["vae"]
    return save_checkpoint(tmp_path_factory.mktemp("data-out") / "vae.safetensors",
                           Checkpoint(r.model, r.config, r.history, {}, name="tiny",
                                      dataset="mnist-sample"))


def test_the_cli_map_writes_a_csv_table(vae_file, tmp_path, capsys):
    out = tmp_path / "map.csv"
    assert run_cli(["map", str(vae_file), "--n", "50", "--out", str(out)]) == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 50 and list(rows[0]) == ["index", "label", "x", "y",
                                                 *(f"z{j}" for j in range(8)), "selected"]
    assert {r["selected"] for r in rows} == {"0"}


def test_the_cli_sample_refuses_a_missing_folder_in_one_line(vae_file, tmp_path, capsys):
    out = tmp_path / "nowhere" / "s.npy"
    assert run_cli(["sample", str(vae_file), "--out", str(out)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --out") and "does not exist" in err[0]


# -- the window's tabs --------------------------------------------------------------------------
@pytest.fixture
def window(qtbot, settings, datasets, runs):
    """A window with the exploration tabs and the trained AE, VAE and CVAE listed."""
    w = make_window(qtbot, settings, datasets, load_panels=True)
    w.session.scorer = None  # nothing measured in the background
    for kind in ("ae", "vae", "cvae"):
        r = runs[kind]
        w.session.add(Run(kind.upper(), r.config, r.model, r.history, state="finished",
                          dataset=r.dataset))
    yield w
    w.shutdown()


def show(qtbot, w, cls, kind: str):
    """Select the run of `kind` and bring the tab of panel class `cls` to the front."""
    w.run_table.select_run(next(r for r in w.runs if r.kind == kind))
    panel = next(p for p in w.panels if isinstance(p, cls))
    w.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: not panel.is_showing_hint, timeout=5000)
    return panel


def test_prior_samples_export_as_the_cli_writes_them(qtbot, window, tmp_path):
    w = window
    panel = show(qtbot, w, PriorPanel, "vae")
    panel.k.setValue(5)
    out = tmp_path / "prior.npy"
    w.dialogs.path = str(out)
    qtbot.mouseClick(panel.export_button, LEFT)
    a = np.load(out)
    assert a.dtype == np.float32 and a.shape == (25, 1, 28, 28)
    assert 0.0 <= a.min() and a.max() <= 1.0 and a.std() > 0.01
    np.testing.assert_array_equal(a[:, 0], panel.samples[0])  # what the tab shows
    title, suggested, file_filter = w.dialogs.asked_data[-1]
    assert suggested.endswith("vae-prior_samples.npy") and "*.npy" in file_filter
    assert str(out) in w.statusBar().currentMessage() and not w.dialogs.errors
    # The PNG grid still comes out too (Save PNG… is there as before).
    w.dialogs.path = str(tmp_path / "prior.png")
    qtbot.mouseClick(panel.export_button, LEFT)
    assert (tmp_path / "prior.png").read_bytes()[:4] == b"\x89PNG"
    assert panel.save_button.isVisible()


def test_conditional_samples_export_every_class_row(qtbot, window, tmp_path):
    w = window
    panel = show(qtbot, w, ConditionalPanel, "cvae")
    qtbot.mouseClick(panel.all_classes, LEFT)
    panel.k.setValue(4)
    w.dialogs.path = str(tmp_path / "cond")  # typed without a suffix: the .npy default
    qtbot.mouseClick(panel.export_button, LEFT)
    a = np.load(tmp_path / "cond.npy")
    assert a.dtype == np.float32 and a.shape == (10 * 4, 1, 28, 28)
    np.testing.assert_array_equal(a[:, 0], panel.samples)


def test_the_latent_map_exports_codes_coordinates_and_the_selection(qtbot, window, tmp_path):
    w = window
    panel = show(qtbot, w, LatentMapPanel, "vae")
    qtbot.waitUntil(lambda: panel.coords is not None, timeout=5000)
    coords = panel.coords
    n, k = len(coords), w.selected_run().config.nz
    # A lasso around the points left of the map's middle.
    x0, x1 = coords[:, 0].min() - 1, float(np.median(coords[:, 0]))
    y0, y1 = coords[:, 1].min() - 1, coords[:, 1].max() + 1
    picked = panel.select_polygon(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    assert 0 < len(picked) < n

    w.dialogs.path = str(tmp_path / "map.csv")
    qtbot.mouseClick(panel.export_button, LEFT)
    with open(tmp_path / "map.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["index", "label", "x", "y", *(f"z{j}" for j in range(k)), "selected"]
    body = np.array(rows[1:], float)
    assert body.shape == (n, 4 + k + 1)
    np.testing.assert_array_equal(body[:, 1], panel.encoded.labels)
    np.testing.assert_array_equal(body[:, 2:4].astype(np.float32), coords)
    np.testing.assert_array_equal(body[:, 4:4 + k].astype(np.float32),
                                  panel.encoded.means.numpy())
    assert np.flatnonzero(body[:, -1]).tolist() == picked.tolist()

    w.dialogs.path = str(tmp_path / "map.npz")
    qtbot.mouseClick(panel.export_button, LEFT)
    with np.load(tmp_path / "map.npz") as f:
        assert f["codes"].shape == (n, k) and f["log_sigma"].shape == (n, k)
        assert f["coords"].shape == (n, 2) and f["labels"].shape == (n,)
        assert f["selected"].tolist() == picked.tolist()
        np.testing.assert_array_equal(f["log_sigma"], panel.encoded.log_sigmas.numpy())

    w.dialogs.path = str(tmp_path / "map.npy")
    qtbot.mouseClick(panel.export_button, LEFT)
    rec = np.load(tmp_path / "map.npy")
    assert rec.shape == (n,) and rec["z"].shape == (n, k)
    assert np.flatnonzero(rec["selected"]).tolist() == picked.tolist()
    assert "selected" in w.statusBar().currentMessage() and not w.dialogs.errors


def test_an_ae_map_has_no_sigma_and_no_selection_until_one_is_made(qtbot, window, tmp_path):
    w = window
    panel = show(qtbot, w, LatentMapPanel, "ae")
    qtbot.waitUntil(lambda: panel.coords is not None, timeout=5000)
    w.dialogs.path = str(tmp_path / "ae.npz")
    qtbot.mouseClick(panel.export_button, LEFT)
    with np.load(tmp_path / "ae.npz") as f:
        assert set(f.files) == {"codes", "coords", "labels"}


@pytest.mark.parametrize("bad", ["m.txt", "no/such/folder/m.npz", "."])
def test_a_bad_path_is_said_and_nothing_else_is_lost(qtbot, window, tmp_path, bad):
    w = window
    panel = show(qtbot, w, LatentMapPanel, "vae")
    qtbot.waitUntil(lambda: panel.coords is not None, timeout=5000)
    coords = panel.coords.copy()
    picked = panel.select_polygon(np.array([[-1e9, -1e9], [1e9, -1e9], [1e9, 1e9], [-1e9, 1e9]]))
    out = tmp_path / "out"
    out.mkdir()
    w.dialogs.path = str(out / bad)
    qtbot.mouseClick(panel.export_button, LEFT)
    assert len(w.dialogs.errors) == 1
    title, text = w.dialogs.errors[0]
    assert title == "Cannot export" and "\n" not in text
    assert w.statusBar().currentMessage() == text
    # Nothing written, there or beside it (the settings' file is the window's own).
    assert list(out.iterdir()) == []
    assert {p.name for p in tmp_path.iterdir()} <= {"latent-explorer.ini", "out"}
    # The map, its selection and the run are as they were.
    np.testing.assert_array_equal(panel.coords, coords)
    assert panel.selections[-1].tolist() == picked.tolist()
    assert w.selected_run().model is not None and len(w.runs) == 3


def test_a_cancelled_dialog_writes_nothing(qtbot, window, tmp_path):
    w = window
    panel = show(qtbot, w, PriorPanel, "vae")
    w.dialogs.path = None
    qtbot.mouseClick(panel.export_button, LEFT)
    assert len(w.dialogs.asked_data) == 1 and not w.dialogs.errors
    assert {p.name for p in tmp_path.iterdir()} <= {"latent-explorer.ini"}
