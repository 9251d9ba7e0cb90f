"""Response rates and time-to-event builders (rules §7, seed 002), by hand."""

from __future__ import annotations

from datetime import date
from enum import Enum

import pytest

from clinic_app.core.endpoints import (
    DOR_LABEL,
    EfficacyPatient,
    EndpointDefinitions,
    duration_of_response,
    parse_response,
    progression_free_survival,
    response_rates,
    time_to_next_therapy,
)
from clinic_app.core.errors import DomainError, MissingDataError
from clinic_app.core.response import ResponseCategory
from clinic_app.core.survival import EventTime

# bpd.toml [endpoints]: evaluable after 2 cycles, initial response at the end of cycle 2
BPD = EndpointDefinitions(efficacy_min_cycles=2, initial_response_cycle=2)


class OtherModulesCategory(Enum):
    """Stands in for clinic_app.core.response.ResponseCategory, whatever its values are."""

    SCR = "sCR"
    VERY_GOOD = "VGPR"
    STABLE = "stable"


def test_rates_on_ten_patients_by_hand() -> None:
    after_two = ["sCR", "CR", "VGPR", "PR", "MR", "SD", "SD", "PD", "PR", "SD"]
    best = ["sCR", "CR", "VGPR", "PR", "MR", "SD", "PR", "PD", "CR", "PD"]
    patients = [
        EfficacyPatient(f"p{i}", 2 + i, a, b)
        for i, (a, b) in enumerate(zip(after_two, best, strict=True))
    ]
    rates = response_rates(patients, BPD)
    assert rates.initial is not None
    assert rates.orr_per_protocol is not None and rates.orr_standard is not None
    # initial: sCR, CR, VGPR, PR, PR (p8) = 5 of 10
    assert (rates.initial.ci.successes, rates.initial.ci.n) == (5, 10)
    # per protocol SD or better on best: all but the two PD = 8 of 10 (MR counts: seed SD)
    assert (rates.orr_per_protocol.ci.successes, rates.orr_per_protocol.ci.n) == (8, 10)
    # standard PR or better on best: sCR, CR, VGPR, PR, PR (p6), CR (p8) = 6 of 10
    assert (rates.orr_standard.ci.successes, rates.orr_standard.ci.n) == (6, 10)
    assert "per protocol" in rates.orr_per_protocol.label
    assert "standard" in rates.orr_standard.label
    # 5/10: exact CI 0.187086 to 0.812914 (symmetric; scipy beta.ppf(0.025, 5, 6))
    assert rates.initial.ci.lower == pytest.approx(0.187086, abs=1e-6)
    assert rates.initial.ci.upper == pytest.approx(0.812914, abs=1e-6)
    assert rates.not_evaluable == ()


def test_fewer_than_two_cycles_is_not_evaluable() -> None:
    patients = [
        EfficacyPatient("one-cycle", 1, None, "PD"),  # 1 < 2: out, whatever the response
        EfficacyPatient("two-cycles", 2, "PR", "PR"),  # exactly 2: in
        EfficacyPatient("zero", 0, None, None),
    ]
    rates = response_rates(patients, BPD)
    assert rates.evaluable == ("two-cycles",)
    assert [(n.patient_id, n.reason) for n in rates.not_evaluable] == [
        ("one-cycle", "fewer than 2 cycles (1 completed)"),
        ("zero", "fewer than 2 cycles (0 completed)"),
    ]
    assert rates.initial is not None and rates.initial.ci.text().startswith("1/1 (100 %")


def test_missing_responses_are_listed_not_guessed() -> None:
    patients = [
        EfficacyPatient("a", 3, None, "PR"),
        EfficacyPatient("b", 3, "SD", None),
        EfficacyPatient("c", 3, "PR", "CR"),
    ]
    rates = response_rates(patients, BPD)
    assert rates.initial is not None and rates.initial.ci.n == 2  # a left out
    assert rates.orr_standard is not None and rates.orr_standard.ci.n == 2  # b left out
    reasons = {(n.patient_id, n.reason.split(" (")[0]) for n in rates.not_evaluable}
    assert reasons == {
        ("a", "no response recorded after cycle 2"),
        ("b", "no best response recorded"),
    }


def test_the_protocols_own_definitions_are_applied() -> None:
    # A protocol evaluable after 1 cycle, initial response read at the end of cycle 3:
    # "x" (1 cycle, no cycle-3 response) counts for the overall rates only; "y" (0) is out.
    defs = EndpointDefinitions(efficacy_min_cycles=1, initial_response_cycle=3)
    patients = [
        EfficacyPatient("x", 1, None, "PR"),
        EfficacyPatient("y", 0, None, "PR"),
        EfficacyPatient("z", 4, "VGPR", "CR"),
    ]
    rates = response_rates(patients, defs)
    assert rates.evaluable == ("x", "z")
    assert rates.initial is not None and (rates.initial.ci.successes, rates.initial.ci.n) == (1, 1)
    assert rates.initial.label.endswith("after cycle 3)")
    # x (PR) and z (CR): 2/2 PR or better
    assert rates.orr_standard is not None and rates.orr_standard.ci.text().startswith("2/2")
    assert [(n.patient_id, n.reason) for n in rates.not_evaluable] == [
        ("y", "fewer than 1 cycle (0 completed)"),
        ("x", "no response recorded after cycle 3 (left out of the initial response rate)"),
    ]


def test_no_evaluable_patient_gives_no_rate() -> None:
    rates = response_rates([EfficacyPatient("a", 1, None, None)], BPD)
    assert rates.initial is None and rates.orr_per_protocol is None


def test_categories_from_strings_and_other_enums() -> None:
    assert parse_response("VGPR") is ResponseCategory.VGPR
    assert parse_response(" scr ") is ResponseCategory.SCR
    assert parse_response(ResponseCategory.MR) is ResponseCategory.MR
    assert parse_response(OtherModulesCategory.SCR) is ResponseCategory.SCR
    assert parse_response(OtherModulesCategory.VERY_GOOD) is ResponseCategory.VGPR
    with pytest.raises(DomainError):
        parse_response(OtherModulesCategory.STABLE)
    with pytest.raises(DomainError):
        parse_response("nCR")
    # one enum for the IMWG categories (core.response): "not evaluable" is no response
    with pytest.raises(DomainError):
        parse_response("not evaluable")
    with pytest.raises(DomainError):
        parse_response(ResponseCategory.NE)


START = date(2024, 1, 1)


def test_pfs_event_is_progression_or_death_whichever_first() -> None:
    # progression 2024-03-01: 31 (Jan) + 29 (Feb 2024) = 60 days
    assert progression_free_survival(START, date(2024, 4, 1), date(2024, 3, 1)) == EventTime(
        60, True
    )
    # death 2024-02-01 (31 days) before progression -> 31, event
    assert progression_free_survival(
        START, None, progression_on=date(2024, 3, 1), death_on=date(2024, 2, 1)
    ) == EventTime(31, True)
    # no event: censored at last assessment 2024-01-29 = 28 days
    assert progression_free_survival(START, date(2024, 1, 29)) == EventTime(28, False)
    # progression on the start day: 0 days
    assert progression_free_survival(START, None, START) == EventTime(0, True)


def test_pfs_missing_or_contradictory_dates() -> None:
    with pytest.raises(MissingDataError) as caught:
        progression_free_survival(START, None)
    assert caught.value.field == "last_assessment_on"
    with pytest.raises(DomainError):
        progression_free_survival(START, None, date(2023, 12, 31))  # one day before start


def test_duration_of_response_is_the_protocols_ttp() -> None:
    assert DOR_LABEL == "duration of response (protocol's TTP)"
    # first response 2024-03-01, progression 2024-06-01: 31 + 30 + 31 = 92 days
    assert duration_of_response(date(2024, 3, 1), None, date(2024, 6, 1)) == EventTime(92, True)
    assert duration_of_response(date(2024, 3, 1), date(2024, 3, 29)) == EventTime(28, False)
    with pytest.raises(MissingDataError):
        duration_of_response(date(2024, 3, 1), None)


def test_time_to_next_therapy() -> None:
    # next therapy 2025-01-01: 366 days after 2024-01-01 (leap year)
    assert time_to_next_therapy(START, None, date(2025, 1, 1)) == EventTime(366, True)
    assert time_to_next_therapy(START, date(2024, 7, 1)) == EventTime(182, False)
    with pytest.raises(MissingDataError):
        time_to_next_therapy(START, None)
