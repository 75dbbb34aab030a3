"""The training form: model kind, architecture, likelihood, dataset (a folder's image size and
channels), β, nz, epochs, batch size, learning rate, seed.

"Sweep β" mode (VAE/CVAE): the single β and seed give way to a list of βs (typed, or filled
from a log grid) and a list of seeds; Train then asks for a sweep (`sweep_requested`, with
the plain values of a training.engine.sweep.SweepConfig) that trains every (β, seed) at once.

The fields come in groups with one job each, which add their rows to this form's one layout
(so every label lines up): explorer/widgets/model_fields.py (kind, architecture, prior,
likelihood, conv widths), data_fields.py (dataset, image options), sweep_fields.py (the sweep's
lists and where it trains), run_fields.py (nz … CPU threads), beta_control.py and
schedule_control.py. This module wires them: the checks, the time estimate, Train.

Bad values are refused here with an inline message (never an exception). The form is Qt-only:
it hands plain values to the window, which builds the engine's TrainConfig.
"""

from __future__ import annotations

import math
import sys

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from latent_explorer.explorer.views.step_cost import pixel_scale
from latent_explorer.explorer.views.time_estimate import SpeedBook, startup_seconds
from latent_explorer.explorer.widgets.beta_control import BetaControl, parse_beta
from latent_explorer.explorer.widgets.data_fields import FOLDER_ITEM, DataFields
from latent_explorer.explorer.widgets.model_fields import ModelFields
from latent_explorer.explorer.widgets.run_fields import LR_MAX, LR_MIN, RunFields, parse_lr
from latent_explorer.explorer.widgets.schedule_control import SCHEDULE_DEFAULTS, ScheduleControl
from latent_explorer.explorer.widgets.sweep_fields import COURSE_BETAS_TEXT, SWEEP_DEFAULTS, SweepFields
from latent_explorer.models.architectures import DEFAULT_ARCH
from latent_explorer.models.priors import DEFAULT_PRIOR, DEFAULT_PSEUDO_INPUTS
from latent_explorer.models.registry import get_kind
from latent_explorer.training.data.sources import default_epochs, list_sources

SAMPLE_TRAIN = 4500  # 'auto' offline: the bundled sample's training split
DEFAULTS = {"kind": "vae", "arch": DEFAULT_ARCH, "prior": DEFAULT_PRIOR,
            "pseudo_inputs": DEFAULT_PSEUDO_INPUTS, "beta": 0.005, "nz": 32, "epochs": None, "batch_size": 64, "lr": 1e-3,
            "seed": 0, "dataset": "auto", "data_dir": None,
            "target_rate": None,  # epochs None: follow the dataset; target_rate None: β fixed
            "device": "auto", "threads": 0,  # threads 0: torch's default, one per core
            # likelihood None: the dataset's own; conv widths (): as the image size needs;
            # image size and channels None: a folder's images as the files are
            "likelihood": None, "conv_widths": (), "image_size": None, "image_channels": None,
            **SCHEDULE_DEFAULTS}  # no schedule: the course's constant β and learning rate
ESTIMATE_LINES = 3  # the estimate's height, whatever it says
INVALID_STYLE = ('QLineEdit[invalid="true"], QComboBox[invalid="true"] '
                 '{ border: 2px solid #d62728; border-radius: 2px; }')


def config_from_values(values: dict):
    """The engine's TrainConfig for the form's values; TypeError/ValueError says what is wrong."""
    from latent_explorer.training.engine.loop import TrainConfig  # torch: only once the window is up

    kw = dict(values)
    kw.pop("threads", None)  # the training thread's setting, not the run's (see TrainingForm)
    if kw.get("epochs") is None:
        raise ValueError("choose the number of epochs")
    if kw.get("conv_widths", ()) is None:
        raise ValueError("the conv widths must be whole numbers of channels, e.g. 32,64,128")
    if not get_kind(kw["kind"]).variational or kw.get("beta") is None:
        kw["beta"] = kw.get("beta") or 0.0
    return TrainConfig(**kw)


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


class TrainingForm(QWidget):
    """Hyper-parameters and the Train button; `train_requested` carries validated values."""

    train_requested = Signal(dict)
    sweep_requested = Signal(dict)  # the plain values of a SweepConfig (see sweep_values)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_fields = ModelFields(self)
        self.data_fields = DataFields(self)
        self.sweep_fields = SweepFields(self)
        self.run_fields = RunFields(self)
        self._make_beta_fields()
        self.schedule = ScheduleControl()  # KL and learning-rate schedules, best epoch: collapsed
        self._make_estimate_and_train()
        self._name_the_fields()
        # Training-split sizes the epochs and the estimate follow (folders: once loaded).
        self._train_sizes: dict[str, int] = {s.name: s.n_train for s in list_sources() if s.n_train}
        self._train_sizes.setdefault("auto", SAMPLE_TRAIN)
        self._epochs_follow = True  # until the user sets the epochs themselves
        self.speeds = SpeedBook()  # measured here, per family of models
        self._field_tips: dict[QWidget, str] = {}  # each checked field's own tooltip
        self._lay_out()
        self.set_values(DEFAULTS)
        self._connect()

    # -- construction ----------------------------------------------------------------------------
    def _make_beta_fields(self) -> None:
        self.beta = BetaControl()
        self.target_rate = QLineEdit()
        self.target_rate.setPlaceholderText("nats; empty: β stays fixed")
        self.target_rate.setToolTip(
            "Train to this rate (KL, nats per image): β starts at the value above and a PI "
            "controller steers it every step so the KL settles here. Its β is plotted beside "
            "the losses. Empty: β stays fixed")
        self.target_rate.setAccessibleName("Target rate")
        self._beta_label = QLabel("&β")
        self._beta_label.setBuddy(self.beta.edit)
        self._target_label = QLabel("Target &rate")
        self._target_label.setBuddy(self.target_rate)

    def _make_estimate_and_train(self) -> None:
        self.estimate = QLabel()
        self.estimate.setAccessibleName("Training estimate")
        self.estimate.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # Short lines of its own, never wrapped, in room for all of them from the start: the
        # rows below and the Train button stay put as the estimate changes (a wrapped label's
        # height followed its text in the form layout, whatever its minimum).
        self.estimate.setMinimumHeight(ESTIMATE_LINES * self.estimate.fontMetrics().lineSpacing()
                                       + 2)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.train_button = QPushButton("&Train")
        self.train_button.setDefault(True)
        self._train_tip = ("Start a run with these settings (Ctrl+Enter); it queues behind a run "
                           "already training")
        self.train_button.setToolTip(self._train_tip)

    def _name_the_fields(self) -> None:
        """The groups' fields under the names the window, its actions and tests use."""
        m, d, s, r = self.model_fields, self.data_fields, self.sweep_fields, self.run_fields
        self.kind, self.arch, self.prior = m.kind, m.arch, m.prior
        self.likelihood, self.conv_widths = m.likelihood, m.conv_widths
        self.dataset, self.image_size, self.image_side, self.channels = (
            d.dataset, d.image_size, d.image_side, d.channels)
        self.sweep, self.betas, self.sweep_seeds = s.sweep, s.betas, s.sweep_seeds
        self.log_grid_button, self.log_grid, self.grid_fill = (
            s.log_grid_button, s.log_grid, s.grid_fill)
        self.grid_from, self.grid_to, self.grid_per_decade = s.grid_from, s.grid_to, s.grid_per_decade
        self.run_on, self.ray_address = s.run_on, s.ray_address
        self.nz, self.epochs, self.batch_size, self.lr = r.nz, r.epochs, r.batch_size, r.lr
        self.seed, self.device, self.cpu_threads = r.seed, r.device, r.cpu_threads

    def _lay_out(self) -> None:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        # A narrow dock puts a field that does not fit beside its label under it instead.
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self._form = form
        self.model_fields.add_rows(form)
        self.data_fields.add_rows(form)
        self.sweep_fields.add_toggle_row(form)
        form.addRow(self._beta_label, self.beta)
        form.addRow(self._target_label, self.target_rate)
        self.sweep_fields.add_list_rows(form)
        self.run_fields.add_rows(form, self.estimate)
        form.addRow(self.schedule)
        # Train right under the fields, the message below it: a message never moves the button.
        self.setStyleSheet(INVALID_STYLE)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.train_button)
        layout.addWidget(self.message)
        layout.addStretch(1)

    def _connect(self) -> None:
        m, d, s = self.model_fields, self.data_fields, self.sweep_fields
        m.kind_changed.connect(self._on_kind_changed)
        m.family_changed.connect(self._on_model_family_changed)
        m.edited.connect(self._on_any_text_edited)
        d.changed.connect(self._on_data_changed)
        d.chosen.connect(self._update_epochs)
        d.note.connect(self.show_message)
        s.toggled.connect(self._on_sweep_toggled)
        s.edited.connect(self._on_any_text_edited)
        s.lists_changed.connect(self._update_estimate)
        s.message.connect(self.show_message)
        self.epochs.valueChanged.connect(self._on_epochs_value_changed)
        self.batch_size.valueChanged.connect(lambda _v: self._update_epochs())
        self.train_button.clicked.connect(self._on_train_button_clicked)
        for edit in (self.lr, self.beta.edit, self.betas, self.sweep_seeds, self.target_rate,
                     self.conv_widths):
            edit.textEdited.connect(self._on_any_text_edited)
            edit.returnPressed.connect(self.request_train)
        self.beta.slider.valueChanged.connect(lambda _v: self._on_any_text_edited())
        self.schedule.changed.connect(self._on_any_text_edited)
        for edit in self.schedule.edits:
            edit.returnPressed.connect(self.request_train)
        self.target_rate.textChanged.connect(self._on_target_rate_text_changed)

    # -- the folder dialog: an attribute, so tests answer it instead of a modal dialog -----------
    @property
    def ask_folder(self):
        """What asks the user for a folder (no arguments; the folder, or None)."""
        return self.data_fields.ask_folder

    @ask_folder.setter
    def ask_folder(self, ask) -> None:
        self.data_fields.ask_folder = ask

    # -- values ----------------------------------------------------------------------------------
    def values(self) -> dict:
        """The current values as plain Python (invalid text fields come back as None)."""
        beta, _ = self.beta.value()
        variational = self.model_fields.is_variational
        target = parse_target_rate(self.target_rate.text())[0] if variational else None
        return {**self.model_fields.values(), "beta": beta, **self.run_fields.values(),
                **self.data_fields.values(), "target_rate": target, **self.schedule.value()}

    @property
    def is_sweep(self) -> bool:
        """Whether Train starts a sweep (the box is ticked and the model has a β)."""
        return self.sweep.isChecked() and self.model_fields.is_variational

    def sweep_values(self) -> dict:
        """A SweepConfig's values (betas and seeds as tuples; unreadable lists come back empty)."""
        v = self.values()
        betas, seeds = self.sweep_fields.lists()
        shared = ("kind", "nz", "epochs", "batch_size", "lr", "dataset", "data_dir", "arch",
                  "prior", "pseudo_inputs", "device", "likelihood", "image_size",
                  "image_channels")
        return {**{k: v[k] for k in shared}, "betas": betas, "seeds": seeds,
                "conv_widths": v["conv_widths"] or (), **self.schedule.sweep_value()}

    def sweep_executor(self) -> dict:
        """Where the sweep trains: {'engine': 'local' or 'ray', 'address': 'host:port' or None,
        'threads': the CPU threads of its training thread here, 0 for torch's default}."""
        return self.sweep_fields.executor(self.cpu_threads.value())

    def stored_values(self) -> dict:
        """What to remember between launches: the values, epochs None while they follow."""
        v = self.values()
        if self._epochs_follow:
            v["epochs"] = None
        v.update(self.sweep_fields.stored_values())
        return v

    def set_values(self, values: dict) -> None:
        """Fill the form; unusable stored values fall back to the defaults."""
        v = {**DEFAULTS, **{k: x for k, x in values.items() if x is not None}}
        self.model_fields.set_values(v, DEFAULTS)
        beta, _ = parse_beta(str(v["beta"]))
        self.beta.set_value(beta if beta is not None else DEFAULTS["beta"])
        self.run_fields.set_values(v, DEFAULTS)
        target, _ = parse_target_rate(str(v["target_rate"] or ""))
        self.target_rate.setText(f"{target:g}" if target is not None else "")
        self.data_fields.set_values(v)
        try:
            epochs = int(v["epochs"]) if v.get("epochs") is not None else None
        except (TypeError, ValueError):
            epochs = None
        self._epochs_follow = epochs is None or not 1 <= epochs <= self.epochs.maximum()
        if not self._epochs_follow:
            self.run_fields.set_epochs(epochs)
        self.sweep_fields.set_values(values)
        self.schedule.set_value(v)
        self._show_data()
        self._update_epochs()
        self._update_beta_enabled()
        self.show_message("")
        self._mark_fields()

    def set_folder(self, folder: str) -> None:
        """Use a folder (idx files or image sub-folders) as the dataset."""
        self.data_fields.set_folder(folder)

    def set_devices(self, devices: list[tuple[str, str]]) -> None:
        """The devices to offer besides 'auto' (RunFields.set_devices)."""
        self.run_fields.set_devices(devices)

    def show_message(self, text: str, error: bool = True) -> None:
        """An inline message under the form (red for errors); empty hides it."""
        self.message.setText(text)
        self.message.setVisible(bool(text))
        color = "#d62728" if error else self.palette().color(QPalette.ColorRole.WindowText).name()
        self.message.setStyleSheet(f"color: {color};")

    # -- checks ----------------------------------------------------------------------------------
    def _blocking(self) -> list[tuple[QWidget, str]]:
        """(field, why) for the model's shape against the data: conv widths the image cannot
        take, a conditional model on one class. These disable Train until fixed."""
        out: list[tuple[QWidget, str]] = []
        m, d = self.model_fields, self.data_fields
        shape = d.image_shape() if "torch" in sys.modules else None  # counted once torch is up
        if why := m.widths_problem(shape):
            out.append((self.conv_widths, why))
        if why := m.one_class_problem(d.source()[0], d.n_classes()):
            out.append((self.kind, why))
        return out

    def field_problems(self) -> list[tuple[QWidget, str]]:
        """(field, why) for each field whose value cannot train, as the user typed it."""
        out: list[tuple[QWidget, str]] = []
        if self.is_sweep:
            out += self.sweep_fields.field_problems()
        elif self.model_fields.is_variational:
            _, why = self.beta.value()
            if why:
                out.append((self.beta.edit, why))
            _, why = parse_target_rate(self.target_rate.text())
            if why:
                out.append((self.target_rate, why))
        _, why = parse_lr(self.lr.text())
        if why:
            out.append((self.lr, why))
        return out + self._blocking() + self.schedule.field_problems()

    def sweep_problems(self) -> list[str]:
        """Why the sweep's values cannot train (empty when they can)."""
        from latent_explorer.training.engine.sweep import SweepConfig

        p = [why for _, why in self.sweep_fields.field_problems()]
        lr, why = parse_lr(self.lr.text())
        if why:
            p.append(why)
        p += self.data_fields.problems()
        p += [why for _, why in self._blocking()]
        p += [why for _, why in self.schedule.field_problems()]
        if not p:
            try:
                SweepConfig(**self.sweep_values())
            except ValueError as e:  # its problems(), joined
                p.append(str(e))
        return p

    def problems(self) -> list[str]:
        """Why the current values cannot train (empty when they can)."""
        if self.is_sweep:
            return self.sweep_problems()
        p = []
        kind = get_kind(self.kind.currentData())
        if kind.variational:
            for _, why in (self.beta.value(), parse_target_rate(self.target_rate.text())):
                if why:
                    p.append(why)
        lr, why = parse_lr(self.lr.text())
        if why:
            p.append(why)
        target = parse_target_rate(self.target_rate.text())[0] if kind.variational else None
        p += self.schedule.problems(kind.label, target, lr)
        p += [why for _, why in self._blocking()]
        return p + self.data_fields.problems()

    def invalid_fields(self) -> list[QWidget]:
        """The fields marked invalid (red border, the reason as their tooltip)."""
        return [w for w in self._checked_fields if w.property("invalid")]

    @property
    def _checked_fields(self) -> tuple[QWidget, ...]:
        return (self.beta.edit, self.lr, self.betas, self.sweep_seeds, self.target_rate,
                self.ray_address, self.conv_widths, self.kind, *self.schedule.edits)

    def _mark_fields(self) -> list[str]:
        """Mark each field with a problem (and clear the others); the problems' reasons. Train
        is disabled while the model cannot take the data (`_blocking`)."""
        bad = dict(self.field_problems())
        for w in self._checked_fields:
            why = bad.get(w)
            if bool(w.property("invalid")) != bool(why):
                w.setProperty("invalid", bool(why))
                w.style().unpolish(w)  # the style sheet's [invalid="true"] applies again
                w.style().polish(w)
            tip = self._field_tips.setdefault(w, w.toolTip())
            w.setToolTip(f"{why[0].upper()}{why[1:]}." if why else tip)
        blocking = [why for _, why in self._blocking()]
        self.train_button.setEnabled(not blocking)
        self.train_button.setToolTip(f"Cannot train: {'; '.join(blocking)}." if blocking
                                     else self._train_tip)
        return list(bad.values())

    # -- the time estimate -----------------------------------------------------------------------
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
        return self.sweep_fields.member_count()

    def _steps(self) -> tuple[int, int] | None:
        """(steps of one model, sweep members or 0); None while the split's size is unknown."""
        n = self._train_size()
        if not n:
            return None
        members = self.sweep_member_count() if self.is_sweep else 0
        return -(-n // self.batch_size.value()) * self.epochs.value(), members

    def _pixel_scale(self) -> float | None:
        """A step's cost on the chosen images against a 28×28 digit's (explorer/views/step_cost)."""
        return pixel_scale(self.arch.currentData(), self.data_fields.image_shape())

    def estimate_seconds(self) -> float | None:
        """About how long Train would take here (None: no speed measured for this kind of job,
        or none that says how long a step on these images takes).

        A single run at the last single run's steps/s; a sweep of M members at the last
        sweep's model-steps/s shared by M, or, before any sweep was measured, as M single runs
        one after another (an upper bound: training them at once is faster). Measured on
        28×28 digits: an MLP's step on C×H×W images costs C·H·W / 784 of them (step_cost.py).
        A sweep on Ray adds Ray's start-up.
        """
        counted = self._steps()
        scale = self._pixel_scale()
        if counted is None or scale is None or (self.is_sweep and not counted[1]):
            return None
        seconds = self.speeds.seconds(counted[0], self.speed_family(), counted[1])
        if seconds is None:
            return None
        # A Ray sweep first starts Ray and its workers (time_estimate.RAY_STARTUP_S).
        start = startup_seconds(self.sweep_executor()["engine"]) if self.is_sweep else 0.0
        return seconds * scale + start

    def _train_size(self) -> int | None:
        return self._train_sizes.get(self.data_fields.train_key())

    def _update_epochs(self) -> None:
        n = self._train_size()
        if self._epochs_follow and n:
            self.run_fields.set_epochs(default_epochs(n, self.batch_size.value()))
        self._update_estimate()

    def _update_estimate(self) -> None:
        """At most ESTIMATE_LINES short lines: the steps, the time here, the dataset's note."""
        counted = self._steps()
        if counted is None:
            self.estimate.setText("steps: known once the folder has loaded")
            return
        steps, members = counted
        who = f" × {members} members" if members else ""
        lines = [f"{steps:,} steps{who} ({self._train_size():,} images per epoch)"]
        family = self.speed_family()
        measured = (self.speeds.seconds(steps, family, members)
                    if members or not self.is_sweep else None)
        seconds, scale = self.estimate_seconds(), self._pixel_scale()
        if seconds is not None:
            from tqdm import tqdm

            bound = "at most" if self.speeds.is_upper_bound(family, members) else "about"
            line = f"{bound} {tqdm.format_interval(round(seconds))} here"
            if scale != 1.0:
                c, h, w = self.data_fields.image_shape() or (1, 28, 28)
                line += f" ({c}×{h}×{w}: ×{scale:.3g})"
            lines.append(line)
        elif measured is not None and scale is None:
            lines.append("time: the first epoch measures it")
        if self.dataset.currentData() == "auto" and self._train_size() == SAMPLE_TRAIN:
            lines.append("'auto': the bundled sample until MNIST is downloaded")
        self.estimate.setText("\n".join(lines))

    # -- slots -----------------------------------------------------------------------------------
    @Slot(int)
    def _on_epochs_value_changed(self, _value: int) -> None:
        self._epochs_follow = False  # the user chose: keep it
        self._update_estimate()

    def _on_kind_changed(self) -> None:
        self._update_beta_enabled()
        self._on_any_text_edited()  # an AE ignores β; a CVAE needs classes

    def _on_model_family_changed(self) -> None:
        self._update_estimate()  # another family trains at another speed
        self._on_any_text_edited()

    def _on_data_changed(self) -> None:
        self._show_data()
        self._update_epochs()
        self._on_any_text_edited()  # the conv widths' stages, a CVAE's classes

    def _show_data(self) -> None:
        """What the form says of the chosen data before it loads: its own likelihood and the
        shape β per image is for."""
        self.model_fields.set_dataset_likelihood(self.data_fields.likelihood())
        self.beta.set_image_shape(self.data_fields.image_shape())

    def _update_beta_enabled(self) -> None:
        is_ae = not self.model_fields.is_variational
        self.beta.setEnabled(not is_ae)
        self._beta_label.setEnabled(not is_ae)
        self.beta.setToolTip("An AE has no KL term: β does not apply" if is_ae else "")
        self.sweep_fields.set_allowed(not is_ae)
        sweep = self.is_sweep
        self.schedule.set_variational(not is_ae)
        self.schedule.set_sweep(sweep)
        f = self._form
        f.setRowVisible(self.beta, not sweep)
        f.setRowVisible(self.target_rate, not sweep)
        self.target_rate.setEnabled(not is_ae)
        self._target_label.setEnabled(not is_ae)
        f.setRowVisible(self.seed, not sweep)
        self.sweep_fields.update_rows(sweep)
        self._on_any_text_edited()
        self.train_button.setText("&Train sweep" if sweep else "&Train")
        self._update_estimate()  # a sweep's estimate counts its members

    @Slot(bool)
    def _on_sweep_toggled(self, _on: bool) -> None:
        self._update_beta_enabled()
        self._on_any_text_edited()  # other fields count now (β, or the lists)

    def fill_log_grid(self) -> bool:
        """Fill the β list from the log grid fields; an inline message when they are wrong."""
        return self.sweep_fields.fill_log_grid()

    @Slot()
    def _on_any_text_edited(self) -> None:
        """Check as the user types: mark the field and say why under Train, at once."""
        reasons = self._mark_fields()
        if reasons:
            self.show_message("; ".join(reasons))
        elif self.message.isVisible():
            self.show_message("; ".join(self.problems()))

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


__all__ = ["COURSE_BETAS_TEXT", "DEFAULTS", "FOLDER_ITEM", "LR_MAX", "LR_MIN", "SWEEP_DEFAULTS",
           "TrainingForm", "config_from_values", "parse_lr", "parse_target_rate"]
