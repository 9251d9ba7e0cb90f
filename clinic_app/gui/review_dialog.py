"""Review laptop changes…: settle the changes a cancelled laptop brought back (issue 19).

Lists the review sets still pending; for the chosen one, a table of its changes beside the
clinic's rows with each one's state (will apply / conflict). An administrator applies what does
not conflict or dismisses the set, with a reason; the work is storage/checkout/review.py, run
in the background runner on the signed-in user's connection. Read only for everyone else.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from clinic_app.gui import fit
from clinic_app.gui.background import BackgroundRunner, Outcome, run_in_background
from clinic_app.gui.checkout_dialog import _connection, failure_text
from clinic_app.gui.warnings import warned
from clinic_app.services.field_words import field_label, value_text
from clinic_app.storage.checkout import pending_reviews
from clinic_app.storage.checkout.guard import local_time
from clinic_app.storage.checkout.review import (
    CONFLICT,
    Change,
    apply_review,
    dismiss_review,
    review_changes,
)
from clinic_app.storage.database import Record
from clinic_app.storage.permissions import Role

COLUMNS = ("Patient", "What", "On the laptop", "At the clinic now", "State")
STATE_WORDS = {CONFLICT: "conflict — the clinic changed this since"}


def _state_words(change: Change) -> str:
    """A conflict says why (the clinic changed the entry, or voided what it belongs to)."""
    if change.state == CONFLICT and change.why:
        return f"conflict — {change.why}"
    return STATE_WORDS.get(change.state, change.state)


SET_ROLE = Qt.ItemDataRole.UserRole
ADMIN_ONLY = "Only an administrator may apply or dismiss a laptop's changes."


_NOT_SHOWN = {"value_si"}
"""The lab value's converted copy: the value and its unit are shown."""


def _said(column: str, value: object) -> str:
    # As the history screen says it: "serum M-protein (g/dL) 2.1", "voided at 2 Dec 2026 05:54".
    if value is None:
        return f"{field_label(column)}: not recorded"
    return f"{field_label(column)} {value_text(column, value)}"


def _values(change: Change) -> tuple[str, str]:
    # Row and record ids mean nothing to a nurse; the Patient and What columns say whose and what.
    differ = {
        c: d
        for c, d in change.differences().items()
        if not c.endswith("_id") and c not in _NOT_SHOWN
    }
    laptop = "; ".join(_said(c, v) for c, (v, _) in differ.items())
    if change.clinic is None:
        return laptop, "(not at the clinic)"
    clinic = "; ".join(_said(c, h) for c, (_, h) in differ.items())
    return laptop, clinic


class ReviewDialog(QDialog):
    def __init__(self, record: Record, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review laptop changes")
        self.record = record
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Changes made on a laptop whose check-out was cancelled. A change applies only "
            "where the clinic's entry is as it was when the laptop went out; the others stay "
            "here, listed, and are never written over the clinic's newer data."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.sets = QListWidget(self)
        self.sets.setMaximumHeight(self.fontMetrics().height() * 5)
        layout.addWidget(self.sets)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        # The values get the width; whose, what and the state take what they need.
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        for column in (2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        # A conflict's reason is a sentence: it wraps in a column of its own width rather
        # than taking the values' room.
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(4, self.fontMetrics().averageCharWidth() * 30)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumWidth(self.fontMetrics().averageCharWidth() * 110)
        layout.addWidget(self.table)
        layout.addWidget(QLabel("Reason (needed to apply or dismiss):", self))
        self.reason = QLineEdit(self)
        layout.addWidget(self.reason)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.apply_button = QPushButton("Apply what does not conflict…", self)
        self.dismiss_button = QPushButton("Dismiss…", self)
        role = QDialogButtonBox.ButtonRole.ActionRole
        self.buttons.addButton(self.apply_button, role)
        self.buttons.addButton(self.dismiss_button, role)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.apply_button.clicked.connect(lambda: self._settle(apply_review, "Applying…"))
        self.dismiss_button.clicked.connect(lambda: self._settle(dismiss_review, "Dismissing…"))
        self.sets.currentItemChanged.connect(lambda *_: self._show_set())
        self.admin = not record.has_users() or record.role is Role.ADMINISTRATOR
        self.runner: BackgroundRunner | None = None
        self._fill_sets()
        self.resize(self.fontMetrics().averageCharWidth() * 140, self.fontMetrics().height() * 34)
        fit.fit_to_screen(self)

    def chosen(self) -> int | None:
        item = self.sets.currentItem()
        value = None if item is None else item.data(SET_ROLE)
        return None if value is None else int(value)

    def _fill_sets(self, keep: int | None = None) -> None:
        self.sets.clear()
        for kept in pending_reviews(self.record):
            item = QListWidgetItem(
                f"The laptop {kept.laptop_label}: {kept.entries} "
                f"change{'' if kept.entries == 1 else 's'}, checked in "
                f"{local_time(kept.received_at)} by {kept.received_by}"
            )
            item.setData(SET_ROLE, kept.id)
            self.sets.addItem(item)
            if kept.id == keep or self.sets.currentItem() is None:
                self.sets.setCurrentItem(item)
        if self.sets.count() == 0:
            self.sets.addItem("No laptop changes are waiting for review.")
            self.sets.item(0).setFlags(Qt.ItemFlag.NoItemFlags)
            self.table.setRowCount(0)
        self._enable()

    def _enable(self) -> None:
        usable = self.admin and self.chosen() is not None and self.runner is None
        for button in (self.apply_button, self.dismiss_button):
            button.setEnabled(usable)
            button.setToolTip("" if self.admin else ADMIN_ONLY)

    def _show_set(self) -> None:
        review_id = self.chosen()
        changes = [] if review_id is None else review_changes(self.record, review_id)
        self.table.setRowCount(len(changes))
        for row, change in enumerate(changes):
            laptop, clinic = _values(change)
            cells = (
                change.patient,
                change.what,
                laptop,
                clinic,
                _state_words(change),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()
        self._enable()

    def _say(self, text: str, problem: bool) -> None:
        self.message.setStyleSheet("color: #b00020;" if problem else "")
        self.message.setText(warned(text) if problem else text)
        self.message.setVisible(True)
        fit.refit(self)

    def _settle(self, work: Any, busy: str) -> None:
        review_id, why = self.chosen(), self.reason.text().strip()
        if review_id is None:
            return
        if not why:
            self._say("Give a reason first (for example 'laptop found'); nothing changed.", True)
            self.reason.setFocus()
            return
        self._say(busy, False)
        self.runner = run_in_background(
            _connection(self.record),
            lambda record, _progress: work(record, review_id, why),
            self,
            lambda outcome: self._finished(outcome, review_id),
        )
        self._enable()

    def _finished(self, outcome: Outcome, review_id: int) -> None:
        self.runner = None
        problem = failure_text(outcome)
        if problem is not None:
            self._say(problem, True)
        else:
            self._say(str(outcome.result), False)
            self.reason.clear()
        self._fill_sets(keep=review_id)
        self._show_set()

    def reject(self) -> None:
        if self.runner is None:  # the work finishes first; it cannot stop half-way
            super().reject()
