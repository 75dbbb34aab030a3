"""Sweeps on a Ray cluster: the members split into Ray Tune trials, each the one training loop
driving a stacked group of members, streamed back to the driver as the loop's own events.

`RaySweepTrainer` has the interface of `training.engine.sweep.SweepTrainer` (observers,
pause/resume/stop, `run() -> LoopResult`, `member_model`, `resume_state`), so the CLI's
progress bar and the app's worker treat it like a local sweep. Where the work runs:

- each trial (`_trial`, in a Ray worker process) trains its members with the local sweep's
  strategy (`sweep_members`: stacked, or one after another for conv) and the same `Loop`, ordering the minibatches by the whole sweep's first
  seed, so a member computes what it would locally, up to float rounding of a differently
  grouped batched step;
- after every epoch the trial reports the epoch's step losses, test metrics and failures and
  a checkpoint of its whole state (weights, Adam, generators, histories);
- in the driver, a Tune callback (`_Relay.on_trial_result`, in the thread that called
  `run()`) turns each report into the loop's StepsEvent, EpochEvent and MemberFailedEvent,
  with the other trials' members marked "no steps here";
- a trial whose worker dies is restarted by Tune from its last checkpoint (`max_failures`),
  continuing exactly;
- pause and stop go to a small control actor the trials poll about twice a second.

Ray is imported only here and only when a Ray sweep runs (the `cluster` extra installs it).
Every process this starts listens on 127.0.0.1; a cluster at `--address` is the user's own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from latent_explorer.models.autoencoders import LatentModel
from latent_explorer.training.config import data_shape, parse_address
from latent_explorer.training.data.datasets import Dataset, batches_per_epoch
from latent_explorer.training.engine.events import (EpochEvent, LoopResult, MemberFailedEvent, Observer,
                                    StepsEvent, TrainResult, all_failed_message, check_hooks,
                                    describe_error)
from latent_explorer.training.engine.members import history_from_state, seeded_model
from latent_explorer.training.engine.resume import OptimizerState, ResumeState, dataset_fingerprint
from latent_explorer.training.engine.sweep import SweepConfig
from latent_explorer.training.metrics.evaluate import EvalMetrics
from latent_explorer.training.record.history import History

ADDRESS_TIMEOUT_S = 5.0  # an unreachable --address is refused within this (twice, at most)
POLL_S = 0.5  # how often a trial asks the control actor whether to pause or stop
STATE_FILE = "trial.pt"


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached; the message says which."""


@dataclass(frozen=True)
class RaySettings:
    """Where a Ray sweep runs: an embedded local cluster (address None) or the one at
    `address` ('host:port' of its head), and how many CPUs each trial gets."""

    address: str | None = None
    cpus_per_trial: int = 1
    max_failures: int = 3  # restarts of a trial from its last checkpoint
    # Where trials keep the checkpoints a restart starts from: a folder every node of the
    # cluster sees at the same path (the workspace's .ray/, on shared storage); None: a
    # temporary folder on the driver, which only a single-machine cluster can read back.
    storage: str | None = None

    def __post_init__(self) -> None:
        if self.cpus_per_trial < 1:
            raise ValueError(f"cpus per trial must be at least 1, got {self.cpus_per_trial}")
        if self.address is not None:
            parse_address(self.address)


@contextlib.contextmanager
def _trial_storage(root: str | None) -> Iterator[tuple[str, str]]:
    """(storage_path, experiment name) for Tune's trial checkpoints, removed when the sweep
    ends (the members' own runs and checkpoints are the workspace's): a fresh temporary folder,
    or a uniquely named experiment under `root`, so sweeps sharing a workspace never meet."""
    if root is None:
        with tempfile.TemporaryDirectory(prefix="latent-explorer-ray-") as tmp:
            yield tmp, "sweep"
        return
    Path(root).mkdir(parents=True, exist_ok=True)
    name = f"sweep-{socket.gethostname()}-{os.getpid()}-{time.time_ns()}"
    try:
        yield str(Path(root).resolve()), name
    finally:
        shutil.rmtree(Path(root) / name, ignore_errors=True)


def check_address(address: str, timeout: float = ADDRESS_TIMEOUT_S) -> None:
    """Fail fast and in one line when nothing listens at a head's address (ray.init would
    otherwise retry for a minute)."""
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        raise RayUnavailable(f"no Ray cluster at {address}: {e.strerror or e} (start one with "
                             "`ray start --head`, or leave the address empty for a local "
                             "one)") from None


def import_ray():
    try:
        import ray
        from ray import tune  # noqa: F401
    except ImportError:
        raise RayUnavailable("Ray is not installed: pip install 'latent-explorer[cluster]' "
                             "(or pip install 'ray[tune]')") from None
    import ray

    return ray


def plan_trials(n_members: int, cpus_per_trial: int, cpus: int) -> list[list[int]]:
    """The members of each trial: as many trials as the cluster runs at once (never more than
    members), each a contiguous block of members, the blocks as even as they can be."""
    n_trials = max(1, min(n_members, cpus // max(1, cpus_per_trial)))
    base, extra = divmod(n_members, n_trials)
    out, start = [], 0
    for k in range(n_trials):
        size = base + (1 if k < extra else 0)
        out.append(list(range(start, start + size)))
        start += size
    return out


# -- the trial, in a Ray worker process ------------------------------------------------------------
def _trial(params: dict, dataset: Dataset | None = None) -> None:
    """Train one trial's members with the one loop, reporting every epoch to Tune."""
    from ray import tune

    assert dataset is not None  # the driver hands it over (tune.with_parameters)

    from latent_explorer.training.engine.loop import Loop
    from latent_explorer.training.engine.sweep import sweep_members

    params = {**params, "members": params["plan"][int(params["trial"])]}
    cpus = int(params["cpus"])
    torch.set_num_threads(cpus)
    cfg = SweepConfig.from_dict(params["sweep"])
    members = list(params["members"])
    configs = [cfg.member_config(m) for m in members]
    stacked = sweep_members(configs, torch.device("cpu"), workers=min(cpus, len(members)),
                            **data_shape(dataset), order_seed=cfg.members()[0][1])
    ckpt = tune.get_checkpoint()
    if ckpt is not None:  # a restart after a failure: continue exactly from the last epoch
        with ckpt.as_directory() as d:
            stacked.load_state(torch.load(Path(d) / STATE_FILE, weights_only=True))
    loop = Loop(cfg, stacked, dataset, notify_interval=POLL_S)
    reporter = _TrialReporter(loop, params)
    loop.observers.append(reporter)
    result = loop.run()
    reporter.report_end(result)


class _TrialReporter(Observer):
    """Reports each epoch (and the end) of a trial to Tune, and obeys the control actor."""

    def __init__(self, loop, params: dict) -> None:
        import ray

        self.loop = loop
        self.trial = int(params["trial"])
        self.members = list(params["members"])
        self.control = ray.get_actor(params["control"]) if params.get("control") else None
        self.first = loop.members.start_position()[0]  # the steps reported so far end here
        self.told_failed: set[int] = set()

    def on_steps(self, event: StepsEvent) -> None:
        if self.control is None:
            return
        import ray

        while True:  # blocking here pauses the loop between two batches
            state = ray.get(self.control.state.remote())
            if state == "stop":
                self.loop.request_stop()
                return
            if state != "pause":
                return
            time.sleep(POLL_S / 2)

    def on_epoch_end(self, event: EpochEvent) -> None:
        self._report("running", event, event.step, event.epoch)

    def report_end(self, result: LoopResult) -> None:
        pos = self.loop.members.histories
        step = max((len(h) for h in pos), default=self.first)
        done = max((h.epochs[-1].epoch for h in pos if h.epochs), default=0)
        self._report(result.state, None, step, done, error=result.error)

    def _report(self, state: str, event: EpochEvent | None, step: int, epochs_done: int,
                error: str | None = None) -> None:
        from ray import tune

        hs = self.loop.members.histories
        first = self.first
        losses = [np.stack([h.recon[first:], h.kl[first:], h.total[first:], h.beta[first:]])
                  .astype(np.float64) for h in hs]
        payload = {
            "trial": self.trial, "pid": os.getpid(), "state": state, "error": error,
            "members": self.members, "epoch": event.epoch if event else None, "step": step,
            "first_step": first, "member_steps": [len(h) for h in hs],
            "losses": [a.tolist() for a in losses],  # exact: float32 values in float64 JSON
            "metrics": [m.to_dict() if m is not None else None
                        for m in (event.metrics if event else [None] * len(hs))],
            "errors": list(self.loop.errors),
            "seconds": event.seconds if event else 0.0,
            "eval_seconds": event.eval_seconds if event else 0.0,
        }
        self.first = max(len(h) for h in hs)
        with tempfile.TemporaryDirectory() as d:
            torch.save(self.loop.members.state_dict(step, epochs_done), Path(d) / STATE_FILE)
            tune.report({"payload": json.dumps(payload), "epoch": payload["epoch"] or 0},
                        checkpoint=tune.Checkpoint.from_directory(d))


# -- the driver -------------------------------------------------------------------------------------
class RaySweepTrainer:
    """A sweep trained as Ray Tune trials, observed like a local sweep (see the module)."""

    engine = "ray"
    timeline_recorder = None

    def __init__(self, config: SweepConfig, dataset: Dataset | None = None,
                 observers: Sequence[Observer] = (), notify_interval: float = 1 / 30,
                 settings: RaySettings | None = None) -> None:
        for obs in observers:
            check_hooks(obs)
        self.config = config
        self.dataset = dataset
        self.observers = list(observers)
        self.settings = settings or RaySettings()
        self.device = torch.device("cpu")
        self.n_members = config.n_members
        self.member_configs = [config.member_config(m) for m in range(self.n_members)]
        self.errors: list[str | None] = [None] * self.n_members
        self.trial_pids: dict[int, int] = {}  # trial -> the process training it now
        self.histories = [History() for _ in range(self.n_members)]
        self._states: dict[int, dict] = {}  # trial -> its last reported state
        self._trial_of: dict[int, list[int]] = {}
        self._models: dict[int, LatentModel] = {}  # member -> the model of its last epoch
        self._member_state = ["running"] * self.n_members
        self._paused = threading.Event()
        self._stop = threading.Event()
        self._control = None
        self._lock = threading.Lock()

    # -- the loop's interface -----------------------------------------------------------------
    @property
    def active(self) -> tuple[bool, ...]:
        return tuple(e is None for e in self.errors)

    def pause(self) -> None:
        self._paused.set()
        self._tell("pause")

    def resume(self) -> None:
        self._paused.clear()
        self._tell("run")

    def request_stop(self) -> None:
        self._stop.set()
        self._tell("stop")

    @property
    def is_paused(self) -> bool:
        return self._paused.is_set()

    @property
    def is_waiting(self) -> bool:
        return self._paused.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _tell(self, state: str) -> None:
        with self._lock:
            if self._control is not None:
                try:
                    self._control.set.remote(state)
                except Exception:  # noqa: BLE001 - the cluster went away: the end reports it
                    pass

    def preview_model(self, m: int) -> LatentModel | None:
        """Member m's model as of its last reported epoch (None before the first)."""
        return self._models.get(m)

    def member_model(self, m: int) -> LatentModel:
        model = self._models.get(m)
        if model is None:
            model = seeded_model(self.member_configs[m], **data_shape(self.dataset))
        return model

    def resume_state(self, m: int) -> ResumeState | None:
        """Member m's state at its trial's last checkpoint (an epoch boundary)."""
        if self.errors[m] is not None:
            return None
        for k, members in self._trial_of.items():
            if m in members and k in self._states:
                return _member_resume(self._states[k], members.index(m), self.member_configs[m],
                                      self.dataset)
        return None

    def _emit(self, hook: str, arg) -> None:
        for obs in self.observers:
            getattr(obs, hook)(arg)

    # -- running ------------------------------------------------------------------------------
    def run(self) -> LoopResult:
        """Train every member on the cluster; never raises for failures (they are the result's)."""
        t0 = time.perf_counter()
        self._emit("on_train_start", self)
        try:
            state, error = self._run()
        except Exception as e:  # noqa: BLE001 - the cluster or Tune broke: failed, reported
            state, error = "failed", describe_error(e)
            self.errors = [err if err is not None else error for err in self.errors]
        seconds = time.perf_counter() - t0
        results = []
        for m in range(self.n_members):
            h = self.histories[m]
            member_state = "failed" if self.errors[m] is not None else (
                self._member_state[m] if self._member_state[m] != "running" else state)
            results.append(TrainResult(member_state, self.member_model(m), h, h.last_metrics,
                                       self.errors[m], seconds))
        result = LoopResult(state, self.config, tuple(results), error, seconds)
        self._emit("on_train_end", result)
        return result

    def _run(self) -> tuple[str, str | None]:
        ray = import_ray()
        from ray import tune

        if self.dataset is None:
            from latent_explorer.training.data.sources import load_dataset

            self.dataset = load_dataset(self.config.dataset, self.config.data_dir,
                                        **self.config.load_options)
        started = init_ray(ray, self.settings)
        try:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            per = min(self.settings.cpus_per_trial, max(1, cpus))
            trials = plan_trials(self.n_members, per, cpus)
            self._trial_of = dict(enumerate(trials))
            control_name = f"latent-explorer-control-{os.getpid()}-{id(self)}"
            with self._lock:
                self._control = _make_control(control_name)
            if self._paused.is_set():
                self._tell("pause")
            if self._stop.is_set():
                self._tell("stop")
            trainable = tune.with_resources(tune.with_parameters(_trial, dataset=self.dataset),
                                            {"cpu": per})
            space = {"trial": tune.grid_search(list(range(len(trials)))),
                     "plan": [list(t) for t in trials], "sweep": self.config.to_dict(),
                     "cpus": per, "control": control_name}
            with _trial_storage(self.settings.storage) as (storage, name):
                tuner = tune.Tuner(
                    trainable,
                    param_space=space,
                    tune_config=tune.TuneConfig(max_concurrent_trials=len(trials)),
                    run_config=tune.RunConfig(
                        name=name, storage_path=storage, verbose=0,
                        callbacks=[_Relay(self)],
                        failure_config=tune.FailureConfig(max_failures=self.settings.max_failures),
                        checkpoint_config=tune.CheckpointConfig(num_to_keep=2)))
                grid = tuner.fit()
                for res in grid:
                    if res.checkpoint is not None:
                        k = int(res.config["trial"])
                        with res.checkpoint.as_directory() as d:
                            state = torch.load(Path(d) / STATE_FILE, weights_only=True)
                        self.take_state(k, state)
                    if res.error is not None:
                        k = int(res.config["trial"])
                        for m in self._trial_of.get(k, []):
                            if self.errors[m] is None:
                                self.errors[m] = f"its Ray trial failed: {_one_line(res.error)}"
        finally:
            with self._lock:
                if self._control is not None:
                    try:
                        ray.kill(self._control)
                    except Exception:  # noqa: BLE001 - already gone with the cluster
                        pass
                self._control = None
            if started:
                ray.shutdown()
        if all(e is not None for e in self.errors):
            return "failed", all_failed_message(self.errors)
        if self._stop.is_set() or any(s == "stopped" for s in self._member_state):
            return "stopped", None
        return "finished", None

    # -- reports from the trials (the driver's thread, inside tuner.fit) ---------------------
    def on_report(self, payload: dict) -> None:
        k = int(payload["trial"])
        self.trial_pids[k] = int(payload["pid"])
        members = [int(m) for m in payload["members"]]
        M = self.n_members
        first = int(payload["first_step"])
        arrays = [np.asarray(a, dtype=np.float64) for a in payload["losses"]]
        n = max((a.shape[1] for a in arrays), default=0)
        newly_failed: list[tuple[int, str]] = []
        for j, m in enumerate(members):
            err = payload["errors"][j]
            if err is not None and self.errors[m] is None:
                self.errors[m] = err
                newly_failed.append((m, err))
            if payload["state"] != "running":
                self._member_state[m] = payload["state"]
        if n:
            grid = np.full((4, M, n), np.nan, dtype=np.float32)
            member_steps = [first] * M
            for j, m in enumerate(members):
                a = arrays[j]
                grid[:, m, : a.shape[1]] = a
                member_steps[m] = int(payload["member_steps"][j])
            epoch = payload["epoch"] or 1
            assert self.dataset is not None  # _run loaded it before the trials started
            spe = batches_per_epoch(len(self.dataset.train), self.config.batch_size)
            in_epoch = (first + n - 1) % spe + 1
            beta = grid[3] if any(c.target_rate is not None or c.kl_warmup or c.kl_cycles
                                  for c in self.member_configs) else None
            self._emit("on_steps", StepsEvent(
                first, grid[0], grid[1], grid[2], epoch, in_epoch, spe, spe * self.config.epochs,
                0.0, self.active, tuple(member_steps), beta=beta))
        for m, err in newly_failed:
            self._emit("on_member_failed", MemberFailedEvent(m, len(self.histories[m]), err))
        if payload["epoch"] is not None:
            metrics: list[EvalMetrics | None] = [None] * M
            for j, m in enumerate(members):
                d = payload["metrics"][j]
                metrics[m] = EvalMetrics.from_dict(d) if d is not None else None
            self._emit("on_epoch_end", EpochEvent(int(payload["epoch"]), int(payload["step"]),
                                                  tuple(metrics), float(payload["seconds"]),
                                                  float(payload["eval_seconds"])))

    def take_state(self, k: int, state: dict) -> None:
        """A trial's checkpoint: its members' histories and models, as of its last report."""
        self._states[k] = state
        members = self._trial_of.get(k, [])
        for j, m in enumerate(members):
            self.histories[m] = history_from_state(state, j)
            model = seeded_model(self.member_configs[m], **data_shape(self.dataset))
            names = [name for name, _ in model.named_parameters()]
            model.load_state_dict({name: p[j] for name, p in zip(names, state["params"])},
                                  strict=False)
            model.eval().requires_grad_(False)
            self._models[m] = model


def _member_resume(state: dict, j: int, config, dataset: Dataset | None) -> ResumeState:
    """Member j of a trial's state as the ResumeState of its single run."""
    params = state["params"]
    avg, sq, steps = state["adam"]
    sizes = [p.numel() for p in params]
    parts_avg, parts_sq, offset = [], [], 0
    for p, size in zip(params, sizes):
        rows = p.shape[0]
        parts_avg.append(avg[offset:offset + size].view(rows, -1)[j])
        parts_sq.append(sq[offset:offset + size].view(rows, -1)[j])
        offset += size
    opt = OptimizerState(torch.cat(parts_avg).float(), torch.cat(parts_sq).float(),
                         steps.float().reshape(()), config.lr, (0.9, 0.999), 1e-8)
    spe = batches_per_epoch(len(dataset.train), config.batch_size) if dataset is not None else 1
    return ResumeState(step=int(state["step"]), epochs_done=int(state["epochs_done"]),
                       batch_in_epoch=0, steps_per_epoch=spe,
                       epoch_generator_state=state["generators"][j], generator_device="cpu",
                       optimizer=opt,
                       data_fingerprint=dataset_fingerprint(dataset) if dataset else "")


def _one_line(error) -> str:
    text = str(error).strip().splitlines()
    return text[-1] if text else type(error).__name__


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def init_ray(ray, settings: RaySettings) -> bool:
    """Connect to the cluster at the address, or start an embedded one on 127.0.0.1; True when
    this call started Ray (so the sweep shuts it down again)."""
    _quiet_tune()
    if settings.address:
        check_address(settings.address)  # unreachable: one line within seconds
    if ray.is_initialized():  # this process is already connected (a test's, or the user's)
        current = ray.get_runtime_context().gcs_address
        if settings.address and parse_address(current) != parse_address(settings.address):
            raise RayUnavailable(f"this process is already connected to the Ray cluster at "
                                 f"{current}, not {settings.address}")
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    local = settings.address is None or is_loopback(parse_address(settings.address)[0])
    _loopback_only(local)
    if settings.address:
        ray.init(address=settings.address, logging_level="ERROR", log_to_driver=False,
                 configure_logging=False)
    else:
        ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False,
                 _node_ip_address="127.0.0.1", logging_level="ERROR", log_to_driver=False,
                 configure_logging=False)
    return True


def _loopback_only(on: bool) -> None:
    """Keep every Ray process of this machine on 127.0.0.1 (an embedded cluster, or one whose
    head is on loopback), or let Ray use the node's address (a real cluster).

    Ray turns 127.0.0.1 into the machine's routable address and listens there unless it
    believes multi-node clusters are off (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, read by the
    processes it starts, and the constant its node-address lookup reads in this one). Token
    authentication is left off only on loopback, where no other machine can connect; a real
    cluster keeps its own setting (the README says how to secure one).
    """
    from ray._private import ray_constants

    if on:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray_constants.ENABLE_RAY_CLUSTER = False
    else:
        os.environ.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
        if os.environ.get("RAY_AUTH_MODE") == "disabled":
            os.environ.pop("RAY_AUTH_MODE")
        ray_constants.ENABLE_RAY_CLUSTER = not ray_constants.IS_WINDOWS_OR_OSX


def _quiet_tune() -> None:
    """Tune's tables, progress lines and hints would interleave with our own progress bar and
    messages: the sweep's own observers report instead."""
    import logging

    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    for name in ("ray", "ray.tune", "ray.train", "ray.air"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _make_control(name: str):
    """The control actor the trials poll: 'run', 'pause' or 'stop', set by the driver."""
    import ray

    @ray.remote(num_cpus=0)
    class Control:
        def __init__(self) -> None:
            self.value = "run"

        def set(self, value: str) -> None:
            if self.value != "stop":  # a stop is final
                self.value = value

        def state(self) -> str:
            return self.value

    # ray.remote made Control an actor class, which mypy cannot see through a class decorator.
    return Control.options(name=name).remote()  # type: ignore[attr-defined]


def _relay_class():
    from ray.tune import Callback

    class Relay(Callback):
        """Each trial's report, in the driver: the loop's events to the sweep's observers."""

        def __init__(self, driver: RaySweepTrainer) -> None:
            self.driver: RaySweepTrainer | None = driver

        # Tune pickles its run config into the experiment's state; the driver (its threads,
        # locks and observers) stays behind: a restored experiment relays to no one.
        def __getstate__(self) -> dict:
            return {}

        def __setstate__(self, state: dict) -> None:
            self.driver = None

        def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
            payload = result.get("payload")
            if payload is not None and self.driver is not None:
                self.driver.on_report(json.loads(payload))

        def on_checkpoint(self, iteration, trials, trial, checkpoint, **info) -> None:
            try:
                with checkpoint.as_directory() as d:
                    state = torch.load(Path(d) / STATE_FILE, weights_only=True)
            except Exception:  # noqa: BLE001 - a preview only: the end loads the last one
                return
            if self.driver is not None:
                self.driver.take_state(int(trial.config["trial"]), state)

    return Relay


def _Relay(driver: RaySweepTrainer):  # noqa: N802
    return _relay_class()(driver)


__all__ = ["RaySettings", "RaySweepTrainer", "RayUnavailable", "check_address", "parse_address",
           "plan_trials"]
