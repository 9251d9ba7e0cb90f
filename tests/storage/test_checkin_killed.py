"""A check-in killed at a random moment leaves the clinic's record as before or as after.

The check-in runs in a child process that is sent SIGKILL part way (a crash, a pulled plug
of the process); the clinic file is then either exactly as before (patients still out, no
road row, no entry) or exactly as after a whole check-in, and passes ``check``.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clinic_app.storage.backup import check
from clinic_app.storage.checkout import check_in, check_out
from clinic_app.storage.database import open_database

from ..services.helpers import lab
from .test_checkout import ROAD
from .test_copy_record import PASSWORD, _fill

_CHILD = """
import sys
from pathlib import Path
from clinic_app.storage.database import open_database
from clinic_app.storage.checkout import check_in
with open_database(sys.argv[1]) as clinic:
    clinic.set_user(clinic.repos.users.authenticate("ivan", sys.argv[3]).username)
    print("signed in", flush=True)
    check_in(clinic, Path(sys.argv[2]))
"""


def _state(path: Path) -> tuple[object, ...]:
    with open_database(path) as record:
        assert check(record) == []
        sql = record.sql
        return (
            sql.rows("SELECT * FROM labs ORDER BY id"),
            # The clinical entries (sign-ins and the check-out's own row carry their moment).
            sql.rows(
                "SELECT * FROM audit_log WHERE table_name NOT IN ('users', 'checkouts') ORDER BY id"
            ),
            sql.rows("SELECT id, status FROM checkouts ORDER BY id"),
        )


@pytest.mark.slow
def test_a_killed_check_in_leaves_the_clinic_before_or_after(tmp_path: Path) -> None:
    pristine, laptop_pristine = tmp_path / "clinic.sqlite3", tmp_path / "laptop.sqlite3"
    with open_database(pristine) as clinic:
        _fill(clinic)
        check_out(clinic, laptop_pristine, ["DEMO-00001"], "Laptop 2")
    with open_database(laptop_pristine) as road:
        road.set_user(road.repos.users.authenticate("ivan", PASSWORD).username)
        with road.transaction(reason="a long day on the road"):
            for n in range(3000):  # enough rows for the check-in to take a while
                lab(road, 1, "anc", f"1.{n % 10}", "10^9/L", ROAD)
    before = _state(pristine)
    done = tmp_path / "done.sqlite3"
    shutil.copy(pristine, done)
    shutil.copy(laptop_pristine, tmp_path / "done-laptop.sqlite3")
    with open_database(done) as clinic:
        clinic.set_user(clinic.repos.users.authenticate("ivan", PASSWORD).username)
        check_in(clinic, tmp_path / "done-laptop.sqlite3")
    after = _state(done)
    assert after != before
    chance = random.Random(19)
    seen = set()
    for attempt in range(6):
        clinic_file = tmp_path / f"clinic-{attempt}.sqlite3"
        laptop_file = tmp_path / f"laptop-{attempt}.sqlite3"
        shutil.copy(pristine, clinic_file)
        shutil.copy(laptop_pristine, laptop_file)
        with subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(clinic_file), str(laptop_file), PASSWORD],
            stdout=subprocess.PIPE,
            text=True,
        ) as child:
            assert child.stdout is not None and child.stdout.readline().strip() == "signed in"
            time.sleep(chance.uniform(0.0, 0.3))
            child.send_signal(signal.SIGKILL)
            child.wait()
        state = _state(clinic_file)
        assert state in (before, after)
        seen.add("after" if state == after else "before")
    assert "before" in seen  # at least one kill landed inside the check-in
