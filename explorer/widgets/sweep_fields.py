"""The training form's sweep rows: "Sweep β", the lists of βs and seeds, the log grid that fills
the βs, and where the sweep trains (here, or a Ray cluster).

A field group (like model_fields.py): its rows go into the form's one QFormLayout, the "Sweep
β" box above β and the lists below the target rate, and it shows them while the box is ticked.
The lists are read by training.config's parsers (torch-free).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QWidget

COURSE_BETAS_TEXT = "0, 1e-4, 1e-3, 1e-2, 0.1, 1, 10"  # the course's grid (training.engine.sweep)
SWEEP_DEFAULTS = {"sweep": False, "betas": COURSE_BETAS_TEXT, "sweep_seeds": "0",
                  "run_on": "local", "ray_address": ""}


def bad_address(address: str) -> str | None:
    """Why a Ray head address is not host:port (None when it is); torch-free."""
    from latent_explorer.training.config import parse_address

    try:
        parse_address(address)
    except ValueError as e:
        return str(e)
    return None


def _row(*widgets: QWidget, stretch: QWidget | None = None) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        layout.addWidget(w, 1 if w is stretch else 0)
    return row


class SweepFields(QObject):
    """"Sweep β", the βs (typed, or filled from a log grid), the seeds and where to train."""

    toggled = Signal(bool)  # the "Sweep β" box
    edited = Signal()  # a list or the Ray address typed, or where to train changed
    lists_changed = Signal()  # the βs or seeds changed (the estimate counts the members)
    message = Signal(str)  # the log grid's complaint ('' when it filled the list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.sweep = QCheckBox("Sweep β: train a list of βs at once")
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
        self.log_grid = _row(QLabel("from"), self.grid_from, QLabel("to"), self.grid_to,
                             QLabel("per ×10"), self.grid_per_decade, self.grid_fill)
        self.log_grid.hide()
        self.betas_row = _row(self.betas, self.log_grid_button, stretch=self.betas)
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
        self.run_on_row = _row(self.run_on, self.ray_address, stretch=self.ray_address)
        for w, name in ((self.sweep, "Sweep β"), (self.betas, "βs"), (self.sweep_seeds, "Seeds"),
                        (self.grid_from, "log grid from"), (self.grid_to, "log grid to"),
                        (self.grid_per_decade, "log grid points per decade"),
                        (self.run_on, "Run on"), (self.ray_address, "Ray address")):
            w.setAccessibleName(name)
        self._form: QFormLayout | None = None
        self.sweep.toggled.connect(self.toggled)
        self.log_grid_button.toggled.connect(self.log_grid.setVisible)
        self.grid_fill.clicked.connect(lambda: self.fill_log_grid())
        self.run_on.currentIndexChanged.connect(lambda _i: self._update_run_on())
        # Ray's start-up counts in the estimate: a different executor is a different estimate.
        self.run_on.currentIndexChanged.connect(lambda _i: self.lists_changed.emit())
        for edit in (self.betas, self.sweep_seeds, self.ray_address):
            edit.textEdited.connect(lambda _t: self.edited.emit())
        for edit in (self.betas, self.sweep_seeds):
            edit.textChanged.connect(lambda _t: self.lists_changed.emit())

    def add_toggle_row(self, form: QFormLayout) -> None:
        form.addRow("", self.sweep)

    def add_list_rows(self, form: QFormLayout) -> None:
        """βs, the log grid, seeds and where to train (shown while sweeping)."""
        self._form = form
        for text, buddy, field in (("β&s", self.betas, self.betas_row),
                                   (None, None, self.log_grid),
                                   ("See&ds", self.sweep_seeds, self.sweep_seeds),
                                   ("R&un on", self.run_on, self.run_on_row)):
            if text is None:
                form.addRow("", field)
                continue
            label = QLabel(text)
            label.setBuddy(buddy)
            form.addRow(label, field)

    # -- values ------------------------------------------------------------------------------
    def stored_values(self) -> dict:
        return {"sweep": self.sweep.isChecked(), "betas": self.betas.text(),
                "sweep_seeds": self.sweep_seeds.text(), "run_on": self.run_on.currentData(),
                "ray_address": self.ray_address.text().strip()}

    def set_values(self, values: dict) -> None:
        """Stored values of the right type, else the defaults."""
        sv = {**SWEEP_DEFAULTS, **{k: values[k] for k in SWEEP_DEFAULTS
                                   if isinstance(values.get(k), type(SWEEP_DEFAULTS[k]))}}
        self.betas.setText(sv["betas"])
        self.sweep_seeds.setText(sv["sweep_seeds"])
        self.run_on.setCurrentIndex(max(0, self.run_on.findData(sv["run_on"])))
        self.ray_address.setText(sv["ray_address"])
        self.sweep.setChecked(sv["sweep"])

    def lists(self) -> tuple[tuple[float, ...], tuple[int, ...]]:
        """(βs, seeds); a list that cannot be read comes back empty."""
        from latent_explorer.training.config import SweepListError, parse_betas, parse_seeds

        out: list[tuple] = []
        for parse, edit in ((parse_betas, self.betas), (parse_seeds, self.sweep_seeds)):
            try:
                out.append(tuple(parse(edit.text())))
            except SweepListError:
                out.append(())
        return out[0], out[1]

    def member_count(self) -> int:
        """How many members the lists name (0 when a list cannot be read)."""
        betas, seeds = self.lists()
        return len(betas) * len(seeds)

    def executor(self, threads: int) -> dict:
        """Where the sweep trains: {'engine': 'local' or 'ray', 'address': 'host:port' or None,
        'threads': the CPU threads of its training thread here, 0 for torch's default}."""
        engine = self.run_on.currentData()
        address = self.ray_address.text().strip() if engine == "ray" else ""
        return {"engine": engine, "address": address or None, "threads": threads}

    def field_problems(self) -> list[tuple[QWidget, str]]:
        """(field, why) for the lists and the Ray address as typed."""
        from latent_explorer.training.config import SweepListError, parse_betas, parse_seeds

        out: list[tuple[QWidget, str]] = []
        for parse, edit in ((parse_betas, self.betas), (parse_seeds, self.sweep_seeds)):
            try:
                parse(edit.text())
            except SweepListError as e:
                out.append((edit, str(e)))
        address = self.executor(0)["address"]
        if address is not None and (why := bad_address(address)):
            out.append((self.ray_address, why))
        return out

    def fill_log_grid(self) -> bool:
        """Fill the β list from the log grid fields; a message when they are wrong."""
        from latent_explorer.training.engine.sweep import log_grid

        try:
            low, high = float(self.grid_from.text()), float(self.grid_to.text())
            values = log_grid(low, high, self.grid_per_decade.value())
        except ValueError:
            self.message.emit(f"log grid: need numbers 0 < from <= to, got "
                              f"{self.grid_from.text()!r} and {self.grid_to.text()!r}")
            return False
        self.betas.setText(", ".join(f"{v:g}" for v in values))
        self.message.emit("")
        return True

    # -- rows --------------------------------------------------------------------------------
    def set_allowed(self, allowed: bool) -> None:
        """Only a model with a β can sweep it."""
        self.sweep.setEnabled(allowed)
        self.sweep.setToolTip("Train every β of a list (and every seed of a list) at once, and "
                              "compare them on the Sweep tab's rate–distortion plane"
                              if allowed else "An AE has no β to sweep")

    def update_rows(self, sweep: bool) -> None:
        """The lists' rows while sweeping (the form hides β, target rate and seed then)."""
        f = self._form
        if f is not None:
            for row in (self.betas_row, self.sweep_seeds, self.run_on_row, self.log_grid):
                f.setRowVisible(row, sweep)
        self.log_grid.setVisible(sweep and self.log_grid_button.isChecked())
        self.ray_address.setEnabled(self.run_on.currentData() == "ray")

    def _update_run_on(self) -> None:
        self.ray_address.setEnabled(self.run_on.currentData() == "ray")
        self.edited.emit()


__all__ = ["COURSE_BETAS_TEXT", "SWEEP_DEFAULTS", "SweepFields", "bad_address"]
