"""The per-cycle toxicity summary filed in the chart (issue 5).

Staff document, portrait: identifiers, cycle dates, doses planned / given / held with
reasons, modifications, adverse events with attribution and DLT status, every lab with its
CTCAE grade, the nadirs, the ANC and platelet chart, the response at the end of the cycle and,
for the protocol's DLT cycle, the DLT proposal with its evidence and the investigator's review.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.platypus import KeepTogether, SimpleDocTemplate, Spacer, Table, TableStyle

from clinic_app.core.ismp import format_number, format_quantity
from clinic_app.core.labs import unit_label
from clinic_app.reports.chart import count_chart
from clinic_app.reports.fonts import TEXT
from clinic_app.reports.layout import (
    BODY_PT,
    FOOTER_HEIGHT,
    MARGIN,
    SMALL_PT,
    day_text,
    footed_canvas,
    page_size,
    para,
    time_text,
    write_pdf,
)
from clinic_app.reports.models import DoseLine, ToxicitySummary

SHADE = colors.Color(0.88, 0.88, 0.88)


def _mg(value: Decimal | None) -> str:
    return "-" if value is None else format_quantity(value, "mg")


def _grade(grade: int | None) -> str:
    return "-" if grade is None else f"G{grade}"


def _table(rows: Sequence[Sequence[str]], fractions: Sequence[float], width: float) -> Table:
    cells = [[para(t, SMALL_PT, bold=(i == 0)) for t in row] for i, row in enumerate(rows)]
    table = Table(cells, colWidths=[width * f for f in fractions], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), TEXT),
                ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ]
        )
    )
    return table


@dataclass(frozen=True)
class DoseTotals:
    """One drug's doses in the cycle, counted from the dose lines (issue 5: planned vs given
    vs held). ``planned`` counts the plan's doses; the others count what was recorded, so
    given + held + missed + not_recorded = planned + unplanned."""

    drug_name: str
    planned: int
    given: int
    held: int
    missed: int
    not_recorded: int
    """Planned doses with no outcome recorded yet (no record, or recorded as planned)."""
    unplanned: int
    """Doses recorded that the plan does not hold."""
    reasons: tuple[str, ...]
    """``day 15 held: ANC 0.4``, for every held or missed dose."""


def dose_totals(doses: Sequence[DoseLine]) -> list[DoseTotals]:
    """Per-drug totals, in the order the drugs first appear.

    >>> from datetime import date
    >>> from decimal import Decimal as D
    >>> lines = [DoseLine(1, date(2026, 1, 5), "Pom", D(3), "given", D(3)),
    ...          DoseLine(2, date(2026, 1, 6), "Pom", D(3), "held", None, "ANC 0.4"),
    ...          DoseLine(3, date(2026, 1, 7), "Pom", D(3), "no record")]
    >>> t = dose_totals(lines)[0]
    >>> (t.planned, t.given, t.held, t.missed, t.not_recorded, t.reasons)
    (3, 1, 1, 0, 1, ('day 2 held: ANC 0.4',))
    """
    by_drug: dict[str, list[DoseLine]] = {}
    for line in doses:
        by_drug.setdefault(line.drug_name, []).append(line)
    totals: list[DoseTotals] = []
    for name, lines in by_drug.items():

        def count(status: str, group: list[DoseLine] = lines) -> int:
            return sum(1 for d in group if d.status == status)

        totals.append(
            DoseTotals(
                drug_name=name,
                planned=sum(1 for d in lines if d.planned_mg is not None),
                given=count("given"),
                held=count("held"),
                missed=count("missed"),
                not_recorded=count("no record") + count("planned"),
                unplanned=sum(1 for d in lines if d.planned_mg is None),
                reasons=tuple(
                    f"day {d.day} {d.status}: {d.reason or 'no reason recorded'}"
                    for d in lines
                    if d.status in ("held", "missed")
                ),
            )
        )
    return totals


def _totals_table(doses: Sequence[DoseLine], width: float) -> Any:
    rows = [["Medicine", "Planned", "Given", "Held", "Missed", "Not recorded", "Held / missed"]]
    for t in dose_totals(doses):
        planned = str(t.planned) + (f" (+{t.unplanned} not in plan)" if t.unplanned else "")
        rows.append(
            [
                t.drug_name,
                planned,
                str(t.given),
                str(t.held),
                str(t.missed),
                str(t.not_recorded),
                "; ".join(t.reasons) or "-",
            ]
        )
    return _table(rows, (0.19, 0.12, 0.08, 0.08, 0.09, 0.12, 0.32), width)


def _section(title: str, body: Sequence[Any]) -> list[Any]:
    return [Spacer(1, 8), para(title, 13, bold=True), Spacer(1, 3), *body]


def _none(text: str) -> list[Any]:
    return [para(text)]


def header(doc: ToxicitySummary, width: float) -> list[Any]:
    who = doc.patient
    level = f" · dose level {doc.dose_level}" if doc.dose_level is not None else ""
    delay = (
        f"; started {doc.delay_days} day{'s' if doc.delay_days != 1 else ''} late"
        + (f" ({doc.delay_reason})" if doc.delay_reason else "")
        if doc.delay_days
        else ""
    )
    facts = [
        ["Patient", f"{who.full_name} · born {day_text(who.date_of_birth)} · MRN {who.mrn}"],
        ["Treatment", f"{doc.protocol_name} cycle {doc.cycle} · {doc.phase_name.lower()}{level}"],
        ["Cycle dates", f"{day_text(doc.start)} (day 1) to {day_text(doc.end)}{delay}"],
    ]
    table = Table([[para(k, bold=True), para(v)] for k, v in facts], colWidths=[95, width - 95])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), TEXT),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.black),
            ]
        )
    )
    title = f"Toxicity summary · {doc.protocol_name} cycle {doc.cycle}"
    return [para(title, 16, bold=True), Spacer(1, 4), table]


def build_story(doc: ToxicitySummary, width: float) -> list[Any]:
    story = header(doc, width)
    for note in doc.notes:
        story.append(para(f"Note: {note}", bold=True))

    rows = [["Day", "Date", "Medicine", "Planned", "Recorded", "Status", "Reason"]]
    rows += [
        [
            str(d.day),
            day_text(d.on),
            d.drug_name,
            _mg(d.planned_mg),
            _mg(d.recorded_mg),
            d.status,
            d.reason,
        ]
        for d in doc.doses
    ]
    body = (
        [
            para("Totals for the cycle, per medicine", bold=True),
            Spacer(1, 2),
            _totals_table(doc.doses, width),
            Spacer(1, 6),
            _table(rows, (0.06, 0.14, 0.19, 0.11, 0.13, 0.12, 0.25), width),
        ]
        if doc.doses
        else _none("No doses planned or recorded.")
    )
    story += _section("Doses: planned, given and held", body)

    rows = [["Medicine", "From", "To", "Reason", "Takes effect", "Decided"]]
    rows += [
        [
            m.drug_name,
            format_quantity(m.old_dose, m.unit),
            format_quantity(m.new_dose, m.unit),
            m.reason,
            f"cycle {m.effective_cycle} day {m.effective_day}",
            f"{m.decided_by}, {day_text(m.decided_on)}",
        ]
        for m in doc.modifications
    ]
    body = (
        [_table(rows, (0.15, 0.11, 0.11, 0.25, 0.15, 0.23), width)]
        if doc.modifications
        else _none("No dose modifications.")
    )
    story += _section("Dose modifications", body)

    rows = [["CTCAE term", "Grade", "Attribution", "Onset", "Resolved", "Serious", "DLT status"]]
    rows += [
        [
            a.term,
            _grade(a.grade),
            a.attribution,
            day_text(a.onset),
            day_text(a.resolved) if a.resolved else "ongoing",
            "yes" if a.serious else "no",
            a.dlt_status,
        ]
        for a in doc.adverse_events
    ]
    body = (
        [_table(rows, (0.17, 0.09, 0.17, 0.12, 0.12, 0.1, 0.23), width)]
        if doc.adverse_events
        else _none("No adverse events recorded in this cycle.")
    )
    story += _section("Adverse events", body)

    rows = [["Collected", "Test", "Value", "CTCAE grade", "Term, or why no grade"]]
    rows += [
        [
            time_text(lab.collected_at),
            lab.test_name,
            f"{format_number(lab.value)} {unit_label(lab.unit)}",
            _grade(lab.grade),
            lab.grade_note,
        ]
        for lab in doc.labs
    ]
    body = (
        [_table(rows, (0.19, 0.2, 0.16, 0.1, 0.35), width)]
        if doc.labs
        else _none("No lab results in this cycle.")
    )
    story += _section("Laboratory results", body)

    rows = [["Test", "Lowest value", "Date", "CTCAE grade", "Term"]]
    rows += [
        [
            n.test_name,
            f"{format_number(n.value)} {unit_label(n.unit)}",
            day_text(n.on),
            _grade(n.grade),
            n.grade_note,
        ]
        for n in doc.nadirs
    ]
    body = (
        [_table(rows, (0.22, 0.18, 0.16, 0.1, 0.34), width)]
        if doc.nadirs
        else _none("No counts measured in this cycle.")
    )
    story += _section("Nadirs in this cycle", body)

    if doc.chart:
        last_day = max(
            [(doc.end - doc.start).days + 1] + [d for s in doc.chart for d, _ in s.points]
        )
        panel = (width - 10) / 2
        drawings = [count_chart(s, panel, 150, last_day) for s in doc.chart]
        drawings += [""] * (2 - len(drawings))
        grid = Table([drawings[:2]], colWidths=[panel + 5, panel + 5])
        grid.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), TEXT)]))
        story.append(
            KeepTogether(
                _section(
                    "ANC and platelets over the cycle",
                    [
                        grid,
                        para(
                            "Solid line: results. Long dashes: grade 3 boundary. "
                            "Dots: grade 4 boundary.",
                            SMALL_PT,
                        ),
                    ],
                )
            )
        )

    r = doc.response
    if r.category is None:
        text = r.explanation
    else:
        state = (
            "confirmed" if r.confirmed else "not confirmed (needs a second consecutive assessment)"
        )
        when = day_text(r.assessed_on) if r.assessed_on else ""
        text = f"{r.category} on {when}, {state}. {r.explanation}"
    story += _section("Response at the end of the cycle (IMWG)", [para(text)])

    if doc.dlt is not None:
        body = [para(doc.dlt.proposal, bold=True)]
        body += [para(line, SMALL_PT) for line in doc.dlt.evidence]
        body += [Spacer(1, 3), para(f"Investigator's review: {doc.dlt.review}")]
        body += [para(line) for line in doc.dlt.signatures]
        story += _section("Dose-limiting toxicity (cycle 1)", body)
    return story


def render_toxicity_summary(doc: ToxicitySummary) -> bytes:
    buffer = BytesIO()
    size = page_size(doc.stamp.paper)
    template = SimpleDocTemplate(
        buffer,
        pagesize=size,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=FOOTER_HEIGHT + 3,
        title=f"Toxicity summary {doc.protocol_name} cycle {doc.cycle}",
        author=doc.stamp.printed_by,
    )
    template.build(
        build_story(doc, size[0] - 2 * MARGIN), canvasmaker=footed_canvas(doc.patient, doc.stamp)
    )
    return buffer.getvalue()


def write_toxicity_summary(doc: ToxicitySummary, path: Path) -> None:
    data = render_toxicity_summary(doc)
    write_pdf(path, data)


__all__ = ["BODY_PT", "render_toxicity_summary", "write_toxicity_summary"]
