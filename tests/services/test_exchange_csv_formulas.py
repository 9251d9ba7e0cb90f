"""CSV exports never hand a spreadsheet a formula, and still read back exactly (issue 15, 9)."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from clinic_app.core.records import AdverseEvent, Patient, Sex
from clinic_app.services.exchange import export_csv, import_file
from clinic_app.storage import queries
from clinic_app.storage.audit_queries import AuditFilter, audit_entries, write_csv
from clinic_app.storage.database import open_database

# What a spreadsheet would run (=, +, -, @, tab, CR first), and texts that look like quoting.
NAMES = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "'=1", "''"]
NOTES = ["\t=1+1", "\r=1+1", "-fever at night"]  # free text may hold a tab or line break


def cells(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize("name", NAMES)
def test_formula_text_is_quoted_in_the_csv_and_round_trips(tmp_path: Path, name: str) -> None:
    with open_database(tmp_path / "a.sqlite3") as record:
        pid = record.repos.patients.add(
            Patient("M-1", name, "Ann", date(1950, 1, 1), Sex.FEMALE), reason=name
        )
        for note in NOTES:
            record.repos.adverse_events.add(
                pid, AdverseEvent("Fatigue", 1, date(2026, 1, 2), notes=note)
            )
        export_csv(record, tmp_path / "out")
        header, row = cells(tmp_path / "out" / "patients.csv")
        cell = row[header.index("family_name")]
        assert cell == "'" + name  # an apostrophe first: shown as text, never run
        header, *rows = cells(tmp_path / "out" / "adverse_events.csv")
        assert [r[header.index("notes")] for r in rows] == ["'" + n for n in NOTES]
        write_csv(audit_entries(record, AuditFilter()), tmp_path / "audit.csv")
        for audit_row in cells(tmp_path / "audit.csv")[1:]:
            assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in audit_row)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["text_cells"].startswith("apostrophe")
    with open_database(tmp_path / "b.sqlite3") as copy:
        import_file(copy, tmp_path / "out")
        (patient,) = queries.table_rows(copy, "patients")
        assert patient["family_name"] == name
        notes = [r["notes"] for r in queries.table_rows(copy, "adverse_events")]
        assert notes == NOTES


def test_an_export_made_before_the_quoting_reads_apostrophes_as_they_are(tmp_path: Path) -> None:
    with open_database(tmp_path / "a.sqlite3") as record:
        record.repos.patients.add(Patient("M-1", "'Brien", "Ann", date(1950, 1, 1), Sex.FEMALE))
        export_csv(record, tmp_path / "out")
    manifest_path = tmp_path / "out" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    del manifest["text_cells"]  # as an older app wrote it, with the text unquoted
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    table = tmp_path / "out" / "patients.csv"
    table.write_text(table.read_text(encoding="utf-8").replace("''Brien", "'Brien"), "utf-8")
    with open_database(tmp_path / "b.sqlite3") as copy:
        import_file(copy, tmp_path / "out")
        (patient,) = queries.table_rows(copy, "patients")
        assert patient["family_name"] == "'Brien"
