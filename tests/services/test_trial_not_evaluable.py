"""Trial endpoints with a "not evaluable" assessment (issue 13): never counted as SD, never a
crash; the patient is left out of the initial rate with the reason."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from clinic_app.core.protocol import Protocol
from clinic_app.core.records import ResponseAssessment
from clinic_app.core.response import ResponseCategory
from clinic_app.services.trial import build_endpoints
from clinic_app.storage.database import Record
from tests.services.test_trial import (
    START,
    protocols,  # noqa: F401  (fixture)
    treated,
)


def test_nothing_measured_after_two_cycles_is_left_out_not_counted_as_sd(
    record: Record,
    protocols: dict[str, Protocol],  # noqa: F811
) -> None:
    for n in range(2):
        treated(record, f"SD{n}", ["SD", "SD"])
    pid = treated(record, "NE", ["SD"], cycles=2)
    # End of cycle 2 (START + 56 days): only the marrow examined; no M-protein, no FLC.
    record.repos.responses.add(
        pid,
        ResponseAssessment(
            START + timedelta(days=56), marrow_plasma_cells_pct=Decimal(2), end_of_cycle=2
        ),
    )
    summary = build_endpoints(record, protocols["bpd"])
    row = {p.mrn: p for p in summary.patients}["NE"]
    assert row.initial_response is ResponseCategory.NE
    rates = summary.rates
    # Initial rate over the 2 patients whose cycle-2 category is known: 0 PR of 2 (not 0 of 3
    # with the unmeasured one counted as SD).
    assert rates.initial is not None and (rates.initial.ci.successes, rates.initial.ci.n) == (0, 2)
    reasons = [e.reason for e in summary.not_evaluable if e.mrn == "NE"]
    assert any("not evaluable: nothing measured" in r for r in reasons), reasons
