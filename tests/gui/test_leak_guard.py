"""The leak guard of tests/gui/conftest.py finds a running thread and a ticking timer."""

from __future__ import annotations

from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from tests.gui.conftest import left_behind


def test_a_timer_in_a_window_left_open_is_named(qapp: QApplication) -> None:
    window = QWidget()
    window.setObjectName("forgotten")
    timer = QTimer(window)
    timer.setObjectName("idle")
    timer.start(60_000)
    window.show()
    assert left_behind(qapp) == ["a QTimer still active: QTimer(idle) in QWidget(forgotten)"]
    assert not timer.isActive()  # stopped, so it is reported once
    window.close()
    window.deleteLater()


def test_a_running_thread_is_named_and_joined(qapp: QApplication) -> None:
    owner = QWidget()
    thread = QThread(owner)
    thread.setObjectName("loader")
    thread.start()  # runs its event loop until quit
    assert left_behind(qapp) == ["a QThread still running: QThread(loader) in QWidget"]
    assert not thread.isRunning()
    owner.deleteLater()


def test_a_closed_and_deleted_window_leaves_nothing(qapp: QApplication) -> None:
    window = QWidget()
    QTimer(window).start(60_000)
    window.close()
    window.deleteLater()
    assert left_behind(qapp) == []


def test_an_application_timer_is_exempt(qapp: QApplication) -> None:
    timer = QTimer(qapp)
    timer.start(60_000)
    try:
        assert left_behind(qapp) == []
    finally:
        timer.stop()
        timer.deleteLater()
