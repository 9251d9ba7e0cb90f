"""The About box names the protocols loaded on this computer, from their files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.gui.main_window import MainWindow, app_settings
from clinic_app.storage.database import Record
from tests.gui.test_main_window import TODAY, wait_loaded

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


def about_text(qtbot: QtBot, window: MainWindow) -> str:
    seen: list[str] = []

    def close() -> None:
        boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
        for box in boxes:
            seen.append(box.text())
            box.accept()

    QTimer.singleShot(0, close)
    window.about()
    assert len(seen) == 1
    return seen[0]


def test_about_names_the_loaded_protocols(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    # A clinic renamed one protocol in its file: the box shows the file's names, not the code's.
    renamed = {**protocols, "bpd": replace(protocols["bpd"], name="BPD-2")}
    window = MainWindow(record, renamed, today=lambda: TODAY, settings=app_settings())
    qtbot.addWidget(window)
    window.show()
    wait_loaded(qtbot, window)
    text = about_text(qtbot, window)
    assert "multiple-myeloma protocols (" in text
    names = text.split("protocols (", 1)[1].split(")", 1)[0].split(", ")
    assert sorted(names) == sorted(p.name for p in renamed.values())
    assert "BPD-2" in names
