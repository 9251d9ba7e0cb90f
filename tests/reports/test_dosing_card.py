"""Dosing cards from a real record, read back from the PDF (issue 5, rules §8)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from clinic_app.core.errors import DomainError, MissingDataError
from clinic_app.core.records import BodyMeasurement
from clinic_app.reports.dosing_card import render_dosing_card
from clinic_app.reports.models import PaperSize
from clinic_app.services import documents
from clinic_app.storage.database import Record
from tests.reports.conftest import MULTI_SCRIPT_FAMILY, MULTI_SCRIPT_GIVEN, PRINTED_AT, pdf_pages


def dextr_card_pages(record: Record) -> list[str]:
    card = documents.build_dosing_card(
        record, "MRN-0001", 1, printed_by="nurse.k", printed_at=PRINTED_AT
    )
    return pdf_pages(render_dosing_card(card))


def flat(pages: list[str]) -> str:
    return re.sub(r"\s+", " ", " ".join(pages))


def test_dextr_cycle1_identifiers_and_header(record: Record) -> None:
    text = flat(dextr_card_pages(record))
    assert f"{MULTI_SCRIPT_GIVEN} {MULTI_SCRIPT_FAMILY}" in text
    assert "born 12 Mar 1950" in text and "MRN MRN-0001" in text
    assert "DexTR (protocol version 1.0) · cycle 1 · induction phase" in text
    # day 1 = Mon 5 Jan 2026; day 28 = 5 Jan + 27 days = Sun 1 Feb 2026
    assert "Mon 5 Jan 2026 (day 1); last day Sun 1 Feb 2026 (day 28)" in text
    assert "Oncology Day Unit · telephone +1 555 0100" in text
    # DexTR induction doses are flat and no rule depends on CrCl: neither is shown.
    assert "Body-surface area" not in text and "Creatinine clearance" not in text


def test_dextr_cycle1_calendar_days(record: Record) -> None:
    text = flat(dextr_card_pages(record))
    # Day 1 = Mon 5 Jan: all three drugs, blood test and visit; dex 40 mg = 2 x 20 mg tablets.
    day1 = text[text.index("5 Jan · day 1") : text.index("6 Jan · day 2")]
    assert "BLOOD TEST" in day1 and "CLINIC VISIT" in day1
    assert "Dexamethasone ☐ 2 × 20 mg" in day1
    assert "Thalidomide ☐ 1 × 50 mg" in day1
    assert "Lenalidomide ☐ 1 × 25 mg" in day1
    # Day 5 (Fri 9 Jan): no dexamethasone (days 1-4 only), thalidomide still 50 mg.
    day5 = text[text.index("9 Jan · day 5") : text.index("10 Jan · day 6")]
    assert "Dexamethasone" not in day5 and "Thalidomide ☐ 1 × 50 mg" in day5
    # Day 8 (Mon 12 Jan): thalidomide steps up to 100 mg = 1 x 100 mg; weekly blood test.
    day8 = text[text.index("12 Jan · day 8") : text.index("13 Jan · day 9")]
    assert "Thalidomide ☐ 1 × 100 mg" in day8
    assert "BLOOD TEST" in day8 and "Dexamethasone" not in day8
    # Day 22 (Mon 26 Jan): lenalidomide stopped after day 21, last weekly blood test.
    day22 = text[text.index("26 Jan · day 22") : text.index("27 Jan · day 23")]
    assert "Lenalidomide" not in day22 and "BLOOD TEST" in day22
    day28 = text[text.index("1 Feb · day 28") :]
    assert "EVALUATION" in day28
    # One tick box per dose: dex 12 + thal 28 + len 21 = 61, plus the legend's box.
    assert text.count("☐") == 61 + 1


def test_card_pages_first_page_then_the_month(record: Record) -> None:
    pages = [flat([p]) for p in dextr_card_pages(record)]
    # a 28-day cycle: page 1 the medicines and reminders, page 2 the whole month
    assert len(pages) == 2
    first, month = pages
    order = ["Dosing card · DexTR cycle 1", "Medicines for this cycle", "How to read the calendar"]
    order += ["Reminders", "Questions or problems: call Oncology Day Unit on +1 555 0100."]
    positions = [first.index(title) for title in order]
    assert positions == sorted(positions)
    assert "Never share these capsules" in first and "thromboprophylaxis" in first
    assert "Calendar" not in first.replace("How to read the calendar", "")
    assert month.startswith("Calendar: what to take each day, 5 Jan 2026 to 1 Feb 2026")
    assert "questions: +1 555 0100" in month
    # every column is one weekday: the cycle starts on a Monday
    assert "Mon Tue Wed Thu Fri Sat Sun" in month
    for day in range(1, 29):
        assert f"· day {day} " in month + " "


def test_dextr_cycle1_summary_totals(record: Record) -> None:
    text = flat(dextr_card_pages(record))
    # dexamethasone: 12 days x 40 mg = 480 mg; 12 x 2 = 24 tablets of 20 mg
    assert "40 mg on days 1-4, 9-12, 17-20 480 mg 24 × 20 mg tablets" in text
    # thalidomide: 7 x 50 + 21 x 100 = 2,450 mg (thousands separator, ISMP)
    assert "50 mg on days 1-7; 100 mg on days 8-28 2,450 mg" in text
    assert "21 × 100 mg capsules + 7 × 50 mg capsules" in text
    # lenalidomide: 21 x 25 = 525 mg
    assert "25 mg on days 1-21 525 mg 21 × 25 mg capsules" in text
    assert ".0 mg" not in text and "µg" not in text


def test_dextr_reminders(record: Record) -> None:
    text = flat(dextr_card_pages(record))
    assert "thromboprophylaxis" in text
    for rems in (
        "Never share these capsules",
        "Bring back any you did not take",
        "contraception",
        "Do not donate blood",
    ):
        assert rems in text
    assert "call Oncology Day Unit on +1 555 0100" in text


def test_footer_on_every_page(record: Record) -> None:
    pages = dextr_card_pages(record)
    assert len(pages) == 2
    for number, page in enumerate(pages, start=1):
        assert f"page {number} of {len(pages)}" in page
        assert "MRN MRN-0001" in page and "born 12 Mar 1950" in page
        assert MULTI_SCRIPT_GIVEN in page
        assert "printed 10 Feb 2026 08:30 by nurse.k" in page
        assert re.search(r"record version schema \d+ · change \d+", page)


def test_bpd_card_bsa_infusion_and_empty_days(record: Record) -> None:
    card = documents.build_dosing_card(record, "MRN-0002", 1, printed_by="x", printed_at=PRINTED_AT)
    text = flat(pdf_pages(render_dosing_card(card)))
    assert "O'Brien & Søn <x>" in text  # escaped for markup, printed as typed
    assert "dose level 1" in text
    # sqrt(170 * 70 / 3600) = 1.818 -> 1.82 m²; 120 x 1.82 = 218.4 mg -> 220 mg (nearest 5)
    assert "1.82 m² (Mosteller, height 170 cm, weight 70 kg, measured 5 Jan 2026)" in text
    assert "218.4 mg, rounded to 220 mg" in text
    day1 = text[text.index("5 Jan · day 1") : text.index("6 Jan · day 2")]
    # the infusion is given in clinic: said, and no box to tick at home
    assert "Bendamustine GIVEN IN CLINIC" in day1 and "Bendamustine ☐" not in day1
    assert "Pomalidomide ☐ 1 × 3 mg" in day1 and "Dexamethasone ☐ 2 × 20 mg" in day1
    # pomalidomide days 1-21 (3 mg x 21 = 63 mg), dex days 1, 8, 15, 22 (4 x 2 tablets = 8)
    assert "3 mg on days 1-21 63 mg 21 × 3 mg capsules" in text
    assert "40 mg on days 1, 8, 15, 22 160 mg 8 × 20 mg tablets" in text
    assert "given in clinic" in text
    # days 23-28 hold no dose: each says so
    assert text.count("No medicine today") == 6
    assert "Do not donate blood" in text  # pomalidomide REMS


@pytest.mark.parametrize(("paper", "width"), [(PaperSize.A4, 842), (PaperSize.LETTER, 792)])
@pytest.mark.parametrize("mrn", ["MRN-0001", "MRN-0002"])
def test_paper_size_setting_and_page_count(
    record: Record, paper: PaperSize, width: int, mrn: str
) -> None:
    from io import BytesIO

    from pypdf import PdfReader

    record.repos.settings.set("print.paper_size", paper.value, reason="test")
    card = documents.build_dosing_card(record, mrn, 1, printed_at=PRINTED_AT)
    reader = PdfReader(BytesIO(render_dosing_card(card)))
    assert round(float(reader.pages[0].mediabox.width)) == width  # landscape: long side wide
    # a full 28-day cycle (DexTR: 3 medicines most days; BPD): 2 pages on either paper,
    # the month on page 2 whole, with day 1 and day 28 on the same page
    assert len(reader.pages) == 2
    month = reader.pages[1].extract_text()
    assert "5 Jan · day 1" in month and "1 Feb · day 28" in month


def test_paper_size_parameter_overrides_the_setting(record: Record) -> None:
    from io import BytesIO

    from pypdf import PdfReader

    card = documents.build_dosing_card(record, "MRN-0001", 1, printed_at=PRINTED_AT)
    assert card.stamp.paper is PaperSize.A4  # the setting's default
    data = render_dosing_card(card, paper=PaperSize.LETTER)
    assert round(float(PdfReader(BytesIO(data)).pages[0].mediabox.width)) == 792


def test_missing_phone_refuses(record: Record) -> None:
    stored = record.repos.settings._rows("key = 'clinic.phone'", [], "id")[0]
    record.repos.settings.void(stored["id"], expected_version=stored["version"], reason="test")
    with pytest.raises(MissingDataError, match="telephone number is not set"):
        documents.build_dosing_card(record, "MRN-0001", 1)


def test_unknown_mrn_and_cycle(record: Record) -> None:
    with pytest.raises(DomainError, match="No patient has MRN 'NOPE'"):
        documents.build_dosing_card(record, "NOPE", 1)
    with pytest.raises(DomainError, match="has no cycle 5"):
        documents.build_dosing_card(record, "MRN-0001", 5)


def test_contradictory_bsa_refused(record: Record) -> None:
    ref = documents.find_cycle(record, "MRN-0002", 1)
    bad = replace(ref, cycle=replace(ref.cycle, bsa_m2=ref.cycle.bsa_m2 + 1))  # type: ignore[operator]
    with pytest.raises(DomainError, match=r"its measurement gives 1\.82"):
        documents.cycle_plan(record, bad)


def test_a_month_too_full_for_one_page_continues_between_weeks(record: Record) -> None:
    card = documents.build_dosing_card(record, "MRN-0001", 1, printed_at=PRINTED_AT)
    # every DexTR day with its doses written three times over (9 medicines on day 1): the
    # boxes no longer allow one page, so the calendar splits between weeks
    crowded = replace(
        card.plan,
        days=tuple(replace(d, doses=d.doses * 3) for d in card.plan.days),
    )
    pages = [flat([p]) for p in pdf_pages(render_dosing_card(replace(card, plan=crowded)))]
    assert len(pages) >= 3
    calendar = pages[1:]
    for page in calendar:
        assert "Mon Tue Wed Thu Fri Sat Sun" in page  # the weekday row is repeated
    # no week is cut: each week's day 1..7 are on one page
    for week_start in (1, 8, 15, 22):
        holding = [p for p in calendar if f"· day {week_start} " in p]
        assert len(holding) == 1 and f"· day {week_start + 6} " in holding[0] + " "


def test_a_missing_measurement_date_is_said(record: Record) -> None:
    # The BSA and CrCl lines named the date of the weight and of the creatinine, and left it
    # out without a word when the record had none: the card then read as if it were current.
    card = documents.build_dosing_card(record, "MRN-0002", 1, printed_by="x", printed_at=PRINTED_AT)
    assert card.plan.bsa is not None
    undated = replace(card, plan=replace(card.plan, bsa=replace(card.plan.bsa, measured_on=None)))
    text = flat(pdf_pages(render_dosing_card(undated)))
    assert (
        "1.82 m² (Mosteller, height 170 cm, weight 70 kg, date of the measurement not recorded)"
        in text
    )
    dextr = documents.build_dosing_card(
        record, "MRN-0001", 1, printed_by="x", printed_at=PRINTED_AT
    )
    assert dextr.plan.crcl_ml_min is not None
    renal = replace(dextr, show_crcl=True)  # as in DexTR maintenance
    assert "(Cockcroft-Gault, creatinine of 3 Jan 2026)" in flat(
        pdf_pages(render_dosing_card(renal))
    )
    text = flat(pdf_pages(render_dosing_card(replace(renal, crcl_measured_on=None))))
    assert "(Cockcroft-Gault, date of the creatinine not recorded)" in text


def _bpd_card_text(record: Record) -> str:
    card = documents.build_dosing_card(record, "MRN-0002", 1, printed_by="x", printed_at=PRINTED_AT)
    return flat(pdf_pages(render_dosing_card(card)))


def test_a_weight_changed_since_the_bsa_is_said_on_the_card(record: Record) -> None:
    # Rules §2: a change of 10 % or more against the weight behind the BSA needs the BSA
    # recalculated. The card's BSA used 70 kg of 5 Jan 2026 (1.82 m²).
    pid = record.repos.patients.by_mrn("MRN-0002")
    assert pid is not None
    # 63.1 kg: (63.1 - 70) / 70 = -9.857 %, under the threshold: nothing said.
    record.repos.measurements.add(pid.id, BodyMeasurement(date(2026, 1, 20), Decimal("63.1")))
    assert "WEIGHT CHANGED" not in _bpd_card_text(record)
    # 63 kg: (63 - 70) / 70 = -10 % exactly, flagged; the newest weight up to the print day
    # (10 Feb 2026) is the one compared, and one weighed after printing is not.
    record.repos.measurements.add(pid.id, BodyMeasurement(date(2026, 2, 2), Decimal(63)))
    record.repos.measurements.add(pid.id, BodyMeasurement(date(2026, 3, 1), Decimal(70)))
    text = _bpd_card_text(record)
    assert (
        "WEIGHT CHANGED For the clinic: weighed 2 Feb 2026 at 63 kg, 10 % down from the 70 kg "
        "of 5 Jan 2026 that these doses use. Recalculate the BSA and confirm the doses before "
        "this card is handed out."
    ) in text
    assert "1.82 m² (Mosteller, height 170 cm, weight 70 kg, measured 5 Jan 2026)" in text
