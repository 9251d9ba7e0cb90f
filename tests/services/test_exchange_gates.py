"""Import applies every check data entry applies, names each problem, writes nothing
(issue 15, item 3)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from clinic_app.services.demo import generate_demo
from clinic_app.services.exchange import ImportRefused, export_json, import_file
from clinic_app.storage import queries, schema
from clinic_app.storage.database import open_database

TODAY = date(2026, 5, 4)


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("gates")
    with open_database(folder / "src.db") as rec:
        generate_demo(rec, patients=3, seed=3, today=TODAY)
        rec.repos.settings.set("clinic.name", "Day Unit", reason="test")
        export_json(rec, folder / "out.json")
    loaded: dict[str, Any] = json.loads((folder / "out.json").read_text(encoding="utf-8"))
    return loaded


def refused(tmp_path: Path, document: dict[str, Any]) -> tuple[str, ...]:
    path = tmp_path / "in.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with open_database(tmp_path / "dst.db") as rec:
        with pytest.raises(ImportRefused) as info:
            import_file(rec, path)
        assert queries.clinical_rows_count(rec, schema.CLINICAL_TABLES) == 0
    return info.value.problems


def first_live(document: dict[str, Any], table: str, **match: Any) -> int:
    rows = document["tables"][table]
    return next(
        i
        for i, r in enumerate(rows)
        if r.get("voided_at") is None and all(r.get(k) == v for k, v in match.items())
    )


@pytest.mark.parametrize(
    ("table", "match", "column", "value", "problem"),
    [
        ("labs", {"test": "anc"}, "value", "1000000", "is not possible"),
        ("labs", {"test": "anc"}, "value", "-1", "cannot be negative"),
        ("labs", {"test": "anc"}, "test", "unobtainium", "Unknown lab test"),
        ("labs", {"test": "anc"}, "unit", "mg/dL", "is not used for"),
        ("body_measurements", {}, "weight_kg", "700", "Weight 700 kg is outside"),
        ("body_measurements", {}, "height_cm", "20", "Height 20 cm is outside"),
        ("patients", {}, "mrn", "MRN\u0000X", "control character"),
        ("patients", {}, "family_name", "x" * 5000, "at most 100 fit"),
        ("enrolments", {}, "protocol", "xyz", "not a protocol installed here"),
        ("cycles", {}, "start_date", "9999-12-31", "not a possible date"),
        ("dose_events", {}, "dose_mg", "1E+999999", "far too large"),
        ("settings", {"key": "clinic.name"}, "value", json.dumps("C" * 120_000), "at most"),
        ("settings", {"key": "clinic.name"}, "key", "backup.nonsense", "There is no setting"),
    ],
)
def test_each_problem_is_named_at_table_row_and_column(
    tmp_path: Path,
    document: dict[str, Any],
    table: str,
    match: dict[str, Any],
    column: str,
    value: Any,
    problem: str,
) -> None:
    index = first_live(document, table, **match)
    bad = json.loads(json.dumps(document))
    bad["tables"][table][index][column] = value
    problems = refused(tmp_path, bad)
    assert any(p.startswith(f"{table}[{index}].{column}: ") and problem in p for p in problems), (
        problems
    )


def test_deeply_nested_json_is_a_clear_refusal(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with (
        open_database(tmp_path / "dst.db") as rec,
        pytest.raises(ImportRefused) as info,
    ):
        import_file(rec, path)
    assert "nest too deeply" in info.value.problems[0]


def test_deeply_nested_json_in_a_column_is_a_clear_refusal(
    tmp_path: Path, document: dict[str, Any]
) -> None:
    index = first_live(document, "decisions")
    bad = json.loads(json.dumps(document))
    bad["tables"]["decisions"][index]["payload"] = "[" * 100_000 + "]" * 100_000
    problems = refused(tmp_path, bad)
    assert any(f"decisions[{index}].payload" in p and "nest" in p for p in problems), problems


def test_every_problem_of_the_file_is_listed(tmp_path: Path, document: dict[str, Any]) -> None:
    bad = json.loads(json.dumps(document))
    lab = first_live(document, "labs", test="anc")
    bad["tables"]["labs"][lab]["value"] = "1000000"
    bad["tables"]["body_measurements"][0]["weight_kg"] = "700"
    problems = refused(tmp_path, bad)
    assert any(p.startswith(f"labs[{lab}].value") for p in problems)
    assert any(p.startswith("body_measurements[0].weight_kg") for p in problems)


def test_an_export_of_an_older_schema_gets_the_same_checks(
    tmp_path: Path, document: dict[str, Any]
) -> None:
    older = json.loads(json.dumps(document))
    older["schema_version"] = 3  # before the columns of migrations 0004 and 0005
    for (table, column), _version in schema.COLUMNS_ADDED_LATER.items():
        for row in older["tables"][table]:
            row.pop(column, None)
    path = tmp_path / "older.json"
    path.write_text(json.dumps(older), encoding="utf-8")
    with open_database(tmp_path / "ok.db") as rec:
        assert import_file(rec, path).total > 0  # sound, so it imports
    lab = first_live(older, "labs", test="anc")
    older["tables"]["labs"][lab]["value"] = "1000000"
    problems = refused(tmp_path, older)
    assert any(p.startswith(f"labs[{lab}].value: ") for p in problems), problems
