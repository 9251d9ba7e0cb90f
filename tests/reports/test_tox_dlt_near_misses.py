"""The toxicity summary prints the DLT near-misses the review screen shows (issue 13, 14).

Both read ``DltProposal.evidence_lines()`` (the one builder): the PDF is read back with pypdf.
The seeded BPD patient (MRN-0002) has platelets 45 ×10⁹/L on 19 Jan 2026 with no
thrombocytopenia AE (bleeding not recorded: undecided), and one ANC 0.4 on 19 Jan between
counts of 12 Jan and 26 Jan: 26 - 12 = 14 days apart, more than 7, so the G4 neutropenia may
have lasted longer than its single count shows.
"""

from __future__ import annotations

import re

from clinic_app.core.dlt import FIRED_HEADING, NEAR_MISS_HEADING, UNDECIDED_HEADING
from clinic_app.reports.toxicity_summary import render_toxicity_summary
from clinic_app.services import documents
from clinic_app.storage.database import Record
from tests.reports.conftest import PRINTED_AT, pdf_pages


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_near_misses_are_printed_under_their_heading(record: Record) -> None:
    summary = documents.build_toxicity_summary(
        record, "MRN-0002", 1, printed_by="nurse.k", printed_at=PRINTED_AT
    )
    assert summary.dlt is not None
    assert NEAR_MISS_HEADING in summary.dlt.evidence
    first = flat(pdf_pages(render_toxicity_summary(summary))[0])
    undecided = first.index(UNDECIDED_HEADING)
    heading = first.index(NEAR_MISS_HEADING)
    bleeding = first.index("Platelets fell below 50 ×10⁹/L but no G3-4 thrombocytopenia AE")
    neutropenia = first.index("G4 neutropenia counted 0 days")
    # the undecided bleeding clause is not listed as "Not a DLT by the rules"
    assert undecided < bleeding < heading < neutropenia
    assert "evidence: count after: ANC 0.9 ×10⁹/L on 26 Jan 2026" in first
    assert "is 14 days after the last count before it: it may have lasted longer" in first
    # nothing fired, so no "fired" heading; the proposal line is not a bare "no"
    assert FIRED_HEADING not in first
    assert "Proposed DLT: no." not in first
    # every line of the model is in the PDF, in order
    positions = [first.index(flat(line)) for line in summary.dlt.evidence]
    assert positions == sorted(positions)
