"""Data out: samples and latent maps written as arrays (.npy/.npz), tables (.csv) or grids (.png).

One writer per kind of data, shared by the CLI (`sample`, `map`) and the window's tabs (Prior
samples, Conditional, Latent map), so a file exported from either reads the same. The format
follows the file name's suffix; `check_out_path` says, in one sentence, why a path cannot be
written (a suffix it does not know, a folder, a folder that does not exist) before any work.

- Samples: `.npy` float32 (N, C, H, W) in [0, 1]; `.png` a grid of them (`render.make_grid`).
- A latent map (`MapExport`): `.npz` named arrays — codes (N×K float32 posterior means μ),
  coords (N×2 float32), labels (N int64), and where there are any, log_sigma (N×K float32,
  VAE/CVAE) and selected (M int64: the indices of a lasso selection); `.csv` one row per point
  with the header `index,label,x,y,z0..zK-1,selected` (selected 0 or 1); `.npy` one record
  array with the same columns as named fields (index, label, x, y, z (K,), log_sigma (K,) where
  the model has one, selected), which `np.load` reads without pickling.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_SUFFIXES = (".npy", ".png")
MAP_SUFFIXES = (".npz", ".npy", ".csv")


class ExportError(ValueError):
    """Why a file cannot be written where asked, as one sentence for the user."""


def check_out_path(path: str | Path, suffixes: tuple[str, ...]) -> Path:
    """`path` as a Path if a file of one of `suffixes` can be written there; else ExportError."""
    p = Path(path)
    if p.is_dir():
        raise ExportError(f"{p} is a folder: give a file name")
    if p.suffix.lower() not in suffixes:
        raise ExportError(f"{p.name} must end in {_either(suffixes)}")
    if not p.parent.is_dir():
        raise ExportError(f"{p}: the folder {p.parent} does not exist")
    return p


def with_default_suffix(path: str | Path, default: str) -> Path:
    """`path`, given `default` as its suffix when it has none of its own (a file dialog's
    answer typed without one)."""
    p = Path(path)
    return p if p.suffix or p.is_dir() else p.with_name(p.name + default)


def _either(suffixes: tuple[str, ...]) -> str:
    return ", ".join(suffixes[:-1]) + f" or {suffixes[-1]}" if len(suffixes) > 1 else suffixes[0]


# -- samples ---------------------------------------------------------------------------------------
def write_samples(path: str | Path, images: np.ndarray, ncols: int | None = None,
                  scale: int = 2) -> Path:
    """Write images in [0, 1] (as models give them, (N, C, H, W), or display arrays (N, H, W)
    grey / (N, H, W, 3) colour): .npy as float32 (N, C, H, W), .png as a grid of `ncols`
    columns (about square when None) upscaled `scale` times, in colour when they are."""
    from latent_explorer.training.explore.render import make_grid, save_png, to_numpy_images

    p = check_out_path(path, SAMPLE_SUFFIXES)
    a = to_numpy_images(images)
    if p.suffix.lower() == ".npy":
        chw = a[:, None] if a.ndim == 3 else a.transpose(0, 3, 1, 2)
        np.save(p, np.ascontiguousarray(chw, dtype=np.float32))
    else:
        save_png(make_grid(a, ncols=ncols), p, scale=scale)
    return p


# -- latent maps -----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class MapExport:
    """A latent map's points: each test image's code, its place on the 2-D map, its label, and
    which of them a lasso selected."""

    codes: np.ndarray  # (N, K) posterior means μ
    coords: np.ndarray  # (N, 2) the map's coordinates
    labels: np.ndarray  # (N,)
    log_sigmas: np.ndarray | None = None  # (N, K) log σ (None: an AE, which has no σ)
    selected: np.ndarray | None = None  # indices into the N points (None: no selection)

    def __post_init__(self) -> None:
        n = len(self.codes)
        if self.codes.ndim != 2 or self.coords.shape != (n, 2) or self.labels.shape != (n,):
            raise ValueError(f"codes {self.codes.shape}, coords {self.coords.shape} and labels "
                             f"{self.labels.shape} do not describe the same points")
        if self.log_sigmas is not None and self.log_sigmas.shape != self.codes.shape:
            raise ValueError(f"log σ {self.log_sigmas.shape} does not match the codes "
                             f"{self.codes.shape}")
        if self.selected is not None and len(self.selected) and (
                np.min(self.selected) < 0 or np.max(self.selected) >= n):
            raise ValueError("a selected index lies outside the points")

    @property
    def selected_mask(self) -> np.ndarray:
        """(N,) bool: which points the selection holds (none without one)."""
        mask = np.zeros(len(self.codes), bool)
        if self.selected is not None:
            mask[np.asarray(self.selected, np.int64)] = True
        return mask

    def arrays(self) -> dict[str, np.ndarray]:
        """The named arrays of the .npz file (those of the CLI's `map --out m.npz` first)."""
        out: dict[str, np.ndarray] = {"codes": np.asarray(self.codes, np.float32),
                                      "coords": np.asarray(self.coords, np.float32),
                                      "labels": np.asarray(self.labels, np.int64)}
        if self.log_sigmas is not None:
            out["log_sigma"] = np.asarray(self.log_sigmas, np.float32)
        if self.selected is not None:
            out["selected"] = np.asarray(self.selected, np.int64)
        return out

    def csv_header(self) -> list[str]:
        k = self.codes.shape[1]
        return ["index", "label", "x", "y", *(f"z{j}" for j in range(k)), "selected"]

    def records(self) -> np.ndarray:
        """One record per point, the CSV's columns as fields (z, log_sigma: K values each)."""
        n, k = self.codes.shape
        fields: list[tuple] = [("index", np.int64), ("label", np.int64), ("x", np.float32),
                               ("y", np.float32), ("z", np.float32, (k,))]
        if self.log_sigmas is not None:
            fields.append(("log_sigma", np.float32, (k,)))
        fields.append(("selected", np.bool_))
        rec = np.zeros(n, dtype=fields)
        rec["index"] = np.arange(n)
        rec["label"] = self.labels
        rec["x"], rec["y"] = self.coords[:, 0], self.coords[:, 1]
        rec["z"] = self.codes
        if self.log_sigmas is not None:
            rec["log_sigma"] = self.log_sigmas
        rec["selected"] = self.selected_mask
        return rec


def write_map(path: str | Path, data: MapExport) -> Path:
    """Write a latent map's points as .npz, .npy or .csv (see the module's docstring)."""
    p = check_out_path(path, MAP_SUFFIXES)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        # numpy's stub types allow_pickle beside **kwds, so no dict of arrays passes mypy.
        np.savez(p, **data.arrays())  # type: ignore[arg-type]
    elif suffix == ".npy":
        np.save(p, data.records())
    else:
        _write_map_csv(p, data)
    return p


def _write_map_csv(path: Path, data: MapExport) -> None:
    coords = np.asarray(data.coords, np.float64)
    codes = np.asarray(data.codes, np.float64)
    labels = np.asarray(data.labels, np.int64)
    mask = data.selected_mask
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(data.csv_header())
        for i in range(len(codes)):
            # repr-exact floats of float32 values: 9 significant digits round-trip them.
            w.writerow([i, int(labels[i]), f"{coords[i, 0]:.9g}", f"{coords[i, 1]:.9g}",
                        *(f"{v:.9g}" for v in codes[i]), int(mask[i])])
