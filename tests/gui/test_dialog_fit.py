"""Every window and dialog opens inside a 1366x768 laptop screen, with no text cut off.

``test_every_window_fits_a_1366x768_screen`` starts a real X server (Xvfb) of exactly that
size and runs the per-window checks below in it (``CLINIC_FIT_SCREEN=1``); in the ordinary
offscreen run those are skipped, because the offscreen screen is not a laptop's. Each
window is opened on a demonstration record, as a nurse would reach it, and checked both
fresh and after Save was pressed on the empty form (when the warnings are longest).
The checks themselves (tests/gui/fit_check.py) are tested offscreen at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.core.records import Patient, Sex
from clinic_app.services.demo import generate_demo
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.users import Role
from tests.gui.fit_check import (
    clipped_labels,
    fit_problems,
    off_screen,
    tables_scrolling_sideways,
    title_hides_identifiers,
)

XVFB_RUN = shutil.which("xvfb-run")
INNER = os.environ.get("CLINIC_FIT_SCREEN") == "1"
TODAY = date(2025, 3, 3)
NOW = datetime(2025, 3, 3, 8, 30, tzinfo=UTC)
pytestmark = pytest.mark.qt_log_ignore(
    r"This plugin does not support (propagateSizeHints|raise)", r"QXcbConnection"
)


@pytest.fixture
def record(tmp_path: Path, protocols: dict[str, Protocol]) -> Iterator[Record]:
    rec = open_database(tmp_path / "demo.sqlite3")
    generate_demo(rec, patients=12, seed=2, today=TODAY, protocols=protocols)
    try:
        yield rec
    finally:
        rec.close()


def first_patient(record: Record, protocol: str) -> int:
    row = record.db.execute(
        "SELECT patient_id FROM enrolments WHERE protocol = ? ORDER BY patient_id LIMIT 1",
        [protocol],
    ).fetchone()
    return int(row[0])


def unenrolled(record: Record) -> int:
    # A long name, as the worst case a title must still show with its MRN.
    return record.repos.patients.add(
        Patient(
            "LONG-MRN-000123",
            "Wolfeschlegelsteinhausen-Bergerdorff",
            "Maria-Magdalena Anastasia",
            date(1961, 7, 14),
            Sex.FEMALE,
        )
    )


def sign_in_admin(record: Record) -> None:
    record.repos.users.create_first_administrator("admin", "Ada Admin", "correct horse 12")
    record.repos.users.authenticate("admin", "correct horse 12")
    record.set_user("admin")


def press_save(window: QWidget) -> None:
    """Press the form's accepting button, as a nurse trying Save on an empty form would."""
    for box in window.findChildren(QDialogButtonBox):
        for button in box.buttons():
            role = box.buttonRole(button)
            if (
                role
                in (
                    QDialogButtonBox.ButtonRole.AcceptRole,
                    QDialogButtonBox.ButtonRole.YesRole,
                )
                and button.isEnabled()
            ):
                button.click()
                return


Opener = Callable[[Record, dict[str, Protocol]], QWidget]


def _main_window(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from PySide6.QtCore import QSettings

    from clinic_app.gui.main_window import MainWindow

    settings = QSettings(str(Path(record.path).with_suffix(".ini")), QSettings.Format.IniFormat)
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    window.show()
    while window.loading:
        QApplication.processEvents()
    return window


def _main_window_chart(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    # A patient with labs, doses and events: the chart's tables hold real rows.
    window = _main_window(record, protocols)
    window.open_patient(first_patient(record, "dextr"))  # type: ignore[attr-defined]
    return window


def _locked(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    sign_in_admin(record)
    window = _main_window(record, protocols)
    window.session.lock()  # type: ignore[attr-defined]
    window.session.page.password.setText("wrong password 1")  # type: ignore[attr-defined]
    window.session.page.unlock_button.click()  # type: ignore[attr-defined]
    return window


def _new_patient(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.dialogs.new_patient import NewPatientDialog

    return NewPatientDialog(record, None, today=lambda: TODAY)


def _enrolment(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.dialogs.enrolment import EnrolmentDialog

    return EnrolmentDialog(record, protocols, unenrolled(record), None, today=lambda: TODAY)


def _enrolment_bpd(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.dialogs.enrolment import EnrolmentDialog

    dialog = EnrolmentDialog(record, protocols, unenrolled(record), None, today=lambda: TODAY)
    dialog.protocol.setCurrentIndex(dialog.protocol.findData("bpd"))
    return dialog


def _cycle_start(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.cycle_start import CycleStartDialog

    return CycleStartDialog(record, first_patient(record, "dextr"), None, protocols, lambda: TODAY)


def _lab_entry(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.lab_entry import LabEntryDialog

    return LabEntryDialog(record, first_patient(record, "dextr"), None, now=lambda: NOW)


def _lab_trends(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.lab_trends import LabTrendsDialog

    return LabTrendsDialog(record, first_patient(record, "dextr"), None)


def _adverse_event(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.ae_entry import AdverseEventDialog

    return AdverseEventDialog(
        record, first_patient(record, "bpd"), protocols, None, today=lambda: TODAY
    )


def _response(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.response_entry import ResponseEntryDialog

    return ResponseEntryDialog(record, first_patient(record, "dextr"), None, today=lambda: TODAY)


def _dlt_review(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.dlt_review import DltReviewDialog

    return DltReviewDialog(
        record, first_patient(record, "bpd"), None, today=lambda: TODAY, protocols=protocols
    )


def _end_of_cycle(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.end_of_cycle import EndOfCycleDialog

    return EndOfCycleDialog(
        record, first_patient(record, "dextr"), None, today=lambda: TODAY, protocols=protocols
    )


def _dose_grid(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.dose_admin import CycleDosesDialog

    return CycleDosesDialog(
        record, first_patient(record, "dextr"), None, None, protocols, lambda: TODAY, lambda: NOW
    )


def _dose_outcome(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.dose_admin import DoseOutcomeDialog
    from clinic_app.services.dose_admin import current_cycle, cycle_doses

    view = current_cycle(record, first_patient(record, "dextr"), None, protocols)
    return DoseOutcomeDialog(record, view, cycle_doses(record, view)[0], None, lambda: NOW)


def _dose_modification(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.dose_admin import DoseModificationDialog
    from clinic_app.services.dose_admin import current_cycle

    view = current_cycle(record, first_patient(record, "dextr"), None, protocols)
    return DoseModificationDialog(record, view, None, lambda: TODAY)


def _history(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.history import HistoryDialog

    pid = first_patient(record, "dextr")
    lab = record.db.execute("SELECT min(id) FROM labs WHERE patient_id = ?", [pid]).fetchone()
    patient = record.repos.patients.get(pid).value
    title = f"History — {patient.full_name}, MRN {patient.mrn}"
    return HistoryDialog(record, record.repos.labs, int(lab[0]), title, None)


def _audit(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.audit_viewer import AuditViewer

    return AuditViewer(record, None)


def _users(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.users_dialog import UsersDialog

    record.repos.users.create_first_administrator("admin", "Ada Admin", "correct horse 12")
    record.repos.users.authenticate("admin", "correct horse 12")
    record.set_user("admin")
    record.repos.users.add("nurse.a", "Nina Adams", Role.NURSE, "battery staple 34")
    return UsersDialog(record, None)


def _create_admin(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.sign_in import CreateAdministratorDialog

    return CreateAdministratorDialog(record, None)


def _sign_in(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.sign_in import SignInDialog

    record.repos.users.create_first_administrator("admin", "Ada Admin", "correct horse 12")
    return SignInDialog(record, None)


def _signature(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.signature import SignatureDialog

    sign_in_admin(record)
    return SignatureDialog(record, "confirm the DLT review for cycle 1", None)


def _settings(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.settings_dialog import SettingsDialog

    return SettingsDialog(record, None, config=Path(record.path).with_suffix(".json"))


def _preview(kind: str) -> Opener:
    def make(record: Record, protocols: dict[str, Protocol]) -> QWidget:
        from clinic_app.gui.printing import PreviewDialog
        from clinic_app.services import settings as st

        st.set_value(record, st.CLINIC_PHONE, "555-0100", reason="fit test")
        return PreviewDialog(record, kind, first_patient(record, "dextr"), 1, None)

    return make


def _batch(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.printing import BatchDialog

    folder = Path(record.path).parent / "batch"
    folder.mkdir()
    dialog = BatchDialog(Path(record.path), TODAY, folder, None)
    return dialog


def _trial_board(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.trial_board import TrialBoardWindow

    return TrialBoardWindow(record, protocols, today=TODAY, user="nurse.k")


def _protocols_view(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.protocol_view import ProtocolsWindow

    return ProtocolsWindow(protocols, None)


def _check_out(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.checkout_dialog import CheckOutDialog

    folder = Path(record.path).parent
    # None chosen: Save then shows the refusal synchronously (the longest the form gets).
    return CheckOutDialog(record, None, None, folder=folder)


def _check_in(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.checkout_dialog import CheckInDialog

    return CheckInDialog(record, None)


def _review(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.review_dialog import ReviewDialog

    return ReviewDialog(record, None)


def _cancel_checkout(record: Record, protocols: dict[str, Protocol]) -> QWidget:
    from clinic_app.gui.cancel_checkout_dialog import CancelCheckoutDialog
    from clinic_app.storage.checkout import check_out, checked_out_patients

    if not checked_out_patients(record):  # a list to cancel from
        mrns = [p.mrn for p in record.repos.patients.all()[:3]]
        check_out(record, Path(record.path).parent / "lost-laptop.sqlite3", mrns, "Laptop 3")
    dialog = CancelCheckoutDialog(record, None)
    dialog.patients.item(0).setCheckState(Qt.CheckState.Checked)
    return dialog


WINDOWS: dict[str, Opener] = {
    "main window": _main_window,
    "main window with a chart": _main_window_chart,
    "locked main window": _locked,
    "new patient": _new_patient,
    "enrolment (DexTR)": _enrolment,
    "enrolment (BPD)": _enrolment_bpd,
    "cycle start": _cycle_start,
    "lab entry": _lab_entry,
    "lab trends": _lab_trends,
    "adverse event": _adverse_event,
    "response assessment": _response,
    "DLT review": _dlt_review,
    "end of cycle": _end_of_cycle,
    "dose grid": _dose_grid,
    "dose outcome": _dose_outcome,
    "dose modification": _dose_modification,
    "item history": _history,
    "audit trail": _audit,
    "users": _users,
    "first administrator": _create_admin,
    "sign in": _sign_in,
    "signature": _signature,
    "settings": _settings,
    "dosing card preview": _preview("dosing_card"),
    "toxicity summary preview": _preview("toxicity_summary"),
    "morning batch": _batch,
    "trial board": _trial_board,
    "protocols": _protocols_view,
    "check out to a laptop": _check_out,
    "check in a laptop": _check_in,
    "review laptop changes": _review,
    "cancel a check-out": _cancel_checkout,
}
# Dialogs where Save on an empty form shows the warnings (the longest the form gets).
SAVE_TRIED = {
    "new patient",
    "enrolment (DexTR)",
    "enrolment (BPD)",
    "adverse event",
    "response assessment",
    "first administrator",
    "sign in",
    "dose modification",
    "check out to a laptop",
    "check in a laptop",
}


def settle(qtbot: QtBot, widget: QWidget) -> None:
    qtbot.waitExposed(widget)
    for _ in range(5):
        QApplication.processEvents()
    qtbot.wait(50)


def every_tab_problems(qtbot: QtBot, window: QWidget) -> list[str]:
    problems = fit_problems(window)
    for tabs in window.findChildren(QTabWidget):
        if not tabs.isVisibleTo(window):
            continue
        for index in range(tabs.count()):
            tabs.setCurrentIndex(index)
            settle(qtbot, window)
            problems += [f"tab {tabs.tabText(index)!r}: {p}" for p in fit_problems(window)]
    return problems


@pytest.mark.slow
@pytest.mark.skipif(not INNER, reason="runs inside a 1366x768 Xvfb screen (see below)")
@pytest.mark.parametrize("name", list(WINDOWS))
def test_window_fits_the_laptop_screen(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], name: str
) -> None:
    screen = QApplication.primaryScreen()
    assert screen.size().width() == 1366 and screen.size().height() == 768
    window = WINDOWS[name](record, protocols)
    qtbot.addWidget(window)
    if isinstance(window, QDialog):
        window.setModal(False)
    window.show()
    settle(qtbot, window)
    if name == "morning batch":
        qtbot.waitUntil(lambda: bool(window.result_text), timeout=60_000)  # type: ignore[attr-defined]
        settle(qtbot, window)
    problems = [f"as opened: {p}" for p in every_tab_problems(qtbot, window)]
    if name in SAVE_TRIED:
        press_save(window)
        settle(qtbot, window)
        problems += [f"after Save: {p}" for p in every_tab_problems(qtbot, window)]
    window.close()
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.skipif(XVFB_RUN is None, reason="Xvfb (xvfb-run) is not installed on this machine")
@pytest.mark.skipif(INNER, reason="this is the outer run")
def test_every_window_fits_a_1366x768_screen(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "CLINIC_FIT_SCREEN": "1"}
    env.pop("CLINIC_APP_DB", None)
    assert XVFB_RUN is not None
    completed = subprocess.run(
        [
            XVFB_RUN,
            "-a",
            "-s",
            "-screen 0 1366x768x24",
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rs",
            f"{__file__}::test_window_fits_the_laptop_screen",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert completed.returncode == 0, completed.stdout[-20000:] + completed.stderr[-4000:]
    summary = completed.stdout.strip().splitlines()[-1]
    # Every window was checked: none skipped (a skip would mean the screen was not 1366x768).
    assert f"{len(WINDOWS)} passed" in summary and "skipped" not in summary, summary


# -- the checks themselves, offscreen --------------------------------------------------------


def test_a_wrapped_label_shorter_than_its_text_is_reported(qtbot: QtBot) -> None:
    box = QWidget()
    qtbot.addWidget(box)
    label = QLabel("A long explanation that needs three or four lines at this width. " * 3, box)
    label.setObjectName("explanation")
    label.setWordWrap(True)
    label.setGeometry(0, 0, 120, 20)
    box.show()
    assert any("explanation" in p for p in clipped_labels(box))
    label.setGeometry(0, 0, 120, label.heightForWidth(120))
    assert clipped_labels(box) == []


def test_a_single_line_label_narrower_than_its_text_is_reported(qtbot: QtBot) -> None:
    box = QWidget()
    qtbot.addWidget(box)
    label = QLabel("Date of birth: enter a date in the past", box)
    label.setGeometry(0, 0, 60, 30)
    box.show()
    assert len(clipped_labels(box)) == 1


def test_a_window_larger_than_the_screen_is_reported(qtbot: QtBot) -> None:
    box = QWidget()
    qtbot.addWidget(box)
    box.setWindowTitle("Enrol")
    box.resize(928, 940)
    assert off_screen(box, QRect(0, 0, 1366, 768))
    box.resize(900, 700)
    assert not off_screen(box, QRect(0, 0, 1366, 768))


def test_a_title_whose_mrn_is_elided_is_reported(qtbot: QtBot) -> None:
    box = QWidget()
    qtbot.addWidget(box)
    box.setWindowTitle("Enrol — Wolfeschlegelsteinhausen-Bergerdorff, Maria (MRN L-0001)")
    box.resize(300, 200)
    assert title_hides_identifiers(box)
    box.resize(1200, 200)
    assert not title_hides_identifiers(box)


def test_press_save_clicks_the_accepting_button(qtbot: QtBot) -> None:
    dialog = QDialog()
    qtbot.addWidget(dialog)
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, dialog
    )
    QVBoxLayout(dialog).addWidget(buttons)
    pressed: list[bool] = []
    buttons.accepted.connect(lambda: pressed.append(True))
    press_save(dialog)
    assert pressed == [True]
    assert isinstance(buttons.button(QDialogButtonBox.StandardButton.Save), QPushButton)
    assert Qt.Key.Key_Escape  # the board's Esc is tested in test_trial_board.py


def test_a_table_with_columns_hidden_to_the_right_is_reported(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QTableView

    from clinic_app.gui.table_model import TextRowsModel

    box = QWidget()
    qtbot.addWidget(box)
    model = TextRowsModel(["Drug", "Units"], box)
    model.set_rows([["Dexamethasone", "5 × 4 mg tablet + 1 × 20 mg tablet, with food"]])
    view = QTableView(box)
    view.setAccessibleName("Planned doses")
    view.setModel(model)
    view.resizeColumnsToContents()
    view.setGeometry(0, 0, 150, 120)
    box.show()
    assert tables_scrolling_sideways(box) == [
        f"table 'Planned doses' needs {view.horizontalHeader().length()} px of width, shows "
        f"{view.viewport().width()}: columns are hidden to the right"
    ]
    view.setGeometry(0, 0, view.horizontalHeader().length() + 60, 120)
    assert tables_scrolling_sideways(box) == []
