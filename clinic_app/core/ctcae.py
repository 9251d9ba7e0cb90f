"""CTCAE v5.0 grading of lab values, and febrile neutropenia (rules §3).

The grade boundaries are data (``resources/ctcae/lab_grading.toml``); this module reads them
and applies them. Values, LLN, ULN and baseline are given in the unit the lab reported and
graded in the test's SI unit. When the value alone cannot settle the grade (a limit or the
baseline is missing) the result says what is needed instead of guessing.

>>> from decimal import Decimal
>>> grade_lab("anc", Decimal("0.4"), "10^9/L").explanation
'ANC 0.4 ×10⁹/L < 0.5: grade 4'
>>> grade_lab("anc", Decimal("1.7"), "10^9/L").explanation
"ANC 1.7 ×10⁹/L: needs the lab's LLN (grade 0 or 1 without it)"
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from pathlib import Path

from clinic_app.core.errors import DomainError, MissingDataError, ProtocolError
from clinic_app.core.ismp import format_number
from clinic_app.core.labs import LabTest, lab_test, resources_dir, unit_label
from clinic_app.core.records import TemperatureReading

LLN = "LLN"
ULN = "ULN"
BASELINE = "baseline"
_REFERENCES = (LLN, ULN, BASELINE)
_NEEDED = {LLN: "the lab's LLN", ULN: "the lab's ULN", BASELINE: "the baseline value"}

SEVERE_GRADE = 3
"""CTCAE v5.0: grade 3 is "severe or medically significant"; the app flags grade 3 or worse."""


def is_severe(grade: int | None) -> bool:
    """Whether a CTCAE grade is severe or worse (grade >= 3); an unknown grade is not.

    >>> is_severe(3), is_severe(2), is_severe(None)
    (True, False, False)
    """
    return grade is not None and grade >= SEVERE_GRADE


LAB_FACTS: Mapping[str, str] = {
    "symptomatic": "symptomatic",
    "intervention_indicated": "intervention indicated",
    "hospitalisation_indicated": "hospitalisation indicated",
    "life_threatening": "life-threatening consequences",
}
"""The clinical facts CTCAE v5.0 uses for the electrolyte terms (key -> words on screen).

The lab form asks for them and the record keeps them with the result (NULL = not asked or
not known); a criterion's ``requires`` names one of them (or, for terms whose facts the form
does not ask, a fact in words such as "transfusion indicated")."""

Facts = Mapping[str, bool | None]
"""Fact key -> True (present), False (absent) or None (not asked / not known)."""


def fact_words(fact: str) -> str:
    return LAB_FACTS.get(fact, fact)


class Direction(StrEnum):
    LOW = "low"
    """A "decreased"/"hypo" term: a criterion holds when the value is below its bound."""
    HIGH = "high"
    """An "increased"/"hyper" term: a criterion holds when the value is above its bound."""


class BaselineState(StrEnum):
    NORMAL = "normal"
    ABNORMAL = "abnormal"


@dataclass(frozen=True)
class Bound:
    """A boundary: an absolute SI value, or a multiple of LLN, ULN or the baseline."""

    factor: Decimal
    reference: str | None = None

    @classmethod
    def parse(cls, text: str) -> Bound:
        """``"1.5"``, ``"ULN"``, ``"3.0 x ULN"`` or ``"1.5 x baseline"``."""
        words = text.replace("×", "x").split()
        try:
            if len(words) == 1 and words[0] in _REFERENCES:
                return cls(Decimal(1), words[0])
            if len(words) == 1:
                return cls(_finite(words[0]))
            if len(words) == 3 and words[1] == "x" and words[2] in _REFERENCES:
                return cls(_finite(words[0]), words[2])
        except (InvalidOperation, ValueError):
            pass
        raise ValueError(f"bound {text!r} is not a number, LLN, ULN or '<number> x <reference>'")

    def resolve(self, references: Mapping[str, Decimal | None]) -> Decimal | None:
        if self.reference is None:
            return self.factor
        base = references.get(self.reference)
        return None if base is None else self.factor * base

    def describe(self, references: Mapping[str, Decimal | None]) -> str:
        limit = self.resolve(references)
        if self.reference is None or limit is None:
            return format_number(self.factor)
        if self.factor == 1:
            return f"{self.reference} {format_number(limit)}"
        return f"{format_number(self.factor)} × {self.reference} ({format_number(limit)})"


@dataclass(frozen=True)
class Criterion:
    """One way of reaching ``grade``: a bound the value passes, a clinical fact, or both."""

    grade: int
    bound: Bound | None = None
    baseline: BaselineState | None = None
    inclusive: bool = False
    requires: str | None = None
    in_units: tuple[tuple[str, Bound], ...] = ()
    """CTCAE's own column for a conventional unit: (unit, bound in that unit)."""

    def bound_in(self, unit: str) -> Bound | None:
        return dict(self.in_units).get(unit, self.bound)


@dataclass(frozen=True)
class TermRule:
    """The grading rule of one CTCAE term for one lab test."""

    name: str
    test: str
    direction: Direction
    criteria: tuple[Criterion, ...]
    only_beyond_limit: bool = False

    def has_column(self, unit: str) -> bool:
        """Whether CTCAE gives this term its own column of values in ``unit``."""
        return any(unit in dict(c.in_units) for c in self.criteria)

    def in_unit(self, unit: str) -> TermRule:
        """The rule with its absolute bounds taken from CTCAE's column for ``unit``."""
        criteria = tuple(
            Criterion(c.grade, c.bound_in(unit), c.baseline, c.inclusive, c.requires)
            for c in self.criteria
        )
        return TermRule(self.name, self.test, self.direction, criteria, self.only_beyond_limit)

    @property
    def limit_reference(self) -> str:
        """The reference limit this term moves away from (LLN for low terms, ULN for high)."""
        return LLN if self.direction is Direction.LOW else ULN

    def passes(self, value: Decimal, limit: Decimal, *, inclusive: bool = False) -> bool:
        if self.direction is Direction.LOW:
            return value <= limit if inclusive else value < limit
        return value >= limit if inclusive else value > limit

    def symbol(self, *, inclusive: bool = False, negated: bool = False) -> str:
        low = self.direction is Direction.LOW
        if negated:
            return "≥" if low else "≤"
        if inclusive:
            return "≤" if low else "≥"
        return "<" if low else ">"


@dataclass(frozen=True)
class FebrileNeutropeniaCriteria:
    """Febrile neutropenia, grade 3 (rules §3; CTCAE v5.0: Febrile neutropenia).

    TOML table ``[febrile_neutropenia]``: ``anc_below`` (×10⁹/L), ``single_temperature_above_c``,
    ``sustained_temperature_at_least_c`` and ``sustained_longer_than_minutes``.
    """

    anc_below: Decimal = Decimal("1.0")
    single_temperature_above_c: Decimal = Decimal("38.3")
    sustained_temperature_at_least_c: Decimal = Decimal("38.0")
    sustained_longer_than_minutes: int = 60

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], source: str) -> FebrileNeutropeniaCriteria:
        where = "febrile_neutropenia"
        decimals = ("anc_below", "single_temperature_above_c", "sustained_temperature_at_least_c")
        unknown = set(table) - {*decimals, "sustained_longer_than_minutes"}
        if unknown:
            raise ProtocolError(source, where, f"unknown keys: {', '.join(sorted(unknown))}")
        default = cls()
        values: dict[str, Decimal] = {}
        for name in decimals:
            raw = table.get(name)
            values[name] = (
                getattr(default, name)
                if raw is None
                else _toml_decimal(raw, source, f"{where}.{name}")
            )
        minutes = table.get("sustained_longer_than_minutes", default.sustained_longer_than_minutes)
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 0:
            raise ProtocolError(
                source, f"{where}.sustained_longer_than_minutes", "must be a whole number >= 0"
            )
        return cls(
            anc_below=values["anc_below"],
            single_temperature_above_c=values["single_temperature_above_c"],
            sustained_temperature_at_least_c=values["sustained_temperature_at_least_c"],
            sustained_longer_than_minutes=minutes,
        )


@dataclass(frozen=True)
class GradingTable:
    """Every lab grading rule, plus the febrile neutropenia criteria."""

    terms: tuple[TermRule, ...]
    febrile_neutropenia: FebrileNeutropeniaCriteria = field(
        default_factory=FebrileNeutropeniaCriteria
    )

    def terms_for(self, test: str) -> tuple[TermRule, ...]:
        return tuple(term for term in self.terms if term.test == test)

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], source: str) -> GradingTable:
        unknown = set(table) - {"term", "febrile_neutropenia"}
        if unknown:
            raise ProtocolError(
                source, "(top level)", f"unknown keys: {', '.join(sorted(unknown))}"
            )
        rows = table.get("term")
        if not isinstance(rows, list) or not rows:
            raise ProtocolError(source, "term", "needs at least one [[term]] table")
        terms = tuple(_parse_term(row, source, index) for index, row in enumerate(rows))
        per_test: dict[str, list[TermRule]] = {}
        for term in terms:
            per_test.setdefault(term.test, []).append(term)
        for test, rules in per_test.items():
            directions = sorted(rule.direction.value for rule in rules)
            if len(rules) > 2 or len(set(directions)) != len(directions):
                raise ProtocolError(
                    source, "term", f"test {test!r} needs at most one low and one high term"
                )
        fn_table = table.get("febrile_neutropenia", {})
        if not isinstance(fn_table, Mapping):
            raise ProtocolError(source, "febrile_neutropenia", "must be a table")
        return cls(terms, FebrileNeutropeniaCriteria.from_mapping(fn_table, source))


def _parse_term(row: object, source: str, index: int) -> TermRule:
    where = f"term[{index}]"
    if not isinstance(row, Mapping):
        raise ProtocolError(source, where, "must be a table")
    unknown = set(row) - {"name", "test", "direction", "criteria", "only_beyond_limit"}
    if unknown:
        raise ProtocolError(source, where, f"unknown keys: {', '.join(sorted(unknown))}")
    name = row.get("name")
    if not isinstance(name, str) or not name:
        raise ProtocolError(source, f"{where}.name", "must be a non-empty string")
    where = f"term[{name}]"
    test = row.get("test")
    if not isinstance(test, str):
        raise ProtocolError(source, f"{where}.test", "must be a lab test key")
    try:
        lab_test(test)
    except DomainError:
        raise ProtocolError(source, f"{where}.test", f"unknown lab test {test!r}") from None
    try:
        direction = Direction(str(row.get("direction")))
    except ValueError:
        raise ProtocolError(source, f"{where}.direction", "must be 'low' or 'high'") from None
    beyond = row.get("only_beyond_limit", False)
    if not isinstance(beyond, bool):
        raise ProtocolError(source, f"{where}.only_beyond_limit", "must be true or false")
    raw_criteria = row.get("criteria")
    if not isinstance(raw_criteria, list) or not raw_criteria:
        raise ProtocolError(source, f"{where}.criteria", "must be a non-empty list")
    criteria = tuple(
        _parse_criterion(item, source, f"{where}.criteria[{i}]")
        for i, item in enumerate(raw_criteria)
    )
    rule = TermRule(name, test, direction, criteria, beyond)
    # A unit column must cover every absolute bound, or a value in that unit would be graded
    # half by one column and half by the other.
    offered = lab_test(test).units
    for unit in {u for c in criteria for u, _ in c.in_units}:
        if unit not in offered:
            raise ProtocolError(source, f"{where}.criteria", f"unit {unit!r} is not offered")
        for criterion in criteria:
            absolute = criterion.bound is not None and criterion.bound.reference is None
            if absolute and unit not in dict(criterion.in_units):
                raise ProtocolError(
                    source,
                    f"{where}.criteria",
                    f"every absolute bound needs its {unit} value (grade {criterion.grade})",
                )
    return rule


def _parse_criterion(item: object, source: str, where: str) -> Criterion:
    if not isinstance(item, Mapping):
        raise ProtocolError(source, where, "must be a table")
    unknown = set(item) - {"grade", "bound", "baseline", "inclusive", "requires", "in_units"}
    if unknown:
        raise ProtocolError(source, where, f"unknown keys: {', '.join(sorted(unknown))}")
    grade = item.get("grade")
    if not isinstance(grade, int) or isinstance(grade, bool) or not 1 <= grade <= 4:
        raise ProtocolError(source, f"{where}.grade", "must be a whole number 1 to 4")
    bound: Bound | None = None
    if "bound" in item:
        raw_bound = item["bound"]
        if not isinstance(raw_bound, str):
            raise ProtocolError(source, f"{where}.bound", 'must be a string such as "1.5"')
        try:
            bound = Bound.parse(raw_bound)
        except ValueError as error:
            raise ProtocolError(source, f"{where}.bound", str(error)) from None
    requires = item.get("requires")
    if requires is not None and (not isinstance(requires, str) or not requires):
        raise ProtocolError(source, f"{where}.requires", "must be a non-empty string")
    if bound is None and requires is None:
        raise ProtocolError(source, where, "needs a bound, a 'requires' fact, or both")
    baseline: BaselineState | None = None
    if "baseline" in item:
        try:
            baseline = BaselineState(str(item["baseline"]))
        except ValueError:
            raise ProtocolError(
                source, f"{where}.baseline", "must be 'normal' or 'abnormal'"
            ) from None
    inclusive = item.get("inclusive", False)
    if not isinstance(inclusive, bool):
        raise ProtocolError(source, f"{where}.inclusive", "must be true or false")
    columns: list[tuple[str, Bound]] = []
    raw_units = item.get("in_units", {})
    if not isinstance(raw_units, Mapping):
        raise ProtocolError(
            source, f"{where}.in_units", 'must be a table like { "mg/dL" = "11.5" }'
        )
    for unit, raw in raw_units.items():
        if bound is None or bound.reference is not None or not isinstance(raw, str):
            raise ProtocolError(
                source, f"{where}.in_units.{unit}", "needs an absolute bound in both units"
            )
        try:
            columns.append((unit, Bound(_finite(raw))))
        except (InvalidOperation, ValueError):
            raise ProtocolError(
                source, f"{where}.in_units.{unit}", f"{raw!r} is not a number"
            ) from None
    return Criterion(grade, bound, baseline, inclusive, requires, tuple(columns))


def load_grading_table(path: Path | None = None) -> GradingTable:
    """Read a grading file; the default is the bundled ``ctcae/lab_grading.toml``."""
    path = path or resources_dir() / "ctcae" / "lab_grading.toml"
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return GradingTable.from_mapping(data, str(path))


@cache
def default_grading_table() -> GradingTable:
    return load_grading_table()


@dataclass(frozen=True)
class RaisingFact:
    """A clinical fact that, if present, raises the grade to ``grade``."""

    fact: str
    grade: int

    def __str__(self) -> str:
        return f"{fact_words(self.fact)} (grade {self.grade})"


@dataclass(frozen=True)
class LabGrade:
    """The CTCAE grade one lab value supports.

    ``grade`` is ``None`` when the value alone cannot settle it: ``missing`` then names what
    is needed (``"LLN"``, ``"ULN"``, ``"baseline"``) and ``lowest_grade`` is the grade the
    value supports for certain. ``raisable_by`` lists clinical facts the form should ask
    about, each with the grade it would give.
    """

    test: str
    term: str
    grade: int | None
    lowest_grade: int
    value_si: Decimal
    unit_si: str
    explanation: str
    raisable_by: tuple[RaisingFact, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def is_graded(self) -> bool:
        return self.grade is not None

    @property
    def severe(self) -> bool:
        """Grade 3 or worse for certain: the value supports grade 3 even when it cannot settle
        the exact grade (a missing limit never makes a result look severe, nor hides one)."""
        return is_severe(self.lowest_grade)


@dataclass(frozen=True)
class _Outcome:
    rule: TermRule
    grade: int | None
    lowest: int
    highest_possible: int
    reason: str
    raisable: tuple[RaisingFact, ...]
    missing: tuple[str, ...]


def grade_lab(
    test: str,
    value: Decimal | None,
    unit: str,
    lln: Decimal | None = None,
    uln: Decimal | None = None,
    baseline: Decimal | None = None,
    *,
    table: GradingTable | None = None,
    facts: Facts | None = None,
) -> LabGrade:
    """Grade one lab value by CTCAE v5.0.

    ``lln``, ``uln`` and ``baseline`` are in ``unit``, like the value. For calcium, potassium
    and sodium the applicable term (hyper or hypo) is returned; a value between the limits is
    grade 0 with both term names. ``facts`` (see :data:`LAB_FACTS`) raise the grade where
    CTCAE says so; a fact that is None (not known) is listed in ``raisable_by`` instead.
    A value in a unit CTCAE gives its own column for (calcium and magnesium in mg/dL) is
    graded by that column, not by its exact SI conversion.
    """
    entry = lab_test(test)
    rules = (table or default_grading_table()).terms_for(test)
    if not rules:
        raise DomainError(f"{entry.name} has no CTCAE lab grading.", field="test")
    if value is None:
        # A result read from a half-filled row: say which field, never an AttributeError.
        raise DomainError(f"{entry.name}: enter the value to grade it.", field="value")
    if not isinstance(value, Decimal):
        raise DomainError(f"{entry.name}: the value must be a number.", field="value")
    if not value.is_finite():
        raise DomainError(f"{entry.name}: the value must be a number.", field="value")
    if value < 0:
        # A negative count or concentration is a typing error; graded it would read as G4.
        raise DomainError(
            f"{entry.name}: the value cannot be negative ({format_number(value)}); "
            "check the entry.",
            field="value",
        )
    references = {
        LLN: _reference_si(entry, lln, unit, "lln"),
        ULN: _reference_si(entry, uln, unit, "uln"),
        BASELINE: _reference_si(entry, baseline, unit, "baseline"),
    }
    lower, upper = references[LLN], references[ULN]
    if lower is not None and upper is not None and lower >= upper:
        raise DomainError(
            f"{entry.name}: the LLN ({format_number(lln or Decimal(0))}) must be below the ULN "
            f"({format_number(uln or Decimal(0))}); check the reference range.",
            field="lln",
        )
    value_si = entry.to_si(value, unit)
    shown = f"{entry.abbreviation} {format_number(value)} {unit_label(unit)}"
    if unit != entry.si_unit:
        shown += f" ({format_number(value_si)} {unit_label(entry.si_unit)})"
    if any(rule.has_column(unit) for rule in rules):
        # CTCAE's own column for this unit: grade the value as entered, with the limits as
        # entered (rules §3 table note; issue 13: 13.6 mg/dL calcium is grade 4, not 3).
        rules = tuple(rule.in_unit(unit) for rule in rules)
        graded_value = value
        references = {LLN: lln, ULN: uln, BASELINE: baseline}
    else:
        graded_value = value_si
    outcomes = [_grade_term(rule, graded_value, references, facts or {}) for rule in rules]
    chosen = _choose(outcomes)
    if chosen is None:
        return _within_limits(entry, outcomes, value_si, shown)
    return LabGrade(
        test=test,
        term=chosen.rule.name,
        grade=chosen.grade,
        lowest_grade=chosen.lowest,
        value_si=value_si,
        unit_si=entry.si_unit,
        explanation=f"{shown}{chosen.reason}",
        raisable_by=chosen.raisable,
        missing=chosen.missing,
    )


def _reference_si(entry: LabTest, value: Decimal | None, unit: str, name: str) -> Decimal | None:
    if value is None:
        return None
    if not value.is_finite() or value < 0:
        raise DomainError(f"{entry.name}: {name.upper()} must be a number >= 0.", field=name)
    return entry.to_si(value, unit)


def _choose(outcomes: Sequence[_Outcome]) -> _Outcome | None:
    """The outcome to report; ``None`` when every term says grade 0 (within limits)."""
    abnormal = [o for o in outcomes if o.lowest >= 1]
    if abnormal:
        # With LLN < ULN a value cannot be both high and low; the worse one is reported.
        return max(abnormal, key=lambda o: o.lowest)
    undecided = [o for o in outcomes if o.grade is None]
    if not undecided:
        return None
    if len(undecided) == 1:
        return undecided[0]
    # Two-sided test with neither limit known and the value between the absolute bounds.
    first, second = undecided
    missing = tuple(dict.fromkeys(first.missing + second.missing))
    needed = " and ".join(_NEEDED[m] for m in missing)
    merged = TermRule(
        f"{first.rule.name} / {second.rule.name}", first.rule.test, first.rule.direction, ()
    )
    highest = max(first.highest_possible, second.highest_possible)
    text = f": needs {needed} ({_grade_range(0, highest)} without it)"
    return _Outcome(merged, None, 0, highest, text, (), missing)


def _within_limits(
    entry: LabTest, outcomes: Sequence[_Outcome], value_si: Decimal, shown: str
) -> LabGrade:
    names = " / ".join(o.rule.name for o in outcomes)
    reason = outcomes[0].reason if len(outcomes) == 1 else ": within the reference range: grade 0"
    return LabGrade(
        test=entry.key,
        term=names,
        grade=0,
        lowest_grade=0,
        value_si=value_si,
        unit_si=entry.si_unit,
        explanation=f"{shown}{reason}",
    )


def _grade_term(
    rule: TermRule, value: Decimal, references: Mapping[str, Decimal | None], facts: Facts
) -> _Outcome:
    limit_name = rule.limit_reference
    limit = references[limit_name]
    if rule.only_beyond_limit:
        if limit is None:
            return _Outcome(rule, None, 0, 4, f": needs {_NEEDED[limit_name]}", (), (limit_name,))
        if not rule.passes(value, limit):
            text = f" {rule.symbol(negated=True)} {limit_name} {format_number(limit)}: grade 0"
            return _Outcome(rule, 0, 0, 0, text, (), ())

    baseline_state, baseline_missing = _baseline_state(rule, references)
    lowest, open_criteria = _value_grade(rule, value, references, baseline_state)
    if open_criteria:
        missing = tuple(
            dict.fromkeys(n for needs in open_criteria.values() for n in needs or baseline_missing)
        )
        highest = max(c.grade for c in open_criteria)
        needed = " and ".join(_NEEDED[m] for m in missing)
        text = f": needs {needed} ({_grade_range(lowest, highest)} without it)"
        if baseline_state is None and BASELINE in missing and references[limit_name] is not None:
            if_normal, still_open = _value_grade(rule, value, references, BaselineState.NORMAL)
            if not still_open:
                text += f"; grade {if_normal} if the baseline was within limits"
        return _Outcome(rule, None, lowest, highest, text, (), missing)
    if lowest == 0:
        return _Outcome(rule, 0, 0, 0, _grade_zero_reason(rule, references), (), ())
    decisive = next(
        c
        for c in rule.criteria
        if c.requires is None
        and c.grade == lowest
        and _holds(rule, c, value, references, baseline_state)[0]
    )
    assert decisive.bound is not None  # value criteria always carry a bound
    text = (
        f" {rule.symbol(inclusive=decisive.inclusive)} "
        f"{decisive.bound.describe(references)}: grade {lowest}"
    )
    raised, because = _by_facts(rule, lowest, value, references, baseline_state, facts)
    if raised > lowest:
        text += f"; {because}: grade {raised}"
    raisable = tuple(
        fact
        for fact in _raisable(rule, raised, value, references, baseline_state)
        if facts.get(fact.fact) is None
    )
    return _Outcome(rule, raised, raised, raised, text, raisable, ())


def _by_facts(
    rule: TermRule,
    grade: int,
    value: Decimal,
    references: Mapping[str, Decimal | None],
    baseline_state: BaselineState | None,
    facts: Facts,
) -> tuple[int, str]:
    """The grade the recorded clinical facts give (never below the value's), and which fact.

    Only called once the value is beyond the limit (grade >= 1): a fact alone is not the term.
    """
    best, because = grade, ""
    for criterion in rule.criteria:
        if criterion.requires is None or facts.get(criterion.requires) is not True:
            continue
        if criterion.bound is not None:
            holds, _ = _holds(rule, criterion, value, references, baseline_state)
            if not holds:
                continue
        if criterion.grade > best:
            best, because = criterion.grade, fact_words(criterion.requires)
    return best, because


def _value_grade(
    rule: TermRule,
    value: Decimal,
    references: Mapping[str, Decimal | None],
    baseline_state: BaselineState | None,
) -> tuple[int, dict[Criterion, tuple[str, ...]]]:
    """The grade the value certainly reaches, and the higher criteria that cannot be checked."""
    met: list[int] = []
    unknown: dict[Criterion, tuple[str, ...]] = {}
    for criterion in rule.criteria:
        if criterion.requires is not None:
            continue
        holds, needs = _holds(rule, criterion, value, references, baseline_state)
        if holds is None:
            unknown[criterion] = needs
        elif holds:
            met.append(criterion.grade)
    lowest = max(met, default=0)
    return lowest, {c: needs for c, needs in unknown.items() if c.grade > lowest}


def _grade_range(lowest: int, highest: int) -> str:
    if highest == lowest + 1:
        return f"grade {lowest} or {highest}"
    return f"grade {lowest} to {highest}"


def _baseline_state(
    rule: TermRule, references: Mapping[str, Decimal | None]
) -> tuple[BaselineState | None, tuple[str, ...]]:
    if not any(c.baseline is not None for c in rule.criteria):
        return None, ()
    baseline = references[BASELINE]
    limit = references[rule.limit_reference]
    if baseline is None:
        return None, (BASELINE,)
    if limit is None:
        return None, (rule.limit_reference,)
    # CTCAE v5.0: the baseline is abnormal when it is itself beyond the limit.
    abnormal = rule.passes(baseline, limit)
    return (BaselineState.ABNORMAL if abnormal else BaselineState.NORMAL), ()


def _holds(
    rule: TermRule,
    criterion: Criterion,
    value: Decimal,
    references: Mapping[str, Decimal | None],
    baseline_state: BaselineState | None,
) -> tuple[bool | None, tuple[str, ...]]:
    if criterion.baseline is not None:
        if baseline_state is None:
            return None, ()
        if criterion.baseline is not baseline_state:
            return False, ()
    if criterion.bound is None:
        return False, ()
    limit = criterion.bound.resolve(references)
    if limit is None:
        assert criterion.bound.reference is not None
        return None, (criterion.bound.reference,)
    return rule.passes(value, limit, inclusive=criterion.inclusive), ()


def _raisable(
    rule: TermRule,
    grade: int,
    value: Decimal,
    references: Mapping[str, Decimal | None],
    baseline_state: BaselineState | None,
) -> tuple[RaisingFact, ...]:
    facts: dict[str, RaisingFact] = {}
    for criterion in rule.criteria:
        if criterion.requires is None or criterion.grade <= grade:
            continue
        if criterion.bound is not None:
            holds, _ = _holds(rule, criterion, value, references, baseline_state)
            if not holds:
                continue
        known = facts.get(criterion.requires)
        if known is None or criterion.grade > known.grade:
            facts[criterion.requires] = RaisingFact(criterion.requires, criterion.grade)
    return tuple(sorted(facts.values(), key=lambda f: f.grade))


def _grade_zero_reason(rule: TermRule, references: Mapping[str, Decimal | None]) -> str:
    for criterion in rule.criteria:
        if (
            criterion.grade == 1
            and criterion.bound is not None
            and criterion.baseline is None
            and criterion.bound.resolve(references) is not None
        ):
            bound = criterion.bound.describe(references)
            return f" {rule.symbol(negated=True)} {bound}: grade 0"
    return ": no grading criterion met: grade 0"


# --- Febrile neutropenia -------------------------------------------------------------------


@dataclass(frozen=True)
class FebrileNeutropeniaGrade:
    """Grade 3 when the criteria are met, else 0; ``reading`` is the qualifying temperature."""

    grade: int
    explanation: str
    reading: TemperatureReading | None = None
    raisable_by: tuple[RaisingFact, ...] = ()


def grade_febrile_neutropenia(
    anc_si: Decimal,
    temperatures: Iterable[TemperatureReading],
    criteria: FebrileNeutropeniaCriteria | None = None,
) -> FebrileNeutropeniaGrade:
    """CTCAE v5.0 febrile neutropenia from an ANC (×10⁹/L) and the temperatures around it.

    Grade 3: ANC < 1.0 with a single temperature > 38.3 °C, or ≥ 38 °C sustained for more
    than one hour. The caller picks the readings that belong with this ANC.
    """
    rule = criteria or default_grading_table().febrile_neutropenia
    if not anc_si.is_finite() or anc_si < 0:
        raise DomainError(
            f"ANC cannot be negative or missing ({anc_si}); check the entry.", field="anc"
        )
    readings = tuple(temperatures)
    anc_text = f"ANC {format_number(anc_si)} ×10⁹/L"
    if not anc_si < rule.anc_below:
        return FebrileNeutropeniaGrade(
            0, f"{anc_text} ≥ {format_number(rule.anc_below)}: not febrile neutropenia"
        )
    if not readings:
        raise MissingDataError(
            f"{anc_text} < {format_number(rule.anc_below)}, but no temperature is recorded: "
            "febrile neutropenia cannot be assessed.",
            field="temperatures",
        )
    single = [r for r in readings if r.celsius > rule.single_temperature_above_c]
    sustained = [
        r
        for r in readings
        if r.celsius >= rule.sustained_temperature_at_least_c
        and r.sustained_minutes > rule.sustained_longer_than_minutes
    ]
    raise_to_4 = (RaisingFact("life-threatening consequences; urgent intervention indicated", 4),)
    if single:
        hottest = max(single, key=lambda r: r.celsius)
        return FebrileNeutropeniaGrade(
            3,
            f"{anc_text} < {format_number(rule.anc_below)} with {format_number(hottest.celsius)} °C"
            f" > {format_number(rule.single_temperature_above_c)} °C: grade 3",
            hottest,
            raise_to_4,
        )
    if sustained:
        longest = max(sustained, key=lambda r: r.sustained_minutes)
        return FebrileNeutropeniaGrade(
            3,
            f"{anc_text} < {format_number(rule.anc_below)} with "
            f"{format_number(longest.celsius)} °C for {longest.sustained_minutes} min "
            f"(≥ {format_number(rule.sustained_temperature_at_least_c)} °C for more than "
            f"{rule.sustained_longer_than_minutes} min): grade 3",
            longest,
            raise_to_4,
        )
    hottest = max(readings, key=lambda r: r.celsius)
    return FebrileNeutropeniaGrade(
        0,
        f"{anc_text} < {format_number(rule.anc_below)} but the highest temperature, "
        f"{format_number(hottest.celsius)} °C, does not meet the fever criteria: "
        "not febrile neutropenia",
    )


def _finite(text: str) -> Decimal:
    number = Decimal(text)
    if not number.is_finite() or number < 0:
        raise ValueError(text)
    return number


def _toml_decimal(value: object, source: str, key: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ProtocolError(source, key, 'must be a decimal written as a string, e.g. "38.3"')
    try:
        return _finite(str(value))
    except (InvalidOperation, ValueError):
        raise ProtocolError(source, key, f"{value!r} is not a number >= 0") from None
