"""The chart header: who the patient is (name, date of birth, MRN), where they are in the
protocol, and their allergies and alerts, always visible and marked with "⚠" as well as red."""

from __future__ import annotations

from datetime import date

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from clinic_app.core.day_words import day_text
from clinic_app.gui.warnings import WARNING_SIGN
from clinic_app.services.chart_data import ChartData

_WARNING_STYLE = "color: #b71c1c;"


def identity_text(chart: ChartData) -> str:
    """The two identifiers and the MRN, as every patient window title shows them."""
    p = chart.patient
    return f"{p.full_name} · born {day_text(p.date_of_birth)} · MRN {p.mrn}"


def treatment_text(chart: ChartData, today: date) -> str:
    p = chart.patient
    sex = "female" if p.sex.value == "F" else "male"
    parts = [f"Age {p.age_on(today)}", sex]
    if chart.enrolment is None:
        parts.append("not enrolled on a protocol")
    else:
        parts.append(chart.protocol_name())
        if chart.enrolment.dose_level is not None:
            parts.append(f"dose level {chart.enrolment.dose_level}")
        cycle = chart.current_cycle
        if cycle is not None:
            parts.append(f"{cycle.phase}, cycle {cycle.number} ({cycle.status.value})")
        else:
            parts.append("no cycles recorded")
        parts.append(f"status: {chart.enrolment.status.value.replace('_', ' ')}")
    return " · ".join(parts)


class ChartHeader(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.identity = QLabel()
        self.identity.setAccessibleName("Patient")
        self.treatment = QLabel()
        self.treatment.setAccessibleName("Treatment")
        self.allergies = QLabel()
        self.allergies.setAccessibleName("Allergies")
        self.alerts = QLabel()
        self.alerts.setAccessibleName("Alerts")
        self.problems = QLabel()
        self.problems.setAccessibleName("Chart problems")
        # The open patient hidden by Find: the chart stays on them and says so.
        self.filtered_out = QLabel(
            f"{WARNING_SIGN} This patient is not in the filtered list: the chart stays on them "
            "until you choose another patient. Clear Find to see them in the list."
        )
        self.filtered_out.setObjectName("chart_filtered_out")
        self.filtered_out.setAccessibleName("Not in the filtered list")
        self.filtered_out.setStyleSheet(
            "background: #fff3cd; color: #5c4400; border: 1px solid #c9a227; padding: 2px;"
        )
        labels = (
            self.identity,
            self.filtered_out,
            self.treatment,
            self.allergies,
            self.alerts,
            self.problems,
        )
        for label in labels:
            label.setWordWrap(True)
            label.setTextFormat(label.textFormat().PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for label in labels:
            layout.addWidget(label)
        self.filtered_out.hide()
        self._scale_fonts()
        self.clear()

    def _scale_fonts(self) -> None:
        # Follows the system font: the name line is 1.4 x the application font, in bold.
        big = QFont(self.font())
        big.setPointSizeF(self.font().pointSizeF() * 1.4)
        big.setBold(True)
        self.identity.setFont(big)
        bold = QFont(self.font())
        bold.setBold(True)
        self.allergies.setFont(bold)
        self.alerts.setFont(bold)

    def set_filtered_out(self, hidden: bool) -> None:
        self.filtered_out.setVisible(hidden)

    def clear(self) -> None:
        self.identity.setText("No patient selected")
        self.filtered_out.hide()
        for label in (self.treatment, self.allergies, self.alerts, self.problems):
            label.clear()
            label.hide()

    def set_chart(self, chart: ChartData, today: date) -> None:
        p = chart.patient
        self.identity.setText(identity_text(chart))
        self.treatment.setText(treatment_text(chart, today))
        self.treatment.show()
        if p.allergies:
            self.allergies.setText(f"{WARNING_SIGN} Allergies: " + "; ".join(p.allergies))
            self.allergies.setStyleSheet(_WARNING_STYLE)
        else:
            self.allergies.setText("Allergies: none recorded")
            self.allergies.setStyleSheet("")
        self.allergies.show()
        if p.alerts:
            self.alerts.setText(f"{WARNING_SIGN} Alerts: " + "; ".join(p.alerts))
            self.alerts.setStyleSheet(_WARNING_STYLE)
        else:
            self.alerts.setText("Alerts: none")
            self.alerts.setStyleSheet("")
        self.alerts.show()
        self.problems.setText("\n".join(f"ⓘ {problem}" for problem in chart.problems))
        self.problems.setVisible(bool(chart.problems))
