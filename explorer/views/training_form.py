"""The training form: model kind, architecture, dataset, β, nz, epochs, batch size, learning rate, seed.

"Sweep β" mode (VAE/CVAE): the single β and seed give way to a list of βs (typed, or filled
from a log grid) and a list of seeds; Train then asks for a sweep (`sweep_requested`, with
the plain values of a training.engine.sweep.SweepConfig) that trains every (β, seed) at once.

Bad values are refused here with an inline message (never an exception). The form is Qt-only:
it hands plain values to the window, which builds the engine's TrainConfig.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from latent_explorer.models.architectures import DEFAULT_ARCH, list_archs
from latent_explorer.models.priors import DEFAULT_PRIOR, DEFAULT_PSEUDO_INPUTS, VAMP, prior_problems
from latent_explorer.explorer.views.time_estimate import SpeedBook
from latent_explorer.explorer.widgets.beta_control import BetaControl, parse_beta
from latent_explorer.explorer.widgets.prior_control import PriorControl
from latent_explorer.explorer.widgets.schedule_control import SCHEDULE_DEFAULTS, ScheduleControl
from latent_explorer.models.registry import get_kind, list_kinds
from latent_explorer.training.data.sources import default_epochs, list_sources

FOLDER_ITEM = "Folder (idx files, or one sub-folder of images per class)…"
SAMPLE_TRAIN = 4500  # 'auto' offline: the bundled sample's training split
LR_MIN, LR_MAX = 1e-6, 1e4
_CHOOSE_FOLDER = "choose-folder"
_FOLDER_PREFIX = "folder:"
DEFAULTS = {"kind": "vae", "arch": DEFAULT_ARCH, "prior": DEFAULT_PRIOR,
            "pseudo_inputs": DEFAULT_PSEUDO_INPUTS, "beta": 0.005, "nz": 32, "epochs": None, "batch_size": 64, "lr": 1e-3,
            "seed": 0, "dataset": "auto", "data_dir": None,
            "target_rate": None,  # epochs None: follow the dataset; target_rate None: β fixed
            "device": "auto", "threads": 0,  # threads 0: torch's default, one per core
            **SCHEDULE_DEFAULTS}  # no schedule: the course's constant β and learning rate
COURSE_BETAS_TEXT = "0, 1e-4, 1e-3, 1e-2, 0.1, 1, 10"  # the course's grid (training.engine.sweep)
SWEEP_DEFAULTS = {"sweep": False, "betas": COURSE_BETAS_TEXT, "sweep_seeds": "0",
                  "run_on": "local", "ray_address": ""}
ESTIMATE_LINES = 3  # the estimate's height, whatever it says
INVALID_STYLE = 'QLineEdit[invalid="true"] { border: 2px solid #d62728; border-radius: 2px; }'


def _split_source(data: str) -> tuple[str, str | None]:
    """A dataset combo entry as (source, data_dir); a folder's source is 'folder'."""
    if data.startswith(_FOLDER_PREFIX):
        return "folder", data[len(_FOLDER_PREFIX):]
    if data == _CHOOSE_FOLDER:
        return "folder", None
    return data, None


def config_from_values(values: dict):
    """The engine's TrainConfig for the form's values; TypeError/ValueError says what is wrong."""
    from latent_explorer.training.engine.loop import TrainConfig  # torch: only once the window is up

    kw = dict(values)
    kw.pop("threads", None)  # the training thread's setting, not the run's (see TrainingForm)
    if kw.get("epochs") is None:
        raise ValueError("choose the number of epochs")
    if not get_kind(kw["kind"]).variational or kw.get("beta") is None:
        kw["beta"] = kw.get("beta") or 0.0
    return TrainConfig(**kw)


def _bad_address(address: str) -> str | None:
    """Why a Ray head address is not host:port (None when it is); torch-free."""
    from latent_explorer.training.config import parse_address

    try:
        parse_address(address)
    except ValueError as e:
        return str(e)
    return None


def parse_target_rate(text: str) -> tuple[float | None, str | None]:
    """The target rate field: empty is off (β stays fixed), else nats > 0."""
    text = text.strip()
    if not text:
        return None, None
    try:
        v = float(text)
    except ValueError:
        return None, f"target rate {text!r} is not a number (leave it empty to keep β fixed)"
    if not (math.isfinite(v) and v > 0):
        return None, f"target rate must be a number of nats > 0, got {text}"
    return v, None


def parse_lr(text: str) -> tuple[float | None, str | None]:
    """(learning rate, None) or (None, reason)."""
    try:
        v = float(text.strip().replace(",", "."))
    except ValueError:
        return None, f"learning rate must be a number, got {text.strip()!r}"
    if not math.isfinite(v) or not LR_MIN <= v <= LR_MAX:
        return None, f"learning rate must be between {LR_MIN:g} and {LR_MAX:g}, got {text.strip()}"
    return v, None


class TrainingForm(QWidget):
    """Hyper-parameters and the Train button; `train_requested` carries validated values."""

    train_requested = Signal(dict)
    sweep_requested = Signal(dict)  # the plain values of a SweepConfig (see sweep_values)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = QComboBox()
        for k in list_kinds():  # the registry: models/registry.py
            self.kind.addItem(f"{k.label}: {k.description.split(':')[0]}", k.name)
            self.kind.setItemData(self.kind.count() - 1, k.description,
                                  Qt.ItemDataRole.ToolTipRole)
        self.arch = QComboBox()
        for a in list_archs():  # the registry: models/architectures.py
            self.arch.addItem(a.label, a.name)
            self.arch.setItemData(self.arch.count() - 1, a.description,
                                  Qt.ItemDataRole.ToolTipRole)
        self.arch.setToolTip("The encoder and decoder networks, for any model")
        self.prior = PriorControl()
        self.dataset = QComboBox()
        for src in list_sources():  # the registry: training/data/sources.py
            self.dataset.addItem(src.label, src.name)
            self.dataset.setItemData(self.dataset.count() - 1, src.description,
                                     Qt.ItemDataRole.ToolTipRole)
        self.dataset.addItem(FOLDER_ITEM, _CHOOSE_FOLDER)
        # As wide as the form, not as its longest entry (the folder item): the list shows it all.
        self.dataset.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.dataset.setMinimumContentsLength(20)
        self.dataset.setToolTip("Where the images come from; a folder holds the four MNIST-format "
                                "idx files (gzip or not), or one sub-folder of PNG/JPEG images "
                                "per class")
        # Training-split sizes the epochs and the estimate follow (folders: once loaded).
        self._train_sizes: dict[str, int] = {s.name: s.n_train for s in list_sources() if s.n_train}
        self._train_sizes.setdefault("auto", SAMPLE_TRAIN)
        self._epochs_follow = True  # until the user sets the epochs themselves
        self.speeds = SpeedBook()  # measured here, per family of models
        self._field_tips: dict[QWidget, str] = {}  # each checked field's own tooltip
        self._last_dataset_index = 0
        self.ask_folder = self._ask_folder_dialog  # tests replace it with the folder to answer
        self.beta = BetaControl()
        self.target_rate = QLineEdit()
        self.target_rate.setPlaceholderText("nats; empty: β stays fixed")
        self.target_rate.setToolTip(
            "Train to this rate (KL, nats per image): β starts at the value above and a PI "
            "controller steers it every step so the KL settles here. Its β is plotted beside "
            "the losses. Empty: β stays fixed")
        self.target_rate.setAccessibleName("Target rate")
        self.nz = QSpinBox()
        self.nz.setRange(1, 4096)
        self.nz.setToolTip("Size of the latent code z")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10_000)
        self.epochs.setToolTip("Follows the dataset (the course's ~4,500 steps, at least 20 "
                               "epochs on large sets) until you change it")
        self.estimate = QLabel()
        self.estimate.setAccessibleName("Training estimate")
        self.estimate.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # Short lines of its own, never wrapped, in room for all of them from the start: the
        # rows below and the Train button stay put as the estimate changes (a wrapped label's
        # height followed its text in the form layout, whatever its minimum).
        self.estimate.setMinimumHeight(ESTIMATE_LINES * self.estimate.fontMetrics().lineSpacing()
                                       + 2)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 65_536)
        self.lr = QLineEdit()
        self.lr.setToolTip(f"Adam's learning rate, {LR_MIN:g} to {LR_MAX:g}")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Same seed, same data order and initial weights: runs are repeatable")
        self.schedule = ScheduleControl()  # KL and learning-rate schedules, best epoch: collapsed
        # Where and on how many CPU threads to train. The devices are torch's to say, and torch
        # loads after the window shows: 'auto' and the CPU until then (set_devices).
        self.device = QComboBox()
        self.device.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.device.setMinimumContentsLength(10)  # a GPU's long name does not widen the form
        self._wanted_device = "auto"  # the value set or chosen, kept until it is listed
        self.set_devices([("cpu", "CPU")])
        self.cpu_threads = QSpinBox()
        self.cpu_threads.setRange(0, max(os.cpu_count() or 1, 1))
        self.cpu_threads.setSpecialValueText("automatic")
        self.cpu_threads.setToolTip("How many CPU threads torch trains with; automatic (0) is "
                                    "torch's default, one per core. Fewer leave cores for "
                                    "other work")
        self.sweep = QCheckBox("Sweep β: train a list of βs at once")
        self.sweep.setToolTip("Train every β of a list (and every seed of a list) at once, and "
                              "compare them on the Sweep tab's rate–distortion plane")
        self.betas = QLineEdit()
        self.betas.setToolTip("Comma-separated βs, each a number >= 0 (the course's grid: "
                              f"{COURSE_BETAS_TEXT})")
        self.log_grid_button = QPushButton("log grid…")
        self.log_grid_button.setCheckable(True)
        self.log_grid_button.setToolTip("Fill the list with a log grid: from, to, points per "
                                        "factor of 10 (with 0 first)")
        self.grid_from = QLineEdit("1e-4")
        self.grid_to = QLineEdit("10")
        self.grid_per_decade = QSpinBox()
        self.grid_per_decade.setRange(1, 10)
        self.grid_per_decade.setValue(1)
        self.grid_fill = QPushButton("Fill")
        self.log_grid = QWidget()
        g = QHBoxLayout(self.log_grid)
        g.setContentsMargins(0, 0, 0, 0)
        for w in (QLabel("from"), self.grid_from, QLabel("to"), self.grid_to,
                  QLabel("per ×10"), self.grid_per_decade, self.grid_fill):
            g.addWidget(w)
        self.log_grid.hide()
        betas_row = QWidget()
        b = QHBoxLayout(betas_row)
        b.setContentsMargins(0, 0, 0, 0)
        b.addWidget(self.betas, 1)
        b.addWidget(self.log_grid_button)
        self._betas_row = betas_row
        self.sweep_seeds = QLineEdit()
        self.sweep_seeds.setToolTip("Comma-separated seeds: every β trains once per seed")
        # Where a sweep trains: here, or as Ray Tune trials on a cluster (an embedded local one
        # when the address is empty).
        self.run_on = QComboBox()
        self.run_on.addItem("this machine", "local")
        self.run_on.addItem("Ray cluster", "ray")
        self.run_on.setToolTip("Train the sweep here, or split its members into Ray Tune trials "
                               "(needs pip install 'latent-explorer[cluster]')")
        self.ray_address = QLineEdit()
        self.ray_address.setPlaceholderText("head host:port; empty: a local Ray")
        self.ray_address.setToolTip("The address of a running Ray cluster's head (ray start "
                                    "--head prints it); empty starts a Ray on this machine")
        run_on_row = QWidget()
        ro = QHBoxLayout(run_on_row)
        ro.setContentsMargins(0, 0, 0, 0)
        ro.addWidget(self.run_on)
        ro.addWidget(self.ray_address, 1)
        self._run_on_row = run_on_row
        self.run_on.setAccessibleName("Run on")
        self.ray_address.setAccessibleName("Ray address")
        for w, name in ((self.sweep, "Sweep β"), (self.betas, "βs"), (self.sweep_seeds, "Seeds"),
                        (self.grid_from, "log grid from"), (self.grid_to, "log grid to"),
                        (self.grid_per_decade, "log grid points per decade")):
            w.setAccessibleName(name)
        for w, name in ((self.kind, "Model"), (self.arch, "Architecture"),
                        (self.dataset, "Dataset"), (self.nz, "nz"),
                        (self.epochs, "Epochs"), (self.batch_size, "Batch size"),
                        (self.lr, "Learning rate"), (self.seed, "Seed"),
                        (self.device, "Device"), (self.cpu_threads, "CPU threads")):
            w.setAccessibleName(name)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        # A narrow dock puts a field that does not fit beside its label under it instead.
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("&Model", self.kind)
        form.addRow("&Architecture", self.arch)
        self._prior_label = QLabel("&Prior")
        self._prior_label.setBuddy(self.prior.combo)
        form.addRow(self._prior_label, self.prior)
        form.addRow("&Dataset", self.dataset)
        self._beta_label = QLabel("&β")
        self._beta_label.setBuddy(self.beta.edit)
        form.addRow("", self.sweep)
        form.addRow(self._beta_label, self.beta)
        self._target_label = QLabel("Target &rate")
        self._target_label.setBuddy(self.target_rate)
        form.addRow(self._target_label, self.target_rate)
        self._betas_label = QLabel("β&s")
        self._betas_label.setBuddy(self.betas)
        form.addRow(self._betas_label, betas_row)
        form.addRow("", self.log_grid)
        self._seeds_label = QLabel("See&ds")
        self._seeds_label.setBuddy(self.sweep_seeds)
        form.addRow(self._seeds_label, self.sweep_seeds)
        self._run_on_label = QLabel("R&un on")
        self._run_on_label.setBuddy(self.run_on)
        form.addRow(self._run_on_label, run_on_row)
        self._form = form
        form.addRow("&nz", self.nz)
        form.addRow("&Epochs", self.epochs)
        form.addRow("", self.estimate)
        form.addRow("&Batch size", self.batch_size)
        form.addRow("&Learning rate", self.lr)
        form.addRow("S&eed", self.seed)
        form.addRow("Dev&ice", self.device)
        form.addRow("&CPU threads", self.cpu_threads)
        form.addRow(self.schedule)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.train_button = QPushButton("&Train")
        self.train_button.setDefault(True)
        self.train_button.setToolTip("Start a run with these settings (Ctrl+Enter); it queues "
                                     "behind a run already training")

        # Train right under the fields, the message below it: a message never moves the button.
        self.setStyleSheet(INVALID_STYLE)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.train_button)
        layout.addWidget(self.message)
        layout.addStretch(1)

        self.set_values(DEFAULTS)
        self.kind.currentIndexChanged.connect(self._on_kind_current_index_changed)
        self.arch.currentIndexChanged.connect(lambda _i: self._on_model_family_changed())
        self.prior.changed.connect(self._on_model_family_changed)
        self.epochs.valueChanged.connect(self._on_epochs_value_changed)
        self.batch_size.valueChanged.connect(lambda _v: self._update_epochs())
        self.dataset.activated.connect(self._on_dataset_activated)
        self.train_button.clicked.connect(self._on_train_button_clicked)
        self.sweep.toggled.connect(self._on_sweep_toggled)
        self.log_grid_button.toggled.connect(self.log_grid.setVisible)
        self.grid_fill.clicked.connect(self._on_grid_fill_clicked)
        for edit in (self.lr, self.beta.edit, self.betas, self.sweep_seeds, self.target_rate):
            edit.textEdited.connect(self._on_any_text_edited)
            edit.returnPressed.connect(self.request_train)
        self.beta.slider.valueChanged.connect(lambda _v: self._on_any_text_edited())
        self.schedule.changed.connect(self._on_any_text_edited)
        for edit in self.schedule.edits:
            edit.returnPressed.connect(self.request_train)
        self.target_rate.textChanged.connect(self._on_target_rate_text_changed)
        self.run_on.currentIndexChanged.connect(lambda _i: self._update_run_on())
        self.ray_address.textEdited.connect(self._on_any_text_edited)
        self.device.activated.connect(self._on_device_activated)
        for edit in (self.betas, self.sweep_seeds):
            edit.textChanged.connect(lambda _text: self._update_estimate())

    # -- values ----------------------------------------------------------------------------------
    def values(self) -> dict:
        """The current values as plain Python (invalid text fields come back as None)."""
        source, data_dir = _split_source(self.dataset.currentData())
        beta, _ = self.beta.value()
        lr, _ = parse_lr(self.lr.text())
        variational = get_kind(self.kind.currentData()).variational
        target = parse_target_rate(self.target_rate.text())[0] if variational else None
        prior, k = self.prior.value()
        return {"kind": self.kind.currentData(), "arch": self.arch.currentData(), "beta": beta, "nz": self.nz.value(),
                "epochs": self.epochs.value(), "batch_size": self.batch_size.value(), "lr": lr,
                "seed": self.seed.value(), "dataset": source, "data_dir": data_dir,
                "target_rate": target, "prior": prior, "pseudo_inputs": k,
                "device": self.device.currentData(), "threads": self.cpu_threads.value(),
                **self.schedule.value()}

    @property
    def is_sweep(self) -> bool:
        """Whether Train starts a sweep (the box is ticked and the model has a β)."""
        return self.sweep.isChecked() and get_kind(self.kind.currentData()).variational

    def sweep_values(self) -> dict:
        """A SweepConfig's values (betas and seeds as tuples; unreadable lists come back empty)."""
        from latent_explorer.training.config import SweepListError, parse_betas, parse_seeds

        v = self.values()
        try:
            betas = parse_betas(self.betas.text())
        except SweepListError:
            betas = ()
        try:
            seeds = parse_seeds(self.sweep_seeds.text())
        except SweepListError:
            seeds = ()
        return {"kind": v["kind"], "betas": betas, "seeds": seeds, "nz": v["nz"],
                "epochs": v["epochs"], "batch_size": v["batch_size"], "lr": v["lr"],
                "dataset": v["dataset"], "data_dir": v["data_dir"], "arch": v["arch"],
                "prior": v["prior"], "pseudo_inputs": v["pseudo_inputs"],
                "device": v["device"], **self.schedule.sweep_value()}

    def sweep_executor(self) -> dict:
        """Where the sweep trains: {'engine': 'local' or 'ray', 'address': 'host:port' or None,
        'threads': the CPU threads of its training thread here, 0 for torch's default}."""
        engine = self.run_on.currentData()
        address = self.ray_address.text().strip() if engine == "ray" else ""
        return {"engine": engine, "address": address or None,
                "threads": self.cpu_threads.value()}

    def sweep_problems(self) -> list[str]:
        """Why the sweep's values cannot train (empty when they can)."""
        from latent_explorer.training.engine.sweep import SweepConfig, SweepListError, parse_betas, parse_seeds

        p = []
        address = self.sweep_executor()["address"]
        if address is not None and _bad_address(address):
            p.append(_bad_address(address))
        for parse, edit in ((parse_betas, self.betas), (parse_seeds, self.sweep_seeds)):
            try:
                parse(edit.text())
            except SweepListError as e:
                p.append(str(e))
        lr, why = parse_lr(self.lr.text())
        if why:
            p.append(why)
        source, data_dir = _split_source(self.dataset.currentData())
        if source == "folder" and not data_dir:
            p.append("choose the folder (idx files or image sub-folders)")
        p += [why for _, why in self.schedule.field_problems()]
        if not p:
            v = self.sweep_values()
            try:
                SweepConfig(**v)
            except ValueError as e:  # its problems(), joined
                p.append(str(e))
        return p

    def field_problems(self) -> list[tuple[QWidget, str]]:
        """(field, why) for each field whose text cannot train, as the user typed it."""
        out: list[tuple[QWidget, str]] = []
        if self.is_sweep:
            from latent_explorer.training.config import SweepListError, parse_betas, parse_seeds

            for parse, edit in ((parse_betas, self.betas), (parse_seeds, self.sweep_seeds)):
                try:
                    parse(edit.text())
                except SweepListError as e:
                    out.append((edit, str(e)))
            address = self.sweep_executor()["address"]
            if address is not None and _bad_address(address):
                out.append((self.ray_address, _bad_address(address)))
        elif get_kind(self.kind.currentData()).variational:
            _, why = self.beta.value()
            if why:
                out.append((self.beta.edit, why))
            _, why = parse_target_rate(self.target_rate.text())
            if why:
                out.append((self.target_rate, why))
        _, why = parse_lr(self.lr.text())
        if why:
            out.append((self.lr, why))
        return out + self.schedule.field_problems()

    def invalid_fields(self) -> list[QWidget]:
        """The fields marked invalid (red border, the reason as their tooltip)."""
        return [w for w in self._checked_fields if w.property("invalid")]

    @property
    def _checked_fields(self) -> tuple[QWidget, ...]:
        return (self.beta.edit, self.lr, self.betas, self.sweep_seeds, self.target_rate,
                self.ray_address, *self.schedule.edits)

    def _mark_fields(self) -> list[str]:
        """Mark each field with a problem (and clear the others); the problems' reasons."""
        bad = dict(self.field_problems())
        for w in self._checked_fields:
            why = bad.get(w)
            if bool(w.property("invalid")) != bool(why):
                w.setProperty("invalid", bool(why))
                w.style().unpolish(w)  # the style sheet's [invalid="true"] applies again
                w.style().polish(w)
            tip = self._field_tips.setdefault(w, w.toolTip())
            w.setToolTip(f"{why[0].upper()}{why[1:]}." if why else tip)
        return list(bad.values())

    def problems(self) -> list[str]:
        """Why the current values cannot train (empty when they can)."""
        if self.is_sweep:
            return self.sweep_problems()
        p = []
        if get_kind(self.kind.currentData()).variational:
            _, why = self.beta.value()
            if why:
                p.append(why)
            _, why = parse_target_rate(self.target_rate.text())
            if why:
                p.append(why)
        lr, why = parse_lr(self.lr.text())
        if why:
            p.append(why)
        kind = get_kind(self.kind.currentData())
        target = parse_target_rate(self.target_rate.text())[0] if kind.variational else None
        p += self.schedule.problems(kind.label, target, lr)
        source, data_dir = _split_source(self.dataset.currentData())
        if source == "folder" and not data_dir:
            p.append("choose the folder (idx files or image sub-folders)")
        return p

    def set_values(self, values: dict) -> None:
        """Fill the form; unusable stored values fall back to the defaults."""
        v = {**DEFAULTS, **{k: x for k, x in values.items() if x is not None}}
        i = self.kind.findData(v["kind"])
        self.kind.setCurrentIndex(i if i >= 0 else self.kind.findData(DEFAULTS["kind"]))
        i = self.arch.findData(v["arch"])
        self.arch.setCurrentIndex(i if i >= 0 else self.arch.findData(DEFAULTS["arch"]))
        self.prior.set_value(v["prior"], v["pseudo_inputs"])
        self._update_prior_enabled()
        beta, _ = parse_beta(str(v["beta"]))
        self.beta.set_value(beta if beta is not None else DEFAULTS["beta"])
        for spin, key in ((self.nz, "nz"), (self.batch_size, "batch_size"), (self.seed, "seed"),
                          (self.cpu_threads, "threads")):
            try:
                n = int(v[key])
            except (TypeError, ValueError):
                n = DEFAULTS[key]
            spin.setValue(n if spin.minimum() <= n <= spin.maximum() else DEFAULTS[key])
        self._wanted_device = str(v["device"])
        self._select_device()
        lr, _ = parse_lr(str(v["lr"]))
        self.lr.setText(f"{lr if lr is not None else DEFAULTS['lr']:g}")
        target, _ = parse_target_rate(str(v["target_rate"] or ""))
        self.target_rate.setText(f"{target:g}" if target is not None else "")
        if v.get("data_dir"):
            self.set_folder(str(v["data_dir"]))
        else:
            i = self.dataset.findData(v["dataset"])
            self.dataset.setCurrentIndex(max(i, 0))
        self._last_dataset_index = self.dataset.currentIndex()
        try:
            epochs = int(v["epochs"]) if v.get("epochs") is not None else None
        except (TypeError, ValueError):
            epochs = None
        self._epochs_follow = epochs is None or not 1 <= epochs <= self.epochs.maximum()
        if not self._epochs_follow:
            self._set_epochs(epochs)
        sv = {**SWEEP_DEFAULTS, **{k: values[k] for k in SWEEP_DEFAULTS
                                   if isinstance(values.get(k), type(SWEEP_DEFAULTS[k]))}}
        self.betas.setText(sv["betas"])
        self.sweep_seeds.setText(sv["sweep_seeds"])
        self.run_on.setCurrentIndex(max(0, self.run_on.findData(sv["run_on"])))
        self.ray_address.setText(sv["ray_address"])
        self.sweep.setChecked(sv["sweep"])
        self.schedule.set_value(v)
        self._update_epochs()
        self._update_beta_enabled()
        self.show_message("")
        self._mark_fields()

    def set_folder(self, folder: str) -> None:
        """Use a folder of idx files as the dataset (one combo entry for it, updated)."""
        label = f"folder: {Path(folder).name or folder}"
        i = self.dataset.findData(_FOLDER_PREFIX + folder)
        if i < 0:
            i = self.dataset.count() - 1  # before "Folder of idx files…"
            self.dataset.insertItem(i, label, _FOLDER_PREFIX + folder)
            self.dataset.setItemData(i, folder, Qt.ItemDataRole.ToolTipRole)
        self.dataset.setCurrentIndex(i)
        self._last_dataset_index = i

    def set_devices(self, devices: list[tuple[str, str]]) -> None:
        """The devices to offer besides 'auto', as (name, label) pairs: ('cpu', 'CPU'),
        ('cuda', 'CUDA (its name)'), … (training.engine.device.device_choices). The value set
        or chosen before stays chosen if listed, else 'auto'."""
        self.device.blockSignals(True)
        self.device.clear()
        self.device.addItem("auto", "auto")
        best = next((label for name, label in devices if name != "cpu"), "the CPU")
        self.device.setItemData(0, f"The best there is here ({best}): CUDA, else Apple MPS, "
                                "else the CPU", Qt.ItemDataRole.ToolTipRole)
        for name, label in devices:
            self.device.addItem(label, name)
        self.device.blockSignals(False)
        self._select_device()

    def _select_device(self) -> None:
        i = self.device.findData(self._wanted_device)
        self.device.setCurrentIndex(i if i >= 0 else 0)
        self.device.setToolTip("Where to train: 'auto' picks CUDA, else Apple MPS, else the CPU"
                               if i < 0 or self._wanted_device == "auto" else
                               f"Train on {self.device.currentText()}")

    @Slot(int)
    def _on_device_activated(self, index: int) -> None:
        self._wanted_device = self.device.itemData(index)
        self._select_device()

    def show_message(self, text: str, error: bool = True) -> None:
        """An inline message under the form (red for errors); empty hides it."""
        self.message.setText(text)
        self.message.setVisible(bool(text))
        color = "#d62728" if error else self.palette().color(QPalette.ColorRole.WindowText).name()
        self.message.setStyleSheet(f"color: {color};")

    # -- the folder dialog: an attribute, so tests answer it instead of a modal dialog -----------
    def _ask_folder_dialog(self) -> str | None:
        path = QFileDialog.getExistingDirectory(
            self, "Folder of idx files, or of one sub-folder of images per class")
        return path or None

    # -- slots -----------------------------------------------------------------------------------
    @Slot(int)
    def _on_kind_current_index_changed(self, _index: int) -> None:
        self._update_beta_enabled()
        self._update_prior_enabled()
        self._on_any_text_edited()  # an AE ignores β

    def _on_model_family_changed(self) -> None:
        self._update_estimate()  # another family trains at another speed
        self._on_any_text_edited()

    def _update_prior_enabled(self) -> None:
        """Only a model whose kind can take another prior offers the choice."""
        kind = self.kind.currentData()
        why = prior_problems(VAMP.name, kind, DEFAULT_PSEUDO_INPUTS)
        self.prior.set_kind_allows(not why, why[0] if why else "")

    def stored_values(self) -> dict:
        """What to remember between launches: the values, epochs None while they follow."""
        v = self.values()
        if self._epochs_follow:
            v["epochs"] = None
        v.update(sweep=self.sweep.isChecked(), betas=self.betas.text(),
                 sweep_seeds=self.sweep_seeds.text(), run_on=self.run_on.currentData(),
                 ray_address=self.ray_address.text().strip())
        return v

    def set_train_size(self, source: str, n_train: int) -> None:
        """The training split of `source` has `n_train` images (learnt once it loaded)."""
        self._train_sizes[source] = int(n_train)
        self._update_epochs()

    def set_speeds(self, steps_per_second: dict[str, float] | float | None,
                   sweep_model_steps_per_second: dict[str, float] | float | None = None) -> None:
        """This machine's last measured speeds, for the time estimate, per family of models
        (training.config.speed_family): a single run's steps/s and a sweep's model-steps/s
        (a plain number is the course MLP's; see SpeedBook)."""
        self.speeds.set(steps_per_second, sweep_model_steps_per_second)
        self._update_estimate()

    def set_steps_per_second(self, rate: float | None) -> None:
        """A single run's measured speed for the form's current family (sweeps' are kept)."""
        self.speeds.set_single(self.speed_family(), rate)
        self._update_estimate()

    def speed_family(self) -> str:
        """The family of the model the form would train (whose speed the estimate uses)."""
        from latent_explorer.training.config import speed_family

        return speed_family(self.arch.currentData(), self.prior.value()[0])

    def sweep_member_count(self) -> int:
        """How many members the sweep lists name (0 when a list cannot be read)."""
        from latent_explorer.training.config import SweepListError, parse_betas, parse_seeds  # no torch

        try:
            return len(parse_betas(self.betas.text())) * len(parse_seeds(self.sweep_seeds.text()))
        except SweepListError:
            return 0

    def estimate_seconds(self) -> float | None:
        """About how long Train would take here (None: no speed measured for this kind of job).

        A single run at the last single run's steps/s; a sweep of M members at the last
        sweep's model-steps/s shared by M, or, before any sweep was measured, as M single runs
        one after another (an upper bound: training them at once is faster).
        """
        n = self._train_size()
        if not n:
            return None
        steps = -(-n // self.batch_size.value()) * self.epochs.value()
        members = self.sweep_member_count() if self.is_sweep else 0
        if self.is_sweep and not members:
            return None
        return self.speeds.seconds(steps, self.speed_family(), members)

    def _train_size(self) -> int | None:
        data = self.dataset.currentData()
        return self._train_sizes.get(data[len(_FOLDER_PREFIX):] if data.startswith(_FOLDER_PREFIX)
                                     else data)

    def _set_epochs(self, n: int) -> None:
        self.epochs.blockSignals(True)  # not the user's edit
        self.epochs.setValue(n)
        self.epochs.blockSignals(False)

    def _update_epochs(self) -> None:
        n = self._train_size()
        if self._epochs_follow and n:
            self._set_epochs(default_epochs(n, self.batch_size.value()))
        self._update_estimate()

    def _update_estimate(self) -> None:
        """At most ESTIMATE_LINES short lines: the steps, the time here, the dataset's note."""
        n = self._train_size()
        if not n:
            self.estimate.setText("steps: known once the folder has loaded")
            return
        steps = -(-n // self.batch_size.value()) * self.epochs.value()
        members = self.sweep_member_count() if self.is_sweep else 0
        who = f" × {members} members" if members else ""
        lines = [f"{steps:,} steps{who} ({n:,} images per epoch)"]
        seconds = self.estimate_seconds()
        if seconds is not None:
            from tqdm import tqdm

            bound = ("at most" if self.speeds.is_upper_bound(self.speed_family(), members)
                     else "about")
            lines.append(f"{bound} {tqdm.format_interval(round(seconds))} here")
        if self.dataset.currentData() == "auto" and n == SAMPLE_TRAIN:
            lines.append("'auto': the bundled sample until MNIST is downloaded")
        self.estimate.setText("\n".join(lines))

    @Slot(int)
    def _on_epochs_value_changed(self, _value: int) -> None:
        self._epochs_follow = False  # the user chose: keep it
        self._update_estimate()

    def _update_beta_enabled(self) -> None:
        is_ae = not get_kind(self.kind.currentData()).variational
        self.beta.setEnabled(not is_ae)
        self._beta_label.setEnabled(not is_ae)
        self.beta.setToolTip("An AE has no KL term: β does not apply" if is_ae else "")
        self.sweep.setEnabled(not is_ae)
        self.sweep.setToolTip("An AE has no β to sweep" if is_ae else
                              "Train every β of a list (and every seed of a list) at once")
        sweep = self.is_sweep
        self.schedule.set_variational(not is_ae)
        self.schedule.set_sweep(sweep)
        f = self._form
        f.setRowVisible(self.beta, not sweep)
        f.setRowVisible(self.target_rate, not sweep)
        self.target_rate.setEnabled(not is_ae)
        self._target_label.setEnabled(not is_ae)
        f.setRowVisible(self.seed, not sweep)
        f.setRowVisible(self._betas_row, sweep)
        f.setRowVisible(self.sweep_seeds, sweep)
        f.setRowVisible(self._run_on_row, sweep)
        self._update_run_on()
        f.setRowVisible(self.log_grid, sweep)
        self.log_grid.setVisible(sweep and self.log_grid_button.isChecked())
        self.train_button.setText("&Train sweep" if sweep else "&Train")
        self._update_estimate()  # a sweep's estimate counts its members

    @Slot(bool)
    def _on_sweep_toggled(self, _on: bool) -> None:
        self._update_beta_enabled()
        self._on_any_text_edited()  # other fields count now (β, or the lists)

    @Slot()
    def _on_grid_fill_clicked(self) -> None:
        self.fill_log_grid()

    def fill_log_grid(self) -> bool:
        """Fill the β list from the log grid fields; an inline message when they are wrong."""
        from latent_explorer.training.engine.sweep import log_grid

        try:
            low, high = float(self.grid_from.text()), float(self.grid_to.text())
            values = log_grid(low, high, self.grid_per_decade.value())
        except ValueError:
            self.show_message(f"log grid: need numbers 0 < from <= to, got "
                              f"{self.grid_from.text()!r} and {self.grid_to.text()!r}")
            return False
        self.betas.setText(", ".join(f"{v:g}" for v in values))
        self.show_message("")
        return True

    @Slot(int)
    def _on_dataset_activated(self, index: int) -> None:
        if self.dataset.itemData(index) == _CHOOSE_FOLDER:
            folder = self.ask_folder()
            if folder:
                self.set_folder(folder)
                self._update_epochs()
            else:
                self.dataset.setCurrentIndex(self._last_dataset_index)
            return
        self._last_dataset_index = index
        self._update_epochs()

    @Slot()
    def _on_any_text_edited(self) -> None:
        """Check as the user types: mark the field and say why under Train, at once."""
        reasons = self._mark_fields()
        if reasons:
            self.show_message("; ".join(reasons))
        elif self.message.isVisible():
            self.show_message("; ".join(self.problems()))

    def _update_run_on(self) -> None:
        self.ray_address.setEnabled(self.run_on.currentData() == "ray")
        self._on_any_text_edited()

    @Slot(str)
    def _on_target_rate_text_changed(self, text: str) -> None:
        # With a target rate, β is where the controller starts.
        self._beta_label.setText("Start &β" if text.strip() else "&β")

    @Slot()
    def _on_train_button_clicked(self) -> None:
        self.request_train()

    def request_train(self) -> None:
        """Emit train_requested with the values, or explain inline why they cannot train."""
        self._mark_fields()
        problems = self.problems()
        if problems:
            self.show_message("Cannot train: " + "; ".join(problems) + ".")
            return
        self.show_message("")
        if self.is_sweep:
            self.sweep_requested.emit({**self.sweep_values(), **self.sweep_executor()})
        else:
            self.train_requested.emit(self.values())
