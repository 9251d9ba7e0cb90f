"""Every nursing workflow is reachable from the main window's Patient menu by its shortcut, opens
for the patient in the chart with the identifiers in its title, and nothing is left open."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QDialog, QWidget
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol_loader import load_protocols
from clinic_app.gui.main_window import MainWindow, app_settings
from clinic_app.services.demo import generate_demo
from clinic_app.storage.database import Record, open_database

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")

TODAY = date(2026, 3, 2)


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))
    rec = open_database(tmp_path / "record.sqlite3")
    generate_demo(rec, patients=6, seed=3, today=TODAY)
    try:
        yield rec
    finally:
        rec.close()


def visible_dialogs() -> list[QWidget]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]


def test_patient_menu_opens_each_workflow_for_the_patient(qtbot: QtBot, record: Record) -> None:
    window = MainWindow(record, load_protocols(), today=lambda: TODAY, settings=app_settings())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    actions = window.workflows.patient_actions
    assert all(not a.isEnabled() for a in actions)  # no patient yet: nothing to act on

    row = window.patient_list.model.row_at(0)
    window.open_patient(row.patient_id)
    assert window.current_patient_id == row.patient_id
    shortcuts = {a.text().replace("&", ""): a.shortcut().toString() for a in actions}
    assert shortcuts["Enter lab results…"] == "Ctrl+L"
    assert shortcuts["Start next cycle…"] == "Ctrl+Shift+S"
    assert len(set(shortcuts.values())) == len(shortcuts)  # no shortcut used twice

    for action in actions:
        assert action.isEnabled()
        if action.text() == "Item &history…":
            # history is of the row selected in the chart: pick the first lab result
            tabs = window.chart.tabs  # type: ignore[attr-defined]
            tabs.setCurrentWidget(tabs.labs)
            tabs.labs.view.setCurrentIndex(tabs.labs.proxy.index(0, 0))
            assert tabs.labs.selected_id() is not None
        before = set(map(id, visible_dialogs()))
        action.trigger()
        opened = [d for d in visible_dialogs() if id(d) not in before]
        assert opened, f"{action.text()} opened nothing"
        for dialog in opened:
            # the patient is never ambiguous: the MRN is in every dialog's title
            assert row.mrn in dialog.windowTitle(), (action.text(), dialog.windowTitle())
            dialog.close()
    qtbot.waitUntil(lambda: not visible_dialogs(), timeout=5000)


def test_settings_from_the_file_menu_and_thresholds_apply(qtbot: QtBot, record: Record) -> None:
    from decimal import Decimal

    from clinic_app.gui.settings_dialog import SettingsDialog
    from clinic_app.services import settings as clinic_settings

    window = MainWindow(record, load_protocols(), today=lambda: TODAY, settings=app_settings())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    assert window.settings_action.menuRole().name == "PreferencesRole"
    window.settings_action.trigger()
    dialogs = [d for d in visible_dialogs() if isinstance(d, SettingsDialog)]
    assert len(dialogs) == 1
    # a threshold saved in the record replaces the protocol files' 10 % once the dialog closes
    clinic_settings.set_value(record, clinic_settings.WEIGHT_CHANGE_PCT, "7.5", reason="test")
    dialogs[0].close()
    qtbot.waitUntil(
        lambda: window.protocols["dextr"].settings.weight_change_pct == Decimal("7.5"),
        timeout=5000,
    )


def test_modify_dose_works_on_the_cycle_in_the_chart_not_the_planned_next_one(
    qtbot: QtBot, record: Record
) -> None:
    """The demo's BPD patient 1 is in cycle 2 (started, BSA 1.97 m²) with cycle 3 planned and
    no BSA yet. Patient ▸ Modify dose used to build the form on cycle 3: bendamustine could not
    be planned and the action raised MissingDataError; on a DexTR patient the same choice
    offered "from the next cycle (N+2)", skipping the cycle about to start."""
    from clinic_app.gui.dose_admin import DoseModificationDialog

    window = MainWindow(record, load_protocols(), today=lambda: TODAY, settings=app_settings())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    pid = int(record.db.execute("SELECT id FROM patients WHERE mrn = 'DEMO-00001'").fetchone()[0])
    numbers = {
        c.number: c.status.value
        for c in record.repos.cycles.for_enrolment(
            int(
                record.db.execute(
                    "SELECT id FROM enrolments WHERE patient_id = ?", [pid]
                ).fetchone()[0]
            )
        )
    }
    assert numbers == {1: "completed", 2: "started", 3: "planned"}
    window.open_patient(pid)
    (modify,) = [a for a in window.workflows.patient_actions if a.text() == "&Modify dose…"]
    before = set(map(id, visible_dialogs()))
    modify.trigger()
    opened = [d for d in visible_dialogs() if id(d) not in before]
    assert len(opened) == 1 and isinstance(opened[0], DoseModificationDialog)
    dialog = opened[0]
    assert dialog.view.number == 2
    assert dialog.effective_next.text() == "From the ne&xt cycle (3)"
    assert "DEMO-00001" in dialog.windowTitle()
    dialog.close()
    qtbot.waitUntil(lambda: not visible_dialogs(), timeout=5000)

    # Chosen explicitly, the planned cycle 3 is explained (no BSA yet), not raised.
    from PySide6.QtWidgets import QMessageBox

    from clinic_app.gui.dose_admin import open_dose_modification

    cycle3 = int(
        record.db.execute(
            "SELECT c.id FROM cycles c JOIN enrolments e ON e.id = c.enrolment_id "
            "WHERE e.patient_id = ? AND c.number = 3",
            [pid],
        ).fetchone()[0]
    )
    assert open_dose_modification(window, record, pid, window.protocols, cycle3) is None
    (box,) = [w for w in visible_dialogs() if isinstance(w, QMessageBox)]
    # the planned cycle's doses wait for the BSA confirmed at cycle start: say what to do
    assert "planned but not started" in box.text() and "Start next cycle" in box.text()
    box.done(0)
    with qtbot.waitSignal(box.destroyed):  # later tests count the message boxes still alive
        box.deleteLater()


def test_modify_dose_is_refused_with_the_reason_for_a_patient_off_study(
    qtbot: QtBot, record: Record
) -> None:
    from PySide6.QtWidgets import QMessageBox

    window = MainWindow(record, load_protocols(), today=lambda: TODAY, settings=app_settings())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=15000)
    # DEMO-00005: DexTR, four cycles completed, then off study
    pid = int(record.db.execute("SELECT id FROM patients WHERE mrn = 'DEMO-00005'").fetchone()[0])
    assert record.db.execute(
        "SELECT off_study_on IS NOT NULL FROM enrolments WHERE patient_id = ?", [pid]
    ).fetchone()[0]
    window.open_patient(pid)
    assert window.chart.tabs.selected_cycle_id is not None  # type: ignore[attr-defined]
    (modify,) = [a for a in window.workflows.patient_actions if a.text() == "&Modify dose…"]
    modify.trigger()
    (box,) = [w for w in visible_dialogs() if isinstance(w, QMessageBox)]
    assert "off study" in box.text()
    box.done(0)
    with qtbot.waitSignal(box.destroyed):
        box.deleteLater()
