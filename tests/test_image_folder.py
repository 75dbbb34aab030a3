"""Image folders (one sub-folder per class of PNG/JPEG files) as datasets, and training on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from latent_explorer.training.record.checkpoint import load_checkpoint
from latent_explorer.training.cli.main import run_cli
from latent_explorer.training.data.datasets import DataError
from latent_explorer.training.data.sources import load_dataset
from latent_explorer.training.data.image_folder import load_image_folder
from latent_explorer.training.engine.loop import TrainConfig, Trainer


def draw(size: tuple[int, int], bg: int, ink: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """A grey (h, w) image of colour bg with a filled rectangle (x0, y0, x1, y1) of colour ink."""
    w, h = size
    a = np.full((h, w), bg, np.uint8)
    x0, y0, x1, y1 = box
    a[y0:y1, x0:x1] = ink
    return a


def make_folder(root: Path, counts: dict[str, int], bg: int = 0, ink: int = 255,
                suffix: str = ".png", size: tuple[int, int] | None = None) -> Path:
    """Class folders of small images; image i of a class has its bar at a class- and i-dependent
    place. Their (width, height) is `size`, else all different, none 28x28."""
    root.mkdir(parents=True, exist_ok=True)
    for c, (name, n) in enumerate(counts.items()):
        (root / name).mkdir()
        for i in range(n):
            w, h = size or (20 + 7 * i, 24 + 5 * c)
            x = 2 + (i * 3) % (w - 6)
            a = draw((w, h), bg, ink, (x, 2, x + 4, h - 2 - c))
            Image.fromarray(a, "L").save(root / name / f"img{i:03d}{suffix}")
    return root


def test_layout_labels_and_split(tmp_path):
    # 40x40, so every bar is at its own place (x = 2 + 3 i) and every image different
    folder = make_folder(tmp_path / "shapes", {"zeta": 7, "alpha": 12, "mid": 2}, size=(40, 40))
    (folder / "alpha" / "nested").mkdir()
    Image.fromarray(draw((30, 30), 0, 255, (5, 5, 9, 25)), "L").save(
        folder / "alpha" / "nested" / "deep.JPG")
    (folder / "alpha" / "notes.txt").write_text("not an image")
    (folder / ".thumbnails").mkdir()  # hidden: not a class
    (folder / "zeta" / ".hidden.png").write_bytes(b"not read")

    ds = load_dataset(data_dir=folder)
    assert ds.name == "shapes"
    assert ds.class_names == ("alpha", "mid", "zeta") and ds.n_classes == 3
    # the 30x30 JPEG is resized to the others' 40x40
    assert ds.image_shape == (1, 40, 40)
    assert "2 sizes: made the most common, 40x40 (21 of 22)" in ds.description
    for split in (ds.train, ds.test):
        assert split.images.dtype == torch.uint8 and split.images.shape[1:] == (1, 40, 40)
        assert split.labels.dtype == torch.int64
    counts = {"alpha": 13, "mid": 2, "zeta": 7}
    test_counts = {"alpha": 2, "mid": 1, "zeta": 1}  # a sixth, rounded, at least one
    for c, name in enumerate(ds.class_names):
        assert int((ds.test.labels == c).sum()) == test_counts[name]
        assert int((ds.train.labels == c).sum()) == counts[name] - test_counts[name]
    # every image once: train and test are disjoint (the images are all different)
    rows = {bytes(x) for x in torch.cat([ds.train.images, ds.test.images]).numpy()}
    assert len(rows) == sum(counts.values())
    assert "3 classes" in ds.description and str(folder) in ds.description
    # a fixed seed: the same split every time
    again = load_image_folder(folder)
    assert torch.equal(again.train.images, ds.train.images)
    assert torch.equal(again.test.labels, ds.test.labels)
    assert torch.equal(load_dataset(str(folder)).train.labels, ds.train.labels)


def test_image_size_resizes_the_shorter_side_then_crops_the_centre(tmp_path):
    folder = tmp_path / "paper"
    (folder / "sq").mkdir(parents=True)
    (folder / "bar").mkdir()
    # 60x30 white pages with a black 10x10 square in the middle and a black bar at the far
    # left (cropped away); 30x60 pages with a bar across the middle and a mark at the top
    for i in range(2):
        page = draw((60, 30), 255, 0, (25, 10, 35, 20))
        page[:, :4] = 0
        Image.fromarray(page, "L").save(folder / "sq" / f"{i}.png")
        tall = draw((30, 60), 250, 10, (0, 27, 30, 33))
        tall[:5] = 10
        Image.fromarray(tall, "L").save(folder / "bar" / f"{i}.png")
    ds = load_image_folder(folder, image_size=28)
    assert ds.image_shape == (1, 28, 28) and "inverted" in ds.description
    assert "resized and centre-cropped to 28x28" in ds.description
    imgs = torch.cat([ds.train.images, ds.test.images]).numpy()[:, 0].astype(int)
    labels = torch.cat([ds.train.labels, ds.test.labels]).numpy()
    # 60x30 -> 56x28, columns 14-41 kept: the square (25-35 -> 23.3-32.7) is 9-10 px at the
    # centre, bright ink now; the bar at the far left is gone; the margins dark
    sq = imgs[labels == ds.class_names.index("sq")][0]
    assert sq[11:17, 11:17].min() >= 240
    assert sq[:, :7].max() <= 10 and sq[:7].max() <= 10 and sq[-7:].max() <= 10
    # 30x60 -> 28x56, rows 14-41 kept: the bar (rows 27-33 -> 25.2-30.8) across the middle
    bar = imgs[labels == ds.class_names.index("bar")][0]
    assert bar[12:16].min() >= 200 and bar[:8].max() <= 20 and bar[-8:].max() <= 20
    # the same as PIL's own Resize + CenterCrop of the page, inverted
    with Image.open(folder / "sq" / "0.png") as im:
        want = 255 - np.asarray(im.resize((56, 28), Image.Resampling.LANCZOS).crop((14, 0, 42, 28)),
                                dtype=int)
    assert np.abs(sq - want).max() <= 1


def test_polarity_is_decided_for_the_whole_dataset(tmp_path):
    folder = make_folder(tmp_path / "night", {"a": 4, "b": 4}, bg=0, ink=255)
    # one odd page, dark ink on white: it stays as it is, like its folder-mates
    Image.fromarray(draw((28, 28), 255, 0, (10, 4, 14, 24)), "L").save(folder / "a" / "odd.png")
    ds = load_image_folder(folder)
    assert "inverted" not in ds.description
    imgs = torch.cat([ds.train.images, ds.test.images]).numpy()
    corners = imgs[:, 0, 0, 0]
    assert sorted(corners.tolist()).count(255) == 1  # only the odd one has a light border
    assert (corners == 0).sum() == len(imgs) - 1


def test_colour_jpeg_transparent_png_and_16_bit_png(tmp_path):
    folder = tmp_path / "mixed"
    (folder / "c").mkdir(parents=True)
    rgb = np.zeros((40, 40, 3), np.uint8)
    rgb[..., 0] = 200  # a red page with a white bar
    rgb[5:35, 14:26] = 255
    Image.fromarray(rgb, "RGB").save(folder / "c" / "red.jpg", quality=95)
    rgba = np.zeros((40, 40, 4), np.uint8)  # transparent, with an opaque black bar: ink on paper
    rgba[5:35, 14:26, 3] = 255
    Image.fromarray(rgba, "RGBA").save(folder / "c" / "clear.png")
    deep = np.full((40, 40), 65535, np.uint16)  # 16-bit white with a black bar
    deep[5:35, 14:26] = 0
    Image.fromarray(deep).save(folder / "c" / "deep.png")
    with Image.open(folder / "c" / "deep.png") as im:
        assert im.mode.startswith("I")  # really a 16-bit file
    (folder / "d").mkdir()  # a second class (a folder needs 2): the same two light pages
    for name in ("clear.png", "deep.png"):
        (folder / "d" / name).write_bytes((folder / "c" / name).read_bytes())
    ds = load_image_folder(folder, channels=1)  # grey: PIL's "L" of the red page
    assert ds.image_shape == (1, 40, 40)  # all 40x40: kept at their size
    imgs = torch.cat([ds.train.images, ds.test.images]).numpy()[:, 0].astype(int)
    # the light pages (transparent = white paper, 16-bit white) outvote the red one: inverted
    assert "inverted" in ds.description
    assert len(imgs) == 5
    bright_bar = [img for img in imgs if img[14, 14] >= 230]
    assert len(bright_bar) == 4  # transparent and 16-bit: ink bright, background dark
    for img in bright_bar:
        assert img[14, 2] <= 20 and img[2, 2] <= 20
    red = [img for img in imgs if img[14, 14] < 230][0]
    # red (luma 0.299 * 200 = 60) inverted to about 195; its white bar inverted to about 0
    assert 180 <= red[2, 2] <= 210 and red[14, 14] <= 40
    # left as they are, one image in colour makes them all RGB, and colour is never inverted
    rgb = load_image_folder(folder)
    assert rgb.image_shape == (3, 40, 40) and "inverted" not in rgb.description
    imgs = torch.cat([rgb.train.images, rgb.test.images]).numpy().astype(int)
    red = [img for img in imgs if img[1, 2, 2] < 50]
    assert len(red) == 1 and abs(red[0][0, 2, 2] - 200) <= 8 and red[0][:, 14, 14].min() >= 230
    white_paper = [img for img in imgs if img[1, 2, 2] >= 250]
    assert len(white_paper) == 4 and all(img[:, 14, 14].max() <= 5 for img in white_paper)


def test_colour_and_grey_images_keep_their_size_and_pixels(tmp_path):
    """Lossless PNGs of one size come back exactly: RGB as (3, H, W), grey as (1, H, W)."""
    rng = np.random.default_rng(0)
    colour = {c: [rng.integers(0, 256, (16, 24, 3), dtype=np.uint8) for _ in range(3)] for c in "ab"}
    for c, arrays in colour.items():
        (tmp_path / "rgb" / c).mkdir(parents=True)
        for i, a in enumerate(arrays):
            Image.fromarray(a, "RGB").save(tmp_path / "rgb" / c / f"{i}.png")
    ds = load_image_folder(tmp_path / "rgb")
    assert ds.image_shape == (3, 16, 24) and "24x16 RGB" in ds.description
    assert "sizes" not in ds.description and "inverted" not in ds.description
    got = {bytes(img) for img in torch.cat([ds.train.images, ds.test.images]).numpy()}
    assert got == {bytes(a.transpose(2, 0, 1).copy()) for arrays in colour.values() for a in arrays}
    # grey PNGs: one channel; asked for 3, the grey copied into each
    grey = [rng.integers(0, 120, (12, 10), dtype=np.uint8) for _ in range(4)]
    for i, a in enumerate(grey):
        (tmp_path / "grey" / "ab"[i % 2]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(a, "L").save(tmp_path / "grey" / "ab"[i % 2] / f"{i}.png")
    g = load_image_folder(tmp_path / "grey")
    assert g.image_shape == (1, 12, 10) and "10x12 grey" in g.description
    imgs = torch.cat([g.train.images, g.test.images]).numpy()
    assert {bytes(x[0]) for x in imgs} == {bytes(a) for a in grey}
    g3 = load_dataset(data_dir=tmp_path / "grey", channels=3)
    assert g3.image_shape == (3, 12, 10)
    assert torch.equal(g3.train.images[:, 0], g.train.images[:, 0])
    assert torch.equal(g3.train.images[:, 2], g.train.images[:, 0])


def test_mixed_sizes_become_the_most_common_one(tmp_path):
    sizes = {"a": [(30, 20), (30, 20), (50, 50)], "b": [(30, 20), (60, 40), (12, 8)]}
    for c, whs in sizes.items():
        (tmp_path / "m" / c).mkdir(parents=True)
        for i, (w, h) in enumerate(whs):
            a = np.zeros((h, w, 3), np.uint8)
            a[..., 1] = 200  # green pages
            a[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = (250, 0, 0)  # a red middle
            Image.fromarray(a, "RGB").save(tmp_path / "m" / c / f"{i}.png")
    ds = load_dataset(data_dir=tmp_path / "m")
    assert ds.image_shape == (3, 20, 30)
    assert "4 sizes: made the most common, 30x20 (3 of 6)" in ds.description
    imgs = torch.cat([ds.train.images, ds.test.images]).numpy().astype(int)
    for img in imgs:  # every page, resized or cropped, still red in the middle, green outside
        assert img[0, 10, 15] >= 200 and img[1, 10, 15] <= 40
        assert img[1, 0, 0] >= 160 and img[0, 0, 0] <= 40
    # the 50x50 page: resized to 30x30, rows 5-24 kept: green top and bottom rows
    square = load_image_folder(tmp_path / "m", image_size=10)
    assert square.image_shape == (3, 10, 10) and "centre-cropped to 10x10" in square.description
    with pytest.raises(DataError, match="channels must be 1"):
        load_image_folder(tmp_path / "m", channels=2)

# -- bad folders ------------------------------------------------------------------------------
def test_images_without_class_folders(tmp_path):
    folder = tmp_path / "flat"
    folder.mkdir()
    Image.fromarray(draw((28, 28), 0, 255, (1, 1, 5, 5)), "L").save(folder / "one.png")
    with pytest.raises(DataError) as e:
        load_dataset(data_dir=folder)
    assert str(folder) in str(e.value) and "sub-folder per class" in str(e.value)
    assert "one.png" in str(e.value)


def test_empty_folder_names_what_it_expected(tmp_path):
    with pytest.raises(DataError) as e:
        load_dataset(data_dir=tmp_path)
    msg = str(e.value)
    assert str(tmp_path) in msg and "idx" in msg and "PNG/JPEG" in msg


def test_a_class_folder_without_images(tmp_path):
    folder = make_folder(tmp_path / "f", {"a": 3, "b": 3})
    (folder / "empty").mkdir()
    (folder / "empty" / "readme.txt").write_text("nothing here")
    with pytest.raises(DataError) as e:
        load_image_folder(folder)
    assert str(folder / "empty") in str(e.value) and "no PNG or JPEG" in str(e.value)


@pytest.mark.parametrize("content", [b"", b"this is not a PNG at all", "truncated"])
def test_unreadable_image_names_the_file(tmp_path, content):
    folder = make_folder(tmp_path / "f", {"a": 3, "b": 3})
    bad = folder / "b" / "broken.png"
    if content == "truncated":
        good = (folder / "b" / "img000.png").read_bytes()
        content = good[: len(good) // 2]
    bad.write_bytes(content)
    with pytest.raises(DataError) as e:
        load_image_folder(folder)
    assert str(bad) in str(e.value) and "cannot read" in str(e.value)
    assert "\n" not in str(e.value)


def test_a_class_of_one_image_is_too_few(tmp_path):
    folder = make_folder(tmp_path / "f", {"a": 1, "b": 3})
    with pytest.raises(DataError) as e:
        load_image_folder(folder)
    msg = str(e.value)
    assert str(folder / "a") in msg and "at least 2 (one to train on, one to test)" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("counts", [{"only": 8}, {"two": 2}])
def test_one_class_is_refused_whatever_its_size(tmp_path, counts):
    """Issue 21: a folder of one class of two images trained anyway."""
    folder = make_folder(tmp_path / "lonely", counts)
    with pytest.raises(DataError) as e:
        load_dataset(data_dir=folder)
    msg = str(e.value)
    assert str(folder) in msg and "at least 2 classes" in msg and "\n" not in msg


def test_the_cli_refuses_a_one_class_folder_in_one_line(tmp_path, capsys):
    folder = make_folder(tmp_path / "lonely", {"only": 2})
    for argv in (["train", "--model", "ae", "--epochs", "1"],
                 ["sweep", "--model", "vae", "--betas", "0,1", "--epochs", "1", "--no-judge"]):
        rc = run_cli([*argv, "--data-dir", str(folder), "--out", str(tmp_path / "out")])
        err = capsys.readouterr().err.strip()
        assert rc != 0 and len(err.splitlines()) == 1 and "at least 2 classes" in err, err
    assert not (tmp_path / "out").exists()


# -- training on them -------------------------------------------------------------------------
def test_a_cvae_needs_two_classes_at_train_start(tmp_path, small_dataset):
    """The loop's own check, for data that never came through a folder (e.g. built in memory)."""
    from latent_explorer.training.data.datasets import Dataset

    tr, te = small_dataset.train, small_dataset.test
    ones = Dataset("ones", type(tr)(tr.images[:64], tr.labels[:64] * 0),
                   type(te)(te.images[:8], te.labels[:8] * 0), "one class", ("0",))
    assert ones.n_classes == 1
    cfg = TrainConfig(kind="cvae", nz=4, hidden=(16,), epochs=1, batch_size=8, device="cpu",
                      data_dir=str(tmp_path))
    result = Trainer(cfg, ones).run()
    assert result.state == "failed"
    assert str(tmp_path) in result.error and "at least 2 classes" in result.error


def test_models_get_the_folders_number_of_classes(tmp_path, capsys):
    folder = make_folder(tmp_path / "three", {"a": 6, "b": 6, "c": 6}, size=(28, 28))
    out = tmp_path / "c.safetensors"
    rc = run_cli(["train", "--model", "cvae", "--data-dir", str(folder), "--epochs", "1",
                  "--nz", "4", "--hidden", "16", "--batch-size", "8", "--device", "cpu",
                  "--quiet", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    ck = load_checkpoint(out)
    assert ck.model.config.n_classes == 3
    assert ck.model.encoder[0].in_features == 784 + 3
    assert ck.dataset == "three" and ck.train_config.data_dir == str(folder)
    capsys.readouterr()
    assert run_cli(["sample", str(out), "--n", "2", "--label", "2",
                    "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (2, 1, 28, 28)
    capsys.readouterr()
    assert run_cli(["sample", str(out), "--n", "2", "--label", "3",
                    "--out", str(tmp_path / "t.npy")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "between 0 and 2" in err
    assert not (tmp_path / "t.npy").exists()
    # eval finds the folder it was trained on, and refuses data of another class count
    assert run_cli(["eval", str(out), "--device", "cpu"]) == 0
    assert "three" in capsys.readouterr().out
    assert run_cli(["eval", str(out), "--dataset", "mnist-sample"]) == 2
    assert "3 classes" in capsys.readouterr().err


def test_a_trainer_without_a_dataset_builds_for_the_loaded_one(tmp_path):
    folder = make_folder(tmp_path / "two", {"x": 5, "y": 5})
    cfg = TrainConfig(kind="cvae", nz=4, hidden=(16,), epochs=1, batch_size=8, device="cpu",
                      data_dir=str(folder))
    trainer = Trainer(cfg)  # loads the data in run(): the model is rebuilt for 2 classes
    result = trainer.run()
    assert result.state == "finished", result.error
    assert result.model.config.n_classes == 2 and trainer.model is result.model


def test_eval_refuses_when_the_training_folder_is_gone(tmp_path, capsys):
    import shutil

    folder = make_folder(tmp_path / "gone", {"a": 4, "b": 4})
    out = tmp_path / "g.safetensors"
    assert run_cli(["train", "--model", "ae", "--data-dir", str(folder), "--epochs", "1",
                    "--nz", "4", "--hidden", "16", "--device", "cpu", "--quiet",
                    "--out", str(out)]) == 0
    shutil.rmtree(folder)
    capsys.readouterr()
    assert run_cli(["eval", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert str(folder) in err and "no longer exists" in err and "--data-dir" in err
