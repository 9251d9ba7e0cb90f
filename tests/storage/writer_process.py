"""A child process for the concurrency and crash tests: streams committed writes.

Usage: python writer_process.py DB_PATH MRN COUNT
Each step is one transaction holding a lab and an adverse event whose note names the lab id;
after COMMIT returns, the lab id is printed and flushed, so the parent knows it is durable.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from decimal import Decimal


def main(db_path: str, mrn: str, count: int) -> None:
    from clinic_app.core.records import AdverseEvent, LabResult, Patient, Sex
    from clinic_app.storage.database import open_database

    record = open_database(db_path)
    repos = record.repos
    existing = repos.patients.by_mrn(mrn)
    pid = (
        existing.id
        if existing
        else repos.patients.add(Patient(mrn, "Writer", "Test", date(1950, 1, 1), Sex.MALE))
    )
    for n in range(count):
        with record.transaction(reason="stream"):
            lab_id = repos.labs.add(
                pid,
                LabResult("anc", Decimal(n % 100), "10^9/L", datetime.now(UTC), Decimal(n % 100)),
            )
            repos.adverse_events.add(
                pid, AdverseEvent("Fatigue", 1, date(2026, 1, 1), notes=str(lab_id))
            )
        print(lab_id, flush=True)
    record.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
