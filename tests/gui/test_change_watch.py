"""Another desk's change reaches this window: the watcher says so, on either engine."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.core.records import Patient, Sex
from clinic_app.gui.change_watch import ChangeWatcher
from clinic_app.gui.main_window import MainWindow, app_settings
from clinic_app.storage.database import RecordLocation, ServerAddress, open_database

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


def _add_patient(where: RecordLocation, mrn: str) -> None:
    with open_database(where) as other_desk, other_desk.transaction(reason="test"):
        other_desk.repos.patients.add(
            Patient(mrn, "Dvořák", "Jan", date(1950, 1, 2), Sex.MALE), reason="test"
        )


def _hears_the_other_desk(qtbot: QtBot, where: RecordLocation) -> None:
    open_database(where).close()  # created and migrated before anyone watches
    watcher = ChangeWatcher(where, interval_ms=200)
    try:
        watcher.start()
        qtbot.waitUntil(lambda: watcher._watch is not None, timeout=5000)  # connected
        with qtbot.assertNotEmitted(watcher.changed, wait=700):
            pass  # nothing changed yet: no refresh for nothing
        with qtbot.waitSignal(watcher.changed, timeout=5000):
            _add_patient(where, "MRN-9001")
    finally:
        watcher.stop()
    assert not watcher.running


def test_a_change_on_the_same_file_is_heard(qtbot: QtBot, tmp_path: Path) -> None:
    _hears_the_other_desk(qtbot, tmp_path / "record.sqlite3")


def test_a_change_on_the_server_is_heard(qtbot: QtBot, pg_database: str) -> None:
    _hears_the_other_desk(qtbot, ServerAddress(pg_database))


def _hears_what_came_before_the_watch(qtbot: QtBot, where: RecordLocation) -> None:
    open_database(where).close()
    with open_database(where) as window_record:
        seen = window_record.latest_change()  # what a list load read
    _add_patient(where, "MRN-9002")  # another desk saves before this window watches
    watcher = ChangeWatcher(where, interval_ms=200)
    try:
        with qtbot.waitSignal(watcher.changed, timeout=5000):
            watcher.start_since(seen)
        with qtbot.assertNotEmitted(watcher.changed, wait=700):
            pass  # said once; nothing new since
    finally:
        watcher.stop()
    up_to_date = ChangeWatcher(where, interval_ms=200)
    try:
        with open_database(where) as window_record:
            seen = window_record.latest_change()
        up_to_date.start_since(seen)
        qtbot.waitUntil(lambda: up_to_date._watch is not None, timeout=5000)
        with qtbot.assertNotEmitted(up_to_date.changed, wait=700):
            pass  # nothing after what the load read: no refresh for nothing
    finally:
        up_to_date.stop()


def test_a_save_before_the_watch_on_the_file_is_heard(qtbot: QtBot, tmp_path: Path) -> None:
    _hears_what_came_before_the_watch(qtbot, tmp_path / "record.sqlite3")


def test_a_save_before_the_watch_on_the_server_is_heard(qtbot: QtBot, pg_database: str) -> None:
    _hears_what_came_before_the_watch(qtbot, ServerAddress(pg_database))


def test_an_unreachable_record_is_said_once_and_retried(qtbot: QtBot, tmp_path: Path) -> None:
    gone = ServerAddress(f"postgresql://nurse@/record?host={tmp_path}&connect_timeout=1")
    watcher = ChangeWatcher(gone, interval_ms=200, retry_ms=200)
    lost: list[str] = []
    watcher.lost.connect(lost.append)
    try:
        with qtbot.waitSignal(watcher.lost, timeout=5000) as said:
            watcher.start()
        assert "nothing you typed is lost" in said.args[0]
        qtbot.wait(1000)  # several more tries, still unreachable
        assert watcher.running and lost == [said.args[0]]  # said once, still trying
        assert watcher._retry.isActive() or watcher._connecting is not None
    finally:
        watcher.stop()
    assert not watcher.running


def test_the_window_shows_another_desks_patient_and_keeps_its_own(
    qtbot: QtBot, tmp_path: Path, protocols: dict[str, Protocol]
) -> None:
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    where = tmp_path / "record.sqlite3"
    _add_patient(where, "MRN-0001")
    record = open_database(where)
    window = MainWindow(record, protocols, today=lambda: date(2026, 1, 5), settings=app_settings())
    qtbot.addWidget(window)
    window.change_watcher._poll.setInterval(200)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    # Another desk saves after the list was read, before the window watches (the app starts
    # the watch after the first paint): the watch starts from what the list read.
    _add_patient(where, "MRN-0003")
    window.start_watching()
    model = window.patient_list.proxy
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=8000)
    mine = record.repos.patients.by_mrn("MRN-0001")
    assert mine is not None
    window.show_patient(mine.id)

    _add_patient(where, "MRN-0002")  # another desk
    qtbot.waitUntil(lambda: model.rowCount() == 3, timeout=8000)
    assert window.current_patient_id == mine.id  # nobody chose another patient
    window.close()
    assert not window.change_watcher.running
    record.close()


def test_a_server_that_ends_the_watch_is_said_once_and_the_watch_comes_back(
    qtbot: QtBot, pg_database: str
) -> None:
    import psycopg

    where = ServerAddress(pg_database)
    open_database(where).close()
    watcher = ChangeWatcher(where, retry_ms=300)
    try:
        watcher.start()
        qtbot.waitUntil(lambda: watcher._watch is not None, timeout=5000)
        with (
            qtbot.waitSignal(watcher.lost, timeout=5000),
            psycopg.connect(pg_database, autocommit=True) as admin,
        ):
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with qtbot.waitSignals([watcher.back, watcher.changed], timeout=8000):
            pass  # it connects again by itself, and the window reads everything again
        with qtbot.waitSignal(watcher.changed, timeout=5000):
            _add_patient(where, "MRN-9002")  # and it hears the desks again
    finally:
        watcher.stop()
    assert not watcher.running
