"""Toxicity summaries from a real record, read back from the PDF (issue 5)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from clinic_app.reports.models import DoseLine
from clinic_app.reports.toxicity_summary import dose_totals, render_toxicity_summary
from clinic_app.services import documents
from clinic_app.storage.database import Record
from tests.reports.conftest import PRINTED_AT, pdf_pages


def bpd_pages(record: Record) -> list[str]:
    summary = documents.build_toxicity_summary(
        record, "MRN-0002", 1, printed_by="nurse.k", printed_at=PRINTED_AT
    )
    return pdf_pages(render_toxicity_summary(summary))


def test_model_holds_hand_checked_values(record: Record) -> None:
    s = documents.build_toxicity_summary(record, "MRN-0002", 1, printed_at=PRINTED_AT)
    # cycle 2 started 5 Jan + 31 days = 5 Feb, so cycle 1 runs to 4 Feb
    assert (s.start, s.end) == (date(2026, 1, 5), date(2026, 2, 4))
    held = [d for d in s.doses if d.status == "held"]
    assert [(d.day, d.drug_name, d.reason) for d in held] == [(15, "Pomalidomide", "ANC 0.4")]
    # planned: bendamustine 1 + pomalidomide 21 + dexamethasone 4 = 26 lines
    assert len(s.doses) == 26
    nadirs = {n.test_name: (n.value, n.grade) for n in s.nadirs}
    # CTCAE v5.0: ANC 0.4 < 0.5 -> G4; platelets 45 < 50 and >= 25 -> G3
    assert nadirs["Absolute neutrophil count"] == (Decimal("0.4"), 4)
    assert nadirs["Platelet count"] == (Decimal("45"), 3)
    anc = next(c for c in s.chart if c.label == "Absolute neutrophil count")
    # in-cycle points only (baseline of 2 Jan is before day 1): days 8, 15, 22
    assert [p[0] for p in anc.points] == [8, 15, 22]
    assert (anc.grade3_below, anc.grade4_below) == (Decimal("1.0"), Decimal("0.5"))
    # IMWG: (3.0 - 1.2) / 3.0 = 60 % reduction >= 50 % -> PR; the first one is unconfirmed
    assert (s.response.category, s.response.confirmed) == ("PR", False)
    assert s.dlt is not None and "Dr Okafor" in s.dlt.review


def test_pdf_content(record: Record) -> None:
    pages = bpd_pages(record)
    text = re.sub(r"\s+", " ", " ".join(pages))
    assert "Dara O'Brien & Søn <x> · born 1 Jul 1961 · MRN MRN-0002" in text
    assert "5 Jan 2026 (day 1) to 4 Feb 2026" in text
    assert "15 19 Jan 2026 Pomalidomide 3 mg 3 mg held ANC 0.4" in text
    assert "1 5 Jan 2026 Bendamustine 220 mg 220 mg given" in text
    assert "Nausea G2 bendamustine: probable 7 Jan 2026 11 Jan 2026 no" in text
    assert "0.4 ×10⁹/L G4 Neutrophil count decreased" in text
    assert "grade 3 below 1" in text and "grade 4 below 0.5" in text
    assert "grade 3 below 50" in text and "grade 4 below 25" in text
    assert "PR on 1 Feb 2026, not confirmed" in text
    assert "Dose-limiting toxicity (cycle 1)" in text and "Proposed DLT" in text
    assert "DLT not confirmed by Dr Okafor" in text
    for number, page in enumerate(pages, start=1):
        assert f"page {number} of {len(pages)}" in page and "MRN MRN-0002" in page


def test_dextr_summary_says_what_is_missing(record: Record) -> None:
    s = documents.build_toxicity_summary(record, "MRN-0001", 1, printed_at=PRINTED_AT)
    assert s.dlt is None  # DexTR has no DLT rules
    assert s.response.category is None
    assert "No end-of-cycle response assessment is recorded for cycle 1" in s.response.explanation
    text = " ".join(pdf_pages(render_toxicity_summary(s)))
    assert "No adverse events recorded in this cycle." in text
    assert "no results in this cycle" in text


def test_per_drug_totals_planned_given_held_missed(record: Record) -> None:
    s = documents.build_toxicity_summary(record, "MRN-0002", 1, printed_at=PRINTED_AT)
    totals = {t.drug_name: t for t in dose_totals(s.doses)}
    # BPD cycle 1 plan: bendamustine day 1; pomalidomide days 1-21; dexamethasone 4 days.
    # Recorded: bendamustine day 1 given; pomalidomide day 1 given, day 15 held (ANC 0.4).
    benda, pom, dex = totals["Bendamustine"], totals["Pomalidomide"], totals["Dexamethasone"]
    assert (benda.planned, benda.given, benda.held, benda.missed, benda.not_recorded) == (
        1,
        1,
        0,
        0,
        0,
    )
    # pomalidomide: 21 planned = 1 given + 1 held + 19 with no outcome recorded
    assert (pom.planned, pom.given, pom.held, pom.missed, pom.not_recorded) == (21, 1, 1, 0, 19)
    assert pom.reasons == ("day 15 held: ANC 0.4",)
    assert (dex.planned, dex.given, dex.not_recorded) == (4, 0, 4)
    text = re.sub(r"\s+", " ", " ".join(bpd_pages(record)))
    assert "Totals for the cycle, per medicine" in text
    assert "Pomalidomide 21 1 1 0 19 day 15 held: ANC 0.4" in text
    assert "Bendamustine 1 1 0 0 0 -" in text


def test_missed_and_unplanned_doses_are_counted() -> None:
    lines = [
        DoseLine(1, date(2026, 1, 5), "Dex", Decimal(40), "missed"),
        DoseLine(2, date(2026, 1, 6), "Dex", Decimal(40), "planned"),
        DoseLine(3, date(2026, 1, 7), "Dex", None, "given", Decimal(20), "extra"),
    ]
    [t] = dose_totals(lines)
    # 2 planned (+1 not in plan) = 1 missed + 1 not recorded + 1 given
    assert (t.planned, t.unplanned, t.given, t.missed, t.not_recorded) == (2, 1, 1, 1, 1)
    assert t.reasons == ("day 1 missed: no reason recorded",)


def test_every_date_prints_in_one_style(record: Record) -> None:
    text = re.sub(r"\s+", " ", " ".join(bpd_pages(record)))
    # the investigator's review of 2026-02-04 prints like every other date
    assert "DLT not confirmed by Dr Okafor on 4 Feb 2026" in text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text), re.findall(r"\d{4}-\d{2}-\d{2}", text)
