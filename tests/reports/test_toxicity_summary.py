"""Toxicity summaries from a real record, read back from the PDF (issues 5 and 20)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from pypdf import PdfReader

from clinic_app.core.cycle_toxicity import SevereSpell
from clinic_app.core.records import (
    AdverseEvent,
    Attribution,
    DoseEvent,
    DoseModification,
    DoseStatus,
    LabResult,
)
from clinic_app.reports import toxicity_summary as tox
from clinic_app.reports.toxicity_summary import render_toxicity_summary
from clinic_app.services import documents
from clinic_app.storage.database import Record
from tests.reports.conftest import PRINTED_AT, START, pdf_pages

FIRST_PAGE = (tox.WORST, tox.NADIRS, tox.DLT, tox.INTENSITY, tox.RESPONSE)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def bpd_pages(record: Record, *, all_doses: bool = False) -> list[str]:
    summary = documents.build_toxicity_summary(
        record, "MRN-0002", 1, printed_by="nurse.k", printed_at=PRINTED_AT
    )
    return pdf_pages(render_toxicity_summary(summary, all_doses=all_doses))


def test_model_holds_hand_checked_values(record: Record) -> None:
    s = documents.build_toxicity_summary(record, "MRN-0002", 1, printed_at=PRINTED_AT)
    # cycle 2 started 5 Jan + 31 days = 5 Feb, so cycle 1 runs to 4 Feb
    assert (s.start, s.end) == (date(2026, 1, 5), date(2026, 2, 4))
    held = [d for d in s.doses if d.status == "held"]
    assert [(d.day, d.drug_name, d.reason) for d in held] == [(15, "Pomalidomide", "ANC 0.4")]
    # planned: bendamustine 1 + pomalidomide 21 + dexamethasone 4 = 26 lines
    assert len(s.doses) == 26
    anc = next(c for c in s.chart if c.label == "Absolute neutrophil count")
    # in-cycle points only (baseline of 2 Jan is before day 1): days 8, 15, 22
    assert [p[0] for p in anc.points] == [8, 15, 22]
    assert (anc.grade3_below, anc.grade4_below) == (Decimal("1.0"), Decimal("0.5"))
    # IMWG: (3.0 - 1.2) / 3.0 = 60 % reduction >= 50 % -> PR; the first one is unconfirmed
    assert (s.response.category, s.response.confirmed) == ("PR", False)
    assert s.dlt is not None and "Dr Okafor" in s.dlt.review


def test_worst_grade_per_term_from_aes_and_labs(record: Record) -> None:
    s = documents.build_toxicity_summary(record, "MRN-0002", 1, printed_at=PRINTED_AT)
    # CTCAE v5.0: ANC 0.4 < 0.5 on 19 Jan -> G4 (the worst of 1.2 G2, 0.4 G4, 0.9 G3);
    # platelets 45 < 50 on 19 Jan -> G3 (90 G1, 45 G3, 60 G2); nausea AE G2 on 7 Jan.
    assert [(w.term, w.grade, w.on, w.detail) for w in s.worst] == [
        ("Neutrophil count decreased", 4, date(2026, 1, 19), "ANC 0.4 ×10⁹/L"),
        ("Platelet count decreased", 3, date(2026, 1, 19), "Platelets 45 ×10⁹/L"),
        ("Nausea", 2, date(2026, 1, 7), ""),
    ]


def test_nadirs_with_days_at_grade_3(record: Record) -> None:
    s = documents.build_toxicity_summary(record, "MRN-0002", 1, printed_at=PRINTED_AT)
    nadirs = {n.test_name: n for n in s.nadirs}
    anc, plt, hb = (
        nadirs["Absolute neutrophil count"],
        nadirs["Platelet count"],
        nadirs["Hemoglobin"],
    )
    assert (anc.value, anc.on, anc.grade) == (Decimal("0.4"), date(2026, 1, 19), 4)
    # ANC >= G3 (< 1.0) on 19 Jan (0.4) and 26 Jan (0.9), the last result: 26 - 19 = 7 days
    assert anc.spells == (SevereSpell(date(2026, 1, 19), date(2026, 1, 26), 2, True),)
    # platelets >= G3 (< 50) only on 19 Jan (45); 26 Jan is 60 (G2): 0 days, recovered
    assert (plt.value, plt.grade) == (Decimal("45"), 3)
    assert plt.spells == (SevereSpell(date(2026, 1, 19), date(2026, 1, 19), 1, False),)
    assert hb.value is None and hb.results == 0  # not measured: said, not left out


def test_dose_intensity_hand_computed(record: Record) -> None:
    s = documents.build_toxicity_summary(record, "MRN-0002", 1, printed_at=PRINTED_AT)
    by = {i.drug_name: i for i in s.intensity}
    # BPD dose level 1, BSA 1.82 m²: bendamustine 220 mg day 1, given: 220 / 220 = 100 %
    assert (by["Bendamustine"].given_mg, by["Bendamustine"].percent) == (Decimal(220), 100)
    # pomalidomide 3 mg days 1-21 = 63 mg; given day 1 only = 3 mg: 3 / 63 = 4.76 -> 4.8 %
    pom = by["Pomalidomide"]
    assert (pom.planned_mg, pom.given_mg, pom.percent) == (Decimal(63), Decimal(3), Decimal("4.8"))
    # 21 planned = 1 given + 1 held (day 15) + 19 with no outcome recorded (19 x 3 = 57 mg)
    assert (pom.given, pom.held, pom.not_recorded, pom.not_recorded_mg) == (1, 1, 19, 57)
    assert by["Dexamethasone"].planned_mg == Decimal(160)  # 40 mg x days 1, 8, 15, 22


def test_first_page_answers_the_review(record: Record) -> None:
    pages = bpd_pages(record)
    first = flat(pages[0])
    positions = [first.index(title) for title in FIRST_PAGE]
    assert positions == sorted(positions)  # worst grades, nadirs, DLT, intensity, response
    assert "Neutrophil count decreased G4 · grade ≥ 3 19 Jan 2026 ANC 0.4 ×10⁹/L lab" in first
    assert "Platelet count decreased G3 · grade ≥ 3 19 Jan 2026 Platelets 45 ×10⁹/L" in first
    assert "Nausea G2 7 Jan 2026 - adverse event" in first
    assert "Absolute neutrophil count 0.4 ×10⁹/L 19 Jan 2026 G4 · grade ≥ 3" in first
    assert "19 Jan to 26 Jan: 7 days (2 results, still at the last)" in first
    assert "19 Jan only (1 result, 0 days)" in first
    assert "Hemoglobin not measured - - -" in first
    assert "Proposed DLT" in first and "DLT ruled out by Dr Okafor on 4 Feb 2026" in first
    assert "Pomalidomide 21 1 1 0 19 3 mg of 63 mg 4.8 %" in first
    assert "Bendamustine 1 1 0 0 0 220 mg of 220 mg 100 %" in first
    # 19 unrecorded pomalidomide doses x 3 mg = 57 mg
    pom = "Pomalidomide: day 15 held: ANC 0.4; no outcome recorded on days 2-14, 16-21 (57 mg)."
    assert pom in first
    assert "PR on 1 Feb 2026, not confirmed" in first
    # the day-by-day table is not on the first page
    assert tox.APPENDIX_EXCEPTIONS not in first and "19 Jan 2026 Pomalidomide 3 mg" not in first


def test_sections_in_order_and_appendix_last(record: Record) -> None:
    pages = bpd_pages(record)
    text = flat(" ".join(pages))
    order = [*FIRST_PAGE, tox.ADVERSE_EVENTS, tox.CHARTS, tox.LABS, tox.APPENDIX_EXCEPTIONS]
    positions = [text.index(title) for title in order]
    assert positions == sorted(positions)
    assert tox.APPENDIX_EXCEPTIONS in pages[-1]
    assert "Nausea G2 bendamustine: probable 7 Jan 2026 11 Jan 2026 no" in text
    assert "0.4 ×10⁹/L G4 · grade ≥ 3 Neutrophil count decreased" in text
    assert "grade 3 below 1" in text and "grade 4 below 0.5" in text
    assert "grade 3 below 50" in text and "grade 4 below 25" in text
    assert "grade 3 below 80" in text  # haemoglobin: grade 4 is clinical, no line
    for number, page in enumerate(pages, start=1):
        assert f"page {number} of {len(pages)}" in page and "MRN MRN-0002" in page


def test_appendix_lists_exceptions_unless_all_doses(record: Record) -> None:
    # 26 planned doses; given as planned: bendamustine day 1 (220 mg) and pomalidomide day 1
    # (3 mg). Exceptions: 26 - 2 = 24 (1 held + 23 with no outcome).
    short = flat(bpd_pages(record)[-1])
    assert "15 19 Jan 2026 Pomalidomide 3 mg none held ANC 0.4" in short
    assert "1 5 Jan 2026 Bendamustine 220 mg 220 mg given" not in short
    # clinical words only: the printout named a command ("clinic-app tox-summary --all-doses")
    assert "a dose given as planned is left out." in short
    assert "clinic-app" not in short and "--all-doses" not in short
    assert len(re.findall(r"\b\d+ \d+ Jan 2026 [A-Z]", short)) == 24
    full = flat(" ".join(bpd_pages(record, all_doses=True)))
    assert tox.APPENDIX_FULL in full
    assert "1 5 Jan 2026 Bendamustine 220 mg 220 mg given" in full
    appendix = full[full.index(tox.APPENDIX_FULL) :]
    assert len(re.findall(r"\b\d+ \d+ (?:Jan|Feb) 2026 [A-Z]", appendix)) == 26


def test_appendix_never_shows_a_dose_as_given_that_was_not(record: Record) -> None:
    # A held dose's record keeps the 3 mg it replaced, and a dose entered ahead as "planned"
    # holds the plan's 3 mg: the appendix printed both under "Recorded" ("3 mg 3 mg planned"),
    # as if 3 mg had been taken, with the record's state "planned" for a dose whose outcome
    # nobody has entered. It says what the patient received, and "no outcome recorded".
    ref = documents.find_cycle(record, "MRN-0002", 1)
    assert ref.cycle.id is not None
    record.repos.doses.add(
        DoseEvent(ref.cycle.id, 2, "pomalidomide", Decimal(3), DoseStatus.PLANNED)
    )
    text = flat(bpd_pages(record)[-1])
    assert "Day Date Medicine Planned Given Status Reason" in text
    assert "2 6 Jan 2026 Pomalidomide 3 mg not recorded no outcome recorded -" in text
    assert "3 7 Jan 2026 Pomalidomide 3 mg not recorded no outcome recorded -" in text
    assert "15 19 Jan 2026 Pomalidomide 3 mg none held ANC 0.4" in text
    assert not re.search(r"mg (?:planned|no record)\b", text), text


def test_a_cycle_printed_before_its_end_says_what_is_still_to_come(record: Record) -> None:
    # Printed on 20 Jan 2026, cycle day 16 of BPD cycle 1 (5 Jan to 4 Feb): pomalidomide
    # days 2-14 and 16 have no outcome (14 x 3 = 42 mg); days 17-21 are still to come
    # (5 x 3 = 15 mg) and dexamethasone day 22 too. The summary read "no outcome recorded on
    # days 2-14, 16-21 (57 mg)" with nothing saying the cycle was only half-way through.
    printed = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
    s = documents.build_toxicity_summary(record, "MRN-0002", 1, printed_at=printed)
    pages = pdf_pages(render_toxicity_summary(s))
    first, last = flat(pages[0]), flat(pages[-1])
    assert (
        "Cycle under way: printed on cycle day 16 (20 Jan 2026), before its last day "
        "(4 Feb 2026). Doses and results after 20 Jan 2026 are still to come" in first
    )
    assert (
        "Pomalidomide: day 15 held: ANC 0.4; no outcome recorded on days 2-14, 16 (42 mg); "
        "still to come on days 17-21 (15 mg)." in first
    )
    assert "16 20 Jan 2026 Pomalidomide 3 mg not recorded no outcome recorded" in last
    # the exceptions-only appendix leaves the 6 doses to come out (pomalidomide days 17-21,
    # dexamethasone day 22) and says so; it listed each as an exception, two pages in the demo
    assert "21 Jan 2026" not in last and "26 Jan 2026" not in last
    assert (
        "6 planned doses dated after 20 Jan 2026, the day of printing, still to come: "
        "not listed." in last
    )
    lines = [line.strip() for line in pages[-1].splitlines()]
    assert "no outcome recorded" in lines, lines  # one line in its cell
    full = flat(pdf_pages(render_toxicity_summary(s, all_doses=True))[-1])
    assert "17 21 Jan 2026 Pomalidomide 3 mg not recorded still to come" in full
    assert "22 26 Jan 2026 Dexamethasone 40 mg not recorded still to come" in full


def test_a_cycle_printed_before_day_1_says_it_has_not_started(record: Record) -> None:
    s = documents.build_toxicity_summary(record, "MRN-0002", 1, printed_at=PRINTED_AT)
    early = replace(s, stamp=replace(s.stamp, printed_at=datetime(2026, 1, 2, 9, tzinfo=UTC)))
    first = flat(pdf_pages(render_toxicity_summary(early))[0])
    assert (
        "This cycle has not started: day 1 is planned for 5 Jan 2026, and this summary was "
        "printed on 2 Jan 2026. Nothing below has happened yet." in first
    )
    # printed after its last day: no such line
    done = flat(pdf_pages(render_toxicity_summary(s))[0])
    assert "Cycle under way" not in done and "has not started" not in done


def test_adverse_event_cells_keep_drug_dates_and_grades_whole(record: Record) -> None:
    # The attribution column cut "dexamethasone:" into "dexamethasone" / ":", and the onset
    # column "27 Nov 2026" into "27 Nov" / "2026" (demo record, BPD cycle 7).
    ref = documents.find_cycle(record, "MRN-0002", 1)
    assert ref.patient.id is not None
    record.repos.adverse_events.add(
        ref.patient.id,
        AdverseEvent(
            "Fatigue",
            3,
            date(2026, 1, 27),
            date(2026, 1, 30),
            attribution={"dexamethasone": Attribution.POSSIBLE},
        ),
    )
    pages = bpd_pages(record)
    details = next(p for p in pages if tox.ADVERSE_EVENTS in p)
    # the extractor gives each line of a cell on a line of its own
    lines = [line.strip() for line in details[details.index(tox.ADVERSE_EVENTS) :].splitlines()]
    for whole in ("dexamethasone:", "27 Jan 2026", "30 Jan 2026", "G3 · grade ≥ 3"):
        assert whole in lines, (whole, lines)


def test_dextr_summary_says_what_is_missing(record: Record) -> None:
    s = documents.build_toxicity_summary(record, "MRN-0001", 1, printed_at=PRINTED_AT)
    assert s.dlt is None  # DexTR has no DLT rules
    assert s.response.category is None
    assert "No end-of-cycle response assessment is recorded for cycle 1" in s.response.explanation
    pages = pdf_pages(render_toxicity_summary(s))
    text = " ".join(pages)
    assert tox.DLT not in text
    assert "No adverse event and no abnormal graded lab result in this cycle." in flat(text)
    assert "No adverse events recorded in this cycle." in text
    # no count at all: one line, not a page of three empty charts (demo: DexTR cycle 8)
    assert tox.NO_COUNTS in flat(text)
    assert "cycle day" not in text and "grade 3 below" not in text


def test_every_date_prints_in_one_style(record: Record) -> None:
    text = flat(" ".join(bpd_pages(record)))
    assert "DLT ruled out by Dr Okafor on 4 Feb 2026" in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text), re.findall(r"\d{4}-\d{2}-\d{2}", text)


# -- a full DexTR cycle, recorded day by day ----------------------------------------------------
def _at(day: int) -> datetime:
    on = START + timedelta(days=day - 1)
    return datetime(on.year, on.month, on.day, 9, 0, tzinfo=UTC)


def record_full_cycle(record: Record) -> None:
    """Every planned DexTR cycle-1 dose recorded: all given except lenalidomide held on days
    15-17 (ANC 0.8), dexamethasone missed on day 10, and thalidomide given at 50 mg on day 20;
    weekly counts with a G3 neutropenia on days 15 and 18, and a G3 rash AE."""
    ref = documents.find_cycle(record, "MRN-0001", 1)
    plan = documents.cycle_plan(record, ref)
    assert ref.cycle.id is not None and ref.patient.id is not None
    repos = record.repos
    for day, dose in plan.doses():
        status, mg, reason = DoseStatus.GIVEN, dose.dose_mg, None
        if dose.drug == "lenalidomide" and day.day in (15, 16, 17):
            status, reason = DoseStatus.HELD, "ANC 0.8"
        elif dose.drug == "dexamethasone" and day.day == 10:
            status, reason = DoseStatus.MISSED, "vomited"
        elif dose.drug == "thalidomide" and day.day == 20:
            mg, reason = Decimal(50), "somnolence"
        given = _at(day.day) if status is DoseStatus.GIVEN else None
        repos.doses.add(DoseEvent(ref.cycle.id, day.day, dose.drug, mg, status, given, reason))
    for day, anc, plt, hb in (
        (1, "2.4", "210", "118"),
        (8, "1.6", "160", "109"),
        (15, "0.8", "120", "101"),
        (18, "0.9", "130", "104"),
        (22, "1.4", "150", "106"),
    ):
        for test, value, unit, lln in (
            ("anc", anc, "10^9/L", "1.8"),
            ("platelets", plt, "10^9/L", "150"),
            ("hemoglobin", hb, "g/L", "120"),
        ):
            repos.labs.add(
                ref.patient.id,
                LabResult(test, Decimal(value), unit, _at(day), Decimal(value), lln=Decimal(lln)),
            )
    repos.adverse_events.add(
        ref.patient.id,
        AdverseEvent(
            "Rash maculo-papular",
            3,
            START + timedelta(days=11),
            attribution={"lenalidomide": Attribution.PROBABLE},
        ),
    )


def test_full_cycle_hand_computed_and_exceptions(record: Record) -> None:
    record_full_cycle(record)
    s = documents.build_toxicity_summary(record, "MRN-0001", 1, printed_at=PRINTED_AT)
    by = {i.drug_name: i for i in s.intensity}
    # dexamethasone 40 mg on 12 days = 480 mg; missed day 10: 11 x 40 = 440 mg -> 91.7 %
    # (440 / 480 = 0.916666...)
    dex = by["Dexamethasone"]
    assert (dex.given_mg, dex.planned_mg, dex.percent) == (440, 480, Decimal("91.7"))
    # lenalidomide 25 mg x 21 = 525 mg; held days 15-17: 18 x 25 = 450 mg -> 85.7 %
    assert (by["Lenalidomide"].given_mg, by["Lenalidomide"].percent) == (450, Decimal("85.7"))
    # thalidomide 7 x 50 + 21 x 100 = 2,450 mg planned; day 20 given 50 not 100: 2,400 mg
    # -> 2400 / 2450 = 0.979591... -> 98 %
    assert (by["Thalidomide"].given_mg, by["Thalidomide"].percent) == (2400, Decimal("98.0"))
    # the worst grades: rash AE G3 (12 Jan... onset 5 Jan + 11 = 16 Jan), ANC 0.8 on day 15 G3
    worst = {w.term: (w.grade, w.on) for w in s.worst}
    assert worst["Rash maculo-papular"] == (3, date(2026, 1, 16))
    assert worst["Neutrophil count decreased"] == (3, date(2026, 1, 19))
    # Hb below the LLN 120 on every result (118 on day 1 the first), none below 100: G1,
    # first seen on day 1 = 5 Jan
    assert worst["Anemia"] == (1, date(2026, 1, 5))
    anc = next(n for n in s.nadirs if n.test_name == "Absolute neutrophil count")
    # ANC < 1.0 on day 15 (0.8) and day 18 (0.9); day 22 is 1.4: 18 - 15 = 3 days
    assert anc.spells == (SevereSpell(date(2026, 1, 19), date(2026, 1, 22), 2, False),)

    pages = pdf_pages(render_toxicity_summary(s))
    first = flat(pages[0])
    for title in (tox.WORST, tox.NADIRS, tox.INTENSITY, tox.RESPONSE):
        assert title in first
    assert "Rash maculo-papular G3 · grade ≥ 3 16 Jan 2026" in first
    assert "19 Jan to 22 Jan: 3 days (2 results)" in first
    assert "Dexamethasone: day 10 missed: vomited." in first
    assert (
        "Lenalidomide: day 15 held: ANC 0.8; day 16 held: ANC 0.8; day 17 held: ANC 0.8." in first
    )
    assert "Thalidomide: day 20 given 50 mg instead of 100 mg: somnolence." in first
    appendix = flat(pages[-1])
    # exceptions: 1 missed + 3 held + 1 modified = 5 rows of 61 doses
    assert len(re.findall(r"\b\d+ \d+ (?:Jan|Feb) 2026 [A-Z]", appendix)) == 5
    assert "20 24 Jan 2026 Thalidomide 100 mg 50 mg given, modified somnolence" in appendix


@pytest.mark.parametrize(
    ("paper", "width", "pages", "pages_all"),
    # A4 portrait 595 pt wide, Letter 612 pt. Page 1 the review, page 2 the counts and labs,
    # page 3 the 5 exceptions; the full listing of 61 doses needs one page more.
    [("A4", 595, 3, 4), ("Letter", 612, 3, 4)],
)
def test_full_cycle_page_count_a4_and_letter(
    record: Record, paper: str, width: int, pages: int, pages_all: int
) -> None:
    record_full_cycle(record)
    record.repos.settings.set("print.paper_size", paper, reason="test")
    s = documents.build_toxicity_summary(record, "MRN-0001", 1, printed_at=PRINTED_AT)
    data = render_toxicity_summary(s)
    reader = PdfReader(BytesIO(data))
    assert round(float(reader.pages[0].mediabox.width)) == width
    assert len(reader.pages) == pages
    assert len(PdfReader(BytesIO(render_toxicity_summary(s, all_doses=True))).pages) == pages_all


def test_response_says_what_limited_it_on_the_first_page(record: Record) -> None:
    s = documents.build_toxicity_summary(record, "MRN-0002", 1, printed_at=PRINTED_AT)
    limited = replace(
        s, response=replace(s.response, limited_by=("CR not assessable: no serum immunofixation",))
    )
    first = flat(pdf_pages(render_toxicity_summary(limited))[0])
    assert "Limited by: CR not assessable: no serum immunofixation" in first
    assert "Limited by" not in flat(pdf_pages(render_toxicity_summary(s))[0])


def test_modification_table_keeps_dates_and_cycle_days_whole(record: Record) -> None:
    # Demo record: "Dr Demo, 25 Nov" / "2026" in the Decided column.
    from clinic_app.reports.models import ModificationLine

    s = documents.build_toxicity_summary(record, "MRN-0002", 1, printed_at=PRINTED_AT)
    change = ModificationLine(
        "Dexamethasone",
        Decimal(40),
        Decimal(20),
        "mg",
        "insomnia grade 2",
        12,
        15,
        "Dr Demo",
        date(2026, 11, 25),
    )
    first = pdf_pages(render_toxicity_summary(replace(s, modifications=(change,))))[0]
    lines = [line.strip() for line in first.splitlines()]
    assert any(line.startswith("25 Nov 2026, Dr") for line in lines), lines
    for whole in ("cycle 12 day 15", "40 mg", "20 mg"):
        assert whole in lines, (whole, lines)


def test_doses_not_known_are_not_called_none_planned(record: Record) -> None:
    # Demo DexTR cycle 8 (not started, its doses depend on the CrCl of day 1): the note said
    # the planned doses could not be computed, and the intensity and appendix said "No doses
    # planned or recorded".
    s = documents.build_toxicity_summary(record, "MRN-0002", 1, printed_at=PRINTED_AT)
    unknown = replace(
        s,
        doses=(),
        intensity=(),
        notes=("Planned doses could not be computed: the BSA of day 1 is not recorded.",),
    )
    text = flat(" ".join(pdf_pages(render_toxicity_summary(unknown))))
    assert "No doses planned or recorded" not in text
    said = "No dose recorded; the planned doses are not known (see the note at the top)."
    assert text.count(said) == 2, text  # dose intensity and the appendix


def test_a_reduction_of_an_earlier_cycle_is_said_where_this_cycle_has_none(
    record: Record,
) -> None:
    # Pomalidomide 3 -> 2 mg from cycle 1 day 15: cycle 2's doses are 2 mg because of it, so
    # its summary must not read as if nothing had changed the dose.
    patient = record.repos.patients.by_mrn("MRN-0002")
    assert patient is not None
    (enrolment,) = record.repos.enrolments.for_patient(patient.id)
    assert enrolment.id is not None
    record.repos.modifications.add(
        enrolment.id,
        DoseModification(
            "pomalidomide",
            Decimal(3),
            Decimal(2),
            "neutropenia grade 3",
            1,
            "Dr Ray",
            START + timedelta(days=13),
            effective_day=15,
        ),
    )
    cycle2 = documents.build_toxicity_summary(record, "MRN-0002", 2, printed_at=PRINTED_AT)
    text = flat(" ".join(pdf_pages(render_toxicity_summary(cycle2))))
    assert "No dose modifications in this cycle." in text
    assert (
        "Doses set by earlier modifications, still in force: Pomalidomide 2 mg since cycle 1 "
        "day 15 (neutropenia grade 3)."
    ) in text
    cycle1 = documents.build_toxicity_summary(record, "MRN-0002", 1, printed_at=PRINTED_AT)
    assert cycle1.carried == ()  # its own table says from and to
    assert [m.new_dose for m in cycle1.modifications] == [Decimal(2)]
