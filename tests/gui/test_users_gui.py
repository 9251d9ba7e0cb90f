"""Accounts in the desktop app: first administrator, sign-in (slowing down, audited), idle lock and
unlock, drafts kept for their author, actions disabled by role with the reason, signatures on DLT
decisions (printed on the toxicity summary), the audit viewer and the users dialog."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from datetime import date
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QDialog, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol_loader import load_protocols
from clinic_app.gui.audit_viewer import AuditViewer
from clinic_app.gui.dlt_review import DltReviewDialog
from clinic_app.gui.errors import LOGGER_NAME, setup_logging
from clinic_app.gui.main_window import MainWindow, app_settings
from clinic_app.gui.sign_in import CreateAdministratorDialog, SignInDialog
from clinic_app.gui.signature import SignatureDialog
from clinic_app.gui.users_dialog import UsersDialog
from clinic_app.reports.toxicity_summary import render_toxicity_summary
from clinic_app.services.demo import generate_demo
from clinic_app.services.documents import build_toxicity_summary
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.permissions import Role
from tests.services.test_dlt_review import TODAY as DLT_TODAY
from tests.services.test_dlt_review import level_two_patient

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
PROTOCOLS = load_protocols()
TODAY = date(2026, 3, 2)
ADMIN_PW = "admin password 1"
NURSE_PW = "nurse password 22"
NURSE2_PW = "second nurse pw 4"
INV_PW = "investigator pw 333"


PASSWORDS = {"admin": ADMIN_PW, "nurse.a": NURSE_PW, "nurse.c": NURSE2_PW, "dr.b": INV_PW}


def act_as(rec: Record, user: str) -> None:
    """Sign ``user`` in with their password: a name alone acts as nobody (issue 15)."""
    rec.repos.users.authenticate(user, PASSWORDS[user])
    rec.set_user(user)


def add_accounts(rec: Record) -> None:
    rec.repos.users.create_first_administrator("admin", "Ada Admin", ADMIN_PW)
    act_as(rec, "admin")
    rec.repos.users.add("nurse.a", "Nina Adams", Role.NURSE, NURSE_PW)
    rec.repos.users.add("nurse.c", "Cole Carter", Role.NURSE, NURSE2_PW)
    rec.repos.users.add("dr.b", "Dr Bea Byrne", Role.INVESTIGATOR, INV_PW)


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    rec = open_database(tmp_path / "record.sqlite3")
    try:
        yield rec
    finally:
        rec.close()


@pytest.fixture
def clinic(record: Record) -> Record:
    """Demo patients (made in open mode), then accounts."""
    generate_demo(record, patients=4, seed=3, today=TODAY)
    add_accounts(record)
    return record


def make_window(qtbot: QtBot, record: Record, user: str) -> MainWindow:
    act_as(record, user)
    window = MainWindow(record, PROTOCOLS, today=lambda: TODAY, settings=app_settings())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    return window


def open_dialogs() -> list[QWidget]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]


def test_first_start_creates_the_administrator(qtbot: QtBot, record: Record) -> None:
    d = CreateAdministratorDialog(record)
    qtbot.addWidget(d)
    d.show()
    qtbot.keyClicks(d.username, "admin")
    qtbot.keyClicks(d.full_name, "Ada Admin")
    qtbot.keyClicks(d.password, "short")
    qtbot.keyClicks(d.again, "short")
    qtbot.keyClick(d.again, Qt.Key.Key_Return)
    assert d.errors["password"].isVisible()
    assert d.errors["password"].text() == (
        "⚠ The password must have at least 12 characters (it has 5)."
    )
    assert d.password.text() == ""  # never kept in the form after a try
    qtbot.keyClicks(d.password, ADMIN_PW)
    qtbot.keyClicks(d.again, ADMIN_PW)
    qtbot.keyClick(d.again, Qt.Key.Key_Return)
    assert d.result() == QDialog.DialogCode.Accepted
    assert d.user is not None and d.user.role is Role.ADMINISTRATOR
    assert record.has_users()


def test_sign_in_slows_down_after_failures_and_is_audited(qtbot: QtBot, record: Record) -> None:
    add_accounts(record)
    record.set_user(None)
    d = SignInDialog(record)
    qtbot.addWidget(d)
    d.show()
    qtbot.keyClicks(d.username, "nurse.a")
    for _ in range(3):
        qtbot.keyClicks(d.password, "not my password")
        qtbot.keyClick(d.password, Qt.Key.Key_Return)
    assert d.error.isVisible() and d.error.text().startswith("⚠ The username or password is wrong")
    # Third failure in a row: 2 s before the next try (storage.users.delay_after(3) == 2).
    assert "Wait 2 seconds" in d.error.text()
    assert not d.ok_button.isEnabled() and d.wait_timer.isActive()
    assert d.result() != QDialog.DialogCode.Accepted
    count = record.db.execute("SELECT count(*) FROM sign_in_failures").fetchone()[0]
    assert count == 3
    qtbot.waitUntil(d.ok_button.isEnabled, timeout=4000)
    qtbot.keyClicks(d.password, NURSE_PW)
    qtbot.keyClick(d.password, Qt.Key.Key_Return)
    assert d.result() == QDialog.DialogCode.Accepted, d.error.text()
    assert d.user is not None and d.user.username == "nurse.a"


def test_nurse_sees_investigator_actions_disabled_with_the_reason(
    qtbot: QtBot, clinic: Record
) -> None:
    window = make_window(qtbot, clinic, "nurse.a")
    assert "User: Nina Adams (nurse.a, nurse)" in window.status_label.text()
    window.open_patient(window.patient_list.model.row_at(0).patient_id)
    actions = {a.text().replace("&", ""): a for a in window.workflows.patient_actions}
    assert actions["Enter lab results…"].isEnabled()
    assert actions["Record adverse event…"].isEnabled()
    dlt = actions["DLT review…"]
    assert not dlt.isEnabled()
    assert (
        dlt.toolTip()
        == "Only an investigator may confirm a DLT; you are signed in as nurse.a (nurse)."
    )
    assert dlt.statusTip() == dlt.toolTip()
    assert not actions["Modify dose…"].isEnabled()
    assert not actions["End of cycle…"].isEnabled()
    assert not window.enrol_action.isEnabled()
    assert "Only an investigator may enrol" in window.enrol_action.toolTip()
    assert not window.workflows.audit_action.isEnabled()
    assert "an investigator or an administrator" in window.workflows.audit_action.statusTip()
    assert not window.users_action.isEnabled()

    # The investigator signs in (Switch user): the same actions are enabled.
    window.session.switch_user()
    qtbot.keyClicks(window.session.page.username, "dr.b")
    qtbot.keyClicks(window.session.page.password, INV_PW)
    qtbot.keyClick(window.session.page.password, Qt.Key.Key_Return)
    assert not window.session.locked
    assert dlt.isEnabled() and actions["Modify dose…"].isEnabled()
    assert window.workflows.audit_action.isEnabled()
    assert "Dr Bea Byrne" in window.status_label.text()


def test_idle_lock_hides_patient_data_and_the_same_user_unlocks(
    qtbot: QtBot, clinic: Record
) -> None:
    window = make_window(qtbot, clinic, "nurse.a")
    row = window.patient_list.model.row_at(0)
    window.open_patient(row.patient_id)
    assert row.mrn in window.windowTitle()
    labs = next(a for a in window.workflows.patient_actions if "lab results" in a.text())
    labs.trigger()
    (form,) = open_dialogs()
    window.session.set_idle_interval(100)
    qtbot.waitUntil(lambda: window.session.locked, timeout=5000)
    assert window.root.currentWidget() is window.session.page
    assert row.mrn not in window.windowTitle() and "locked" in window.windowTitle()
    assert not form.isVisible()
    assert not any(a.isEnabled() for a in window.workflows.patient_actions)
    page = window.session.page
    assert page.username.text() == "nurse.a"
    qtbot.keyClicks(page.password, "wrong password!")
    qtbot.keyClick(page.password, Qt.Key.Key_Return)
    assert window.session.locked and page.error.text().startswith("⚠ The username or password")
    qtbot.keyClicks(page.password, NURSE_PW)
    qtbot.keyClick(page.password, Qt.Key.Key_Return)
    assert not window.session.locked
    assert row.mrn in window.windowTitle()
    assert form.isVisible()  # the same user finds their form as they left it
    assert labs.isEnabled()
    form.close()
    window.session.stop()


def _first_entry(dialog: QWidget) -> QLineEdit:
    entry = dialog.findChild(QLineEdit, "anc_value")  # the lab form's ANC value
    assert entry is not None
    return entry


def test_another_user_unlocking_keeps_unsaved_entries_as_a_draft(
    qtbot: QtBot, clinic: Record
) -> None:
    window = make_window(qtbot, clinic, "nurse.a")
    row = window.patient_list.model.row_at(0)
    window.open_patient(row.patient_id)
    labs = next(a for a in window.workflows.patient_actions if "lab results" in a.text())
    labs.trigger()
    (form,) = open_dialogs()
    entry = _first_entry(form)
    qtbot.keyClicks(entry, "1.7")
    window.session.lock()
    page = window.session.page
    page.username.setText("nurse.c")
    qtbot.keyClicks(page.password, NURSE2_PW)
    qtbot.keyClick(page.password, Qt.Key.Key_Return)
    assert not window.session.locked and clinic.app_user == "nurse.c"
    qtbot.waitUntil(lambda: not open_dialogs(), timeout=3000)
    assert "kept as drafts" in window.statusBar().currentMessage()
    nina = clinic.repos.users.get("nurse.a")
    (draft,) = clinic.repos.drafts.waiting(nina, type(form).__name__, row.patient_id)
    assert draft.fields["QLineEdit:anc_value"] == "1.7"

    labs.trigger()  # nurse.c sees an empty form: the draft is Nina's
    (other,) = open_dialogs()
    assert _first_entry(other).text() == ""
    other.close()
    qtbot.waitUntil(lambda: not open_dialogs(), timeout=3000)

    window.session.switch_user()
    qtbot.keyClicks(page.username, "nurse.a")
    qtbot.keyClicks(page.password, NURSE_PW)
    qtbot.keyClick(page.password, Qt.Key.Key_Return)
    labs.trigger()
    (again,) = open_dialogs()
    assert _first_entry(again).text() == "1.7"
    assert "unsaved entries" in window.statusBar().currentMessage()
    assert clinic.repos.drafts.waiting(nina, type(form).__name__, row.patient_id) == []
    again.close()
    window.session.stop()


def test_dlt_confirmation_is_signed_and_printed(qtbot: QtBot, record: Record) -> None:
    pid = level_two_patient(record, 4)
    add_accounts(record)
    act_as(record, "dr.b")
    d = DltReviewDialog(record, pid, today=lambda: DLT_TODAY, protocols=PROTOCOLS)
    qtbot.addWidget(d)
    d.show()
    assert d.reviewer.text() == "Dr Bea Byrne"
    qtbot.keyClick(d.reviewer, Qt.Key.Key_Return)
    assert isinstance(d.signature, SignatureDialog)
    sig = d.signature
    assert "I confirm this DLT decision" in sig.windowTitle()
    assert d.review_id is None  # nothing saved before the signature
    qtbot.keyClicks(sig.password, "not it at all")
    qtbot.keyClick(sig.password, Qt.Key.Key_Return)
    assert sig.error.isVisible() and d.review_id is None
    qtbot.keyClicks(sig.password, INV_PW)
    qtbot.keyClick(sig.password, Qt.Key.Key_Return)
    assert d.review_id is not None and not d.isVisible()
    (signature,) = record.repos.signatures.for_row("dlt_reviews", d.review_id)
    assert (signature.printed_name, signature.meaning) == (
        "Dr Bea Byrne",
        "I confirm this DLT decision",
    )
    assert signature.signed_at.endswith("Z")

    patient = record.repos.patients.get(pid).value
    doc = build_toxicity_summary(record, patient.mrn, 1)
    text = "".join(p.extract_text() for p in PdfReader(BytesIO(render_toxicity_summary(doc))).pages)
    flat = " ".join(text.split())
    assert "Signed by Dr Bea Byrne (dr.b) on" in flat
    assert "UTC: I confirm this DLT decision" in flat


def test_audit_viewer_filters_and_exports(
    qtbot: QtBot, qtmodeltester: object, clinic: Record, tmp_path: Path
) -> None:
    act_as(clinic, "dr.b")
    viewer = AuditViewer(clinic)
    qtbot.addWidget(viewer)
    viewer.show()
    qtmodeltester.check(viewer.model)  # type: ignore[attr-defined]
    everything = viewer.model.rowCount()
    assert everything > 0
    viewer.user.setCurrentIndex(viewer.user.findData("admin"))
    shown = viewer.model.entries
    assert shown and all(e.app_user == "admin" for e in shown)
    assert {e.table for e in shown} >= {"users"}
    viewer.user.setCurrentIndex(0)
    viewer.patient.setCurrentIndex(1)
    pid = viewer.patient.currentData()
    assert "MRN" in viewer.patient.currentText() and "DOB" in viewer.patient.currentText()
    tables = {e.table for e in viewer.model.entries}
    assert "patients" in tables and "users" not in tables
    viewer.view.selectRow(0)
    qtmodeltester.check(viewer.changes)  # type: ignore[attr-defined]
    assert viewer.changes.rowCount() > 0 and viewer.changes.columnCount() == 3
    out = tmp_path / "audit.csv"
    count = viewer.export_to(out)
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == count == viewer.model.rowCount()
    assert all(r["table"] != "users" for r in rows)
    assert any(r["table"] == "patients" and r["row_id"] == str(pid) for r in rows)
    for secret in (ADMIN_PW, NURSE_PW, INV_PW):
        assert secret not in out.read_text(encoding="utf-8-sig")


def test_audit_viewer_is_refused_to_a_nurse(clinic: Record) -> None:
    act_as(clinic, "nurse.a")
    with pytest.raises(Exception, match="Only an investigator or an administrator may open"):
        AuditViewer(clinic)


def test_users_dialog(qtbot: QtBot, qtmodeltester: object, clinic: Record) -> None:
    act_as(clinic, "admin")
    d = UsersDialog(clinic)
    qtbot.addWidget(d)
    d.show()
    qtmodeltester.check(d.model)  # type: ignore[attr-defined]
    assert [u.username for u in d.model.users] == ["admin", "dr.b", "nurse.a", "nurse.c"]
    qtbot.keyClicks(d.username, "nurse.e")
    qtbot.keyClicks(d.full_name, "Eve Evans")
    qtbot.keyClicks(d.password, "long enough pw 1")
    qtbot.keyClicks(d.again, "long enough pw 2")
    d.add_button.click()
    assert d.errors["password"].text() == "⚠ The two passwords differ; type them again."
    qtbot.keyClicks(d.password, "long enough pw 1")
    qtbot.keyClicks(d.again, "long enough pw 1")
    d.add_button.click()
    assert d.status.text() == "Added Eve Evans (nurse.e, nurse)."
    assert d.selected_user() is not None and d.selected_user().username == "nurse.e"  # type: ignore[union-attr]
    d.role.setCurrentIndex(d.role.findData("investigator"))
    d.set_role_button.click()
    assert clinic.repos.users.get("nurse.e").role is Role.INVESTIGATOR
    d.active_button.click()
    assert not clinic.repos.users.get("nurse.e").active
    d.select("admin")
    d.active_button.click()
    assert d.selected_error.isVisible() and "only active administrator" in d.selected_error.text()
    assert clinic.repos.users.get("admin").active


def test_no_password_in_the_log_file_or_any_log_record(
    qtbot: QtBot, record: Record, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    log_file = setup_logging(tmp_path / "logs")
    try:
        add_accounts(record)
        record.set_user(None)
        d = SignInDialog(record)
        qtbot.addWidget(d)
        d.show()
        qtbot.keyClicks(d.username, "nurse.a")
        qtbot.keyClicks(d.password, "a wrong secret 77")
        qtbot.keyClick(d.password, Qt.Key.Key_Return)
        qtbot.keyClicks(d.password, NURSE_PW)
        qtbot.keyClick(d.password, Qt.Key.Key_Return)
        assert d.result() == QDialog.DialogCode.Accepted
        logging.getLogger(LOGGER_NAME).info("signed in as nurse.a")  # the file is written
    finally:
        logger = logging.getLogger(LOGGER_NAME)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
    data = log_file.read_bytes()
    assert b"signed in as nurse.a" in data
    for secret in (ADMIN_PW, NURSE_PW, NURSE2_PW, INV_PW, "a wrong secret 77"):
        assert secret.encode() not in data
        assert secret not in caplog.text
