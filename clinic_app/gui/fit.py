"""Keep a window on a laptop screen (1366x768) with its buttons visible and no text cut off.

- :func:`scrolling` puts a long form in a scroll area and keeps the named widgets (the
  buttons, the line saying why Save is unavailable) below it, always visible.
- :func:`fit_to_screen` sizes a window to what it needs, but never beyond the screen's free
  area, and wide enough that a title naming a patient keeps the name and MRN readable.
- :func:`refit` grows a shown window when new text (a warning under a field) needs more room.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QFontMetrics, QGuiApplication
from PySide6.QtWidgets import QApplication, QFrame, QScrollArea, QVBoxLayout, QWidget

# What a window manager adds around a window: its title bar, and a margin for the frame.
FRAME_HEIGHT = 40
FRAME_WIDTH = 16
# What a title bar spends on its icon and buttons.
TITLE_BAR_CHROME = 140


def available(widget: QWidget) -> QRect:
    screen = widget.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


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
