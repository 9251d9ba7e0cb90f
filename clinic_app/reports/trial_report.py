"""The trial report: escalation board, enrolment, response rates and Kaplan-Meier curves (PDF).

Takes the :class:`~clinic_app.reports.trial_models.TrialOverview` the services build from the
record and a :class:`PrintStamp` (printed when, by whom, from which record version); never SQL,
never Qt. The curves are drawn with ``reportlab.graphics``: the Kaplan-Meier step function, its 95 %
log-log band (dashed), a tick for every censored patient, and the numbers at risk in a row
under the time axis, aligned with the axis ticks.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportlab.graphics.shapes import Drawing, Line, PolyLine, String
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import KeepTogether, SimpleDocTemplate, Spacer, Table, TableStyle

from clinic_app.core.day_words import dates_in_words, day_text
from clinic_app.reports.fonts import TEXT, TEXT_BOLD, register_fonts
from clinic_app.reports.layout import (
    FOOTER_HEIGHT,
    MARGIN,
    SMALL_PT,
    lines_canvas,
    page_size,
    para,
    time_text,
    write_atomically,
)
from clinic_app.reports.models import PrintStamp

if TYPE_CHECKING:  # the renderer reads plain attributes; it never touches the record
    from clinic_app.core.survival import KaplanMeier
    from clinic_app.reports.trial_models import (
        EndpointSummary,
        EnrolmentSummary,
        EscalationBoard,
        SurvivalCurve,
        TrialOverview,
    )

GRID = colors.Color(0.55, 0.55, 0.55)
SHADE = colors.Color(0.9, 0.9, 0.9)
CURVE = colors.Color(0.05, 0.25, 0.55)
PLOT_HEIGHT = 62 * mm
AXIS_PT = 8.0
TITLE = "Trial report"
KAPLAN_MEIER = "Time to event (Kaplan-Meier)"


def _table(rows: Sequence[Sequence[str]], widths: Sequence[float], size: float = SMALL_PT) -> Table:
    cells = [[para(text, size, bold=(r == 0)) for text in row] for r, row in enumerate(rows)]
    table = Table(cells, colWidths=list(widths), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), TEXT),
                ("GRID", (0, 0), (-1, -1), 0.6, GRID),
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),  # ReportLab's 6 + 6 cost the words room
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _heading(text: str) -> Any:
    return para(text, 14, bold=True)


# -- escalation board ------------------------------------------------------------------------------
def board_section(board: EscalationBoard, width: float) -> list[Any]:
    story: list[Any] = [_heading(f"3+3 escalation · {board.protocol_name}"), Spacer(1, 3)]
    story.append(para(f"Decision: {board.decision_text}", bold=True))
    story.append(para(board.reason))
    story.append(para(board.next_patient))
    if board.cap_note:
        story.append(para(f"Note on the caps: {board.cap_note}", SMALL_PT))
    story.append(Spacer(1, 4))
    rows: list[list[str]] = [
        ["Level", "Doses", "State", "Treated", "DLT yes / no / pending (3+3 cohort)", "Replaced"]
    ]
    for level in board.levels:
        r = level.row
        state = (
            r.state.value
            if level.closed_reason is None
            else (f"{r.state.value}: {level.closed_reason}")
        )
        rows.append(
            [
                str(level.level),
                level.doses,
                state,
                str(r.treated) + (f" ({r.expansion} expansion)" if r.expansion else ""),
                f"{r.dlt_yes} / {r.dlt_no} / {r.dlt_pending}",
                str(r.not_evaluable),
            ]
        )
    fractions = (0.08, 0.26, 0.25, 0.14, 0.15, 0.12)
    story.append(_table(rows, [width * f for f in fractions]))
    if any(level.row.expansion for level in board.levels):
        # Without this a DLT in an expansion patient, listed below, reads as a miscount
        # ("1 / 5 / 0" beside three "confirmed yes" at the same level).
        story.append(
            para(
                "The DLT counts are the 3+3 cohort's, the ones the decision reads; expansion "
                "patients are counted under Treated and their DLT status is in the list below.",
                SMALL_PT,
            )
        )
    story.append(Spacer(1, 6))
    patients = [["Level", "Patient", "MRN", "Enrolled", "Evaluable", "DLT"]]
    for level in board.levels:
        for p in level.patients:
            evaluable = {True: "yes", False: "no (replaced)", None: "not yet known"}[p.evaluable]
            patients.append(
                [
                    str(p.level),
                    p.full_name,
                    p.mrn,
                    day_text(p.enrolled_on),
                    evaluable,
                    p.status_text,
                ]
            )
    if len(patients) > 1:
        fractions = (0.08, 0.22, 0.15, 0.14, 0.15, 0.26)
        story.append(_table(patients, [width * f for f in fractions]))
    return story


# -- enrolment -------------------------------------------------------------------------------------
def enrolment_section(summary: EnrolmentSummary, width: float) -> list[Any]:
    story: list[Any] = [_heading(f"Enrolment · {summary.protocol_name}"), Spacer(1, 3)]
    rows = [["Cap", "Enrolled"]] + [[c.label, c.text] for c in summary.caps]
    story.append(_table(rows, [width * 0.3, width * 0.4]))
    if summary.cap_note:
        story.append(para(f"Note: {summary.cap_note}", SMALL_PT))
    reasons = ", ".join(f"{reason} {n}" for reason, n in summary.off_study_reasons)
    story.append(Spacer(1, 3))
    story.append(
        para(
            f"In screening {summary.screening} · active {summary.active} · maintenance "
            f"{summary.maintenance} · off study {summary.off_study}"
            + (f" ({reasons})" if reasons else "")
        )
    )
    if summary.off_before_treatment:
        items = "; ".join(
            f"{o.full_name} (MRN {o.mrn}): {o.reason}"
            + (f", {day_text(o.off_study_on)}" if o.off_study_on else "")
            for o in summary.off_before_treatment
        )
        story.append(para(f"Off study before cycle 1 started (screen failures): {items}"))
    else:
        story.append(para("No patient went off study before cycle 1 started."))
    return story


# -- endpoints -------------------------------------------------------------------------------------
NO_ENDPOINTS = "This protocol defines no endpoints"


def rates_rows(endpoints: EndpointSummary) -> list[list[str]]:
    rows = [["Rate", "Responders / evaluable (95 % CI, exact Clopper-Pearson)"]]
    if endpoints.rates is None:
        rows.append(["no rate", NO_ENDPOINTS])
        return rows
    for rate in (
        endpoints.rates.initial,
        endpoints.rates.orr_per_protocol,
        endpoints.rates.orr_standard,
    ):
        if rate is not None:
            rows.append([rate.label, rate.ci.text()])
    if len(rows) == 1:
        rows.append(["no rate", "no patient is evaluable for efficacy yet"])
    return rows


def initial_response_header(endpoints: EndpointSummary) -> str:
    """The column of the initial response, named by the protocol's own cycle."""
    if endpoints.definitions is None:
        return "Initial response"
    return endpoints.definitions.initial_response_text.capitalize()


def _category(value: Any, confirmed: bool | None = None) -> str:
    if value is None:
        return "—"
    text = str(value.value)
    if confirmed is False:
        text += " (unconfirmed)"
    return text


def endpoints_section(endpoints: EndpointSummary, width: float) -> list[Any]:
    story: list[Any] = [_heading(f"Response · {endpoints.protocol_name}"), Spacer(1, 3)]
    story.append(_table(rates_rows(endpoints), [width * 0.5, width * 0.5]))
    if endpoints.rates is not None:
        story.append(
            para(
                "The protocol's overall response rate counts SD or better; the standard ORR "
                "(PR or better) is shown beside it. Best response: the best category met on "
                "two consecutive assessments (IMWG).",
                SMALL_PT,
            )
        )
    story.append(Spacer(1, 4))
    header = initial_response_header(endpoints)
    rows = [["Patient", "MRN", "Level", "Cycles", header, "Best", "Notes"]]
    for p in endpoints.patients:
        seen = f"; {p.best_unconfirmed.value} seen once" if p.best_unconfirmed else ""
        rows.append(
            [
                p.full_name,
                p.mrn,
                "—" if p.dose_level is None else str(p.dose_level),
                str(p.cycles_completed),
                _category(p.initial_response, p.initial_response_confirmed),
                _category(p.best_response) + seen,
                dates_in_words("; ".join(p.notes)),
            ]
        )
    if len(rows) > 1:
        # At 10 pt: a name's longest word ("Fernández-García"), the MRN, "Cycles" and
        # "PR (unconfirmed)" each keep to their column without a word cut in two.
        fractions = (0.185, 0.135, 0.07, 0.08, 0.18, 0.14, 0.21)
        story.append(_table(rows, [width * f for f in fractions]))
    story.append(Spacer(1, 4))
    if endpoints.not_evaluable:
        story.append(para("Not evaluable for efficacy or left out of a rate", bold=True))
        excluded = [["Patient", "MRN", "Reason"]] + [
            [e.full_name, e.mrn, dates_in_words(e.reason)] for e in endpoints.not_evaluable
        ]
        story.append(_table(excluded, [width * 0.22, width * 0.16, width * 0.62]))
    return story


def _x(days: float, max_days: int, left: float, plot_w: float) -> float:
    return left + plot_w * days / max(max_days, 1)


def _step_points(
    km: KaplanMeier, pick: str, max_days: int, left: float, bottom: float, w: float, h: float
) -> list[float]:
    points = [left, bottom + h]
    value = 1.0
    for step in km.steps:
        new = float(getattr(step, pick))
        if new == value:
            continue
        x = _x(step.time_days, max_days, left, w)
        points += [x, bottom + h * value, x, bottom + h * new]
        value = new
    points += [_x(max_days, max_days, left, w), bottom + h * value]
    return points


def km_drawing(curve: SurvivalCurve, width: float) -> Drawing:
    """The Kaplan-Meier plot with censoring ticks and the numbers at risk under the axis."""
    register_fonts()
    km = curve.km
    assert km is not None
    label_w = 22 * mm
    left, right = label_w, width - 10 * mm
    plot_w = right - left
    row = AXIS_PT * 1.6
    bottom = 2 * row + 6 * mm  # room for the axis labels and the at-risk row
    drawing = Drawing(width, PLOT_HEIGHT + bottom + 4)
    h = PLOT_HEIGHT
    ticks = curve.at_risk_times
    max_days = max(ticks[-1], max(s.time_days for s in km.steps))
    if max_days > ticks[-1] and len(ticks) > 1:
        max_days = ticks[-1] + (ticks[1] - ticks[0])
    # axes and grid
    drawing.add(Line(left, bottom, right, bottom, strokeColor=colors.black, strokeWidth=0.8))
    drawing.add(Line(left, bottom, left, bottom + h, strokeColor=colors.black, strokeWidth=0.8))
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = bottom + h * frac
        if frac:
            drawing.add(Line(left, y, right, y, strokeColor=SHADE, strokeWidth=0.5))
        drawing.add(
            String(
                left - 3,
                y - 3,
                f"{int(frac * 100)} %",
                fontName=TEXT,
                fontSize=AXIS_PT,
                textAnchor="end",
            )
        )
    for t in ticks:
        x = _x(t, max_days, left, plot_w)
        drawing.add(Line(x, bottom, x, bottom - 3, strokeColor=colors.black, strokeWidth=0.8))
        drawing.add(
            String(
                x,
                bottom - 3 - AXIS_PT,
                str(t),
                fontName=TEXT,
                fontSize=AXIS_PT,
                textAnchor="middle",
            )
        )
    drawing.add(
        String(
            right + 3 * mm, bottom - 3, "days", fontName=TEXT, fontSize=AXIS_PT, textAnchor="start"
        )
    )
    # numbers at risk, aligned with the ticks
    at_risk_y = bottom - 3 - AXIS_PT - row - 2
    drawing.add(String(0, at_risk_y, "At risk", fontName=TEXT_BOLD, fontSize=AXIS_PT))
    for t, n in zip(ticks, curve.at_risk, strict=True):
        drawing.add(
            String(
                _x(t, max_days, left, plot_w),
                at_risk_y,
                str(n),
                fontName=TEXT,
                fontSize=AXIS_PT,
                textAnchor="middle",
            )
        )
    # 95 % log-log band (dashed) and the estimate
    for pick in ("lower", "upper"):
        drawing.add(
            PolyLine(
                _step_points(km, pick, max_days, left, bottom, plot_w, h),
                strokeColor=CURVE,
                strokeWidth=0.6,
                strokeDashArray=[2, 2],
            )
        )
    drawing.add(
        PolyLine(
            _step_points(km, "survival", max_days, left, bottom, plot_w, h),
            strokeColor=CURVE,
            strokeWidth=1.6,
        )
    )
    for time_days, survival in km.censor_marks:
        x = _x(time_days, max_days, left, plot_w)
        y = bottom + h * survival
        drawing.add(Line(x, y - 3.5, x, y + 3.5, strokeColor=colors.black, strokeWidth=1.1))
    return drawing


def curve_section(curve: SurvivalCurve, width: float, lead: Sequence[Any] = ()) -> list[Any]:
    """One curve kept on one page; ``lead`` (the section's heading, before the first curve)
    goes with it, so a heading never ends a page alone."""
    title = f"{curve.label[0].upper()}{curve.label[1:]} ({curve.origin})"
    story: list[Any] = [*lead, para(title, 12, bold=True)]
    if curve.km is None:
        story.append(para("No patient has data for this endpoint yet."))
    else:
        km = curve.km
        story.append(
            para(
                f"{_count(km.n, 'patient')}, {_count(km.events, 'event')}, "
                f"{km.n - km.events} censored · median "
                f"{km.median_summary('log-log')}",
                SMALL_PT,
            )
        )
        story.append(km_drawing(curve, width))
        story.append(
            para(
                "Solid line: Kaplan-Meier estimate; dashed: 95 % confidence band (log-log); "
                "vertical tick: a censored patient.",
                SMALL_PT,
            )
        )
    if curve.excluded:
        items = "; ".join(
            f"{e.full_name} (MRN {e.mrn}): {dates_in_words(e.reason)}" for e in curve.excluded
        )
        story.append(para(f"Not included: {items}", SMALL_PT))
    return [KeepTogether(story), Spacer(1, 8)]


# -- the document ----------------------------------------------------------------------------------
def build_story(overview: TrialOverview, width: float) -> list[Any]:
    story: list[Any] = [
        para(f"{TITLE} · {overview.protocol_name}", 18, bold=True),
        para(f"Data as of {day_text(overview.as_of)} · record version {overview.record_version}"),
        para(
            f"Counts only what the record held dated on or before {day_text(overview.as_of)}: "
            "enrolments, cycle starts, DLT verdicts, response assessments, off-study and "
            "endpoint dates; follow-up ends on that day at the latest.",
            SMALL_PT,
        ),
    ]
    if overview.undated:
        story.append(para("No date to filter by (read as stated):", SMALL_PT, bold=True))
        story += [para(f"• {note}", SMALL_PT) for note in overview.undated]
    story.append(Spacer(1, 8))
    if overview.board is not None:
        story += board_section(overview.board, width)
        story.append(Spacer(1, 10))
    story += enrolment_section(overview.enrolment, width)
    story.append(Spacer(1, 10))
    story += endpoints_section(overview.endpoints, width)
    story.append(Spacer(1, 10))
    heading = [_heading(KAPLAN_MEIER), Spacer(1, 3)]
    if not overview.endpoints.curves:
        story.append(KeepTogether([*heading, para(f"{NO_ENDPOINTS}.")]))
    for number, curve in enumerate(overview.endpoints.curves):
        story += curve_section(curve, width, lead=heading if number == 0 else ())
    return story


def _footed_canvas(overview: TrialOverview, stamp: PrintStamp) -> type[Canvas]:
    """The shared footed canvas with the trial report's two footer lines."""
    first = (
        f"{TITLE} · {overview.protocol_name} · data as of {day_text(overview.as_of)} · "
        f"record version {stamp.record_version}"
    )
    return lines_canvas(first, f"printed {time_text(stamp.printed_at)} by {stamp.printed_by}")


def render_trial_report(overview: TrialOverview, stamp: PrintStamp) -> bytes:
    """The report as PDF bytes (portrait)."""
    register_fonts()
    buffer = BytesIO()
    size = page_size(stamp.paper)
    doc = SimpleDocTemplate(
        buffer,
        pagesize=size,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=FOOTER_HEIGHT + 3,
        title=f"{TITLE} {overview.protocol_name}",
        author=stamp.printed_by,
    )
    doc.build(
        build_story(overview, size[0] - 2 * MARGIN),
        canvasmaker=_footed_canvas(overview, stamp),
    )
    return buffer.getvalue()


def write_trial_report(overview: TrialOverview, stamp: PrintStamp, path: Path) -> None:
    """Write the report to ``path`` (atomically: never a half-written file)."""
    data = render_trial_report(overview, stamp)
    write_atomically(path, lambda temp: temp.write_bytes(data))
