"""The patient summary carries why an IMWG category is limited, and says it (issue 13)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clinic_app.commands.data_commands import print_summary, summary_to_json
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import ResponseAssessment
from clinic_app.services.patient_state import patient_summary
from clinic_app.storage.database import Record

from .helpers import cycle, enrol, patient

PROTOCOLS = load_protocols()


def test_not_evaluable_and_its_reason_reach_the_summary(
    record: Record, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = patient(record, "S-1", "Summary")
    eid = enrol(record, pid, "dextr", date(2023, 12, 28))
    cycle(record, eid, 1, "induction", date(2024, 1, 2), date(2024, 1, 2))
    record.repos.responses.add(
        pid, ResponseAssessment(date(2024, 1, 1), serum_m_protein_g_dl=Decimal("3.0"))
    )
    # End of cycle 1: only the marrow was examined; no M-protein, no free light chains.
    record.repos.responses.add(
        pid,
        ResponseAssessment(date(2024, 1, 29), marrow_plasma_cells_pct=Decimal(2), end_of_cycle=1),
    )
    s = patient_summary(record, pid, date(2024, 1, 29), PROTOCOLS)
    [line] = s.responses
    assert line.category == "not evaluable"  # never SD
    assert line.explanation == "not evaluable: nothing measured"
    assert line.limited_by == (
        "not evaluable: serum M-protein not measured",
        "PD not excluded: serum M-protein not measured",
    )
    assert summary_to_json(s)["responses"][0]["limited_by"] == list(line.limited_by)
    print_summary(s)
    out = capsys.readouterr().out
    assert "2024-01-29 (end of cycle 1): not evaluable: nothing measured" in out
    assert "    limited by: not evaluable: serum M-protein not measured" in out
