"""The training form for images of any size and colour: the likelihood, a folder's image size and
channels, the conv widths, β per image, the new sources (CelebA read from its folder, a CVAE
refused on its one class) and the time estimate on larger images.

Real widgets throughout; the folders are tiny PNG sets written here with PIL.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from helpers import click_train, fill_form, make_window, wait_ended
from latent_explorer.explorer.session.datasets import DatasetCache
from latent_explorer.explorer.views.step_cost import pixel_scale
from latent_explorer.explorer.views.training_form import TrainingForm, config_from_values
from latent_explorer.explorer.widgets.beta_control import per_image_text
from latent_explorer.explorer.widgets.data_fields import FOLDER_ITEM
from latent_explorer.explorer.widgets.model_fields import parse_conv_widths
from latent_explorer.models.likelihoods import list_likelihoods
from latent_explorer.training.config import data_shape
from latent_explorer.training.data.sources import DATA_SOURCES, source_names
from latent_explorer.training.engine.sweep import SweepConfig

CLASSES = ("red", "green", "blue")


def colour_folder(root, side: int = 16, per_class: int = 12):
    """One sub-folder per class of `side`×`side` RGB PNGs, each class mostly its own colour."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, 90, (side, side, 3), dtype=np.uint8)
            img[..., c] = rng.integers(150, 256, (side, side), dtype=np.uint8)
            Image.fromarray(img, "RGB").save(root / name / f"{i}.png")
    return root


@pytest.fixture
def form(qtbot):
    f = TrainingForm()
    qtbot.addWidget(f)
    f.resize(420, 900)
    f.show()
    qtbot.waitExposed(f)
    return f


def pick(form, source: str) -> None:
    """Choose a dataset entry as the user does: select it and let the box report it activated."""
    i = form.dataset.findData(source)
    assert i >= 0, source
    form.dataset.setCurrentIndex(i)
    form.dataset.activated.emit(i)


# -- the dataset box -----------------------------------------------------------------------------
def test_the_new_sources_are_in_the_dataset_box_in_registry_order(form):
    listed = [form.dataset.itemData(i) for i in range(form.dataset.count())]
    assert listed[:-1] == list(source_names()) and form.dataset.itemText(len(listed) - 1) == FOLDER_ITEM
    for name in ("sprites", "sprites-colour", "cifar10", "svhn", "celeba"):
        i = form.dataset.findData(name)
        assert form.dataset.itemText(i) == DATA_SOURCES[name].label
        assert form.dataset.itemData(i, Qt.ItemDataRole.ToolTipRole) == DATA_SOURCES[name].description


# -- β per image ---------------------------------------------------------------------------------
def test_beta_per_image_follows_the_chosen_sources_shape(form):
    assert form.beta.per_image.text() == "β 0.005 per pixel · 3.92 per image (1×28×28)"  # auto
    pick(form, "sprites")
    assert 0.005 * 64 * 64 == pytest.approx(20.48)
    assert "20.5 per image (1×64×64)" in form.beta.per_image.text()
    pick(form, "cifar10")  # a colour pixel holds three values
    assert form.beta.per_image.text() == "β 0.005 per value · 15.4 per image (3×32×32)"
    form.beta.edit.setText("2")
    form.beta.edit.textEdited.emit("2")
    assert form.beta.per_image.text() == "β 2 per value · 6,144 per image (3×32×32)"
    form.beta.edit.setText("x")
    assert "once β is a number" in form.beta.per_image.text()


def test_beta_per_image_waits_for_a_folder_unless_its_options_give_the_shape(form, tmp_path):
    form.set_folder(str(tmp_path))
    assert form.beta.per_image.text().endswith("per image once loaded")
    form.image_size.setCurrentIndex(form.image_size.findData(32))
    assert form.beta.per_image.text().endswith("per image once loaded")  # channels still open
    form.channels.setCurrentIndex(form.channels.findData(1))
    assert form.beta.per_image.text() == "β 0.005 per pixel · 5.12 per image (1×32×32)"
    assert per_image_text(0.0, (3, 64, 64)) == "β 0 per value · 0 per image (3×64×64)"


# -- likelihood ----------------------------------------------------------------------------------
def test_the_likelihood_field_lists_the_registry_and_names_the_datasets_own(form):
    lk = form.likelihood
    specs = list_likelihoods()
    assert lk.count() == 1 + len(specs) and lk.currentIndex() == 0
    assert lk.itemText(0) == "Dataset's own (Bernoulli)"
    for i, spec in enumerate(specs, start=1):
        assert (lk.itemText(i), lk.itemData(i)) == (spec.label, spec.name)
        assert lk.itemData(i, Qt.ItemDataRole.ToolTipRole) == spec.description
    pick(form, "svhn")
    assert lk.itemText(0) == "Dataset's own (Discretised logistic)"
    assert form.values()["likelihood"] is None  # the dataset's own: TrainConfig's None
    lk.setCurrentIndex(lk.findData("gaussian"))
    v = form.values()
    assert v["likelihood"] == "gaussian" and config_from_values(v).likelihood == "gaussian"
    form.sweep.setChecked(True)
    assert SweepConfig(**form.sweep_values()).likelihood == "gaussian"
    again = TrainingForm()
    again.set_values(form.stored_values())  # remembered with the form
    assert again.likelihood.currentData() == "gaussian" and again.dataset.currentData() == "svhn"
    again.set_values({"likelihood": "no-such"})  # a stored name from elsewhere: the default
    assert again.likelihood.currentIndex() == 0
    again.deleteLater()


# -- a folder's image options ----------------------------------------------------------------------
def test_image_options_show_for_a_folder_only_and_reach_the_config(qtbot, form, tmp_path):
    for name in ("auto", "sprites", "cifar10"):
        pick(form, name)
        assert not form.image_size.isVisible() and not form.channels.isVisible()
        assert (form.values()["image_size"], form.values()["image_channels"]) == (None, None)
    form.ask_folder = lambda: str(tmp_path)  # the folder dialog's answer
    form.dataset.setFocus()
    qtbot.keyClick(form.dataset, Qt.Key.Key_End)  # the user picks "Folder…"
    assert form.values()["data_dir"] == str(tmp_path)
    assert form.image_size.isVisible() and form.channels.isVisible()
    assert not form.image_side.isVisible()
    form.image_size.setCurrentIndex(form.image_size.findData(-1))  # another side
    assert form.image_side.isVisible()
    form.image_side.setValue(40)
    form.channels.setCurrentIndex(form.channels.findData(3))
    cfg = config_from_values(form.values())
    assert (cfg.image_size, cfg.image_channels) == (40, 3)
    assert cfg.load_options == {"image_size": 40, "channels": 3}
    form.sweep.setChecked(True)
    sweep = SweepConfig(**form.sweep_values())
    assert (sweep.image_size, sweep.image_channels) == (40, 3)
    stored = form.stored_values()
    pick(form, "sprites")  # a named source: no options, whatever the folder had
    assert not form.channels.isVisible() and form.values()["image_size"] is None
    again = TrainingForm()
    again.set_values(stored)
    assert (again.values()["image_size"], again.values()["image_channels"]) == (40, 3)
    again.set_values({"dataset": "folder", "data_dir": str(tmp_path), "image_size": 5000})
    assert again.values()["image_size"] is None  # out of range: as the files
    again.deleteLater()


def test_a_folder_read_at_8_grey_is_a_1x8x8_model(tmp_path, sample_dataset):
    """What the form's values make of a 16×16 colour folder: the config's load options, the
    dataset they load and the model built for it."""
    folder = colour_folder(tmp_path / "colours")
    form = TrainingForm()
    form.set_values({"dataset": "folder", "data_dir": str(folder), "image_size": 8,
                     "image_channels": 1, "epochs": 1})
    cfg = config_from_values(form.values())
    cache = DatasetCache()
    native = cache.get(cfg.dataset, cfg.data_dir)
    small = cache.get(cfg.dataset, cfg.data_dir, **cfg.load_options)
    assert native.image_shape == (3, 16, 16) and small.image_shape == (1, 8, 8)
    assert cache.get(cfg.dataset, cfg.data_dir) is native  # each shape kept apart
    assert cfg.model_config(**data_shape(small)).image_shape == (1, 8, 8)
    assert small.class_names == tuple(sorted(CLASSES))  # the sub-folders, sorted
    form.deleteLater()


# -- conv widths -----------------------------------------------------------------------------------
def test_conv_widths_are_conv_only_checked_inline_and_block_train(qtbot, form):
    assert parse_conv_widths("") == ((), None) and parse_conv_widths(" 32, 64 ") == ((32, 64), None)
    assert not form.conv_widths.isVisible()  # the MLP has none
    form.arch.setCurrentIndex(form.arch.findData("conv"))
    assert form.conv_widths.isVisible() and form.values()["conv_widths"] == ()
    form.conv_widths.setFocus()
    qtbot.keyClicks(form.conv_widths, "32,x")
    assert form.conv_widths in form.invalid_fields()
    assert "'x' is not a whole number" in form.message.text() and form.message.isVisible()
    assert not form.train_button.isEnabled()
    with qtbot.assertNotEmitted(form.train_requested):
        form.request_train()  # Ctrl+Enter: refused too
    form.conv_widths.clear()
    qtbot.keyClicks(form.conv_widths, "32,64")  # two stages: what 28×28 takes
    assert form.invalid_fields() == [] and form.train_button.isEnabled()
    assert config_from_values(form.values()).conv_widths == (32, 64)
    pick(form, "sprites")  # 64×64: four stages (64 → 32 → 16 → 8 → 4)
    assert form.conv_widths in form.invalid_fields() and not form.train_button.isEnabled()
    assert "take 4 conv stages" in form.message.text()
    qtbot.keyClicks(form.conv_widths, ",128,256")
    assert form.train_button.isEnabled()
    with qtbot.waitSignal(form.train_requested, timeout=1000) as sig:
        form.train_button.click()
    assert config_from_values(sig.args[0]).conv_widths == (32, 64, 128, 256)
    form.arch.setCurrentIndex(form.arch.findData("mlp"))  # widths apply to the conv net only
    assert form.values()["conv_widths"] == () and form.train_button.isEnabled()


# -- CelebA ----------------------------------------------------------------------------------------
def test_celeba_asks_for_its_folder_and_refuses_a_cvae(qtbot, form, tmp_path):
    asked: list[str] = []

    def answer(folder):
        def ask():
            asked.append(form.data_fields.dialog_title)
            return folder
        return ask

    form.ask_folder = answer(None)  # the user cancels, and nothing was read before
    pick(form, "celeba")
    assert asked and "img_align_celeba" in asked[-1]
    assert form.dataset.currentData() == "auto"  # back to what it was
    assert form.message.isVisible() and "read from your folder" in form.message.text()
    form.ask_folder = answer(str(tmp_path))
    pick(form, "celeba")
    v = form.values()
    assert (v["dataset"], v["data_dir"]) == ("celeba", str(tmp_path))
    assert form.dataset.currentText() == f"celeba: {tmp_path.name}"
    assert not form.image_size.isVisible()  # CelebA's own preprocessing: 64×64 colour
    assert "61.4 per image (3×64×64)" in form.beta.per_image.text()  # 0.005 × 12,288
    assert form.likelihood.itemText(0) == "Dataset's own (Discretised logistic)"
    form.kind.setCurrentIndex(form.kind.findData("cvae"))
    assert form.kind in form.invalid_fields() and not form.train_button.isEnabled()
    assert "two classes or more" in form.message.text() and "celeba has 1" in form.message.text()
    form.kind.setCurrentIndex(form.kind.findData("vae"))
    assert form.train_button.isEnabled() and form.invalid_fields() == []
    cfg = config_from_values(form.values())
    assert (cfg.dataset, cfg.data_dir) == ("celeba", str(tmp_path))
    again = TrainingForm()
    again.set_values(form.stored_values())  # remembered: the same folder entry
    assert again.values()["data_dir"] == str(tmp_path) and again.dataset.currentData() != "auto"
    again.deleteLater()


# -- the time estimate ----------------------------------------------------------------------------
def test_the_estimate_scales_an_mlp_step_by_the_values_and_leaves_conv_to_the_first_epoch(form):
    assert pixel_scale("mlp", (1, 28, 28)) == 1.0 and pixel_scale("mlp", None) == 1.0
    assert pixel_scale("mlp", (1, 64, 64)) == pytest.approx(4096 / 784)
    assert pixel_scale("conv", (3, 32, 32)) is None and pixel_scale("conv", (1, 28, 28)) == 1.0
    form.set_values({"dataset": "sprites", "batch_size": 64, "epochs": 2})
    form.set_speeds({"mlp": 100.0, "conv": 10.0})
    steps = -(-12_000 // 64) * 2  # 376
    assert f"{steps:,} steps" in form.estimate.text()
    assert form.estimate_seconds() == pytest.approx(steps / 100.0 * 4096 / 784)  # 19.6 s
    assert "about 00:20 here (1×64×64: ×5.22)" in form.estimate.text()
    form.arch.setCurrentIndex(form.arch.findData("conv"))
    assert form.estimate_seconds() is None
    assert "first epoch measures it" in form.estimate.text() and " here" not in form.estimate.text()
    pick(form, "mnist-sample")  # the shape the speeds were measured on: as measured
    assert form.estimate_seconds() == pytest.approx(-(-4500 // 64) * 2 / 10.0)


# -- the window: train, remember -------------------------------------------------------------------
@pytest.mark.slow
def test_a_logistic_colour_folder_trains_and_is_remembered_only_once_it_trained(
        qtbot, settings, datasets, tmp_path):
    folder = colour_folder(tmp_path / "colours")
    w = make_window(qtbot, settings, datasets)
    fill_form(w, dataset="folder", data_dir=str(folder), likelihood="logistic", epochs=1, nz=4)
    assert w.form.likelihood.currentData() == "logistic"
    good = click_train(qtbot, w)
    wait_ended(qtbot, w, good)
    assert good.state == "finished", good.error
    assert good.config.likelihood == "logistic" and good.config.data_dir == str(folder)
    assert good.model.config.likelihood == "logistic"
    assert tuple(good.model.config.image_shape) == (3, 16, 16)
    assert good.dataset.class_names == tuple(sorted(CLASSES))
    # A run that fails (a folder with no images) is not what the next launch shows.
    empty = tmp_path / "empty"
    empty.mkdir()
    fill_form(w, dataset="folder", data_dir=str(empty), likelihood="gaussian", epochs=1)
    bad = click_train(qtbot, w)
    wait_ended(qtbot, w, bad)
    assert bad.state == "failed"
    w.close()
    again = make_window(qtbot, settings, datasets)
    v = again.form.values()
    assert (v["likelihood"], v["dataset"], v["data_dir"]) == ("logistic", "folder", str(folder))
    again.close()


def test_a_folder_trained_from_the_window_at_8_grey_makes_a_1x8x8_model(window, qtbot, tmp_path):
    folder = colour_folder(tmp_path / "colours")
    fill_form(window, dataset="folder", data_dir=str(folder), image_size=8, image_channels=1,
              epochs=1, nz=4)
    run = click_train(qtbot, window)
    wait_ended(qtbot, window, run)
    assert run.state == "finished", run.error
    assert (run.config.image_size, run.config.image_channels) == (8, 1)
    assert tuple(run.model.config.image_shape) == (1, 8, 8)


def test_a_listed_run_gets_its_data_at_the_size_and_channels_it_trained_on(qtbot, tmp_path):
    """A workspace run (or an opened file) reads its folder as its config says, 8×8 grey here,
    not as the files are: its model takes 1×8×8 images."""
    from latent_explorer.explorer.session.datasets import DatasetLoader
    from latent_explorer.training.config import TrainConfig
    from latent_explorer.training.record.run import Run

    folder = colour_folder(tmp_path / "colours")
    cfg = TrainConfig(kind="vae", epochs=1, dataset="folder", data_dir=str(folder),
                      image_size=8, image_channels=1)
    run = Run("listed", cfg)
    loader = DatasetLoader(DatasetCache(), [("folder", str(folder))], token=run)
    got = []
    loader.loaded.connect(lambda token, ds, note: got.append((token, ds, note)))
    loader.run()  # in this thread: what its worker thread does
    token, ds, note = got[0]
    assert token is run and ds is not None, note
    assert ds.image_shape == (1, 8, 8)


@pytest.mark.parametrize("source", ["colour folder 32", "sprites"])
def test_a_conv_vae_trains_from_the_form_on_colour_32_and_on_64_sprites(qtbot, settings, tmp_path,
                                                                        source):
    """Issue 33's 'done when', from the form: a conv VAE on 32×32 colour images and on the
    64×64 sprites (a small draw of them stands in for the source's 12,000: the same images)."""
    from latent_explorer.training.data.sprites import load_sprites

    cache = DatasetCache()
    if source == "sprites":
        cache.put("sprites", None, load_sprites(n_train=128, n_test=64))
        values = {"dataset": "sprites"}
        shape = (1, 64, 64)
    else:
        values = {"dataset": "folder", "data_dir": str(colour_folder(tmp_path / "c", side=32))}
        shape = (3, 32, 32)
    w = make_window(qtbot, settings, cache)
    fill_form(w, kind="vae", arch="conv", epochs=1, nz=4, **values)
    run = click_train(qtbot, w)
    wait_ended(qtbot, w, run)
    assert run.state == "finished", run.error
    assert run.model.config.arch == "conv" and tuple(run.model.config.image_shape) == shape
    assert run.metrics is not None and np.isfinite(run.metrics.neg_elbo)
    w.close()
