"""The GUI side of issue 15 items 1 and 2: a damaged record gets a dialog that offers the newest
good backup, and the daily backup runs while the window stays open for days."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from clinic_app.gui.backup_timer import DailyBackupTimer
from clinic_app.gui.errors import RestoreOffer
from clinic_app.storage.backup import backup_folder, backup_to, daily_backup_if_due, good_backups
from clinic_app.storage.database import open_database
from clinic_app.storage.errors import DamagedRecordError
from tests.storage.conftest import make_patient
from tests.storage.test_record_damage import damage


def test_a_damaged_record_offers_the_newest_good_backup(qtbot: QtBot, tmp_path: Path) -> None:
    db = tmp_path / "record.sqlite3"
    with open_database(db) as rec:
        for n in range(30):
            rec.repos.patients.add(make_patient(f"A-{n}"))
        good = backup_to(rec, tmp_path / "backups" / "record-manual.sqlite3")
    damage(db)
    try:
        open_database(db)
        raise AssertionError("the damaged record opened")
    except DamagedRecordError as exc:
        error = exc
    offer = RestoreOffer(db, error)
    qtbot.addWidget(offer.box)
    assert offer.backup == good
    assert "nothing more was written" in offer.box.text()
    assert offer.restore_button is not None and "Restore" in offer.restore_button.text()
    kept = offer.restore()
    assert kept is not None and kept.exists()
    with open_database(db) as rec:
        assert len(rec.repos.patients.all()) == 30


def test_the_daily_backup_runs_while_the_window_stays_open(qtbot: QtBot, tmp_path: Path) -> None:
    db = tmp_path / "record.sqlite3"
    day = [date(2026, 3, 2)]
    window = QWidget()
    qtbot.addWidget(window)
    with open_database(db) as rec:
        daily_backup_if_due(rec)  # the app's start makes today's copy (the real date)
        timer = DailyBackupTimer(rec, window, today=lambda: day[0], interval_ms=20)
        qtbot.waitUntil(lambda: len(good_backups(db)) == 2, timeout=5000)  # 2026-03-02
        day[0] = date(2026, 3, 3)  # the window stays open over night
        qtbot.waitUntil(lambda: len(good_backups(db)) == 3, timeout=5000)
        timer.stop()
    names = sorted(p.name for p in good_backups(db))
    assert "record-daily-2026-03-03.sqlite3" in names


def test_the_daily_backup_is_made_off_the_gui_thread(qtbot: QtBot, tmp_path: Path) -> None:
    # A large record's copy and check take seconds: asking for it returns at once, the copy
    # is made on its own connection meanwhile, and the window's record stays usable.
    db = tmp_path / "record.sqlite3"
    window = QWidget()
    qtbot.addWidget(window)
    with open_database(db) as rec:
        for n in range(200):
            rec.repos.patients.add(make_patient(f"B-{n}"))
        timer = DailyBackupTimer(rec, window, today=lambda: date(2026, 3, 2))
        problems: list[str] = []
        timer.problem.connect(problems.append)
        with qtbot.waitSignal(timer.finished, timeout=10000):
            timer.run()
            assert timer.running and good_backups(db) == []  # not made on this thread
            rec.repos.patients.add(make_patient("C-1"))  # a save while the copy is made
        timer.stop()
        assert problems == []
        assert [p.name for p in good_backups(db)] == ["record-daily-2026-03-02.sqlite3"]
        assert len(rec.repos.patients.all()) == 201


def test_a_daily_backup_that_fails_is_said(qtbot: QtBot, tmp_path: Path) -> None:
    db = tmp_path / "record.sqlite3"
    window = QWidget()
    qtbot.addWidget(window)
    with open_database(db) as rec:
        rec.repos.patients.add(make_patient("D-1"))
        folder = backup_folder(rec)
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.write_text("a file where the backup folder should be")
        timer = DailyBackupTimer(rec, window, today=lambda: date(2026, 3, 2))
        with qtbot.waitSignal(timer.problem, timeout=10000) as said:
            timer.run()
        timer.stop()
    assert str(said.args[0]).startswith("The automatic daily backup failed")
