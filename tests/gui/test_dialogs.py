"""New patient and enrolment dialogs, driven with the keyboard and mouse like a user."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.core.records import Patient, Sex
from clinic_app.gui.dialogs.enrolment import EnrolmentDialog
from clinic_app.gui.dialogs.new_patient import NewPatientDialog, PatientForm, validate_patient
from clinic_app.storage.database import Record

TODAY = date(2025, 3, 10)
# The offscreen platform cannot pass size hints to a window manager; that is not our warning.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


def count(record: Record, table: str) -> int:
    return int(record.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# -- validation (no Qt) --------------------------------------------------------------------------
def form(**changes: object) -> PatientForm:
    values: dict[str, object] = {
        "mrn": "MRN-9",
        "family_name": "Dvořák",
        "given_name": "Antonín",
        "date_of_birth": "1951-03-14",
        "sex": Sex.MALE,
        "allergies": "penicillin; latex ;",
    }
    values.update(changes)
    return PatientForm(**values)  # type: ignore[arg-type]


def test_valid_form_builds_the_patient() -> None:
    patient, errors = validate_patient(form(), TODAY, lambda mrn: False)
    assert errors == {}
    assert patient == Patient(
        "MRN-9", "Dvořák", "Antonín", date(1951, 3, 14), Sex.MALE, ("penicillin", "latex")
    )


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"mrn": "  "}, "mrn", "Enter the MRN"),
        ({"family_name": ""}, "family_name", "family name"),
        ({"date_of_birth": "1951-02-30"}, "date_of_birth", "does not exist"),
        ({"date_of_birth": "14/03/1951"}, "date_of_birth", "YYYY-MM-DD"),
        ({"date_of_birth": "2025-03-11"}, "date_of_birth", "in the future"),
        # input_limits age 18-110: born 1914-03-10 is 111 on 2025-03-10; 2007-03-11 is 17.
        ({"date_of_birth": "1914-03-10"}, "date_of_birth", "111 years old"),
        ({"date_of_birth": "2007-03-11"}, "date_of_birth", "17 years old"),
        ({"sex": None}, "sex", "Choose the sex"),
    ],
)
def test_each_field_is_checked(changes: dict[str, object], field: str, words: str) -> None:
    patient, errors = validate_patient(form(**changes), TODAY, lambda mrn: False)
    assert patient is None
    assert set(errors) == {field}
    assert words in errors[field]


def test_age_limits_inclusive() -> None:
    # 110 on the day (born 1915-03-10) and 18 on the day (born 2007-03-10) are accepted.
    for born in ("1915-03-10", "2007-03-10"):
        assert validate_patient(form(date_of_birth=born), TODAY, lambda m: False)[1] == {}


def test_duplicate_mrn() -> None:
    _, errors = validate_patient(form(), TODAY, lambda mrn: mrn == "MRN-9")
    assert "already used" in errors["mrn"]


# -- the new patient dialog ---------------------------------------------------------------------
def fill_new_patient(qtbot: QtBot, dialog: NewPatientDialog, mrn: str, dob: str) -> None:
    qtbot.keyClicks(dialog.edits["mrn"], mrn)
    # QTest types ASCII only; names with diacritics go in as a paste would.
    dialog.edits["family_name"].insert("Nováková")
    dialog.edits["given_name"].insert("Zoë")
    qtbot.keyClicks(dialog.edits["date_of_birth"], dob)
    dialog.sex.setCurrentIndex(1)  # Female
    qtbot.keyClicks(dialog.edits["allergies"], "penicillin")


def test_new_patient_saves_with_enter(qtbot: QtBot, record: Record) -> None:
    dialog = NewPatientDialog(record, today=lambda: TODAY)
    qtbot.addWidget(dialog)
    dialog.show()
    fill_new_patient(qtbot, dialog, "MRN-1", "1951-03-14")
    assert "Zoë Nováková (born 1951-03-14, MRN MRN-1)" in dialog.windowTitle()
    with qtbot.waitSignal(dialog.accepted):
        qtbot.keyClick(dialog.edits["allergies"], Qt.Key.Key_Return)
    stored = record.repos.patients.by_mrn("MRN-1")
    assert stored is not None and stored.id == dialog.patient_id
    assert stored.value.allergies == ("penicillin",)


def test_new_patient_shows_errors_next_to_fields_and_writes_nothing(
    qtbot: QtBot, record: Record
) -> None:
    record.repos.patients.add(Patient("MRN-1", "Other", "Person", date(1950, 1, 1), Sex.MALE))
    before = count(record, "patients")
    dialog = NewPatientDialog(record, today=lambda: TODAY)
    qtbot.addWidget(dialog)
    dialog.show()
    fill_new_patient(qtbot, dialog, "MRN-1", "2031-01-01")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.result() == 0 and dialog.isVisible()
    assert dialog.errors["mrn"].isVisible()
    assert dialog.errors["mrn"].text().startswith("⚠ MRN MRN-1 is already used")
    assert "in the future" in dialog.errors["date_of_birth"].text()
    assert not dialog.errors["family_name"].isVisible()
    assert count(record, "patients") == before
    # Correcting the fields clears the messages and saves.
    dialog.edits["mrn"].setText("MRN-2")
    dialog.edits["date_of_birth"].setText("1951-03-14")
    with qtbot.waitSignal(dialog.accepted):
        dialog.save()
    assert count(record, "patients") == before + 1


def test_escape_cancels(qtbot: QtBot, record: Record) -> None:
    dialog = NewPatientDialog(record, today=lambda: TODAY)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.edits["mrn"], "X")
    with qtbot.waitSignal(dialog.rejected):
        qtbot.keyClick(dialog.edits["mrn"], Qt.Key.Key_Escape)
    assert count(record, "patients") == 0


# -- the enrolment dialog -----------------------------------------------------------------------
def add_patient(record: Record, mrn: str = "MRN-1") -> int:
    # Born 1965-03-10: 60 on TODAY.
    return record.repos.patients.add(Patient(mrn, "Dvořák", "Antonín", date(1965, 3, 10), Sex.MALE))


def fill_enrolment(qtbot: QtBot, dialog: EnrolmentDialog, protocol: str) -> None:
    index = dialog.protocol.findData(protocol)
    dialog.protocol.setCurrentIndex(index)
    dialog.enrolled_on.setDate(QDate(2025, 3, 5))
    dialog.cycle1_start.setDate(QDate(2025, 3, 12))
    for row in dialog._gates:
        row.check.setChecked(True)
        row.date.setDate(QDate(2025, 3, 3))
    qtbot.keyClicks(dialog.height_edit, "170")
    qtbot.keyClicks(dialog.weight_edit, "72")
    qtbot.keyClicks(dialog.creatinine_edit, "88.4")


def test_enrol_dextr(qtbot: QtBot, record: Record, protocols: dict[str, Protocol]) -> None:
    pid = add_patient(record)
    dialog = EnrolmentDialog(record, protocols, pid, today=lambda: TODAY)
    qtbot.addWidget(dialog)
    assert "Antonín Dvořák (born 10 Mar 1965, MRN MRN-1)" in dialog.windowTitle()
    dialog.protocol.setCurrentIndex(dialog.protocol.findData("dextr"))
    assert not dialog.ok_button.isEnabled()
    assert "Not recorded: Signed informed consent" in dialog.status.text()
    labels = [row.check.text() for row in dialog._gates]
    assert any("Prior treatment with thalidomide" in t for t in labels)
    assert any("lenalidomide" in t and "REMS" in t for t in labels)
    assert not dialog.levels_box.isVisibleTo(dialog)  # DexTR has no dose levels
    fill_enrolment(qtbot, dialog, "dextr")
    # Mosteller sqrt(170 * 72 / 3600) = sqrt(3.4) = 1.8439 -> 1.84 m²
    assert dialog.bsa_result.text().startswith("1.84 m² (Mosteller")
    # (140 - 60) * 72 / (72 * 88.4 / 88.4) = 80 mL/min
    assert dialog.crcl_result.text().startswith("80 mL/min (Cockcroft-Gault: age 60")
    assert dialog.ok_button.isEnabled(), dialog.status.text()
    with qtbot.waitSignal(dialog.accepted):
        dialog.ok_button.click()
    assert dialog.result_ is not None
    enrolment = record.repos.enrolments.for_patient(pid)[0]
    assert enrolment.protocol == "dextr" and enrolment.consent_on == date(2025, 3, 3)
    assert len(record.repos.doses.for_cycle(dialog.result_.cycle_id)) == 12 + 28 + 21


@pytest.mark.parametrize("chain", [None, "kappa", "lambda"])
def test_enrolment_records_the_involved_light_chain(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], chain: str | None
) -> None:
    pid = add_patient(record)
    dialog = EnrolmentDialog(record, protocols, pid, today=lambda: TODAY)
    qtbot.addWidget(dialog)
    box = dialog.light_chain
    assert [box.itemText(i) for i in range(box.count())] == ["not known", "kappa", "lambda"]
    assert box.currentData() is None  # not known unless chosen
    fill_enrolment(qtbot, dialog, "dextr")
    box.setCurrentIndex(box.findData(chain))
    assert dialog.request().light_chain == chain
    with qtbot.waitSignal(dialog.accepted):
        dialog.ok_button.click()
    assert record.repos.enrolments.for_patient(pid)[0].light_chain == chain


def test_enrolment_field_errors_and_ok_disabled(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = add_patient(record)
    dialog = EnrolmentDialog(record, protocols, pid, today=lambda: TODAY)
    qtbot.addWidget(dialog)
    dialog.show()
    fill_enrolment(qtbot, dialog, "dextr")
    # Typed and left, as a nurse does: the warning appears once the field was touched.
    dialog.weight_edit.clear()
    dialog.weight_edit.setFocus()
    qtbot.keyClicks(dialog.weight_edit, "400")  # input limits: 25-300 kg
    qtbot.keyClick(dialog.weight_edit, Qt.Key.Key_Tab)
    assert not dialog.ok_button.isEnabled()
    assert dialog.errors["weight_kg"].isVisible()
    assert "outside the plausible range" in dialog.errors["weight_kg"].text()
    assert dialog.errors["weight_kg"].text().startswith("⚠")
    dialog.weight_edit.setText("72")
    assert dialog.ok_button.isEnabled()
    # A gate recorded after the enrolment date gets its sentence next to it.
    dialog._gates[0].date.setDate(QDate(2025, 3, 6))
    assert not dialog.ok_button.isEnabled()
    assert "after the enrolment date" in dialog._gates[0].error.text()
    assert count(record, "enrolments") == 0


def test_enrolment_warns_only_about_fields_already_touched(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = add_patient(record)
    dialog = EnrolmentDialog(record, protocols, pid, today=lambda: TODAY)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    # An empty form: no warning under any field; the line above the buttons says what to record.
    assert not any(label.isVisible() for label in dialog.errors.values())
    assert dialog.status.text().startswith("To enrol, record:")
    assert not dialog.ok_button.isEnabled()
    dialog.height_edit.setFocus()
    qtbot.keyClicks(dialog.height_edit, "abc")
    qtbot.keyClick(dialog.height_edit, Qt.Key.Key_Tab)
    assert dialog.errors["height_cm"].isVisible()
    assert not dialog.errors["weight_kg"].isVisible()  # not reached yet
    assert dialog.status.text().startswith("Enrol is not available yet:")


def test_enrolment_says_letters_in_creatinine_are_not_a_number(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = add_patient(record)
    dialog = EnrolmentDialog(record, protocols, pid, today=lambda: TODAY)
    qtbot.addWidget(dialog)
    dialog.show()
    fill_enrolment(qtbot, dialog, "dextr")
    dialog.creatinine_edit.clear()
    dialog.creatinine_edit.setFocus()
    qtbot.keyClicks(dialog.creatinine_edit, "abc")
    qtbot.keyClick(dialog.creatinine_edit, Qt.Key.Key_Tab)
    error = dialog.errors["creatinine"]
    assert error.isVisible()
    assert "'abc' is not a number" in error.text()
    assert "Enter the serum creatinine" not in error.text()
    assert not dialog.ok_button.isEnabled()
    dialog.creatinine_edit.setText("88.4")
    assert not error.isVisible()
    assert dialog.ok_button.isEnabled(), dialog.status.text()


def test_enrolment_form_scrolls_with_its_buttons_below(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = add_patient(record)
    dialog = EnrolmentDialog(record, protocols, pid, today=lambda: TODAY)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    # The buttons and the reasons are outside the scrolled form, so they never scroll away.
    assert dialog.scroll.widget() is dialog.form
    assert not dialog.form.isAncestorOf(dialog.buttons)
    assert not dialog.form.isAncestorOf(dialog.status)
    screen = dialog.screen().availableGeometry()
    assert dialog.height() <= screen.height() and dialog.width() <= screen.width()


def test_enrol_bpd_only_allowed_level(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = add_patient(record)
    dialog = EnrolmentDialog(record, protocols, pid, today=lambda: TODAY)
    qtbot.addWidget(dialog)
    fill_enrolment(qtbot, dialog, "bpd")
    buttons = dialog._level_buttons
    assert sorted(buttons) == [-1, 1, 2, 3, 4]
    assert [lvl for lvl, b in buttons.items() if b.isEnabled()] == [1]
    assert buttons[1].isChecked()  # the only allowed level is pre-selected
    assert "closed: not reached yet" in buttons[3].text()
    assert "Bendamustine 180 mg/m²" in buttons[4].text()
    assert "3+3 decision: enrol at 1" in dialog.escalation_reason.text()
    # the cap inconsistency is shown
    assert "24 patients in escalation and 38 in expansion" in dialog.notes.text()
    with qtbot.waitSignal(dialog.accepted):
        dialog.ok_button.click()
    enrolment = record.repos.enrolments.for_patient(pid)[0]
    assert (enrolment.protocol, enrolment.dose_level, enrolment.cohort) == ("bpd", 1, "escalation")
    doses = record.repos.doses.for_cycle(dialog.result_.cycle_id)  # type: ignore[union-attr]
    # 120 mg/m² x BSA 1.84 = 220.8 mg -> 220 mg (5 mg steps)
    assert [d.dose_mg for d in doses if d.drug == "bendamustine"] == [Decimal(220)]
