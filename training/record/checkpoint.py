"""Checkpoints: one safetensors file with weights, config, metrics and loss history.

safetensors stores raw tensors and a JSON header only, so loading a file can never run code
from it (unlike pickle, which `torch.load` without weights_only would execute). It checks the
file's structure, not its content: a flipped bit in a weight still parses. So from format
version 2 the header also holds a SHA-256 over every tensor and every metadata field
(`checkpoint_bytes`), and a load that does not reproduce it refuses the file.

Optional parts, each absent from older files (which still load, with None):
  - the resume state (training/engine/resume.py): tensors 'resume.generator', 'resume.epoch_generator',
    'resume.adam.exp_avg', 'resume.adam.exp_avg_sq', 'resume.adam.step', metadata 'resume';
  - the timeline (training/record/timeline.py): tensors 'timeline.*', metadata 'timeline'.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from latent_explorer.models import ModelConfig, build_model
from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.training.config import TrainConfig
from latent_explorer.training.metrics.evaluate import EvalMetrics
from latent_explorer.training.record.history import EpochRecord, History
from latent_explorer.training.engine.resume import ResumeState, resume_from_tensors, resume_to_tensors
from latent_explorer.training.record.timeline import Timeline, timeline_from_tensors, timeline_to_tensors

if TYPE_CHECKING:
    from latent_explorer.training.record.run import Run

FORMAT = "latent-explorer-checkpoint"
FORMAT_VERSION = 2  # 2: a checksum in the header (1 had none and still opens, unverified)
SUFFIX = ".safetensors"
CHECKSUM_KEY = "checksum"
_CHECKSUM_ALGO = "sha256"


class CheckpointError(Exception):
    """A file could not be loaded as a checkpoint; the message says why."""


@dataclass
class Checkpoint:
    """What a checkpoint file holds."""

    model: LatentModel
    train_config: TrainConfig
    history: History = field(default_factory=History)
    metrics: EvalMetrics | None = None
    name: str = ""
    dataset: str = ""
    state: str = "finished"
    group: str = ""  # the sweep this run is a member of ("" for a single run)
    # One-line messages about the file for the CLI and GUI to show (e.g. that it is unverified).
    notices: list[str] = field(default_factory=list)
    resume: ResumeState | None = None  # what continuing exactly needs; None in older files
    timeline: Timeline | None = None  # snapshots over training; None in older files


def content_checksum(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> str:
    """'sha256:<hex>' over every tensor's name, dtype, shape and bytes and every metadata field.

    Tensors go in sorted by name, each framed by lengths so no two different contents can
    produce the same byte stream; the metadata goes in as canonical JSON (sorted keys), less
    the checksum field itself.
    """
    h = hashlib.sha256()

    def frame(b: bytes) -> None:
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)

    names = sorted(tensors)
    h.update(len(names).to_bytes(8, "little"))
    for name in names:
        t = tensors[name].detach().to("cpu").contiguous()
        frame(name.encode("utf-8"))
        frame(str(t.dtype).encode())
        frame(json.dumps(list(t.shape)).encode())
        # The raw bytes as stored: a uint8 view works for every dtype (bfloat16 has no numpy).
        frame(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    fields = {k: v for k, v in metadata.items() if k != CHECKSUM_KEY}
    frame(json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
          .encode("utf-8"))
    return f"{_CHECKSUM_ALGO}:{h.hexdigest()}"


def checkpoint_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """The safetensors file of these tensors and metadata, with their checksum added."""
    meta = {**metadata, CHECKSUM_KEY: content_checksum(tensors, metadata)}
    return st_save(tensors, metadata=meta)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX): without it a power loss can undo the rename."""
    if os.name != "posix":
        return  # Windows has no directory handles to fsync; NTFS journals the rename itself
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as e:
        # Some file systems (certain network and FUSE mounts) cannot fsync a folder at all.
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)



def checkpoint_of(trainer, result, name: str = "") -> Checkpoint:
    """The Checkpoint of a Trainer's ended run, with its resume state and timeline."""
    rec = trainer.timeline_recorder
    return Checkpoint(result.model, trainer.config, result.history, result.metrics, name=name,
                      dataset=trainer.dataset.name if trainer.dataset is not None else "",
                      state=result.state, resume=trainer.resume_state(),
                      timeline=rec.timeline if rec is not None else None)


def save_checkpoint(path: str | os.PathLike, ckpt: Checkpoint) -> Path:
    """Write `ckpt` atomically and checksummed: a temporary file, os.replace, fsync the folder.

    Every tensor and metadata field put in the file here is covered by the checksum.
    """
    path = Path(path)
    model = ckpt.model
    tensors = {f"model.{k}": v.detach().to("cpu").contiguous()
               for k, v in model.state_dict().items()}
    h = ckpt.history
    tensors["history.losses"] = torch.from_numpy(
        np.stack([h.recon, h.kl, h.total]).astype(np.float32).copy())
    if h.has_beta:  # a run trained to a target rate: the β of each step
        tensors["history.beta"] = torch.from_numpy(h.beta.astype(np.float32).copy())
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "model_config": json.dumps(model.config.to_dict()),
        "train_config": json.dumps(ckpt.train_config.to_dict()),
        "metrics": json.dumps(ckpt.metrics.to_dict() if ckpt.metrics else None),
        "epochs": json.dumps([e.to_dict() for e in h.epochs]),
        "name": ckpt.name,
        "dataset": ckpt.dataset,
        "state": ckpt.state,
        "group": ckpt.group,
    }
    parts = []
    if ckpt.resume is not None:
        parts.append(resume_to_tensors(ckpt.resume))
    if ckpt.timeline is not None:
        parts.append(timeline_to_tensors(ckpt.timeline))
    for extra, extra_meta in parts:
        tensors.update(extra)
        meta.update(extra_meta)
    blob = checkpoint_bytes(tensors, meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL with a random name, like mkstemp, but mode 0666 so the umask applies as for any file.
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def _read_header(raw: bytes, path: Path) -> dict:
    if len(raw) < 8:
        raise CheckpointError(f"{path}: not a Latent Explorer checkpoint (file too short)")
    n = int.from_bytes(raw[:8], "little")
    if n <= 0 or n > 100_000_000 or raw[8:9] != b"{":
        raise CheckpointError(f"{path}: not a Latent Explorer checkpoint")
    if 8 + n > len(raw):
        raise CheckpointError(f"{path}: truncated checkpoint ({len(raw)} bytes)")
    try:
        header = json.loads(raw[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{path}: corrupted checkpoint header") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a Latent Explorer checkpoint")
    return meta


def load_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu") -> Checkpoint:
    """Read a checkpoint; CheckpointError with a clear message for anything wrong with it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror or e})") from None
    meta = _read_header(raw, path)
    v = meta.get("format_version")
    version = int(v) if isinstance(v, str) and v.isascii() and v.isdigit() else 0
    if version < 1:  # every version ever written says which it is, from 1 up
        raise CheckpointError(f"{path}: corrupted checkpoint (bad format version)")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} is newer than this Latent Explorer "
            f"understands ({FORMAT_VERSION}); update Latent Explorer to open it")
    try:
        tensors = st_load(raw)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}: truncated or corrupted checkpoint ({e})") from None
    notices = _verify(tensors, meta, version, path)
    try:
        model_config = ModelConfig.from_dict(json.loads(meta["model_config"]))
        train_config = TrainConfig.from_dict(json.loads(meta["train_config"]))
        metrics_d = json.loads(meta.get("metrics", "null"))
        metrics = EvalMetrics.from_dict(metrics_d) if metrics_d else None
        epochs = [EpochRecord.from_dict(d) for d in json.loads(meta.get("epochs", "[]"))]
    except (KeyError, TypeError, ValueError, AttributeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: corrupted checkpoint metadata ({e})") from None
    resume = _read_part(path, "resume state", lambda: resume_from_tensors(tensors, meta))
    timeline = _read_part(path, "timeline", lambda: timeline_from_tensors(tensors, meta))
    model = build_model(model_config)
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise CheckpointError(
            f"{path}: the weights do not fit the stored config ({model_config.kind}, "
            f"nz={model_config.nz}): {first}") from None
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        raise CheckpointError(f"{path}: corrupted checkpoint (weights contain NaN or Inf)")
    losses = tensors.get("history.losses")
    if losses is not None and (losses.dim() != 2 or losses.shape[0] != 3):
        raise CheckpointError(f"{path}: corrupted checkpoint (bad loss history shape)")
    betas = tensors.get("history.beta")
    if betas is not None and (losses is None or betas.dim() != 1
                              or betas.shape[0] != losses.shape[1]):
        raise CheckpointError(f"{path}: corrupted checkpoint (bad β history shape)")
    if losses is not None:
        recon, kl, total = losses.to(torch.float32).numpy()
        history = History.from_arrays(recon, kl, total, epochs=epochs,
                                      beta=betas.to(torch.float32).numpy() if betas is not None
                                      else None)
    else:
        history = History()
    history.epochs = epochs
    model.to(device).eval()
    return Checkpoint(
        model=model,
        train_config=train_config,
        history=history,
        metrics=metrics,
        name=meta.get("name", "") or path.stem,
        dataset=meta.get("dataset", ""),
        state=meta.get("state", "finished"),
        group=meta.get("group", ""),
        notices=notices,
        resume=resume,
        timeline=timeline,
    )


_Part = TypeVar("_Part")


def _read_part(path: Path, what: str, read: Callable[[], _Part]) -> _Part:
    """`read()`: a stored part of the file (resume state, timeline); CheckpointError if bad."""
    try:
        return read()
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as e:
        raise CheckpointError(f"{path}: corrupted checkpoint ({what}: {e})") from None


def _verify(tensors: dict[str, torch.Tensor], meta: dict, version: int, path: Path) -> list[str]:
    """Check the stored checksum; the notices to show for a file that cannot be checked."""
    stored = meta.get(CHECKSUM_KEY)
    # A checksum is verified whatever the version says, so a changed version byte cannot turn
    # verification off; only a file that says it predates checksums may lack one.
    if stored is None and version < 2:
        return [f"{path}: written before checkpoints had checksums (format version {version}), "
                f"so its contents cannot be verified"]
    if not isinstance(stored, str) or stored != content_checksum(tensors, meta):
        raise CheckpointError(
            f"{path}: corrupted checkpoint (checksum mismatch): the file changed after it "
            f"was saved")
    return []


# -- runs <-> checkpoints ------------------------------------------------------------------------
def checkpoint_from_run(run: "Run") -> Checkpoint:
    """What saving `run` writes: weights, config, history, metrics, name, dataset, state, and
    its timeline and resume state when it has them."""
    if run.model is None:
        raise CheckpointError(f"{run.name} has no model to save yet")
    return Checkpoint(model=run.model, train_config=run.config, history=run.history,
                      metrics=run.metrics, name=run.name,
                      dataset=run.dataset.name if run.dataset is not None else run.config.dataset,
                      state=str(run.state), resume=run.resume, timeline=run.timeline,
                      group=run.group)


def run_from_checkpoint(ckpt: Checkpoint, path: str | os.PathLike | None = None) -> "Run":
    """A loaded checkpoint as a run: saved, explorable, never active (a crash reads as stopped)."""
    from latent_explorer.training.record.run import Run, RunState

    return Run(name=ckpt.name, config=ckpt.train_config, model=ckpt.model, history=ckpt.history,
               state=RunState.loaded(ckpt.state), metrics=ckpt.metrics,
               path=Path(path) if path is not None else None, saved=path is not None,
               notices=list(getattr(ckpt, "notices", []) or []),
               timeline=ckpt.timeline, resume=ckpt.resume, group=ckpt.group)
