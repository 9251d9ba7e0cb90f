"""Patient list on a large demo record: time to first paint and per-keystroke filter time.

    .venv/bin/python benchmarks/bench_patient_list.py [--patients 10000] [--db PATH]
        [--engine sqlite|postgresql|both] [--rtt-ms 1] [--repeat 3]

The demo database is built once (reused if ``--db`` already holds patients). With a server
(``--engine``, see on_engines.py) the same record is copied onto a throwaway PostgreSQL
database and measured the same way, with its round trips and a network estimate. Prints
figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from on_engines import Engines, add_options, measure, report
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from clinic_app.core.protocol import Protocol
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.gui.main_window import MainWindow
from clinic_app.services.demo import generate_demo
from clinic_app.services.patient_state import list_patient_rows
from clinic_app.storage.database import Record, RecordLocation, open_database

TODAY = date(2025, 6, 2)


def build(db: Path, patients: int, protocols: dict[str, Protocol]) -> None:
    with open_database(db) as record:
        if not record.repos.patients.all():
            started = time.perf_counter()
            generate_demo(record, patients=patients, seed=1, today=TODAY, protocols=protocols)
            print(f"demo database: {patients} patients in {time.perf_counter() - started:.1f} s")


def list_figures(
    record: Record, protocols: dict[str, Protocol], engine: str, args: argparse.Namespace
) -> None:
    rows = list_patient_rows(record, TODAY, protocols)
    figures = measure(record, lambda: list_patient_rows(record, TODAY, protocols), args.repeat)
    print(
        f"list_patient_rows: {len(rows)} rows in {figures.app_s * 1000:.0f} ms "
        f"(median of {args.repeat})"
    )
    report("list load", figures, engine, args.rtt_ms, "goal: at most 3")


def window_figures(
    app: QApplication,
    record: Record,
    protocols: dict[str, Protocol],
    folder: Path,
    engine: str,
) -> None:
    settings = QSettings(str(folder / f"settings-{engine}.ini"), QSettings.Format.IniFormat)
    started = time.perf_counter()
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=settings)
    window.resize(1360, 860)
    window.show()
    window.grab()  # forces the first paint of the window
    app.processEvents()
    first_paint = time.perf_counter() - started
    print(f"time to first paint (window built and painted): {first_paint * 1000:.0f} ms")
    while window.loading:  # the rows arrive from a background thread
        app.processEvents()
        time.sleep(0.005)
    window.patient_list.table.viewport().grab()
    filled = time.perf_counter() - started
    print(f"time until the list is filled (background load): {filled * 1000:.0f} ms")
    print(f"ratio of first paint to list load: {first_paint / filled:.2f}")
    print(f"rows handed to the view at first paint: {window.patient_list.model.rowCount()}")

    edit = window.patient_list.filter_edit
    timings: list[float] = []
    for text in ("D", "DE", "DEM", "DEMO", "DEMO-0", "DEMO-00", "DEMO-001", "", "m", "mü"):
        started = time.perf_counter()
        edit.setText(text)
        window.patient_list.table.viewport().grab()
        timings.append(time.perf_counter() - started)
    first, rest = timings[0], timings[1:]
    print(f"first keystroke (fetches all rows into the proxy): {first * 1000:.0f} ms")
    print(
        f"later keystrokes: median {statistics.median(rest) * 1000:.0f} ms, "
        f"max {max(rest) * 1000:.0f} ms over {len(rest)}"
    )
    window.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--db", default=None)
    add_options(parser)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-list-"))
    db = Path(args.db) if args.db else folder / "demo.sqlite3"
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    protocols = load_protocols()
    build(db, args.patients, protocols)
    with Engines(args.engine) as engines:
        for engine in engines.names:
            where: RecordLocation = db
            if engine == "postgresql":
                where = engines.server_copy(db, "bench_list")
            print(f"-- {engine}: {where}")
            with open_database(where) as record:
                list_figures(record, protocols, engine, args)
                window_figures(app, record, protocols, folder, engine)


if __name__ == "__main__":
    main()
