"""A black-and-white chart of one count over one cycle with its CTCAE grade 3/4 bounds.

Drawn with reportlab.graphics shapes so every mark is ours to place:

- the x axis is every day of the cycle, one slot per day; a day with no sample is shaded
  light grey, so a reader sees at once how often the count was measured;
- the y axis runs from 0 to a round number with round ticks (0, 0.5, 1, 1.5 ...) and the unit
  in the title, never the raw maximum of the data;
- the series is a solid line with filled dots; grade 3 is a long-dashed line and grade 4 a
  short-dotted line, each labelled in words inside the plot, so nothing depends on colour;
  the data are drawn last, over the labels.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors

from clinic_app.core.ismp import format_number
from clinic_app.core.labs import unit_label
from clinic_app.reports.fonts import TEXT, TEXT_BOLD, register_fonts, text_width
from clinic_app.reports.models import ChartSeries

LABEL_PT = 8
TITLE_PT = 9
GRADE3_DASH: list[float] = [6, 3]
GRADE4_DASH: list[float] = [1.5, 2.5]
NO_SAMPLE = colors.Color(0.88, 0.88, 0.88)
_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))


def nice_ticks(highest: Decimal, *, most: int = 6) -> tuple[Decimal, ...]:
    """Round ticks from 0 to at least ``highest``: steps of 1, 2, 2.5 or 5 times a power of
    ten, at most ``most`` ticks.

    >>> [format_number(t) for t in nice_ticks(Decimal("225.5"))]
    ['0', '50', '100', '150', '200', '250']
    >>> [format_number(t) for t in nice_ticks(Decimal("2.2"))]
    ['0', '0.5', '1', '1.5', '2', '2.5']
    >>> [format_number(t) for t in nice_ticks(Decimal("0"))]
    ['0', '1']
    """
    if highest <= 0:
        return (Decimal(0), Decimal(1))
    power = Decimal(10) ** (highest.adjusted() - 1)
    for _ in range(3):
        for step in _STEPS:
            size = step * power
            count = int((highest / size).to_integral_value(rounding=ROUND_CEILING))
            if count + 1 <= most:
                return tuple(size * i for i in range(count + 1))
        power *= 10
    raise AssertionError("unreachable: a step of 100 x the value always fits")


def count_chart(series: ChartSeries, width: float, height: float, last_day: int) -> Drawing:
    """One panel: x = cycle day 1..``last_day`` (one slot each), y = the count from 0."""
    register_fonts()
    drawing = Drawing(width, height)
    left, right, bottom, top = 38.0, 6.0, 24.0, 16.0
    plot_w, plot_h = width - left - right, height - bottom - top
    values = [v for _, v in series.points]
    highest = max([*values, series.grade3_below * Decimal("1.5")])
    ticks = nice_ticks(highest)
    y_max = float(ticks[-1])
    slot = plot_w / max(last_day, 1)

    def x_of(day: float) -> float:
        """The centre of the day's slot."""
        return left + (day - 0.5) * slot

    def y_of(value: float) -> float:
        return bottom + value / y_max * plot_h

    title = f"{series.label} ({unit_label(series.unit)})"
    drawing.add(String(left, height - 11, title, fontName=TEXT_BOLD, fontSize=TITLE_PT))

    sampled = {day for day, _ in series.points}
    for day in range(1, last_day + 1):
        if day not in sampled:
            drawing.add(
                Rect(
                    left + (day - 1) * slot,
                    bottom,
                    slot,
                    plot_h,
                    fillColor=NO_SAMPLE,
                    strokeColor=None,
                    strokeWidth=0,
                )
            )
    drawing.add(Line(left, bottom, left + plot_w, bottom, strokeWidth=0.8))
    drawing.add(Line(left, bottom, left, bottom + plot_h, strokeWidth=0.8))
    labelled = {1, last_day, *range(8, last_day, 7)}
    if last_day - max(d for d in labelled if d != last_day) < 3:
        labelled.discard(max(d for d in labelled if d != last_day))  # no crowding at the end
    for day in range(1, last_day + 1):
        x = x_of(day)
        long_tick = day in labelled
        drawing.add(Line(x, bottom, x, bottom - (3 if long_tick else 1.5), strokeWidth=0.6))
        if long_tick:
            drawing.add(
                String(
                    x, bottom - 11, str(day), fontName=TEXT, fontSize=LABEL_PT, textAnchor="middle"
                )
            )
    drawing.add(
        String(
            left + plot_w / 2, 2, "cycle day", fontName=TEXT, fontSize=LABEL_PT, textAnchor="middle"
        )
    )
    for tick in ticks:
        y = y_of(float(tick))
        drawing.add(Line(left - 3, y, left, y, strokeWidth=0.8))
        drawing.add(
            String(
                left - 5,
                y - 3,
                format_number(tick),
                fontName=TEXT,
                fontSize=LABEL_PT,
                textAnchor="end",
            )
        )
    # CTCAE v5.0 bounds from the grading data: below grade3_below is grade 3, below grade4_below 4.
    bounds = [(3, series.grade3_below, GRADE3_DASH)]
    if series.grade4_below is not None:
        bounds.append((4, series.grade4_below, GRADE4_DASH))
    for grade, bound, dash in bounds:
        y = y_of(float(bound))
        drawing.add(Line(left, y, left + plot_w, y, strokeWidth=0.9, strokeDashArray=dash))
        label = f"grade {grade} below {format_number(bound)}"
        # Each label sits just above its own line on a white patch, grade 3 at the right end
        # and grade 4 at the left, so the two never overlap however close the lines are.
        label_w = text_width(label, LABEL_PT)
        x = left + plot_w - 2 - label_w if grade == 3 else left + 3
        drawing.add(
            Rect(x - 1, y + 1, label_w + 2, LABEL_PT, fillColor=colors.white, strokeColor=None)
        )
        drawing.add(String(x, y + 2.5, label, fontName=TEXT, fontSize=LABEL_PT))
    points = [(x_of(day), y_of(float(v))) for day, v in series.points]
    if len(points) > 1:
        flat = [coordinate for point in points for coordinate in point]
        drawing.add(PolyLine(flat, strokeWidth=1.3, strokeColor=colors.black))
    for x, y in points:
        drawing.add(Circle(x, y, 2.4, fillColor=colors.black, strokeColor=colors.black))
    if not points:
        drawing.add(
            String(
                left + plot_w / 2,
                bottom + plot_h / 2,
                "no results in this cycle",
                fontName=TEXT,
                fontSize=TITLE_PT,
                textAnchor="middle",
            )
        )
    return drawing
