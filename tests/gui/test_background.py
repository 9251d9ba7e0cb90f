"""The background runner: its own thread and connection, progress, cancel, a result or a
located error delivered on the GUI thread, and the thread always joined."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from clinic_app.gui.background import BackgroundRunner, Connection, Outcome, Progress
from clinic_app.storage.database import Record


def run(qtbot: QtBot, runner: BackgroundRunner) -> Outcome:
    with qtbot.waitSignal(runner.finished, timeout=20_000) as ended:
        runner.start()
    outcome = ended.args[0]
    assert isinstance(outcome, Outcome)
    assert not runner.running  # joined before ``finished``
    return outcome


def test_result_and_progress_arrive_on_the_gui_thread(qtbot: QtBot, record: Record) -> None:
    record.repos.settings.set("clinic.name", "Ward 7", reason="test")
    owner = QWidget()
    qtbot.addWidget(owner)
    seen: list[tuple[int, int, str, bool]] = []
    worker_threads: list[int] = []

    def work(own: Record, progress: Progress) -> str:
        worker_threads.append(threading.get_ident())
        assert own is not record and Path(own.path) == Path(record.path)  # its own connection
        for n in (1, 2):
            progress.step(n, 2, f"step {n}")
        return str(own.repos.settings.value("clinic.name"))

    gui = threading.get_ident()
    runner = BackgroundRunner(Connection(record.path, read_only=True), work, owner)
    runner.progressed.connect(
        lambda d, t, text: seen.append((d, t, text, threading.get_ident() == gui))
    )
    outcome = run(qtbot, runner)
    assert outcome.ok and outcome.result == "Ward 7"
    assert worker_threads and worker_threads[0] != gui
    assert seen == [(1, 2, "step 1", True), (2, 2, "step 2", True)]


def test_cancel_stops_at_the_next_step(qtbot: QtBot, record: Record) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    reached: list[int] = []
    go_on = threading.Event()

    def work(own: Record, progress: Progress) -> None:
        progress.step(1, 3)
        reached.append(1)
        go_on.wait(10)
        progress.step(2, 3)  # Cancel was asked for meanwhile: raises Cancelled
        reached.append(2)

    runner = BackgroundRunner(Connection(record.path), work, owner)
    runner.progressed.connect(lambda *_: (runner.cancel(), go_on.set()))
    outcome = run(qtbot, runner)
    assert outcome.cancelled and not outcome.ok and outcome.error is None
    assert reached == [1]
    assert runner.cancel_requested


def test_an_error_is_delivered_with_where_it_was_raised(qtbot: QtBot, record: Record) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)

    def work(own: Record, progress: Progress) -> None:
        raise ValueError("no such cycle")

    outcome = run(qtbot, BackgroundRunner(Connection(record.path), work, owner))
    assert isinstance(outcome.error, ValueError) and str(outcome.error) == "no such cycle"
    assert outcome.where.startswith("test_background.py:") and outcome.where.endswith("in work")


def test_a_record_that_cannot_be_opened_is_an_error_not_a_crash(
    qtbot: QtBot, tmp_path: Path
) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    (tmp_path / "not-a-record.sqlite3").write_bytes(b"this is not a database" * 100)
    runner = BackgroundRunner(
        Connection(tmp_path / "not-a-record.sqlite3", read_only=True),
        lambda own, progress: "never",
        owner,
    )
    outcome = run(qtbot, runner)
    assert outcome.error is not None and outcome.result is None


def test_stop_joins_a_running_thread(qtbot: QtBot, record: Record) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    started = threading.Event()

    def work(own: Record, progress: Progress) -> None:
        started.set()
        while True:  # until Cancel
            progress.step(0, 0)
            threading.Event().wait(0.01)

    runner = BackgroundRunner(Connection(record.path), work, owner)
    runner.start()
    assert started.wait(10)
    runner.stop()
    assert not runner.running


def test_nothing_is_delivered_after_stop(qtbot: QtBot, record: Record) -> None:
    """A window that closes stops its runner; no result arrives in the closed window."""
    owner = QWidget()
    qtbot.addWidget(owner)
    release = threading.Event()
    delivered: list[Outcome] = []

    def work(own: Record, progress: Progress) -> str:
        release.wait(10)
        return "late"

    runner = BackgroundRunner(Connection(record.path), work, owner)
    runner.finished.connect(delivered.append)
    runner.start()
    release.set()
    runner.stop()
    qtbot.wait(100)  # the worker's queued end has been processed
    assert delivered == [] and not runner.running
