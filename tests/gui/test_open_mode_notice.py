"""The first-run screen says plainly that a record without accounts is open to anyone and that
anyone may create the first administrator (issue 15, item 10)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from clinic_app.gui.sign_in import CreateAdministratorDialog
from clinic_app.storage.database import open_database


def test_first_run_says_the_record_is_open_to_anyone(qtbot: QtBot, tmp_path: Path) -> None:
    with open_database(tmp_path / "record.sqlite3") as record:
        dialog = CreateAdministratorDialog(record)
        qtbot.addWidget(dialog)
        text = " ".join(label.text() for label in dialog.findChildren(QLabel))
        assert "open to anyone" in text
        assert "anyone may create the first administrator" in text
