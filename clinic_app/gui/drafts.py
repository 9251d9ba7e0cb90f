"""Unsaved entries of an open dialog, as a JSON-able dict, and back.

Used when the window was locked and a different user unlocked it: each open dialog's entries
are kept as a draft for their author (``storage.signatures.DraftRepository``) and the dialog is
closed; when the author next opens the same kind of dialog for the same patient, the entries
are put back and the status bar says so. Password fields are never kept.

Fields are keyed by widget type and object name, or by their position among widgets of that
type when they have no name (the same dialog class builds them in the same order).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QDate, QDateTime
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDateEdit,
    QDateTimeEdit,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

PATIENT_PROPERTY = "clinic_patient_id"
"""Dynamic property naming the patient a dialog was opened for."""

# Choices first: restoring a unit choice may refill fields that depend on it (the lab form's
# LLN/ULN), and the typed text restored after it must win.
_KINDS: tuple[type[QWidget], ...] = (
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QDateEdit,
    QDateTimeEdit,
    QSpinBox,
    QDoubleSpinBox,
    QAbstractButton,
)
# A date-and-time field (the lab form's "Sample collected") keeps its time too; a QDateEdit
# is a QDateTimeEdit underneath, so it is left to its own kind (older drafts keep their keys).
_DATETIME_FORMAT = "yyyy-MM-ddTHH:mm:ss"


def _fields(dialog: QWidget) -> list[tuple[str, QWidget]]:
    found: list[tuple[str, QWidget]] = []
    for kind in _KINDS:
        for index, widget in enumerate(dialog.findChildren(kind)):
            name = widget.objectName()
            if name.startswith("qt_"):
                continue
            if kind is QDateTimeEdit and isinstance(widget, QDateEdit):
                continue
            found.append((f"{kind.__name__}:{name or index}", widget))
    return found


def capture(dialog: QWidget) -> dict[str, Any]:
    """The entries a person could have typed or chosen (read-only and password fields left out)."""
    values: dict[str, Any] = {}
    for key, widget in _fields(dialog):
        if isinstance(widget, QLineEdit):
            if widget.echoMode() != QLineEdit.EchoMode.Normal or widget.isReadOnly():
                continue
            values[key] = widget.text()
        elif isinstance(widget, QPlainTextEdit):
            if not widget.isReadOnly():
                values[key] = widget.toPlainText()
        elif isinstance(widget, QComboBox):
            values[key] = widget.currentText()
        elif isinstance(widget, QDateEdit):
            values[key] = widget.date().toString("yyyy-MM-dd")
        elif isinstance(widget, QDateTimeEdit):
            values[key] = widget.dateTime().toString(_DATETIME_FORMAT)
        elif isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            values[key] = widget.value()
        elif isinstance(widget, QAbstractButton) and widget.isCheckable():
            values[key] = widget.isChecked()
    return values


def apply(dialog: QWidget, values: dict[str, Any]) -> int:
    """Put ``values`` back into the dialog's fields; returns how many were restored."""
    restored = 0
    for key, widget in _fields(dialog):
        if key not in values:
            continue
        value = values[key]
        if isinstance(widget, QLineEdit) and isinstance(value, str):
            widget.setText(value)
        elif isinstance(widget, QPlainTextEdit) and isinstance(value, str):
            widget.setPlainText(value)
        elif isinstance(widget, QComboBox) and isinstance(value, str):
            index = widget.findText(value)
            if index >= 0:
                widget.setCurrentIndex(index)
            elif widget.isEditable():
                widget.setEditText(value)
            else:
                continue
        elif isinstance(widget, QDateEdit) and isinstance(value, str):
            widget.setDate(QDate.fromString(value, "yyyy-MM-dd"))
        elif isinstance(widget, QDateTimeEdit) and isinstance(value, str):
            moment = QDateTime.fromString(value, _DATETIME_FORMAT)
            if not moment.isValid():
                continue
            widget.setDateTime(moment)
        elif isinstance(widget, QSpinBox) and isinstance(value, int):
            widget.setValue(value)
        elif isinstance(widget, QDoubleSpinBox) and isinstance(value, (int, float)):
            widget.setValue(float(value))
        elif isinstance(widget, QAbstractButton) and isinstance(value, bool):
            widget.setChecked(value)
        else:
            continue
        restored += 1
    return restored


def dialog_kind(dialog: QWidget) -> str:
    return type(dialog).__name__


def patient_of(dialog: QWidget) -> int | None:
    value = dialog.property(PATIENT_PROPERTY)
    return value if isinstance(value, int) else None
