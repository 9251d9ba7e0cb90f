"""Storage benchmark on a 10,000-patient demo record: open, list, one chart, one lab insert.

Run: .venv/bin/python benchmarks/bench_storage.py [--patients N] [--db PATH]
    [--engine sqlite|postgresql|both] [--rtt-ms 1] [--repeat 3]
    .venv/bin/python benchmarks/bench_storage.py --backup --db PATH   (the daily backup only)
Builds the demo record first when PATH does not exist (that time is printed too). The list
and the chart load (services.chart_data.load_chart, one patient with 6+ cycles) are printed
with the raw floor of the same SQL, the ratio and their statements; with a server (see
on_engines.py) the same record is copied onto a throwaway PostgreSQL database and measured
the same way, with round trips and a network estimate.

``--audit-size N`` instead measures what the audit trail costs (issue 16): one demo record of
N patients logged as schema 4 did (every update stored both whole rows), the same record
after migration 0007 compacts it, and one logged from the start as now (an update stores only
the columns it changed). It prints sizes and ratios; nothing is asserted.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from on_engines import (
    Engines,
    add_options,
    capturing,
    first_patient_with_cycles,
    measure,
    ms,
    report,
)

from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import DoseStatus, LabResult
from clinic_app.services.chart_data import load_chart
from clinic_app.services.demo import generate_demo
from clinic_app.services.patient_state import list_patient_rows, patient_summary
from clinic_app.storage import integrity, schema
from clinic_app.storage.database import Record, RecordLocation, open_database

TODAY = date(2026, 5, 4)


def _whole_row_updates(rec: Record) -> None:
    """Put back the schema-4 update triggers (both whole rows) to measure what they cost."""
    for table in (*schema.CLINICAL_TABLES, *schema.ACCOUNT_TABLES):
        cols = schema.audited_columns(rec.db, table)

        def whole(alias: str, cols: list[str] = cols) -> str:
            return "json_object(" + ", ".join(f"'{c}', {alias}.{c}" for c in cols) + ")"

        name = f"{table}_audit_update"
        rec.db.execute(f"DROP TRIGGER {name}")
        rec.db.execute(
            f"CREATE TRIGGER {name} AFTER UPDATE ON {table} BEGIN INSERT INTO audit_log "
            "(via, app_user, os_user, reason, table_name, row_id, action, old_json, new_json) "
            "SELECT CASE WHEN a.id IS NULL THEN 'outside the app' ELSE 'clinic-app' END, "
            f"a.app_user, a.os_user, a.reason, '{table}', NEW.id, CASE WHEN OLD.voided_at IS "
            "NULL AND NEW.voided_at IS NOT NULL THEN 'void' ELSE 'update' END, "
            f"{whole('OLD')}, {whole('NEW')} FROM (SELECT 1) LEFT JOIN audit_actor a ON "
            f"{schema._IS_APP}; END"
        )
    rec.db.conn.commit()


def _give_planned(rec: Record) -> int:
    """What the nurse does on the day: every planned dose recorded as given (an update
    through the repository, as services.dose_admin.record_dose_outcome writes it)."""
    ids = [int(r[0]) for r in rec.db.execute("SELECT id FROM dose_events WHERE status = 'planned'")]
    at = datetime(2026, 5, 4, 9, tzinfo=UTC)
    with rec.transaction(reason="dose given"):
        for dose_id in ids:
            stored = rec.repos.doses.get(dose_id)
            given = replace(stored.value, status=DoseStatus.GIVEN, given_at=at)
            rec.repos.doses.update(dose_id, given, expected_version=stored.version, reason="given")
    return len(ids)


def _per_update(path: Path) -> float:
    conn = sqlite3.connect(str(path))
    (avg,) = conn.execute(
        "SELECT avg(length(old_json) + length(new_json)) FROM audit_log WHERE action = 'update'"
    ).fetchone()
    conn.close()
    return float(avg or 0)


def _sizes(path: Path) -> tuple[int, int, int]:
    """(file bytes after VACUUM, audit JSON bytes, audit entries)."""
    conn = sqlite3.connect(str(path))
    conn.execute("VACUUM")
    json_bytes, entries = conn.execute(
        "SELECT sum(coalesce(length(old_json), 0) + coalesce(length(new_json), 0)), count(*) "
        "FROM audit_log"
    ).fetchone()
    conn.close()
    return path.stat().st_size, int(json_bytes or 0), int(entries)


def audit_size(patients: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    whole, lean = folder / "whole-rows.sqlite3", folder / "changed-columns.sqlite3"
    for path in (whole, lean):
        for stale in folder.glob(path.name + "*"):
            stale.unlink()
    with open_database(whole) as rec:
        _whole_row_updates(rec)
        generate_demo(rec, patients=patients, seed=1, today=TODAY)
        given = _give_planned(rec)
    before, before_update = _sizes(whole), _per_update(whole)
    t = time.perf_counter()
    with open_database(whole) as rec:
        conn = rec.db.conn
        conn.execute("BEGIN IMMEDIATE")
        schema._m0007_audit_compaction(rec.db)  # what the migration does to an older record
        for table in (*schema.CLINICAL_TABLES, *schema.ACCOUNT_TABLES):
            schema.install_audit_triggers(rec.db, table)  # as migration 0006 does
        conn.execute("COMMIT")
        compact_s = time.perf_counter() - t
        problems = integrity.verify(conn)
    migrated = _sizes(whole)
    with open_database(lean) as rec:
        generate_demo(rec, patients=patients, seed=1, today=TODAY)
        _give_planned(rec)
    after, after_update = _sizes(lean), _per_update(lean)
    mb = 1024 * 1024
    print(
        f"audit trail, demo of {patients} patients and {given} planned doses then given "
        f"({after[2]} audit entries):"
    )
    for label, (size, audit, _n) in (
        ("whole rows on update (schema 4)", before),
        ("after migration 0007 + VACUUM", migrated),
        ("changed columns (schema 6+)", after),
    ):
        print(
            f"  {label:34} record {size / mb:7.1f} MB, audit JSON {audit / mb:7.1f} MB "
            f"({audit / size:4.0%} of the record)"
        )
    print(
        f"  record {after[0] / before[0]:.2f}x, audit JSON {after[1] / before[1]:.2f}x of "
        f"schema 4; compaction took {compact_s:.1f} s; check afterwards: "
        f"{'clean' if not problems else problems[:3]}"
    )
    print(
        f"  one update entry: {before_update:.0f} bytes of JSON with whole rows, "
        f"{after_update:.0f} with the changed columns ({after_update / before_update:.2f}x); "
        "inserts (whole rows, as before) are most of the demo's entries"
    )


def chart_figures(rec: Record, engine: str, args: argparse.Namespace) -> None:
    """services.chart_data.load_chart, what the app's chart pane reads, for one patient with
    at least 6 cycles: the figure, the raw floor, the ratio and the statements."""
    patient_id, cycles = first_patient_with_cycles(rec, 6)
    protocols = load_protocols()
    figures = measure(rec, lambda: load_chart(rec, patient_id, protocols=protocols), args.repeat)
    print(
        f"chart load (load_chart, patient {patient_id}, {cycles} cycles): "
        f"{ms(figures.app_s)} (median of {args.repeat})"
    )
    report("chart load", figures, engine, args.rtt_ms)


def storage_figures(where: RecordLocation, engine: str, args: argparse.Namespace) -> None:
    protocols = load_protocols()
    t = time.perf_counter()
    rec = open_database(where)
    print(f"open: {(time.perf_counter() - t) * 1000:.1f} ms")
    before = rec.sql.statements
    t = time.perf_counter()
    rows = list_patient_rows(rec, TODAY, protocols)
    print(
        f"list {len(rows)} patients with status and flags: {time.perf_counter() - t:.2f} s "
        f"(first load, {rec.sql.statements - before} statements)"
    )
    figures = measure(rec, lambda: list_patient_rows(rec, TODAY, protocols), args.repeat)
    print(f"list again (warm): {figures.app_s * 1000:.0f} ms (median of {args.repeat})")
    report("list load", figures, engine, args.rtt_ms, "goal: at most 3")
    before = rec.sql.statements
    t = time.perf_counter()
    summary = patient_summary(rec, rows[len(rows) // 2].patient_id, TODAY, protocols)
    print(
        f"one full chart ({len(summary.cycles)} cycles): {(time.perf_counter() - t) * 1000:.0f} ms "
        f"({rec.sql.statements - before} statements)"
    )
    chart_figures(rec, engine, args)
    before = rec.sql.statements
    at = datetime(2026, 5, 4, 8, tzinfo=UTC)
    # The round trips are counted by a wrapper around the driver's execute (a few
    # microseconds each), so the one insert is timed with it.
    with capturing(rec) as capture:
        t = time.perf_counter()
        rec.repos.labs.add(
            rows[0].patient_id, LabResult("anc", Decimal("2.1"), "10^9/L", at, Decimal("2.1"))
        )
        insert_s = time.perf_counter() - t
    line = f"insert one lab: {insert_s * 1000:.1f} ms ({rec.sql.statements - before} statements"
    if engine == "postgresql":
        trips = capture.round_trips
        line += (
            f"; {trips} round trips in all (BEGIN, the actor, COMMIT too); estimate, not measured: "
            f"at {args.rtt_ms:g} ms per round trip +{trips * args.rtt_ms:.0f} ms = "
            f"{ms(insert_s + trips * args.rtt_ms / 1000)}"
        )
    print(line + ")")
    rec.close()


def backup_figures(db: Path) -> None:
    """The daily backup's copy and check of the whole record, beside the same two steps done
    with sqlite3 alone (the backup API and ``PRAGMA integrity_check``)."""
    import shutil
    import tempfile

    from clinic_app.storage.backup import backup_to

    folder = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    try:
        with open_database(db) as rec:
            t = time.perf_counter()
            backup_to(rec, folder / "copy.sqlite3")
            ours = time.perf_counter() - t
        t = time.perf_counter()
        source, dest = sqlite3.connect(db), sqlite3.connect(folder / "raw.sqlite3")
        source.backup(dest)
        dest.execute("PRAGMA journal_mode = DELETE").fetchone()
        dest.execute("PRAGMA integrity_check").fetchall()
        source.close()
        dest.close()
        floor = time.perf_counter() - t
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    size = db.stat().st_size / 1e6
    print(
        f"daily backup of a {size:.0f} MB record (copy and integrity check): {ours:.2f} s; "
        f"floor, sqlite3's backup and integrity_check alone: {floor:.2f} s; "
        f"ratio {ours / floor:.2f}. The app runs it on its own thread (gui/backup_timer.py)."
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/clinic-bench-10k.sqlite3"))
    parser.add_argument("--audit-size", type=int, metavar="N", help="measure the audit trail")
    parser.add_argument("--backup", action="store_true", help="measure the daily backup")
    add_options(parser)
    args = parser.parse_args()
    if args.backup and args.db.exists():
        backup_figures(args.db)
        return
    if args.audit_size:
        audit_size(args.audit_size, Path("/tmp/clinic-bench-audit"))
        return
    if not args.db.exists():
        t = time.perf_counter()
        with open_database(args.db) as rec:
            result = generate_demo(rec, patients=args.patients, seed=1, today=TODAY)
        print(f"demo {result.patients} patients: {time.perf_counter() - t:.1f} s")
    with Engines(args.engine) as engines:
        for engine in engines.names:
            where: RecordLocation = args.db
            if engine == "postgresql":
                where = engines.server_copy(args.db, "bench_storage")
            print(f"-- {engine}: {where}")
            storage_figures(where, engine, args)


if __name__ == "__main__":
    main()
