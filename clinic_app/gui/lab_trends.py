"""Lab trends: one test over the whole treatment, with the CTCAE grade boundaries drawn.

The data (points in SI units, boundary values, cycle starts) come from
``clinic_app.services.lab_entry.lab_trend``; pyqtgraph draws them. Boundaries are dashed
horizontal lines labelled with the grade and value ("G3 < 1"), cycle starts are vertical
lines labelled "C1", "C2" ..., so nothing is told by colour alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core import labs
from clinic_app.gui.texts import patient_title
from clinic_app.services.lab_entry import PANEL_TESTS, LabTrend, lab_trend
from clinic_app.storage.database import Record

_GRADE_PENS = {
    1: (60, 120, 60),
    2: (200, 150, 0),
    3: (200, 80, 0),
    4: (176, 0, 32),
}


def _stamp(moment: datetime) -> float:
    return moment.timestamp()


class LabTrendsDialog(QDialog):
    """A test chooser above one plot; Esc or Close closes it."""

    def __init__(
        self, record: Record, patient_id: int, parent: QWidget | None = None, test: str = "anc"
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.patient_id = patient_id
        patient = record.repos.patients.get(patient_id).value
        self.setWindowTitle(f"Lab trends — {patient_title(patient)}")
        layout = QVBoxLayout(self)
        chooser = QHBoxLayout()
        label = QLabel("&Test:")
        self.tests = QComboBox()
        self.tests.setAccessibleName("Test to plot")
        for key in PANEL_TESTS:
            self.tests.addItem(labs.lab_test(key).name, key)
        label.setBuddy(self.tests)
        chooser.addWidget(label)
        chooser.addWidget(self.tests, 1)
        layout.addLayout(chooser)
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.plot.setBackground("w")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout.addWidget(self.plot, 1)
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.trend: LabTrend | None = None
        self._curve: pg.PlotDataItem | None = None
        self._thresholds: list[pg.InfiniteLine] = []
        self._cycles: list[pg.InfiniteLine] = []
        self.tests.currentIndexChanged.connect(self.refresh)
        index = self.tests.findData(test)
        self.tests.setCurrentIndex(max(index, 0))
        self.refresh()
        metrics = self.fontMetrics()
        self.resize(metrics.horizontalAdvance("M") * 70, metrics.height() * 32)

    def refresh(self) -> None:
        test = str(self.tests.currentData())
        trend = lab_trend(self.record, self.patient_id, test)
        self.trend = trend
        self.plot.clear()
        self._thresholds = []
        self._cycles = []
        unit = labs.unit_label(trend.unit_si)
        self.plot.setLabel("left", f"{trend.name} ({unit})")
        xs = [_stamp(p.collected_at) for p in trend.points]
        ys = [float(p.value_si) for p in trend.points]
        self._curve = self.plot.plot(
            xs, ys, pen=pg.mkPen((30, 30, 30), width=2), symbol="o", symbolSize=7,
            symbolBrush=(30, 30, 30),
        )  # fmt: skip
        for line in trend.thresholds:
            pen = pg.mkPen(_GRADE_PENS.get(line.grade, (90, 90, 90)), width=1,
                           style=Qt.PenStyle.DashLine)  # fmt: skip
            item = pg.InfiniteLine(
                pos=float(line.value_si), angle=0, pen=pen, label=line.label,
                labelOpts={"position": 0.03, "color": (40, 40, 40), "anchors": [(0, 1), (0, 1)]},
            )  # fmt: skip
            self.plot.addItem(item)
            self._thresholds.append(item)
        for mark in trend.cycles:
            start = datetime.combine(mark.start, time(0), tzinfo=UTC)
            item = pg.InfiniteLine(
                pos=_stamp(start), angle=90, pen=pg.mkPen((110, 110, 110), width=1),
                label=mark.label, labelOpts={"position": 0.95, "color": (40, 40, 40)},
            )  # fmt: skip
            self.plot.addItem(item)
            self._cycles.append(item)
        notes = list(trend.notes)
        if not trend.points:
            notes.insert(0, f"No {trend.name.lower()} result recorded yet.")
        else:
            worst = max((p.grade or 0) for p in trend.points)
            notes.insert(0, f"{len(trend.points)} results; highest CTCAE grade {worst}.")
        self.note.setText(" ".join(notes))
        self.plot.enableAutoRange()

    # -- for tests and screen readers ----------------------------------------------------------
    def plotted_values(self) -> list[float]:
        if self._curve is None:
            return []
        _, ys = self._curve.getData()
        return [] if ys is None else [float(y) for y in ys]

    def threshold_labels(self) -> list[str]:
        return [str(item.label.format) for item in self._thresholds]

    def cycle_labels(self) -> list[str]:
        return [str(item.label.format) for item in self._cycles]


def open_lab_trends(
    parent: QWidget | None, record: Record, patient_id: int, test: str = "anc"
) -> LabTrendsDialog:
    """Open the trend plot for a patient, showing ``test`` first."""
    dialog = LabTrendsDialog(record, patient_id, parent, test)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
