"""Export the whole record to JSON or CSV, and import it into an empty database.

The file format is in docs/data-format.md. Import checks the WHOLE file first (every table,
row and value, then every row against the database's constraints inside one transaction) and
is all-or-nothing: any problem, and nothing is written; the report lists every problem with
its location, e.g. ``patients[3].date_of_birth: '1960-02-30' is not a date``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from clinic_app import __version__
from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.records import check_day, check_quantity
from clinic_app.services.context import load_protocol_files
from clinic_app.storage import csv_cells, queries, schema
from clinic_app.storage.database import Record
from clinic_app.storage.repositories._base import TableRepository

FORMAT_NAME = "clinic-app-record"
FORMAT_VERSION = 1
CSV_NULL = "\\N"
"""How a CSV cell says NULL (an empty cell is the empty text)."""
_LOOKS_LIKE_NULL = re.compile(r"\\+N")
"""Text of backslashes then N is written with one more backslash, so \\N stays NULL."""
MANIFEST = "manifest.json"

_TABLES: tuple[str, ...] = schema.CLINICAL_TABLES
# Columns holding a day (YYYY-MM-DD), an instant (ISO 8601) or an exact decimal number.
_DAYS = frozenset(
    {
        "date_of_birth",
        "measured_on",
        "enrolled_on",
        "consent_on",
        "off_study_on",
        "planned_start",
        "start_date",
        "onset",
        "resolved",
        "assessed_on",
        "decided_on",
        "reviewed_on",
        "given_on",
        "event_on",
    }
)
_INSTANTS = frozenset({"created_at", "voided_at", "collected_at", "given_at", "measured_at"})
_DECIMALS = frozenset(
    {
        "weight_kg",
        "height_cm",
        "value_si",
        "lln",
        "uln",
        "bsa_m2",
        "crcl_ml_min",
        "dose_mg",
        "old_dose",
        "new_dose",
        "serum_m_protein_g_dl",
        "urine_m_protein_mg_24h",
        "involved_flc_mg_l",
        "uninvolved_flc_mg_l",
        "marrow_plasma_cells_pct",
        "plasmacytoma_shrinkage_pct",
        "celsius",
    }
)
_JSON = frozenset(
    {
        "allergies",
        "alerts",
        "gates",
        "elected_options",
        "units",
        "attribution",
        "grade_history",
        "payload",
    }
)


_WHOLE = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
"""How the record spells numbers (ASCII digits only; ``str(Decimal)`` gives e.g. 1.30, 1E+2)."""
_SQLITE_MIN_INT, _SQLITE_MAX_INT = -(2**63), 2**63 - 1
"""SQLite's INTEGER is 64-bit signed; a larger number cannot be stored."""


@dataclass(frozen=True)
class ImportProblem:
    """One reason a file cannot be imported: the sentence (which names its place in the file)
    and, for a problem in one row, that row as data, so no check reads it from the text."""

    text: str
    row: tuple[str, int] | None = None
    """(table, index) of the row the problem is in; None for the file or a whole table."""

    def __str__(self) -> str:
        return self.text


class ImportRefused(Exception):
    """The file was not imported; ``problems`` says every reason, each with its location."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(f"{len(problems)} problem(s); nothing was imported")
        self.problems = tuple(problems)


@dataclass(frozen=True)
class ImportResult:
    rows: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


# --- export -----------------------------------------------------------------------------------


def export_document(record: Record) -> dict[str, Any]:
    """The whole record as one JSON-able document (see docs/data-format.md)."""
    # One state of the record: without it each table is its own read, and a row saved in
    # between (a patient, then a lab of theirs) could leave a lab whose patient is not held.
    with record.read_snapshot():
        tables = {table: queries.table_rows(record, table) for table in _TABLES}
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "schema_version": schema.SCHEMA_VERSION,
        "app_version": __version__,
        "exported_at": datetime.now(UTC).isoformat(),
        "tables": tables,
    }


def export_json(record: Record, path: Path) -> int:
    document = export_document(record)
    text = json.dumps(document, ensure_ascii=False, indent=1)
    path.write_text(text + "\n", encoding="utf-8")
    return sum(len(rows) for rows in document["tables"].values())


def export_csv(record: Record, folder: Path) -> int:
    """One ``TABLE.csv`` per table plus ``manifest.json``; NULL is written as ``\\N``."""
    folder.mkdir(parents=True, exist_ok=True)
    document = export_document(record)
    total = 0
    for table in _TABLES:
        columns = [c.name for c in queries.table_columns(record, table)]
        with (folder / f"{table}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in document["tables"][table]:
                writer.writerow([_csv_cell(row[c]) for c in columns])
                total += 1
    manifest = {k: v for k, v in document.items() if k != "tables"}
    manifest["tables"] = [f"{t}.csv" for t in _TABLES]
    manifest[csv_cells.MANIFEST_KEY] = csv_cells.MANIFEST_VALUE
    # Row counts let import notice a file cut short at a line break (csv cannot).
    manifest["rows"] = {t: len(document["tables"][t]) for t in _TABLES}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return total


def _csv_cell(value: Any) -> Any:
    if value is None:
        return CSV_NULL
    if isinstance(value, str) and _LOOKS_LIKE_NULL.fullmatch(value):
        return "\\" + value  # text, not NULL: read back by dropping one backslash
    if isinstance(value, str):
        return csv_cells.spreadsheet_safe(value)  # never run as a formula (docs/data-format.md)
    return value


def _csv_value(cell: str, quoted: bool = True) -> str | None:
    if cell == CSV_NULL:
        return None
    if _LOOKS_LIKE_NULL.fullmatch(cell):
        return cell[1:]
    # Exports made before the formula quoting (no manifest key) are read as they are.
    return csv_cells.from_spreadsheet_safe(cell) if quoted else cell


# --- reading a file -----------------------------------------------------------------------------


def read_document(path: Path) -> dict[str, Any]:
    """A JSON file, or a CSV folder turned into the same document shape (cells as text)."""
    if path.is_dir():
        return _read_csv_folder(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImportRefused([f"{path}: no such file"]) from None
    except OSError as exc:
        raise ImportRefused([f"{path}: cannot be read ({exc.strerror or exc})"]) from None
    except UnicodeDecodeError:
        raise ImportRefused([f"{path}: not UTF-8 text (is it a JSON export?)"]) from None
    except json.JSONDecodeError as exc:
        raise ImportRefused([f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})"]) from None
    except RecursionError:
        raise ImportRefused([_too_deep(str(path))]) from None
    if not isinstance(raw, dict):
        raise ImportRefused([f"{path}: the document must be a JSON object"])
    internal = sorted(k for k in raw if k.startswith("__"))
    if internal:  # these keys steer how a CSV folder is read; no export writes them
        raise ImportRefused([f"{path}: {k}: not a key of the export format" for k in internal])
    return raw


def _too_deep(where: str) -> str:
    return (
        f"{where}: lists or objects nest too deeply to be read (no export nests more than a "
        "few levels)"
    )


def _read_csv_folder(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ImportRefused([f"{folder / MANIFEST}: cannot be read ({exc})"]) from None
    if not isinstance(manifest, dict):
        raise ImportRefused([f"{folder / MANIFEST}: must be a JSON object"])
    tables: dict[str, list[dict[str, Any]]] = {}
    headers: dict[str, list[str]] = {}
    problems: list[str] = []
    unreadable: list[str] = []
    counts = manifest.get("rows")
    quoted = manifest.get(csv_cells.MANIFEST_KEY) == csv_cells.MANIFEST_VALUE
    for file in sorted(folder.glob("*.csv")):
        try:
            with file.open(encoding="utf-8", newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader, [])
                rows = [
                    {h: _csv_value(v, quoted) for h, v in zip(header, cells, strict=False)}
                    | ({"__width__": len(cells)} if len(cells) != len(header) else {})
                    for cells in reader
                ]
        except UnicodeDecodeError as exc:
            problems.append(f"{file.name}: not UTF-8 text (byte {exc.start} of the file)")
            unreadable.append(file.stem)
            continue
        except (OSError, csv.Error) as exc:
            problems.append(f"{file.name}: cannot be read ({exc})")
            unreadable.append(file.stem)
            continue
        tables[file.stem], headers[file.stem] = rows, header
        expected = counts.get(file.stem) if isinstance(counts, dict) else None
        if isinstance(expected, int) and expected != len(rows):
            problems.append(
                f"{file.name}: has {len(rows)} rows, the manifest says {expected} "
                "(cut short or edited?)"
            )
    return {
        **manifest,
        "tables": tables,
        "__csv__": True,
        "__headers__": headers,
        "__problems__": problems,
        "__unreadable__": unreadable,  # reported above, not again as missing tables
    }


# --- validation ---------------------------------------------------------------------------------


def _check_value(
    where: str, column: queries.Column, value: Any, from_csv: bool
) -> tuple[Any, str | None]:
    """(the value to insert, or a problem sentence)."""
    name = column.name
    if value is None:
        if column.not_null and not column.has_default:
            return None, f"{where}: a value is required"
        if column.not_null:
            return None, f"{where}: must not be null"
        return None, None
    if column.kind == "INTEGER":
        if from_csv and isinstance(value, str):
            # int() would also read "1_0", " 5" and other scripts' digits: never reinterpret.
            if not _WHOLE.fullmatch(value):
                return None, f"{where}: {value!r} is not a whole number"
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return None, f"{where}: {value!r} is not a whole number"
        if not _SQLITE_MIN_INT <= value <= _SQLITE_MAX_INT:
            return None, f"{where}: {value} is too large for the record"
        return value, None
    if not isinstance(value, str):
        return None, f"{where}: {value!r} must be text"
    if name in _DAYS:
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            return None, f"{where}: {value!r} is not a date"
        if parsed.isoformat() != value:
            return None, f"{where}: {value!r} is not a date in the form YYYY-MM-DD"
        try:
            check_day(parsed, name)
        except DomainError as exc:
            return None, f"{where}: {exc.message}"
    elif name in _INSTANTS:
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            return None, f"{where}: {value!r} is not a date and time"
        # The record keeps instants in UTC (storage/schema.py); a local time would be a guess.
        if instant.utcoffset() is None:
            return None, f"{where}: {value!r} has no time zone (the record keeps UTC, ...Z)"
        if instant.utcoffset():
            return None, f"{where}: {value!r} is not in UTC (the record keeps UTC, ...Z)"
    elif name in _DECIMALS:
        return value, _number_problem(where, value)
    elif name in _JSON:
        return value, _json_problem(where, value)
    return value, None


def _json_problem(where: str, value: str) -> str | None:
    try:
        json.loads(value)
    except json.JSONDecodeError:
        return f"{where}: {value!r} is not valid JSON"
    except RecursionError:
        return _too_deep(where)
    return None


def _number_problem(where: str, value: str) -> str | None:
    """A decimal quantity spelled as the record writes it (``str(Decimal)``)."""
    # Decimal() also reads " 1.5", "1_000" and other scripts' digits, which would then be
    # stored in that spelling: refuse them, so the record holds only plain numbers.
    if not _NUMBER.fullmatch(value):
        return f"{where}: {value!r} is not a number"
    try:  # 1E+999999 is a number, but not one anything in the record can be
        check_quantity(Decimal(value), where, "the number")
    except DomainError as exc:
        return f"{where}: {exc.message}"
    return None


def _check_value_column(table: str, where: str, value: str) -> str | None:
    """``value`` is a lab's number in ``labs`` and a JSON value in ``settings``."""
    if table == "labs":
        return _number_problem(where, value)
    if table == "settings":
        return _json_problem(where, value)
    return None


def validate_document(
    record: Record, document: Mapping[str, Any]
) -> tuple[dict[str, list[dict[str, Any]]], list[ImportProblem]]:
    """The rows ready to insert, and every problem found without touching the database."""
    problems: list[ImportProblem] = []
    if document.get("format") != FORMAT_NAME:
        problems.append(
            ImportProblem(f"format: expected {FORMAT_NAME!r}, got {document.get('format')!r}")
        )
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        problems.append(
            ImportProblem(
                f"format_version: this app reads version {FORMAT_VERSION}, the file has {version!r}"
            )
        )
    file_schema = document.get("schema_version")
    if not isinstance(file_schema, int) or file_schema > schema.SCHEMA_VERSION:
        problems.append(
            ImportProblem(
                f"schema_version: {file_schema!r} is newer than this app's "
                f"{schema.SCHEMA_VERSION} (or not a number)"
            )
        )
    # Columns added after the file's schema are absent from its rows: they import as NULL
    # (= not known), which is what the upgrade migration gives an old database too.
    older = file_schema if isinstance(file_schema, int) else schema.SCHEMA_VERSION

    def added_later(table: str, column: str) -> bool:
        return schema.COLUMNS_ADDED_LATER.get((table, column), 0) > older

    tables = document.get("tables")
    if not isinstance(tables, dict):
        return {}, [
            *problems,
            ImportProblem("tables: missing, or not an object of table name -> rows"),
        ]
    from_csv = bool(document.get("__csv__"))
    problems.extend(
        ImportProblem(p) for p in (document.get("__problems__", ()) if from_csv else ())
    )
    unreadable = set(document.get("__unreadable__", ())) if from_csv else set()
    headers: Mapping[str, list[str]] = document.get("__headers__", {}) if from_csv else {}
    clean: dict[str, list[dict[str, Any]]] = {}
    for name in tables:
        if name not in _TABLES:
            problems.append(ImportProblem(f"tables.{name}: not a table of the record"))
    for table in _TABLES:
        if table not in tables:
            # Every export holds every table; a missing one is a damaged file, not "no rows".
            if table in unreadable:
                pass
            elif from_csv:
                problems.append(ImportProblem(f"{table}.csv: missing (an export has every table)"))
            else:
                problems.append(
                    ImportProblem(
                        f"tables.{table}: missing (an export has every table, empty or not)"
                    )
                )
            continue
        rows = tables[table]
        if not isinstance(rows, list):
            problems.append(ImportProblem(f"{table}: must be a list of rows"))
            continue
        columns = {c.name: c for c in queries.table_columns(record, table)}
        if from_csv:
            header = headers.get(table, [])
            for name in sorted(n for n in set(header) if header.count(n) > 1):
                problems.append(
                    ImportProblem(f"{table}.csv: the header names column {name} more than once")
                )
            for name in columns:
                if name not in header and not added_later(table, name):
                    problems.append(ImportProblem(f"{table}.csv: the header has no column {name}"))
        out: list[dict[str, Any]] = []
        seen_ids: set[int] = set()
        for index, row in enumerate(rows):
            where, here = f"{table}[{index}]", (table, index)
            if not isinstance(row, dict):
                problems.append(
                    ImportProblem(f"{where}: must be an object of column -> value", here)
                )
                continue
            if "__width__" in row:
                problems.append(
                    ImportProblem(
                        f"{where}: has {row['__width__']} cells, the header has fewer or more", here
                    )
                )
                continue
            values: dict[str, Any] = {}
            for key in row:
                if key not in columns:
                    problems.append(ImportProblem(f"{where}.{key}: not a column of {table}", here))
            for column in columns.values():
                if column.name not in row and added_later(table, column.name):
                    continue
                if column.name not in row:
                    # An export writes every column of every row: a default here would silently
                    # change the record (a voided row revived, a resolved AE unresolved).
                    if not from_csv:  # a CSV header without the column is reported once above
                        problems.append(
                            ImportProblem(
                                f"{where}.{column.name}: missing (an export has every column in "
                                "every row)",
                                here,
                            )
                        )
                    continue
                context = f"{where}.{column.name}"
                value, problem = _check_value(context, column, row[column.name], from_csv)
                if problem is None and value is not None and column.name == "value":
                    problem = _check_value_column(table, context, value)
                if problem:
                    problems.append(ImportProblem(problem, here))
                else:
                    values[column.name] = value
            # Data entry's checks, once the row's values themselves are sound; a column added
            # after the file's schema is NULL, as it will be stored.
            complete = all(c in values or added_later(table, c) for c in columns)
            if complete and not any(p.row == here for p in problems):
                whole = {**{c: None for c in columns}, **values}
                problems.extend(
                    ImportProblem(text, here)
                    for text in _entry_problems(record, table, where, whole)
                )
            row_id = values.get("id")
            if row_id is None:
                problems.append(ImportProblem(f"{where}.id: a value is required", here))
            elif row_id in seen_ids:
                problems.append(
                    ImportProblem(f"{where}.id: {row_id} is used by an earlier row", here)
                )
            else:
                seen_ids.add(row_id)
            out.append(values)
        clean[table] = out
    return clean, problems


def _entry_problems(record: Record, table: str, where: str, row: Mapping[str, Any]) -> list[str]:
    """What data entry would refuse in this row: the repositories' own checks (lab
    plausibility, weight and height limits, text lengths and control characters, dates and
    numbers in range), known protocols, and settings as the settings screen parses them."""
    found: list[str] = []
    repository = _repositories(record).get(table)
    if repository is not None:
        for field, message in repository.row_problems(row):
            found.append(f"{where}.{field}: {message}" if field in row else f"{where}: {message}")
    if table == "enrolments" and row.get("protocol") not in _installed_protocols(record):
        known = ", ".join(sorted(_installed_protocols(record)))
        found.append(
            f"{where}.protocol: {row.get('protocol')!r} is not a protocol installed here "
            f"(installed: {known})"
        )
    if table == "settings" and row.get("voided_at") is None:
        found.extend(_setting_problems(where, row))
    return found


def _repositories(record: Record) -> dict[str, TableRepository[Any]]:
    return {repo.table: repo for repo in record.repos.all() if isinstance(repo, TableRepository)}


def _installed_protocols(record: Record) -> frozenset[str]:
    # The protocols this record is used with: the built-in files and the clinic's own folder.
    return frozenset(load_protocol_files(record))


def _setting_problems(where: str, row: Mapping[str, Any]) -> list[str]:
    # Imported lazily: settings imports lab entry, which imports this layer's neighbours.
    from clinic_app.services import settings as known

    key = str(row.get("key"))
    try:
        spec = known.spec(key)
    except DomainError as exc:
        return [f"{where}.key: {exc.message}"]
    value = json.loads(str(row.get("value")))
    try:
        if spec.kind is known.Kind.RANGES:
            if not isinstance(value, dict):
                raise DomainError(f"{spec.label} must be a table of tests", field=key)
            from clinic_app.services.lab_entry import ReferenceRanges

            ReferenceRanges.from_mapping(value, f"setting {key}")
        else:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise DomainError(f"{spec.label} must be text or a whole number", field=key)
            parsed = known.parse(key, str(value))
            if type(parsed) is not type(value):
                raise DomainError(f"{spec.label}: {value!r} is not a value it takes", field=key)
    except DomainError as exc:
        return [f"{where}.value: {exc.message}"]
    except ProtocolError as exc:
        return [f"{where}.value: {exc.key}: {exc.problem}"]
    return []


def import_file(record: Record, path: Path) -> ImportResult:
    """Import a JSON export (or a CSV export folder) into an empty record, all or nothing.

    Raises :class:`ImportRefused` with every problem; the record is then unchanged.
    """
    document = read_document(path)
    if queries.clinical_rows_count(record, _TABLES):
        raise ImportRefused(
            [
                f"{record.location}: the database already holds records; import into a new, empty "
                "database (clinic-app --db NEW_FILE import ...)"
            ]
        )
    rows, problems = validate_document(record, document)
    if problems:
        raise ImportRefused([str(p) for p in problems])

    class _Rollback(Exception):
        pass

    found: list[str] = []
    try:
        with record.transaction(reason=f"import from {path.name}"):
            for table in _TABLES:
                for index, message in queries.insert_rows_collecting_problems(
                    record, table, rows[table]
                ):
                    found.append(f"{table}[{index}]: refused by the database: {message}")
            if found:
                raise _Rollback
    except _Rollback:
        raise ImportRefused(found) from None
    return ImportResult({table: len(rows[table]) for table in _TABLES})
