"""Dose administration and dose modifications on a real record (DexTR and BPD)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from clinic_app.core.errors import DomainError
from clinic_app.core.protocol import Protocol
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import DoseStatus, ReductionCause
from clinic_app.services.cycle_start import check_start, gather_start, start_cycle
from clinic_app.services.dose_admin import (
    DoseOutcome,
    ModificationRequest,
    check_modification,
    check_outcome,
    current_cycle,
    cycle_doses,
    modification_choices,
    record_dose_outcome,
    record_modification,
)
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StaleRecordError
from tests.services.test_cycle_start import (
    C1,
    C2,
    bpd_level2_patient,
    dextr_patient,
    good_counts,
    req,
)

NOW = datetime(2025, 3, 17, 10, 30, tzinfo=UTC)  # cycle 1 day 8
TODAY = NOW.date()


@pytest.fixture(scope="module")
def protocols() -> dict[str, Protocol]:
    return load_protocols()


def started_dextr(record: Record, protocols: dict[str, Protocol]) -> int:
    pid = dextr_patient(record, protocols)
    good_counts(record, pid, C1)
    start_cycle(record, pid, req(C1), C1, protocols)
    return pid


def dose(record: Record, pid: int, protocols: dict[str, Protocol], day: int, drug: str):  # type: ignore[no-untyped-def]
    view = current_cycle(record, pid, protocols=protocols)
    (row,) = [r for r in cycle_doses(record, view) if r.day == day and r.drug == drug]
    return view, row


def test_day_grid_lists_dates_units_and_status(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started_dextr(record, protocols)
    view = current_cycle(record, pid, protocols=protocols)
    rows = cycle_doses(record, view)
    assert len(rows) == 61
    first = rows[0]
    # day 1 is 2025-03-10; the drugs in protocol order: dexamethasone first
    assert (first.day, first.on, first.drug) == (1, C1, "dexamethasone")
    assert first.units == "2 × 20 mg tablets"
    day8 = [r for r in rows if r.day == 8]
    assert day8[0].on == date(2025, 3, 17)  # 2025-03-10 + 7
    assert {r.drug for r in day8} == {"thalidomide", "lenalidomide"}  # no dex on day 8


def test_held_lenalidomide_needs_a_reason_and_is_audited(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started_dextr(record, protocols)
    view, row = dose(record, pid, protocols, 8, "lenalidomide")
    problems = check_outcome(view, row, DoseOutcome(DoseStatus.HELD), NOW)
    assert set(problems) == {"reason"}
    with pytest.raises(DomainError):
        record_dose_outcome(record, view, row, DoseOutcome(DoseStatus.HELD), NOW)
    assert record.repos.doses.get(row.id).value.status is DoseStatus.PLANNED
    saved = record_dose_outcome(
        record, view, row, DoseOutcome(DoseStatus.HELD, reason="ANC 0.4: grade 4"), NOW
    )
    assert saved.value.status is DoseStatus.HELD and saved.value.reason == "ANC 0.4: grade 4"
    assert saved.version == row.version + 1
    history = record.repos.doses.history(row.id)
    assert any("held" in (entry.reason or "") for entry in history)


def test_given_needs_a_time_not_in_the_future(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started_dextr(record, protocols)
    view, row = dose(record, pid, protocols, 8, "thalidomide")
    assert set(check_outcome(view, row, DoseOutcome(DoseStatus.GIVEN), NOW)) == {"given_at"}
    later = datetime(2025, 3, 17, 10, 31, tzinfo=UTC)
    assert (
        "future" in check_outcome(view, row, DoseOutcome(DoseStatus.GIVEN, later), NOW)["given_at"]
    )
    before = datetime(2025, 3, 9, 21, 0, tzinfo=UTC)  # the evening before day 1
    assert (
        "before day 1"
        in check_outcome(view, row, DoseOutcome(DoseStatus.GIVEN, before), NOW)["given_at"]
    )
    at = datetime(2025, 3, 17, 9, 0, tzinfo=UTC)
    saved = record_dose_outcome(record, view, row, DoseOutcome(DoseStatus.GIVEN, at), NOW)
    assert saved.value.given_at == at


def test_future_day_can_be_held_but_not_given_or_missed(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started_dextr(record, protocols)
    view, row = dose(record, pid, protocols, 15, "lenalidomide")  # 2025-03-24, still to come
    assert "status" in check_outcome(view, row, DoseOutcome(DoseStatus.MISSED, reason="x"), NOW)
    assert check_outcome(view, row, DoseOutcome(DoseStatus.HELD, reason="counts"), NOW) == {}


def test_correction_needs_a_reason_and_a_stale_copy_is_refused(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started_dextr(record, protocols)
    view, row = dose(record, pid, protocols, 3, "lenalidomide")
    record_dose_outcome(record, view, row, DoseOutcome(DoseStatus.MISSED, reason="forgot"), NOW)
    # the editor still holds the old version: refused with what the other person changed
    with pytest.raises(StaleRecordError):
        record_dose_outcome(
            record,
            view,
            row,
            DoseOutcome(DoseStatus.HELD, reason="x", correction_reason="y"),
            NOW,
        )
    view, row = dose(record, pid, protocols, 3, "lenalidomide")
    assert set(check_outcome(view, row, DoseOutcome(DoseStatus.GIVEN, NOW), NOW)) == {
        "correction_reason"
    }
    fixed = record_dose_outcome(
        record,
        view,
        row,
        DoseOutcome(DoseStatus.GIVEN, NOW, correction_reason="patient found the capsule log"),
        NOW,
    )
    assert fixed.value.status is DoseStatus.GIVEN and fixed.value.reason is None


def test_planned_cycle_refuses_outcomes(record: Record, protocols: dict[str, Protocol]) -> None:
    pid = dextr_patient(record, protocols)  # cycle 1 planned by enrolment, not started
    view, row = dose(record, pid, protocols, 1, "lenalidomide")
    assert (
        "has not started"
        in check_outcome(view, row, DoseOutcome(DoseStatus.HELD, reason="x"), NOW)["status"]
    )


def test_ladder_choices_follow_the_protocol(record: Record, protocols: dict[str, Protocol]) -> None:
    pid = started_dextr(record, protocols)
    view = current_cycle(record, pid, protocols=protocols)
    choices = {c.drug: c for c in modification_choices(record, view, 8)}
    # rules §2 ladders: lenalidomide 25 -> 20 -> 15 -> 10 -> 5 -> 2.5; thalidomide 100 -> 50
    assert choices["lenalidomide"].steps == tuple(
        Decimal(x) for x in ("20", "15", "10", "5", "2.5")
    )
    assert choices["thalidomide"].current == Decimal(100)  # day 8 on: 100 mg
    assert choices["thalidomide"].steps == (Decimal(50),)
    # day 1-7: thalidomide 50 mg, the lowest step: nothing below
    assert {c.drug: c for c in modification_choices(record, view, 1)}["thalidomide"].steps == ()
    assert choices["dexamethasone"].steps == (Decimal(20), Decimal(10))  # 40 -> 20 -> 10


def test_reduction_to_20_next_cycle_changes_nothing_now(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started_dextr(record, protocols)
    view = current_cycle(record, pid, protocols=protocols)
    result = record_modification(
        record,
        view,
        ModificationRequest(
            "lenalidomide",
            Decimal(20),
            "grade 4 neutropenia",
            "Dr Novák",
            None,
            ReductionCause.HAEMATOLOGICAL,
        ),
        TODAY,
    )
    assert result.replanned == ()
    (mod,) = record.repos.modifications.for_enrolment(1)
    assert mod.cause is ReductionCause.HAEMATOLOGICAL
    assert (mod.old_dose, mod.new_dose, mod.effective_cycle, mod.effective_day) == (
        Decimal(25),
        Decimal(20),
        2,
        1,
    )
    assert {r.dose_mg for r in cycle_doses(record, view) if r.drug == "lenalidomide"} == {
        Decimal(25)
    }
    good_counts(record, pid, C2)
    check = check_start(gather_start(record, pid, protocols), req(C2), C2)
    assert [m.new_dose for m in check.carried] == [Decimal(20)]
    assert check.plan is not None
    assert {d.dose_mg for _, d in check.plan.doses() if d.drug == "lenalidomide"} == {Decimal(20)}


def test_mid_cycle_reduction_replans_the_remaining_days(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started_dextr(record, protocols)
    view, held = dose(record, pid, protocols, 15, "lenalidomide")
    record_dose_outcome(record, view, held, DoseOutcome(DoseStatus.HELD, reason="ANC 0.7"), NOW)
    result = record_modification(
        record,
        view,
        ModificationRequest(
            "lenalidomide",
            Decimal(15),
            "grade 3 neutropenia",
            "Dr Novák",
            14,
            ReductionCause.HAEMATOLOGICAL,
        ),
        TODAY,
    )
    # days 14-21 are 8 days; day 15 is already held and stays: 7 re-planned
    assert len(result.replanned) == 7 and result.kept == ("day 15: held: ANC 0.7",)
    rows = [r for r in cycle_doses(record, view) if r.drug == "lenalidomide"]
    assert len(rows) == 21
    by_day = {r.day: r for r in rows}
    assert by_day[13].dose_mg == Decimal(25) and by_day[14].dose_mg == Decimal(15)
    assert by_day[14].units == "1 × 15 mg capsule"
    assert by_day[15].status is DoseStatus.HELD and by_day[15].dose_mg == Decimal(25)


def test_modification_refusals_change_nothing(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started_dextr(record, protocols)
    view = current_cycle(record, pid, protocols=protocols)

    def problems(**changes: object) -> set[str]:
        values: dict[str, object] = {
            "drug": "lenalidomide",
            "new_dose": Decimal(20),
            "reason": "neutropenia",
            "decided_by": "Dr Novák",
            "effective_day": 10,
            "cause": ReductionCause.HAEMATOLOGICAL,
        }
        values.update(changes)
        return set(check_modification(record, view, ModificationRequest(**values), TODAY))  # type: ignore[arg-type]

    assert problems() == set()
    assert problems(new_dose=Decimal(22)) == {"new_dose"}  # not a ladder step
    assert problems(new_dose=Decimal(25)) == {"new_dose"}  # not lower
    assert problems(reason=" ") == {"reason"}
    assert problems(decided_by="") == {"decided_by"}
    assert problems(cause=None) == {"cause"}  # never guessed from the reason's words
    assert problems(effective_day=7) == {"effective_day"}  # 2025-03-16 has passed
    assert problems(effective_day=29) == {"effective_day"}
    assert problems(drug="pomalidomide") == {"drug"}
    with pytest.raises(DomainError):
        record_modification(
            record,
            view,
            ModificationRequest("lenalidomide", Decimal(22), "x", "Dr Novák", 10),
            TODAY,
        )
    assert record.repos.modifications.for_enrolment(1) == []


def test_bpd_bendamustine_steps_through_dose_level_values(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = bpd_level2_patient(record)
    good_counts(record, pid, C1)
    start_cycle(record, pid, req(C1, height_cm=Decimal(165), weight_kg=Decimal(80)), C1, protocols)
    view = current_cycle(record, pid, protocols=protocols)
    choices = {c.drug: c for c in modification_choices(record, view, 1)}
    # level 2: bendamustine 120 mg/m², the lowest dose-level value: no step below
    assert choices["bendamustine"].current == Decimal(120)
    assert choices["bendamustine"].unit == "mg/m²"
    assert choices["bendamustine"].steps == ()
    assert choices["pomalidomide"].steps == (Decimal(3), Decimal(2), Decimal(1))
    refused = check_modification(
        record,
        view,
        ModificationRequest("bendamustine", Decimal(90), "x", "Dr Kim", None),
        C1,
    )
    assert "lowest step" in refused["new_dose"]


def test_current_cycle_is_the_started_one_not_a_planned_next_cycle(
    record: Record, protocols: dict[str, Protocol]
) -> None:
    from datetime import timedelta

    from clinic_app.core.cycles import CycleRow

    pid = started_dextr(record, protocols)
    view = current_cycle(record, pid, protocols=protocols)
    enrolment_id = view.enrolment.id
    assert enrolment_id is not None
    # the next cycle is planned for day 1 + 28 but has not started
    record.repos.cycles.add(
        CycleRow(enrolment_id, 2, "induction", C1 + timedelta(days=28)), reason="plan"
    )
    again = current_cycle(record, pid, protocols=protocols)
    assert again.number == 1  # doses are recorded and modified in the cycle under way
