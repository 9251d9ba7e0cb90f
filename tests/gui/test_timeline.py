"""The timeline view model from core objects (hand-worked dates and grades) and the painted
widget: zoom changes the picture, tooltips and clicks hit the right marker, today's line."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QFontMetricsF, QHelpEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from clinic_app.core.cycles import CycleRow, CycleStatus
from clinic_app.core.records import (
    AdverseEvent,
    DoseEvent,
    DoseModification,
    DoseStatus,
    LabResult,
    ResponseAssessment,
)
from clinic_app.gui.chart.timeline import TimelineCanvas, TimelineWidget
from clinic_app.gui.chart.timeline_model import TimelineData, build_timeline, grade_result

D = Decimal

# The offscreen platform plugin cannot do these window-manager calls; they are not our warnings.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")


def lab(test: str, value: str, unit: str, on: date, lab_id: int, **limits: str) -> LabResult:
    v = D(value)
    return LabResult(
        test=test,
        value=v,
        unit=unit,
        collected_at=datetime(on.year, on.month, on.day, 8, 30, tzinfo=UTC),
        value_si=v,
        lln=D(limits["lln"]) if "lln" in limits else None,
        uln=D(limits["uln"]) if "uln" in limits else None,
        id=lab_id,
    )


def two_cycles(delay_recorded: int = 7) -> list[CycleRow]:
    return [
        CycleRow(
            1, 1, "induction", date(2024, 1, 1), CycleStatus.COMPLETED, date(2024, 1, 1), id=11
        ),
        CycleRow(
            1,
            2,
            "maintenance",
            date(2024, 1, 29),
            CycleStatus.STARTED,
            date(2024, 2, 5),
            delay_days=delay_recorded,
            delay_reason="ANC below 1.0",
            id=12,
        ),
    ]


def sample(today: date = date(2024, 2, 20)) -> TimelineData:
    doses = [
        DoseEvent(11, 1, "dexamethasone", D(40), DoseStatus.GIVEN, id=101),
        DoseEvent(11, 2, "lenalidomide", D(25), DoseStatus.HELD, reason="rash", id=102),
        DoseEvent(12, 9, "lenalidomide", D(25), DoseStatus.MISSED, id=103),
        DoseEvent(12, 10, "lenalidomide", D(25), DoseStatus.PLANNED, id=104),
    ]
    labs = [
        # Baseline creatinine (before cycle 1 day 1): 80 µmol/L.
        lab("creatinine", "80", "umol/L", date(2023, 12, 30), 1, uln="100"),
        lab("anc", "0.8", "10^9/L", date(2024, 1, 15), 2, lln="1.8"),
        lab("platelets", "60", "10^9/L", date(2024, 1, 15), 3, lln="150"),
        lab("creatinine", "130", "umol/L", date(2024, 2, 12), 4, uln="100"),
        lab("anc", "1.7", "10^9/L", date(2024, 2, 19), 5),
    ]
    aes = [
        AdverseEvent("Nausea", 2, date(2024, 1, 5), date(2024, 1, 9), id=21),
        AdverseEvent("Febrile neutropenia", 3, date(2024, 1, 16), id=22),
    ]
    responses = [
        ResponseAssessment(date(2023, 12, 28), serum_m_protein_g_dl=D("3.0"), id=31),
        ResponseAssessment(date(2024, 1, 29), serum_m_protein_g_dl=D("1.2"), id=32),
        ResponseAssessment(date(2024, 2, 26), serum_m_protein_g_dl=D("1.0"), id=33),
    ]
    mods = [
        DoseModification(
            "dexamethasone", D(40), D(20), "insomnia", 2, "Dr Ada", date(2024, 2, 1), id=41
        )
    ]
    return build_timeline(
        cycles=two_cycles(),
        doses=doses,
        labs=labs,
        adverse_events=aes,
        responses=responses,
        modifications=mods,
        cycle_length_days=28,
        today=today,
        drug_order=["dexamethasone", "thalidomide", "lenalidomide"],
        drug_names={"dexamethasone": "Dexamethasone", "lenalidomide": "Lenalidomide"},
        drug_units={"dexamethasone": "mg"},
        maintenance_phase="maintenance",
    )


# -- view model ---------------------------------------------------------------------------------


def test_cycle_boundaries_with_a_delay() -> None:
    data = sample()
    c1, c2 = data.cycles
    # Rules §1: day d on start + (d - 1); 28-day cycle: 1 Jan + 27 = 28 Jan.
    assert (c1.start, c1.end) == (date(2024, 1, 1), date(2024, 1, 28))
    # Planned for 29 Jan (1 Jan + 28), started 5 Feb: gap 29 Jan .. 4 Feb = 7 days.
    assert c2.gap_start == date(2024, 1, 29)
    assert (c2.start - c2.gap_start).days == 7
    # 5 Feb + 27 days = 3 Mar (2024 is a leap year: 5 Feb + 24 = 29 Feb, + 3 = 3 Mar).
    assert c2.end == date(2024, 3, 3)
    assert c2.is_maintenance and not c1.is_maintenance
    assert data.problems == ()
    # Axis: from the baseline assessment (28 Dec 2023) to the end of cycle 2.
    assert (data.first_day, data.last_day) == (date(2023, 12, 28), date(2024, 3, 3))


def test_a_recorded_delay_that_disagrees_with_the_dates_is_reported() -> None:
    data = build_timeline(
        cycles=two_cycles(delay_recorded=5), cycle_length_days=28, today=date(2024, 1, 1)
    )
    assert data.problems == (
        "Cycle 2: the record says a delay of 5 d but it starts 7 d after cycle 1 ended.",
    )


def test_overlapping_cycles_are_reported_and_shortened() -> None:
    rows = two_cycles(delay_recorded=0)
    early = CycleRow(
        1, 2, "induction", date(2024, 1, 20), CycleStatus.STARTED, date(2024, 1, 20), id=12
    )
    data = build_timeline(cycles=[rows[0], early], cycle_length_days=28, today=date(2024, 1, 1))
    assert data.cycles[0].end == date(2024, 1, 19)
    assert "before cycle 1 ends (2024-01-28)" in data.problems[0]


def test_lanes_follow_protocol_order_and_place_doses_on_dates() -> None:
    data = sample()
    assert [lane.drug for lane in data.lanes] == ["dexamethasone", "thalidomide", "lenalidomide"]
    assert [lane.label for lane in data.lanes] == ["Dexamethasone", "Thalidomide", "Lenalidomide"]
    lenalidomide = data.lanes[2].doses
    assert [(d.id, d.on, d.status) for d in lenalidomide] == [
        (102, date(2024, 1, 2), DoseStatus.HELD),  # cycle 1 day 2 = 1 Jan + 1
        (103, date(2024, 2, 13), DoseStatus.MISSED),  # cycle 2 day 9 = 5 Feb + 8
        (104, date(2024, 2, 14), DoseStatus.PLANNED),
    ]
    assert data.lanes[1].doses == ()  # thalidomide: in the protocol, nothing recorded


def test_worst_grade_per_lab_day() -> None:
    days = {d.on: d for d in sample().lab_days}
    # CTCAE v5.0: ANC 0.8 (< 1.0, >= 0.5) = G3; platelets 60 (< 75, >= 50) = G2 -> worst G3.
    jan15 = days[date(2024, 1, 15)]
    assert (jan15.worst_grade, jan15.uncertain, jan15.worst_id) == (3, False, 2)
    assert jan15.grade_label == "G3"
    # Creatinine 130 with baseline 80 (before day 1): > 1.5 x 80 = 120 -> G2 (only > ULN 100
    # would be G1; 1.5 x ULN = 150 is not passed).
    assert days[date(2024, 2, 12)].worst_grade == 2
    # ANC 1.7 without the lab's LLN: G0 or G1, so the day reads "G0+".
    unsure = days[date(2024, 2, 19)]
    assert (unsure.worst_grade, unsure.uncertain, unsure.grade_label) == (0, True, "G0+")


@pytest.mark.parametrize(
    ("value", "grade"),
    [
        ("1.0", 2),  # not < 1.0: grade 2 (< 1.5)
        ("0.99", 3),  # just below 1.0
        ("0.5", 3),  # not < 0.5
        ("0.49", 4),  # < 0.5
        ("1.8", 0),  # at the LLN: not below it
        ("1.79", 1),  # just below the LLN 1.8
    ],
)
def test_anc_grade_boundaries(value: str, grade: int) -> None:
    # CTCAE v5.0: Neutrophil count decreased, LLN 1.8 x10^9/L.
    result = grade_result(lab("anc", value, "10^9/L", date(2024, 1, 1), 1, lln="1.8"))
    assert result.grade == grade


def test_lab_without_ctcae_term_is_listed_not_graded() -> None:
    graded = grade_result(lab("serum_m_protein", "30", "g/L", date(2024, 1, 1), 9))
    assert (graded.term, graded.grade, graded.grade_text) == (None, None, "not graded")


def test_responses_are_classified_against_the_first_assessment() -> None:
    marks = sample().responses
    # 3.0 -> 1.2 g/dL: (3.0 - 1.2) / 3.0 = 60 % >= 50 % -> PR; 1.0: 66.7 % -> PR, confirmed.
    assert [(m.id, m.category, m.confirmed) for m in marks] == [
        (31, "baseline", False),
        (32, "PR", False),
        (33, "PR", True),
    ]
    assert [m.label for m in marks] == ["Baseline", "PR", "PR ✓"]


def test_unclassifiable_responses_say_why() -> None:
    rows = [ResponseAssessment(date(2024, 1, 1), id=1), ResponseAssessment(date(2024, 2, 1), id=2)]
    # cycle 1 day 1 is 2024-01-01, so the first study is the pre-treatment baseline
    data = build_timeline(
        cycles=two_cycles(), responses=rows, cycle_length_days=28, today=date(2024, 1, 1)
    )
    assert data.responses[1].category is None
    assert data.responses[1].explanation.startswith("not classified: baseline has no serum")
    assert data.problems[0].startswith("Responses could not be classified")


def test_response_baseline_is_the_one_the_summary_uses() -> None:
    # core.baselines.response_baseline: the last study on or before cycle 1 day 1
    # (2024-01-01) that closes no cycle. Serum M-protein 4.0 on 2023-12-01, 3.0 on 2023-12-28;
    # 1.4 g/dL in February is PR, explained against 3.0 (53 % below), not the older 4.0.
    rows = [
        ResponseAssessment(date(2023, 12, 1), serum_m_protein_g_dl=D("4.0"), id=1),
        ResponseAssessment(date(2023, 12, 28), serum_m_protein_g_dl=D("3.0"), id=2),
        ResponseAssessment(date(2024, 2, 1), serum_m_protein_g_dl=D("1.4"), id=3),
    ]
    data = build_timeline(
        cycles=two_cycles(), responses=rows, cycle_length_days=28, today=date(2024, 2, 20)
    )
    marks = {m.id: m for m in data.responses}
    assert marks[1].explanation == "earlier pre-treatment study"
    assert marks[2].explanation == "pre-treatment"
    assert marks[3].category == "PR"
    assert "3 g/dL" in marks[3].explanation
    # without a started cycle there is no baseline to compare with: said, not guessed
    none = build_timeline(cycles=[], responses=rows, cycle_length_days=28, today=date(2024, 2, 20))
    assert all(m.category is None for m in none.responses)
    assert none.problems[0].startswith("Responses are not classified: no pre-treatment")


def test_modification_lands_on_its_effective_cycle_day() -> None:
    [mark] = sample().modifications
    assert mark.on == date(2024, 2, 5)  # cycle 2 day 1
    assert mark.label == "20 mg"


# -- the painted widget ---------------------------------------------------------------------------


@pytest.fixture
def widget(qtbot: QtBot) -> TimelineWidget:
    w = TimelineWidget()
    qtbot.addWidget(w)
    w.resize(1000, 420)
    w.show()
    qtbot.waitExposed(w)
    w.set_data(sample())
    return w


def test_zoom_changes_the_picture(widget: TimelineWidget) -> None:
    widget.fit()
    fitted = widget.canvas.grab().toImage()
    fit_ppd = widget.canvas.pixels_per_day
    widget.zoom_in()
    assert widget.canvas.pixels_per_day == pytest.approx(fit_ppd * 1.25)
    assert widget.canvas.grab().toImage() != fitted
    assert widget.slider.value() > 0
    widget.fit()
    assert widget.canvas.pixels_per_day == pytest.approx(fit_ppd)
    assert widget.slider.value() == 0


def test_fit_shows_the_whole_treatment(widget: TimelineWidget) -> None:
    widget.set_pixels_per_day(40)
    widget.fit()
    viewport = widget.scroll_area.viewport().width()
    assert widget.canvas.width() <= viewport + 1


def test_keys_zoom(qtbot: QtBot, widget: TimelineWidget) -> None:
    widget.show()
    qtbot.waitExposed(widget)
    widget.canvas.setFocus()
    before = widget.canvas.pixels_per_day
    qtbot.keyClick(widget.canvas, Qt.Key.Key_Plus)
    assert widget.canvas.pixels_per_day == pytest.approx(before * 1.25)
    qtbot.keyClick(widget.canvas, Qt.Key.Key_Minus)
    assert widget.canvas.pixels_per_day == pytest.approx(before)


def test_ctrl_wheel_zooms_and_plain_wheel_scrolls(widget: TimelineWidget) -> None:
    canvas = widget.canvas
    before = canvas.pixels_per_day
    event = QWheelEvent(
        QPointF(100, 50),
        QPointF(100, 50),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas, event)
    assert canvas.pixels_per_day == pytest.approx(before * 1.25)


def test_tooltip_at_a_lab_marker(widget: TimelineWidget) -> None:
    widget.set_pixels_per_day(30)
    canvas = widget.canvas
    point = canvas.point_of("lab", 2)
    text = canvas.tooltip_at(point)
    assert text is not None
    assert text.startswith("Labs on 15 Jan 2024: worst CTCAE grade 3")
    assert "ANC 0.8 ×10⁹/L" in text and "Platelet count decreased, grade 2" in text
    # The marker sits in the middle of its day: x of 15 Jan + half a day.
    expected_x = canvas.pad + (date(2024, 1, 15) - date(2023, 12, 28)).days * 30 + 15
    assert point.x() == pytest.approx(expected_x, abs=1)


def test_tooltip_of_a_held_dose_and_an_ae(widget: TimelineWidget) -> None:
    widget.set_pixels_per_day(30)
    canvas = widget.canvas
    assert canvas.tooltip_at(canvas.point_of("dose", 102)) == (
        "Lenalidomide, cycle 1 day 2 (2 Jan 2024)\nheld: 25 mg (rash)"
    )
    ae = canvas.tooltip_at(canvas.point_of("ae", 22))
    assert ae == "Febrile neutropenia: CTCAE grade 3 ⚠\nonset 16 Jan 2024, not resolved"


def test_clicking_a_marker_emits_its_id(qtbot: QtBot, widget: TimelineWidget) -> None:
    widget.set_pixels_per_day(30)
    canvas = widget.canvas
    point = canvas.point_of("dose", 103)
    with qtbot.waitSignal(widget.itemActivated) as blocker:
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=point)
    assert blocker.args == ["dose", 103]
    with qtbot.waitSignal(widget.itemActivated) as blocker:
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=canvas.point_of("response", 33))
    assert blocker.args == ["response", 33]


def test_clicking_the_delay_opens_the_delayed_cycle(qtbot: QtBot, widget: TimelineWidget) -> None:
    widget.set_pixels_per_day(30)
    canvas = widget.canvas
    # The hatched gap: 29 Jan .. 4 Feb; take 1 Feb in the thalidomide lane (no markers).
    x = canvas.x_of(date(2024, 2, 1)) + 15
    y = canvas.rows[3].centre
    assert canvas.rows[3].title == "Thalidomide"
    assert canvas.tooltip_at(QPoint(round(x), round(y))) == (
        "Delay before cycle 2: 7 d\nReason: ANC below 1.0"
    )
    with qtbot.waitSignal(widget.itemActivated) as blocker:
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(y)))
    assert blocker.args == ["cycle", 12]


def test_today_line_position(widget: TimelineWidget) -> None:
    widget.set_pixels_per_day(20)
    canvas = widget.canvas
    assert canvas.pixels_per_day == 20
    # Today 20 Feb 2024 is 54 days after 28 Dec 2023 (4 + 31 + 19); middle of the day: + 10.
    assert canvas.today_x() == pytest.approx(canvas.pad + 54 * 20 + 10)
    off_axis = build_timeline(cycles=two_cycles(), cycle_length_days=28, today=date(2030, 1, 1))
    canvas.set_data(off_axis)
    assert canvas.today_x() is None


def test_today_line_is_painted(widget: TimelineWidget) -> None:
    widget.set_pixels_per_day(20)
    canvas = widget.canvas
    image = canvas.grab().toImage()
    x = round(canvas.today_x() or 0)
    y = round(canvas.rows[-1].centre)
    colours = {image.pixelColor(x + dx, y).name() for dx in (-1, 0, 1)}
    assert "#d50000" in colours


def test_no_date_is_written_under_the_today_mark(widget: TimelineWidget) -> None:
    # Today 16 Feb 2024 is day 50 from 28 Dec 2023; at 20 px a day the ruler ticks every 7
    # days. Today's middle is at 50.5 x 20 = 1010 px (from the pad) and its mark, about 45 px
    # wide, spans ~988 to ~1032; the 15 Feb tick (day 49) is at 980 and its label runs from 982
    # for ~40 px into the mark: not written. 8 Feb (840) and 22 Feb (1120) stay clear of it.
    canvas = widget.canvas
    canvas.set_data(sample(today=date(2024, 2, 16)))
    widget.set_pixels_per_day(20)
    fm = QFontMetricsF(canvas.font())
    half = (fm.horizontalAdvance("Today") + 6) / 2
    middle = canvas.today_x()
    assert middle == pytest.approx(canvas.pad + 1010)
    ticks = dict((label, tx) for tx, label in canvas._ticks)
    assert ticks["15 Feb"] == pytest.approx(canvas.pad + 980)
    assert ticks["15 Feb"] + 2 + fm.horizontalAdvance("15 Feb") > middle - half
    written = canvas.ruler_labels()
    assert "15 Feb" not in written
    assert "8 Feb" in written and "22 Feb" in written
    assert len(written) == len(ticks) - 1
    # Today off the chart: every date is written.
    canvas.set_data(sample(today=date(2030, 1, 1)))
    assert canvas.ruler_labels() == [label for _, label in canvas._ticks]


def test_font_size_scales_the_chart(qtbot: QtBot) -> None:
    canvas = TimelineCanvas()
    qtbot.addWidget(canvas)
    canvas.set_data(sample())
    small = canvas.height()
    font = canvas.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    canvas.setFont(font)
    assert canvas.height() > 1.5 * small


def test_accessible_description_summarises(widget: TimelineWidget) -> None:
    text = widget.canvas.accessibleDescription()
    assert text.startswith("2 cycles from 1 Jan 2024 to 3 Mar 2024; maintenance from cycle 2")
    assert "1 adverse event(s) of grade 3 or more" in text


def test_paint_of_forty_cycles_only_walks_the_exposed_items(qtbot: QtBot) -> None:
    cycles = []
    doses = []
    for n in range(1, 41):
        start = date(2024, 1, 1) + timedelta(days=28 * (n - 1))
        cycles.append(CycleRow(1, n, "induction", start, CycleStatus.COMPLETED, start, id=n))
        doses += [
            DoseEvent(n, day, "lenalidomide", D(25), DoseStatus.GIVEN, id=n * 100 + day)
            for day in range(1, 22)
        ]
    data = build_timeline(cycles=cycles, doses=doses, cycle_length_days=28, today=date(2024, 1, 1))
    w = TimelineWidget()
    qtbot.addWidget(w)
    w.resize(900, 300)
    w.set_data(data)
    w.set_pixels_per_day(40)
    assert len(w.canvas.items) == 40 * 21
    # A hit test far right still finds the last dose (bisect over the sorted items).
    last = w.canvas.point_of("dose", 40 * 100 + 21)
    hit = w.canvas.hit_test(last)
    assert hit is not None and hit.id == 4021


def test_tooltip_event_shows_the_marker_text(qtbot: QtBot, widget: TimelineWidget) -> None:
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_pixels_per_day(30)
    canvas = widget.canvas
    point = canvas.point_of("modification", 41)
    event = QHelpEvent(QEvent.Type.ToolTip, point, canvas.mapToGlobal(point))
    QApplication.sendEvent(canvas, event)
    qtbot.waitUntil(QToolTip.isVisible)
    assert QToolTip.text().startswith("Dexamethasone 40 mg → 20 mg from cycle 2 day 1")
    QToolTip.hideText()


def test_a_day_1_result_is_not_the_baseline() -> None:
    # One definition of the CTCAE baseline (core.baselines.lab_baseline): the last result
    # BEFORE cycle 1 day 1 (2024-01-01). Baseline 80; a day-1 draw of 250 is not the baseline,
    # so 130 on 12 Feb is > 1.5 x 80 = 120 -> G2 (against 250 it would only be G1, > ULN 100).
    labs = [
        lab("creatinine", "80", "umol/L", date(2023, 12, 30), 1, uln="100"),
        lab("creatinine", "250", "umol/L", date(2024, 1, 1), 2, uln="100"),
        lab("creatinine", "130", "umol/L", date(2024, 2, 12), 3, uln="100"),
    ]
    data = build_timeline(
        cycles=two_cycles(), labs=labs, cycle_length_days=28, today=date(2024, 2, 20)
    )
    days = {d.on: d for d in data.lab_days}
    assert days[date(2024, 2, 12)].worst_grade == 2
