"""Start-cycle form (issue 14): an old weight or height is named against the protocol's window,
the planned-date line agrees with the day 1 shown, and labs can be entered from the form."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QApplication, QDateEdit
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.gui.cycle_start import CycleStartDialog
from clinic_app.gui.lab_entry import LabEntryDialog
from clinic_app.storage.database import Record, open_database
from tests.services.test_cycle_start import C1, dextr_patient, good_counts

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    rec = open_database(tmp_path / "record.sqlite3", app_user="nurse Eva")
    try:
        yield rec
    finally:
        rec.close()


def dialog(
    qtbot: QtBot, record: Record, pid: int, protocols: dict[str, Protocol], today: date = C1
) -> CycleStartDialog:
    d = CycleStartDialog(record, pid, None, protocols, lambda: today)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    return d


def set_date(qtbot: QtBot, edit: QDateEdit, day: date) -> None:
    """Step the day with the arrow keys, as a nurse does in a date field."""
    edit.setFocus()
    edit.setCurrentSection(QDateEdit.Section.DaySection)
    while edit.date().toPython() != day:
        key = Qt.Key.Key_Down if edit.date().toPython() > day else Qt.Key.Key_Up
        before = edit.date()
        qtbot.keyClick(edit, key)
        assert edit.date() != before, "the date field did not move"


def test_a_weight_older_than_the_protocols_window_is_named_and_blocks(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, date(2025, 3, 9))
    d = dialog(qtbot, record, pid, protocols)
    qtbot.keyClicks(d.weight_edit, "71")
    assert d.ok_button.isEnabled(), d.status.text()
    # DexTR's window is 3 days (resources/protocols/dextr.toml lab_max_age_days; rules §2).
    # 2025-03-10 - 2025-03-06 = 4 days > 3: refused, with the date and the window named.
    set_date(qtbot, d.measured_on, date(2025, 3, 6))
    assert d.measured_on.date() == QDate(2025, 3, 6)
    assert not d.ok_button.isEnabled()
    message = d.errors["measured_on"].text()
    assert "2025-03-06, 4 days before day 1" in message
    assert "older than the protocol's 3-day window" in message
    assert "older than the protocol's 3-day window" in d.status.text()
    # 2025-03-10 - 2025-03-07 = 3 days: inside the window.
    set_date(qtbot, d.measured_on, date(2025, 3, 7))
    assert d.ok_button.isEnabled(), d.status.text()


def test_the_window_comes_from_the_protocol(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    dextr = protocols["dextr"]
    wider = {
        **protocols,
        "dextr": replace(dextr, settings=replace(dextr.settings, lab_max_age_days=5)),
    }
    pid = dextr_patient(record, wider)
    good_counts(record, pid, date(2025, 3, 9))
    d = dialog(qtbot, record, pid, wider)
    qtbot.keyClicks(d.weight_edit, "71")
    set_date(qtbot, d.measured_on, date(2025, 3, 6))  # 4 days <= 5
    assert d.ok_button.isEnabled(), d.status.text()
    set_date(qtbot, d.measured_on, date(2025, 3, 4))  # 6 days > 5
    assert "older than the protocol's 5-day window" in d.errors["measured_on"].text()


def test_a_carried_height_older_than_the_window_is_named(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)  # 170 cm measured at enrolment, 2025-03-03
    good_counts(record, pid, date(2025, 3, 9))
    d = dialog(qtbot, record, pid, protocols)
    assert d.height_edit.text() == "170"
    note = d.errors["height_cm"]
    assert note.isVisibleTo(d)
    # 2025-03-10 - 2025-03-03 = 7 days > 3
    assert "170 cm is from 2025-03-03, 7 days before day 1" in note.text()
    d.height_edit.selectAll()
    qtbot.keyClicks(d.height_edit, "171")  # measured again today: nothing to name
    assert not note.isVisibleTo(d)


def test_planned_line_names_the_day_1_in_the_date_field(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)  # cycle 1 planned for 2025-03-10
    good_counts(record, pid, date(2025, 3, 11))
    d = dialog(qtbot, record, pid, protocols, today=date(2025, 3, 12))
    # 2025-03-12 - 2025-03-10 = 2 days late
    assert d.planned_text.text() == (
        "Planned for 10 Mar 2025; day 1 12 Mar 2025 is ⚠ 2 day(s) late: give the reason."
    )
    set_date(qtbot, d.start, date(2025, 3, 10))
    assert d.planned_text.text() == "Planned for 10 Mar 2025; day 1 10 Mar 2025 is on time."


def test_enter_labs_opens_the_lab_form_and_the_checks_follow(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = dextr_patient(record, protocols)  # no counts yet: conditions missing
    d = dialog(qtbot, record, pid, protocols)
    assert "MISSING" in d.conditions_text.text()
    qtbot.mouseClick(d.labs_button, Qt.MouseButton.LeftButton)
    forms = [w for w in QApplication.topLevelWidgets() if isinstance(w, LabEntryDialog)]
    assert len(forms) == 1 and forms[0].isVisible()
    good_counts(record, pid, date(2025, 3, 9))  # what the lab form saves
    forms[0].accept()
    qtbot.waitUntil(lambda: "MISSING" not in d.conditions_text.text())
    assert "✓ met" in d.conditions_text.text()
