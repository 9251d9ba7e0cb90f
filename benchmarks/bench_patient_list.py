"""Patient list on a large demo record: time to first paint and per-keystroke filter time.

    .venv/bin/python benchmarks/bench_patient_list.py [--patients 10000] [--db PATH]

The demo database is built once (reused if ``--db`` already holds patients). Prints figures;
asserts nothing about time.
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

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from clinic_app.core.protocol_loader import load_protocols
from clinic_app.gui.main_window import MainWindow
from clinic_app.services.demo import generate_demo
from clinic_app.services.patient_state import list_patient_rows
from clinic_app.storage.database import open_database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-list-"))
    db = Path(args.db) if args.db else folder / "demo.sqlite3"
    app = QApplication.instance() or QApplication([])
    today = date(2025, 6, 2)
    protocols = load_protocols()
    with open_database(db) as record:
        if not record.repos.patients.all():
            started = time.perf_counter()
            generate_demo(record, patients=args.patients, seed=1, today=today, protocols=protocols)
            print(
                f"demo database: {args.patients} patients in {time.perf_counter() - started:.1f} s"
            )
        list_patient_rows(record, today, protocols)  # warm the page cache for both figures
        statements: list[str] = []
        record.db.conn.set_trace_callback(statements.append)
        started = time.perf_counter()
        rows = list_patient_rows(record, today, protocols)
        load_s = time.perf_counter() - started
        record.db.conn.set_trace_callback(None)
        print(f"list_patient_rows: {len(rows)} rows in {load_s * 1000:.0f} ms")
        # The floor: the very statements the list ran (values bound), fetched with sqlite3
        # and no app logic at all.
        started = time.perf_counter()
        for sql in statements:
            record.db.conn.execute(sql).fetchall()
        floor_s = time.perf_counter() - started
        print(
            f"floor, the same {len(statements)} SQL statements fetched raw: "
            f"{floor_s * 1000:.0f} ms; ratio list / floor: {load_s / floor_s:.2f} (goal: at most 3)"
        )

        settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
        started = time.perf_counter()
        window = MainWindow(record, protocols, today=lambda: today, settings=settings)
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


if __name__ == "__main__":
    main()
