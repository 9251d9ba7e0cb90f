"""Read a protocol TOML file, check it against the schema, and build a :class:`Protocol`.

A malformed file is refused with an error naming the file, the key and the problem; the app
never guesses what a protocol meant.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from clinic_app.core.decisions import DecisionKind
from clinic_app.core.dlt import DltCriteria
from clinic_app.core.endpoints import EndpointDefinitions
from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.escalation import EscalationDesign
from clinic_app.core.phase_decision import PhaseDecisionParams
from clinic_app.core.plateau import PlateauCriteria
from clinic_app.core.protocol import (
    ALL_CYCLES,
    CycleRange,
    DoseBasis,
    DoseForm,
    DoseLevel,
    DoseRule,
    DoseTier,
    Drug,
    EnrolmentCaps,
    Gate,
    MonitoringEvent,
    OrganTest,
    PhaseEntry,
    PhaseSpec,
    Protocol,
    ProtocolOption,
    ProtocolSettings,
    Reminder,
    Route,
    TreatmentCondition,
)
from clinic_app.core.resources import resources_dir

# Units a treatment condition may be written in (rules §3: ×10⁹/L for counts).
_CONDITION_UNITS = {"10^9/L"}
T = TypeVar("T")
_RULE_TABLES = ("decisions", "plateau", "escalation", "dlt", "endpoints")


def protocols_dir() -> Path:
    return resources_dir() / "protocols"


def load_protocols(
    directory: Path | None = None, *, clinic_dirs: Sequence[Path] = ()
) -> dict[str, Protocol]:
    """Every ``*.toml`` protocol in ``directory`` (default: the bundled protocols), by key,
    then those of ``clinic_dirs`` (a clinic's own folders); the first problem is raised."""
    protocols, problems = load_with_clinic_dirs(directory, clinic_dirs)
    if problems:
        raise problems[0]
    return protocols


def load_with_clinic_dirs(
    directory: Path | None = None, clinic_dirs: Sequence[Path] = ()
) -> tuple[dict[str, Protocol], list[ProtocolError]]:
    """The built-in protocols (any problem there is raised: the app ships them) and the
    clinic's, with the clinic's problems returned, each naming file, key and problem. A
    refused clinic file is left out; the built-ins and the clinic's other files still load."""
    folder = directory if directory is not None else protocols_dir()
    protocols: dict[str, Protocol] = {}
    for path in sorted(folder.glob("*.toml")):
        protocol = load_protocol(path)
        if protocol.key in protocols:
            raise ProtocolError(
                path.name, "protocol.key", f"{protocol.key!r} is also used by another file"
            )
        protocols[protocol.key] = protocol
    problems: list[ProtocolError] = []
    for clinic in clinic_dirs:
        if not clinic.is_dir():
            problems.append(ProtocolError(str(clinic), "(folder)", "is not a folder"))
            continue
        for path in sorted(clinic.glob("*.toml")):
            try:
                protocol = load_protocol(path)
            except ProtocolError as exc:
                problems.append(exc)
                continue
            if protocol.key in protocols:
                other = protocols[protocol.key].source_file.name
                problems.append(
                    ProtocolError(
                        path.name,
                        "protocol.key",
                        f"{protocol.key!r} is already the key of {other}; give it another key",
                    )
                )
                continue
            protocols[protocol.key] = protocol
    return protocols, problems


def load_protocol(path: Path) -> Protocol:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(path.name, "(file)", f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise ProtocolError(path.name, "(file)", f"cannot be read: {exc.strerror}") from None
    return _Reader(path).protocol(raw)


class _Reader:
    """Walks the parsed TOML; every accessor names the key it reads in its error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.source = path.name

    def fail(self, key: str, problem: str) -> ProtocolError:
        return ProtocolError(self.source, key, problem)

    # -- typed accessors ------------------------------------------------------------------
    def table(self, raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        value = raw.get(key)
        if value is None:
            raise self.fail(f"{where}{key}", "missing key")
        if not isinstance(value, Mapping):
            raise self.fail(f"{where}{key}", f"must be a table, not {_kind(value)}")
        return value

    def tables(self, raw: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(f"{where}{key}", "must be an array of tables ([[...]])")
        return value

    def string(
        self, raw: Mapping[str, Any], key: str, where: str, default: str | None = None
    ) -> str:
        value = raw.get(key, default)
        if value is None:
            raise self.fail(f"{where}{key}", "missing key")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}{key}", f"must be a non-empty string, not {_kind(value)}")
        return value

    def integer(
        self, raw: Mapping[str, Any], key: str, where: str, default: int | None = None
    ) -> int:
        value = raw.get(key, default)
        if value is None:
            raise self.fail(f"{where}{key}", "missing key")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{where}{key}", f"must be a whole number, not {_kind(value)}")
        return value

    def decimal(self, raw: Mapping[str, Any], key: str, where: str) -> Decimal:
        value = raw.get(key)
        if value is None:
            raise self.fail(f"{where}{key}", "missing key")
        return self.to_decimal(value, f"{where}{key}")

    def to_decimal(self, value: object, key: str) -> Decimal:
        # Doses are written as strings ("2.5") so TOML never turns them into binary floats.
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise self.fail(key, f"must be a number written as a string, not {_kind(value)}")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise self.fail(key, f"{value!r} is not a number") from None
        if not number.is_finite() or number <= 0:
            raise self.fail(key, f"{value!r} must be a positive number")
        return number

    def decimals(self, raw: Mapping[str, Any], key: str, where: str) -> tuple[Decimal, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list):
            raise self.fail(f"{where}{key}", f"must be a list, not {_kind(value)}")
        return tuple(self.to_decimal(v, f"{where}{key}[{i}]") for i, v in enumerate(value))

    def strings(self, raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{where}{key}", "must be a list of strings")
        return tuple(value)

    def choice(
        self, raw: Mapping[str, Any], key: str, where: str, enum: Any, default: str | None = None
    ) -> Any:
        text = self.string(raw, key, where, default)
        try:
            return enum(text)
        except ValueError:
            allowed = ", ".join(repr(e.value) for e in enum)
            raise self.fail(
                f"{where}{key}", f"unknown value {text!r}; use one of {allowed}"
            ) from None

    def days(
        self, raw: Mapping[str, Any], key: str, where: str, cycle_length: int
    ) -> tuple[int, ...]:
        value = raw.get(key)
        full = f"{where}{key}"
        if value is None:
            raise self.fail(full, "missing key")
        days = _parse_day_list(value, lambda problem: self.fail(full, problem))
        for day in days:
            if not 1 <= day <= cycle_length:
                raise self.fail(full, f"day {day} is outside 1-{cycle_length}")
        return days

    def cycle_range(self, raw: Mapping[str, Any], key: str, where: str) -> CycleRange:
        value = raw.get(key)
        if value is None:
            return ALL_CYCLES
        full = f"{where}{key}"
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise self.fail(
                full, f'must be a string such as "1", "2-" or "1-12", not {_kind(value)}'
            )
        text = value.replace(" ", "")
        try:
            if text.endswith("-"):
                result = CycleRange(int(text[:-1]), None)
            elif "-" in text:
                lo, hi = text.split("-", 1)
                result = CycleRange(int(lo), int(hi))
            else:
                result = CycleRange(int(text), int(text))
        except ValueError:
            raise self.fail(full, f"{value!r} is not a cycle range") from None
        if result.first < 1 or (result.last is not None and result.last < result.first):
            raise self.fail(full, f"{value!r} is not a cycle range of cycles 1 and above")
        return result

    def cycle_length(self, raw: Mapping[str, Any], where: str) -> int:
        length = self.integer(raw, "cycle_length_days", where)
        if not 1 <= length <= 56:
            raise self.fail(f"{where}cycle_length_days", f"{length} is not a cycle length")
        return length

    def check_unknown(self, raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in raw:
            if key not in allowed:
                raise self.fail(f"{where}{key}", "unknown key")

    def rule(
        self, raw: Mapping[str, Any], key: str, parse: Callable[[Mapping[str, object], str], T]
    ) -> T | None:
        """A rules engine's table, checked by that engine; errors name this file and the table."""
        if key not in raw:
            return None
        table = self.table(raw, key, "")
        try:
            return parse(table, self.source)
        except ProtocolError as exc:
            raise self.fail(f"{key}.{exc.key}", exc.problem) from None
        except DomainError as exc:
            raise self.fail(key, exc.message) from None

    # -- the document ---------------------------------------------------------------------
    def protocol(self, raw: Mapping[str, Any]) -> Protocol:
        self.check_unknown(
            raw,
            {
                "protocol",
                "enrolment",
                "settings",
                "gates",
                "eligibility",
                "drugs",
                "dose_levels",
                "phases",
                "options",
                "monitoring",
                "reminders",
                "conditions",
                *_RULE_TABLES,
            },
            "",
        )
        head = self.table(raw, "protocol", "")
        self.check_unknown(
            head,
            {
                "key",
                "name",
                "title",
                "version",
                "seed",
                "cycle_length_days",
                "start_level",
                "readings",
            },
            "protocol.",
        )
        cycle_length = self.cycle_length(head, "protocol.")
        drugs = self.drugs(raw)
        dose_levels = self.dose_levels(raw, drugs)
        start_level = head.get("start_level")
        if start_level is not None:
            start_level = self.integer(head, "start_level", "protocol.")
            if start_level not in {d.level for d in dose_levels}:
                raise self.fail("protocol.start_level", f"there is no dose level {start_level}")
        phases = self.phases(raw, drugs, cycle_length, bool(dose_levels))
        return Protocol(
            key=self.string(head, "key", "protocol."),
            name=self.string(head, "name", "protocol."),
            title=self.string(head, "title", "protocol."),
            version=self.string(head, "version", "protocol."),
            seed=self.string(head, "seed", "protocol.") if "seed" in head else "",
            source_file=self.path,
            cycle_length_days=cycle_length,
            drugs=drugs,
            phases=phases,
            caps=self.caps(raw),
            settings=self.settings(raw),
            dose_levels=dose_levels,
            start_level=start_level,
            gates=self.gates(raw, "gates", drugs),
            eligibility=self.gates(raw, "eligibility", drugs),
            monitoring=self.monitoring(
                raw,
                max([cycle_length] + [p.cycle_length_days or 0 for p in phases]),
                {p.key for p in phases},
            ),
            reminders=self.reminders(raw, drugs),
            conditions=self.conditions(raw, drugs),
            options=self.options(raw, drugs),
            rule_tables={k: self.table(raw, k, "") for k in _RULE_TABLES if k in raw},
            # The decision names the phase it moves to: it must be one of this file's phases.
            decision_params=self.rule(
                raw,
                "decisions",
                lambda table, source: PhaseDecisionParams.from_mapping(table, source).check_phases(
                    [p.key for p in phases], source
                ),
            ),
            plateau=self.rule(raw, "plateau", PlateauCriteria.from_mapping),
            dlt_criteria=self.dlt(raw, drugs, phases, cycle_length),
            escalation=self.escalation(raw, dose_levels),
            endpoints=self.rule(raw, "endpoints", EndpointDefinitions.from_mapping),
            readings=self.strings(head, "readings", "protocol."),
        )

    def dlt(
        self,
        raw: Mapping[str, Any],
        drugs: Mapping[str, Drug],
        phases: Sequence[PhaseSpec],
        cycle_length: int,
    ) -> DltCriteria | None:
        """[dlt]: the drugs a DLT must be related to are this file's; cycle 1 lasts the length
        of the phase it falls in (cycle 2 day 1 is planned from it)."""
        criteria = self.rule(raw, "dlt", DltCriteria.from_mapping)
        if criteria is None:
            return None
        if "clauses" not in self.table(raw, "dlt", ""):
            raise self.fail("dlt.clauses", "missing key: list the clauses of this DLT definition")
        for key in ("nonhaem_related_drugs", "haem_related_drugs"):
            names = getattr(criteria, key)
            if not names:
                raise self.fail(f"dlt.{key}", "missing key")
            for name in names:
                self.known_drug(name, f"dlt.{key}", drugs)
        table = self.table(raw, "dlt", "")
        first = [p for p in phases if p.contains(1) and p.entry is PhaseEntry.START]
        length = (first[0].cycle_length_days if first else None) or cycle_length
        if "cycle1_length_days" not in table:
            criteria = replace(criteria, cycle1_length_days=length)
        if "window_days" not in table:  # the DLT window is cycle 1 unless the file says
            criteria = replace(criteria, window_days=length)
        return criteria

    def escalation(
        self, raw: Mapping[str, Any], dose_levels: Sequence[DoseLevel]
    ) -> EscalationDesign | None:
        """[escalation]: the file gives its own design (the engine's defaults are no protocol's);
        a protocol with dose levels places patients by it, so it needs one."""
        if "escalation" not in raw:
            if dose_levels:
                raise self.fail("escalation", "missing key; [[dose_levels]] need a 3+3 design")
            return None
        table = self.table(raw, "escalation", "")
        for key in ("levels", "start_level", "escalation_cap", "expansion_cap", "total_cap"):
            if key not in table:
                raise self.fail(f"escalation.{key}", "missing key")
        design = self.rule(raw, "escalation", EscalationDesign.from_mapping)
        assert design is not None
        if set(design.levels) != {d.level for d in dose_levels}:
            raise self.fail("escalation.levels", "must list the levels of [[dose_levels]]")
        return design

    def drugs(self, raw: Mapping[str, Any]) -> dict[str, Drug]:
        table = self.table(raw, "drugs", "")
        drugs: dict[str, Drug] = {}
        for key, spec in table.items():
            where = f"drugs.{key}."
            if not isinstance(spec, Mapping):
                raise self.fail(f"drugs.{key}", "must be a table")
            self.check_unknown(
                spec,
                {
                    "name",
                    "form",
                    "basis",
                    "routes",
                    "frequency",
                    "strengths",
                    "rounding_increment",
                    "ladder",
                    "rems",
                    "given_in_clinic",
                },
                where,
            )
            form = self.choice(spec, "form", where, DoseForm)
            basis = self.choice(spec, "basis", where, DoseBasis)
            routes = self.strings(spec, "routes", where)
            if not routes:
                raise self.fail(f"{where}routes", "needs at least one route")
            route_values = tuple(self.route(r, f"{where}routes") for r in routes)
            strengths = self.decimals(spec, "strengths", where)
            if form.counted and not strengths:
                raise self.fail(f"{where}strengths", f"a {form.value} needs its strengths")
            increment = spec.get("rounding_increment")
            rounding = (
                None
                if increment is None
                else self.to_decimal(increment, f"{where}rounding_increment")
            )
            if basis is DoseBasis.PER_M2 and rounding is None:
                raise self.fail(
                    f"{where}rounding_increment", "a mg/m² drug needs its rounding increment"
                )
            ladder = self.decimals(spec, "ladder", where)
            if list(ladder) != sorted(ladder, reverse=True) or len(set(ladder)) != len(ladder):
                raise self.fail(f"{where}ladder", "must list doses from highest to lowest")
            rems = spec.get("rems", False)
            if not isinstance(rems, bool):
                raise self.fail(f"{where}rems", "must be true or false")
            clinic_routes = self.clinic_routes(spec, where, route_values)
            drugs[key] = Drug(
                key=key,
                name=self.string(spec, "name", where),
                form=form,
                basis=basis,
                routes=route_values,
                frequency=self.string(spec, "frequency", where),
                strengths=tuple(sorted(strengths)),
                rounding_increment=rounding,
                ladder=ladder,
                rems=rems,
                clinic_routes=clinic_routes,
            )
        if not drugs:
            raise self.fail("drugs", "a protocol needs at least one drug")
        return drugs

    def route(self, value: object, key: str) -> Route:
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            return Route(value)
        except ValueError:
            allowed = ", ".join(r.value for r in Route)
            raise self.fail(key, f"unknown route {value!r}; use one of {allowed}") from None

    def clinic_routes(
        self, spec: Mapping[str, Any], where: str, routes: tuple[Route, ...]
    ) -> tuple[Route, ...]:
        """``given_in_clinic``: true (every route), false (none) or a list of the drug's routes."""
        key = f"{where}given_in_clinic"
        value = spec.get("given_in_clinic", False)
        if isinstance(value, bool):
            return routes if value else ()
        if not isinstance(value, list):
            raise self.fail(key, "must be true, false or a list of routes")
        chosen = tuple(self.route(v, key) for v in value)
        for route in chosen:
            if route not in routes:
                raise self.fail(key, f"{route} is not one of the drug's routes")
        return chosen

    def known_drug(self, name: object, key: str, drugs: Mapping[str, Drug]) -> str:
        if not isinstance(name, str):
            raise self.fail(key, "must be a drug name")
        if name not in drugs:
            raise self.fail(
                key, f"unknown drug {name!r}; the [drugs] table defines {', '.join(drugs)}"
            )
        return name

    def dose_levels(
        self, raw: Mapping[str, Any], drugs: Mapping[str, Drug]
    ) -> tuple[DoseLevel, ...]:
        levels: list[DoseLevel] = []
        for i, spec in enumerate(self.tables(raw, "dose_levels", "")):
            where = f"dose_levels[{i}]."
            level = self.integer(spec, "level", where)
            if level == 0:
                raise self.fail(
                    f"{where}level", "levels are numbered -1, 1, 2, ...; 0 is not a level"
                )
            if any(existing.level == level for existing in levels):
                raise self.fail(f"{where}level", f"dose level {level} is defined twice")
            doses: dict[str, Decimal] = {}
            for key, value in spec.items():
                if key == "level":
                    continue
                self.known_drug(key, f"{where}{key}", drugs)
                doses[key] = self.to_decimal(value, f"{where}{key}")
            levels.append(DoseLevel(level=level, doses=doses))
        return tuple(levels)

    def phases(
        self, raw: Mapping[str, Any], drugs: Mapping[str, Drug], cycle_length: int, has_levels: bool
    ) -> tuple[PhaseSpec, ...]:
        specs = self.tables(raw, "phases", "")
        if not specs:
            raise self.fail("phases", "missing key")
        phases: list[PhaseSpec] = []
        for i, spec in enumerate(specs):
            where = f"phases[{i}]."
            self.check_unknown(
                spec,
                {"key", "name", "first_cycle", "last_cycle", "entry", "doses", "cycle_length_days"},
                where,
            )
            first = self.integer(spec, "first_cycle", where)
            own_length: int | None = None
            if "cycle_length_days" in spec:
                own_length = self.cycle_length(spec, where)
            length = own_length if own_length is not None else cycle_length
            last = spec.get("last_cycle")
            if last is not None:
                last = self.integer(spec, "last_cycle", where)
                if last < first:
                    raise self.fail(f"{where}last_cycle", "is before first_cycle")
            rules = tuple(
                self.dose_rule(rule, f"{where}doses[{j}].", drugs, length, has_levels)
                for j, rule in enumerate(self.tables(spec, "doses", where))
            )
            self.check_no_double_dose(rules, f"{where}doses")
            phases.append(
                PhaseSpec(
                    key=self.string(spec, "key", where),
                    name=self.string(spec, "name", where),
                    first_cycle=first,
                    last_cycle=last,
                    entry=self.choice(spec, "entry", where, PhaseEntry),
                    doses=rules,
                    cycle_length_days=own_length,
                )
            )
        if not any(p.entry is PhaseEntry.START for p in phases):
            raise self.fail("phases", 'one phase needs entry = "start"')
        return tuple(phases)

    def dose_rule(
        self,
        spec: Mapping[str, Any],
        where: str,
        drugs: Mapping[str, Drug],
        cycle_length: int,
        has_levels: bool,
    ) -> DoseRule:
        self.check_unknown(
            spec, {"drug", "dose", "days", "cycles", "route", "renal", "hepatic"}, where
        )
        drug = self.known_drug(spec.get("drug"), f"{where}drug", drugs)
        raw_dose = spec.get("dose")
        if raw_dose == "level":
            if not has_levels:
                raise self.fail(f"{where}dose", '"level" needs a [[dose_levels]] table')
            dose = None
        else:
            dose = self.decimal(spec, "dose", where)
        route = spec.get("route")
        route_value = None
        if route is not None:
            route_value = self.choice(spec, "route", where, Route)
            if route_value not in drugs[drug].routes:
                raise self.fail(f"{where}route", f"{route} is not a route of {drug}")
        return DoseRule(
            drug=drug,
            days=self.days(spec, "days", where, cycle_length),
            dose=dose,
            cycles=self.cycle_range(spec, "cycles", where),
            route=route_value,
            renal=self.tiers(spec, "renal", where, OrganTest.CRCL, "crcl_below"),
            hepatic=self.tiers(spec, "hepatic", where, OrganTest.BILIRUBIN, "bilirubin_uln_above"),
        )

    def tiers(
        self, spec: Mapping[str, Any], key: str, where: str, test: OrganTest, limit_key: str
    ) -> tuple[DoseTier, ...]:
        """A list of tiers such as ``[{ crcl_below = "60", max_dose = "10" }, ...]``."""
        value = spec.get(key, [])
        if isinstance(value, Mapping):
            value = [value]  # one tier may be written as a single table
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(f"{where}{key}", "must be a list of tables")
        tiers: list[DoseTier] = []
        for i, raw in enumerate(value):
            at = f"{where}{key}[{i}]."
            self.check_unknown(raw, {limit_key, "dose", "max_dose"}, at)
            if ("dose" in raw) == ("max_dose" in raw):
                raise self.fail(f"{where}{key}[{i}]", "give exactly one of dose and max_dose")
            limit = self.decimal(raw, limit_key, at)
            if any(t.limit == limit for t in tiers):
                raise self.fail(f"{at}{limit_key}", f"{limit} is given twice")
            tiers.append(
                DoseTier(
                    test=test,
                    limit=limit,
                    dose=self.decimal(raw, "dose", at) if "dose" in raw else None,
                    max_dose=self.decimal(raw, "max_dose", at) if "max_dose" in raw else None,
                )
            )
        return tuple(tiers)

    def check_no_double_dose(self, rules: Sequence[DoseRule], where: str) -> None:
        for i, a in enumerate(rules):
            for b in rules[i + 1 :]:
                if a.drug != b.drug or not a.cycles.overlaps(b.cycles):
                    continue
                shared = sorted(set(a.days) & set(b.days))
                if shared:
                    raise self.fail(
                        where,
                        f"two rules give {a.drug} on day {shared[0]} of the same cycle",
                    )

    def caps(self, raw: Mapping[str, Any]) -> EnrolmentCaps:
        spec = self.table(raw, "enrolment", "")
        self.check_unknown(spec, {"max_total", "max_escalation", "max_expansion"}, "enrolment.")

        def optional(key: str) -> int | None:
            return None if key not in spec else self.integer(spec, key, "enrolment.")

        return EnrolmentCaps(
            total=self.integer(spec, "max_total", "enrolment."),
            escalation=optional("max_escalation"),
            expansion=optional("max_expansion"),
        )

    def settings(self, raw: Mapping[str, Any]) -> ProtocolSettings:
        spec = raw.get("settings", {})
        if not isinstance(spec, Mapping):
            raise self.fail("settings", "must be a table")
        self.check_unknown(
            spec,
            {"bsa_formula", "weight_change_pct", "rounding_max_pct", "lab_max_age_days"},
            "settings.",
        )
        defaults = ProtocolSettings()
        formula = self.string(spec, "bsa_formula", "settings.", defaults.bsa_formula)
        if formula not in ("mosteller", "dubois"):
            raise self.fail(
                "settings.bsa_formula", f"unknown formula {formula!r}; use mosteller or dubois"
            )
        return ProtocolSettings(
            bsa_formula=formula,
            weight_change_pct=self.to_decimal(
                spec.get("weight_change_pct", "10"), "settings.weight_change_pct"
            ),
            rounding_max_pct=self.to_decimal(
                spec.get("rounding_max_pct", "10"), "settings.rounding_max_pct"
            ),
            lab_max_age_days=self.integer(
                spec, "lab_max_age_days", "settings.", defaults.lab_max_age_days
            ),
        )

    def gates(
        self, raw: Mapping[str, Any], key: str, drugs: Mapping[str, Drug]
    ) -> tuple[Gate, ...]:
        gates: list[Gate] = []
        for i, spec in enumerate(self.tables(raw, key, "")):
            where = f"{key}[{i}]."
            self.check_unknown(spec, {"key", "label", "drug"}, where)
            drug = spec.get("drug")
            gates.append(
                Gate(
                    key=self.string(spec, "key", where),
                    label=self.string(spec, "label", where),
                    drug=None if drug is None else self.known_drug(drug, f"{where}drug", drugs),
                )
            )
        return tuple(gates)

    def monitoring(
        self, raw: Mapping[str, Any], cycle_length: int, phase_keys: set[str]
    ) -> tuple[MonitoringEvent, ...]:
        events: list[MonitoringEvent] = []
        for i, spec in enumerate(self.tables(raw, "monitoring", "")):
            where = f"monitoring[{i}]."
            self.check_unknown(spec, {"kind", "label", "days", "cycles", "phases"}, where)
            kind = self.string(spec, "kind", where)
            if kind not in ("labs", "visit", "evaluation"):
                raise self.fail(
                    f"{where}kind", f"unknown kind {kind!r}; use labs, visit or evaluation"
                )
            phases = self.strings(spec, "phases", where)
            for phase in phases:
                if phase not in phase_keys:
                    raise self.fail(f"{where}phases", f"unknown phase {phase!r}")
            events.append(
                MonitoringEvent(
                    kind=kind,
                    label=self.string(spec, "label", where),
                    days=self.days(spec, "days", where, cycle_length),
                    cycles=self.cycle_range(spec, "cycles", where),
                    phases=phases,
                )
            )
        return tuple(events)

    def reminders(self, raw: Mapping[str, Any], drugs: Mapping[str, Drug]) -> tuple[Reminder, ...]:
        reminders: list[Reminder] = []
        for i, spec in enumerate(self.tables(raw, "reminders", "")):
            where = f"reminders[{i}]."
            self.check_unknown(spec, {"key", "text", "drugs"}, where)
            names = self.strings(spec, "drugs", where)
            for name in names:
                self.known_drug(name, f"{where}drugs", drugs)
            reminders.append(
                Reminder(
                    key=self.string(spec, "key", where),
                    text=self.string(spec, "text", where),
                    drugs=names,
                )
            )
        return tuple(reminders)

    def conditions(
        self, raw: Mapping[str, Any], drugs: Mapping[str, Drug]
    ) -> tuple[TreatmentCondition, ...]:
        conditions: list[TreatmentCondition] = []
        for i, spec in enumerate(self.tables(raw, "conditions", "")):
            where = f"conditions[{i}]."
            self.check_unknown(spec, {"drug", "test", "minimum", "unit", "source"}, where)
            unit = self.string(spec, "unit", where)
            if unit not in _CONDITION_UNITS:
                raise self.fail(
                    f"{where}unit",
                    f"unknown unit {unit!r}; use {', '.join(sorted(_CONDITION_UNITS))}",
                )
            conditions.append(
                TreatmentCondition(
                    drug=self.known_drug(spec.get("drug"), f"{where}drug", drugs),
                    test=self.string(spec, "test", where),
                    minimum=self.decimal(spec, "minimum", where),
                    unit=unit,
                    source=self.string(spec, "source", where),
                )
            )
        return tuple(conditions)

    def options(
        self, raw: Mapping[str, Any], drugs: Mapping[str, Drug]
    ) -> tuple[ProtocolOption, ...]:
        options: list[ProtocolOption] = []
        for i, spec in enumerate(self.tables(raw, "options", "")):
            where = f"options[{i}]."
            self.check_unknown(
                spec, {"key", "label", "drug", "dose", "from_cycle", "legacy_kind"}, where
            )
            legacy = None
            if "legacy_kind" in spec:
                legacy = self.string(spec, "legacy_kind", where)
                if legacy != DecisionKind.LEGACY_OPTION.value:  # the one kind older records hold
                    raise self.fail(f"{where}legacy_kind", f"is no older decision kind: {legacy!r}")
            options.append(
                ProtocolOption(
                    key=self.string(spec, "key", where),
                    label=self.string(spec, "label", where),
                    drug=self.known_drug(spec.get("drug"), f"{where}drug", drugs),
                    dose=self.decimal(spec, "dose", where),
                    from_cycle=self.integer(spec, "from_cycle", where),
                    legacy_kind=legacy,
                )
            )
        return tuple(options)


def _parse_day_list(value: object, fail: Any) -> tuple[int, ...]:
    """``"1-4, 9-12"``, ``"1"`` or ``[1, 8, 15]`` as a sorted tuple of days."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    days: list[int] = []
    if isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        days = list(value)
    elif isinstance(value, str):
        for part in value.split(","):
            part = part.strip()
            try:
                if "-" in part:
                    lo, hi = (int(x) for x in part.split("-", 1))
                    if hi < lo:
                        raise fail(f"range {part!r} runs backwards")
                    days.extend(range(lo, hi + 1))
                else:
                    days.append(int(part))
            except ValueError:
                raise fail(f"{part!r} is not a day or a range of days such as 1-21") from None
    else:
        raise fail(f'must be days such as "1-21" or "1, 8, 15", not {_kind(value)}')
    if len(set(days)) != len(days):
        raise fail("a day is listed twice")
    if not days:
        raise fail("no days given")
    return tuple(sorted(days))


def _kind(value: object) -> str:
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
    }.get(type(value), "a table" if isinstance(value, Mapping) else type(value).__name__)
