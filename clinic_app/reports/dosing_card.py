"""The patient's dosing card: one patient, one cycle (issues 5 and 20, rules §8).

What the patient takes home, landscape A4 or Letter, 11 pt type or larger:

- page 1: who and what (identifiers, protocol, cycle, the basis of the doses), the medicines
  of the cycle with what to dispense, how to read the calendar, the reminders and the clinic's
  telephone number;
- then the calendar: a whole 28-day month on one page where the boxes allow (a cycle whose
  days hold too much to stay legible continues on the next page, split between weeks, with
  the weekday row repeated). Each day's box has its date and cycle day, the blood tests and
  visits in words, and each medicine with a tick box and how many of which strength; a day
  with nothing to take says so.

Nothing carries meaning by colour alone: the page reads the same printed in black and white.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from clinic_app.core.day_words import day_text
from clinic_app.core.dosing import format_crcl
from clinic_app.core.ismp import format_number, format_quantity
from clinic_app.core.plan import CyclePlan, PlanDay, PlannedDose
from clinic_app.core.protocol import MonitoringEvent, Route
from clinic_app.reports.fonts import TEXT, markup
from clinic_app.reports.layout import (
    BODY_PT,
    FOOTER_HEIGHT,
    MARGIN,
    footed_canvas,
    page_size,
    para,
    rich,
    style,
    weekday_text,
    write_pdf,
)
from clinic_app.reports.models import DosingCard, PaperSize

TICK_BOX = "☐"  # an empty ballot box: the patient ticks each dose taken
REMINDER_PT = 12.0
TICK_PT = 15  # the box is drawn larger than the text so a shaky hand can tick it

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
    return route.spelled


def units_text(dose: PlannedDose) -> str:
    """``2 × 20 mg tablets``; a dose the clinic gives says so."""
    if dose.in_clinic:
        return "GIVEN IN CLINIC"
    return dose.describe_units()


def event_word(event: MonitoringEvent) -> str:
    return EVENT_WORDS.get(event.kind, event.label)


def units_short(dose: PlannedDose) -> str:
    """``2 × 20 mg`` (two 20 mg tablets): how many of which strength, short enough for a
    calendar box at 11 pt; the medicines table names the form."""
    units = " + ".join(
        f"{count} × {format_quantity(strength, 'mg')}" for strength, count in dose.units
    )
    return units or format_quantity(dose.dose_mg, "mg")


def ticked(markup_text: str) -> Paragraph:
    """A line led by a large tick box, with the leading the box needs."""
    box = f'<font size="{TICK_PT}">{TICK_BOX}</font>'
    return Paragraph(f"{box} {markup_text}", style(BODY_PT, leading=TICK_PT + 2))


def _cell(day: PlanDay) -> list[Any]:
    # "5 Jan": the calendar's title gives the years; the weekday heads the column
    when = " ".join(day_text(day.date).split()[:2])
    flow: list[Any] = [rich(f"<b>{markup(when)}</b> · day {day.day}")]
    for event in day.events:
        flow.append(para(event_word(event), bold=True))
    for dose in day.doses:
        flow.append(Spacer(1, 2))
        flow.append(para(dose.drug_name, bold=True))
        if dose.in_clinic:  # nothing to take at home, so nothing to tick
            flow.append(para("GIVEN IN CLINIC"))
        else:
            flow.append(ticked(markup(units_short(dose))))
    if not day.doses:
        flow.append(Spacer(1, 2))
        flow.append(para("No medicine today"))
    return flow


def calendar(plan: CyclePlan, width: float) -> Table:
    """Weeks of seven boxes under a row of weekday names (each column is one weekday)."""
    days = list(plan.days)
    header = [para(weekday_text(d.date), bold=True) for d in days[:7]]
    rows: list[list[Any]] = [header]
    for week in range(0, len(days), 7):
        cells: list[Any] = [_cell(d) for d in days[week : week + 7]]
        cells += [""] * (7 - len(cells))
        rows.append(cells)
    table = Table(rows, colWidths=[width / 7] * 7, splitByRow=True, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), TEXT),
                ("GRID", (0, 0), (-1, -1), 1, GRID),
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ("RIGHTPADDING", (0, 0), (-1, -1), 1),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
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
        when = (
            f", measured {day_text(plan.bsa.measured_on)}"
            if plan.bsa.measured_on
            else ", date of the measurement not recorded"  # said, never left out
        )
        facts.append(
            [
                "Body-surface area",
                f"{format_number(plan.bsa.m2)} m² ({plan.bsa.formula.value.capitalize()}, "
                f"height {format_number(plan.bsa.height_cm)} cm, weight "
                f"{format_number(plan.bsa.weight_kg)} kg{when})",
            ]
        )
    uses_bsa = plan.bsa is not None and any(n.rounding is not None for n in plan.dose_notes)
    if card.weight_since is not None and (uses_bsa or card.show_crcl):
        # rules §2: contradictory weights are said in print, never silently kept.
        since, change = card.weight_since, card.weight_since.change
        facts.append(
            [
                "WEIGHT CHANGED",
                f"For the clinic: weighed {day_text(since.latest_on)} at "
                f"{format_number(change.current_kg)} kg, {format_number(change.shown_pct)} % "
                f"{'up' if change.change_pct > 0 else 'down'} from the "
                f"{format_number(change.previous_kg)} kg of {day_text(since.behind_on)} that "
                "these doses use. Recalculate the BSA and confirm the doses before this card "
                "is handed out.",
            ]
        )
    if card.show_crcl and plan.crcl_ml_min is not None:
        when = (
            f", creatinine of {day_text(card.crcl_measured_on)}"
            if card.crcl_measured_on
            else ", date of the creatinine not recorded"
        )
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
    tick = ticked(
        "Tick the box when you have taken the dose. "
        + markup(
            "“2 × 20 mg” means two of the 20 mg tablets or capsules of that medicine "
            "(the table above says which)."
        )
    )
    return [para("How to read the calendar", 13, bold=True), tick, *lines]


def reminders(card: DosingCard) -> list[Any]:
    items = [para("Reminders", 13, bold=True)]
    # 12 pt: page 1 has the room, and these are the lines a patient must not miss
    items += [para(f"• {r.text}", REMINDER_PT) for r in card.plan.reminders]
    items.append(
        para(
            f"• Questions or problems: call {card.clinic.name} on {card.clinic.phone}.",
            REMINDER_PT,
            bold=True,
        )
    )
    return items


def calendar_title(card: DosingCard) -> str:
    plan = card.plan
    return (
        f"Calendar: what to take each day, {day_text(plan.start)} to {day_text(plan.end)}"
        f" · questions: {card.clinic.phone}"
    )


def build_story(card: DosingCard, width: float) -> list[Any]:
    """Page 1: header, medicines, how to read the calendar, reminders; then the calendar."""
    story = header(card, width)
    rows = summary_rows(card.plan)
    widths = [width * 0.3, width * 0.3, width * 0.15, width * 0.25]
    story.append(
        KeepTogether(
            [para("Medicines for this cycle", 13, bold=True), Spacer(1, 3), _table(rows, widths)]
        )
    )
    story.append(Spacer(1, 8))
    story.append(KeepTogether(legend(card.plan)))
    story.append(Spacer(1, 8))
    story.append(KeepTogether(reminders(card)))
    story.append(PageBreak())
    story.append(para(calendar_title(card), 13, bold=True))
    story.append(Spacer(1, 3))
    story.append(calendar(card.plan, width))
    return story


def render_dosing_card(card: DosingCard, *, paper: PaperSize | None = None) -> bytes:
    """The card as PDF bytes, on ``paper`` (default: the paper of the print stamp, which the
    ``print.paper_size`` setting gives)."""
    buffer = BytesIO()
    size = page_size(paper or card.stamp.paper, wide=True)
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


def write_dosing_card(card: DosingCard, path: Path, *, paper: PaperSize | None = None) -> None:
    """Write the card to ``path`` via a temporary file: never a partial PDF."""
    data = render_dosing_card(card, paper=paper)
    write_pdf(path, data)


__all__ = ["BODY_PT", "render_dosing_card", "write_dosing_card"]
