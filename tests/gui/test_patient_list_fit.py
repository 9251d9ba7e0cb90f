"""At 1366x768 the patient list shows phase, status and flags in full (issue 14): a nurse
reads them without hovering for a tooltip, and the chart keeps room for its timeline."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.gui.main_window import MainWindow
from clinic_app.gui.patient_list import COL_DOB, COL_FLAGS, COL_MRN, COL_PHASE, COL_STATUS
from clinic_app.services.demo import generate_demo
from clinic_app.storage.database import Record

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
# The demonstration record of clinic_app/gui/screenshot.py (seed 1): its rows hold the long
# values (a dose level, two flags at once).
TODAY = date(2025, 3, 3)


@pytest.mark.parametrize(
    "width",
    [
        1366,  # a 1366x768 laptop: the window opens as wide as the screen (MainWindow._restore)
        1280,  # a 1280x800 laptop
    ],
)
def test_phase_status_and_flags_read_in_full_on_a_laptop(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], tmp_path: Path, width: int
) -> None:
    generate_demo(record, patients=40, seed=1, today=TODAY, protocols=protocols)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    qtbot.addWidget(window)
    window.resize(width, 768 * 9 // 10)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=30_000)
    window.fit_panes(width)  # what the first start does on a screen of this width
    for _ in range(5):
        QApplication.processEvents()

    left, chart = window.splitter.sizes()
    assert chart >= width * 2 // 5 - window.splitter.handleWidth()  # room for the timeline
    listing = window.patient_list
    table, proxy = listing.table, listing.proxy
    metrics = table.fontMetrics()
    icon = table.style().pixelMetric(table.style().PixelMetric.PM_SmallIconSize, None, table)
    cut: list[str] = []
    seen: dict[int, set[str]] = {COL_PHASE: set(), COL_STATUS: set(), COL_FLAGS: set()}
    assert proxy.rowCount() == 40
    for row in range(proxy.rowCount()):
        for column in (COL_MRN, COL_DOB, COL_PHASE, COL_STATUS, COL_FLAGS):
            index = proxy.index(row, column)
            text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
            if not text:
                continue
            seen.setdefault(column, set()).add(text)
            # The text (and the flags' icon) inside the column, and nothing the view would
            # elide: the delegate's own width for the cell, margins included.
            needed = metrics.horizontalAdvance(text) + (icon if column == COL_FLAGS else 0)
            width_of = table.columnWidth(column)
            if needed >= width_of or table.sizeHintForIndex(index).width() > width_of:
                cut.append(f"{text!r} in {width_of} px")
    assert not cut, cut
    assert any(", level " in t for t in seen[COL_PHASE]), seen[COL_PHASE]
    assert "off study" in seen[COL_STATUS]
    assert any(";" in t for t in seen[COL_FLAGS]), seen[COL_FLAGS]
    assert left + chart <= width


def test_the_labs_tab_keeps_test_value_and_grade_whole_at_1366(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol], tmp_path: Path
) -> None:
    """With the list at its width, the chart's lab table narrows the CTCAE term and the
    explanation (in full in their tooltips) before the test, value and grade."""
    generate_demo(record, patients=40, seed=1, today=TODAY, protocols=protocols)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    qtbot.addWidget(window)
    window.resize(1366, 691)
    window.show()
    qtbot.waitUntil(lambda: not window.loading, timeout=30_000)
    window.fit_panes(1366)
    patient = record.repos.patients.by_mrn("DEMO-00024")
    assert patient is not None and patient.id is not None
    window.open_patient(patient.id)
    tabs = window.chart.tabs
    tabs.setCurrentWidget(tabs.labs)
    for _ in range(10):
        QApplication.processEvents()
    view = tabs.labs.view
    model = view.model()
    assert model.rowCount() > 10
    cut = [
        str(model.index(r, c).data())
        for r in range(model.rowCount())
        for c in (1, 2, 4)  # Test, Value, Grade
        if view.sizeHintForIndex(model.index(r, c)).width() > view.columnWidth(c)
    ]
    assert not cut, cut
