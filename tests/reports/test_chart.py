"""The count chart: round ticks, every cycle day, grey where no sample was taken (issue 20)."""

from __future__ import annotations

from decimal import Decimal

from reportlab.graphics.shapes import Rect, String

from clinic_app.reports.chart import NO_SAMPLE, count_chart, nice_ticks
from clinic_app.reports.models import ChartSeries

PLATELETS = ChartSeries(
    "Platelet count",
    "10^9/L",
    ((1, Decimal("225.5")), (8, Decimal("112.8")), (15, Decimal("45")), (22, Decimal("60"))),
    Decimal(50),
    Decimal(25),
)


def strings(drawing: object) -> list[str]:
    return [s.text for s in drawing.contents if isinstance(s, String)]  # type: ignore[attr-defined]


def test_round_ticks_not_the_data_maximum() -> None:
    # highest 225.5 -> steps of 50 (the first of 1, 2, 2.5, 5 x 10 giving <= 6 ticks): 0..250
    assert [str(t) for t in nice_ticks(Decimal("225.5"))] == ["0", "50", "100", "150", "200", "250"]
    # 1.2 with the grade-3 bound 1.0 x 1.5 = 1.5 on top: steps of 0.5 -> 0, 0.5, 1, 1.5
    assert [float(t) for t in nice_ticks(Decimal("1.5"))] == [0, 0.5, 1, 1.5]
    text = strings(count_chart(PLATELETS, 500, 120, 28))
    assert {"0", "50", "100", "150", "200", "250"} <= set(text)
    assert "225.5" not in text and "112.8" not in text and "112.75" not in text
    assert "Platelet count (×10⁹/L)" in text  # the unit in the title


def test_every_day_of_the_cycle_and_grey_where_no_sample() -> None:
    drawing = count_chart(PLATELETS, 500, 120, 31)
    grey = [r for r in drawing.contents if isinstance(r, Rect) and r.fillColor == NO_SAMPLE]
    # 31 days, samples on days 1, 8, 15, 22: 31 - 4 = 27 grey days
    assert len(grey) == 27
    text = strings(drawing)
    assert "1" in text and "31" in text and "cycle day" in text
    # the grade boundaries are labelled in the plot
    assert "grade 3 below 50" in text and "grade 4 below 25" in text


def test_a_count_without_a_grade_4_value_draws_grade_3_only() -> None:
    hb = ChartSeries("Hemoglobin", "g/L", ((3, Decimal(95)),), Decimal(80), None)
    text = strings(count_chart(hb, 500, 120, 28))
    assert "grade 3 below 80" in text and not any(t.startswith("grade 4") for t in text)
