"""What continuing a run exactly needs: Adam's state, the random generator, where it stopped.

A resumed run draws the same batches and the same noise as one that never stopped, so its
weights match bit for bit (tests/test_resume.py). That needs, besides the weights:
  - Adam's moments and step count (`OptimizerState`, one layout for FlatAdam and torch Adam);
  - the state of the Trainer's one generator, which shuffles each epoch (`iterate_batches`
    draws a randperm when the epoch's first batch is taken) and then draws the VAE's noise;
  - the step and epoch counters, and for a run stopped mid-epoch the generator state from
    before that epoch's shuffle, which regenerates its order (4 KB, not the order itself).
Qt-free and independent of the Trainer's internals: plain functions of an optimizer, a model's
parameters, a dataset and configs, so another trainer can use them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Sequence

import torch
from torch import Tensor

from latent_explorer.training.data.datasets import Dataset, batches_per_epoch
from latent_explorer.training.engine.fast_step import FlatAdam

if TYPE_CHECKING:
    from latent_explorer.models.autoencoders import LatentModel
    from latent_explorer.training.config import TrainConfig
    from latent_explorer.training.record.history import History

RESUME_VERSION = 1
PREFIX = "resume."
# Config fields that must not change when a run continues (epochs, device, engine may).
FIXED_FIELDS = ("kind", "beta", "nz", "hidden", "batch_size", "lr", "seed", "target_rate",
                "kl_warmup", "kl_cycles", "kl_ratio", "lr_schedule", "lr_min", "lr_warmup",
                "keep", "early_stop")
WEIGHTS_PREFIX = PREFIX + "weights."


class ResumeError(Exception):
    """A run cannot be continued as asked; the message says why, in one line."""


@dataclass(frozen=True)
class OptimizerState:
    """Adam's state: moments flat over the model's parameters in `parameters()` order."""

    exp_avg: Tensor  # (N,) float32, on the CPU
    exp_avg_sq: Tensor  # (N,) float32
    step: Tensor  # () float32, Adam's step count as torch keeps it
    lr: float
    betas: tuple[float, float]
    eps: float

    @property
    def numel(self) -> int:
        return int(self.exp_avg.numel())


@dataclass(frozen=True)
class ResumeState:
    """Where a run is and what continuing it exactly needs.

    `epoch_generator_state` is the generator before the shuffle of the epoch in progress
    (epochs_done + 1); `generator_state` the generator at the stop. None for the latter means
    the epoch's order has not been drawn yet (the run ended at an epoch boundary).
    """

    step: int  # optimizer steps done (the loss history's length)
    epochs_done: int  # whole epochs done
    batch_in_epoch: int  # batches done in the epoch in progress (0 at a boundary)
    steps_per_epoch: int
    generator_state: Tensor | None = None  # uint8, torch.Generator.get_state()
    epoch_generator_state: Tensor | None = None
    generator_device: str = "cpu"  # the state's format depends on the device type
    optimizer: OptimizerState | None = None
    data_fingerprint: str = ""
    notices: tuple[str, ...] = ()  # set by plan_resume: why the continuation is not exact
    # The β controller of a run trained to a target rate (RateControlState.to_dict()); None
    # when β is fixed.
    rate_control: dict | None = None
    # A run that keeps its best epoch (TrainConfig.keep 'best') or stops early: the best epoch
    # so far (schedules.BestEpoch.to_dict()); None otherwise.
    best: dict | None = None
    # A run that keeps its best epoch: the weights training continues from (the last ones; the
    # checkpoint's own weights are the best epoch's), keyed like the model's state_dict.
    weights: dict[str, Tensor] | None = None

    @property
    def exact(self) -> bool:
        """Whether continuing reproduces an uninterrupted run."""
        return not self.notices and self.optimizer is not None and (
            self.generator_state is not None or self.epoch_generator_state is not None)


# -- optimizer state ---------------------------------------------------------------------------
def optimizer_state(optimizer, params: Sequence[Tensor]) -> OptimizerState:
    """The state of a FlatAdam or torch.optim.Adam over `params`, copied to the CPU."""
    if isinstance(optimizer, FlatAdam):
        b1, b2 = optimizer.betas
        return OptimizerState(optimizer.exp_avg.detach().cpu().clone(),
                              optimizer.exp_avg_sq.detach().cpu().clone(),
                              optimizer.steps.detach().float().cpu().clone().reshape(()),
                              optimizer.lr, (b1, b2), optimizer.eps)
    if isinstance(optimizer, torch.optim.Adam):
        group = optimizer.param_groups[0]
        if len(optimizer.param_groups) != 1 or group.get("amsgrad") or group.get("weight_decay"):
            raise ValueError("only a plain one-group Adam's state can be saved")
        avg, sq, steps = [], [], []
        for p in params:
            st = optimizer.state.get(p, {})
            avg.append(st["exp_avg"].reshape(-1) if st else torch.zeros(p.numel()))
            sq.append(st["exp_avg_sq"].reshape(-1) if st else torch.zeros(p.numel()))
            steps.append(float(st["step"]) if st else 0.0)
        if len(set(steps)) > 1:
            raise ValueError("the parameters' Adam step counts differ")
        cpu = [torch.cat([a.detach().float().cpu() for a in xs]) for xs in (avg, sq)]
        return OptimizerState(cpu[0], cpu[1], torch.tensor(steps[0] if steps else 0.0),
                              float(group["lr"]), tuple(group["betas"]), float(group["eps"]))
    raise ValueError(f"cannot save the state of a {type(optimizer).__name__}")


@torch.no_grad()
def load_optimizer_state(optimizer, params: Sequence[Tensor], state: OptimizerState) -> None:
    """Put `state` into a freshly made FlatAdam or torch.optim.Adam over `params`."""
    params = list(params)
    n = sum(p.numel() for p in params)
    if state.numel != n:
        raise ValueError(f"the optimizer state holds {state.numel:,} numbers but the model has "
                         f"{n:,} parameters")
    if isinstance(optimizer, FlatAdam):
        optimizer.exp_avg.copy_(state.exp_avg)
        optimizer.exp_avg_sq.copy_(state.exp_avg_sq)
        optimizer.steps.copy_(state.step)
        return
    if isinstance(optimizer, torch.optim.Adam):
        sd = optimizer.state_dict()
        per_param, offset = {}, 0
        for i, p in enumerate(params):
            k = p.numel()
            per_param[i] = {"step": state.step.clone(),
                            "exp_avg": state.exp_avg[offset:offset + k].view_as(p).clone(),
                            "exp_avg_sq": state.exp_avg_sq[offset:offset + k].view_as(p).clone()}
            offset += k
        sd["state"] = per_param
        optimizer.load_state_dict(sd)  # moves each tensor to its parameter's device and dtype
        return
    raise ValueError(f"cannot load Adam state into a {type(optimizer).__name__}")


# -- the dataset a run saw -----------------------------------------------------------------------
def dataset_fingerprint(dataset: Dataset) -> str:
    """sha256 of the train and test images and labels (full MNIST: ~50 ms), as 'n:hex'."""
    h = hashlib.sha256()
    for split in (dataset.train, dataset.test):
        for t in (split.images, split.labels):
            a = t.detach().cpu().contiguous().numpy()
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.data.cast("B"))
    return f"{len(dataset.train)}+{len(dataset.test)}:{h.hexdigest()[:32]}"


# -- planning a continuation ---------------------------------------------------------------------
def plan_resume(stored: "TrainConfig", config: "TrainConfig", model: "LatentModel",
                history: "History", resume: ResumeState | None, dataset: Dataset,
                device: torch.device | str = "cpu", *, stored_dataset: str = "",
                allow_other_dataset: bool = False) -> ResumeState:
    """Check that a run (its stored config, model, history, resume state) can continue as
    `config` on `dataset`; the state to start from, with notices where it will not be exact.

    ResumeError when it cannot: another model or hyper-parameter, no epochs left to train,
    another dataset (unless `allow_other_dataset`), a resume state that contradicts the file.
    """
    mc = model.config
    if stored.model_config(mc.n_classes) != mc:  # the classes follow the dataset
        raise ResumeError(f"the weights are a {mc.kind.upper()} nz={mc.nz} hidden="
                          f"{','.join(map(str, mc.hidden))}, not what the run's config says")
    for name in FIXED_FIELDS:
        old, new = getattr(stored, name), getattr(config, name)
        if old != new:
            raise ResumeError(f"the run was trained with {name.replace('_', ' ')} {_show(old)}; "
                              f"it cannot continue with {_show(new)}")
    from latent_explorer.training.engine.schedules import schedule_span

    if schedule_span(stored) != schedule_span(config):
        raise ResumeError(f"the run's schedules span {schedule_span(stored)} epochs; they "
                          f"cannot span {schedule_span(config)} when it continues")
    spe = batches_per_epoch(len(dataset.train), config.batch_size)
    done = resume.epochs_done if resume is not None else (
        history.epochs[-1].epoch if history.epochs else 0)
    if config.epochs <= done:
        raise ResumeError(f"the run has already trained {done} epoch{'s' if done != 1 else ''}; "
                          f"epochs is the total, so ask for more than {done}")
    notices: list[str] = []
    fp = dataset_fingerprint(dataset)
    stored_name = stored_dataset or stored.dataset
    same_data = (fp == resume.data_fingerprint if resume is not None and resume.data_fingerprint
                 else stored_name == dataset.name)
    if not same_data:
        if not allow_other_dataset:
            raise ResumeError(f"the run was trained on {stored_name or 'another dataset'}, not "
                              f"{dataset.name}; allow another dataset to continue on it anyway")
        notices.append(f"continuing on {dataset.name}, not the run's {stored_name or 'dataset'}: "
                       "the batches differ from an uninterrupted run's, and the epoch in "
                       "progress starts again on the new data")
    device_type = torch.device(device).type
    if resume is None:
        notices.append("this checkpoint holds no optimizer or random state (an older format): "
                       "training continues from its weights with a fresh Adam optimizer, so it "
                       "will not match an uninterrupted run")
        in_epoch = len(history) - done * spe
        return ResumeState(step=len(history), epochs_done=done,
                           batch_in_epoch=in_epoch if same_data and 0 <= in_epoch < spe else 0,
                           steps_per_epoch=spe,
                           epoch_generator_state=_fresh_state(stored.seed, len(history), device),
                           generator_device=device_type, data_fingerprint=fp,
                           notices=tuple(notices))
    if resume.step != len(history):
        raise ResumeError(f"the loss history has {len(history):,} steps but the resume state "
                          f"stopped at step {resume.step:,}; the file is inconsistent")
    n_params = sum(p.numel() for p in model.parameters())
    if resume.optimizer is not None and resume.optimizer.numel != n_params:
        raise ResumeError(f"the optimizer state holds {resume.optimizer.numel:,} numbers but the "
                          f"model has {n_params:,} parameters")
    state = replace(resume, data_fingerprint=fp)
    if same_data and resume.steps_per_epoch != spe:
        raise ResumeError(f"the run had {resume.steps_per_epoch} steps per epoch, this data gives "
                          f"{spe}")
    if not same_data:
        state = replace(state, batch_in_epoch=0, epoch_generator_state=None, steps_per_epoch=spe)
    if resume.weights is not None:
        own = model.state_dict()
        if set(resume.weights) != set(own) or any(
                resume.weights[k].shape != own[k].shape for k in own):
            raise ResumeError("the resume state's weights do not fit the run's model; the file "
                              "is inconsistent")
    if resume.generator_device != device_type:
        notices.append(f"the random state was saved on {resume.generator_device} and cannot be "
                       f"used on {device_type}: new random draws from here on")
        state = replace(state, generator_state=None,
                        epoch_generator_state=_fresh_state(stored.seed, resume.step, device),
                        generator_device=device_type)
    if resume.optimizer is None:
        notices.append("no optimizer state in this checkpoint: a fresh Adam optimizer")
    return replace(state, notices=tuple(notices))


def _show(v) -> str:
    if isinstance(v, tuple):
        return ",".join(map(str, v))
    return f"{v:g}" if isinstance(v, float) else str(v)


def _fresh_state(seed: int, step: int, device: torch.device | str) -> Tensor:
    """A generator state for a run whose own was not saved: new draws, still seeded."""
    g = torch.Generator(device=torch.device(device)).manual_seed((seed * 1_000_003 + step) % 2**63)
    return g.get_state()


# -- checkpoint storage ----------------------------------------------------------------------------
def resume_to_tensors(state: ResumeState) -> tuple[dict[str, Tensor], dict[str, str]]:
    """The tensors (under 'resume.') and the metadata entry that store `state`."""
    t: dict[str, Tensor] = {}
    if state.generator_state is not None:
        t["generator"] = state.generator_state
    if state.epoch_generator_state is not None:
        t["epoch_generator"] = state.epoch_generator_state
    opt = None
    if state.optimizer is not None:
        o = state.optimizer
        t["adam.exp_avg"], t["adam.exp_avg_sq"], t["adam.step"] = o.exp_avg, o.exp_avg_sq, o.step
        opt = {"lr": o.lr, "betas": list(o.betas), "eps": o.eps}
    meta = {"version": RESUME_VERSION, "step": state.step, "epochs_done": state.epochs_done,
            "batch_in_epoch": state.batch_in_epoch, "steps_per_epoch": state.steps_per_epoch,
            "generator_device": state.generator_device, "data_fingerprint": state.data_fingerprint,
            "adam": opt}
    if state.rate_control is not None:
        meta["rate_control"] = state.rate_control
    if state.best is not None:
        meta["best"] = state.best
    if state.weights is not None:
        t.update({WEIGHTS_PREFIX[len(PREFIX):] + k: v for k, v in state.weights.items()})
    return ({PREFIX + k: v.detach().cpu().contiguous() for k, v in t.items()},
            {"resume": json.dumps(meta)})


def resume_from_tensors(tensors: dict[str, Tensor], meta: dict[str, str]) -> ResumeState | None:
    """The ResumeState stored by `resume_to_tensors`; None when there is none; ValueError if bad."""
    if "resume" not in meta:
        return None
    info = json.loads(meta["resume"])
    if not isinstance(info, dict):
        raise ValueError("resume metadata is not an object")
    if int(info.get("version", 0)) > RESUME_VERSION:
        raise ValueError(f"resume state version {info.get('version')} is newer than this "
                         "code reads")
    step, done, in_epoch, spe = (int(info[k]) for k in
                                 ("step", "epochs_done", "batch_in_epoch", "steps_per_epoch"))
    if min(step, done, in_epoch) < 0 or spe < 1 or in_epoch >= spe:
        raise ValueError("resume counters out of range")

    def gen(name: str) -> Tensor | None:
        v = tensors.get(PREFIX + name)
        if v is not None and (v.dtype != torch.uint8 or v.dim() != 1):
            raise ValueError(f"bad {name} state")
        return v

    rate = info.get("rate_control")
    if rate is not None:
        from latent_explorer.training.engine.rate_control import RateControlState

        rate = RateControlState.from_dict(rate).to_dict()  # ValueError when malformed
    best = info.get("best")
    if best is not None:
        from latent_explorer.training.engine.schedules import BestEpoch

        best = BestEpoch.from_dict(best).to_dict()  # ValueError when malformed
    weights = {k[len(WEIGHTS_PREFIX):]: v for k, v in tensors.items()
               if k.startswith(WEIGHTS_PREFIX)} or None
    if weights is not None and not all(torch.isfinite(v).all() for v in weights.values()):
        raise ValueError("the weights to continue from hold NaN or Inf")
    opt = None
    if info.get("adam") is not None:
        a = info["adam"]
        avg, sq, st = (tensors.get(PREFIX + k) for k in ("adam.exp_avg", "adam.exp_avg_sq",
                                                         "adam.step"))
        if avg is None or sq is None or st is None:
            raise ValueError("Adam state tensors missing")
        if avg.dim() != 1 or avg.shape != sq.shape or st.numel() != 1:
            raise ValueError("Adam state tensors have bad shapes")
        if not (torch.isfinite(avg).all() and torch.isfinite(sq).all() and (sq >= 0).all()):
            raise ValueError("Adam state holds NaN, Inf or negative second moments")
        opt = OptimizerState(avg.float(), sq.float(), st.float().reshape(()), float(a["lr"]),
                             (float(a["betas"][0]), float(a["betas"][1])), float(a["eps"]))
    return ResumeState(step=step, epochs_done=done, batch_in_epoch=in_epoch, steps_per_epoch=spe,
                       generator_state=gen("generator"),
                       epoch_generator_state=gen("epoch_generator"),
                       generator_device=str(info.get("generator_device", "cpu")), optimizer=opt,
                       data_fingerprint=str(info.get("data_fingerprint", "")),
                       rate_control=rate, best=best, weights=weights)


__all__ = ["OptimizerState", "ResumeError", "ResumeState", "dataset_fingerprint",
           "load_optimizer_state", "optimizer_state", "plan_resume", "resume_from_tensors",
           "resume_to_tensors"]
