"""The chart says why a response is limited: responses tab and timeline tooltip (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from clinic_app.core.records import ResponseAssessment
from clinic_app.gui.chart.panel import ChartPanel
from clinic_app.gui.chart.timeline import RESPONSE
from clinic_app.storage.database import Record, open_database
from tests.services.test_chart_data import add_treated_patient

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")
TODAY = date(2024, 2, 20)


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    rec = open_database(tmp_path / "panel.sqlite3")
    try:
        yield rec
    finally:
        rec.close()


def test_not_evaluable_shows_its_reason_in_the_tab_and_the_tooltip(
    qtbot: QtBot, record: Record
) -> None:
    pid = add_treated_patient(record)  # baseline 3.0 g/dL (28 Dec 2023), 1.2 on 29 Jan: PR
    # 12 Feb: only the marrow was examined; no M-protein, no free light chains.
    ne_id = record.repos.responses.add(
        pid, ResponseAssessment(date(2024, 2, 12), marrow_plasma_cells_pct=Decimal(2))
    )
    panel = ChartPanel(today=lambda: TODAY)
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    panel.set_patient(record, pid)
    tabs = panel.tabs
    assert tabs.responses.row_count() == 3
    row = tabs.responses.model.row(2).values
    assert row[1] == "not evaluable"  # never SD
    assert row[3].startswith("not evaluable: nothing measured")
    assert "limited by not evaluable: serum M-protein not measured" in row[3]
    canvas = panel.timeline.canvas
    panel.timeline.set_pixels_per_day(30)
    tip = canvas.tooltip_at(canvas.point_of(RESPONSE, ne_id))
    assert tip is not None
    assert "not evaluable: nothing measured" in tip
    assert "limited by not evaluable: serum M-protein not measured" in tip
    # its badge is grey like an unclassified one, not the colour of a response
    item = canvas.find_item(RESPONSE, ne_id)
    pr_item = canvas.find_item(RESPONSE, record.repos.responses.for_patient(pid)[1].id or 0)
    assert item is not None and pr_item is not None
    assert item.colour != pr_item.colour
