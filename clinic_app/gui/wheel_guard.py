"""The mouse wheel never changes a field that the person is not typing in.

Qt's date, number and choice fields step their value under the wheel even without keyboard
focus: scrolling a long form over "Measured on" moved a weight's date by years. One filter on
the application (installed by ``gui/app.py``) stops the wheel at any such field that does not
have the focus and hands the wheel to the scroll area around the field, so the form scrolls
instead. A field with the focus (the person clicked or tabbed into it) still takes the
wheel, as a deliberate change.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QScrollBar,
    QWidget,
)

# Date, time, number and choice fields; scroll bars are for scrolling and stay as they are.
GUARDED: tuple[type[QWidget], ...] = (QAbstractSpinBox, QComboBox, QAbstractSlider)


def _guarded_field(widget: QObject) -> QWidget | None:
    """The field ``widget`` is, or whose text part it is (a spin box's or combo's line edit)."""
    if isinstance(widget, QLineEdit):
        parent = widget.parentWidget()
        if parent is not None and isinstance(parent, GUARDED):
            widget = parent
    if isinstance(widget, QScrollBar) or not isinstance(widget, GUARDED):
        return None
    return widget


def _scroll_area_of(field: QWidget) -> QAbstractScrollArea | None:
    parent = field.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea) and not isinstance(parent, GUARDED):
            return parent
        parent = parent.parentWidget()
    return None


def _has_focus(field: QWidget) -> bool:
    focused = QApplication.focusWidget()
    return focused is not None and (focused is field or field.isAncestorOf(focused))


class WheelGuard(QObject):
    """Application event filter: a wheel over an unfocused field scrolls its parent instead."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.Wheel:
            return False
        field = _guarded_field(watched)
        if field is None or _has_focus(field):
            return False
        assert isinstance(event, QWheelEvent)
        area = _scroll_area_of(field)
        if area is None:
            # Not accepted and filtered: QApplication hands a real wheel on to the parent.
            event.ignore()
            return True
        # Hand the wheel to the scroll area around the field, at the same place on screen.
        viewport = area.viewport()
        where = QPointF(viewport.mapFromGlobal(event.globalPosition().toPoint()))
        moved = QWheelEvent(
            where,
            event.globalPosition(),
            event.pixelDelta(),
            event.angleDelta(),
            event.buttons(),
            event.modifiers(),
            event.phase(),
            event.inverted(),
        )
        QApplication.sendEvent(viewport, moved)
        event.accept()
        return True


_GUARD_PROPERTY = "clinic_app_wheel_guard"


def install_wheel_guard(app: QApplication) -> WheelGuard:
    """Install the guard on ``app`` once; returns the guard in place."""
    existing = app.findChild(WheelGuard, _GUARD_PROPERTY)
    if isinstance(existing, WheelGuard):
        return existing
    guard = WheelGuard(app)
    guard.setObjectName(_GUARD_PROPERTY)
    app.installEventFilter(guard)
    return guard


def remove_wheel_guard(app: QApplication) -> None:
    """Take the guard off again (tests that install it clean up after themselves)."""
    existing = app.findChild(WheelGuard, _GUARD_PROPERTY)
    if isinstance(existing, WheelGuard):
        app.removeEventFilter(existing)
        existing.setParent(None)
        existing.deleteLater()
