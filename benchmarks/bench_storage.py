"""Storage benchmark on a 10,000-patient demo record: open, list, one chart, one lab insert.

Run: .venv/bin/python benchmarks/bench_storage.py [--patients N] [--db PATH]
Builds the demo record first when PATH does not exist (that time is printed too).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from clinic_app.core.protocol_loader import load_protocols
from clinic_app.core.records import LabResult
from clinic_app.services.demo import generate_demo
from clinic_app.services.patient_state import list_patient_rows, patient_summary
from clinic_app.storage.database import open_database

TODAY = date(2026, 5, 4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/clinic-bench-10k.sqlite3"))
    args = parser.parse_args()
    protocols = load_protocols()
    if not args.db.exists():
        t = time.perf_counter()
        with open_database(args.db, daily_backup=False) as rec:
            result = generate_demo(rec, patients=args.patients, seed=1, today=TODAY)
        print(f"demo {result.patients} patients: {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    rec = open_database(args.db, daily_backup=False)
    print(f"open: {(time.perf_counter() - t) * 1000:.1f} ms")
    t = time.perf_counter()
    rows = list_patient_rows(rec, TODAY, protocols)
    print(f"list {len(rows)} patients with status and flags: {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    summary = patient_summary(rec, rows[len(rows) // 2].patient_id, TODAY, protocols)
    print(
        f"one full chart ({len(summary.cycles)} cycles): {(time.perf_counter() - t) * 1000:.0f} ms"
    )
    t = time.perf_counter()
    at = datetime(2026, 5, 4, 8, tzinfo=UTC)
    rec.repos.labs.add(
        rows[0].patient_id, LabResult("anc", Decimal("2.1"), "10^9/L", at, Decimal("2.1"))
    )
    print(f"insert one lab: {(time.perf_counter() - t) * 1000:.1f} ms")
    rec.close()


if __name__ == "__main__":
    main()
