"""CTCAE v5.0 adverse-event terms for the AE form, read from ``resources/ctcae/ae_terms.toml``.

Each term carries the grades CTCAE defines for it (some stop at grade 3 or have no grade 5),
its system organ class, and the category the BPD DLT rules need (rules §5).

>>> nausea = ae_term("nausea")
>>> nausea.name, nausea.grades_defined
('Nausea', (1, 2, 3))
>>> [t.name for t in search("VTE")]
['Thromboembolic event']
>>> ae_term("Thromboembolic event").thrombotic
True
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from clinic_app.core.dlt import AeCategory
from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.labs import lab_test, resources_dir

# The term catalogue classifies each term the way the DLT rules read it: one enum for both.
DltCategory = AeCategory


@dataclass(frozen=True)
class AeTerm:
    name: str
    soc: str
    category: DltCategory
    grades: Mapping[int, str]
    """The description of each grade CTCAE v5.0 defines for this term."""
    synonyms: tuple[str, ...] = ()
    lab_test: str | None = None
    """The lab catalogue key when the grade comes from a lab value."""

    @property
    def grades_defined(self) -> tuple[int, ...]:
        return tuple(sorted(self.grades))

    @property
    def haematological(self) -> bool:
        return self.category.haematological

    @property
    def thrombotic(self) -> bool:
        return self.category.thrombotic

    def matches(self, text: str) -> bool:
        """Case-insensitive substring match over the name and the synonyms."""
        needle = text.strip().casefold()
        return any(needle in word.casefold() for word in (self.name, *self.synonyms))

    def validate_grade(self, grade: int) -> int:
        """``grade`` when CTCAE defines it for this term; DomainError otherwise."""
        if grade not in self.grades:
            allowed = ", ".join(str(g) for g in self.grades_defined)
            raise DomainError(
                f"{self.name} has no grade {grade} in CTCAE v5.0; choose one of: {allowed}.",
                field="grade",
            )
        return grade

    def describe(self, grade: int) -> str:
        return self.grades[self.validate_grade(grade)]

    @classmethod
    def from_mapping(cls, table: Mapping[str, object], source: str) -> AeTerm:
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ProtocolError(source, "term.name", "must be a non-empty string")
        where = f"term[{name}]"
        unknown = set(table) - {"name", "soc", "dlt_category", "synonyms", "lab_test", "grades"}
        if unknown:
            raise ProtocolError(source, where, f"unknown keys: {', '.join(sorted(unknown))}")
        soc = table.get("soc")
        if not isinstance(soc, str) or not soc:
            raise ProtocolError(source, f"{where}.soc", "must be a non-empty string")
        try:
            category = DltCategory(str(table.get("dlt_category")))
        except ValueError:
            allowed = ", ".join(c.value for c in DltCategory)
            raise ProtocolError(
                source, f"{where}.dlt_category", f"must be one of: {allowed}"
            ) from None
        synonyms = table.get("synonyms", [])
        if not isinstance(synonyms, list) or not all(isinstance(s, str) and s for s in synonyms):
            raise ProtocolError(source, f"{where}.synonyms", "must be a list of words")
        lab = table.get("lab_test")
        if lab is not None:
            if not isinstance(lab, str):
                raise ProtocolError(source, f"{where}.lab_test", "must be a lab test key")
            try:
                lab_test(lab)
            except DomainError:
                raise ProtocolError(
                    source, f"{where}.lab_test", f"unknown lab test {lab!r}"
                ) from None
        raw_grades = table.get("grades")
        if not isinstance(raw_grades, Mapping) or not raw_grades:
            raise ProtocolError(source, f"{where}.grades", "must be a non-empty table")
        grades: dict[int, str] = {}
        for key, text in raw_grades.items():
            if key not in {"1", "2", "3", "4", "5"}:
                raise ProtocolError(source, f"{where}.grades.{key}", "grades are 1 to 5")
            if not isinstance(text, str) or not text.strip():
                raise ProtocolError(source, f"{where}.grades.{key}", "needs a description")
            grades[int(key)] = text
        return cls(name, soc, category, dict(sorted(grades.items())), tuple(synonyms), lab)


def load_ae_terms(path: Path | None = None) -> tuple[AeTerm, ...]:
    """The AE terms of a catalogue file; the default is the bundled ``ctcae/ae_terms.toml``."""
    if path is None:
        return _bundled_terms()
    return _read(path)


@cache
def _bundled_terms() -> tuple[AeTerm, ...]:
    return _read(resources_dir() / "ctcae" / "ae_terms.toml")


def _read(path: Path) -> tuple[AeTerm, ...]:
    source = str(path)
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    unknown = set(data) - {"term"}
    if unknown:
        raise ProtocolError(source, "(top level)", f"unknown keys: {', '.join(sorted(unknown))}")
    rows = data.get("term")
    if not isinstance(rows, list) or not rows:
        raise ProtocolError(source, "term", "needs at least one [[term]] table")
    terms: list[AeTerm] = []
    for row in rows:
        if not isinstance(row, Mapping):
            raise ProtocolError(source, "term", "each entry must be a table")
        terms.append(AeTerm.from_mapping(row, source))
    names = [t.name.casefold() for t in terms]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ProtocolError(source, "term", f"duplicate terms: {', '.join(duplicates)}")
    return tuple(terms)


def ae_term(name: str, terms: tuple[AeTerm, ...] | None = None) -> AeTerm:
    """The term called ``name`` (case-insensitive); DomainError naming it when unknown."""
    wanted = name.strip().casefold()
    for term in terms if terms is not None else load_ae_terms():
        if term.name.casefold() == wanted:
            return term
    raise DomainError(f"{name!r} is not a CTCAE term in the catalogue.", field="term")


def search(text: str, terms: tuple[AeTerm, ...] | None = None) -> tuple[AeTerm, ...]:
    """Terms whose name or a synonym contains ``text``; names that start with it come first."""
    pool = terms if terms is not None else load_ae_terms()
    needle = text.strip().casefold()
    if not needle:
        return pool
    found = [t for t in pool if t.matches(needle)]
    return tuple(sorted(found, key=lambda t: (not t.name.casefold().startswith(needle), t.name)))


def dlt_categories(terms: tuple[AeTerm, ...] | None = None) -> dict[str, str]:
    """Each term name and its DLT category value, the mapping the DLT engine takes."""
    return {t.name: t.category.value for t in (terms if terms is not None else load_ae_terms())}
