"""Checkpoints: round trips, and every way a file can be wrong (never executing it)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from helpers import train_config
import latent_explorer.training.record.checkpoint as checkpoint_mod
from latent_explorer.models import ModelConfig, build_model
from latent_explorer.training.record.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from latent_explorer.training.record.history import History
from latent_explorer.training.engine.loop import TrainConfig, train


SAVED = dict(beta=0.01, nz=8, hidden=(256, 64))  # the runs saved here (one epoch each)


@pytest.fixture(scope="module")
def results(small_dataset):
    """A 1-epoch run per kind: real weights, history and metrics."""
    return {kind: train(train_config(SAVED, kind=kind), small_dataset) for kind in ("ae", "vae", "cvae")}


@pytest.fixture
def saved(results, tmp_path):
    """A VAE checkpoint file and its raw header parts, for tampering with."""
    r = results["vae"]
    path = save_checkpoint(tmp_path / "vae.safetensors",
                           Checkpoint(r.model, train_config(SAVED, kind="vae"), r.history, r.metrics, name="vae run",
                                      dataset="mnist-sample"))
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8 : 8 + n])["__metadata__"]
    return path, raw, meta


def _resave(path: Path, raw: bytes, meta: dict, tensors: dict | None = None) -> Path:
    """The same file with other metadata (and optionally other tensors), checksummed anew.

    As a buggy writer would produce: the checksum holds, so the checks behind it must refuse.
    """
    tensors = tensors if tensors is not None else st_load(raw)
    path.write_bytes(checkpoint_mod.checkpoint_bytes(tensors, meta))
    return path


def _message(path) -> str:
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    msg = str(e.value)
    assert str(path) in msg
    assert "\n" not in msg
    return msg


# -- round trips ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_round_trip(results, small_dataset, tmp_path, kind):
    r = results[kind]
    cfg = train_config(SAVED, kind=kind)
    assert r.state == "finished"
    path = save_checkpoint(tmp_path / "sub" / f"{kind}.safetensors",
                           Checkpoint(r.model, cfg, r.history, r.metrics, name=f"my {kind}",
                                      dataset="mnist-sample", state="stopped"))
    assert path.exists()
    ck = load_checkpoint(path)
    # weights
    a, b = r.model.state_dict(), ck.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k].cpu(), b[k]) for k in a)
    # configs and labels
    assert ck.model.config == r.model.config
    assert ck.model.config.kind == kind and ck.model.config.nz == 8
    assert ck.train_config == cfg
    assert ck.name == f"my {kind}" and ck.dataset == "mnist-sample" and ck.state == "stopped"
    # history: step arrays and per-epoch metrics
    assert len(ck.history) == len(r.history) == 10
    np.testing.assert_array_equal(ck.history.recon, r.history.recon)
    np.testing.assert_array_equal(ck.history.kl, r.history.kl)
    np.testing.assert_array_equal(ck.history.total, r.history.total)
    assert [(e.epoch, e.step, e.metrics) for e in ck.history.epochs] == \
        [(e.epoch, e.step, e.metrics) for e in r.history.epochs]
    assert ck.metrics == r.metrics
    # the loaded model is ready to use and reconstructs identically
    assert not ck.model.training
    x = small_dataset.test.float_images(slice(0, 8))
    y = small_dataset.test.labels[:8] if kind == "cvae" else None
    assert torch.equal(ck.model.reconstruct(x, y), r.model.reconstruct(x, y))


def test_round_trip_of_an_untrained_model(tmp_path):
    model = build_model(ModelConfig(kind="cvae", nz=4), torch.Generator().manual_seed(0))
    path = save_checkpoint(tmp_path / "fresh.safetensors",
                           Checkpoint(model, TrainConfig(kind="cvae", nz=4)))
    ck = load_checkpoint(path)
    assert len(ck.history) == 0 and ck.history.epochs == [] and ck.metrics is None
    assert ck.name == "fresh"  # the file name when none was given
    assert all(torch.equal(v, ck.model.state_dict()[k]) for k, v in model.state_dict().items())


def test_saving_twice_overwrites(results, tmp_path):
    p = tmp_path / "x.safetensors"
    save_checkpoint(p, Checkpoint(results["ae"].model, train_config(SAVED, kind="ae"), name="first"))
    save_checkpoint(p, Checkpoint(results["vae"].model, train_config(SAVED, kind="vae"), name="second"))
    ck = load_checkpoint(p)
    assert ck.name == "second" and ck.model.config.kind == "vae"
    assert sorted(os.listdir(tmp_path)) == ["x.safetensors"]


# -- hostile and broken files -----------------------------------------------------------------
class _Payload:
    """Unpickling this creates the file `target`: proof that code ran."""

    def __init__(self, target: Path) -> None:
        self.target = str(target)

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_pickle_payload_is_never_executed(tmp_path, how):
    pwned = tmp_path / "pwned"
    # the payload is live: unpickling it really does create the file
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_Payload(probe)))
    assert probe.exists()

    evil = tmp_path / "evil.safetensors"
    if how == "pickle":
        evil.write_bytes(pickle.dumps({"model": _Payload(pwned)}))
    else:
        torch.save({"model": _Payload(pwned)}, evil)
    msg = _message(evil)
    assert "not a Latent Explorer checkpoint" in msg
    assert not pwned.exists()


def test_truncated_file(saved, tmp_path):
    _, raw, _ = saved
    half = tmp_path / "half.safetensors"
    half.write_bytes(raw[: len(raw) // 2])  # header intact, tensor data cut
    assert "truncated" in _message(half)
    head = tmp_path / "head.safetensors"
    head.write_bytes(raw[:200])  # cut inside the JSON header
    assert "truncated" in _message(head)
    tiny = tmp_path / "tiny.safetensors"
    tiny.write_bytes(raw[:5])
    assert "not a Latent Explorer checkpoint" in _message(tiny)


def test_random_bytes_and_other_files(tmp_path):
    rnd = tmp_path / "random.safetensors"
    rnd.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert "not a Latent Explorer checkpoint" in _message(rnd)
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    assert "not a Latent Explorer checkpoint" in _message(empty)
    # a valid safetensors file, but someone else's
    other = tmp_path / "other.safetensors"
    other.write_bytes(st_save({"w": torch.zeros(3)}, metadata={"format": "pt"}))
    assert "not a Latent Explorer checkpoint" in _message(other)
    bad_json = tmp_path / "badjson.safetensors"
    bad_json.write_bytes((20).to_bytes(8, "little") + b"{not json at all!!!}")
    assert "corrupted" in _message(bad_json)


def test_missing_file_and_folder(tmp_path):
    assert "not found" in _message(tmp_path / "nope.safetensors")
    assert "folder" in _message(tmp_path)


def test_newer_format_version(saved, tmp_path):
    path, raw, meta = saved
    newer = _resave(tmp_path / "newer.safetensors", raw, {**meta, "format_version": "99"})
    msg = _message(newer)
    assert "99" in msg and "newer" in msg
    bad = _resave(tmp_path / "badver.safetensors", raw, {**meta, "format_version": "one"})
    assert "version" in _message(bad)


@pytest.mark.parametrize("change", [{"nz": 16}, {"kind": "ae"}, {"kind": "cvae"},
                                    {"hidden": [128, 64]}])
def test_weights_that_do_not_fit_the_config(saved, tmp_path, change):
    _, raw, meta = saved
    mc = {**json.loads(meta["model_config"]), **change}
    p = _resave(tmp_path / "mismatch.safetensors", raw, {**meta, "model_config": json.dumps(mc)})
    msg = _message(p)
    assert "do not fit the stored config" in msg
    assert f"nz={mc['nz']}" in msg and mc["kind"] in msg


@pytest.mark.parametrize("edit", ["drop", "extra"])
def test_missing_or_extra_weights_are_refused(saved, tmp_path, edit):
    _, raw, meta = saved
    tensors = st_load(raw)
    if edit == "drop":
        del tensors["model.encoder.0.bias"]
    else:
        tensors["model.encoder.9.weight"] = torch.zeros(2, 2)
    p = _resave(tmp_path / f"{edit}.safetensors", raw, meta, tensors)
    msg = _message(p)
    assert "do not fit the stored config" in msg and "encoder" in msg


def test_corrupted_metadata(saved, tmp_path):
    _, raw, meta = saved
    p = _resave(tmp_path / "meta.safetensors", raw, {**meta, "train_config": "{oops"})
    assert "metadata" in _message(p)
    no_cfg = {k: v for k, v in meta.items() if k != "model_config"}
    q = _resave(tmp_path / "nocfg.safetensors", raw, no_cfg)
    assert "metadata" in _message(q)
    bad_cfg = {**meta, "model_config": json.dumps({"kind": "gan", "nz": 8})}
    r = _resave(tmp_path / "gan.safetensors", raw, bad_cfg)
    assert "metadata" in _message(r)


@pytest.mark.parametrize("key, value", [
    ("metrics", "[1]"),
    ("metrics", '{"bce": 0.1, "n": "many"}'),
    ("model_config", "[1]"),
    ("train_config", "[1]"),
    ("epochs", '[{"epoch": 1, "step": 10, "metrics": [1]}]'),
    ("model_config", '{"kind": "vae", "nz": "8"}'),
])
def test_malformed_metadata_values(saved, tmp_path, key, value):
    """Valid JSON of the wrong shape is a corrupted checkpoint, not a crash."""
    _, raw, meta = saved
    p = _resave(tmp_path / "shape.safetensors", raw, {**meta, key: value})
    assert "corrupted" in _message(p)


@pytest.mark.parametrize("version", [None, [1], {"v": 1}, True, 2, "0", "-1", "٢"])
def test_non_string_format_version(tmp_path, version):
    header = json.dumps({"__metadata__": {"format": checkpoint_mod.FORMAT,
                                          "format_version": version}}).encode()
    p = tmp_path / "version.safetensors"
    p.write_bytes(len(header).to_bytes(8, "little") + header)
    assert "version" in _message(p)


def test_history_of_an_unusual_dtype(saved, tmp_path):
    _, raw, meta = saved
    tensors = st_load(raw)
    tensors["history.losses"] = tensors["history.losses"].to(torch.bfloat16)
    p = _resave(tmp_path / "bf16.safetensors", raw, meta, tensors)
    try:
        ck = load_checkpoint(p)
    except CheckpointError as e:  # refusing it is fine; crashing is not
        assert str(p) in str(e)
    else:
        assert len(ck.history) == 10 and np.isfinite(ck.history.total).all()


def test_non_finite_weights_are_refused(saved, tmp_path):
    _, raw, meta = saved
    tensors = st_load(raw)
    key = next(k for k in tensors if k.startswith("model.") and k.endswith("weight"))
    tensors[key] = tensors[key].clone()
    tensors[key][0, 0] = float("nan")
    p = _resave(tmp_path / "nan.safetensors", raw, meta, tensors)
    assert "NaN" in _message(p)


def test_bad_history_shape(saved, tmp_path):
    _, raw, meta = saved
    tensors = st_load(raw)
    tensors["history.losses"] = torch.zeros(2, 5)
    p = _resave(tmp_path / "hist.safetensors", raw, meta, tensors)
    assert "history" in _message(p)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_saved_file_has_ordinary_permissions(results, tmp_path):
    """Like any file the user saves (np.save, the PNG export): the umask decides, not 0600."""
    old = os.umask(0o022)
    try:
        p = save_checkpoint(tmp_path / "perm.safetensors",
                            Checkpoint(results["ae"].model, train_config(SAVED, kind="ae")))
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644


# -- atomic save ------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["replace", "write"])
def test_failed_save_keeps_the_previous_file(results, tmp_path, monkeypatch, where):
    path = tmp_path / "keep.safetensors"
    save_checkpoint(path, Checkpoint(results["ae"].model, train_config(SAVED, kind="ae"), name="old"))
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    if where == "replace":
        monkeypatch.setattr(checkpoint_mod.os, "replace", boom)
    else:
        monkeypatch.setattr(checkpoint_mod.os, "fsync", boom)  # after the bytes were written
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, Checkpoint(results["vae"].model, train_config(SAVED, kind="vae"), name="new"))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.safetensors"]  # no temp file left behind
    assert load_checkpoint(path).name == "old"


def test_history_from_arrays_round_trip(tmp_path, results):
    """A History rebuilt from arrays (as for a loaded run) saves and loads again."""
    r = results["vae"]
    h = History.from_arrays(r.history.recon, r.history.kl, r.history.total, r.history.epochs)
    p = save_checkpoint(tmp_path / "h.safetensors", Checkpoint(r.model, train_config(SAVED, kind="vae"), h))
    ck = load_checkpoint(p)
    np.testing.assert_array_equal(ck.history.total, r.history.total)
    assert len(ck.history.epochs) == 1


# -- checksums --------------------------------------------------------------------------------
def _flip(raw: bytes, pos: int) -> bytes:
    return raw[:pos] + bytes([raw[pos] ^ 0x01]) + raw[pos + 1 :]


def _data_start(raw: bytes) -> int:
    return 8 + int.from_bytes(raw[:8], "little")


def test_saved_file_carries_a_checksum_and_loads_verified(saved):
    path, _, meta = saved
    assert meta["format_version"] == "2"
    assert meta["checksum"].startswith("sha256:") and len(meta["checksum"]) == 7 + 64
    assert load_checkpoint(path).notices == []


@pytest.mark.parametrize("where", ["first weight byte", "last byte", "middle"])
def test_one_flipped_bit_in_the_data_is_refused(saved, tmp_path, where):
    _, raw, _ = saved
    pos = {"first weight byte": _data_start(raw), "last byte": len(raw) - 1,
           "middle": (_data_start(raw) + len(raw)) // 2}[where]
    p = tmp_path / "flip.safetensors"
    p.write_bytes(_flip(raw, pos))
    assert "checksum mismatch" in _message(p)


def test_changed_metadata_without_a_new_checksum_is_refused(saved, tmp_path):
    _, raw, meta = saved
    p = tmp_path / "renamed.safetensors"
    p.write_bytes(st_save(st_load(raw), metadata={**meta, "name": "someone else's run"}))
    msg = _message(p)
    assert "corrupted" in msg and "checksum mismatch" in msg


@pytest.mark.parametrize("checksum", [None, "", "sha256:" + "0" * 64, "md5:abc"])
def test_a_missing_or_wrong_checksum_is_refused(saved, tmp_path, checksum):
    _, raw, meta = saved
    meta = {k: v for k, v in meta.items() if k != "checksum"}
    if checksum is not None:
        meta["checksum"] = checksum
    p = tmp_path / "nosum.safetensors"
    p.write_bytes(st_save(st_load(raw), metadata=meta))
    assert "checksum mismatch" in _message(p)


def test_a_checksum_is_checked_even_when_the_version_says_1(saved, tmp_path):
    """A changed version byte must not turn verification off."""
    _, raw, meta = saved
    tensors = st_load(raw)
    key = next(k for k in tensors if k.startswith("model."))
    tensors[key] = tensors[key].clone()
    tensors[key].view(-1)[0] += 1.0
    p = tmp_path / "v1sum.safetensors"
    p.write_bytes(st_save(tensors, metadata={**meta, "format_version": "1"}))
    assert "checksum mismatch" in _message(p)


def test_checksum_covers_any_tensor_or_field_a_writer_adds(results, tmp_path):
    """New content (optimizer state, a timeline) is covered without touching the checksum code."""
    t = {"model.w": torch.arange(6, dtype=torch.float32).reshape(2, 3),
         "optimizer.exp_avg": torch.ones(4, dtype=torch.bfloat16)}
    m = {"format": checkpoint_mod.FORMAT, "timeline": "[1, 2]"}
    base = checkpoint_mod.content_checksum(t, m)
    assert checkpoint_mod.content_checksum(t, {**m, "checksum": "ignored"}) == base
    changed = [
        {**t, "optimizer.exp_avg": torch.tensor([1, 1, 1, 1.0078125], dtype=torch.bfloat16)},
        {**t, "optimizer.exp_avg": torch.ones(4, dtype=torch.float16)},  # same bytes? no: dtype
        {**t, "model.w": t["model.w"].reshape(3, 2)},  # same bytes, other shape
        {"model.w": t["model.w"], "optimizer.exp_avG": t["optimizer.exp_avg"]},
        {**t, "extra": torch.zeros(0)},
    ]
    assert all(checkpoint_mod.content_checksum(c, m) != base for c in changed)
    assert checkpoint_mod.content_checksum(t, {**m, "timeline": "[1, 3]"}) != base
    assert checkpoint_mod.content_checksum(t, {**m, "new_field": ""}) != base

    # and end to end: an extra tensor in a real file is verified like the weights
    r = results["ae"]
    path = save_checkpoint(tmp_path / "ae.safetensors", Checkpoint(r.model, train_config(SAVED, kind="ae")))
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8 : 8 + n])["__metadata__"]
    extra = _resave(tmp_path / "extra.safetensors", raw, {**meta, "annotations": "[]"},
                    {**st_load(raw), "optimizer.step": torch.tensor([7.0])})
    assert load_checkpoint(extra).notices == []
    raw2 = extra.read_bytes()
    header = json.loads(raw2[8 : 8 + int.from_bytes(raw2[:8], "little")])
    start = _data_start(raw2) + header["optimizer.step"]["data_offsets"][0]
    bad = tmp_path / "extra-flipped.safetensors"
    bad.write_bytes(_flip(raw2, start))
    assert "checksum mismatch" in _message(bad)


def _v1_file(path: Path, ck: Checkpoint) -> Path:
    """A checkpoint exactly as format version 1 wrote it: the same fields, no checksum."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous()
               for k, v in ck.model.state_dict().items()}
    h = ck.history
    tensors["history.losses"] = torch.from_numpy(
        np.stack([h.recon, h.kl, h.total]).astype(np.float32).copy())
    meta = {
        "format": "latent-explorer-checkpoint",
        "format_version": "1",
        "model_config": json.dumps(ck.model.config.to_dict()),
        "train_config": json.dumps(ck.train_config.to_dict()),
        "metrics": json.dumps(ck.metrics.to_dict() if ck.metrics else None),
        "epochs": json.dumps([e.to_dict() for e in h.epochs]),
        "name": ck.name,
        "dataset": ck.dataset,
        "state": ck.state,
    }
    path.write_bytes(st_save(tensors, metadata=meta))
    return path


def test_version_1_file_opens_with_a_notice(results, tmp_path):
    r = results["cvae"]
    p = _v1_file(tmp_path / "old.safetensors",
                 Checkpoint(r.model, train_config(SAVED, kind="cvae"), r.history, r.metrics, name="old run",
                            dataset="mnist-sample"))
    ck = load_checkpoint(p)
    a, b = r.model.state_dict(), ck.model.state_dict()
    assert all(torch.equal(a[k].cpu(), b[k]) for k in a)
    np.testing.assert_array_equal(ck.history.total, r.history.total)
    assert ck.name == "old run" and ck.metrics == r.metrics
    assert len(ck.notices) == 1
    notice = ck.notices[0]
    assert str(p) in notice and "cannot be verified" in notice and "\n" not in notice
    # saving it again upgrades it: verified from then on
    again = load_checkpoint(save_checkpoint(tmp_path / "new.safetensors", ck))
    assert again.notices == []


# -- the mutation campaign --------------------------------------------------------------------
def _fingerprint(ck: Checkpoint) -> tuple:
    """Everything a load returns, as bytes and plain values, for an exact comparison."""
    h = ck.history
    return (
        tuple((k, v.dtype, tuple(v.shape), v.contiguous().view(-1).view(torch.uint8).numpy()
               .tobytes()) for k, v in sorted(ck.model.state_dict().items())),
        ck.model.config, ck.train_config, ck.metrics, ck.name, ck.dataset, ck.state,
        h.recon.tobytes(), h.kl.tobytes(), h.total.tobytes(),
        tuple((e.epoch, e.step, e.metrics) for e in h.epochs),
    )


def test_mutation_campaign_never_accepts_a_changed_model(small_dataset, tmp_path):
    """Random bytes changed anywhere, or the file cut anywhere: refused, or loads identical."""
    cfg = TrainConfig(kind="vae", epochs=1, batch_size=64, device="cpu", seed=0, nz=4,
                      hidden=(16,), dataset="mnist-sample")  # a small file: many cases per second
    r = train(cfg, small_dataset)
    src = save_checkpoint(tmp_path / "ref.safetensors",
                          Checkpoint(r.model, cfg, r.history, r.metrics, name="ref"))
    raw = src.read_bytes()
    reference = _fingerprint(load_checkpoint(src))
    rng = np.random.default_rng(20240610)
    header_end = _data_start(raw)
    target = tmp_path / "mutated.safetensors"
    outcomes: dict[str, int] = {"refused": 0, "identical": 0}
    different = []
    for i in range(600):
        if i % 5 == 4:
            data = raw[: int(rng.integers(0, len(raw)))]
        else:
            k = (1, 4, 32)[i % 3]
            # half the cases in the header, where the parsing paths are: it is 2 % of the file
            hi = header_end if i % 2 else len(raw)
            buf = bytearray(raw)
            for pos in rng.choice(hi, size=k, replace=False):
                buf[pos] ^= int(rng.integers(1, 256))
            data = bytes(buf)
        target.write_bytes(data)
        try:
            ck = load_checkpoint(target)  # any exception but CheckpointError fails the test
        except CheckpointError as e:
            assert str(target) in str(e) and "\n" not in str(e)
            outcomes["refused"] += 1
            continue
        if _fingerprint(ck) == reference:
            outcomes["identical"] += 1
        else:
            different.append(i)
    assert different == []
    assert outcomes["refused"] > 400  # the campaign really changed the files


# -- durable save -----------------------------------------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="folders are fsynced on POSIX only")
def test_the_folder_is_fsynced_after_the_rename(results, tmp_path, monkeypatch):
    import stat

    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(a, b):
        calls.append("replace")
        real_replace(a, b)

    monkeypatch.setattr(checkpoint_mod.os, "fsync", fsync)
    monkeypatch.setattr(checkpoint_mod.os, "replace", replace)
    save_checkpoint(tmp_path / "d.safetensors", Checkpoint(results["ae"].model, train_config(SAVED, kind="ae")))
    assert calls == ["fsync file", "replace", "fsync folder"]


@pytest.mark.skipif(os.name != "posix", reason="folders are fsynced on POSIX only")
def test_a_folder_that_cannot_be_fsynced_still_saves(results, tmp_path, monkeypatch):
    import errno
    import stat

    real_fsync = os.fsync

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")  # as some network file systems do
        real_fsync(fd)

    monkeypatch.setattr(checkpoint_mod.os, "fsync", fsync)
    p = save_checkpoint(tmp_path / "nfs.safetensors", Checkpoint(results["ae"].model, train_config(SAVED, kind="ae")))
    monkeypatch.undo()
    assert load_checkpoint(p).notices == []
