"""Esc never throws typed values away without asking.

A tired nurse presses Esc to close a message and loses a half-typed adverse event. Once
``guard_form(dialog)`` is applied, Esc on a form whose fields differ from what it opened with
asks "Discard what you typed?"; "Keep editing" (the default, and Esc again) goes back to the
form with everything in place. A form nobody typed in closes at once, as before. The fields are
compared with ``gui/drafts.capture``, the same reading the lock uses to keep drafts.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QMessageBox

from clinic_app.gui import drafts

_PROPERTY = "clinic_form_guard"


class FormGuard(QObject):
    """Event filter on one dialog: Esc with changed fields asks first."""

    def __init__(self, dialog: QDialog) -> None:
        super().__init__(dialog)
        self.dialog = dialog
        self.opened_with: dict[str, Any] | None = None
        self.box: QMessageBox | None = None
        if dialog.isVisible():
            self.remember()

    def remember(self) -> None:
        """What the form holds now counts as nothing typed (at opening, after a save)."""
        self.opened_with = drafts.capture(self.dialog)

    @property
    def typed(self) -> bool:
        return self.opened_with is not None and drafts.capture(self.dialog) != self.opened_with

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show and self.opened_with is None:
            self.remember()
            return False
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        if event.key() != Qt.Key.Key_Escape or event.modifiers() not in (
            Qt.KeyboardModifier.NoModifier,
            Qt.KeyboardModifier.KeypadModifier,
        ):
            return False
        if not self.typed:
            return False  # nothing typed: Esc closes as it always did
        self.ask()
        return True

    def ask(self) -> QMessageBox:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Discard what you typed?",
            "This form has values you typed that are not saved. Close it and discard them?",
            QMessageBox.StandardButton.NoButton,
            self.dialog,
        )
        box.setObjectName("discard_question")
        discard = box.addButton("&Discard", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("&Keep editing", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)

        def answered() -> None:
            self.box = None
            if box.clickedButton() is discard:
                self.dialog.reject()

        box.finished.connect(answered)
        self.box = box
        box.open()
        return box


def guard_form(dialog: QDialog) -> FormGuard:
    """Make Esc on ``dialog`` ask before discarding typed values (once per dialog)."""
    existing = dialog.property(_PROPERTY)
    if isinstance(existing, FormGuard):
        return existing
    guard = FormGuard(dialog)
    dialog.installEventFilter(guard)
    dialog.setProperty(_PROPERTY, guard)
    return guard
