"""Storage benchmark: open, list every patient, load one chart, insert one lab.

Usage: python benchmarks/bench_storage.py [--patients N] [--db PATH]
Without --db it builds a throw-away record of N simple patients (each with an enrolment, two
cycles, eight doses and six labs) in a temporary folder. Prints figures, never asserts them.
Until the ``demo`` command exists the synthetic data is plainer than a real demo record.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from clinic_app.core.records import DoseEvent, DoseStatus, Enrolment, LabResult, Patient, Phase, Sex
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.rows import CycleRow


def fill(record: Record, n: int) -> None:
    r = record.repos
    t0 = datetime(2026, 1, 5, 8, tzinfo=UTC)
    with record.transaction(reason="benchmark data"):
        for i in range(n):
            pid = r.patients.add(
                Patient(
                    f"B{i:06d}", f"Family{i}", "Given", date(1950, 1, 1), Sex(("F", "M")[i % 2])
                )
            )
            eid = r.enrolments.add(Enrolment(pid, "dextr", date(2026, 1, 2), date(2026, 1, 1)))
            for number in (1, 2):
                cid = r.cycles.add(
                    CycleRow(
                        eid, number, Phase.INDUCTION, date(2026, 1, 5) + timedelta(28 * number)
                    )
                )
                for day in (1, 8, 15, 22):
                    r.doses.add(
                        DoseEvent(cid, day, "dexamethasone", Decimal("40"), DoseStatus.PLANNED)
                    )
            for k in range(6):
                r.labs.add(
                    pid,
                    LabResult(
                        "anc", Decimal("1.5"), "10^9/L", t0 + timedelta(days=7 * k), Decimal("1.5")
                    ),
                )


def timed(label: str, fn: Callable[[], object], repeat: int = 5) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    median = statistics.median(runs)
    print(f"{label:<34} median {median * 1000:9.2f} ms over {repeat} runs")
    return median


def chart(record: Record, pid: int) -> None:
    r = record.repos
    r.patients.get(pid)
    r.measurements.for_patient(pid)
    for enrolment in r.enrolments.for_patient(pid):
        assert enrolment.id is not None
        for cycle in r.cycles.for_enrolment(enrolment.id):
            assert cycle.id is not None
            r.doses.for_cycle(cycle.id)
        r.modifications.for_enrolment(enrolment.id)
    r.labs.for_patient(pid)
    r.adverse_events.for_patient(pid)
    r.responses.for_patient(pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.sqlite3"
        if args.db is None:
            start = time.perf_counter()
            with open_database(path, daily_backup=False) as rec:
                fill(rec, args.patients)
            print(f"built {args.patients} patients in {time.perf_counter() - start:.1f} s")
        open_s = timed("open", lambda: open_database(path, daily_backup=False).close())
        with open_database(path, daily_backup=False) as rec:
            list_s = timed("list all patients", rec.repos.patients.all)
            pid = rec.repos.patients.all()[len(rec.repos.patients.all()) // 2].id
            assert pid is not None
            chart_s = timed("load one chart", lambda: chart(rec, pid))
            lab = LabResult("anc", Decimal("0.9"), "10^9/L", datetime.now(UTC), Decimal("0.9"))
            insert_s = timed(
                "insert one lab (own transaction)", lambda: rec.repos.labs.add(pid, lab)
            )
        print(f"ratio list/chart: {list_s / chart_s:.1f}; insert/chart: {insert_s / chart_s:.1f}")
        print(f"open: {open_s * 1000:.1f} ms")


if __name__ == "__main__":
    main()
