"""The latent map methods (Qt-free), their cache beside a checkpoint, and `main.py map`."""

from __future__ import annotations

import numpy as np
import pytest

from latent_explorer.training.cli.main import run_cli
from latent_explorer.training.explore import latent_methods as lm
from latent_explorer.training.metrics.sweep_report import GOOD_QUALITY, SummaryRow, best_members, no_good_quality
from latent_explorer.training.record.checkpoint import Checkpoint, save_checkpoint

N = 300


@pytest.fixture(scope="module")
def clustered() -> np.ndarray:
    """300 codes in 8-D: three tight clusters, each a curved 1-D thread (PCA flattens them)."""
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 3 * np.pi, N)
    c = rng.integers(0, 3, N)
    centers = rng.normal(scale=6, size=(3, 8))
    codes = centers[c] + 0.2 * rng.normal(size=(N, 8))
    codes[:, 2] += np.sin(t) * 3
    codes[:, 3] += np.cos(t) * 3
    codes[:, 4] += t
    return codes.astype(np.float32)


def test_every_method_is_registered_with_what_it_keeps():
    assert lm.map_method_names()[0] == "pca"  # the default, and the picker's first entry
    assert {"pca", "umap", "tsne"} <= set(lm.map_method_names())
    for name in lm.map_method_names():
        m = lm.get_map_method(name)
        assert m.label and m.keeps and m.background == (name != "pca")


def test_each_method_carries_its_parameters_and_what_the_window_needs_to_know():
    for name in lm.map_method_names():
        m = lm.get_map_method(name)
        assert m.deterministic == (name == "pca")  # the seed is greyed out for PCA only
        assert m.warm is not None and m.caption_how()  # a cached map's transform comes back
        for spec in m.params:
            assert spec.kind in (int, float) and spec.label and spec.tooltip
            assert spec.low <= spec.default <= spec.high
    assert lm.get_map_method("umap").param_names == ("n_neighbors", "min_dist")
    assert lm.get_map_method("tsne").param_names == ("perplexity",)
    assert lm.default_method() == "pca" and not lm.get_map_method("pca").background


def test_map_params_default_compare_and_key_as_before():
    p = lm.MapParams()
    assert (p.n_neighbors, p.min_dist, p.perplexity, p.seed) == (15, 0.1, 30.0, 0)
    same = lm.MapParams(seed=0, perplexity=30.0, min_dist=0.1, n_neighbors=15)
    assert p.values == {} and same.values == {"min_dist": 0.1, "n_neighbors": 15, "perplexity": 30.0}
    assert lm.MapParams(n_neighbors=15, seed=3) == lm.MapParams(seed=3, n_neighbors=15)
    assert hash(lm.MapParams(n_neighbors=15, seed=3)) == hash(lm.MapParams(seed=3, n_neighbors=15))
    assert lm.MapParams(seed=1) != lm.MapParams(seed=2)
    with pytest.raises(AttributeError):
        p.seed = 4
    with pytest.raises(AttributeError):
        _ = p.no_such_parameter
    # The keys of cache files written before the parameters moved into the registry.
    assert lm.map_key("umap", p, "k") == "umap_min_dist0p1-n_neighbors15-seed0_k"
    assert lm.map_key("umap", same, "k") == lm.map_key("umap", p, "k")
    assert lm.map_key("tsne", lm.MapParams(perplexity=20, seed=1), "k") == "tsne_perplexity20-seed1_k"
    assert lm.map_key("pca", lm.MapParams(seed=9), "k") == "pca__k"  # deterministic: no seed


def test_pca_inverts_exactly_and_a_cached_map_gets_its_transform_back(clustered, tmp_path):
    pca = lm.fit_map(clustered, "pca")
    xy = np.array([[0.5, -1.0], [3.0, 2.0]], np.float32)
    z = pca.to_latent(xy, clustered)
    np.testing.assert_allclose(pca.place(z), xy, atol=1e-4)  # back onto the same map points
    # Without an inverse: the distance-weighted mean code of the nearest map points.
    plain = lm.FittedMap("pca", pca.params, pca.coords, pca.codes_key)
    np.testing.assert_allclose(plain.to_latent(pca.coords[:1], clustered),
                               lm.neighbour_place(pca.coords, clustered, pca.coords[:1]))
    lm.write_cached_map(tmp_path / "r.safetensors", pca)
    cached = lm.read_cached_map(tmp_path / "r.safetensors", "pca", lm.MapParams(), clustered)
    assert cached.placer is None
    warmed = lm.warm_placer(clustered, cached)
    np.testing.assert_allclose(warmed.place(clustered[:4]), pca.coords[:4], atol=1e-4)


def test_a_fit_sees_its_own_parameters_with_their_defaults(clustered, monkeypatch):
    seen = []

    def fit(codes, params, progress, should_stop):
        seen.append(params)
        return lm.FittedMap("t", params, codes[:, :2].copy(), "")

    spec = lm.ParamSpec("steps", "steps", int, 7, 1, 50, "how many")
    monkeypatch.setitem(lm.MAP_METHODS, "t", lm.MapMethod("t", "T", "a test's", (spec,), fit, True))
    lm.fit_map(clustered, "t", lm.MapParams(seed=2, perplexity=5))
    assert seen[-1].values == {"steps": 7} and seen[-1].seed == 2
    lm.fit_map(clustered, "t", lm.MapParams(steps=12.0))
    assert seen[-1].get("steps") == 12 and isinstance(seen[-1].steps, int)


def test_trustworthiness_is_one_for_the_codes_themselves_and_lower_for_noise(clustered):
    two_d = clustered[:, :2]
    assert lm.trustworthiness(two_d, two_d) == pytest.approx(1.0)
    noise = np.random.default_rng(1).normal(size=(N, 2))
    assert lm.trustworthiness(clustered, noise) < 0.6 < lm.trustworthiness(
        clustered, lm.fit_map(clustered, "pca").coords)


def test_tsne_keeps_neighbourhoods_better_than_pca_and_places_new_codes(clustered):
    pca = lm.fit_map(clustered, "pca")
    tsne = lm.fit_map(clustered, "tsne", lm.MapParams(perplexity=20, seed=1))
    assert tsne.coords.shape == (N, 2) and tsne.coords.dtype == np.float32
    assert lm.trustworthiness(clustered, tsne.coords) > lm.trustworthiness(clustered, pca.coords)
    np.testing.assert_allclose(pca.place(clustered[:3]), pca.coords[:3], atol=1e-4)
    # A code already on the map lands among its own neighbours.
    xy = tsne.place(clustered[5:6])
    d = np.linalg.norm(tsne.coords - xy, axis=1)
    assert np.argsort(d)[:10].tolist().count(5) == 1


def test_a_fit_stops_when_asked_and_reports_progress(clustered):
    seen = []
    with pytest.raises(lm.MapCancelled):
        lm.fit_map(clustered, "tsne", progress=lambda f, s: seen.append(f),
                   should_stop=lambda: len(seen) > 3)
    assert seen == sorted(seen) and 0 <= seen[0] < seen[-1] < 1


def test_the_cache_beside_a_checkpoint_round_trips_and_ignores_stale_or_corrupt_files(
        clustered, tmp_path):
    ckpt = tmp_path / "run.safetensors"
    fitted = lm.fit_map(clustered, "pca")
    assert lm.write_cached_map(ckpt, fitted) == tmp_path / "run.maps.npz"
    back = lm.read_cached_map(ckpt, "pca", lm.MapParams(), clustered)
    assert back is not None and back.from_cache
    np.testing.assert_array_equal(back.coords, fitted.coords)
    assert back.axis_labels == fitted.axis_labels
    # Other codes (the weights moved on) or other parameters: not this map.
    assert lm.read_cached_map(ckpt, "pca", lm.MapParams(), clustered + 1) is None
    assert lm.read_cached_map(ckpt, "umap", lm.MapParams(), clustered) is None
    for junk in (b"", b"not a zip", b"PK\x03\x04broken"):
        lm.cache_path(ckpt).write_bytes(junk)
        assert lm.read_cached_map(ckpt, "pca", lm.MapParams(), clustered) is None
    assert lm.write_cached_map(ckpt, fitted) is not None  # a corrupt file is replaced


def test_points_in_polygon_and_class_counts():
    pts = np.array([[0.5, 0.5], [2, 2], [0.1, 0.9], [-1, 0]])
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]])
    assert lm.points_in_polygon(pts, square).tolist() == [True, False, True, False]
    assert not lm.points_in_polygon(pts, square[:2]).any()
    assert lm.class_counts(np.array([1, 1, 3]), 5).tolist() == [0, 2, 0, 1, 0]


def _row(quality):
    return SummaryRow(0.1, 0, "finished", 0.2, 1, 2, 3, 4.0, 50, 4, quality, 1, None)


def test_no_member_is_crowned_best_quality_when_none_is_good():
    poor = [_row(0.02), _row(0.01)]
    assert best_members(poor)["quality"] is None and best_members(poor)["bound"] == 0
    assert no_good_quality(poor) == pytest.approx(0.02)
    good = [_row(0.02), _row(GOOD_QUALITY + 0.1)]
    assert best_members(good)["quality"] == 1 and no_good_quality(good) is None


# -- main.py map -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vae_file(tmp_path_factory, small_dataset):
    from latent_explorer.training.engine.loop import TrainConfig, train

    cfg = TrainConfig(kind="vae", epochs=1, batch_size=64, device="cpu", nz=8, dataset="mnist-sample")
    r = train(cfg, small_dataset)
    return save_checkpoint(tmp_path_factory.mktemp("map") / "vae.safetensors",
                           Checkpoint(r.model, cfg, r.history, r.metrics, name="tiny",
                                      dataset="mnist-sample"))


def test_map_writes_npz_with_codes_coords_and_labels(vae_file, tmp_path, capsys):
    out = tmp_path / "map.npz"
    assert run_cli(["map", str(vae_file), "--method", "tsne", "--n", "120", "--out", str(out),
                    "--trustworthiness"]) == 0
    assert "trustworthiness" in capsys.readouterr().out
    with np.load(out) as f:
        assert set(f.files) == {"codes", "coords", "labels"}
        assert f["codes"].shape == (120, 8) and f["coords"].shape == (120, 2)
        assert f["labels"].shape == (120,) and f["labels"].dtype == np.int64


def test_map_writes_a_png(vae_file, tmp_path):
    out = tmp_path / "map.png"
    assert run_cli(["map", str(vae_file), "--n", "100", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("case", ["missing", "corrupt", "suffix", "method"])
def test_map_fails_cleanly_on_bad_input(vae_file, tmp_path, capsys, case):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(vae_file.read_bytes()[:100])
    argv = {"missing": [str(tmp_path / "nope.safetensors"), "--out", str(tmp_path / "m.npz")],
            "corrupt": [str(bad), "--out", str(tmp_path / "m.npz")],
            "suffix": [str(vae_file), "--out", str(tmp_path / "m.txt")],
            "method": [str(vae_file), "--method", "isomap", "--out", str(tmp_path / "m.npz")]}[case]
    rc = run_cli(["map", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and err[0].startswith("error: ")
    assert not (tmp_path / "m.npz").exists()
