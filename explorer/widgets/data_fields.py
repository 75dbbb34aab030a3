"""The training form's data rows: the dataset, and for a folder of images its size and channels.

A field group (like model_fields.py): it adds its rows to the form's one QFormLayout. The
dataset box lists the registry's named sources (training/data/sources.py), the folders chosen
so far, then "Folder…". A named source that is read from the user's folder (one whose name is
also a folder format's, CelebA) asks for that folder when chosen. Torch-free, but for the one
look into CelebA's cache when its folder is not given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QSpinBox, QWidget

from latent_explorer.models.likelihoods import DEFAULT_LIKELIHOOD
from latent_explorer.training.data.sources import DATA_SOURCES, FOLDER_FORMATS, DataSource, list_sources

FOLDER_ITEM = "Folder (idx files, or one sub-folder of images per class)…"
FOLDER_TITLE = "Folder of idx files, or of one sub-folder of images per class"
_CHOOSE_FOLDER = "choose-folder"
_FOLDER_PREFIX = "folder:"
_IN_PREFIX = "in:"  # a named source read from a folder: "in:celeba:/path/to/it"
# The image size choices: as the files are, the common sizes, or another side.
IMAGE_SIZES: tuple[tuple[int | None, str], ...] = (
    (None, "as the files"), (28, "28×28"), (32, "32×32"), (64, "64×64"), (-1, "other side…"))
CHANNELS: tuple[tuple[int | None, str], ...] = ((None, "as the files"), (1, "grey"),
                                                (3, "colour (RGB)"))
SIDE_MIN, SIDE_MAX = 4, 1024  # TrainConfig's image_size bounds


def split_source(data: str) -> tuple[str, str | None]:
    """A dataset combo entry as (source, data_dir); a plain folder's source is 'folder'."""
    if data.startswith(_FOLDER_PREFIX):
        return "folder", data[len(_FOLDER_PREFIX):]
    if data == _CHOOSE_FOLDER:
        return "folder", None
    if data.startswith(_IN_PREFIX):
        source, _, folder = data[len(_IN_PREFIX):].partition(":")  # names hold no ':'
        return source, folder
    return data, None


def reads_a_folder(source: str) -> bool:
    """Whether the named source is read from the user's folder: it is a folder format too."""
    return source in DATA_SOURCES and source in FOLDER_FORMATS


def _cached(source: str) -> bool:
    """Whether a source read from a folder was read before and kept in the cache."""
    if source == "celeba":
        from latent_explorer.training.data.colour_sources import celeba_cache_path

        return celeba_cache_path().is_file()
    return False


class DataFields(QObject):
    """The dataset box, and the image size and channels rows shown for a folder."""

    changed = Signal()  # another dataset or image option: likelihood, β per image, estimate
    chosen = Signal()  # the user picked another dataset: the epochs follow it
    note = Signal(str, bool)  # a line for the form's message (text, is an error)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
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
        self.image_size = QComboBox()
        for side, label in IMAGE_SIZES:
            self.image_size.addItem(label, side)
        self.image_size.setToolTip("Every image resized (shorter side) and centre-cropped to "
                                   "this square; as the files: their own size")
        self.image_side = QSpinBox()
        self.image_side.setRange(SIDE_MIN, SIDE_MAX)
        self.image_side.setValue(48)
        self.image_side.setSuffix(" px")
        self.image_side.setToolTip(f"The square's side, {SIDE_MIN} to {SIDE_MAX} pixels")
        self.channels = QComboBox()
        for n, label in CHANNELS:
            self.channels.addItem(label, n)
        self.channels.setToolTip("Grey (1 channel) or colour (3, RGB); as the files: colour "
                                 "when any image is in colour")
        self._size_row = QWidget()
        row = QHBoxLayout(self._size_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.image_size, 1)
        row.addWidget(self.image_side)
        for w, name in ((self.dataset, "Dataset"), (self.image_size, "Image size"),
                        (self.image_side, "Image side"), (self.channels, "Channels")):
            w.setAccessibleName(name)
        self._form: QFormLayout | None = None
        self._last_index = 0
        self.dialog_title = FOLDER_TITLE  # the folder dialog's title, for the folder asked now
        self.ask_folder: Callable[[], str | None] = self._ask_folder_dialog  # tests answer it
        self.dataset.activated.connect(self._on_activated)
        self.dataset.currentIndexChanged.connect(lambda _i: self._on_changed())
        self.image_size.currentIndexChanged.connect(lambda _i: self._on_changed())
        self.image_side.valueChanged.connect(lambda _v: self.changed.emit())
        self.channels.currentIndexChanged.connect(lambda _i: self.changed.emit())

    def add_rows(self, form: QFormLayout) -> None:
        """Dataset, then Image size and Channels (shown for a folder only)."""
        self._form = form
        form.addRow("&Dataset", self.dataset)
        form.addRow("Image si&ze", self._size_row)
        form.addRow("Channels", self.channels)  # its letters are all taken (Alt+H: Help)
        self._update_rows()

    # -- values ------------------------------------------------------------------------------
    def source(self) -> tuple[str, str | None]:
        """(source, data_dir) of the current entry."""
        return split_source(self.dataset.currentData())

    @property
    def is_folder(self) -> bool:
        """Whether the dataset is a plain folder (its image options apply)."""
        return self.source()[0] == "folder"

    def spec(self) -> DataSource | None:
        """The named source chosen (None for a folder)."""
        return DATA_SOURCES.get(self.source()[0], None)

    def values(self) -> dict:
        """dataset, data_dir, image_size and image_channels (None: as the files are, and
        always for a named source)."""
        source, data_dir = self.source()
        side = self.image_size.currentData()
        if side == -1:
            side = self.image_side.value()
        channels = self.channels.currentData()
        folder = source == "folder"
        return {"dataset": source, "data_dir": data_dir,
                "image_size": side if folder else None,
                "image_channels": channels if folder else None}

    def set_values(self, v: dict) -> None:
        """Select v's dataset (its folder when it has one) and image options."""
        source, data_dir = v.get("dataset"), v.get("data_dir")
        if data_dir and reads_a_folder(str(source)):
            self.set_source_folder(str(source), str(data_dir))
        elif data_dir:
            self.set_folder(str(data_dir))
        else:
            i = self.dataset.findData(source)
            self.dataset.setCurrentIndex(max(i, 0))
        self._last_index = self.dataset.currentIndex()
        side = v.get("image_size")
        i = self.image_size.findData(side) if side is not None else 0
        if side is not None and i < 0:
            try:
                side = int(side)
            except (TypeError, ValueError):
                side = None
            ok = side is not None and SIDE_MIN <= side <= SIDE_MAX
            i = self.image_size.findData(-1) if ok else 0
            if ok:
                self.image_side.setValue(side)
        self.image_size.setCurrentIndex(i)
        self.channels.setCurrentIndex(max(0, self.channels.findData(v.get("image_channels"))))
        self._update_rows()

    def set_folder(self, folder: str) -> None:
        """Use a folder (idx files or image sub-folders) as the dataset: one entry for it."""
        self._select(_FOLDER_PREFIX + folder, f"folder: {Path(folder).name or folder}", folder,
                     self.dataset.count() - 1)  # before "Folder…"

    def set_source_folder(self, source: str, folder: str) -> None:
        """Use a named source read from `folder` (CelebA's extracted folder): one entry for it,
        after the source's own."""
        self._select(f"{_IN_PREFIX}{source}:{folder}", f"{source}: {Path(folder).name or folder}",
                     folder, self.dataset.findData(source) + 1)

    def _select(self, data: str, label: str, tip: str, at: int) -> None:
        i = self.dataset.findData(data)
        if i < 0:
            i = at
            self.dataset.insertItem(i, label, data)
            self.dataset.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.dataset.setCurrentIndex(i)
        self._last_index = i

    # -- what the form shows before loading ---------------------------------------------------
    def image_shape(self) -> tuple[int, int, int] | None:
        """(C, H, W) the chosen data will have, when known before loading: a named source's,
        or a folder's when both its size and channels are set."""
        spec = self.spec()
        if spec is not None:
            return spec.image_shape
        v = self.values()
        if v["image_size"] and v["image_channels"]:
            return v["image_channels"], v["image_size"], v["image_size"]
        return None

    def likelihood(self) -> str:
        """The likelihood the chosen data trains with by default (a folder's: Bernoulli)."""
        spec = self.spec()
        return spec.likelihood if spec is not None else DEFAULT_LIKELIHOOD

    def n_classes(self) -> int | None:
        """Classes of a named source (None for a folder: known once loaded)."""
        spec = self.spec()
        return spec.n_classes if spec is not None else None

    def train_key(self) -> str:
        """What the form's training-split sizes are keyed by: a folder's path, else the name
        (as the window reports them: the run's data_dir or dataset)."""
        source, data_dir = self.source()
        return data_dir or source

    def problems(self) -> list[str]:
        source, data_dir = self.source()
        if source == "folder" and not data_dir:
            return ["choose the folder (idx files or image sub-folders)"]
        return []

    # -- slots -------------------------------------------------------------------------------
    def _on_activated(self, index: int) -> None:
        data = self.dataset.itemData(index)
        if data == _CHOOSE_FOLDER:
            self.dialog_title = FOLDER_TITLE
            folder = self.ask_folder()
            if folder:
                self.set_folder(folder)
            else:
                self.dataset.setCurrentIndex(self._last_index)
                return
        elif reads_a_folder(data):
            if not self._ask_source_folder(data):
                return
        else:
            self._last_index = index
        self.chosen.emit()

    def _ask_source_folder(self, source: str) -> bool:
        """Ask for the folder a named source is read from (CelebA's); False: nothing chosen."""
        fmt, spec = FOLDER_FORMATS[source], DATA_SOURCES[source]
        self.dialog_title = f"{spec.label.split(':')[0]}: the folder holding {fmt.label}"
        folder = self.ask_folder()
        if folder:
            self.set_source_folder(source, folder)
            self.note.emit("", False)
            return True
        if _cached(source):  # read from a folder before: the cache has it
            self._last_index = self.dataset.currentIndex()
            self.note.emit(f"{source}: the faces read from your folder before (cached)", False)
            return True
        self.dataset.setCurrentIndex(self._last_index)
        how = fmt.description.replace("`", "")
        self.note.emit(f"{source} is read from your folder, not downloaded: choose it again and "
                       f"give the folder you extracted it into ({how})", True)
        return False

    def _on_changed(self) -> None:
        self._update_rows()
        self.changed.emit()

    def _update_rows(self) -> None:
        folder = self.is_folder
        self.image_side.setVisible(self.image_size.currentData() == -1)
        if self._form is not None:
            self._form.setRowVisible(self._size_row, folder)
            self._form.setRowVisible(self.channels, folder)

    def _ask_folder_dialog(self) -> str | None:
        path = QFileDialog.getExistingDirectory(self.dataset, self.dialog_title)
        return path or None


__all__ = ["CHANNELS", "DataFields", "FOLDER_ITEM", "IMAGE_SIZES", "reads_a_folder",
           "split_source"]
