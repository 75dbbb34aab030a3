"""Saved attribute vectors (training/record/vectors.py): where they live, round trip, atomic
replace, and unreadable files reading as none."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from latent_explorer.training.explore.directions import AttributeVector
from latent_explorer.training.record import vectors as V


def _vec(name: str, values, n_a: int = 3, n_b: int = 4, source: str = "label 1 vs rest"):
    return AttributeVector(name, np.asarray(values, dtype=np.float64), n_a, n_b, source)


def test_paths_for_folder_and_checkpoint(tmp_path):
    run = tmp_path / "run1"
    run.mkdir()
    assert V.vectors_path(run) == run / "vectors.json"
    ckpt = tmp_path / "model.safetensors"
    assert V.vectors_path(ckpt) == tmp_path / "model.vectors.json"
    assert V.vectors_path(str(ckpt)).name.endswith(V.VECTORS_SUFFIX)


def test_round_trip_keeps_values_and_order(tmp_path):
    ckpt = tmp_path / "m.safetensors"
    a = _vec("smile", [0.5, -1.25, 1e-9, 3.0])
    b = _vec("glasses", [1.0, 2.0, 3.0, 4.0], 10, 10, "")
    assert V.load_vectors(ckpt) == {}  # missing -> {}
    path = V.save_vector(ckpt, a)
    V.save_vector(ckpt, b)
    assert path == tmp_path / "m.vectors.json"
    got = V.load_vectors(ckpt)
    assert list(got) == ["smile", "glasses"]
    np.testing.assert_array_equal(got["smile"].vector, a.vector)  # exact: JSON floats round trip
    assert (got["smile"].n_a, got["smile"].n_b, got["smile"].source) == (3, 4, "label 1 vs rest")
    assert (got["glasses"].n_a, got["glasses"].source) == (10, "")


def test_same_name_replaces_and_delete(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    V.save_vector(run, _vec("x", [1.0, 2.0]))
    V.save_vector(run, _vec("y", [0.0, 1.0]))
    V.save_vector(run, _vec("x", [7.0, 8.0], 5, 6))
    got = V.load_vectors(run)
    assert sorted(got) == ["x", "y"]
    np.testing.assert_array_equal(got["x"].vector, [7.0, 8.0])
    assert got["x"].n_a == 5
    V.delete_vector(run, "x")
    V.delete_vector(run, "not there")
    assert list(V.load_vectors(run)) == ["y"]


def test_replace_is_atomic_and_leaves_no_temp(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    V.save_vector(run, _vec("x", [1.0, 2.0]))
    before = (run / "vectors.json").read_bytes()

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(V.os, "replace", fail)
    with pytest.raises(OSError):
        V.save_vector(run, _vec("y", [3.0, 4.0]))
    monkeypatch.undo()
    # the old file is untouched and no temporary file is left behind
    assert (run / "vectors.json").read_bytes() == before
    assert os.listdir(run) == ["vectors.json"]
    assert list(V.load_vectors(run)) == ["x"]


@pytest.mark.parametrize("content", [b"", b"{not json", b"[1, 2]", b'{"vectors": 3}',
                                     b"\xff\xfe\x00garbage"])
def test_corrupt_file_reads_as_empty(tmp_path, content):
    ckpt = tmp_path / "m.safetensors"
    (tmp_path / "m.vectors.json").write_bytes(content)
    assert V.load_vectors(ckpt) == {}
    # and saving over it works
    V.save_vector(ckpt, _vec("z", [1.0]))
    assert list(V.load_vectors(ckpt)) == ["z"]


def test_bad_entries_skipped_and_bad_vectors_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "vectors.json").write_text(json.dumps({"format": 1, "vectors": {
        "good": {"name": "good", "vector": [1.0, 2.0], "n_a": 1, "n_b": 1},
        "no_vector": {"name": "no_vector", "n_a": 1, "n_b": 1},
        "text": {"name": "text", "vector": ["a"], "n_a": 1, "n_b": 1},
    }}))
    assert list(V.load_vectors(run)) == ["good"]
    with pytest.raises(ValueError):
        V.save_vector(run, _vec(" ", [1.0]))
    with pytest.raises(ValueError):
        V.save_vector(run, _vec("nan", [1.0, float("nan")]))
    assert list(V.load_vectors(run)) == ["good"]
