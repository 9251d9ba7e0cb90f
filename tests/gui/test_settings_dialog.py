"""The settings dialog on a real record: values shown, refusals at the field, one audited save."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from clinic_app.gui.settings_dialog import ReferenceRangeModel, SettingsDialog
from clinic_app.services import documents, lab_entry
from clinic_app.services import settings as st
from clinic_app.storage.database import Record

# The offscreen platform cannot do these; a real desktop can (seen under Xvfb).
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "config" / "settings.json"


def make(qtbot: QtBot, record: Record, config: Path) -> SettingsDialog:
    dialog = SettingsDialog(record, config=config)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def audit_reasons(record: Record) -> list[str]:
    rows = record.db.execute(
        "SELECT reason FROM audit_log WHERE table_name = 'settings' ORDER BY id"
    ).fetchall()
    return [r[0] for r in rows]


def test_reference_range_model(qtmodeltester: object, record: Record) -> None:
    model = ReferenceRangeModel(record)
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    assert model.rowCount() == sum(
        len(lab_entry.labs.lab_test(t).units) for t in lab_entry.PANEL_TESTS
    )


def test_title_names_the_record_and_values_are_shown(
    qtbot: QtBot, record: Record, config: Path
) -> None:
    st.set_value(record, "clinic.phone", "0123 456 789", reason="setup")
    st.set_value(record, "print.paper_size", "Letter", reason="setup")
    dialog = make(qtbot, record, config)
    assert str(record.path) in dialog.windowTitle()
    assert dialog.edits["clinic_phone"].text() == "0123 456 789"
    assert dialog.paper_size.currentText() == "Letter"
    assert dialog.edits["backup_keep"].text() == ""
    assert "14" in dialog.edits["backup_keep"].placeholderText()


def test_typing_and_enter_saves_in_one_audited_change(
    qtbot: QtBot, record: Record, config: Path
) -> None:
    dialog = make(qtbot, record, config)
    qtbot.keyClicks(dialog.edits["clinic_name"], "Ward 7")
    qtbot.keyClicks(dialog.edits["clinic_phone"], "+44 20 7946 0000")
    qtbot.keyClicks(dialog.edits["backup_keep"], "30")
    qtbot.keyClicks(dialog.reason, "clinic opened")
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)
    assert dialog.saved and dialog.result() == dialog.DialogCode.Accepted
    clinic = documents.clinic(record)
    assert (clinic.name, clinic.phone) == ("Ward 7", "+44 20 7946 0000")
    assert st.value(record, "backup.keep") == 30
    assert set(audit_reasons(record)) == {"clinic opened"}


def test_refusals_are_shown_at_their_fields_and_nothing_is_written(
    qtbot: QtBot, record: Record, config: Path
) -> None:
    dialog = make(qtbot, record, config)
    qtbot.keyClicks(dialog.edits["clinic_phone"], "call Anna")
    qtbot.keyClicks(dialog.edits["weight_change_pct"], "60")
    qtbot.mouseClick(
        dialog.buttons.button(dialog.buttons.StandardButton.Save), Qt.MouseButton.LeftButton
    )
    assert not dialog.saved and dialog.isVisible()
    phone = dialog.errors["clinic_phone"]
    assert phone.isVisible() and phone.text().startswith("⚠") and "digits" in phone.text()
    assert "at most 50" in dialog.errors["weight_change_pct"].text()
    assert "audit trail" in dialog.errors["reason"].text()  # no reason given
    assert dialog.tabs.currentIndex() == 0  # the first refused field's tab is shown
    assert st.stored(record, "clinic.phone") is None
    assert audit_reasons(record) == []


def test_reference_range_edit_is_checked_and_saved(
    qtbot: QtBot, record: Record, config: Path
) -> None:
    dialog = make(qtbot, record, config)
    model = dialog.ranges_model
    row = next(i for i, r in enumerate(model.rows) if (r.test, r.unit) == ("anc", "10^9/L"))
    assert (model.rows[row].lln, model.rows[row].uln) == ("1.8", "7.5")
    model.setData(model.index(row, 2), "8")  # LLN above the ULN 7.5: refused
    qtbot.keyClicks(dialog.reason, "new analyser")
    dialog.save()
    assert dialog.errors["ranges"].text() == (
        "⚠ Absolute neutrophil count 10^9/L: The LLN (8) must be below the ULN (7.5)."
    )
    assert dialog.tabs.currentIndex() == 2
    model.setData(model.index(row, 2), "2.0")
    assert model.data(model.index(row, 4)) == "changed, not saved yet"
    dialog.save()
    assert dialog.saved
    limits = lab_entry.reference_ranges(record).get("anc", "10^9/L")
    assert (limits.lln, limits.uln) == (Decimal("2.0"), Decimal("7.5"))


def test_data_folder_goes_to_the_config_file_without_a_reason(
    qtbot: QtBot, record: Record, config: Path, tmp_path: Path
) -> None:
    dialog = make(qtbot, record, config)
    qtbot.keyClicks(dialog.edits["data_folder"], str(tmp_path / "data"))
    dialog.save()
    assert dialog.saved
    assert json.loads(config.read_text()) == {"data.folder": str(tmp_path / "data")}
    assert audit_reasons(record) == []


def test_escape_cancels_without_writing(qtbot: QtBot, record: Record, config: Path) -> None:
    dialog = make(qtbot, record, config)
    qtbot.keyClicks(dialog.edits["clinic_phone"], "0123 456")
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible() and not dialog.saved
    assert st.stored(record, "clinic.phone") is None
