"""A judge of sample quality: a small CNN classifier of a dataset's classes, cached per dataset.

It is trained once on the dataset's training split (seeded, a few epochs, CPU-friendly) and
never on generated images, so it reads a model's samples the way it reads real ones: a sample
it reads as some class with confidence ≥ 0.9 looks like a real example of that class; a blur
of the mean digit or noise is read with low confidence. For a CVAE it also says how often a
sample is read as the label it was asked for.

The trained weights are cached under `training.data.datasets.cache_dir()/judges/`, one safetensors file
per dataset name and hash of its training data (and of this judge's design), never pickle; a
missing, stale or corrupt file is retrained, not an error.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import Tensor, nn

from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.training.data.datasets import Dataset, cache_dir, iterate_batches

JUDGE_FORMAT = "latent-explorer-judge"
JUDGE_VERSION = 2  # 2: any image shape (channels in, adaptive pooling). Bump when the network or its training changes: old caches are retrained
CONFIDENCE = 0.9  # a sample "is read as" a class when the judge gives that class at least this
APPEARS_SHARE = 0.01  # a class appears when at least this share of samples is read as it
JUDGE_EPOCHS = 4  # for up to 10,000 training images; larger splits need fewer passes
JUDGE_EPOCHS_LARGE = 2
JUDGE_BATCH = 64
JUDGE_LR = 2e-3


def make_judge_net(n_classes: int = 10, generator: torch.Generator | None = None,
                   image_shape: tuple[int, ...] = (1, 28, 28)) -> nn.Sequential:
    """For 28×28 digits: two 3×3 conv layers (16, 32 channels) with max-pooling, then 64
    hidden units on the 7×7 map. For any other size a third conv layer and a global max-pool:
    what tells a sprite's shape apart is the same wherever the sprite sits, and on 64×64 the
    digits' position-bound 7×7 map stayed at chance (39 % on the three sprite shapes)."""
    c, h, w = image_shape
    if (h, w) == (28, 28):
        net = nn.Sequential(
            nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, n_classes),
        )
    else:
        net = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1),
            nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, n_classes),
        )
    with torch.no_grad():  # the layers' default init, drawn from `generator` (no global seed)
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                fan_in = m.weight[0].numel()
                if m.bias is not None:  # every layer here has one
                    nn.init.uniform_(m.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in),
                                     generator=generator)
    return net


@dataclass
class Judge:
    """A trained classifier of one dataset, with its own test accuracy."""

    net: nn.Module
    dataset: str
    test_accuracy: float
    class_names: tuple[str, ...]
    data_hash: str
    from_cache: bool = False
    seconds: float = 0.0  # training time (0 when loaded from the cache)
    image_shape: tuple[int, int, int] = (1, 28, 28)
    # The share of the real test images read as their own class with confidence ≥ 0.9: the
    # ceiling a model's samples can reach on the quality measure.
    real_quality: float = math.nan

    @torch.no_grad()
    def probabilities(self, images: Tensor, batch_size: int = 2000) -> Tensor:
        """Class probabilities (n, classes) for images in [0, 1], (n, C, H, W) or flat rows."""
        dev = next(self.net.parameters()).device
        x = images.detach().reshape(-1, *self.image_shape).float()
        out = [torch.softmax(self.net(x[i:i + batch_size].to(dev)), 1).cpu()
               for i in range(0, x.shape[0], batch_size)]
        return torch.cat(out) if out else torch.empty(0, len(self.class_names))

    def summary(self) -> str:
        src = "cached" if self.from_cache else f"trained in {self.seconds:.1f} s"
        ceiling = ("" if math.isnan(self.real_quality)
                   else f", real test images judged real: {self.real_quality:.1%}")
        return f"judge for {self.dataset}: test accuracy {self.test_accuracy:.1%}{ceiling} ({src})"


def default_epochs(dataset: Dataset) -> int:
    """Passes over the training split: a few for the small sample, fewer for full datasets."""
    return JUDGE_EPOCHS if len(dataset.train) <= 10_000 else JUDGE_EPOCHS_LARGE


def data_hash(dataset: Dataset, epochs: int | None = None, seed: int = 0) -> str:
    """A short hash of the training split and of how the judge is trained on it."""
    epochs = epochs or default_epochs(dataset)
    h = hashlib.sha256()
    h.update(f"{JUDGE_FORMAT} v{JUDGE_VERSION} epochs={epochs} seed={seed}".encode())
    h.update(dataset.train.images.cpu().contiguous().numpy().tobytes())
    h.update(dataset.train.labels.cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def judge_path(dataset: Dataset, root: Path | None = None, epochs: int | None = None,
               seed: int = 0) -> Path:
    """Where the judge of `dataset` is cached."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", dataset.name) or "dataset"
    return (root or cache_dir()) / "judges" / f"{safe}-{data_hash(dataset, epochs, seed)}.safetensors"


@torch.no_grad()
def _accuracy(net: nn.Module, split, batch_size: int = 2000) -> tuple[float, float]:
    """Test accuracy, and the share read as its own class with confidence ≥ CONFIDENCE."""
    net.eval()
    dev = next(net.parameters()).device
    right = sure = 0
    for i in range(0, len(split), batch_size):
        x = split.images[i:i + batch_size].to(dev).float().div_(255)
        top, reading = torch.softmax(net(x), 1).max(1)
        hit = reading == split.labels[i:i + batch_size].to(dev)
        right += int(hit.sum())
        sure += int((hit & (top >= CONFIDENCE)).sum())
    return (right / len(split), sure / len(split)) if len(split) else (math.nan, math.nan)


class JudgeCancelled(Exception):
    """Training the judge was given up: `should_stop` said so (the app is closing)."""


def train_judge(dataset: Dataset, epochs: int | None = None, seed: int = 0,
                device: torch.device | str = "cpu",
                should_stop: Callable[[], bool] | None = None) -> Judge:
    """Train the judge on `dataset`'s training split and measure it on the test split;
    `should_stop()` is asked at every batch (JudgeCancelled when it says True)."""
    epochs = epochs or default_epochs(dataset)
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    shape = dataset.image_shape
    net = make_judge_net(len(dataset.class_names), gen, shape).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=JUDGE_LR)
    train = dataset.train.to(device)
    batch_gen = torch.Generator(device=device).manual_seed(seed)
    steps_per_epoch = -(-len(train) // JUDGE_BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, JUDGE_LR, total_steps=epochs * steps_per_epoch)
    for _ in range(epochs):
        net.train()
        for x, y in iterate_batches(train, JUDGE_BATCH, batch_gen):
            if should_stop is not None and should_stop():
                raise JudgeCancelled(f"training the judge of {dataset.name} was stopped")
            loss = F.cross_entropy(net(x.view(-1, *shape)), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    acc, real = _accuracy(net, dataset.test)
    net.eval()
    return Judge(net, dataset.name, acc, tuple(dataset.class_names),
                 data_hash(dataset, epochs, seed), False, time.perf_counter() - t0, shape, real)


def save_judge(path: str | os.PathLike, judge: Judge) -> Path:
    """Write the judge atomically (a temporary file, then os.replace)."""
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in judge.net.state_dict().items()}
    meta = {"format": JUDGE_FORMAT, "version": str(JUDGE_VERSION), "dataset": judge.dataset,
            "test_accuracy": repr(judge.test_accuracy), "data_hash": judge.data_hash,
            "class_names": json.dumps(list(judge.class_names)),
            "image_shape": json.dumps(list(judge.image_shape)),
            "real_quality": repr(judge.real_quality)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        tmp.write_bytes(st_save(tensors, metadata=meta))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_judge(path: str | os.PathLike, device: torch.device | str = "cpu") -> Judge | None:
    """The cached judge at `path`, or None when it is missing, stale or unreadable."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        n = int.from_bytes(raw[:8], "little")
        meta = json.loads(raw[8:8 + n]).get("__metadata__") or {}
        if meta.get("format") != JUDGE_FORMAT or meta.get("version") != str(JUDGE_VERSION):
            return None
        class_names = tuple(json.loads(meta["class_names"]))
        c, h, w = (int(v) for v in json.loads(meta["image_shape"]))
        net = make_judge_net(len(class_names), image_shape=(c, h, w))
        net.load_state_dict(st_load(raw), strict=True)
        if not all(torch.isfinite(p).all() for p in net.parameters()):
            return None
        acc = float(meta["test_accuracy"])
    except Exception:  # noqa: BLE001 - any defect in a cache file means: train again
        return None
    return Judge(net.to(device).eval(), meta.get("dataset", ""), acc, class_names,
                 meta.get("data_hash", ""), from_cache=True, image_shape=(c, h, w),
                 real_quality=float(meta.get("real_quality", "nan")))


def get_judge(dataset: Dataset, root: Path | None = None, epochs: int | None = None,
              seed: int = 0, device: torch.device | str = "cpu",
              notify: Callable[[str], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> Judge:
    """The judge of `dataset`: from the cache when it is there and sound, else trained (and
    cached). The bundled sample trains in about 4 s of one core, full MNIST in about 30 s."""
    epochs = epochs or default_epochs(dataset)
    path = judge_path(dataset, root, epochs, seed)
    judge = load_judge(path, device)
    if judge is not None and judge.data_hash == path.stem.rsplit("-", 1)[-1]:
        return judge
    if notify:
        notify(f"training the judge of sample quality for {dataset.name} "
               f"({len(dataset.train):,} images, {epochs} epochs)")
    judge = train_judge(dataset, epochs, seed, device, should_stop)
    try:
        save_judge(path, judge)
    except OSError as e:  # a read-only cache is not fatal: the judge still works this time
        if notify:
            notify(f"could not cache the judge at {path} ({e.strerror or e})")
    return judge


# -- scoring -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class JudgeScore:
    """How the judge reads a set of images.

    confident_share: share read as some class with confidence ≥ 0.9; classes_seen: classes
    that at least 1 % of the images (and at least one) are confidently read as; for a CVAE,
    asked_share: share whose reading (the most likely class) is the label asked for, and
    asked_confident_share: share read as the asked label with confidence ≥ 0.9.
    """

    n: int
    confident_share: float
    classes_seen: int
    class_counts: tuple[int, ...]  # confident readings per class
    asked_share: float | None = None
    asked_confident_share: float | None = None

    @property
    def quality(self) -> float:
        """The one number to compare models by: the share of samples that read, with
        confidence ≥ 0.9, as a real example (for a CVAE: of the class asked for)."""
        return (self.asked_confident_share if self.asked_confident_share is not None
                else self.confident_share)

    @property
    def quality_se(self) -> float:
        """The binomial standard error of `quality` over the n samples judged."""
        q = self.quality
        return math.sqrt(q * (1 - q) / self.n) if self.n else math.nan

    def summary(self) -> str:
        s = (f"{self.confident_share:.1%} read as a class with p >= {CONFIDENCE:g}, "
             f"{self.classes_seen} classes seen")
        if self.asked_share is not None:
            s += f", {self.asked_share:.1%} read as the asked label"
        return s


def judge_samples(judge: Judge, images: Tensor,
                  asked_labels: Tensor | None = None) -> JudgeScore:
    """Score images in [0, 1] (n, C, H, W) or flat rows; `asked_labels` (n,) for a CVAE's."""
    probs = judge.probabilities(images)
    n = probs.shape[0]
    if n == 0:
        raise ValueError("no images to judge")
    top, reading = probs.max(1)
    confident = top >= CONFIDENCE
    counts = torch.bincount(reading[confident], minlength=probs.shape[1])
    need = max(1, math.ceil(APPEARS_SHARE * n))
    asked = asked_conf = None
    if asked_labels is not None:
        asked_labels = torch.as_tensor(asked_labels).reshape(-1).cpu().long()
        if asked_labels.shape[0] != n:
            raise ValueError(f"{asked_labels.shape[0]} asked labels for {n} images")
        hit = reading == asked_labels
        asked = float(hit.float().mean())
        asked_conf = float((hit & confident).float().mean())
    return JudgeScore(n, float(confident.float().mean()), int((counts >= need).sum()),
                      tuple(int(c) for c in counts), asked, asked_conf)


@torch.no_grad()
def sample_quality(model: LatentModel, judge: Judge, n: int = 1000, seed: int = 0,
                   temperature: float = 1.0) -> JudgeScore:
    """Judge n prior samples at temperature T (z ~ N(0, T² I) for the course's prior; from the
    model's own prior otherwise), drawn from `seed`; a CVAE is asked for every label equally
    often (n rounded down to a multiple of the number of classes)."""
    if not model.config.is_variational:
        raise ValueError("an AE has no prior to sample from")
    c = model.config.n_classes
    if model.config.is_conditional:
        n = max(c, n - n % c)
    gen = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        z = model.sample_prior(n, temperature, gen)  # N(0, I): the draws of randn((n, nz), gen)
        if model.config.is_conditional:
            labels = torch.arange(n) % c
            return judge_samples(judge, model.decode(z, labels.to(model.device)), labels)
        return judge_samples(judge, model.decode(z))
    finally:
        model.train(was_training)


__all__ = ["CONFIDENCE", "Judge", "JudgeCancelled", "JudgeScore", "data_hash", "get_judge", "judge_path",
           "judge_samples", "load_judge", "make_judge_net", "sample_quality", "save_judge",
           "train_judge", "default_epochs"]
