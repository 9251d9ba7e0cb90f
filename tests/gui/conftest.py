"""GUI tests: a test fails when it leaves a thread running or a timer ticking.

A ``QThread`` still running when its owner is destroyed aborts the whole process ("QThread:
Destroyed while thread is still running"), usually in a later, unrelated test; a timer left
active in a window that outlived its test fires into the next one. Both are caught here, at the
end of the test that caused them, by name.
"""

from __future__ import annotations

import importlib.util
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

if importlib.util.find_spec("pytestqt") is None:  # say so, never skip the GUI suite quietly
    raise pytest.UsageError(
        "pytest-qt is not installed, so the GUI tests in tests/gui cannot run "
        "(run only tests/core, or install the dev dependencies: make pytest)."
    )

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QThread, QTimer
from PySide6.QtWidgets import QApplication

from clinic_app.gui.collector import install_collector

_threads: weakref.WeakSet[QThread] = weakref.WeakSet()
_timers: weakref.WeakSet[QTimer] = weakref.WeakSet()


def _recording(cls: Any, started: weakref.WeakSet[Any]) -> None:
    """Remember every ``cls`` started from Python (the app's threads and timers are)."""
    original = cls.start

    def start(self: Any, *args: Any, **kwargs: Any) -> Any:
        started.add(self)
        return original(self, *args, **kwargs)

    cls.start = start


_recording(QThread, _threads)
_recording(QTimer, _timers)


def _alive(obj: QObject) -> bool:
    try:
        obj.objectName()
    except RuntimeError:  # the C++ object is gone
        return False
    return True


def _owners(obj: QObject) -> list[QObject]:
    chain = []
    parent = obj.parent()
    while parent is not None:
        chain.append(parent)
        parent = parent.parent()
    return chain


def _describe(obj: QObject) -> str:
    names = [
        type(o).__name__ + (f"({o.objectName()})" if o.objectName() else "")
        for o in [obj, *_owners(obj)]
    ]
    return " in ".join(names)


def left_behind(qapp: QApplication) -> list[str]:
    """What is still at work since the last ``forget_started``; stops it, so one leak is
    reported once."""
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    problems: list[str] = []
    for thread in list(_threads):
        if _alive(thread) and thread.isRunning():
            problems.append(f"a QThread still running: {_describe(thread)}")
            thread.quit()
            thread.wait(5000)
    for timer in list(_timers):
        if not _alive(timer) or not timer.isActive():
            continue
        owners = _owners(timer)
        # A timer of the QApplication lives as long as the test session by design (none of
        # the app's own do; pytest-qt's are not started from Python).
        if owners and owners[-1] is qapp:
            continue
        problems.append(f"a QTimer still active: {_describe(timer)}")
        timer.stop()
    forget_started()
    return problems


def forget_started() -> None:
    for thread in list(_threads):
        _threads.discard(thread)
    for timer in list(_timers):
        _timers.discard(timer)


@pytest.fixture(scope="session", autouse=True)
def cycles_collected_on_the_gui_thread(qapp: QApplication) -> None:
    """As the app does (gui/app.py): a widget left in a cycle by one test is never freed on
    the worker thread of a later one."""
    install_collector(qapp)


@pytest.fixture(autouse=True)
def no_thread_or_timer_left(qapp: QApplication) -> Iterator[None]:
    """Fail the test that leaves a QThread running or a QTimer active in a surviving owner.

    Runs around every GUI test and is torn down after qtbot (autouse fixtures are set up
    first), so windows given to ``qtbot.addWidget`` have been closed by then.
    """
    forget_started()
    yield
    problems = left_behind(qapp)
    if problems:
        pytest.fail(
            "The test left work behind (close its windows, stop timers on close):\n  "
            + "\n  ".join(problems),
            pytrace=False,
        )
