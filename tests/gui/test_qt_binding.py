"""The pinned Qt binding keeps Python's reference count of None intact.

PySide6 6.12.0 under Python < 3.12 dropped a reference to None on every call of a method that
returns nothing; after a few thousand calls the interpreter aborted. This guards the pin.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot


def test_void_calls_do_not_steal_references_to_none(qtbot: QtBot) -> None:
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
    # Other code may take or drop a handful of references meanwhile; a leak would be -2000.
    assert abs(sys.getrefcount(None) - before) < 50
