"""A tab's page that scrolls rather than make the window bigger than the screen.

The page shows its widget whole wherever the window has room for it; the room it asks the
window for (its minimum size) is the widget's own minimum, but never more than `PAGE_MINIMUM`,
so that a tab full of plots cannot push the window past a laptop's screen. Below its own
minimum the widget scrolls. The window (explorer/main_window.py) first takes the room from
its docks, down to their minimum: `needed_size()` says how much the widget wants.

Unlike QScrollArea's own widgetResizable mode this does not size the widget by heightForWidth,
which Qt's layouts answer with their preferred height (a page would scroll as soon as it had
less than that; a grid's answer can be thousands of pixels). It takes the widget's minimum
height, and the lines its word-wrapped labels need at the widths they were given
(`minimum_height`): squeezed below that, a layout draws the widgets below a label over it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QGridLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QScrollArea,
    QSplitter,
    QStackedLayout,
    QStackedWidget,
    QWidget,
)

# What one tab may ask of the window: with the docks at their minimum this keeps the window's
# minimum within 1024×640 (tests/test_window_fits.py adds it up).
PAGE_MINIMUM = QSize(640, 360)


def minimum_height(item: QLayoutItem | QWidget) -> int:
    """The least height a widget or layout item takes without squeezing any widget in it below
    its minimum, with each word-wrapped label given the lines it needs at its current width."""
    if isinstance(item, QWidget):
        w = item
    elif item.widget() is not None:
        w = item.widget()
    elif item.layout() is not None:
        return _layout_height(item.layout())
    else:
        return item.minimumSize().height()  # a spacer
    if w.isHidden():
        return 0
    if isinstance(w, QStackedWidget):  # the page shown, not the largest
        return minimum_height(w.currentWidget()) if w.currentWidget() is not None else 0
    own = w.minimumSizeHint().expandedTo(w.minimumSize()).height()
    if isinstance(w, QLabel):
        if w.wordWrap() and w.width() > 0:
            return max(own, w.heightForWidth(w.width()))
        return own
    if isinstance(w, QSplitter):
        heights = [minimum_height(w.widget(i)) for i in range(w.count())
                   if not w.widget(i).isHidden()]
        if not heights:
            return own
        if w.orientation() == Qt.Orientation.Vertical:
            total = sum(heights) + w.handleWidth() * (len(heights) - 1)
        else:
            total = max(heights)
        return max(own, total)
    lay = w.layout()
    if lay is None or isinstance(w, QScrollArea):
        return own
    frame = max(0, own - lay.minimumSize().height())  # a group box's title, say
    return max(own, _layout_height(lay) + frame)


def _layout_height(lay: QLayout) -> int:
    m = lay.contentsMargins()
    items = [lay.itemAt(i) for i in range(lay.count())]
    items = [i for i in items if i is not None and not i.isEmpty()]
    if not items:
        return lay.minimumSize().height()
    if isinstance(lay, QBoxLayout):
        heights = [minimum_height(i) for i in items]
        if lay.direction() in (QBoxLayout.Direction.TopToBottom,
                               QBoxLayout.Direction.BottomToTop):
            body = sum(heights) + max(lay.spacing(), 0) * (len(items) - 1)
        else:
            body = max(heights)
    elif isinstance(lay, QGridLayout):
        rows: dict[int, int] = {}
        for i in range(lay.count()):
            item = lay.itemAt(i)
            if item is None or item.isEmpty():
                continue
            row, _col, span, _cspan = lay.getItemPosition(i)
            if span == 1:
                rows[row] = max(rows.get(row, 0), minimum_height(item))
        body = sum(rows.values()) + max(lay.verticalSpacing(), 0) * max(0, len(rows) - 1)
    elif isinstance(lay, QStackedLayout):
        current = lay.currentWidget()
        body = minimum_height(current) if current is not None else 0
    else:  # a form, a flow: their own minimum
        return lay.minimumSize().height()
    return max(lay.minimumSize().height(), body + m.top() + m.bottom())


class PageScroll(QScrollArea):
    """A frameless scroll area that gives its widget the whole viewport, or the widget's
    minimum size where that is larger; its own minimum size is the widget's, up to `limit`.
    `needed_changed` says the widget now needs another size (the window may make room)."""

    needed_changed = Signal()

    def __init__(self, widget: QWidget, limit: QSize = PAGE_MINIMUM,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.limit = QSize(limit)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setWidget(widget)
        widget.installEventFilter(self)
        if isinstance(widget, QStackedWidget):  # another page: another size
            widget.currentChanged.connect(self._on_page_changed)
        self._need = QSize()
        # Labels rewrap after the widget is resized: look again once they have.
        self._refit = QTimer(self, singleShot=True, interval=0)
        self._refit.timeout.connect(self._fit)
        self._fit()

    def needed_size(self) -> QSize:
        """The size the widget needs to show whole, without scroll bars (its wrapped labels at
        the widths they have now)."""
        w = self.widget()
        if w is None:
            return QSize(0, 0)
        shown = w.currentWidget() if isinstance(w, QStackedWidget) else w
        if shown is None:
            return QSize(0, 0)
        need = shown.minimumSizeHint().expandedTo(shown.minimumSize())
        need.setHeight(max(need.height(), minimum_height(w)))
        return need

    def minimumSizeHint(self) -> QSize:
        w = self.widget()
        if w is None:
            return QSize(0, 0)
        return w.minimumSizeHint().expandedTo(w.minimumSize()).boundedTo(self.limit)

    def sizeHint(self) -> QSize:
        w = self.widget()
        return w.sizeHint().expandedTo(self.needed_size()) if w is not None else super().sizeHint()

    def _fit(self) -> None:
        """The widget as large as the viewport, and no smaller than its minimum."""
        w = self.widget()
        if w is None:
            return
        need = self.needed_size()
        room = self.maximumViewportSize()
        size = room.expandedTo(need)
        bar = self.style().pixelMetric(self.style().PixelMetric.PM_ScrollBarExtent, None, self)
        if size.width() > room.width():  # a horizontal scroll bar takes some height
            size.setHeight(max(need.height(), room.height() - bar))
        if size.height() > room.height():  # and a vertical one some width
            size.setWidth(max(need.width(), room.width() - bar))
            if size.width() > room.width() - bar:
                size.setHeight(max(need.height(), room.height() - bar))
        if w.size() != size:
            w.resize(size)
        if need != self._need:
            self._need = need
            self.needed_changed.emit()

    def _on_page_changed(self, _index: int) -> None:
        self._fit()
        self._refit.start()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self._fit()  # its minimum may have changed (a toolbar wrapped, a box appeared)
            self.updateGeometry()
        elif obj is self.widget() and event.type() == QEvent.Type.Resize:
            self._refit.start()
        return super().eventFilter(obj, event)
