"""The app's screens on a clinic server record (issue 18), driven like the SQLite GUI tests.

A nurse's day on a PostgreSQL record through the real dialogs: new patient, enrolment, cycle
start, a dose given. Then the connection dies while a form is filled in (the server ends the
backend, as a restarted server or a dropped network does): saving says so in one sentence, the
form stays open with everything typed, and the same save works once the connection is back;
a form left open when the window locks becomes its author's draft on the server. Every other
workflow opens on the server too, and the settings dialog keeps this computer's clinic server
(never with a password).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from clinic_app.core.cycles import CycleStatus
from clinic_app.core.protocol import Protocol
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import DoseStatus
from clinic_app.gui.cycle_start import CycleStartDialog
from clinic_app.gui.dialogs.new_patient import NewPatientDialog
from clinic_app.gui.dose_admin import CycleDosesDialog, DoseOutcomeDialog
from clinic_app.gui.lab_entry import LabEntryDialog, to_qdatetime
from clinic_app.gui.main_window import MainWindow, app_settings
from clinic_app.gui.settings_dialog import TAB_OF_FIELD, SettingsDialog
from clinic_app.services import settings as st
from clinic_app.services.dose_admin import current_cycle, cycle_doses
from clinic_app.storage.database import Record, ServerAddress, open_database
from tests.gui.test_main_window import add_patient_through_ui, enrol_through_ui
from tests.services.test_cycle_start import good_counts
from tests.storage.pg_helpers import end_other_sessions
from tests.storage.pg_helpers import server_down as database_down

if TYPE_CHECKING:
    from tests.pg_server import PgServer

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
TODAY = date(2025, 3, 12)  # what test_main_window's helpers enrol for: cycle 1 day 1
NOW = datetime(2025, 3, 12, 10, 30, tzinfo=UTC)
_count = iter(range(1, 10_000))
SECRET = "s3cret-in-the-address"
"""A password written into the address (the test server trusts its socket and ignores it):
no screen may show it."""


@pytest.fixture
def address(pg_server: PgServer, pg_template: str, request: pytest.FixtureRequest) -> ServerAddress:
    """A fresh server database at the current schema (a copy of the session's template)."""
    name = f"gui{next(_count)}"
    conninfo = pg_server.create_database(name, template=pg_template)
    request.addfinalizer(lambda: pg_server.drop_database(name))
    return ServerAddress(f"{conninfo}&password={SECRET}")


@pytest.fixture
def server_record(address: ServerAddress) -> Iterator[Record]:
    rec = open_database(address)
    try:
        yield rec
    finally:
        rec.close()


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    return app_settings()


def drop_connections(address: ServerAddress) -> int:
    """End every other session on the record's database, as a server restart would."""
    return end_other_sessions(address.conninfo)


def server_down(address: ServerAddress) -> AbstractContextManager[None]:
    """The record's database refuses every connection until the block ends."""
    return database_down(address.conninfo)


def message_boxes() -> list[QMessageBox]:
    return [
        w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()
    ]


def said_lost_once(box: QMessageBox, record: Record) -> None:
    """The storage layer's one sentence for a server that cannot be reached, with the address
    as shown everywhere (never its password), and no second "nothing was saved" tacked on."""
    text = box.text()
    assert text.startswith(f"The server {record.location} "), text
    assert "nothing was saved" in text, text
    assert text.count("saved") == 1 and SECRET not in text


def dismiss(qtbot: QtBot, box: QMessageBox) -> None:
    box.done(0)
    with qtbot.waitSignal(box.destroyed):  # later tests count the boxes still alive
        box.deleteLater()


# -- a nurse's day on the server ----------------------------------------------------------------


def test_new_patient_enrol_start_a_cycle_and_give_a_dose_on_the_server(
    qtbot: QtBot, server_record: Record, protocols: dict[str, Protocol], settings: QSettings
) -> None:
    record = server_record
    assert record.on_server
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    assert f"Database: {record.location}" in window.status_label.text()
    assert SECRET not in window.status_label.text() and SECRET not in str(record.location)

    add_patient_through_ui(qtbot, window, "MRN-1", "Nováková")
    pid = window.current_patient_id
    assert pid is not None and window.patient_list.model.total == 1
    enrol_through_ui(qtbot, window, "dextr")
    table = window.patient_list.proxy
    assert (table.index(0, 3).data(), table.index(0, 6).data()) == ("DexTR", "active")

    good_counts(record, pid, date(2025, 3, 11))
    start = CycleStartDialog(record, pid, window, protocols, lambda: TODAY)
    qtbot.addWidget(start)
    start.show()
    qtbot.waitExposed(start)
    assert start.windowTitle() == "Start cycle 1 — Ana Nováková (born 1 May 1960, MRN MRN-1)"
    start.weight_edit.selectAll()
    qtbot.keyClicks(start.weight_edit, "64")
    assert start.ok_button.isEnabled(), start.status.text()
    qtbot.keyClick(start.weight_edit, Qt.Key.Key_Return)
    assert start.result() == CycleStartDialog.DialogCode.Accepted and start.result_ is not None
    cycle = record.repos.cycles.get(start.result_.cycle_id).value
    assert cycle.status is CycleStatus.STARTED and cycle.start_date == TODAY

    grid = CycleDosesDialog(record, pid, None, window, protocols, lambda: TODAY, lambda: NOW)
    qtbot.addWidget(grid)
    grid.show()
    qtbot.waitExposed(grid)
    row = next(
        r
        for r in range(grid.proxy.rowCount())
        if grid.model.doses[grid.proxy.mapToSource(grid.proxy.index(r, 0)).row()].drug
        == "thalidomide"
        and grid.model.doses[grid.proxy.mapToSource(grid.proxy.index(r, 0)).row()].day == 1
    )
    grid.table.selectRow(row)
    grid.outcome_button.click()
    editor = grid.last_dialog
    assert isinstance(editor, DoseOutcomeDialog)
    assert editor.radios[DoseStatus.GIVEN].isChecked() and editor.ok_button.isEnabled()
    editor.ok_button.click()
    assert editor.saved
    view = current_cycle(record, pid, protocols=protocols)
    (dose,) = [d for d in cycle_doses(record, view) if d.day == 1 and d.drug == "thalidomide"]
    assert dose.status is DoseStatus.GIVEN

    # What the dialogs wrote is on the server, for every other desk: a second connection sees it.
    with open_database(record.location) as other_desk:
        assert [p.mrn for p in other_desk.repos.patients.all()] == ["MRN-1"]
        again = current_cycle(other_desk, pid, protocols=protocols)
        (seen,) = [
            d for d in cycle_doses(other_desk, again) if d.day == 1 and d.drug == "thalidomide"
        ]
        assert seen.status is DoseStatus.GIVEN
    assert not message_boxes()


# -- the connection drops while a form is filled in ---------------------------------------------


def fill_new_patient(qtbot: QtBot, dialog: NewPatientDialog) -> None:
    qtbot.keyClicks(dialog.edits["mrn"], "MRN-7")
    dialog.edits["family_name"].insert("Horáková")  # keyClicks types ASCII only
    qtbot.keyClicks(dialog.edits["given_name"], "Milada")
    qtbot.keyClicks(dialog.edits["date_of_birth"], "1958-11-02")
    dialog.sex.setCurrentIndex(1)


def typed(dialog: NewPatientDialog) -> tuple[str, ...]:
    return (*(edit.text() for edit in dialog.edits.values()), dialog.sex.currentText())


def test_a_dropped_connection_keeps_the_new_patient_form_and_says_so_once(
    qtbot: QtBot, address: ServerAddress, server_record: Record
) -> None:
    record = server_record
    dialog = NewPatientDialog(record, today=lambda: TODAY)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    fill_new_patient(qtbot, dialog)
    before = typed(dialog)

    with server_down(address):
        dialog.save()
        (box,) = message_boxes()
        said_lost_once(box, record)
        assert dialog.isVisible() and dialog.patient_id is None
        assert typed(dialog) == before  # nothing typed is lost
        dismiss(qtbot, box)

    # The server is back: the same Save, once more, is stored (the record reconnects).
    dialog.save()
    assert not message_boxes(), [b.text() for b in message_boxes()]
    assert dialog.patient_id is not None and not dialog.isVisible()
    with open_database(address) as other_desk:
        assert [p.mrn for p in other_desk.repos.patients.all()] == ["MRN-7"]


def test_a_dropped_connection_keeps_the_lab_results_typed(
    qtbot: QtBot, address: ServerAddress, server_record: Record
) -> None:
    from tests.services import helpers

    record = server_record
    pid = helpers.patient(record, "MRN-77", "Novak", "Jana")
    dialog = LabEntryDialog(record, pid, now=lambda: NOW)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.collected_at.setDateTime(to_qdatetime(datetime(2025, 3, 12, 8, 30)))
    edit = dialog.rows["anc"].value
    edit.setFocus()
    qtbot.keyClicks(edit, "2.1")

    with server_down(address):
        dialog.save()
        (box,) = message_boxes()
        said_lost_once(box, record)
        assert dialog.isVisible() and dialog.rows["anc"].value.text() == "2.1"
        dismiss(qtbot, box)

    dialog.save()
    assert not message_boxes(), [b.text() for b in message_boxes()]
    assert dialog.saved_ids and not dialog.isVisible()


def test_a_connection_dropped_while_typing_is_not_even_noticed_at_save(
    qtbot: QtBot, address: ServerAddress, server_record: Record
) -> None:
    # The server restarted while the nurse typed: Save opens a new connection and saves.
    dialog = NewPatientDialog(server_record, today=lambda: TODAY)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    fill_new_patient(qtbot, dialog)
    assert drop_connections(address) >= 1
    dialog.save()
    assert not message_boxes(), [b.text() for b in message_boxes()]
    assert dialog.patient_id is not None and not dialog.isVisible()


# -- the window locks while a form is filled in ---------------------------------------------------


def test_a_form_left_open_at_the_lock_is_kept_as_a_draft_on_the_server_across_a_drop(
    qtbot: QtBot, address: ServerAddress, server_record: Record, settings: QSettings
) -> None:
    """Nina's half-typed lab form is hidden by the lock; the connection drops while the window
    is locked; Cole signs in (the record connects again by itself), so her form becomes her
    draft on the server, and it is back in the form when she signs in again."""
    from tests.gui.test_users_gui import NURSE2_PW, NURSE_PW, act_as, add_accounts, open_dialogs
    from tests.services import helpers

    record = server_record
    pid = helpers.patient(record, "MRN-5", "Novak", "Jana")
    add_accounts(record)
    act_as(record, "nurse.a")
    window = MainWindow(record, load_protocols(), today=lambda: TODAY, settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    window.open_patient(pid)
    labs = next(a for a in window.workflows.patient_actions if "lab results" in a.text())
    labs.trigger()
    (form,) = open_dialogs()
    anc = anc_value(form)
    qtbot.keyClicks(anc, "1.7")

    window.session.lock()
    assert drop_connections(address) >= 1
    page = window.session.page
    page.username.setText("nurse.c")
    qtbot.keyClicks(page.password, NURSE2_PW)
    qtbot.keyClick(page.password, Qt.Key.Key_Return)
    # The record connects again by itself at the sign-in: nobody is told about the drop.
    assert not message_boxes(), [b.text() for b in message_boxes()]
    assert not window.session.locked and record.app_user == "nurse.c"
    qtbot.waitUntil(lambda: not open_dialogs(), timeout=3000)
    assert "kept as drafts" in window.statusBar().currentMessage()
    with open_database(address) as other_desk:  # on the server, not in this window's memory
        rows = other_desk.sql.execute(
            "SELECT fields FROM drafts WHERE voided_at IS NULL"
        ).fetchall()
    assert len(rows) == 1 and '"1.7"' in rows[0][0]

    window.session.switch_user()
    qtbot.keyClicks(page.username, "nurse.a")
    qtbot.keyClicks(page.password, NURSE_PW)
    qtbot.keyClick(page.password, Qt.Key.Key_Return)
    labs.trigger()
    (again,) = open_dialogs()
    assert anc_value(again).text() == "1.7"
    assert "unsaved entries" in window.statusBar().currentMessage()
    again.close()
    window.session.stop()


def anc_value(form: QWidget) -> QLineEdit:
    entry = form.findChild(QLineEdit, "anc_value")
    assert entry is not None
    return entry


# -- this computer's clinic server, in the settings dialog ----------------------------------------


def settings_dialog(qtbot: QtBot, record: Record, config: Path) -> SettingsDialog:
    dialog = SettingsDialog(record, config=config)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_the_clinic_server_goes_to_this_computers_settings_beside_the_data_folder(
    qtbot: QtBot, record: Record, tmp_path: Path
) -> None:
    config = tmp_path / "config" / "settings.json"
    dialog = settings_dialog(qtbot, record, config)
    field = dialog.edits["data_server"]
    assert dialog.field_of(st.DATA_SERVER) == "data_server"
    assert "none: the record file" in field.placeholderText()
    dialog.show_setting(st.DATA_SERVER)  # on the tab of the data folder, ready to type
    assert dialog.tabs.currentIndex() == TAB_OF_FIELD["data_folder"]
    qtbot.keyClicks(field, "postgresql://nurse@clinic-db/clinic?sslmode=verify-full")
    dialog.save()
    assert dialog.saved  # no reason asked: it is this computer's, not the record's
    assert json.loads(config.read_text()) == {
        "data.server": "postgresql://nurse@clinic-db/clinic?sslmode=verify-full"
    }

    again = settings_dialog(qtbot, record, config)
    assert again.edits["data_server"].text() == (
        "postgresql://nurse@clinic-db/clinic?sslmode=verify-full"
    )
    again.edits["data_server"].clear()  # empty: back to the file in the data folder
    again.save()
    assert again.saved and json.loads(config.read_text()) == {}


@pytest.mark.parametrize(
    "typed",
    [
        f"postgresql://nurse:{SECRET}@clinic-db/clinic",
        f"postgresql://nurse@clinic-db/clinic?password={SECRET}",
        f"service=clinic password={SECRET}",
    ],
)
def test_an_address_with_a_password_is_refused_at_the_field_in_words(
    qtbot: QtBot, record: Record, tmp_path: Path, typed: str
) -> None:
    config = tmp_path / "config" / "settings.json"
    dialog = settings_dialog(qtbot, record, config)
    dialog.tabs.setCurrentIndex(0)
    qtbot.keyClicks(dialog.edits["data_server"], typed)
    dialog.save()
    assert not dialog.saved and dialog.isVisible() and not config.exists()
    error = dialog.errors["data_server"]
    assert not error.isHidden()
    assert "password is never kept in this computer's settings" in error.text()
    assert "password file" in error.text() and SECRET not in error.text()
    assert dialog.tabs.currentIndex() == TAB_OF_FIELD["data_server"]  # shown where it is
    assert dialog.focusWidget() is dialog.edits["data_server"]
    assert dialog.edits["data_server"].text() == typed  # kept to correct, not cleared


def test_the_refusals_on_the_backups_tab_are_shown_whole(
    qtbot: QtBot, record: Record, tmp_path: Path
) -> None:
    """Two warnings under the folder and server fields: the dialog grows, no line is cut."""
    from tests.gui.fit_check import clipped_labels

    dialog = settings_dialog(qtbot, record, tmp_path / "settings.json")
    qtbot.waitExposed(dialog)
    dialog.edits["data_folder"].setText("relative/folder")
    dialog.edits["data_server"].setText(f"postgresql://nurse:{SECRET}@clinic-db/clinic")
    dialog.save()
    assert not dialog.errors["data_folder"].isHidden()
    assert not dialog.errors["data_server"].isHidden()
    assert clipped_labels(dialog) == []


def test_what_is_not_a_server_address_is_refused_at_the_field(
    qtbot: QtBot, record: Record, tmp_path: Path
) -> None:
    config = tmp_path / "config" / "settings.json"
    dialog = settings_dialog(qtbot, record, config)
    qtbot.keyClicks(dialog.edits["data_server"], "clinic-db")
    dialog.save()
    assert not dialog.saved and not config.exists()
    assert "is not a server address" in dialog.errors["data_server"].text()


def test_the_settings_of_a_server_record_name_it_without_its_password(
    qtbot: QtBot, server_record: Record, tmp_path: Path
) -> None:
    dialog = settings_dialog(qtbot, server_record, tmp_path / "settings.json")
    assert dialog.windowTitle() == f"Settings — {server_record.location}"
    assert SECRET not in dialog.windowTitle()
    qtbot.keyClicks(dialog.edits["clinic_phone"], "0123 456 789")
    qtbot.keyClicks(dialog.reason, "new clinic line")
    dialog.save()
    assert dialog.saved
    assert st.stored(server_record, st.CLINIC_PHONE) == "0123 456 789"


# -- every other screen opens on a server record --------------------------------------------------


def test_every_workflow_and_trial_window_opens_on_a_server_record(
    qtbot: QtBot, server_record: Record, settings: QSettings
) -> None:
    from clinic_app.gui.audit_viewer import AuditViewer
    from clinic_app.services.demo import generate_demo
    from tests.gui.test_patient_actions import visible_dialogs

    record = server_record
    today = date(2026, 3, 2)
    generate_demo(record, patients=6, seed=3, today=today)
    window = MainWindow(record, load_protocols(), today=lambda: today, settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    assert window.patient_list.model.total == 6
    row = window.patient_list.model.row_at(0)
    window.open_patient(row.patient_id)
    for action in window.workflows.patient_actions:
        if action.text() == "Item &history…":  # of the lab result chosen in the chart
            tabs = window.chart.tabs  # type: ignore[attr-defined]
            tabs.setCurrentWidget(tabs.labs)
            tabs.labs.view.setCurrentIndex(tabs.labs.proxy.index(0, 0))
        before = set(map(id, visible_dialogs()))
        action.trigger()
        opened = [d for d in visible_dialogs() if id(d) not in before]
        assert opened, f"{action.text()} opened nothing"
        for dialog in opened:
            assert row.mrn in dialog.windowTitle(), (action.text(), dialog.windowTitle())
            dialog.close()
    qtbot.waitUntil(lambda: not visible_dialogs(), timeout=5000)
    assert not message_boxes(), [b.text() for b in message_boxes()]

    window.workflows.audit_action.trigger()
    viewer = window.workflows.audit_viewer
    assert isinstance(viewer, AuditViewer)
    assert viewer.count.text().endswith("change(s) shown, newest first.")
    assert not viewer.count.text().startswith("0 ")
    viewer.close()
    window.workflows.board_action.trigger()
    board = window.workflows.trial_board
    assert board is not None and board.isVisible()
    board.close()
    assert not message_boxes(), [b.text() for b in message_boxes()]


def test_the_morning_batch_prints_from_the_server(
    qtbot: QtBot, server_record: Record, tmp_path: Path
) -> None:
    from clinic_app.gui.printing import BatchDialog
    from tests.gui.test_printing import DAY, morning

    morning(server_record, 2)
    out = tmp_path / "cards"
    out.mkdir()
    dialog = BatchDialog(server_record.location, DAY, out)  # its own connection, off the GUI
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.batch_finished, timeout=60_000) as done:
        pass
    assert done.args == ["2 card(s) written"]
    qtbot.waitUntil(lambda: not dialog.runner.running)
    assert sorted(p.name for p in out.iterdir()) == ["P-0-cycle1-card.pdf", "P-1-cycle1-card.pdf"]
