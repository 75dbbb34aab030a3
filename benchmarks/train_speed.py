"""Epoch time: the course-style DataLoader loop against this project's in-memory loop.

Same data, same VAE (nz 32, batch 64), one process. Uses full Fashion-MNIST
(`apt-get install dataset-fashion-mnist`) when present, else the bundled sample.
Also prints this machine's floor: the same epoch's 17 matmuls and fused Adam steps alone,
with nothing else around them, which no loop on this CPU can beat in float32.

    python benchmarks/train_speed.py [--epochs 3] [--data-dir DIR] [--compile]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from models import ModelConfig, build_model  # noqa: E402
from training.data import IDX_FILES, Dataset, load_idx_folder, load_mnist_sample  # noqa: E402
from training.fast_step import FlatAdam  # noqa: E402
from training.loop import TrainConfig, Trainer, TrainingObserver  # noqa: E402

FASHION = Path("/usr/share/datasets/fashion-mnist")



def native_bf16(device: torch.device) -> bool:
    """Whether this device does bf16 arithmetic natively (CUDA, or a CPU with AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return True
    if device.type != "cpu":
        return False
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool((probe and probe()) or (amx and amx()))
    except RuntimeError:
        return False


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, np.uint8).tobytes())


def torchvision_root(ds: Dataset, source: Path | None, tmp: Path) -> Path:
    """A torchvision MNIST root (MNIST/raw/ with the four uncompressed idx files)."""
    raw = tmp / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for (split, part), stem in IDX_FILES.items():
        if source is not None:
            src = next(p for p in (source / stem, source / f"{stem}.gz") if p.exists())
            opener = gzip.open if src.suffix == ".gz" else open
            with opener(src, "rb") as f, open(raw / stem, "wb") as out:
                shutil.copyfileobj(f, out)
        else:
            s = ds.train if split == "train" else ds.test
            arr = s.images.numpy() if part == "images" else s.labels.numpy().astype(np.uint8)
            write_idx(raw / stem, arr)
    return tmp


def course_epoch(root: Path) -> tuple[float, int]:
    """The course notebook's loop: ToTensor per sample, DataLoader with 2 workers, plain Adam."""
    from torchvision import datasets, transforms

    data = datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True, num_workers=2,
                                         drop_last=True)
    model = build_model(ModelConfig(kind="vae", nz=32, beta=0.005))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = 0
    t0 = time.perf_counter()
    for x, _ in loader:
        loss = model.loss(x.view(x.shape[0], -1)).total
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
        steps += 1
    return time.perf_counter() - t0, steps


def floor_epoch(steps: int, batch: int = 64) -> float:
    """Seconds for `steps` rounds of just the VAE's matmuls (forward, weight and input
    gradients, no input gradient for the first layer) and the loop's own Adam step."""
    model = build_model(ModelConfig(kind="vae", nz=32, beta=0.005))
    layers = [m for m in (*model.encoder, *model.decoder) if isinstance(m, torch.nn.Linear)]
    opt = FlatAdam(model.parameters())
    gen = torch.Generator().manual_seed(0)
    opt.flat_grad.copy_(torch.randn(opt.flat_grad.shape, generator=gen) * 1e-3)
    bufs = [(m.weight.detach(), torch.rand(batch, m.in_features, generator=gen),
             torch.randn(batch, m.out_features, generator=gen), torch.empty(batch, m.out_features),
             torch.empty(m.out_features, m.in_features), torch.empty(batch, m.in_features))
            for m in layers]
    t0 = time.perf_counter()
    for _ in range(steps):
        for k, (w, x, g, y, dw, dx) in enumerate(bufs):
            torch.mm(x, w.t(), out=y)
            torch.mm(g.t(), x, out=dw)
            if k > 0:
                torch.mm(g, w, out=dx)
        opt.step()
    return time.perf_counter() - t0


class EpochTimes(TrainingObserver):
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_epoch_end(self, event) -> None:
        self.seconds.append(event.seconds)


def project_epochs(ds: Dataset, epochs: int, engine: str, precision: str, compile_: bool) -> list[float]:
    timer = EpochTimes()
    cfg = TrainConfig(kind="vae", beta=0.005, nz=32, batch_size=64, epochs=epochs, device="cpu",
                      engine=engine, precision=precision, compile=compile_)
    result = Trainer(cfg, ds, [timer]).run()
    if result.state != "finished":
        raise SystemExit(f"project loop ended {result.state}: {result.error}")
    return timer.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3, help="epochs of the project loop (median)")
    ap.add_argument("--data-dir", type=Path, default=FASHION if FASHION.is_dir() else None)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile")
    args = ap.parse_args()

    ds = load_idx_folder(args.data_dir) if args.data_dir else load_mnist_sample()
    print(f"data: {ds.description}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"native bf16: {native_bf16(torch.device('cpu'))}")
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(ds, args.data_dir, Path(tmp))
        course, steps = course_epoch(root)
    print(f"course-style loop (DataLoader, ToTensor, 2 workers): {course:6.2f} s/epoch "
          f"({steps} steps, {steps / course:.0f} steps/s)")
    variants = [("fast", "fp32", False), ("autograd", "fp32", False)]
    if native_bf16(torch.device("cpu")):
        variants.append(("autograd", "bf16", False))
    if args.compile:
        variants.append(("autograd", "fp32", True))
    best = None
    for engine, precision, comp in variants:
        times = project_epochs(ds, args.epochs, engine, precision, comp)
        med = statistics.median(times[1:] if len(times) > 1 else times)  # epoch 1 warms up
        label = f"project loop ({engine}, {precision}{', compiled' if comp else ''})"
        print(f"{label:43s}: {med:6.2f} s/epoch (epochs: {', '.join(f'{t:.2f}' for t in times)})"
              f"  speed-up {course / med:4.1f}x")
        if engine == "fast":
            best = med
    floor = floor_epoch(steps)
    print(f"{'floor (matmuls + fused Adam only)':43s}: {floor:6.2f} s/epoch")
    print(f"RESULT: course {course:.2f} s/epoch, project {best:.2f} s/epoch, "
          f"ratio {course / best:.1f}x, floor {floor:.2f} s (target: <= 1.4 s and >= 4x)")


if __name__ == "__main__":
    main()
