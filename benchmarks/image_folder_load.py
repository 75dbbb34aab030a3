"""How long an image folder takes to load: N PNG and N JPEG files of a given size, in a temp dir.

    python benchmarks/image_folder_load.py [--n 1000] [--size 256]

Prints the seconds to read and convert them (training/data/image_folder.py), and per image.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from PIL import Image

    from latent_explorer.training.data.image_folder import load_image_folder

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000, help="images per format")
    p.add_argument("--size", type=int, default=256, help="side of the square images in pixels")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bench"
        for fmt, suffix in (("png", ".png"), ("jpeg", ".jpg")):
            for c in range(10):
                (root / f"{fmt}{c}").mkdir(parents=True)
            for i in range(args.n):
                a = np.full((args.size, args.size, 3), 240, np.uint8)
                x, y = rng.integers(0, args.size // 2, 2)
                a[y : y + args.size // 3, x : x + args.size // 8] = rng.integers(0, 80, 3)
                Image.fromarray(a).save(root / f"{fmt}{i % 10}" / f"{i}{suffix}")
        for fmt in ("png", "jpeg"):
            sub = Path(tmp) / fmt
            sub.mkdir()
            for c in range(10):
                (root / f"{fmt}{c}").rename(sub / str(c))
            t0 = time.perf_counter()
            ds = load_image_folder(sub)
            dt = time.perf_counter() - t0
            n = len(ds.train) + len(ds.test)
            print(f"{n} {fmt.upper()} images of {args.size}x{args.size} RGB: {dt:.2f} s "
                  f"({1000 * dt / n:.2f} ms per image); {ds.description.split(' from ')[0]}")


if __name__ == "__main__":
    main()
