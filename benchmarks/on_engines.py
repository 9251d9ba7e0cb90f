"""What the benchmarks share to measure the record on SQLite and on a PostgreSQL server.

``--engine sqlite|postgresql|both`` (default: both when a throwaway server can be started,
else SQLite with one line saying why). The server is tests/pg_server.py's: it listens on a
Unix socket only, so its figures hide network latency. Every figure on the server is
therefore printed with its round trips and an estimate of what each round trip would add on
a network (``--rtt-ms``, 1 ms by default), labelled as an estimate.

The floor replays the very statements the app sent (as the driver received them, values
bound) straight through the driver on the same connection, with no app logic.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinic_app.storage.copy import copy_record
from clinic_app.storage.database import Record, ServerAddress, open_database

# tests/pg_server.py is not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.pg_server import PgServer, PgServerError

ENGINES = ("sqlite", "postgresql", "both")


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="where the record lives (default: both when a PostgreSQL server can be started)",
    )
    parser.add_argument(
        "--rtt-ms",
        type=float,
        default=1.0,
        help="network latency per round trip for the server estimate (default 1 ms)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (the median)")


class Engines:
    """The engines chosen, and the throwaway server when one is needed."""

    def __init__(self, choice: str | None) -> None:
        self.server: PgServer | None = None
        self.names: list[str] = ["sqlite"]
        if choice == "sqlite":
            return
        try:
            self.server = PgServer.start()
        except PgServerError as exc:
            if choice is not None:
                raise SystemExit(f"No PostgreSQL server could be started: {exc}") from exc
            reason = str(exc).strip().splitlines()[0]
            print(f"engine: SQLite only, no PostgreSQL server could be started ({reason})")
            return
        self.names = ["postgresql"] if choice == "postgresql" else ["sqlite", "postgresql"]

    def server_copy(self, sqlite_file: Path, name: str) -> ServerAddress:
        """A new server database holding a copy of ``sqlite_file`` (rows, ids, audit trail)."""
        assert self.server is not None
        address = ServerAddress(self.server.create_database(name))
        started = time.perf_counter()
        with open_database(sqlite_file) as source, open_database(address) as target:
            report = copy_record(source, target)
            # Fresh statistics, as autovacuum gathers within a minute of a copy: without them
            # the planner guesses, and the list's joins take several times as long.
            target.sql.conn.execute(b"ANALYZE")  # type: ignore[attr-defined]
        print(
            f"server record: {report.total_rows} rows and {report.audit_entries} audit entries "
            f"copied from {sqlite_file.name} and analysed in {time.perf_counter() - started:.1f} s "
            "(PostgreSQL over a Unix socket on this machine)"
        )
        return address

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def __enter__(self) -> Engines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Capture:
    """The statements one call sent, as the driver received them, and its round trips."""

    statements: list[tuple[str | bytes, Any]] = field(default_factory=list)
    round_trips: int = 0
    """Every message exchange with the server: the statements plus the transaction's own
    BEGIN/ROLLBACK and anything else the engine sends past ``Engine.execute``."""


@contextmanager
def capturing(record: Record) -> Iterator[Capture]:
    """Record what the driver is asked to run while the block runs (the figures are taken in
    other runs, without this wrapper)."""
    capture = Capture()
    conn: Any = record.sql.conn  # type: ignore[attr-defined]
    if record.sql.kind == "postgresql":
        plain = conn.execute

        def spy(query: str | bytes, params: Any = None, **kwargs: Any) -> Any:
            capture.round_trips += 1
            if params is not None:  # the engine's statements; BEGIN and COMMIT have none
                capture.statements.append((query, params))
            return plain(query, params, **kwargs)

        conn.execute = spy
        try:
            yield capture
        finally:
            del conn.execute
        return
    # sqlite3's connection cannot be wrapped; the engine's method can (same statements).
    engine: Any = record.sql
    plain_engine = engine.execute

    def spy_engine(sql: str, params: Any = ()) -> Any:
        capture.statements.append((sql, params if isinstance(params, dict) else list(params)))
        return plain_engine(sql, params)

    engine.execute = spy_engine
    try:
        yield capture
    finally:
        del engine.execute
        capture.round_trips = len(capture.statements)  # no network: informative only


def floor_seconds(record: Record, capture: Capture) -> float:
    """The captured statements fetched raw through the driver on the same connection (for
    reads: a captured write would be written again)."""
    conn: Any = record.sql.conn  # type: ignore[attr-defined]
    started = time.perf_counter()
    for sql, params in capture.statements:
        conn.execute(sql, params).fetchall()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Figures:
    app_s: float
    floor_s: float
    statements: int
    round_trips: int
    floor_round_trips: int


def measure(record: Record, run: Callable[[], object], repeat: int) -> Figures:
    """Median app time over ``repeat`` runs (after one warm-up run), the statements one run
    sends (``record.sql.statements``), its round trips and the raw floor of the same SQL."""
    run()  # warms the page cache, the server's buffers and the placeholder cache
    times = []
    counts = []
    for _ in range(max(1, repeat)):
        before = record.sql.statements
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
        counts.append(record.sql.statements - before)
    with capturing(record) as capture:
        run()
    floors = [floor_seconds(record, capture) for _ in range(max(1, repeat))]
    return Figures(
        statistics.median(times),
        statistics.median(floors),
        counts[-1],
        capture.round_trips,
        len(capture.statements),
    )


def ms(seconds: float) -> str:
    """Milliseconds, with a decimal below 10 ms (a chart load is a few)."""
    value = seconds * 1000
    return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


def report(label: str, figures: Figures, engine: str, rtt_ms: float, goal: str = "") -> None:
    """Print the floor, the ratio and the statements; on a server the network estimate."""
    f = figures
    ratio = f.app_s / f.floor_s if f.floor_s else float("inf")
    goal_text = f" ({goal})" if goal else ""
    print(
        f"floor, the same {f.floor_round_trips} SQL statements fetched raw: "
        f"{ms(f.floor_s)}; ratio {label} / floor: {ratio:.2f}{goal_text}"
    )
    if engine != "postgresql":
        print(f"statements per {label}: {f.statements}")
        return
    app_net = f.app_s + f.round_trips * rtt_ms / 1000
    floor_net = f.floor_s + f.floor_round_trips * rtt_ms / 1000
    print(
        f"statements per {label}: {f.statements}; round trips to the server: {f.round_trips} "
        "(statements and transaction control)"
    )
    print(
        f"estimate, not measured: at {rtt_ms:g} ms per round trip {label} +"
        f"{f.round_trips * rtt_ms:.0f} ms = {ms(app_net)}, floor +"
        f"{f.floor_round_trips * rtt_ms:.0f} ms = {ms(floor_net)}, ratio "
        f"{app_net / floor_net:.2f}"
    )


def median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def first_patient_with_cycles(record: Record, at_least: int) -> tuple[int, int]:
    """(patient id, cycles of the latest enrolment): the first patient with at least
    ``at_least`` cycles, else the one with the most."""
    rows: Sequence[Any] = record.sql.execute(
        "SELECT e.patient_id, count(*) FROM cycles c JOIN enrolments e ON e.id = c.enrolment_id "
        "WHERE c.voided_at IS NULL AND e.id = (SELECT max(id) FROM enrolments x "
        "WHERE x.patient_id = e.patient_id) GROUP BY e.patient_id "
        "ORDER BY count(*) >= ? DESC, e.patient_id",
        [at_least],
    ).fetchall()
    if not rows:
        raise SystemExit("The record has no patient with cycles: build a larger demo record.")
    enough = [r for r in rows if int(r[1]) >= at_least]
    best = enough[0] if enough else max(rows, key=lambda r: int(r[1]))
    return int(best[0]), int(best[1])
