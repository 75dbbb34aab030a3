"""Training speed: the course-style DataLoader loop against this project's loop, per epoch and
as whole processes, beside this machine's floor.

Same data, same VAE (nz 32, batch 64). Uses full Fashion-MNIST
(`apt-get install dataset-fashion-mnist`) when present, else the bundled sample. Prints, in one
run:
- the course loop's epoch and the project's epochs (every epoch, not the best one), through the
  fast engine (the default) and autograd;
- the floor: the same epoch's 17 matmuls and fused Adam steps alone, with nothing else around
  them, which no float32 loop on this CPU can beat; each project epoch as a multiple of it;
- the step's matmul shapes in bf16 against float32 where the CPU has native bf16, and why
  `precision="auto"` does or does not take it;
- whole processes: the course script and `main.py train --timings`, `--epochs` epochs each,
  wall clock from outside, and where the project process's time went (start-up, data, steps,
  test evaluation, timeline, save).

    python benchmarks/train_speed.py [--epochs 3] [--data-dir DIR] [--compile] [--no-process]
"""

from __future__ import annotations

import argparse
import gzip
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from latent_explorer.models import ModelConfig, build_model
from latent_explorer.training.data.datasets import IDX_FILES, Dataset, load_idx_folder, load_mnist_sample
from latent_explorer.training.engine.fast_step import FlatAdam
from latent_explorer.training.engine.loop import TrainConfig, Trainer, TrainingObserver

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


def course_epoch(root: Path, epochs: int = 1) -> tuple[float, int]:
    """The course notebook's loop: ToTensor per sample, DataLoader with 2 workers, plain Adam.
    Seconds of its first epoch and the steps of one epoch (`epochs` epochs are run)."""
    from torchvision import datasets, transforms

    data = datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True, num_workers=2,
                                         drop_last=True)
    model = build_model(ModelConfig(kind="vae", nz=32, beta=0.005))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = None
    for _ in range(epochs):
        steps = 0
        t0 = time.perf_counter()
        for x, _ in loader:
            loss = model.loss(x.view(x.shape[0], -1)).total
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()
            steps += 1
        first = first if first is not None else time.perf_counter() - t0
    return first, steps


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


STEP_SHAPES = [(784, 256), (256, 64), (64, 64), (32, 64), (64, 256), (256, 784)]  # (in, out)


def bf16_step_matmuls(batch: int = 64, reps: int = 300) -> tuple[float, float, float]:
    """µs per step of the VAE step's matmuls (forward, weight and input gradients) in float32,
    in bf16 with the inputs' conversions counted, and in the best per-layer mix of the two."""
    def timed(fn) -> float:
        for _ in range(20):
            fn()
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        return (time.perf_counter() - t0) / reps * 1e6

    g = torch.Generator().manual_seed(0)
    fp32 = bf16 = best = 0.0
    for k, (i, o) in enumerate(STEP_SHAPES):
        x, w = torch.rand(batch, i, generator=g), torch.randn(o, i, generator=g) * 0.05
        gy = torch.randn(batch, o, generator=g) * 1e-3
        y, dw, dx = torch.empty(batch, o), torch.empty(o, i), torch.empty(batch, i)

        def f32():
            torch.mm(x, w.t(), out=y)
            torch.mm(gy.t(), x, out=dw)
            if k > 0:
                torch.mm(gy, w, out=dx)

        def b16():  # the weights and inputs are converted every step, as training would
            xb, wb, gb = x.bfloat16(), w.bfloat16(), gy.bfloat16()
            y.copy_(torch.mm(xb, wb.t()))
            dw.copy_(torch.mm(gb.t(), xb))
            if k > 0:
                dx.copy_(torch.mm(gb, wb))

        a, b = timed(f32), timed(b16)
        fp32, bf16, best = fp32 + a, bf16 + b, best + min(a, b)
    return fp32, bf16, best


def whole_processes(args, root: Path) -> None:
    """The course script and `main.py train` as processes of `args.epochs` epochs each."""
    here = Path(__file__).resolve()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(here), "--course-process", str(root),
                    "--epochs", str(args.epochs)], check=True)
    course = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, str(here.parents[1] / "main.py"), "train", "--model", "vae",
               "--epochs", str(args.epochs), "--out", str(Path(tmp) / "run.safetensors"),
               "--quiet", "--timings"]
        cmd += ["--data-dir", str(args.data_dir)] if args.data_dir else ["--dataset",
                                                                          "mnist-sample"]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        project = time.perf_counter() - t0
    split = [ln for ln in done.stderr.splitlines() if ln.startswith("time:")]
    print(f"whole process, {args.epochs} epochs: course script {course:.1f} s, "
          f"`main.py train` {project:.1f} s: {course / project:.2f}x (target >= 4x)")
    print(f"  project process {split[0] if split else '(no timings line)'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3, help="epochs of each loop and process")
    ap.add_argument("--data-dir", type=Path, default=FASHION if FASHION.is_dir() else None)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile")
    ap.add_argument("--no-process", action="store_true", help="skip the whole-process runs")
    ap.add_argument("--course-process", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.course_process is not None:  # the course script, run as a process of its own
        course_epoch(args.course_process, args.epochs)
        return

    ds = load_idx_folder(args.data_dir) if args.data_dir else load_mnist_sample()
    print(f"data: {ds.description}")
    print(f"CPU: {platform.processor() or platform.machine()} {cpu_model()}; torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, native bf16: "
          f"{native_bf16(torch.device('cpu'))}, AMX: {amx()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(ds, args.data_dir, Path(tmp))
        course, steps = course_epoch(root)
        print(f"course-style loop (DataLoader, ToTensor, 2 workers): {course:6.2f} s/epoch "
              f"({steps} steps, {steps / course:.0f} steps/s)")
        floor = floor_epoch(steps)
        variants = [("fast", "fp32", False), ("autograd", "fp32", False)]
        if native_bf16(torch.device("cpu")):
            variants.append(("autograd", "bf16", False))
        if args.compile:
            variants.append(("autograd", "fp32", True))
        fast = None
        for engine, precision, comp in variants:
            times = project_epochs(ds, args.epochs, engine, precision, comp)
            label = f"project loop ({engine}, {precision}{', compiled' if comp else ''})"
            print(f"{label:43s}: median {statistics.median(times):5.2f} s/epoch, every epoch "
                  f"{', '.join(f'{t:.2f}' for t in times)} = "
                  f"{', '.join(f'{t / floor:.2f}' for t in times)}x the floor; "
                  f"{course / statistics.median(times):4.1f}x the course loop")
            if engine == "fast":
                fast = times
        floor2 = floor_epoch(steps)  # again after the loops: the machine's speed drifts
        print(f"{'floor (matmuls + fused Adam only)':43s}: {floor:6.2f} s/epoch before the "
              f"project loops, {floor2:.2f} s after")
        if native_bf16(torch.device("cpu")):
            f32, b16, mix = bf16_step_matmuls()
            gain = 1 - mix / f32
            print(f"the step's matmuls: float32 {f32:.0f} us, bf16 {b16:.0f} us (conversions "
                  f"included), best per-layer mix {mix:.0f} us: {gain:.0%} of the matmuls")
            share = (f32 - mix) * 1e-6 * steps / statistics.median(fast)  # of an epoch
            verdict = ("below the 25 % of an epoch for which auto would take a precision that "
                       "depends on the CPU (the same seed would then train differently on "
                       "different machines)" if share < 0.25 else
                       "enough to be worth a bf16 hand-written step, which is not built yet")
            print(f"precision='auto' stays float32: bf16 would save at most {gain:.0%} of the "
                  f"matmuls here, about {share:.0%} of an epoch, and round activations and "
                  f"gradients to 8 bits: {verdict}. precision='bf16' trains through autograd "
                  "with bf16 autocast (its line above)")
        else:
            print("precision='auto' stays float32: this CPU has no native bf16 (AVX512-BF16 or "
                  "AMX), so bf16 matmuls would be emulated")
        med = statistics.median(fast)
        print(f"RESULT: course {course:.2f} s/epoch, project {med:.2f} s/epoch (worst "
              f"{max(fast):.2f}), {course / med:.1f}x the course loop; floor {floor:.2f}-"
              f"{floor2:.2f} s, project {med / min(floor, floor2):.2f}x it (target <= 1.3x)")
        if not args.no_process:
            whole_processes(args, root)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def amx() -> bool:
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(probe and probe())
    except RuntimeError:
        return False


if __name__ == "__main__":
    main()
