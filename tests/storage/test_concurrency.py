"""Two app instances on one record (a file, or the clinic's server): writers queue instead of
failing, every write lands, and stale edits are refused saying who changed what."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from clinic_app.core.records import LabResult
from clinic_app.storage.database import RecordLocation, ServerAddress, open_database
from clinic_app.storage.errors import StaleRecordError

from .conftest import make_patient

WRITER = Path(__file__).with_name("writer_process.py")


def _address(where: RecordLocation) -> str:
    """What another process is given to open the same record."""
    return where.conninfo if isinstance(where, ServerAddress) else str(where)


def test_two_connections_in_threads_never_see_database_is_locked(
    record_location: RecordLocation,
) -> None:
    db_path = record_location
    with open_database(db_path) as setup:
        pid = setup.repos.patients.add(make_patient())
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with open_database(db_path) as rec:  # one Record per thread
                for i in range(40):
                    rec.repos.labs.add(
                        pid,
                        LabResult("anc", Decimal(i), "10^9/L", datetime.now(UTC), Decimal(n)),
                    )
                    rec.repos.labs.for_patient(pid)  # readers interleave with the writers
        except BaseException as exc:  # collected and re-raised by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_database(db_path) as rec:
        labs = rec.repos.labs.for_patient(pid)
        assert sorted(lab.value_si for lab in labs).count(Decimal(1)) == 40
        assert len(labs) == 80


def test_two_processes_write_at_once_and_every_write_lands(
    record_location: RecordLocation,
) -> None:
    db_path = record_location
    open_database(db_path).close()  # migrate once, before the race
    procs = [
        subprocess.Popen(
            [sys.executable, str(WRITER), _address(db_path), mrn, "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mrn in ("P-1", "P-2")
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    reported = [int(line) for out, _ in outputs for line in out.split()]
    assert len(reported) == 60
    with open_database(db_path) as rec:
        present = {int(r[0]) for r in rec.sql.execute("SELECT id FROM labs").fetchall()}
        assert set(reported) == present


def test_stale_edit_from_the_other_window_is_refused(record_location: RecordLocation) -> None:
    db_path = record_location
    with (
        open_database(db_path, app_user="nurse.a") as window_a,
        open_database(db_path, app_user="nurse.b") as window_b,
    ):
        pid = window_a.repos.patients.add(make_patient())
        seen_by_b = window_b.repos.patients.get(pid)
        window_a.repos.patients.update(
            pid, make_patient(family="Novak"), expected_version=1, reason="ID card"
        )
        with pytest.raises(StaleRecordError) as info:
            window_b.repos.patients.update(
                pid, make_patient(family="Nowak"), expected_version=seen_by_b.version, reason="x"
            )
        assert "nurse.a" in str(info.value)
        assert "'Nováková' -> 'Novak'" in str(info.value)
        assert window_b.repos.patients.get(pid).value.family_name == "Novak"
