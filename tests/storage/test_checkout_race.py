"""Check-out on the server while a workstation writes the same chart (issue 19).

Two real connections on the real test server: the check-out holds the server's check-out lock
while it copies the charts, so a write to one of them that reaches its commit meanwhile waits,
then sees the check-out and is refused; it is never committed behind the laptop's back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from clinic_app.storage.checkout import CheckedOutError, check_out, out
from clinic_app.storage.database import Record, ServerAddress, open_database

from ..pg_server import PgServer
from ..services.helpers import lab
from .test_copy_record import PASSWORD, _fill


@pytest.fixture
def server_clinic(pg_server: PgServer, pg_template: str) -> Iterator[tuple[Record, str]]:
    conninfo = pg_server.create_database("race_clinic", template=pg_template)
    record = open_database(ServerAddress(conninfo))
    try:
        _fill(record)
        yield record, conninfo
    finally:
        record.close()
        pg_server.drop_database("race_clinic")


def _waiting_on_advisory_lock(conninfo: str) -> bool:
    with psycopg.connect(conninfo, autocommit=True) as watcher:
        row = watcher.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone()
    return bool(row and row[0])


def test_a_write_reaching_its_commit_during_a_check_out_is_refused(
    server_clinic: tuple[Record, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinic, conninfo = server_clinic
    mrn, pid = clinic.sql.execute("SELECT mrn, id FROM patients ORDER BY id LIMIT 1").fetchone()
    labs_before = clinic.sql.execute("SELECT count(*) FROM labs").fetchone()[0]
    outcome: dict[str, Any] = {}

    def workstation() -> None:
        other = open_database(ServerAddress(conninfo))
        try:
            other.set_user(other.repos.users.authenticate("ivan", PASSWORD).username)
            lab(other, int(pid), "anc", "1.1", "10^9/L", date(2026, 11, 26))
            outcome["result"] = "committed"
        except CheckedOutError as refused:
            outcome["result"] = refused
        finally:
            other.close()

    writer = threading.Thread(target=workstation)
    real_fill = out._fill_laptop

    def fill_while_a_workstation_writes(*args: Any) -> Any:
        # The charts are being read: now the workstation tries to commit a lab to one.
        writer.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and writer.is_alive():
            if _waiting_on_advisory_lock(conninfo):
                outcome["waited"] = True
                break
            time.sleep(0.05)
        return real_fill(*args)

    monkeypatch.setattr(out, "_fill_laptop", fill_while_a_workstation_writes)
    laptop = tmp_path / "laptop.sqlite3"
    check_out(clinic, laptop, [str(mrn)], "Laptop 2")
    writer.join(30)
    assert not writer.is_alive()
    assert outcome.get("waited") is True, outcome
    assert isinstance(outcome["result"], CheckedOutError), outcome
    assert f"The patient {mrn} is checked out to the laptop Laptop 2" in str(outcome["result"])
    assert clinic.sql.execute("SELECT count(*) FROM labs").fetchone()[0] == labs_before
