"""The per-cycle toxicity summary filed in the chart (issues 5 and 20).

Staff document, portrait. The first page answers what a clinician reviewing the cycle asks:

1. the worst CTCAE grade of each term, adverse events and labs together, grade >= 3 marked in
   words;
2. the nadirs of ANC, platelets and haemoglobin, with the spells at grade >= 3;
3. for the protocol's DLT cycle, the DLT proposal with its evidence and the investigator's
   review;
4. the dose intensity of each drug (given ÷ planned mg) with every held, missed, not recorded
   and modified dose and its reason, and the dose modifications;
5. the response at the end of the cycle and what limited it.

Then the details (adverse events, the counts over the cycle, every lab result) and an appendix
of the day-by-day doses: only the exceptions, unless the full listing is asked for. Every
figure comes from :mod:`clinic_app.core.cycle_toxicity` through the document model.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    PageBreak,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from clinic_app.core.ctcae import is_severe
from clinic_app.core.cycle_toxicity import (
    GIVEN,
    DoseIntensity,
    DoseLine,
    SevereSpell,
    WorstGrade,
)
from clinic_app.core.day_words import day_month_text, day_text
from clinic_app.core.ismp import format_number, format_quantity
from clinic_app.core.labs import unit_label
from clinic_app.reports.chart import count_chart
from clinic_app.reports.fonts import TEXT
from clinic_app.reports.layout import (
    BODY_PT,
    FOOTER_HEIGHT,
    MARGIN,
    SMALL_PT,
    footed_canvas,
    page_size,
    para,
    time_text,
    write_pdf,
)
from clinic_app.reports.models import NadirLine, ToxicitySummary

SHADE = colors.Color(0.88, 0.88, 0.88)
SEVERE_MARK = "grade ≥ 3"  # printed beside every grade 3 or worse: the mark is text, not colour

# Section headings, in the order they print (tests read them back in this order).
WORST = "Worst grade per CTCAE term (adverse events and labs)"
NADIRS = "Nadirs: ANC, platelets, haemoglobin"
DLT = "Dose-limiting toxicity (cycle 1)"
INTENSITY = "Dose intensity per medicine"
RESPONSE = "Response at the end of the cycle (IMWG)"
ADVERSE_EVENTS = "Adverse events"
CHARTS = "Counts over the cycle"
LABS = "Laboratory results"
APPENDIX_EXCEPTIONS = "Appendix: day-by-day doses, exceptions only"
APPENDIX_FULL = "Appendix: day-by-day doses, full listing"
NO_COUNTS = "No ANC, platelet count or hemoglobin results in this cycle: nothing to chart."


def _mg(value: Decimal | None) -> str:
    return "-" if value is None else format_quantity(value, "mg")


def _grade(grade: int | None) -> str:
    return "-" if grade is None else f"G{grade}"


def _graded(grade: int | None, *, at_least: bool = False) -> str:
    """``G4 · grade ≥ 3`` for a severe grade; ``at least G3`` when the value cannot settle it."""
    if grade is None:
        return "-"
    text = f"at least G{grade}" if at_least else f"G{grade}"
    return f"{text} · {SEVERE_MARK}" if is_severe(grade) else text


def _table(
    rows: Sequence[Sequence[str]],
    fractions: Sequence[float],
    width: float,
    *,
    bold_rows: Sequence[int] = (),
) -> Table:
    cells = [
        [para(t, SMALL_PT, bold=(i == 0 or i in bold_rows)) for t in row]
        for i, row in enumerate(rows)
    ]
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


def _section(title: str, body: Sequence[Any], *, need: float = 40) -> list[Any]:
    """A heading never ends a page alone: with less than ``need`` points left (a line of
    text, or a table's header and first row: ``TABLE_START``) it starts the next page."""
    return [CondPageBreak(need), Spacer(1, 5), para(title, 12.5, bold=True), Spacer(1, 2), *body]


TABLE_START = 100.0


def _none(text: str) -> list[Any]:
    return [para(text)]


def day_runs(days: Sequence[int]) -> str:
    """``2-14, 16-21`` for cycle days.

    >>> day_runs([2, 3, 4, 9, 11, 12])
    '2-4, 9, 11-12'
    """
    ordered = sorted(set(days))
    runs: list[str] = []
    for day in ordered:
        if runs and day - 1 in ordered:
            first = runs[-1].split("-")[0]
            runs[-1] = f"{first}-{day}"
        else:
            runs.append(str(day))
    return ", ".join(runs)


# -- the first page ----------------------------------------------------------------------
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
        [
            "Cycle",
            f"{doc.protocol_name} cycle {doc.cycle} · {doc.phase_name.lower()}{level} · "
            f"{day_text(doc.start)} (day 1) to {day_text(doc.end)}{delay}",
        ],
    ]
    table = Table([[para(k, bold=True), para(v)] for k, v in facts], colWidths=[95, width - 95])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), TEXT),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.black),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    title = f"Toxicity summary · {doc.protocol_name} cycle {doc.cycle}"
    return [para(title, 16, bold=True), Spacer(1, 3), table]


def worst_section(doc: ToxicitySummary, width: float) -> list[Any]:
    worst: Sequence[WorstGrade] = doc.worst
    body: list[Any]
    if worst:
        rows = [["CTCAE term", "Worst grade", "Date", "What was seen", "Recorded as"]]
        rows += [
            [
                w.term,
                _graded(w.grade, at_least=w.at_least),
                day_text(w.on),
                w.detail or "-",
                " and ".join(w.sources),
            ]
            for w in worst
        ]
        severe = [i for i, w in enumerate(worst, start=1) if w.severe]
        body = [_table(rows, (0.29, 0.17, 0.14, 0.25, 0.15), width, bold_rows=severe)]
    else:
        body = _none("No adverse event and no abnormal graded lab result in this cycle.")
    if doc.ungraded_results:
        n = doc.ungraded_results
        body.append(
            para(
                f"{n} lab result{'s' if n != 1 else ''} could not be graded from the value "
                f"alone; see {LABS} for what is missing.",
                SMALL_PT,
            )
        )
    return _section(WORST, body, need=TABLE_START)


def _spells_text(line: NadirLine) -> str:
    if line.value is None:
        return "-"
    if not line.spells:
        return "none"
    parts = []
    for spell in line.spells:
        parts.append(_spell_text(spell))
    return "; ".join(parts)


def _spell_text(spell: SevereSpell) -> str:
    ongoing = ", still at the last" if spell.ongoing else ""
    results = f"{spell.results} result{'s' if spell.results != 1 else ''}"
    if spell.first == spell.last:
        return f"{day_month_text(spell.first)} only ({results}, 0 days{ongoing})"
    days = f"{spell.days} day{'s' if spell.days != 1 else ''}"
    first, last = day_month_text(spell.first), day_month_text(spell.last)
    return f"{first} to {last}: {days} ({results}{ongoing})"


def nadir_section(doc: ToxicitySummary, width: float) -> list[Any]:
    rows = [["Count", "Lowest", "Date", "CTCAE grade", "At grade ≥ 3 (first to last result)"]]
    for n in doc.nadirs:
        if n.value is None or n.on is None:
            rows.append([n.test_name, "not measured", "-", "-", "-"])
            continue
        rows.append(
            [
                n.test_name,
                f"{format_number(n.value)} {unit_label(n.unit)}",
                day_text(n.on),
                _graded(n.grade) if n.grade is not None else n.grade_note,
                _spells_text(n),
            ]
        )
    severe = [i for i, n in enumerate(doc.nadirs, start=1) if n.spells]
    body: list[Any] = [_table(rows, (0.27, 0.13, 0.14, 0.16, 0.3), width, bold_rows=severe)]
    return _section(NADIRS, body, need=TABLE_START)


def dlt_section(doc: ToxicitySummary) -> list[Any]:
    if doc.dlt is None:
        return []
    body = [para(doc.dlt.proposal, bold=True)]
    body += [para(line, SMALL_PT) for line in doc.dlt.evidence]
    body += [Spacer(1, 3), para(f"Investigator's review: {doc.dlt.review}")]
    body += [para(line) for line in doc.dlt.signatures]
    return _section(DLT, body)


def _exception_text(lines: Sequence[DoseLine], printed_on: date) -> str:
    """Every exception of one drug in words; consecutive unrecorded days are one run. A dose
    dated after the day of printing is still to come, not a dose nobody recorded."""
    parts: list[str] = []
    for d in lines:
        if d.not_recorded:
            continue
        reason = d.reason or "no reason recorded"
        if d.status in ("held", "missed"):
            parts.append(f"day {d.day} {d.status}: {reason}")
        elif d.planned_mg is None:
            parts.append(f"day {d.day} given {_mg(d.recorded_mg)}, not in the plan: {reason}")
        else:
            parts.append(
                f"day {d.day} given {_mg(d.recorded_mg)} instead of {_mg(d.planned_mg)}: {reason}"
            )
    waiting = [d for d in lines if d.not_recorded and d.on <= printed_on]
    to_come = [d for d in lines if d.not_recorded and d.on > printed_on]
    for group, words in ((waiting, "no outcome recorded"), (to_come, "still to come")):
        if group:
            s = "s" if len(group) != 1 else ""
            mg = sum((d.planned_mg or Decimal(0) for d in group), Decimal(0))
            runs = day_runs([d.day for d in group])
            parts.append(f"{words} on day{s} {runs} ({_mg(mg)})")
    return "; ".join(parts) or "every planned dose given as planned"


def _printed_on(doc: ToxicitySummary) -> date:
    return doc.stamp.printed_at.date()


def progress_note(doc: ToxicitySummary) -> str | None:
    """A cycle printed before it started or before its last day says so: an empty table or
    a low intensity then means "not yet", not "nothing happened"."""
    today = _printed_on(doc)
    if today < doc.start:
        return (
            f"This cycle has not started: day 1 is planned for {day_text(doc.start)}, and this "
            f"summary was printed on {day_text(today)}. Nothing below has happened yet."
        )
    if today < doc.end:
        day = (today - doc.start).days + 1
        return (
            f"Cycle under way: printed on cycle day {day} ({day_text(today)}), before its "
            f"last day ({day_text(doc.end)}). Doses and results after {day_text(today)} are "
            "still to come; the dose intensity counts them as planned but not given."
        )
    return None


def _no_doses(doc: ToxicitySummary) -> str:
    """No dose line: when the plan could not be computed (a note says why), the doses are
    not known, which is not the same as none planned."""
    if doc.notes:
        return "No dose recorded; the planned doses are not known (see the note at the top)."
    return "No doses planned or recorded."


def _intensity_row(i: DoseIntensity) -> list[str]:
    planned = str(i.planned) + (f" (+{i.unplanned} not in plan)" if i.unplanned else "")
    percent = "-" if i.percent is None else f"{format_number(i.percent)} %"
    return [
        i.drug_name,
        planned,
        str(i.given),
        str(i.held),
        str(i.missed),
        str(i.not_recorded),
        f"{_mg(i.given_mg)} of {_mg(i.planned_mg)}",
        percent,
    ]


def intensity_section(doc: ToxicitySummary, width: float) -> list[Any]:
    body: list[Any]
    if doc.intensity:
        rows = [
            [
                "Medicine",
                "Planned",
                "Given",
                "Held",
                "Missed",
                "No record",
                "Given of planned",
                "Intensity",
            ]
        ]
        rows += [_intensity_row(i) for i in doc.intensity]
        body = [_table(rows, (0.18, 0.1, 0.08, 0.07, 0.09, 0.12, 0.24, 0.12), width)]
        body.append(Spacer(1, 2))
        for i in doc.intensity:
            if i.exceptions:  # a drug given exactly as planned needs no line
                text = _exception_text(i.exceptions, _printed_on(doc))
                body.append(para(f"{i.drug_name}: {text}.", SMALL_PT))
    else:
        body = _none(_no_doses(doc))
    body.append(Spacer(1, 3))
    if doc.modifications:
        rows = [["Dose modification", "From", "To", "Reason", "Takes effect", "Decided"]]
        rows += [
            [
                m.drug_name,
                format_quantity(m.old_dose, m.unit),
                format_quantity(m.new_dose, m.unit),
                m.reason,
                f"cycle {m.effective_cycle} day {m.effective_day}",
                # the date first: a long name wraps after it, never through it
                f"{day_text(m.decided_on)}, {m.decided_by}",
            ]
            for m in doc.modifications
        ]
        body.append(_table(rows, (0.17, 0.11, 0.11, 0.23, 0.16, 0.22), width))
    else:
        body.append(para("No dose modifications in this cycle.", SMALL_PT))
    if doc.carried:
        # Without it a reduced dose reads as planned, "no modifications" beside it.
        earlier = "; ".join(
            f"{m.drug_name} {format_quantity(m.new_dose, m.unit)} since cycle "
            f"{m.effective_cycle} day {m.effective_day} ({m.reason})"
            for m in doc.carried
        )
        said = f"Doses set by earlier modifications, still in force: {earlier}."
        body.append(para(said, SMALL_PT))
    return _section(INTENSITY, body, need=TABLE_START)


def response_section(doc: ToxicitySummary) -> list[Any]:
    r = doc.response
    if r.category is None:
        text = r.explanation
    elif r.category == "not evaluable":  # IMWG: no category, so nothing to confirm (issue 13)
        when = day_text(r.assessed_on) if r.assessed_on else ""
        text = f"{r.explanation[:1].upper()}{r.explanation[1:]} ({when})."
    else:
        state = (
            "confirmed" if r.confirmed else "not confirmed (needs a second consecutive assessment)"
        )
        when = day_text(r.assessed_on) if r.assessed_on else ""
        text = f"{r.category} on {when}, {state}. {r.explanation}"
    body = [para(text)]
    if r.limited_by:
        body.append(para("Limited by: " + "; ".join(r.limited_by), bold=True))
    return [KeepTogether(_section(RESPONSE, body))]


# -- the details -------------------------------------------------------------------------
# Term, grade, attribution, onset, resolved, serious, DLT status. At 10 pt the attribution
# column holds "dexamethasone:" (the longest drug name) and a date column "30 Nov 2026" on one
# line, the grade column "G3 · grade ≥ 3"; the DLT status is prose and wraps.
AE_COLUMNS = (0.17, 0.15, 0.17, 0.13, 0.13, 0.09, 0.16)


def adverse_event_section(doc: ToxicitySummary, width: float) -> list[Any]:
    rows = [["CTCAE term", "Grade", "Attribution", "Onset", "Resolved", "Serious", "DLT status"]]
    rows += [
        [
            a.term,
            _graded(a.grade),
            a.attribution,
            day_text(a.onset),
            day_text(a.resolved) if a.resolved else "ongoing",
            "yes" if a.serious else "no",
            a.dlt_status,
        ]
        for a in doc.adverse_events
    ]
    body = (
        [_table(rows, AE_COLUMNS, width)]
        if doc.adverse_events
        else _none("No adverse events recorded in this cycle.")
    )
    return _section(ADVERSE_EVENTS, body, need=TABLE_START)


def chart_section(doc: ToxicitySummary, width: float) -> list[Any]:
    if not doc.chart:
        return []
    if not any(series.points for series in doc.chart):  # a page of empty axes says nothing
        return _section(CHARTS, _none(NO_COUNTS))
    last_day = max([(doc.end - doc.start).days + 1] + [d for s in doc.chart for d, _ in s.points])
    body: list[Any] = [count_chart(s, width, 116, last_day) for s in doc.chart]
    body.append(
        para(
            "Solid line and dots: results. Long dashes: grade 3 boundary. Short dots: grade 4 "
            "boundary. Grey: no sample taken that day.",
            SMALL_PT,
        )
    )
    return [KeepTogether(_section(CHARTS, body))]


def lab_section(doc: ToxicitySummary, width: float) -> list[Any]:
    rows = [["Collected", "Test", "Value", "CTCAE grade", "Term, or why no grade"]]
    rows += [
        [
            time_text(lab.collected_at),
            lab.test_name,
            f"{format_number(lab.value)} {unit_label(lab.unit)}",
            _graded(lab.grade),
            lab.grade_note,
        ]
        for lab in doc.labs
    ]
    body = (
        [_table(rows, (0.2, 0.25, 0.14, 0.15, 0.26), width)]
        if doc.labs
        else _none("No lab results in this cycle.")
    )
    return _section(LABS, body, need=TABLE_START)


def _given_text(line: DoseLine) -> str:
    """What the patient received. A held or missed dose's record keeps the dose it replaced,
    and a dose with no outcome yet has only the plan's amount: neither was given."""
    if line.status == GIVEN:
        return "amount not recorded" if line.recorded_mg is None else _mg(line.recorded_mg)
    if line.not_recorded:
        return "not recorded"
    return "none"


def _status_text(line: DoseLine, printed_on: date) -> str:
    if line.modified:
        return "given, modified"
    if line.not_recorded:  # "planned" or "no record": nothing is known of this dose yet
        return "still to come" if line.on > printed_on else "no outcome recorded"
    return line.status


def _to_come(line: DoseLine, printed_on: date) -> bool:
    return line.not_recorded and line.on > printed_on


# Day, date, medicine, planned, given, status, reason: at 10 pt "30 Dec 2026", "Dexamethasone",
# the header "Planned", "not recorded" and "no outcome recorded" each hold on one line.
APPENDIX_COLUMNS = (0.05, 0.13, 0.165, 0.095, 0.13, 0.215, 0.215)


def appendix(doc: ToxicitySummary, width: float, *, all_doses: bool) -> list[Any]:
    today = _printed_on(doc)
    exceptions = [d for d in doc.doses if d.exception]
    # a dose whose day has not come is no exception: the short listing leaves it out, says so
    later = [] if all_doses else [d for d in exceptions if _to_come(d, today)]
    shown = list(doc.doses) if all_doses else [d for d in exceptions if d not in later]
    title = APPENDIX_FULL if all_doses else APPENDIX_EXCEPTIONS
    intro = (
        "Every planned dose with what was recorded, and any recorded dose the plan did not hold."
        if all_doses
        # no command line: the nurse printing from the app has none to type
        else "Held, missed, not recorded and modified doses only; a dose given as planned is "
        "left out."
    )
    rows = [["Day", "Date", "Medicine", "Planned", "Given", "Status", "Reason"]]
    rows += [
        [
            str(d.day),
            day_text(d.on),
            d.drug_name,
            _mg(d.planned_mg),
            _given_text(d),
            _status_text(d, today),
            d.reason or ("-" if d.not_recorded else ""),
        ]
        for d in shown
    ]
    body: list[Any]
    if not doc.doses:
        body = _none(_no_doses(doc))
    elif not shown:
        done = "Every planned dose so far was given as planned." if later else None
        body = [para(intro, SMALL_PT), para(done or "Every planned dose was given as planned.")]
    else:
        body = [para(intro, SMALL_PT), Spacer(1, 2), _table(rows, APPENDIX_COLUMNS, width)]
    if later:
        n = len(later)
        body.append(
            para(
                f"{n} planned dose{'s' if n != 1 else ''} dated after {day_text(today)}, the day "
                "of printing, still to come: not listed.",
                SMALL_PT,
            )
        )
    # the appendix starts its own page when it has rows to list; one sentence does not
    return [PageBreak() if shown else Spacer(1, 6), *_section(title, body)]


def build_story(doc: ToxicitySummary, width: float, *, all_doses: bool = False) -> list[Any]:
    story = header(doc, width)
    progress = progress_note(doc)
    if progress is not None:
        story.append(para(progress, bold=True))
    for note in doc.notes:
        story.append(para(f"Note: {note}", bold=True))
    story += worst_section(doc, width)
    story += nadir_section(doc, width)
    story += dlt_section(doc)
    story += intensity_section(doc, width)
    story += response_section(doc)
    story += adverse_event_section(doc, width)
    story += chart_section(doc, width)
    story += lab_section(doc, width)
    story += appendix(doc, width, all_doses=all_doses)
    return story


def render_toxicity_summary(doc: ToxicitySummary, *, all_doses: bool = False) -> bytes:
    """The summary as PDF bytes; ``all_doses`` lists every dose in the appendix, not only the
    exceptions."""
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
        build_story(doc, size[0] - 2 * MARGIN, all_doses=all_doses),
        canvasmaker=footed_canvas(doc.patient, doc.stamp),
    )
    return buffer.getvalue()


def write_toxicity_summary(doc: ToxicitySummary, path: Path, *, all_doses: bool = False) -> None:
    data = render_toxicity_summary(doc, all_doses=all_doses)
    write_pdf(path, data)


__all__ = ["BODY_PT", "render_toxicity_summary", "write_toxicity_summary"]
