"""Attribute vectors saved with a run, so an edit named once can be applied again later.

Where: a run folder of the workspace keeps them in `vectors.json` inside it; a loose checkpoint
file `x.safetensors` keeps them beside it in `x.vectors.json` (so copying the two files together
copies the edits). The file is one JSON object

    {"format": 1, "vectors": {"smile": {"name": "smile", "vector": [...], "n_a": .., ...}, ...}}

with each vector as `AttributeVector.to_dict()`. It is replaced whole (temporary file, fsync,
`os.replace`), never edited in place, so a reader sees the old file or the new one. A missing,
torn or foreign file reads as no vectors: a saved edit is a convenience, never a reason for a
run to fail to open. Numpy only; no Qt, no torch.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
from pathlib import Path
from typing import Any

from latent_explorer.training.explore.directions import AttributeVector

VECTORS_SUFFIX = ".vectors.json"
FOLDER_FILE = "vectors.json"
FORMAT = 1

_lock = threading.Lock()  # read-modify-write of one process's saves (the GUI and a worker)


def vectors_path(run: str | os.PathLike) -> Path:
    """Where `run`'s vectors live: a folder -> folder/vectors.json; a checkpoint file
    x.safetensors (or any x.ext) -> x.vectors.json beside it."""
    p = Path(run).expanduser()
    if p.is_dir():
        return p / FOLDER_FILE
    return p.with_name(p.stem + VECTORS_SUFFIX) if p.suffix else p.with_name(p.name + VECTORS_SUFFIX)


def _read(path: Path) -> dict[str, Any]:
    """The stored {name: dict} mapping; {} for a missing or unreadable file."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("vectors"), dict):
        return {}
    return data["vectors"]


def load_vectors(run: str | os.PathLike) -> dict[str, AttributeVector]:
    """The run's saved vectors by name, in the order saved; {} when there are none or the file
    cannot be read. An entry that does not parse (or holds non-finite numbers) is skipped."""
    out: dict[str, AttributeVector] = {}
    for name, d in _read(vectors_path(run)).items():
        try:
            vec = AttributeVector.from_dict(d)
        except (KeyError, TypeError, ValueError):
            continue
        if vec.vector.ndim != 1 or not all(math.isfinite(float(v)) for v in vec.vector):
            continue
        out[str(name)] = vec
    return out


def _write(path: Path, vectors: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"format": FORMAT, "vectors": vectors}, f, ensure_ascii=False, indent=1,
                      allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def save_vector(run: str | os.PathLike, vec: AttributeVector) -> Path:
    """Store `vec` under `vec.name` with the run (a vector of the same name is replaced);
    returns the file written. Raises ValueError for an empty name or non-finite vector, OSError
    when the file cannot be written."""
    if not vec.name.strip():
        raise ValueError("a saved vector needs a name")
    d = vec.to_dict()
    if not all(math.isfinite(v) for v in d["vector"]):
        raise ValueError(f"vector {vec.name!r} holds non-finite values")
    path = vectors_path(run)
    with _lock:
        stored = _read(path)
        stored[vec.name] = d
        _write(path, stored)
    return path


def delete_vector(run: str | os.PathLike, name: str) -> None:
    """Remove the vector called `name` (nothing happens when there is none)."""
    path = vectors_path(run)
    with _lock:
        stored = _read(path)
        if name in stored:
            del stored[name]
            _write(path, stored)
