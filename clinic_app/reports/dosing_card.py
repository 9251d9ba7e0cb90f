"""The patient's dosing card: one patient, one cycle (issue 5, rules §8).

Landscape pages so the 7-day weeks have room for large type. Page content: identifiers and
the basis of the doses, the calendar (real dates, weekday names, each dose with a tick box,
empty days saying so), the medication summary with what to dispense, and the reminders.
Nothing carries meaning by colour alone: the page reads the same printed in black and white.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.platypus import KeepTogether, SimpleDocTemplate, Spacer, Table, TableStyle

from clinic_app.core.dosing import format_crcl
from clinic_app.core.ismp import format_number, format_quantity
from clinic_app.core.plan import CyclePlan, PlanDay, PlannedDose
from clinic_app.core.protocol import MonitoringEvent, Route
from clinic_app.reports.fonts import TEXT, markup
from clinic_app.reports.layout import (
    BODY_PT,
    FOOTER_HEIGHT,
    MARGIN,
    day_text,
    footed_canvas,
    page_size,
    para,
    rich,
    weekday_text,
    write_pdf,
)
from clinic_app.reports.models import DosingCard

TICK_BOX = "☐"  # an empty ballot box: the patient ticks each dose taken

# The word a calendar cell shows for each kind of monitoring event; the legend spells it out.
EVENT_WORDS = {"labs": "BLOOD TEST", "visit": "CLINIC VISIT", "evaluation": "EVALUATION"}
GRID = colors.black
SHADE = colors.Color(0.9, 0.9, 0.9)  # header rows only; text says the same thing


def day_ranges(days: Iterable[int]) -> str:
    """``1-4, 9-12, 17-20`` for a sorted run of cycle days.

    >>> day_ranges([1, 2, 3, 4, 9, 10, 11, 12, 22])
    '1-4, 9-12, 22'
    """
    ordered = sorted(set(days))
    parts: list[str] = []
    start = prev = ordered[0] if ordered else 0
    for day in [*ordered[1:], None]:
        if day is not None and day == prev + 1:
            prev = day
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if day is not None:
            start = prev = day
    return ", ".join(parts) if ordered else ""


def route_words(route: Route) -> str:
    return "by mouth" if route is Route.PO else "intravenous infusion"


def units_text(dose: PlannedDose) -> str:
    """``2 × 20 mg tablets``; the IV infusion says where it is given."""
    if dose.in_clinic:
        return "GIVEN IN CLINIC"
    return dose.describe_units()


def event_word(event: MonitoringEvent) -> str:
    return EVENT_WORDS.get(event.kind, event.label)


def _cell(day: PlanDay) -> list[Any]:
    head = f"<b>{markup(f'Day {day.day} · {weekday_text(day.date)}')}</b><br/>"
    head += markup(day_text(day.date))
    flow: list[Any] = [rich(head)]
    for event in day.events:
        flow.append(para(event_word(event), bold=True))
    for dose in day.doses:
        amount = f"{TICK_BOX} {format_quantity(dose.dose_mg, 'mg')} {route_words(dose.route)}"
        text = (
            f"<b>{markup(dose.drug_name)}</b><br/>{markup(amount)}<br/>{markup(units_text(dose))}"
        )
        flow.append(Spacer(1, 3))
        flow.append(rich(text))
    if not day.doses:
        flow.append(Spacer(1, 3))
        flow.append(para("No medicine today"))
    return flow


def calendar(plan: CyclePlan, width: float) -> Table:
    days = list(plan.days)
    rows: list[list[Any]] = []
    for week in range(0, len(days), 7):
        cells: list[Any] = [_cell(d) for d in days[week : week + 7]]
        cells += [""] * (7 - len(cells))
        rows.append(cells)
    table = Table(rows, colWidths=[width / 7] * 7, splitByRow=True)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), TEXT),
                ("GRID", (0, 0), (-1, -1), 1, GRID),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ("RIGHTPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return table


def summary_rows(plan: CyclePlan) -> list[list[str]]:
    """Drug, dose and days, total for the cycle, what to dispense: one row per drug."""
    rows = [["Medicine", "Dose and days", "Total for the cycle", "To dispense"]]
    per_drug: dict[str, list[PlannedDose]] = {}
    days_of: dict[tuple[str, Decimal], list[int]] = {}
    for day, dose in plan.doses():
        per_drug.setdefault(dose.drug, []).append(dose)
        days_of.setdefault((dose.drug, dose.dose_mg), []).append(day.day)
    for drug, doses in per_drug.items():
        first = doses[0]
        name = f"{first.drug_name}, {route_words(first.route)}, {first.frequency}"
        amounts = sorted({d.dose_mg for d in doses}, key=lambda mg: min(days_of[(drug, mg)]))
        schedule = "; ".join(
            f"{format_quantity(mg, 'mg')} on day{'s' if len(days_of[(drug, mg)]) > 1 else ''} "
            f"{day_ranges(days_of[(drug, mg)])}"
            for mg in amounts
        )
        total = format_quantity(plan.totals_mg[drug], "mg")
        units = plan.unit_totals.get(drug, {})
        if first.in_clinic or not units:
            dispense = "given in clinic"
        else:
            noun = first.form.value
            dispense = " + ".join(
                f"{count} × {format_quantity(strength, 'mg')} {noun}{'s' if count > 1 else ''}"
                for strength, count in sorted(units.items(), reverse=True)
            )
        rows.append([name, schedule, total, dispense])
    return rows


def _table(rows: Sequence[Sequence[str]], widths: Sequence[float]) -> Table:
    cells = [[para(text, bold=(r == 0)) for text in row] for r, row in enumerate(rows)]
    table = Table(cells, colWidths=list(widths), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), TEXT),
                ("GRID", (0, 0), (-1, -1), 0.8, GRID),
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def header(card: DosingCard, width: float) -> list[Any]:
    plan, who = card.plan, card.patient
    level = f" · dose level {plan.dose_level}" if plan.dose_level is not None else ""
    title = f"Dosing card · {plan.protocol_name} cycle {plan.cycle}"
    facts = [
        [
            "Patient",
            f"{who.full_name}   ·   born {day_text(who.date_of_birth)}   ·   MRN {who.mrn}",
        ],
        [
            "Treatment",
            f"{plan.protocol_name} (protocol version {plan.protocol_version}) · cycle "
            f"{plan.cycle} · {plan.phase_name.lower()} phase{level}",
        ],
        [
            "Cycle starts",
            f"{weekday_text(plan.start)} {day_text(plan.start)} (day 1); last day "
            f"{weekday_text(plan.end)} {day_text(plan.end)} (day {len(plan.days)})",
        ],
    ]
    if plan.bsa is not None and any(n.rounding is not None for n in plan.dose_notes):
        when = f", measured {day_text(plan.bsa.measured_on)}" if plan.bsa.measured_on else ""
        facts.append(
            [
                "Body-surface area",
                f"{format_number(plan.bsa.m2)} m² ({plan.bsa.formula.value.capitalize()}, "
                f"height {format_number(plan.bsa.height_cm)} cm, weight "
                f"{format_number(plan.bsa.weight_kg)} kg{when})",
            ]
        )
    if card.show_crcl and plan.crcl_ml_min is not None:
        when = f", creatinine of {day_text(card.crcl_measured_on)}" if card.crcl_measured_on else ""
        facts.append(
            [
                "Creatinine clearance",
                # the stored CrCl is exact (the renal rule's); shown cut to one decimal
                f"{format_crcl(plan.crcl_ml_min)} (Cockcroft-Gault{when})",
            ]
        )
    for note in plan.dose_notes:
        name = plan.drug_names.get(note.drug, note.drug)
        if note.rounding is not None:
            facts.append(["Dose calculation", f"{name}: {note.rounding.describe()}"])
        elif len(note.reasons) > 1:
            facts.append(["Dose change", f"{name}: " + "; ".join(note.reasons[1:])])
    facts.append(["Clinic", f"{card.clinic.name} · telephone {card.clinic.phone}"])
    table = Table(
        [[para(k, bold=True), para(v)] for k, v in facts],
        colWidths=[45 * 3.2, width - 45 * 3.2],
    )
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), TEXT),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, GRID),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return [para(title, 16, bold=True), Spacer(1, 4), table, Spacer(1, 8)]


def legend(plan: CyclePlan) -> list[Any]:
    seen: dict[str, list[int]] = {}
    labels: dict[str, str] = {}
    for day in plan.days:
        for event in day.events:
            word = event_word(event)
            seen.setdefault(word, []).append(day.day)
            labels[word] = event.label
    lines = [
        para(f"{word} (day{'s' if len(days) > 1 else ''} {day_ranges(days)}): {labels[word]}")
        for word, days in seen.items()
    ]
    tick = para(f"{TICK_BOX} Tick the box when you have taken the dose.")
    return [para("What the calendar shows", 13, bold=True), tick, *lines]


def reminders(card: DosingCard) -> list[Any]:
    items = [para("Reminders", 13, bold=True)]
    items += [para(f"• {r.text}") for r in card.plan.reminders]
    items.append(
        para(
            f"• Questions or problems: call {card.clinic.name} on {card.clinic.phone}.",
            bold=True,
        )
    )
    return items


def build_story(card: DosingCard, width: float) -> list[Any]:
    story = header(card, width)
    story.append(para("Calendar: what to take each day", 13, bold=True))
    story.append(Spacer(1, 3))
    story.append(calendar(card.plan, width))
    story.append(Spacer(1, 10))
    rows = summary_rows(card.plan)
    widths = [width * 0.3, width * 0.3, width * 0.15, width * 0.25]
    story.append(
        KeepTogether(
            [para("Medicines for this cycle", 13, bold=True), Spacer(1, 3), _table(rows, widths)]
        )
    )
    story.append(Spacer(1, 10))
    story.append(KeepTogether(legend(card.plan)))
    story.append(Spacer(1, 8))
    story.append(KeepTogether(reminders(card)))
    return story


def render_dosing_card(card: DosingCard) -> bytes:
    """The card as PDF bytes."""
    buffer = BytesIO()
    size = page_size(card.stamp.paper, wide=True)
    doc = SimpleDocTemplate(
        buffer,
        pagesize=size,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=FOOTER_HEIGHT + 3,
        title=f"Dosing card {card.plan.protocol_name} cycle {card.plan.cycle}",
        author=card.stamp.printed_by,
    )
    doc.build(
        build_story(card, size[0] - 2 * MARGIN),
        canvasmaker=footed_canvas(card.patient, card.stamp),
    )
    return buffer.getvalue()


def write_dosing_card(card: DosingCard, path: Path) -> None:
    """Write the card to ``path`` via a temporary file: never a partial PDF."""
    data = render_dosing_card(card)
    write_pdf(path, data)


__all__ = ["BODY_PT", "render_dosing_card", "write_dosing_card"]
