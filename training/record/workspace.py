"""A workspace: a folder of runs on disk, written from a run's first step, read from anywhere.

Each run is a sub-folder with one writer (a window's job, `main.py train`, a sweep member or a
Ray trial, all through `RunWriter`):

- `run.json`: name, config, kind, dataset, state, host, pid, heartbeat, latest checkpoint. It is
  replaced whole (temporary file + `os.replace`), never edited in place, so a reader sees the
  old file or the new one.
- `metrics.jsonl`: append-only, one JSON object a line (`steps` chunks of per-step losses and
  β; `epoch` test metrics). Written in batches at least once a second; a reader skips a torn
  last line and reads it once it is whole (TensorBoard's reader does the same).
- `checkpoints/`: checksummed checkpoints with the exact-resume state, written atomically at
  epoch ends (at most every `CHECKPOINT_INTERVAL_S`, and always at the end); the latest and the
  final are kept.
- `writer.lock`: host and pid of the one writer. It is stale once that process is gone, and a
  run whose writer is gone while it says `training` reads as `interrupted`.
- `control.json`: what a viewer asks of the writer (`pause`, `resume`, `stop`), read by the
  writer between batches.

Nothing here imports Qt; the window's reader and the CLI's `runs` share it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, TextIO

from latent_explorer.training.engine.events import Observer
from latent_explorer.training.record.names import file_stem

if TYPE_CHECKING:
    from latent_explorer.training.engine.events import (EpochEvent, LoopResult,
                                                         MemberFailedEvent, StepsEvent)

FORMAT = 1  # run.json's format; a newer one is listed with a notice, never written over
RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
CONTROL_FILE = "control.json"
LOCK_FILE = "writer.lock"
CHECKPOINTS = "checkpoints"
TRASH = ".trash"
ENV = "LATENT_EXPLORER_WORKSPACE"

FLUSH_INTERVAL_S = 0.5  # metrics reach the file at least this often (issue: at least 1/s)
HEARTBEAT_INTERVAL_S = 5.0
STALE_AFTER_S = 30.0  # a heartbeat this old, with its process gone, means the writer died
# Epoch checkpoints at most this often (an epoch of the bundled sample takes 0.1 s; writing an
# MLP's checkpoint about 30 ms); LATENT_EXPLORER_CHECKPOINT_INTERVAL_S=0 writes every epoch.
CHECKPOINT_INTERVAL_S = float(os.environ.get("LATENT_EXPLORER_CHECKPOINT_INTERVAL_S", "") or 10.0)
CONTROL_POLL_S = 0.25

STATES = ("training", "paused", "finished", "stopped", "failed", "interrupted")


class WorkspaceError(Exception):
    """A workspace that cannot be used (not a folder, not writable): one line for the user."""


def default_workspace() -> Path:
    """$LATENT_EXPLORER_WORKSPACE, else runs/ in the user's data folder (platformdirs)."""
    env = os.environ.get(ENV, "").strip()
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("latent-explorer", appauthor=False) / "runs"


def open_workspace(path: str | os.PathLike | None = None, create: bool = True) -> "Workspace":
    """The workspace at `path` (default: `default_workspace()`), made if missing; refused with
    a WorkspaceError when it is a file or cannot be written."""
    root = Path(path).expanduser() if path else default_workspace()
    if root.exists() and not root.is_dir():
        raise WorkspaceError(f"workspace {root} is not a folder")
    if not root.exists():
        if not create:
            raise WorkspaceError(f"workspace {root} does not exist")
        try:
            root.mkdir(parents=True)
        except OSError as e:
            raise WorkspaceError(f"cannot make workspace {root}: {e.strerror or e}") from None
    return Workspace(root)


def write_json_atomic(path: Path, obj: Any, durable: bool = True) -> None:
    """Replace `path` with `obj` as JSON: a temporary file beside it, flushed, then renamed.

    `durable`: fsync before the rename, so the new file survives a power cut too. A heartbeat
    needs no more than the rename (a killed process loses nothing the kernel holds; the next
    beat replaces it in seconds), and its fsync was a third of the writer's cost per epoch."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1, allow_nan=False, default=_plain)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _plain(value: Any) -> Any:
    """JSON for numpy numbers and paths."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _finite(values) -> list[float | None]:
    """Floats for JSON: NaN and infinities become null."""
    return [float(v) if math.isfinite(v) else None for v in map(float, values)]


def process_alive(host: str, pid: int) -> bool | None:
    """Whether process `pid` on `host` runs: True/False on this host, None (unknown) elsewhere."""
    if host != socket.gethostname():
        return None
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except OSError:
        return False
    return True


def _now() -> float:
    return time.time()


# -- reading -----------------------------------------------------------------------------------
@dataclass
class RunRecord:
    """What a run folder's run.json says, as a reader sees it (no weights, no history)."""

    folder: Path
    name: str = ""
    state: str = "failed"
    kind: str = ""
    dataset: str = ""
    config: dict = field(default_factory=dict)
    group: str = ""
    member: int = 0
    epoch: int = 0
    step: int = 0
    checkpoint: str | None = None
    host: str = ""
    pid: int = 0
    heartbeat: float = 0.0
    created: float = 0.0
    error: str | None = None
    problem: str | None = None  # why the folder cannot be read (one line), None when it can

    @property
    def checkpoint_path(self) -> Path | None:
        return self.folder / self.checkpoint if self.checkpoint else None

    @property
    def is_readable(self) -> bool:
        return self.problem is None

    def to_json(self) -> dict:
        """The CLI's `runs --json` object."""
        return {"name": self.name, "folder": str(self.folder), "state": self.state,
                "kind": self.kind, "dataset": self.dataset, "group": self.group,
                "epoch": self.epoch, "step": self.step,
                "checkpoint": str(self.checkpoint_path) if self.checkpoint_path else None,
                "host": self.host, "pid": self.pid, "heartbeat": self.heartbeat,
                "error": self.error, "problem": self.problem}


def read_run(folder: str | os.PathLike, now: float | None = None) -> RunRecord:
    """The run in `folder`; never raises: an unreadable one says why in `problem`."""
    folder = Path(folder)
    path = folder / RUN_FILE
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(d, dict):
            raise ValueError("not an object")
    except FileNotFoundError:
        return RunRecord(folder, name=folder.name, problem="no run.json: not a run folder")
    except (OSError, ValueError, UnicodeDecodeError) as e:
        return RunRecord(folder, name=folder.name, problem=f"run.json cannot be read ({e})")
    fmt = d.get("format", 1)
    if not isinstance(fmt, int) or fmt > FORMAT:
        return RunRecord(folder, name=str(d.get("name") or folder.name),
                         problem=f"written by a newer version (run format {fmt}; this one "
                                 f"reads {FORMAT}): update Latent Explorer to open it")
    try:
        rec = RunRecord(
            folder, name=str(d.get("name") or folder.name), state=str(d.get("state", "failed")),
            kind=str(d.get("kind", "")), dataset=str(d.get("dataset", "")),
            config=dict(d.get("config") or {}), group=str(d.get("group", "")),
            member=int(d.get("member", 0)), epoch=int(d.get("epoch", 0)),
            step=int(d.get("step", 0)), checkpoint=d.get("checkpoint") or None,
            host=str(d.get("host", "")), pid=int(d.get("pid", 0)),
            heartbeat=float(d.get("heartbeat", 0.0)), created=float(d.get("created", 0.0)),
            error=d.get("error"))
    except (TypeError, ValueError) as e:
        return RunRecord(folder, name=folder.name, problem=f"run.json has a bad field ({e})")
    if rec.checkpoint and not (folder / rec.checkpoint).is_file():
        rec.checkpoint = latest_checkpoint(folder)  # an older writer, or a file removed by hand
    if rec.state not in STATES:
        rec.problem = f"run.json has an unknown state {rec.state!r}"
    elif rec.state in ("training", "paused") and writer_gone(rec, now):
        rec.state = "interrupted"
    return rec


def latest_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint in a run folder (final, else the highest epoch), relative."""
    ckpts = folder / CHECKPOINTS
    if (ckpts / "final.safetensors").is_file():
        return f"{CHECKPOINTS}/final.safetensors"
    epochs = sorted(ckpts.glob("epoch-*.safetensors")) if ckpts.is_dir() else []
    return f"{CHECKPOINTS}/{epochs[-1].name}" if epochs else None


def writer_gone(rec: RunRecord, now: float | None = None) -> bool:
    """Whether the run's writer died: its process is gone (this host), or its heartbeat is
    stale and its process cannot be asked (another host)."""
    alive = process_alive(rec.host, rec.pid)
    if alive is False:
        return True
    stale = ((now if now is not None else _now()) - rec.heartbeat) > STALE_AFTER_S
    return alive is None and stale


class MetricsReader:
    """Reads a run's metrics.jsonl from where it stopped (a file offset): only what is new."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.path = Path(folder) / METRICS_FILE
        self.offset = 0

    def read_new(self) -> list[dict]:
        """The whole lines written since the last call; a torn last line waits for its end,
        and a line that is not JSON is skipped, never an error."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        out = []
        for line in data[:end].split(b"\n"):
            try:
                obj = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out


def history_from_records(records: list[dict]):
    """A History of a run's metrics records (steps and epochs)."""
    from latent_explorer.training.metrics.evaluate import EvalMetrics
    from latent_explorer.training.record.history import History

    h = History()
    for rec in records:
        apply_record(h, rec, EvalMetrics)
    return h


def apply_record(history, rec: dict, metrics_cls=None) -> None:
    """Add one metrics record to a History (records of steps already in it are skipped)."""
    kind = rec.get("t")
    if kind == "resume":  # continued from a checkpoint: what the log holds past it is redone
        history.truncate(int(rec.get("step", 0)), int(rec.get("epoch", 0)))
    elif kind == "steps":
        first = int(rec.get("first", 0))
        recon, kl, total = rec.get("recon", []), rec.get("kl", []), rec.get("total", [])
        beta = rec.get("beta") or [None] * len(total)
        for i, (r, k, t, b) in enumerate(zip(recon, kl, total, beta)):
            if first + i < len(history):
                continue
            nan = math.nan
            history.append(nan if r is None else r, nan if k is None else k,
                           nan if t is None else t, nan if b is None else b)
    elif kind == "epoch":
        if metrics_cls is None:
            from latent_explorer.training.metrics.evaluate import EvalMetrics as metrics_cls
        epoch = int(rec.get("epoch", 0))
        if any(e.epoch == epoch for e in history.epochs):
            return
        try:
            metrics = metrics_cls.from_dict(rec["metrics"])
        except (KeyError, TypeError, ValueError):
            return
        history.add_epoch(epoch, int(rec.get("step", 0)), metrics)


class Workspace:
    """A folder of run folders."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def run_folders(self) -> Iterator[Path]:
        """Every run folder (a folder with a run.json, or one that should have it), by name."""
        try:
            entries = sorted(self.root.iterdir())
        except OSError:
            return
        for p in entries:
            if p.is_dir() and not p.name.startswith("."):
                yield p

    def runs(self) -> list[RunRecord]:
        """Every run, from the run files alone (no weights, no metrics), oldest first."""
        now = _now()
        records = [read_run(p, now) for p in self.run_folders()]
        return sorted(records, key=lambda r: (r.created, r.folder.name))

    def new_run_folder(self, name: str) -> Path:
        """A new, empty folder for a run called `name`: time-stamped, never an existing one."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{file_stem(name)}"
        for n in range(1, 10_000):
            folder = self.root / (base if n == 1 else f"{base}-{n}")
            try:
                folder.mkdir(parents=True)
                return folder
            except FileExistsError:
                continue
        raise WorkspaceError(f"no free folder name for {name} in {self.root}")

    def find(self, name_or_folder: str) -> Path | None:
        """A run folder by its path or folder name (None when there is none)."""
        p = Path(name_or_folder)
        if (p / RUN_FILE).is_file():
            return p
        q = self.root / name_or_folder
        return q if (q / RUN_FILE).is_file() else None

    # -- trash ---------------------------------------------------------------------------------
    def trash(self, folder: Path) -> Path:
        """Move a run into the workspace's trash (undoable with `restore`)."""
        bin_ = self.root / TRASH
        bin_.mkdir(exist_ok=True)
        target = bin_ / folder.name
        n = 1
        while target.exists():
            n += 1
            target = bin_ / f"{folder.name}-{n}"
        os.replace(folder, target)
        return target

    def restore(self, trashed: Path) -> Path:
        target = self.root / trashed.name
        if target.exists():
            raise WorkspaceError(f"{target.name} exists in the workspace")
        os.replace(trashed, target)
        return target

    def trashed(self) -> list[Path]:
        bin_ = self.root / TRASH
        return sorted(p for p in bin_.iterdir() if p.is_dir()) if bin_.is_dir() else []

    def empty_trash(self) -> int:
        import shutil

        folders = self.trashed()
        for p in folders:
            shutil.rmtree(p, ignore_errors=True)
        return len(folders)


def request(folder: str | os.PathLike, what: str) -> None:
    """Ask a run's writer to `pause`, `resume` or `stop` (it reads this between batches)."""
    if what not in ("pause", "resume", "stop"):
        raise ValueError(f"unknown request {what!r}")
    write_json_atomic(Path(folder) / CONTROL_FILE, {"request": what, "time": _now()})


def read_request(folder: Path) -> str | None:
    try:
        d = json.loads((folder / CONTROL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    r = d.get("request") if isinstance(d, dict) else None
    return r if r in ("pause", "resume", "stop") else None


# -- writing -----------------------------------------------------------------------------------
class RunLock:
    """One writer per run: a lock file made exclusively, holding host and pid; taken over when
    its process is gone (stale)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self.held = False

    def acquire(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._stale():
                    raise WorkspaceError(f"{self.path.parent.name} is being written by another "
                                         f"process ({self._holder()})") from None
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"host": socket.gethostname(), "pid": os.getpid()}, f)
            self.held = True
            return
        raise WorkspaceError(f"cannot lock {self.path.parent.name}")

    def _holder_dict(self) -> dict:
        try:
            d = json.loads(self.path.read_text(encoding="utf-8"))
            return d if isinstance(d, dict) else {}
        except (OSError, ValueError):
            return {}

    def _holder(self) -> str:
        d = self._holder_dict()
        return f"pid {d.get('pid', '?')} on {d.get('host', '?')}"

    def _stale(self) -> bool:
        """Its holder is gone: its process has ended (this host), or (another host, whose
        processes cannot be asked) the run's heartbeat is older than STALE_AFTER_S."""
        d = self._holder_dict()
        if not d:  # half-written by a process that died at once, or garbage
            return True
        alive = process_alive(str(d.get("host", "")), int(d.get("pid", 0) or 0))
        if alive is not None:
            return not alive
        rec = read_run(self.path.parent)
        return _now() - rec.heartbeat > STALE_AFTER_S

    def release(self) -> None:
        if self.held:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.held = False


class RunWriter(Observer):
    """Writes member `member` of a training loop into a run folder, from its first step.

    The same for every writer: the window's jobs, `main.py train`, every member of a sweep (one
    RunWriter each) and every Ray trial. Pass `folder` to continue a run in its own folder.
    Any failure to write (full disk, read-only workspace) is kept in `write_error` and ends
    further writing; it never stops the training itself.
    """

    def __init__(self, workspace: Workspace, name: str, member: int = 0, group: str = "",
                 folder: Path | None = None, dataset: str = "") -> None:
        self.workspace, self.name, self.member, self.group = workspace, name, member, group
        self.dataset = dataset
        self.folder = folder
        self.lock: RunLock | None = None
        self.loop: Any = None  # what on_train_start hands over: a Loop, or the Ray sweep's driver
        self.state = "training"
        self.epoch = self.step = 0
        self.checkpoint: str | None = None
        self.error: str | None = None
        self.write_error: str | None = None
        self.created = _now()
        self._buffer: list[str] = []
        self._last_flush = self._last_beat = self._last_ckpt = 0.0
        self._metrics: TextIO | None = None
        self._stop_control = threading.Event()
        self._control_thread: threading.Thread | None = None
        self._lock = threading.Lock()  # the run file is written from the loop and control thread

    # -- the observer hooks ----------------------------------------------------------------------
    def on_train_start(self, loop) -> None:
        self.loop = loop
        self._resumed_at = None
        try:
            if self.folder is None:
                self.folder = self.workspace.new_run_folder(self.name)
            else:
                prev = read_run(self.folder)
                if prev.is_readable:
                    self.created = prev.created or self.created
                    self.checkpoint = prev.checkpoint
                    self.group = self.group or prev.group
            (self.folder / CHECKPOINTS).mkdir(exist_ok=True)
            self.lock = RunLock(self.folder)
            self.lock.acquire()
            with contextlib.suppress(FileNotFoundError):
                (self.folder / CONTROL_FILE).unlink()  # an old request is not for this writer
            self._metrics = open(self.folder / METRICS_FILE, "a", encoding="utf-8")
            if loop.dataset is not None and not self.dataset:
                self.dataset = loop.dataset.name
            self.step = len(loop.histories[self.member]) if loop.histories else 0
            if self.step:  # continued: the log may reach past the checkpoint it continues
                self.epoch = len(loop.histories[self.member].epochs)
                self._metrics.write(json.dumps({"t": "resume", "step": self.step,
                                                "epoch": self.epoch}) + "\n")
                self._metrics.flush()
            self._write_run_file()
        except (OSError, WorkspaceError) as e:
            self._failed_write(e)
            return
        self._control_thread = threading.Thread(target=self._watch_control, daemon=True,
                                                name=f"workspace-control-{self.folder.name}")
        self._control_thread.start()

    def on_steps(self, event: "StepsEvent") -> None:
        ev = event.for_member(self.member)
        if ev is None or self._metrics is None:
            return
        rec = {"t": "steps", "first": ev.first_step, "epoch": ev.epoch, "w": round(_now(), 3),
               "recon": _finite(ev.recon[0]), "kl": _finite(ev.kl[0]),
               "total": _finite(ev.total[0])}
        if ev.beta is not None:
            rec["beta"] = _finite(ev.beta[0])
        else:
            beta = self._member_beta()
            if beta is not None:
                rec["b"] = beta
        self._buffer.append(json.dumps(rec, separators=(",", ":")))
        self.step = ev.last_step + 1
        now = time.monotonic()
        if now - self._last_flush >= FLUSH_INTERVAL_S:
            self._flush()
        if now - self._last_beat >= HEARTBEAT_INTERVAL_S:
            self._last_beat = now
            self._write_run_file(durable=False)  # a heartbeat: the state is unchanged

    def on_epoch_end(self, event: "EpochEvent") -> None:
        ev = event.for_member(self.member)
        if ev is None or ev.metrics[0] is None or self._metrics is None:  # None: it had failed
            return
        self._buffer.append(json.dumps({"t": "epoch", "epoch": ev.epoch, "step": ev.step,
                                        "metrics": ev.metrics[0].to_dict()},
                                       separators=(",", ":"), default=_plain))
        self.epoch, self.step = ev.epoch, ev.step
        self._flush()
        now = time.monotonic()
        saved = now - self._last_ckpt >= CHECKPOINT_INTERVAL_S or self._last_ckpt == 0.0
        if saved:
            self._last_ckpt = now
            # a local loop's state at this boundary; a Ray sweep's last reported one
            state_of = getattr(self.loop, "epoch_end_state", None) or self.loop.resume_state
            self._save_checkpoint(f"epoch-{ev.epoch:04d}.safetensors", "training",
                                  state_of(self.member))
        # Durable when it names a new checkpoint; else only the epoch count moved.
        self._write_run_file(durable=saved)

    def on_snapshot(self, event) -> None:
        pass  # the timeline travels inside each checkpoint

    def on_member_failed(self, event: "MemberFailedEvent") -> None:
        if event.member == self.member:
            self.error = event.message

    def on_train_end(self, result: "LoopResult") -> None:
        self._stop_control.set()
        if self._control_thread is not None:
            self._control_thread.join(timeout=2)
        if self._metrics is None:
            return
        res = result.for_member(self.member) if result.results else None
        self.state = res.state if res is not None else result.state
        self.error = (res.error if res is not None else None) or result.error or self.error
        self._flush()
        # A member that never took a step (its Ray cluster could not be reached) has only its
        # initial weights: no final checkpoint, so a relaunch does not list random weights.
        if res is not None and res.model is not None and len(res.history):
            self._save_checkpoint("final.safetensors", self.state,
                                  self.loop.resume_state(self.member), final=res)
        self._write_run_file()
        with contextlib.suppress(OSError):
            self._metrics.close()
        self._metrics = None
        if self.lock is not None:
            self.lock.release()

    # -- helpers ---------------------------------------------------------------------------------
    def _member_beta(self) -> float | None:
        cfg = self._config()
        return float(cfg.beta) if cfg.kind != "ae" else None

    def _config(self):
        """The member's TrainConfig (a single run's own, or a sweep's member's)."""
        cfg = self.loop.config
        return cfg.member_config(self.member) if hasattr(cfg, "member_config") else cfg

    def _flush(self) -> None:
        if not self._buffer or self._metrics is None:
            self._last_flush = time.monotonic()
            return
        try:
            self._metrics.write("\n".join(self._buffer) + "\n")
            self._metrics.flush()
        except OSError as e:
            self._failed_write(e)
        self._buffer.clear()
        self._last_flush = time.monotonic()

    def _save_checkpoint(self, file_name: str, state: str, resume, final=None) -> None:
        from latent_explorer.training.record.checkpoint import Checkpoint, save_checkpoint

        if self.folder is None or self.write_error:
            return
        loop, m = self.loop, self.member
        try:
            if final is not None:
                model, history, metrics = final.model, final.history, final.metrics
            else:
                model, history = loop.member_model(m), loop.histories[m]
                metrics = history.last_metrics
                if getattr(self._config(), "keep", "last") == "best":
                    # The weights the run keeps (its best epoch's); the resume state holds the
                    # last ones it continues from.
                    model, metrics, _ = loop.kept(m)
            rec = getattr(loop, "timeline_recorder", None) if m == 0 else None
            ckpt = Checkpoint(model, self._config(), history, metrics, name=self.name,
                              dataset=self.dataset, state=state, group=self.group,
                              resume=resume, timeline=rec.timeline if rec is not None else None)
            save_checkpoint(self.folder / CHECKPOINTS / file_name, ckpt)
        except OSError as e:
            self._failed_write(e)
            return
        previous, self.checkpoint = self.checkpoint, f"{CHECKPOINTS}/{file_name}"
        if previous and previous != self.checkpoint and "epoch-" in previous:
            # The run file names the new one before the old one goes: killed in between, it
            # still names a file that exists (benchmarks/kill_resume.py found this).
            self._write_run_file()
            with contextlib.suppress(OSError):
                (self.folder / previous).unlink()  # keep the latest and the final

    def _run_file(self) -> dict:
        cfg = self._config()
        return {"format": FORMAT, "name": self.name, "state": self.state, "kind": cfg.kind,
                "dataset": self.dataset, "config": cfg.to_dict(), "group": self.group,
                "member": self.member, "epoch": self.epoch, "step": self.step,
                "checkpoint": self.checkpoint, "host": socket.gethostname(), "pid": os.getpid(),
                "heartbeat": _now(), "created": self.created, "error": self.error}

    def _write_run_file(self, durable: bool = True) -> None:
        if self.folder is None or self.write_error:
            return
        with self._lock:
            try:
                write_json_atomic(self.folder / RUN_FILE, self._run_file(), durable)
            except OSError as e:
                self._failed_write(e)

    def _failed_write(self, e: BaseException) -> None:
        what = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            what = "the disk is full"
        self.write_error = f"cannot write the run into the workspace: {what}"
        if self._metrics is not None:
            with contextlib.suppress(OSError):
                self._metrics.close()
            self._metrics = None

    def _watch_control(self) -> None:
        """Apply a viewer's pause, resume and stop requests (the loop checks them per batch)."""
        assert self.folder is not None
        last = None
        while not self._stop_control.wait(CONTROL_POLL_S):
            what = read_request(self.folder)
            if what == last or what is None:
                continue
            last = what
            loop = self.loop
            if what == "pause":
                loop.pause()
                self.state = "paused"
            elif what == "resume":
                loop.resume()
                self.state = "training"
            elif what == "stop":
                loop.request_stop()
            self._write_run_file()


__all__ = ["RunRecord", "RunWriter", "RunLock", "MetricsReader", "Workspace", "WorkspaceError",
           "default_workspace", "open_workspace", "read_run", "request", "history_from_records",
           "apply_record", "write_json_atomic", "STATES"]
