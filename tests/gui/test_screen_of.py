"""Windows find their screen through the application, never through ``QWidget.screen()``
(gui/fit.py: the wrapper PySide6 made there was freed with a collected window and deleted
Qt's own screen, so the next window crashed)."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from clinic_app.gui import fit

GUI = Path(fit.__file__).parent


def test_no_window_asks_qt_widget_for_its_screen() -> None:
    callers = [
        f"{path.relative_to(GUI)}:{number}"
        for path in sorted(GUI.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\.screen\(\)", line.split("#")[0]) and "``" not in line
    ]
    assert callers == []


def test_screen_of_a_shown_window_is_the_screen_it_is_on(qtbot: QtBot) -> None:
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.resize(300, 200)
    widget.show()
    qtbot.waitExposed(widget)
    assert fit.screen_of(widget) is QGuiApplication.primaryScreen()
    assert fit.available(widget) == QGuiApplication.primaryScreen().availableGeometry()
