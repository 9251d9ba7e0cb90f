"""The printed toxicity summary says why an IMWG category is limited (issue 13), read back.

Two end-of-cycle-1 assessments of the DexTR patient of the shared fixture (cycle 1 from
START): one with nothing measured ("not evaluable", never SD) and one whose baseline
plasmacytoma has no recorded shrinkage (IMWG 2016: PR and MR are capped, the fact is named).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from clinic_app.core.records import ResponseAssessment
from clinic_app.reports.toxicity_summary import render_toxicity_summary
from clinic_app.services import documents
from clinic_app.storage.database import Record
from tests.reports.conftest import PRINTED_AT, START, pdf_pages


def _printed(record: Record) -> str:
    summary = documents.build_toxicity_summary(record, "MRN-0001", 1, printed_at=PRINTED_AT)
    return re.sub(r"\s+", " ", " ".join(pdf_pages(render_toxicity_summary(summary))))


def _patient_id(record: Record) -> int:
    return int(record.db.execute("SELECT id FROM patients WHERE mrn = 'MRN-0001'").fetchone()[0])


def test_nothing_measured_prints_not_evaluable_with_the_reason(record: Record) -> None:
    pid = _patient_id(record)
    baseline = ResponseAssessment(START - timedelta(days=5), serum_m_protein_g_dl=Decimal("3.0"))
    record.repos.responses.add(pid, baseline)
    # end of cycle 1: only the marrow was examined, no serum/urine M-protein, no FLC
    record.repos.responses.add(
        pid,
        ResponseAssessment(
            START + timedelta(days=27), marrow_plasma_cells_pct=Decimal(3), end_of_cycle=1
        ),
    )
    summary = documents.build_toxicity_summary(record, "MRN-0001", 1, printed_at=PRINTED_AT)
    assert summary.response.category == "not evaluable"
    assert summary.response.limited_by[0] == "not evaluable: serum M-protein not measured"
    text = _printed(record)
    assert "Not evaluable: nothing measured" in text
    assert "Limited by: not evaluable: serum M-protein not measured" in text
    assert "SD on" not in text
    # there is no category to confirm
    assert "needs a second consecutive assessment" not in text


def test_unrecorded_plasmacytoma_shrinkage_is_named_on_the_page(record: Record) -> None:
    pid = _patient_id(record)
    record.repos.responses.add(
        pid,
        ResponseAssessment(
            START - timedelta(days=5),
            serum_m_protein_g_dl=Decimal("3.0"),
            soft_tissue_plasmacytoma=True,
        ),
    )
    # (3.0 - 1.5) / 3.0 = 50 %: PR by M-protein, but the plasmacytoma is still there and its
    # shrinkage not measured: IMWG 2016 PR (>= 50 %) and MR (25-49 %) cannot be decided -> SD
    record.repos.responses.add(
        pid,
        ResponseAssessment(
            START + timedelta(days=27),
            serum_m_protein_g_dl=Decimal("1.5"),
            soft_tissue_plasmacytoma=True,
            end_of_cycle=1,
        ),
    )
    text = _printed(record)
    assert "SD on " in text
    assert (
        "PR not assessable: the soft-tissue plasmacytoma present at baseline must be at least "
        "50 % smaller, and its shrinkage is not recorded"
    ) in text
    assert (
        "MR not assessable: the soft-tissue plasmacytoma present at baseline must be at least "
        "25 % smaller, and its shrinkage is not recorded"
    ) in text
