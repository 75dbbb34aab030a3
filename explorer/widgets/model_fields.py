"""The training form's model rows: kind, architecture, prior, likelihood and the conv widths.

A field group, not a widget of its own: it makes the fields and adds its rows to the form's one
QFormLayout, so that every label of the form lines up in one column. Qt-only and torch-free
(the registries are plain data); the conv widths' stage count is checked with models.conv once
there is text to check, by when the window has loaded torch.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit

from latent_explorer.explorer.widgets.prior_control import PriorControl
from latent_explorer.models.architectures import list_archs
from latent_explorer.models.likelihoods import DEFAULT_LIKELIHOOD, get_likelihood, list_likelihoods
from latent_explorer.models.priors import DEFAULT_PSEUDO_INPUTS, VAMP, prior_problems
from latent_explorer.models.registry import get_kind, list_kinds

CONV = "conv"  # the architecture whose widths the form lets the user set
MAX_CONV_WIDTH = 4096
_OWN = ""  # the likelihood combo's first entry: the dataset's own (TrainConfig.likelihood None)


def parse_conv_widths(text: str) -> tuple[tuple[int, ...] | None, str | None]:
    """The conv widths field: empty is () (32, 64, ... as the image size needs, models/conv.py),
    else comma-separated whole numbers of channels, one per stride-2 stage."""
    text = text.strip()
    if not text:
        return (), None
    widths = []
    for part in text.split(","):
        p = part.strip()
        try:
            w = int(p)
        except ValueError:
            return None, (f"conv width {p!r} is not a whole number of channels (e.g. 32,64,128; "
                          "empty: as the image size needs)")
        if not 1 <= w <= MAX_CONV_WIDTH:
            return None, f"conv widths must be from 1 to {MAX_CONV_WIDTH} channels, got {w}"
        widths.append(w)
    return tuple(widths), None


def conv_stages(image_shape: tuple[int, int, int]) -> int:
    """Stride-2 stages the conv architecture gives images of this (C, H, W) (models/conv.py)."""
    from latent_explorer.models.conv import stages  # torch: only once widths are typed

    return stages(image_shape[1], image_shape[2])


class ModelFields(QObject):
    """Model kind, architecture, prior, likelihood p(x|z) and (Conv only) the conv widths."""

    kind_changed = Signal()  # β, the prior and the one-class check follow the kind
    family_changed = Signal()  # the architecture or prior: another speed, other rows
    edited = Signal()  # the likelihood or the conv widths changed

    def __init__(self, parent: QObject | None = None) -> None:
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
        self.likelihood = QComboBox()
        self.likelihood.addItem("", _OWN)  # its text follows the dataset (set_dataset_likelihood)
        for lk in list_likelihoods():  # the registry: models/likelihoods.py
            self.likelihood.addItem(lk.label, lk.name)
            self.likelihood.setItemData(self.likelihood.count() - 1, lk.description,
                                        Qt.ItemDataRole.ToolTipRole)
        self.likelihood.setToolTip("p(x|z): what the reconstruction term is the log of")
        self.set_dataset_likelihood(DEFAULT_LIKELIHOOD)
        self.conv_widths = QLineEdit()
        self.conv_widths.setPlaceholderText("32,64,…: as the size needs")
        self.conv_widths.setToolTip(
            "Channels after each stride-2 stage, comma-separated: one per stage the image size "
            "takes (28×28: 2, 32×32: 3, 64×64: 4). Empty: 32, 64, 128, … as the size needs")
        for w, name in ((self.kind, "Model"), (self.arch, "Architecture"),
                        (self.likelihood, "Likelihood"), (self.conv_widths, "Conv widths")):
            w.setAccessibleName(name)
        self._form: QFormLayout | None = None
        self.kind.currentIndexChanged.connect(lambda _i: self._on_kind_changed())
        self.arch.currentIndexChanged.connect(lambda _i: self._on_arch_changed())
        self.prior.changed.connect(self.family_changed)
        self.likelihood.currentIndexChanged.connect(lambda _i: self.edited.emit())
        self.conv_widths.textEdited.connect(lambda _t: self.edited.emit())

    def add_rows(self, form: QFormLayout) -> None:
        """The model rows, in order: Model, Architecture, Conv widths, Prior, Likelihood."""
        self._form = form
        form.addRow("&Model", self.kind)
        form.addRow("&Architecture", self.arch)
        conv_label = QLabel("Conv &widths")
        conv_label.setBuddy(self.conv_widths)
        form.addRow(conv_label, self.conv_widths)
        prior_label = QLabel("&Prior")
        prior_label.setBuddy(self.prior.combo)
        form.addRow(prior_label, self.prior)
        likelihood_label = QLabel("Li&kelihood")
        likelihood_label.setBuddy(self.likelihood)
        form.addRow(likelihood_label, self.likelihood)
        self._update_rows()

    # -- values ------------------------------------------------------------------------------
    @property
    def is_conditional(self) -> bool:
        return get_kind(self.kind.currentData()).conditional

    @property
    def is_variational(self) -> bool:
        return get_kind(self.kind.currentData()).variational

    def values(self) -> dict:
        """kind, arch, prior, pseudo_inputs, likelihood (None: the dataset's own) and
        conv_widths (() under another architecture; None while the text is wrong)."""
        prior, k = self.prior.value()
        widths = (parse_conv_widths(self.conv_widths.text())[0]
                  if self.arch.currentData() == CONV else ())
        return {"kind": self.kind.currentData(), "arch": self.arch.currentData(),
                "prior": prior, "pseudo_inputs": k,
                "likelihood": self.likelihood.currentData() or None, "conv_widths": widths}

    def set_values(self, v: dict, defaults: dict) -> None:
        """Fill the rows from `v`; an unknown stored value falls back to `defaults`'."""
        for combo, key in ((self.kind, "kind"), (self.arch, "arch")):
            i = combo.findData(v.get(key))
            combo.setCurrentIndex(i if i >= 0 else combo.findData(defaults[key]))
        self.prior.set_value(v.get("prior"), v.get("pseudo_inputs"))
        i = self.likelihood.findData(v.get("likelihood") or _OWN)
        self.likelihood.setCurrentIndex(max(i, 0))
        widths = v.get("conv_widths") or ()
        if isinstance(widths, str):
            widths, _ = parse_conv_widths(widths)
        try:
            text = ",".join(str(int(w)) for w in widths or ())
        except (TypeError, ValueError):
            text = ""
        self.conv_widths.setText(text if parse_conv_widths(text)[1] is None else "")
        self._update_rows()

    def set_dataset_likelihood(self, name: str | None) -> None:
        """The first entry names the dataset's own likelihood: "Dataset's own (Bernoulli)"."""
        try:
            label = get_likelihood(name or DEFAULT_LIKELIHOOD).label
        except ValueError:
            label = name or DEFAULT_LIKELIHOOD
        self.likelihood.setItemText(0, f"Dataset's own ({label})")
        self.likelihood.setItemData(0, "The likelihood the chosen dataset trains with by "
                                    f"default: {label}", Qt.ItemDataRole.ToolTipRole)

    # -- checks ------------------------------------------------------------------------------
    def widths_problem(self, image_shape: tuple[int, int, int] | None) -> str | None:
        """Why the conv widths cannot train (None when they can or do not apply); their count
        is checked against the stages of `image_shape` when it is known."""
        if self.arch.currentData() != CONV:
            return None
        widths, why = parse_conv_widths(self.conv_widths.text())
        if why or not widths or image_shape is None:
            return why
        n = conv_stages(image_shape)
        if n and len(widths) != n:
            c, h, w = image_shape
            return (f"{h}×{w} images take {n} conv stages: give {n} widths, not {len(widths)} "
                    "(empty: as the size needs)")
        return None

    def one_class_problem(self, dataset: str, n_classes: int | None) -> str | None:
        """A conditional model needs two classes or more to condition on."""
        if not self.is_conditional or n_classes is None or n_classes >= 2:
            return None
        label = get_kind(self.kind.currentData()).label
        return (f"a {label} needs two classes or more to condition on, and {dataset} has "
                f"{n_classes}: choose a VAE or another dataset")

    # -- rows --------------------------------------------------------------------------------
    def _on_kind_changed(self) -> None:
        self._update_prior_enabled()
        self.kind_changed.emit()

    def _on_arch_changed(self) -> None:
        self._update_rows()
        self.family_changed.emit()

    def _update_prior_enabled(self) -> None:
        """Only a model whose kind can take another prior offers the choice."""
        why = prior_problems(VAMP.name, self.kind.currentData(), DEFAULT_PSEUDO_INPUTS)
        self.prior.set_kind_allows(not why, why[0] if why else "")

    def _update_rows(self) -> None:
        self._update_prior_enabled()
        if self._form is not None:
            self._form.setRowVisible(self.conv_widths, self.arch.currentData() == CONV)


__all__ = ["CONV", "MAX_CONV_WIDTH", "ModelFields", "conv_stages", "parse_conv_widths"]
