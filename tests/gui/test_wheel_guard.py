"""The mouse wheel scrolls forms; it never changes a field that has no keyboard focus.

Issue 14: scrolling the start-cycle form over "Measured on" moved a weight's date to 2022 and the
dialog still said it was ready. The guard is the one ``gui/app.py`` installs on the app.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.gui.app import application
from clinic_app.gui.cycle_start import CycleStartDialog
from clinic_app.gui.wheel_guard import remove_wheel_guard
from clinic_app.storage.database import Record, open_database
from tests.services.test_cycle_start import C1, dextr_patient, good_counts

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


@pytest.fixture
def guarded(qapp: QApplication) -> Iterator[QApplication]:
    app = application()  # the app's own start-up: installs the guard on the running app
    assert app is qapp
    try:
        yield app
    finally:
        remove_wheel_guard(app)


def wheel(widget: QWidget, notches: int = -3) -> None:
    """Turn the wheel over the middle of ``widget`` (one notch = 120). A real wheel over a
    field's text part is passed on by Qt to the field itself, so send it to the field."""
    target = widget
    pos = QPointF(target.rect().center())
    event = QWheelEvent(
        pos,
        QPointF(target.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(target, event)


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    rec = open_database(tmp_path / "record.sqlite3", app_user="nurse Eva")
    try:
        yield rec
    finally:
        rec.close()


def test_wheel_over_measured_on_scrolls_the_start_form(
    qtbot: QtBot, guarded: QApplication, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, date(2025, 3, 9))
    d = CycleStartDialog(record, pid, None, protocols, lambda: C1)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    d.resize(d.width(), 320)  # a short screen: the form scrolls
    qtbot.keyClicks(d.weight_edit, "71")  # the nurse types the weight
    assert d.ok_button.isEnabled(), d.status.text()
    bar = d.form_scroll.verticalScrollBar()
    assert bar.maximum() > 0
    bar.setValue(0)
    before_date = d.measured_on.date()

    wheel(d.measured_on, notches=-3)  # wheel down over "Measured on" (would go to 7 March)
    assert d.measured_on.date() == before_date == QDate(2025, 3, 10)
    assert bar.value() > 0  # the form scrolled instead
    assert d.ok_button.isEnabled()

    wheel(d.start, notches=-3)
    assert d.start.date() == QDate(2025, 3, 10)


def test_no_unfocused_date_number_or_choice_field_changes(
    qtbot: QtBot, guarded: QApplication
) -> None:
    page = QWidget()
    column = QVBoxLayout(page)
    when, count, amount, choice = QDateEdit(), QSpinBox(), QDoubleSpinBox(), QComboBox()
    when.setDate(QDate(2025, 3, 10))
    count.setValue(5)
    amount.setValue(2.5)
    choice.addItems(["PO", "IV", "SC"])
    for field in (when, count, amount, choice):
        column.addWidget(field)
    column.addSpacing(2000)
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(page)
    area.resize(300, 200)
    qtbot.addWidget(area)
    area.show()
    qtbot.waitExposed(area)
    area.setFocus()

    for field in (when, count, amount, choice):
        wheel(field)
    assert when.date() == QDate(2025, 3, 10)
    assert (count.value(), amount.value(), choice.currentText()) == (5, 2.5, "PO")
    assert area.verticalScrollBar().value() > 0  # the wheel scrolled the page
