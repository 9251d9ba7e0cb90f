"""SIGKILL a writer mid-stream; every write it reported committed must survive, intact."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clinic_app.storage.backup import check
from clinic_app.storage.database import open_database

WRITER = Path(__file__).with_name("writer_process.py")
ROUNDS = 20


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_killed_writer_loses_no_committed_write(tmp_path: Path) -> None:
    rng = random.Random(20260105)
    db_path = tmp_path / "crash.sqlite3"
    open_database(db_path).close()
    reported: set[int] = set()
    for _ in range(ROUNDS):
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(db_path), "CRASH-1", "100000"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        for _ in range(rng.randint(1, 15)):
            line = proc.stdout.readline()
            assert line, "writer died before it was killed"
            reported.add(int(line))
        time.sleep(rng.uniform(0, 0.02))  # land the kill at a random point of a transaction
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        reported.update(int(line) for line in proc.stdout.read().split())
        proc.stdout.close()

        with open_database(db_path) as rec:
            assert check(rec) == []  # integrity_check ok, no foreign-key orphans, schema whole
            labs = {int(r[0]) for r in rec.sql.execute("SELECT id FROM labs").fetchall()}
            assert reported <= labs
            # Atomicity: every lab has the adverse event written in the same transaction.
            notes = {int(r[0]) for r in rec.sql.execute("SELECT notes FROM adverse_events")}
            assert notes == labs
            assert rec.sql.execute("SELECT count(*) FROM audit_actor").fetchone()[0] == 0
