"""``ChartPanel``: the selected patient's chart (header, cycle timeline, read-only tabs).

The main window embeds it and calls ``set_patient(record, patient_id)`` on every patient
switch; everything shown is replaced at once, and ``patientChanged`` carries the identifiers
for the window title so a switch is never ambiguous.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMessageBox, QSplitter, QVBoxLayout, QWidget

from clinic_app.core.protocol import Protocol
from clinic_app.core.response import light_chain_of
from clinic_app.gui.chart.header import ChartHeader, identity_text
from clinic_app.gui.chart.tabs import ChartTabs
from clinic_app.gui.chart.timeline import TimelineWidget
from clinic_app.gui.chart.timeline_model import TimelineData, build_timeline, empty_timeline
from clinic_app.services.chart_data import ChartData, load_chart
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError


def timeline_for(chart: ChartData, today: date) -> TimelineData:
    """The timeline of a chart (empty when the protocol, hence the cycle length, is unknown)."""
    if chart.protocol is None:
        return empty_timeline(today)
    return build_timeline(
        cycles=chart.cycles,
        doses=chart.doses,
        labs=chart.labs,
        adverse_events=chart.adverse_events,
        responses=chart.responses,
        modifications=chart.modifications,
        # Each cycle's own phase length (VRd: 21-day induction, 28-day maintenance).
        cycle_length_days=chart.protocol.cycle_length,
        today=today,
        drug_order=chart.drug_order,
        drug_names=chart.drug_names,
        drug_units=chart.drug_units,
        # One enrolment, its value CHECKed by the schema: cannot contradict itself.
        light_chain=light_chain_of([chart.enrolment] if chart.enrolment else []),
        maintenance_phase=chart.maintenance_phase,
        phase_names=chart.phase_names,
    )


class ChartPanel(QWidget):
    patientChanged = Signal(str)
    """The identifiers of the patient now shown ("" when none)."""

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        today: Callable[[], date] = date.today,
        protocols: Mapping[str, Protocol] | None = None,
    ) -> None:
        super().__init__(parent)
        self._today = today
        self._protocols = protocols
        self.chart: ChartData | None = None
        self.timeline_data: TimelineData | None = None
        self.header = ChartHeader()
        self.timeline = TimelineWidget()
        self.tabs = ChartTabs()
        self.timeline.itemActivated.connect(self.open_item)
        splitter = QSplitter()
        splitter.setOrientation(splitter.orientation().Vertical)
        splitter.addWidget(self.timeline)
        splitter.addWidget(self.tabs)
        splitter.setChildrenCollapsible(False)
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(splitter, 1)
        self.setAccessibleName("Patient chart")
        self._show_nothing()

    def set_protocols(self, protocols: Mapping[str, Protocol]) -> None:
        """The protocols read again (a clinic setting changed); the next patient shown uses them."""
        self._protocols = protocols

    def set_patient(self, record: Record, patient_id: int | None) -> None:
        """Show ``patient_id`` from ``record`` (None: no patient)."""
        if patient_id is None:
            self._show_nothing()
            return
        try:
            chart = load_chart(record, patient_id, protocols=self._protocols)
        except StorageError as exc:
            self._show_nothing()
            self._storage_problem(exc)
            return
        self.show_chart(chart)

    def show_chart(self, chart: ChartData) -> None:
        today = self._today()
        data = timeline_for(chart, today)
        self.chart = chart
        self.timeline_data = data
        self.header.set_chart(chart, today)
        self.timeline.set_data(data)
        self.tabs.set_chart(chart, data)
        self.timeline.setEnabled(True)
        self.tabs.setEnabled(True)
        self.patientChanged.emit(identity_text(chart))

    def set_filtered_out(self, hidden: bool) -> None:
        """Mark the patient shown as hidden by Find (the chart stays on them)."""
        self.header.set_filtered_out(hidden and self.chart is not None)

    def open_item(self, kind: str, item_id: int) -> None:
        self.tabs.show_item(kind, item_id)

    def _show_nothing(self) -> None:
        self.chart = None
        self.timeline_data = None
        self.header.clear()
        self.timeline.set_data(empty_timeline(self._today()))
        self.tabs.clear_chart()
        self.timeline.setEnabled(False)
        self.tabs.setEnabled(False)
        self.patientChanged.emit("")

    def _storage_problem(self, exc: StorageError) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "The record could not be read",
            f"{exc.message}\n\nNothing was lost: the chart was only being read. Check that the "
            "database file is reachable, then select the patient again.",
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.open()
