"""Check-in onto the server record as the app's own role (issue 19), on the real test server.

A nurse's workstation signs in as the app role, which may not switch triggers off nor write the
audit log: the check-in goes through the server's check-in session (engines/pg_checkin), and a
laptop entry that does not come with a check-in of that laptop is refused.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from clinic_app.storage.backup import check
from clinic_app.storage.checkout import check_in, check_out, checked_out_patients
from clinic_app.storage.database import Record, ServerAddress, open_database
from clinic_app.storage.engines import ConstraintError, pg_schema

from ..services.helpers import lab
from .pg_helpers import as_user, write
from .test_checkout import LABEL, ROAD, _mrns, _pid, _road_changes
from .test_copy_record import PASSWORD, _fill
from .test_pg_schema import roles  # noqa: F401  (the fixture: owner and app roles)


@pytest.fixture
def as_app(pg_database: str, roles: tuple[str, str]) -> Iterator[tuple[Record, str]]:  # noqa: F811
    owner, app = roles
    with open_database(ServerAddress(as_user(pg_database, owner))) as setup:
        _fill(setup)
    record = open_database(ServerAddress(as_user(pg_database, app)))
    try:
        record.set_user(record.repos.users.authenticate("ivan", PASSWORD).username)
        yield record, as_user(pg_database, app)
    finally:
        record.close()


def test_check_out_and_in_as_the_app_role_brings_every_change_back(
    as_app: tuple[Record, str], tmp_path: Path
) -> None:
    clinic, _conninfo = as_app
    laptop_path = tmp_path / "laptop.sqlite3"
    mrns = _mrns(clinic, 2)
    check_out(clinic, laptop_path, mrns, LABEL)
    with open_database(laptop_path) as laptop:
        laptop.set_user(laptop.repos.users.authenticate("ivan", PASSWORD).username)
        made = _road_changes(laptop, mrns)
    report = check_in(clinic, laptop_path)
    assert report.outcome == "applied", report.lines()
    assert report.new_rows["labs"] == 1 and report.changed_rows == {"labs": 1, "adverse_events": 1}
    assert checked_out_patients(clinic) == {}
    assert check(clinic) == [] and pg_schema.schema_problems(clinic.sql) == []
    first = _pid(clinic, mrns[0])
    road = clinic.sql.rows(
        "SELECT id, value FROM labs WHERE patient_id = ? AND collected_at LIKE ?",
        [first, f"{ROAD.isoformat()}%"],
    )
    assert [r["value"] for r in road] == ["1.4"]
    trail = clinic.sql.rows(
        "SELECT via, app_user, action FROM audit_log WHERE table_name = 'labs' AND row_id = ? "
        "ORDER BY id",
        [made["corrected_lab"]],
    )
    assert trail[-1] == {
        "via": f"clinic-app on the laptop {LABEL}",
        "app_user": "ivan",
        "action": "update",
    }
    (version,) = clinic.sql.execute(
        "SELECT version FROM labs WHERE id = ?", [made["corrected_lab"]]
    ).fetchone()
    assert version == 2
    (void_reason,) = clinic.sql.execute(
        "SELECT void_reason FROM adverse_events WHERE id = ?", [made["voided_ae"]]
    ).fetchone()
    assert void_reason == "dup"
    # Exactly the laptop's entries for its rows: none written twice by the clinic's triggers.
    (doubled,) = clinic.sql.execute(
        "SELECT count(*) FROM audit_log WHERE table_name = 'labs' AND row_id = ? "
        "AND via = 'clinic-app'",
        [road[0]["id"]],
    ).fetchone()
    assert doubled == 0


def _raw(conninfo: str, *statements: str) -> None:
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute(
            "SELECT set_config('clinic_app.actor', "
            '\'{"app_user": "ivan", "os_user": "x", "reason": null}\', true)'
        )
        for statement in statements:
            conn.execute(statement.encode())


_ENTRY = (
    "SELECT clinic_app_checkin_entry('2026-11-25T08:00:00.000Z', '{via}', 'ivan', 'x', NULL, "
    "'labs', 1, 'update', '{{\"value\":\"1\"}}', '{{\"value\":\"9\"}}')"
)


def test_a_forged_laptop_entry_is_refused(as_app: tuple[Record, str], tmp_path: Path) -> None:
    clinic, conninfo = as_app
    mrn = _mrns(clinic, 1)
    check_out(clinic, tmp_path / "laptop.sqlite3", mrn, LABEL)
    (cid,) = clinic.sql.execute("SELECT id FROM checkouts WHERE side = 'clinic'").fetchone()
    before = clinic.sql.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    via = f"clinic-app on the laptop {LABEL}"
    # No check-in in this transaction: no entry, and no session without a returned check-out.
    with pytest.raises(psycopg.errors.RaiseException, match="only during its check-in"):
        _raw(conninfo, _ENTRY.format(via=via))
    with pytest.raises(psycopg.errors.RaiseException, match="no check-out that was out"):
        _raw(conninfo, "SELECT clinic_app_begin_checkin(ARRAY['labs'])")
    returned = (
        "UPDATE checkouts SET status = 'returned', returned_at = 'now', returned_by = 'ivan', "
        f"version = version + 1 WHERE id = {cid}"
    )
    begin = "SELECT clinic_app_begin_checkin(ARRAY['labs'])"
    # A check-in session open, but an entry that does not say it was made on that laptop, or
    # of a table the session does not write, or a table that is not a chart.
    with pytest.raises(psycopg.errors.RaiseException, match="made on the laptop being checked"):
        _raw(conninfo, returned, begin, _ENTRY.format(via="clinic-app"))
    with pytest.raises(psycopg.errors.RaiseException, match="made on the laptop being checked"):
        _raw(conninfo, returned, begin, _ENTRY.format(via="clinic-app on the laptop Other"))
    with pytest.raises(psycopg.errors.RaiseException, match="only the charts"):
        _raw(conninfo, returned, "SELECT clinic_app_begin_checkin(ARRAY['users'])")
    with pytest.raises(psycopg.errors.RaiseException, match="only during its check-in"):
        _raw(conninfo, returned, begin, "SELECT clinic_app_end_checkin()", _ENTRY.format(via=via))
    # The app role cannot open a session by hand, nor skip the version rule outside one.
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _raw(
            conninfo,
            "INSERT INTO checkin_sessions VALUES (txid_current(), 'x', ARRAY['labs'], 'now', NULL)",
        )
    with pytest.raises(ConstraintError, match="version = version"):
        write(clinic.sql, "UPDATE labs SET version = version + 5 WHERE id = 1")
    assert clinic.sql.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before
    assert checked_out_patients(clinic) != {}


_CHILD = """
import sys
from pathlib import Path
from clinic_app.storage.database import ServerAddress, open_database
from clinic_app.storage.checkout import check_in
with open_database(ServerAddress(sys.argv[1])) as clinic:
    clinic.set_user(clinic.repos.users.authenticate("ivan", sys.argv[3]).username)
    print("signed in", flush=True)
    check_in(clinic, Path(sys.argv[2]))
"""


def _state(record: Record) -> tuple[object, ...]:
    sql = record.sql
    return (
        sql.rows("SELECT * FROM labs ORDER BY id"),
        sql.rows("SELECT * FROM audit_log WHERE table_name NOT IN ('users') ORDER BY id"),
        sql.rows("SELECT id, status, version FROM checkouts ORDER BY id"),
    )


def _writing_sessions(conninfo: str) -> list[int]:
    """The other sessions of this database that have written in an open transaction."""
    with psycopg.connect(conninfo, autocommit=True) as watcher:
        rows = watcher.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
        ).fetchall()
    return [int(r[0]) for r in rows]


@pytest.mark.slow
def test_a_check_in_killed_on_the_way_leaves_the_server_as_before(
    as_app: tuple[Record, str], tmp_path: Path
) -> None:
    clinic, conninfo = as_app
    laptop_path = tmp_path / "laptop.sqlite3"
    check_out(clinic, laptop_path, _mrns(clinic, 1), LABEL)
    with open_database(laptop_path) as road:
        road.set_user(road.repos.users.authenticate("ivan", PASSWORD).username)
        first = _pid(road, _mrns(road, 1)[0])
        with road.transaction(reason="a long day on the road"):
            for n in range(1500):  # enough rows for the check-in to take a while
                lab(road, first, "anc", f"1.{n % 10}", "10^9/L", ROAD)
    before = _state(clinic)
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD, conninfo, str(laptop_path), PASSWORD],
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None and child.stdout.readline().strip() == "signed in"
        deadline = time.monotonic() + 60
        writing: list[int] = []
        while not writing and time.monotonic() < deadline and child.poll() is None:
            writing = _writing_sessions(conninfo)
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert writing, "the check-in finished before it could be killed"
    deadline = time.monotonic() + 30
    while set(writing) & set(_writing_sessions(conninfo)) and time.monotonic() < deadline:
        time.sleep(0.05)  # the server notices the dropped connection and rolls back
    assert _state(clinic) == before
    assert checked_out_patients(clinic) != {}
    report = check_in(clinic, laptop_path)  # and the same file checks in whole afterwards
    assert report.outcome == "applied" and report.new_rows["labs"] == 1500
