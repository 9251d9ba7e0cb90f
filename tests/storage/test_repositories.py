"""Every repository round-trips its core objects exactly and refuses what it cannot store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic_app.core.cycles import CycleRow, CycleStatus, DoseDetails
from clinic_app.core.decisions import Decision, DecisionKind, DltReview, EndpointEvent, EndpointKind
from clinic_app.core.errors import DomainError
from clinic_app.core.records import (
    AdverseEvent,
    Attribution,
    BodyMeasurement,
    DoseEvent,
    DoseModification,
    DoseStatus,
    Enrolment,
    GcsfDose,
    Immunofixation,
    LabResult,
    OffStudyReason,
    PatientStatus,
    ResponseAssessment,
    TemperatureReading,
)
from clinic_app.storage.database import Record
from clinic_app.storage.errors import RowNotFoundError, StaleRecordError

from .conftest import make_patient

T0 = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)


def setup_enrolment(record: Record) -> tuple[int, int]:
    pid = record.repos.patients.add(make_patient())
    eid = record.repos.enrolments.add(
        Enrolment(
            patient_id=pid,
            protocol="dextr",
            enrolled_on=date(2026, 1, 2),
            consent_on=date(2026, 1, 1),
            gates={"rems": date(2026, 1, 1)},
            dose_level=1,
        )
    )
    return pid, eid


def test_patient_round_trip_and_lookup_by_mrn(record: Record) -> None:
    patient = make_patient()
    pid = record.repos.patients.add(patient)
    stored = record.repos.patients.by_mrn(" MRN-0001 ")
    assert stored is not None
    assert stored.value == patient.__class__(**{**patient.__dict__, "id": pid})
    assert (stored.version, stored.created_by) == (1, record.os_user)


def test_duplicate_mrn_is_a_sentence_not_a_crash_but_voided_mrn_can_be_reused(
    record: Record,
) -> None:
    pid = record.repos.patients.add(make_patient())
    with pytest.raises(DomainError, match="MRN MRN-0001 is already used") as info:
        record.repos.patients.add(make_patient(family="Other"))
    assert info.value.field == "mrn"
    record.repos.patients.void(pid, expected_version=1, reason="registered twice")
    record.repos.patients.add(make_patient(family="Other"))  # the live MRN is free again


def test_measurements_are_dated_rows_not_overwrites(record: Record) -> None:
    pid = record.repos.patients.add(make_patient())
    m = record.repos.measurements
    m.add(pid, BodyMeasurement(date(2026, 1, 2), Decimal("70.0"), Decimal("165")))
    m.add(pid, BodyMeasurement(date(2026, 2, 2), Decimal("67.5"), Decimal("165")))
    rows = m.for_patient(pid)
    assert [(r.measured_on, str(r.weight_kg)) for r in rows] == [
        (date(2026, 1, 2), "70.0"),
        (date(2026, 2, 2), "67.5"),
    ]
    latest = m.latest_on_or_before(pid, date(2026, 2, 1))
    assert latest is not None and latest.weight_kg == Decimal("70.0")
    assert m.latest_on_or_before(pid, date(2026, 1, 1)) is None
    with pytest.raises(DomainError, match="Weight must be a positive number"):
        m.add(pid, BodyMeasurement(date(2026, 3, 1), Decimal("0")))


def test_enrolment_cycle_and_doses_round_trip(record: Record) -> None:
    pid, eid = setup_enrolment(record)
    (enrolment,) = record.repos.enrolments.for_patient(pid)
    assert enrolment.gates == {"rems": date(2026, 1, 1)} and enrolment.id == eid
    cycle = CycleRow(
        enrolment_id=eid,
        number=1,
        phase="induction",
        planned_start=date(2026, 1, 5),
        status=CycleStatus.STARTED,
        start_date=date(2026, 1, 7),
        delay_days=2,
        delay_reason="ANC 0.9",
        bsa_m2=Decimal("1.74"),
        bsa_formula="mosteller",
        crcl_ml_min=Decimal("38.50"),
        elected_options={"dexamethasone": "20 mg"},
    )
    cid = record.repos.cycles.add(cycle)
    assert record.repos.cycles.for_enrolment(eid) == [CycleRow(**{**cycle.__dict__, "id": cid})]
    ids = record.repos.doses.add_many(
        [
            (DoseEvent(cid, 1, "lenalidomide", Decimal("25"), DoseStatus.PLANNED), None),
            (
                DoseEvent(cid, 1, "dexamethasone", Decimal("40.0"), DoseStatus.GIVEN, given_at=T0),
                DoseDetails(route="oral", units={"prescribed": "mg"}),
            ),
        ],
        reason="cycle 1 plan",
    )
    doses = record.repos.doses.for_cycle(cid)
    assert [(d.drug, str(d.dose_mg), d.given_at) for d in doses] == [
        ("dexamethasone", "40.0", T0),
        ("lenalidomide", "25", None),
    ]
    assert record.repos.doses.details(ids[1]) == DoseDetails("oral", {"prescribed": "mg"})


def test_a_failing_dose_in_a_plan_records_none_of_the_plan(record: Record) -> None:
    _, eid = setup_enrolment(record)
    cid = record.repos.cycles.add(CycleRow(eid, 1, "induction", date(2026, 1, 5)))
    with pytest.raises(DomainError, match="needs the time it was given"):
        record.repos.doses.add_many(
            [
                (DoseEvent(cid, 1, "lenalidomide", Decimal("25"), DoseStatus.PLANNED), None),
                (DoseEvent(cid, 8, "lenalidomide", Decimal("25"), DoseStatus.GIVEN), None),
            ],
            reason="plan",
        )
    assert record.repos.doses.for_cycle(cid) == []


def test_lab_keeps_value_as_entered_and_instant_in_utc(record: Record) -> None:
    pid = record.repos.patients.add(make_patient())
    cet = timezone(timedelta(hours=1))
    lab = LabResult(
        test="creatinine",
        value=Decimal("1.30"),
        unit="mg/dL",
        collected_at=datetime(2026, 1, 5, 9, 0, tzinfo=cet),  # = 08:00 UTC
        value_si=Decimal("114.9"),
        lln=Decimal("0.60"),
        uln=Decimal("1.10"),
    )
    lid = record.repos.labs.add(pid, lab)
    (back,) = record.repos.labs.for_patient(pid, test="creatinine")
    assert str(back.value) == "1.30" and str(back.uln) == "1.10"
    assert back.collected_at == datetime(2026, 1, 5, 8, 0, tzinfo=UTC) and back.id == lid
    assert record.repos.labs.for_patient(pid, test="anc") == []
    assert record.repos.labs.for_patient(pid, since=T0) == []  # 08:00 < 08:30
    naive = LabResult("anc", Decimal("1.2"), "10^9/L", datetime(2026, 1, 5, 8), Decimal("1.2"))
    with pytest.raises(DomainError, match="needs a time zone"):
        record.repos.labs.add(pid, naive)


def test_adverse_event_response_modification_round_trip(record: Record) -> None:
    pid, eid = setup_enrolment(record)
    ae = AdverseEvent(
        term="Neutrophil count decreased",
        grade=4,
        onset=date(2026, 1, 20),
        serious=True,
        attribution={"lenalidomide": Attribution.PROBABLE},
        with_bleeding=False,
        grade_history=((date(2026, 1, 25), 2),),
        notes="nadir",
    )
    aid = record.repos.adverse_events.add(pid, ae)
    assert record.repos.adverse_events.for_patient(pid) == [
        AdverseEvent(**{**ae.__dict__, "id": aid})
    ]
    with pytest.raises(DomainError, match="not a CTCAE grade"):
        record.repos.adverse_events.add(pid, AdverseEvent("Fatigue", 0, date(2026, 1, 1)))
    ra = ResponseAssessment(
        assessed_on=date(2026, 2, 1),
        serum_m_protein_g_dl=Decimal("0.40"),
        serum_ife=Immunofixation.POSITIVE,
        clonal_marrow_cells=None,
        soft_tissue_plasmacytoma=True,
        plasmacytoma_shrunk_50pct=False,
        end_of_cycle=1,
    )
    rid = record.repos.responses.add(pid, ra)
    assert record.repos.responses.for_patient(pid) == [
        ResponseAssessment(**{**ra.__dict__, "id": rid})
    ]
    mod = DoseModification(
        "lenalidomide", Decimal("25"), Decimal("15"), "G4 ANC", 2, "Dr Ade", date(2026, 2, 1)
    )
    mid = record.repos.modifications.add(eid, mod)
    assert record.repos.modifications.for_enrolment(eid) == [
        DoseModification(**{**mod.__dict__, "id": mid})
    ]


def test_decisions_dlt_endpoints_observations_settings(record: Record) -> None:
    pid, eid = setup_enrolment(record)
    r = record.repos
    d = Decision(eid, DecisionKind.LEGACY_OPTION, "Dr Ade", date(2026, 1, 3), {"dex_mg": "20"})
    did = r.decisions.add(d)
    assert r.decisions.for_enrolment(eid, DecisionKind.LEGACY_OPTION) == [
        Decision(**{**d.__dict__, "id": did})
    ]
    assert r.decisions.for_enrolment(eid, DecisionKind.OFF_STUDY) == []
    dlt = DltReview(eid, proposed=True, confirmed=None, evaluable=True)
    dlt_id = r.dlt_reviews.add(dlt)
    assert r.dlt_reviews.for_enrolment(eid) == [DltReview(**{**dlt.__dict__, "id": dlt_id})]
    ev = EndpointEvent(pid, EndpointKind.NEXT_THERAPY, date(2027, 5, 1), "ASCT")
    ev_id = r.endpoints.add(ev)
    assert r.endpoints.for_patient(pid) == [EndpointEvent(**{**ev.__dict__, "id": ev_id})]
    r.temperatures.add(pid, TemperatureReading(T0, Decimal("38.3"), 60))
    assert r.temperatures.for_patient(pid) == [TemperatureReading(T0, Decimal("38.3"), 60)]
    r.gcsf.add(pid, GcsfDose(date(2026, 1, 21)))
    assert r.gcsf.for_patient(pid) == [GcsfDose(date(2026, 1, 21))]
    assert r.settings.value("backup.keep", 14) == 14
    r.settings.set("backup.keep", 7, reason="small disk")
    r.settings.set("backup.keep", 10, reason="more history")
    assert r.settings.value("backup.keep") == 10


@pytest.mark.parametrize("chain", [None, "kappa", "lambda"])
def test_enrolment_light_chain_round_trips(record: Record, chain: str | None) -> None:
    pid = record.repos.patients.add(make_patient())
    enrolment = Enrolment(pid, "bpd", date(2026, 1, 2), date(2026, 1, 1), light_chain=chain)
    eid = record.repos.enrolments.add(enrolment)
    assert record.repos.enrolments.for_patient(pid) == [replace(enrolment, id=eid)]


def test_unknown_light_chain_is_refused_naming_the_field(record: Record) -> None:
    pid = record.repos.patients.add(make_patient())
    bad = Enrolment(pid, "bpd", date(2026, 1, 2), date(2026, 1, 1), light_chain="Kappa ")
    with pytest.raises(DomainError) as err:
        record.repos.enrolments.add(bad)
    assert err.value.field == "light_chain"
    assert record.repos.enrolments.for_patient(pid) == []


def test_off_study_enrolment_update(record: Record) -> None:
    _, eid = setup_enrolment(record)
    stored = record.repos.enrolments.get(eid)
    off = Enrolment(
        **{
            **stored.value.__dict__,
            "status": PatientStatus.OFF_STUDY,
            "off_study_on": date(2026, 6, 1),
            "off_study_reason": OffStudyReason.PROGRESSION,
        }
    )
    assert record.repos.enrolments.update(eid, off, expected_version=1, reason="PD").value == off


def test_stale_edit_is_refused_and_shows_what_the_other_person_changed(record: Record) -> None:
    repo = record.repos.patients
    pid = repo.add(make_patient())
    mine = repo.get(pid)  # I open the record at version 1
    repo.update(pid, make_patient(family="Novak"), expected_version=1, reason="ID card")
    with pytest.raises(StaleRecordError) as info:
        repo.update(pid, make_patient(family="Nowak"), expected_version=mine.version, reason="x")
    text = str(info.value)
    assert "Someone else changed this patient" in text
    assert "family_name: 'Nováková' -> 'Novak'" in text
    assert record.os_user in text and "because 'ID card'" in text
    assert repo.get(pid).value.family_name == "Novak"  # their change stands, mine is not saved
    with pytest.raises(StaleRecordError, match="voided"):
        repo.void(pid, expected_version=2, reason="dup")
        repo.void(pid, expected_version=3, reason="again")


def test_reasons_are_required_and_unknown_rows_are_reported(record: Record) -> None:
    pid = record.repos.patients.add(make_patient())
    with pytest.raises(DomainError, match="reason is required"):
        record.repos.patients.void(pid, expected_version=1, reason="  ")
    with pytest.raises(RowNotFoundError, match="no patient with id 99"):
        record.repos.patients.update(99, make_patient(), expected_version=1, reason="x")


# Values a serum M-protein can have (0-20 g/dL; storage refuses impossible ones), in any
# spelling of digits and exponent that fits the stored limits.
decimals = st.decimals(
    min_value=0, max_value=20, allow_nan=False, allow_infinity=False, places=None
).filter(lambda d: d.as_tuple().exponent >= -40)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=decimals)
def test_lab_decimals_round_trip_exactly(record: Record, value: Decimal) -> None:
    pid = record.repos.patients.by_mrn("H") or None
    patient_id = pid.id if pid else record.repos.patients.add(make_patient("H"))
    lid = record.repos.labs.add(patient_id, LabResult("serum_m_protein", value, "g/dL", T0, value))
    back = record.repos.labs.get(lid).value
    # Same digits and exponent: 1.30 stays 1.30, not 1.3.
    assert back.value.as_tuple() == value.as_tuple()
