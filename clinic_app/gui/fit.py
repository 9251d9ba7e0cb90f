"""Keep a window on a laptop screen (1366x768) with its buttons visible and no text cut off.

- :func:`scrolling` puts a long form in a scroll area and keeps the named widgets (the
  buttons, the line saying why Save is unavailable) below it, always visible.
- :func:`fit_to_screen` sizes a window to what it needs, but never beyond the screen's free
  area, and wide enough that a title naming a patient keeps the name and MRN readable.
- :func:`refit` grows a shown window when new text (a warning under a field) needs more room.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QObject, QRect, QSize, Qt
from PySide6.QtGui import QFontMetrics, QGuiApplication, QScreen
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QScrollArea,
    QTableView,
    QVBoxLayout,
    QWidget,
)

# What a window manager adds around a window: its title bar, and a margin for the frame.
FRAME_HEIGHT = 40
FRAME_WIDTH = 16
# What a title bar spends on its icon and buttons.
TITLE_BAR_CHROME = 140


def screen_of(widget: QWidget) -> QScreen:
    """The screen the widget's window is on.

    Never ``QWidget.screen()``: PySide6 tied the screen wrapper it made there to the window,
    and a window freed in a reference cycle then deleted Qt's own screen, so the next window
    opened crashed the app (found in the GUI suite after a Start cycle dialog had closed).
    """
    centre = widget.window().frameGeometry().center()
    return QGuiApplication.screenAt(centre) or QGuiApplication.primaryScreen()


def available(widget: QWidget) -> QRect:
    return screen_of(widget).availableGeometry()


def largest(widget: QWidget) -> QSize:
    """The biggest client area a window may take on its screen, frame included."""
    area = available(widget)
    return QSize(area.width() - FRAME_WIDTH, area.height() - FRAME_HEIGHT)


def title_width(widget: QWidget) -> int:
    """The width the title bar needs to show the title up to and including the MRN."""
    title = widget.windowTitle()
    if "MRN" not in title:
        return 0
    end = title.index("MRN") + 4
    while end < len(title) and title[end] not in " ),·—":
        end += 1
    return QFontMetrics(QApplication.font()).horizontalAdvance(title[:end]) + TITLE_BAR_CHROME


def fit_to_screen(widget: QWidget, wanted: QSize | None = None) -> None:
    """Resize ``widget`` to ``wanted`` (default: its size hint) within the screen."""
    limit = largest(widget)
    size = wanted if wanted is not None else widget.sizeHint()
    width = min(max(size.width(), title_width(widget), widget.minimumWidth()), limit.width())
    widget.setMinimumWidth(min(max(widget.minimumWidth(), title_width(widget)), limit.width()))
    widget.setMaximumSize(max(limit.width(), widget.minimumWidth()), widget.maximumHeight())
    layout = widget.layout()
    height = size.height()
    if layout is not None and layout.hasHeightForWidth():
        height = max(height, layout.totalHeightForWidth(width))
    widget.resize(width, min(height, limit.height()))
    frame = available(widget)
    geometry = widget.frameGeometry()
    if not frame.contains(geometry) and widget.isWindow() and widget.isVisible():
        widget.move(
            max(frame.left(), min(geometry.left(), frame.right() - geometry.width())),
            max(frame.top(), min(geometry.top(), frame.bottom() - geometry.height())),
        )


def refit(widget: QWidget) -> None:
    """Grow ``widget`` (never shrink it) so new word-wrapped text has the height it needs."""
    layout = widget.layout()
    if layout is None:
        return
    layout.activate()
    width = widget.width()
    needed = (
        layout.totalHeightForWidth(width)
        if layout.hasHeightForWidth()
        else layout.totalSizeHint().height()
    )
    needed = max(needed, layout.totalMinimumSize().height())
    if needed > widget.height():
        widget.resize(width, min(needed, largest(widget).height()))
    layout.activate()


def scrolling(dialog: QWidget, form: QWidget, *below: QWidget) -> QScrollArea:
    """Lay ``dialog`` out as ``form`` in a scroll area with ``below`` under it.

    The ``below`` widgets are taken out of the form (they keep their names, so code and
    tests find them as before) and stay in view however long the form grows.
    """
    for widget in below:
        widget.setParent(None)  # out of the form's layout
    area = QScrollArea(dialog)
    area.setObjectName("form_scroll")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(form)
    layout = dialog.layout()
    if layout is None:
        layout = QVBoxLayout(dialog)
    assert isinstance(layout, QVBoxLayout)
    layout.addWidget(area, 1)
    for widget in below:
        widget.setParent(dialog)
        layout.addWidget(widget)
        widget.show()
    return area


def scroll_hint(area: QScrollArea) -> QSize:
    """The size the scroll area would need to show its form without scrolling."""
    inner = area.widget()
    hint = inner.sizeHint() if inner is not None else QSize()
    bar = area.verticalScrollBar().sizeHint().width()
    return QSize(hint.width() + bar + 2 * area.frameWidth(), hint.height() + 2 * area.frameWidth())


def scrolling_size(dialog: QWidget, area: QScrollArea) -> QSize:
    """The size ``dialog`` would like: everything, with its form shown unscrolled."""
    layout = dialog.layout()
    hint = layout.sizeHint() if layout is not None else dialog.sizeHint()
    inner = scroll_hint(area)
    shown = area.sizeHint()
    return QSize(
        hint.width() + max(0, inner.width() - shown.width()),
        hint.height() + max(0, inner.height() - shown.height()),
    )


def keep_title_readable(widget: QWidget) -> None:
    """Never narrower than its title needs to show the patient's name and MRN."""
    needed = min(title_width(widget), largest(widget).width())
    if needed > widget.minimumWidth():
        widget.setMinimumWidth(needed)


# -- columns that fit their table's width ----------------------------------------------------------
# Room a header section needs beside its text: margins and the sort indicator.
_HEADER_PADDING = 20


def header_text_width(view: QTableView, column: int) -> int:
    """What ``column``'s header needs to be read in full (each line of a two-line header)."""
    header = view.horizontalHeader()
    text = view.model().headerData(column, Qt.Orientation.Horizontal) if view.model() else ""
    metrics = QFontMetrics(header.font())
    lines = str(text or "").split("\n")
    return max(metrics.horizontalAdvance(line) for line in lines) + _HEADER_PADDING


def _capped(widths: dict[int, int], least: dict[int, int], room: int) -> dict[int, int]:
    """The columns of ``widths`` narrowed to one common cap (never below ``least``), the
    widest first, until their sum is at most ``room`` (or all are at ``least``)."""
    if sum(widths.values()) <= room:
        return dict(widths)
    low, high = 0, max(widths.values())
    while low < high:  # the largest cap that fits
        cap = (low + high + 1) // 2
        if sum(max(least[c], min(w, cap)) for c, w in widths.items()) <= room:
            low = cap
        else:
            high = cap - 1
    return {c: max(least[c], min(w, low)) for c, w in widths.items()}


def fit_columns(
    view: QTableView,
    narrow_first: Sequence[Sequence[int]],
    *,
    min_chars: int = 6,
    content_width: Callable[[int], int] | None = None,
) -> None:
    """Narrow columns until every column fits the viewport's width, so nothing is scrolled
    off to the right. ``narrow_first`` groups the columns that may narrow, the first group
    first; in a group the widest narrow first. No column gets narrower than its header (read
    in full) or ``min_chars`` characters. The text of a narrowed column wraps (a view with
    word wrap has its rows sized to their contents) or is elided, its full value in the
    cell's tooltip. ``content_width`` measures a column's cells when the view has a quicker
    way than ``sizeHintForColumn``."""
    header = view.horizontalHeader()
    room = view.viewport().width()
    count = header.count()
    if room <= 0 or count == 0:
        return
    shown = [c for c in range(count) if not header.isSectionHidden(c)]
    last = header.logicalIndex(count - 1) if header.stretchLastSection() else None
    char = view.fontMetrics().averageCharWidth()
    least = {
        c: max(header_text_width(view, c), min_chars * char, header.minimumSectionSize())
        for c in shown
    }
    widths = {c: header.sectionSize(c) for c in shown}
    if last is not None and last in widths:
        # The last section stretches into whatever is left; it needs what it holds.
        measured = content_width(last) if content_width else view.sizeHintForColumn(last)
        widths[last] = max(least[last], measured)
    for group in narrow_first:
        fixed = sum(w for c, w in widths.items() if c not in group)
        members = {c: widths[c] for c in group if c in widths}
        if not members or fixed + sum(members.values()) <= room:
            continue
        widths.update(_capped(members, least, room - fixed))
    for column, width in widths.items():
        if header.sectionSize(column) != width:
            header.resizeSection(column, width)
    if view.wordWrap():
        view.resizeRowsToContents()


class ColumnFitter(QObject):
    """Keeps ``fit_columns`` true when the view is resized (a splitter moved, the window
    maximised) or its rows are replaced."""

    def __init__(
        self,
        view: QTableView,
        narrow_first: Sequence[Sequence[int]],
        fill: Callable[[], None] | None = None,
        content_width: Callable[[int], int] | None = None,
    ) -> None:
        super().__init__(view)
        self.view = view
        self.narrow_first = [list(g) for g in narrow_first]
        self.fill = fill
        """Sets the natural widths again before narrowing (content-sized columns)."""
        self.content_width = content_width
        self._busy = False
        view.viewport().installEventFilter(self)

    def refit(self) -> None:
        if self._busy:  # a scroll bar appearing resizes the viewport while we fit
            return
        self._busy = True
        try:
            for _ in range(3):  # again if a scroll bar came or went meanwhile
                width = self.view.viewport().width()
                if self.fill is not None:
                    self.fill()
                fit_columns(self.view, self.narrow_first, content_width=self.content_width)
                self.view.updateGeometries()  # the scroll bars, now
                if self.view.viewport().width() == width:
                    break
        finally:
            self._busy = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.refit()
        return False
