"""Laptop check-out and check-in from the File menu (issue 19): two demonstration patients go
out through the dialog, the list marks them and their writing workflows are greyed with the
laptop's name; checked back in through the other dialog they are writable again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol_loader import load_protocols
from clinic_app.gui.checkout_dialog import CheckInDialog, CheckOutDialog, default_laptop_file
from clinic_app.gui.main_window import MainWindow, app_settings
from clinic_app.gui.patient_list import COL_FLAGS
from clinic_app.services.demo import generate_demo
from clinic_app.storage.checkout import cancel_checkout, check_out, checked_out_patients
from clinic_app.storage.database import Record, open_database

from ..services.helpers import lab

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
TODAY = date(2026, 3, 2)


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    rec = open_database(tmp_path / "record.sqlite3")
    generate_demo(rec, patients=5, seed=3, today=TODAY)
    try:
        yield rec
    finally:
        rec.close()


def opened(qtbot: QtBot, record: Record) -> MainWindow:
    window = MainWindow(record, load_protocols(), today=lambda: TODAY, settings=app_settings())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    return window


def flags_of(window: MainWindow, mrn: str) -> str:
    model = window.patient_list.model
    for row in range(model.rowCount()):
        if model.row_at(row).mrn == mrn:
            return str(model.index(row, COL_FLAGS).data() or "")
    raise AssertionError(f"{mrn} is not in the list")


def ok(dialog: CheckOutDialog | CheckInDialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def test_check_out_two_patients_and_check_them_back_in(
    qtbot: QtBot, record: Record, tmp_path: Path
) -> None:
    window = opened(qtbot, record)
    first, second = (window.patient_list.model.row_at(i) for i in range(2))
    window.open_patient(first.patient_id)
    window.checkout.out_action.trigger()
    dialog = window.checkout.dialog
    assert isinstance(dialog, CheckOutDialog) and dialog.isVisible()
    assert dialog.ticked() == [first.mrn]  # the patient in the chart is ticked already
    dialog.tick([first.mrn, second.mrn])
    dialog.label.setText("Laptop 2")
    laptop = tmp_path / "laptop-2.sqlite3"
    dialog.laptop_file.setText(str(laptop))
    ok(dialog)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=30000)
    assert dialog.report.startswith("Checked out 2 patients")
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)

    out = sorted(o.mrn for o in checked_out_patients(record).values())
    assert out == sorted([first.mrn, second.mrn])
    assert "on laptop" in flags_of(window, first.mrn)
    assert "on laptop" in flags_of(window, second.mrn)
    labs = next(a for a in window.workflows.patient_actions if "lab results" in a.text())
    assert not labs.isEnabled()
    assert labs.toolTip().startswith("Checked out to Laptop 2 since")
    printing = next(a for a in window.workflows.patient_actions if "dosing card" in a.text())
    assert printing.isEnabled()  # reading and printing the chart still work

    with open_database(laptop) as copy:  # the laptop record holds exactly those two charts
        assert sorted(p.mrn for p in copy.repos.patients.all()) == out

    window.checkout.in_action.trigger()
    back = window.checkout.dialog
    assert isinstance(back, CheckInDialog)
    back.laptop_file.setText(str(laptop))
    ok(back)
    assert back.busy.isVisible() and back.steps[0].text().startswith("… checking the file")
    # Each step is ticked as the next starts, not only at the end.
    seen: list[list[str]] = []
    back.runner.progressed.connect(lambda *_: seen.append([s.text()[0] for s in back.steps]))
    qtbot.waitUntil(lambda: back.runner is None, timeout=30000)
    # It stays open with the steps done and the outcome, the list already refreshed behind it.
    assert back.isVisible() and back.report.startswith("Checked in the laptop Laptop 2")
    assert [label.text()[0] for label in back.steps] == ["✓"] * 4
    assert ["✓", "✓", "▶", "…"] in seen  # bringing back under way, the first two done
    assert "brought back into the patients' charts" in back.steps[2].text()
    assert back.outcome.text() == back.report and back.outcome.isVisible()
    assert not back.buttons.button(QDialogButtonBox.StandardButton.Ok).isVisible()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    assert "on laptop" not in flags_of(window, first.mrn)
    back.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()  # Close
    assert not back.isVisible() and window.checkout.last_report == back.report
    assert checked_out_patients(record) == {}
    assert "on laptop" not in flags_of(window, first.mrn)
    assert labs.isEnabled()


def test_a_refused_check_out_stays_open_and_says_why(
    qtbot: QtBot, record: Record, tmp_path: Path
) -> None:
    window = opened(qtbot, record)
    taken = tmp_path / "taken.sqlite3"
    taken.write_text("someone else's file")
    dialog = window.checkout.check_out()
    dialog.laptop_file.setText(str(taken))
    ok(dialog)
    assert dialog.isVisible() and "Tick at least one patient" in dialog.message.text()
    dialog.tick([window.patient_list.model.row_at(0).mrn])
    ok(dialog)
    qtbot.waitUntil(lambda: dialog.runner is None, timeout=30000)
    assert dialog.isVisible()
    assert "There is already a file at" in dialog.message.text()
    assert taken.read_text() == "someone else's file"
    assert checked_out_patients(record) == {}
    dialog.reject()


def test_the_default_laptop_file_never_names_an_existing_one(tmp_path: Path) -> None:
    assert default_laptop_file(tmp_path) == tmp_path / "laptop.sqlite3"
    (tmp_path / "laptop.sqlite3").touch()
    assert default_laptop_file(tmp_path) == tmp_path / "laptop-2.sqlite3"


def test_a_check_in_after_a_cancelled_check_out_says_its_changes_are_kept_for_review(
    qtbot: QtBot, record: Record, tmp_path: Path
) -> None:
    window = opened(qtbot, record)
    mrn = window.patient_list.model.row_at(0).mrn
    laptop = tmp_path / "lost.sqlite3"
    check_out(record, laptop, [mrn], "Laptop 4")
    cancel_checkout(record, mrn, "laptop lost")
    with open_database(laptop) as road:  # a lab recorded on the road after all
        lab(road, window.patient_list.model.row_at(0).patient_id, "anc", "1.6", "10^9/L", TODAY)
    back = window.checkout.check_in()
    back.laptop_file.setText(str(laptop))
    ok(back)
    qtbot.waitUntil(lambda: back.runner is None, timeout=30000)
    assert back.isVisible() and "kept in the clinic's record for review" in back.outcome.text(), (
        back.message.text()
    )
    assert back.steps[2].text() == (
        "✓ Changes kept for review (the check-out had been cancelled), not applied"
    )
    back.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()


def test_an_altered_laptop_file_is_refused_in_words(
    qtbot: QtBot, record: Record, tmp_path: Path
) -> None:
    window = opened(qtbot, record)
    back = window.checkout.check_in()
    stranger = tmp_path / "stranger.sqlite3"
    open_database(stranger).close()  # a record, but not a laptop record of this clinic
    back.laptop_file.setText(str(stranger))
    ok(back)
    qtbot.waitUntil(lambda: back.runner is None, timeout=30000)
    assert back.isVisible() and not back.report
    assert "was not checked in" in back.message.text()
    assert not any(label.isVisible() for label in back.steps)
    back.reject()


def test_a_form_open_when_its_patient_goes_out_is_refused_naming_the_laptop(
    qtbot: QtBot, record: Record, tmp_path: Path
) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    from clinic_app.gui.lab_entry import LabEntryDialog

    patient = record.repos.patients.all()[0]
    dialog = LabEntryDialog(record, patient.id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    labs_before = len(record.repos.labs.for_patient(patient.id))
    # Meanwhile, at another desk, the patient is checked out to a laptop.
    check_out(record, tmp_path / "away.sqlite3", [patient.mrn], "Laptop 5")
    edit = dialog.rows["anc"].value
    edit.setFocus()
    qtbot.keyClicks(edit, "1.6")
    qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    boxes = [b for b in dialog.findChildren(QMessageBox) if b.isVisible()]
    assert len(boxes) == 1, [b.text() for b in boxes]
    text = boxes[0].text()
    assert boxes[0].windowTitle() == "This patient is on a laptop"
    assert f"The patient {patient.mrn} is checked out to the laptop Laptop 5 since" in text
    assert "until the laptop is checked in" in text and "checkouts" not in text
    assert dialog.isVisible()  # the form keeps what was typed
    assert len(record.repos.labs.for_patient(patient.id)) == labs_before
    boxes[0].close()
    dialog.reject()
