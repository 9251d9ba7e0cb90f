"""Dosing cards from a real record, read back from the PDF (issue 5, rules §8)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from clinic_app.core.errors import DomainError, MissingDataError
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
    # Day 1: all three drugs, blood test and visit; dex 40 mg = 2 x 20 mg tablets.
    day1 = text[text.index("Day 1 · Mon") : text.index("Day 2 · Tue")]
    assert "5 Jan 2026" in day1 and "BLOOD TEST" in day1 and "CLINIC VISIT" in day1
    assert "Dexamethasone ☐ 40 mg by mouth 2 × 20 mg tablets" in day1
    assert "Thalidomide ☐ 50 mg by mouth 1 × 50 mg capsule" in day1
    assert "Lenalidomide ☐ 25 mg by mouth 1 × 25 mg capsule" in day1
    # Day 5 (Fri 9 Jan): no dexamethasone (days 1-4 only), thalidomide still 50 mg.
    day5 = text[text.index("Day 5 · Fri") : text.index("Day 6 · Sat")]
    assert "9 Jan 2026" in day5 and "Dexamethasone" not in day5
    assert "Thalidomide ☐ 50 mg" in day5
    # Day 8 (Mon 12 Jan): thalidomide steps up to 100 mg; weekly blood test.
    day8 = text[text.index("Day 8 · Mon") : text.index("Day 9 · Tue")]
    assert "12 Jan 2026" in day8 and "Thalidomide ☐ 100 mg by mouth 1 × 100 mg capsule" in day8
    assert "BLOOD TEST" in day8 and "Dexamethasone" not in day8
    # Day 22 (Mon 26 Jan): lenalidomide stopped after day 21, last weekly blood test.
    day22 = text[text.index("Day 22 · Mon") : text.index("Day 23 · Tue")]
    assert "Lenalidomide" not in day22 and "BLOOD TEST" in day22
    day28 = text[text.index("Day 28 · Sun") :]
    assert "1 Feb 2026" in day28 and "EVALUATION" in day28
    # One tick box per dose: dex 12 + thal 28 + len 21 = 61, plus the legend's box.
    assert text.count("☐") == 61 + 1


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
    assert len(pages) >= 2
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
    day1 = text[text.index("Day 1 · Mon") : text.index("Day 2 · Tue")]
    assert "Bendamustine ☐ 220 mg intravenous infusion GIVEN IN CLINIC" in day1
    # pomalidomide days 1-21 (3 mg x 21 = 63 mg), dex days 1, 8, 15, 22 (4 x 2 tablets = 8)
    assert "3 mg on days 1-21 63 mg 21 × 3 mg capsules" in text
    assert "40 mg on days 1, 8, 15, 22 160 mg 8 × 20 mg tablets" in text
    assert "given in clinic" in text
    # days 23-28 hold no dose: each says so
    assert text.count("No medicine today") == 6
    assert "Do not donate blood" in text  # pomalidomide REMS


@pytest.mark.parametrize(("paper", "width"), [(PaperSize.A4, 842), (PaperSize.LETTER, 792)])
def test_paper_size_setting(record: Record, paper: PaperSize, width: int) -> None:
    from io import BytesIO

    from pypdf import PdfReader

    record.repos.settings.set("print.paper_size", paper.value, reason="test")
    card = documents.build_dosing_card(record, "MRN-0001", 1, printed_at=PRINTED_AT)
    box = PdfReader(BytesIO(render_dosing_card(card))).pages[0].mediabox
    assert round(float(box.width)) == width  # landscape: the long side is the width


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
