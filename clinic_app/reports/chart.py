"""A small black-and-white chart of a count over one cycle with its CTCAE grade 3/4 bounds.

Drawn with reportlab.graphics shapes so every mark is ours to place: the series is a solid
line with filled dots; grade 3 is a long-dashed line and grade 4 a short-dotted line, each
labelled in words, so nothing depends on colour.
"""

from __future__ import annotations

from decimal import Decimal

from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, String
from reportlab.lib import colors

from clinic_app.core.ismp import format_number
from clinic_app.core.labs import unit_label
from clinic_app.reports.fonts import TEXT, TEXT_BOLD, register_fonts
from clinic_app.reports.models import ChartSeries

LABEL_PT = 8
GRADE3_DASH = [6, 3]
GRADE4_DASH = [1.5, 2.5]


def _top(series: ChartSeries) -> float:
    highest = max([float(v) for _, v in series.points] + [float(series.grade3_below) * 2])
    return highest * 1.1


def count_chart(series: ChartSeries, width: float, height: float, last_day: int) -> Drawing:
    """One panel: x = cycle day 1..``last_day``, y = the count from 0."""
    register_fonts()
    drawing = Drawing(width, height)
    left, right, bottom, top = 34.0, 8.0, 24.0, 18.0
    plot_w, plot_h = width - left - right, height - bottom - top
    y_max = _top(series)
    span = max(last_day - 1, 1)

    def x_of(day: float) -> float:
        return left + (day - 1) / span * plot_w

    def y_of(value: float) -> float:
        return bottom + value / y_max * plot_h

    title = f"{series.label} ({unit_label(series.unit)})"
    drawing.add(String(left, height - 11, title, fontName=TEXT_BOLD, fontSize=9))
    drawing.add(Line(left, bottom, left + plot_w, bottom, strokeWidth=0.8))
    drawing.add(Line(left, bottom, left, bottom + plot_h, strokeWidth=0.8))
    for day in sorted({1, 8, 15, 22, last_day}):
        x = x_of(day)
        drawing.add(Line(x, bottom, x, bottom - 3, strokeWidth=0.8))
        drawing.add(
            String(x, bottom - 12, str(day), fontName=TEXT, fontSize=LABEL_PT, textAnchor="middle")
        )
    drawing.add(
        String(
            left + plot_w / 2, 2, "cycle day", fontName=TEXT, fontSize=LABEL_PT, textAnchor="middle"
        )
    )
    for fraction in (0, 0.5, 1):
        value = Decimal(str(round(y_max * fraction, 1)))
        y = y_of(float(value))
        drawing.add(Line(left - 3, y, left, y, strokeWidth=0.8))
        drawing.add(
            String(
                left - 5,
                y - 3,
                format_number(value),
                fontName=TEXT,
                fontSize=LABEL_PT,
                textAnchor="end",
            )
        )
    # CTCAE v5.0 bounds from the grading data: below grade3_below is grade 3, below grade4_below 4.
    for grade, bound, dash in (
        (3, series.grade3_below, GRADE3_DASH),
        (4, series.grade4_below, GRADE4_DASH),
    ):
        y = y_of(float(bound))
        drawing.add(Line(left, y, left + plot_w, y, strokeWidth=0.9, strokeDashArray=dash))
        drawing.add(
            String(
                left + plot_w,
                y + 2,
                f"grade {grade} below {format_number(bound)}",
                fontName=TEXT,
                fontSize=LABEL_PT - 1,
                textAnchor="end",
            )
        )
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
                fontSize=9,
                textAnchor="middle",
            )
        )
    return drawing
