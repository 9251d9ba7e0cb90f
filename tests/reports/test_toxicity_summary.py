"""Toxicity summaries from a real record, read back from the PDF (issue 5)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from clinic_app.reports.toxicity_summary import render_toxicity_summary
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
