"""Review laptop changes… (issue 19): the table of a kept set's changes, apply and dismiss."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from clinic_app.gui.review_dialog import ADMIN_ONLY, ReviewDialog
from clinic_app.storage.checkout import cancel_checkout, check_in, check_out, pending_reviews
from clinic_app.storage.database import Record, open_database

from ..services.helpers import lab, planned_dose
from ..storage.test_checkin_review import _live_cycle_with_a_dose, _void
from ..storage.test_checkout import ROAD
from ..storage.test_copy_record import ADMIN, PASSWORD, _fill
from .fit_check import fit_problems

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


def _sign_in(record: Record, name: str) -> None:
    record.set_user(record.repos.users.authenticate(name, PASSWORD).username)


def _kept_set(
    tmp_path: Path,
    at_the_clinic: Callable[[Record, int], int | None],
    on_the_laptop: Callable[[Record, int, int | None], object],
) -> Record:
    """A clinic with one kept set: its first patient checked out to Laptop 3, the check-out
    cancelled, ``at_the_clinic(record, patient)`` done after that (it returns what the laptop
    needs), ``on_the_laptop(laptop, patient, that)`` done on the laptop, then checked in."""
    rec = open_database(tmp_path / "clinic.sqlite3")
    _fill(rec)
    mrn = str(rec.sql.execute("SELECT mrn FROM patients ORDER BY id LIMIT 1").fetchone()[0])
    pid = int(rec.sql.execute("SELECT id FROM patients WHERE mrn = ?", [mrn]).fetchone()[0])
    laptop_path = tmp_path / "laptop.sqlite3"
    check_out(rec, laptop_path, [mrn], "Laptop 3")
    _sign_in(rec, ADMIN)
    cancel_checkout(rec, mrn, "laptop lost")
    _sign_in(rec, "ivan")
    that = at_the_clinic(rec, pid)
    with open_database(laptop_path) as laptop:
        _sign_in(laptop, "ivan")
        on_the_laptop(laptop, pid, that)
    check_in(rec, laptop_path)
    _sign_in(rec, ADMIN)
    return rec


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Record]:
    """A clinic with one kept set: a lab result entered on the cancelled laptop."""
    rec = _kept_set(
        tmp_path,
        lambda _rec, _pid: None,
        lambda laptop, pid, _: lab(laptop, pid, "anc", "1.7", "10^9/L", ROAD),
    )
    try:
        yield rec
    finally:
        rec.close()


def test_an_administrator_sees_the_changes_and_applies_them(qtbot: QtBot, clinic: Record) -> None:
    dialog = ReviewDialog(clinic)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.sets.count() == 1 and "Laptop 3" in dialog.sets.item(0).text()
    assert dialog.table.rowCount() == 1
    cells = [dialog.table.item(0, c).text() for c in range(dialog.table.columnCount())]
    assert cells[1] == "new lab result" and "value 1.7" in cells[2]
    assert "patient_id" not in cells[2] and "patient id" not in cells[2]  # ids mean nothing here
    assert cells[3] == "(not at the clinic)" and cells[4] == "will apply"
    qtbot.waitExposed(dialog)
    assert fit_problems(dialog) == []  # nothing cut off, within the screen, buttons visible
    assert dialog.apply_button.isEnabled()
    dialog.apply_button.click()  # no reason yet
    assert "Give a reason first" in dialog.message.text()
    assert len(pending_reviews(clinic)) == 1
    qtbot.keyClicks(dialog.reason, "laptop found")
    dialog.apply_button.click()
    qtbot.waitUntil(lambda: dialog.runner is None, timeout=10000)
    assert "1 new entry and" in dialog.message.text()
    assert pending_reviews(clinic) == []
    assert "No laptop changes are waiting" in dialog.sets.item(0).text()
    assert not dialog.apply_button.isEnabled()


def test_someone_not_an_administrator_sees_but_cannot_settle(qtbot: QtBot, clinic: Record) -> None:
    _sign_in(clinic, "ivan")
    dialog = ReviewDialog(clinic)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 1
    for button in (dialog.apply_button, dialog.dismiss_button):
        assert not button.isEnabled() and button.toolTip() == ADMIN_ONLY


def test_dismiss_keeps_the_changes_stored(qtbot: QtBot, clinic: Record) -> None:
    dialog = ReviewDialog(clinic)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.reason, "entered by hand")
    dialog.dismiss_button.click()
    qtbot.waitUntil(lambda: dialog.runner is None, timeout=10000)
    assert "dismissed" in dialog.message.text()
    assert pending_reviews(clinic) == []
    kept = clinic.sql.execute("SELECT changes FROM checkin_reviews").fetchone()[0]
    assert '"1.7"' in str(kept)


def test_a_conflict_says_why_in_the_table(qtbot: QtBot, tmp_path: Path) -> None:
    # The clinic voided the cycle after check-out; the lost laptop gave it a dose.
    def void_a_cycle(rec: Record, pid: int) -> int:
        _enrolment, cycle_id, _dose = _live_cycle_with_a_dose(rec, pid)
        _void(rec, "cycles", cycle_id)
        return cycle_id

    rec = _kept_set(
        tmp_path,
        void_a_cycle,
        lambda laptop, _pid, cycle_id: planned_dose(laptop, cycle_id, 1, "bortezomib", "2.6", "SC"),
    )
    mrn = str(rec.sql.execute("SELECT mrn FROM patients ORDER BY id LIMIT 1").fetchone()[0])
    try:
        dialog = ReviewDialog(rec)
        qtbot.addWidget(dialog)
        dialog.show()
        assert dialog.table.rowCount() == 1
        cells = [dialog.table.item(0, c).text() for c in range(dialog.table.columnCount())]
        assert cells[0] == mrn  # whose dose, though its cycle was not changed on the laptop
        assert "dose (mg) 2.6" in cells[2] and "{" not in cells[2]
        assert cells[4] == (
            "conflict — the clinic voided the cycle this dose belongs to since check-out"
        )
        qtbot.waitExposed(dialog)
        assert fit_problems(dialog) == []  # the longer reason is not cut off either
    finally:
        rec.close()
