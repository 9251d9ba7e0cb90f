"""Efficacy endpoints as a protocol's ``[endpoints]`` table defines them (rules §7).

- Initial response rate: CR + PR, counting sCR and VGPR, at the end-of-cycle assessment the
  table names (``initial_response_cycle``; BPD: after cycle 2).
- Overall response rate *per protocol*: SD or better (BPD's unusual definition), shown
  next to the standard ORR (PR or better).
- Each rate is n/N with an exact 95 % Clopper-Pearson interval. A patient counts for efficacy
  after ``efficacy_min_cycles`` cycles (BPD: 2); others are listed with the reason.
- Time-to-event builders for PFS, the protocol's TTP (really a duration of response) and
  time to next therapy, for :func:`clinic_app.core.survival.kaplan_meier`.

Response categories are accepted as the strings ``"sCR" "CR" "VGPR" "PR" "MR" "SD" "PD"``
or as any enum whose value (or name) is one of them.

>>> bpd = EndpointDefinitions(efficacy_min_cycles=2, initial_response_cycle=2)
>>> rates = response_rates([
...     EfficacyPatient("a", 2, "VGPR", "CR"), EfficacyPatient("b", 4, "SD", "PR"),
...     EfficacyPatient("c", 3, "PD", "PD"), EfficacyPatient("d", 1, None, None)], bpd)
>>> rates.initial.ci.text()
'1/3 (33.3 %; 95 % CI 0.8 to 90.6 %)'
>>> rates.orr_per_protocol.label, rates.orr_per_protocol.ci.successes
('overall response rate (SD or better, per protocol)', 2)
>>> rates.not_evaluable[0].reason
'fewer than 2 cycles (1 completed)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum, StrEnum
from typing import TYPE_CHECKING

from clinic_app.core.errors import DomainError, MissingDataError, ProtocolError
from clinic_app.core.response import ResponseCategory

if TYPE_CHECKING:  # imported where used: every protocol holds endpoint definitions, so this
    # module loads at every start, while the statistics are needed only for the trial board.
    from clinic_app.core.binomial import ProportionCI
    from clinic_app.core.survival import EventTime

PFS_LABEL = "progression-free survival"
DOR_LABEL = "duration of response (protocol's TTP)"
TTNT_LABEL = "time to next therapy"


@dataclass(frozen=True)
class EndpointDefinitions:
    """The protocol's endpoint definitions (its ``[endpoints]`` table); no protocol's numbers
    are defaults: a protocol without the table has no efficacy endpoints."""

    efficacy_min_cycles: int
    """Cycles a patient completes to count for efficacy (BPD: 2)."""
    initial_response_cycle: int
    """The end-of-cycle assessment the initial response rate reads (BPD: after cycle 2)."""

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], source: str) -> EndpointDefinitions:
        """
        >>> EndpointDefinitions.from_mapping({"efficacy_min_cycles": 2}, "x.toml")
        Traceback (most recent call last):
        ...
        clinic_app.core.errors.ProtocolError: x.toml: initial_response_cycle: missing key
        """
        names = ("efficacy_min_cycles", "initial_response_cycle")
        for key in table:
            if key not in names:
                raise ProtocolError(source, key, "unknown key")
        values: dict[str, int] = {}
        for key in names:
            raw = table.get(key)
            if raw is None:
                raise ProtocolError(source, key, "missing key")
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
                raise ProtocolError(source, key, f"must be a whole number of cycles, not {raw!r}")
            values[key] = raw
        return cls(**values)

    @property
    def initial_response_text(self) -> str:
        """When the initial response is read, in words: ``after cycle 2``."""
        return f"after cycle {self.initial_response_cycle}"


def parse_response(value: str | Enum) -> ResponseCategory:
    """A category from its string, or from another module's enum (by value, then name).

    >>> parse_response("scr")
    <ResponseCategory.SCR: 'sCR'>
    """
    candidates: list[str] = []
    if isinstance(value, Enum):
        candidates.extend([str(value.value), value.name])
    else:
        candidates.append(str(value))
    # "not evaluable" is no response category (core.response): never a patient's response.
    by_key = {m.value.casefold(): m for m in ResponseCategory if m is not ResponseCategory.NE}
    for text in candidates:
        found = by_key.get(text.strip().casefold())
        if found is not None:
            return found
    raise DomainError(
        f"unknown response category {value!r}; expected one of {', '.join(by_key.values())}",
        field="response",
    )


@dataclass(frozen=True)
class EfficacyPatient:
    patient_id: str
    cycles_completed: int
    initial_response: str | Enum | None
    """The response at the assessment closing the protocol's initial-response cycle."""
    best_response: str | Enum | None
    """The best response on study (overall response rates)."""


class Exclusion(StrEnum):
    """Why a patient is left out of a response rate."""

    TOO_FEW_CYCLES = "too_few_cycles"
    NO_INITIAL_RESPONSE = "no_initial_response"
    NO_BEST_RESPONSE = "no_best_response"


@dataclass(frozen=True)
class NotEvaluable:
    patient_id: str
    reason: str
    why: Exclusion
    """Which rule left the patient out (the reason in words is for people)."""


@dataclass(frozen=True)
class Rate:
    label: str
    counts_as_response: tuple[ResponseCategory, ...]
    ci: ProportionCI

    def text(self) -> str:
        return f"{self.label}: {self.ci.text()}"


@dataclass(frozen=True)
class ResponseRates:
    initial: Rate | None
    """``None`` when no evaluable patient has an initial response recorded."""
    orr_per_protocol: Rate | None
    orr_standard: Rate | None
    evaluable: tuple[str, ...]
    not_evaluable: tuple[NotEvaluable, ...]
    """Patients left out of a rate, each with the reason (and which rate, if only one)."""


# IMWG: CR + PR "including sCR and VGPR"
_PR_OR_BETTER = tuple(c for c in ResponseCategory if c.is_pr_or_better)
# seed 002 ORR: "SD, PR, VGPR, CR or sCR"; its SD is "not CR, VGPR, PR or PD", so MR is in it
_SD_OR_BETTER = tuple(c for c in ResponseCategory if c.is_sd_or_better)


def response_rates(
    patients: Sequence[EfficacyPatient], definitions: EndpointDefinitions
) -> ResponseRates:
    """Initial response rate, ORR per protocol and standard ORR, with exact 95 % CIs, as the
    protocol's endpoint definitions read them."""
    min_cycles = definitions.efficacy_min_cycles
    when = definitions.initial_response_text
    evaluable: list[EfficacyPatient] = []
    left_out: list[NotEvaluable] = []
    for patient in patients:
        if patient.cycles_completed < min_cycles:
            left_out.append(
                NotEvaluable(
                    patient.patient_id,
                    f"fewer than {_cycles(min_cycles)} ({patient.cycles_completed} completed)",
                    Exclusion.TOO_FEW_CYCLES,
                )
            )
        else:
            evaluable.append(patient)

    initial_responses: list[ResponseCategory] = []
    best_responses: list[ResponseCategory] = []
    for patient in evaluable:
        if patient.initial_response is None:
            left_out.append(
                NotEvaluable(
                    patient.patient_id,
                    f"no response recorded {when} (left out of the initial response rate)",
                    Exclusion.NO_INITIAL_RESPONSE,
                )
            )
        else:
            initial_responses.append(parse_response(patient.initial_response))
        if patient.best_response is None:
            left_out.append(
                NotEvaluable(
                    patient.patient_id,
                    "no best response recorded (left out of both overall response rates)",
                    Exclusion.NO_BEST_RESPONSE,
                )
            )
        else:
            best_responses.append(parse_response(patient.best_response))

    return ResponseRates(
        initial=_rate(
            f"initial response rate (CR + PR, including sCR and VGPR, {when})",
            _PR_OR_BETTER,
            initial_responses,
        ),
        orr_per_protocol=_rate(
            "overall response rate (SD or better, per protocol)", _SD_OR_BETTER, best_responses
        ),
        orr_standard=_rate(
            "overall response rate (PR or better, standard)", _PR_OR_BETTER, best_responses
        ),
        evaluable=tuple(p.patient_id for p in evaluable),
        not_evaluable=tuple(left_out),
    )


def _cycles(n: int) -> str:
    return "1 cycle" if n == 1 else f"{n} cycles"


def _rate(
    label: str, responders: tuple[ResponseCategory, ...], responses: list[ResponseCategory]
) -> Rate | None:
    from clinic_app.core.binomial import clopper_pearson

    if not responses:
        return None
    hits = sum(1 for response in responses if response in responders)
    return Rate(label, responders, clopper_pearson(hits, len(responses)))


def _days(origin: date, end: date, origin_field: str, end_field: str) -> int:
    days = (end - origin).days
    if days < 0:
        raise DomainError(
            f"{end_field} ({end.isoformat()}) is before {origin_field} ({origin.isoformat()})",
            field=end_field,
        )
    return days


def progression_free_survival(
    start_on: date,
    last_assessment_on: date | None,
    progression_on: date | None = None,
    death_on: date | None = None,
) -> EventTime:
    """Start of therapy to progression or death, whichever is first; else censored at the
    last assessment (rules §7)."""
    from clinic_app.core.survival import EventTime

    events = [d for d in (progression_on, death_on) if d is not None]
    if events:
        return EventTime(_days(start_on, min(events), "start_on", "progression_on/death_on"), True)
    if last_assessment_on is None:
        raise MissingDataError(
            "no progression, death or assessment after the start: PFS cannot be censored",
            field="last_assessment_on",
        )
    return EventTime(_days(start_on, last_assessment_on, "start_on", "last_assessment_on"), False)


def duration_of_response(
    first_response_on: date,
    last_assessment_on: date | None,
    progression_on: date | None = None,
) -> EventTime:
    """The protocol's "time to progression": from the first response to progression, which
    is a duration of response; censored at the last assessment (seed 002)."""
    from clinic_app.core.survival import EventTime

    if progression_on is not None:
        return EventTime(
            _days(first_response_on, progression_on, "first_response_on", "progression_on"), True
        )
    if last_assessment_on is None:
        raise MissingDataError(
            "no progression and no assessment recorded after the first response",
            field="last_assessment_on",
        )
    return EventTime(
        _days(first_response_on, last_assessment_on, "first_response_on", "last_assessment_on"),
        False,
    )


def time_to_next_therapy(
    start_on: date,
    last_follow_up_on: date | None,
    next_therapy_on: date | None = None,
) -> EventTime:
    """Start of study therapy to the start of the next therapy; else censored at the last
    follow-up (seed 002)."""
    from clinic_app.core.survival import EventTime

    if next_therapy_on is not None:
        return EventTime(_days(start_on, next_therapy_on, "start_on", "next_therapy_on"), True)
    if last_follow_up_on is None:
        raise MissingDataError(
            "no next therapy and no follow-up date: time to next therapy cannot be censored",
            field="last_follow_up_on",
        )
    return EventTime(_days(start_on, last_follow_up_on, "start_on", "last_follow_up_on"), False)
