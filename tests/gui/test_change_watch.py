"""Another desk's change reaches this window: the watcher says so, on either engine."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pytestqt.qtbot import QtBot

from clinic_app.core.records import Patient, Sex
from clinic_app.gui.change_watch import ChangeWatcher
from clinic_app.storage.database import RecordLocation, ServerAddress, open_database


def _add_patient(where: RecordLocation, mrn: str) -> None:
    with open_database(where) as other_desk, other_desk.transaction(reason="test"):
        other_desk.repos.patients.add(
            Patient(mrn, "Dvořák", "Jan", date(1950, 1, 2), Sex.MALE), reason="test"
        )


def _hears_the_other_desk(qtbot: QtBot, where: RecordLocation) -> None:
    open_database(where).close()  # created and migrated before anyone watches
    watcher = ChangeWatcher(where, interval_s=0.2)
    try:
        with qtbot.assertNotEmitted(watcher.changed, wait=700):
            watcher.start()  # nothing changed yet: no refresh for nothing
        with qtbot.waitSignal(watcher.changed, timeout=5000):
            _add_patient(where, "MRN-9001")
    finally:
        watcher.stop()


def test_a_change_on_the_same_file_is_heard(qtbot: QtBot, tmp_path: Path) -> None:
    _hears_the_other_desk(qtbot, tmp_path / "record.sqlite3")


def test_a_change_on_the_server_is_heard(qtbot: QtBot, pg_database: str) -> None:
    _hears_the_other_desk(qtbot, ServerAddress(pg_database))


def test_an_unreachable_record_is_said_once_and_retried(qtbot: QtBot, tmp_path: Path) -> None:
    gone = ServerAddress(f"postgresql://nurse@/record?host={tmp_path}&connect_timeout=1")
    watcher = ChangeWatcher(gone, interval_s=0.2)
    try:
        with qtbot.waitSignal(watcher.lost, timeout=5000) as said:
            watcher.start()
        assert "nothing you typed is lost" in said.args[0]
        assert watcher._retry.isActive()  # it keeps trying
    finally:
        watcher.stop()
    assert not watcher._retry.isActive()
