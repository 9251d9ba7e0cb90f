"""What "fits a 1366x768 laptop" means, as checks a test can run on any open window.

A window fits when its frame lies inside the screen's available area; a label is readable
when its text is not cut: a word-wrapped label is at least as tall as its text needs for
its width, a single-line label at least as wide as its text. A window title that names a
patient keeps the name and the MRN inside the window's width (the title bar elides the end).
"""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QLabel, QTableView, QWidget

# A title bar spends about this much on its icon and buttons.
TITLE_BAR_CHROME = 140


def _inside_scroll_viewport(label: QLabel) -> bool:
    """A label inside a scroll area may be scrolled out of view; that is not clipping."""
    parent = label.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def clipped_labels(window: QWidget) -> list[str]:
    found: list[str] = []
    for label in window.findChildren(QLabel):
        if not label.isVisibleTo(window) or not label.text().strip():
            continue
        if label.pixmap() is not None and not label.pixmap().isNull():
            continue
        name = label.objectName() or label.text()[:40]
        if label.wordWrap():
            needed = label.heightForWidth(label.width())
            if needed > label.height():
                found.append(
                    f"label {name!r} needs {needed} px of height, has {label.height()}: "
                    f"{label.text()[:80]!r}"
                )
        elif label.sizeHint().width() > label.width() and not _inside_scroll_viewport(label):
            found.append(
                f"label {name!r} needs {label.sizeHint().width()} px of width, has "
                f"{label.width()}: {label.text()[:80]!r}"
            )
    return found


def off_screen(window: QWidget, available: QRect) -> list[str]:
    frame = window.frameGeometry()
    if frame.width() > available.width() or frame.height() > available.height():
        return [
            f"{window.windowTitle()!r} is {frame.width()}x{frame.height()}, the screen has "
            f"{available.width()}x{available.height()}"
        ]
    if not available.contains(frame):
        return [f"{window.windowTitle()!r} lies partly off the screen ({frame})"]
    return []


def title_hides_identifiers(window: QWidget) -> list[str]:
    title = window.windowTitle()
    if "MRN" not in title:
        return []
    # Up to the end of the MRN itself: the name and the MRN must be readable.
    end = title.index("MRN") + 4
    while end < len(title) and title[end] not in " ),·—":
        end += 1
    metrics = QFontMetrics(QApplication.font())
    needed = metrics.horizontalAdvance(title[:end])
    room = window.width() - TITLE_BAR_CHROME
    if needed > room:
        return [f"title {title!r}: the name and MRN need {needed} px, the title bar has {room}"]
    return []


def tables_scrolling_sideways(window: QWidget) -> list[str]:
    """A table whose columns do not all fit its width hides some to the right (issue 14)."""
    found = []
    for view in window.findChildren(QTableView):
        if not view.isVisibleTo(window) or view.model() is None:
            continue
        header = view.horizontalHeader()
        if header.length() > view.viewport().width():
            name = view.accessibleName() or view.objectName() or type(view).__name__
            found.append(
                f"table {name!r} needs {header.length()} px of width, shows "
                f"{view.viewport().width()}: columns are hidden to the right"
            )
    return found


def fit_problems(window: QWidget) -> list[str]:
    screen = window.screen()
    problems = off_screen(window, screen.availableGeometry())
    problems += title_hides_identifiers(window)
    problems += clipped_labels(window)
    problems += tables_scrolling_sideways(window)
    return problems
