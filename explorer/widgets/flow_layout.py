"""A layout that places widgets left to right and wraps onto a new line when the row is full.

Toolbars of controls use it so that a narrow window gets two rows of buttons rather than a
window too wide for the screen. Qt's own "Flow Layout" example, with lines whose items are
centred vertically and items wider than the whole row shrunk to it (down to their minimum
width). Its minimum width is its widest item's; its minimum height is that of the lines it
needs at the width it was last given (one line until it is first laid out), so the layouts
above it give it those lines without asking for heightForWidth, which a scroll area would
turn into its preferred height.
"""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLabel, QLayout, QLayoutItem, QSizePolicy, QStyle, QWidget


class FlowLayout(QLayout):
    """Items in reading order, as many to a line as fit; `spacing` between them (the style's
    default when -1), `line_spacing` between lines."""

    def __init__(self, parent: QWidget | None = None, spacing: int = -1,
                 line_spacing: int = -1) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self._line_spacing = line_spacing
        self._width = -1  # the width last laid out at, and the height that took
        self._height = -1
        if parent is None:
            self.setContentsMargins(0, 0, 0, 0)

    # -- the item list ---------------------------------------------------------------------------
    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def add(self, *widgets: QWidget | str) -> FlowLayout:
        """Add widgets in order (a string becomes a label); returns self."""
        for w in widgets:
            self.addWidget(QLabel(w) if isinstance(w, str) else w)
        return self

    # -- sizes -----------------------------------------------------------------------------------
    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return False

    def height_for_width(self, width: int) -> int:
        """The height the items take, laid out `width` wide."""
        return self._place(QRect(0, 0, width, 0), apply=False)

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._visible():
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        size += QSize(m.left() + m.right(), m.top() + m.bottom())
        if self._width >= 0:
            size.setHeight(max(size.height(), self.height_for_width(self._width)))
        return size

    def sizeHint(self) -> QSize:
        """All the items on one line."""
        items = self._visible()
        if not items:
            return self.minimumSize()
        width = sum(i.sizeHint().width() for i in items) + self._gap() * (len(items) - 1)
        height = max(i.sizeHint().height() for i in items)
        m = self.contentsMargins()
        hint = QSize(width + m.left() + m.right(), height + m.top() + m.bottom())
        return hint.expandedTo(self.minimumSize())

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        height = self._place(rect, apply=True)
        changed = height != self._height
        self._width, self._height = rect.width(), height
        if changed and self.parentWidget() is not None:
            # More or fewer lines: the layouts above make room for them (or take it back).
            self.invalidate()
            self.parentWidget().updateGeometry()

    # -- placing ---------------------------------------------------------------------------------
    def _visible(self) -> list[QLayoutItem]:
        return [i for i in self._items if not i.isEmpty()]

    def _gap(self) -> int:
        if self._spacing >= 0:
            return self._spacing
        return self._style_spacing(QStyle.PixelMetric.PM_LayoutHorizontalSpacing)

    def _line_gap(self) -> int:
        if self._line_spacing >= 0:
            return self._line_spacing
        return self._style_spacing(QStyle.PixelMetric.PM_LayoutVerticalSpacing)

    def _style_spacing(self, metric: QStyle.PixelMetric) -> int:
        parent = self.parent()
        if isinstance(parent, QWidget):
            v = parent.style().pixelMetric(metric, None, parent)
        elif isinstance(parent, QLayout):
            v = parent.spacing()
        else:
            v = -1
        return v if v >= 0 else 6

    def _place(self, rect: QRect, apply: bool) -> int:
        """Lay the items out in `rect` (when `apply`); the height they take either way."""
        m: QMargins = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        gap, line_gap = self._gap(), self._line_gap()
        lines: list[list[tuple[QLayoutItem, QSize]]] = [[]]
        x = 0
        for item in self._visible():
            hint = item.sizeHint().expandedTo(item.minimumSize())
            width = max(item.minimumSize().width(), min(hint.width(), area.width()))
            if lines[-1] and x + gap + width > area.width():
                lines.append([])
                x = 0
            elif lines[-1]:
                x += gap
            height = item.heightForWidth(width) if item.hasHeightForWidth() else hint.height()
            lines[-1].append((item, QSize(width, max(height, item.minimumSize().height()))))
            x += width
        y = area.y()
        for line in lines:
            if not line:
                continue
            line_height = max(s.height() for _i, s in line)
            x = area.x()
            for item, s in line:
                if apply:
                    top = y + (line_height - s.height()) // 2
                    item.setGeometry(QRect(QPoint(x, top), s))
                x += s.width() + gap
            y += line_height + line_gap
        used = y - line_gap - area.y() if any(lines) else 0
        return used + m.top() + m.bottom()


def flow(*widgets: QWidget | str, spacing: int = -1) -> FlowLayout:
    """A FlowLayout of `widgets` (strings become labels), like panels.base.row for one line."""
    return FlowLayout(spacing=spacing).add(*widgets)


def group(*widgets: QWidget | str) -> QWidget:
    """Widgets that wrap as one (a label and its field): a widget holding them in a row."""
    from PySide6.QtWidgets import QHBoxLayout

    box = QWidget()
    box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    h = QHBoxLayout(box)
    h.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        h.addWidget(QLabel(w) if isinstance(w, str) else w)
    return box
