"""How long a refused sign-in takes: a known user with a wrong password, and an unknown name.

    .venv/bin/python benchmarks/bench_sign_in.py [--runs 20]

An unknown username is checked against a dummy Argon2id hash (issue 15, item 5), so the two
refusals should take about as long; a large gap would let someone probe which names exist.
Each try is a fresh account (so the sign-in delay never starts). Prints medians and their
ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

from clinic_app.storage.database import open_database
from clinic_app.storage.users import SignInRefused


def refuse_time(record_path: Path, name: str) -> float:
    with open_database(record_path) as rec:
        started = time.perf_counter()
        with contextlib.suppress(SignInRefused):
            rec.repos.users.authenticate(name, "a wrong guess 123")
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        with open_database(path) as rec:
            rec.repos.users.create_first_administrator("admin", "Ada Admin", "admin password 1")
        refuse_time(path, "warm-up")  # the dummy hash is made once per process
        known, unknown = [], []
        for n in range(runs):
            # Reset the failure count so every try is checked, not told to wait.
            with (
                open_database(path) as rec,
                rec.transaction(reason="benchmark reset"),
            ):
                rec.db.conn.execute(
                    "UPDATE users SET failed_attempts = 0, locked_until = NULL, "
                    "version = version + 1 WHERE username = 'admin'"
                )
            known.append(refuse_time(path, "admin"))
            unknown.append(refuse_time(path, f"nobody-{n}"))
    k, u = statistics.median(known), statistics.median(unknown)
    print(f"wrong password, known user : {k * 1000:7.1f} ms (median of {runs})")
    print(f"unknown username           : {u * 1000:7.1f} ms (median of {runs})")
    print(f"ratio unknown / known      : {u / k:7.2f}")


if __name__ == "__main__":
    main()
