"""A label whose height never changes with its text: a fixed number of lines, the last one
elided ("…") when the text needs more, the whole text in its tooltip.

A word-wrapped QLabel grows a line when its text gets longer, and the layout takes that line
from its neighbours: the Training tab's loss plots jumped each time the timeline caption
wrapped. This one asks for `lines` lines always, whatever its text and width.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QTextLayout, QTextOption
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


def wrap_and_elide(text: str, font: QFont, width: int, lines: int) -> tuple[str, bool]:
    """`text` wrapped at word boundaries into at most `lines` lines of `width` pixels, the last
    line elided when more would be needed: (the lines joined by newlines, whether it was cut)."""
    text = " ".join(text.split())
    if not text or width <= 0:
        return text, False
    fm = QFontMetrics(font)
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    out: list[str] = []
    cut = False
    layout.beginLayout()
    try:
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            start, length = line.textStart(), line.textLength()
            if len(out) == lines - 1:  # the last line: all that is left, elided to fit
                rest = text[start:].strip()
                shown = fm.elidedText(rest, Qt.TextElideMode.ElideRight, width)
                cut = shown != rest
                out.append(shown)
                break
            out.append(text[start:start + length].strip())
    finally:
        layout.endLayout()
    return "\n".join(out), cut


class ElidedLabel(QLabel):
    """Plain text in exactly `lines` lines of height; `full_text()` is what was set."""

    def __init__(self, text: str = "", lines: int = 1, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lines = max(1, int(lines))
        self._full = ""
        self._cut = False
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(False)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # Any width (the text adapts); the height of `lines` lines, fixed.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._fix_height()
        self.setText(text)

    def full_text(self) -> str:
        return self._full

    def is_elided(self) -> bool:
        """Whether the text shown is cut short (its whole is then the tooltip)."""
        return self._cut

    def setText(self, text: str) -> None:
        self._full = text or ""
        self._fit()

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(" ".join(self._full.split())) // self.lines,
                     self._height())

    def minimumSizeHint(self) -> QSize:
        return QSize(0, self._height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._fix_height()
            self._fit()

    def _height(self) -> int:
        m = self.contentsMargins()
        return self.lines * self.fontMetrics().lineSpacing() + m.top() + m.bottom() + 2 * self.margin()

    def _fix_height(self) -> None:
        self.setFixedHeight(self._height())

    def _fit(self) -> None:
        width = self.contentsRect().width() - 2 * self.margin()
        shown, cut = wrap_and_elide(self._full, self.font(), width, self.lines)
        QLabel.setText(self, shown)
        self._cut = cut
        self.setToolTip(self._full if cut else "")


__all__ = ["ElidedLabel", "wrap_and_elide"]
