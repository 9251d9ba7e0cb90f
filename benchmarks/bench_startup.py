"""Cold start: the app's main window painted on the demo record, beside a bare QMainWindow.

    .venv/bin/python benchmarks/bench_startup.py [--runs 5] [--db PATH]

Each figure is the wall time from starting a fresh Python process to a paint, the median of
``--runs`` runs: the window's first paint (the list still loading on its background thread) and
the paint once the record's patient list is in the window, the first screen a nurse can use
(the goal's figure; an empty list stops the benchmark). The floor is the same libraries doing
the same work with no app logic: a PySide6 ``QMainWindow`` of the same size, shown and
painted. The app's figures go through the real entry point (``clinic_app.cli.main``), so they
include every import the app makes before its window is up. Both run from compiled bytecode,
as an installed app does (pip compiles it): ``PYTHONDONTWRITEBYTECODE`` is dropped for the
children and their cache goes to a temporary folder (``PYTHONPYCACHEPREFIX``), filled by the
warm-up run, never the checkout. Runs alternate (bare, app) so a slow spell on a shared machine
falls on both. Prints figures and the ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = """
import sys
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
window = QMainWindow()
window.resize(1360, 860)
window.show()
window.grab()
app.processEvents()
print("painted", flush=True)
"""

# The real entry point; the additions report the first paint, then the paint once the record's
# patient list has loaded into the window (the first screen a nurse can use), and quit. They skip
# the dialog that offers to create the first account (it waits for a person; the record stays in
# open mode).
APP = """
import sys
from clinic_app import cli
import clinic_app.gui.app as gui_app
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

shown = gui_app.MainWindow.show
loaded = gui_app.MainWindow._loaded

def show_then_report(self):
    shown(self)
    self.grab()
    QApplication.processEvents()
    print("painted", flush=True)

def load_then_quit(self, rows, items):
    loaded(self, rows, items)
    self.grab()
    QApplication.processEvents()
    print("listed" if self.patient_list.model.rowCount() else "empty list", flush=True)
    QTimer.singleShot(0, QApplication.quit)

gui_app.MainWindow.show = show_then_report
gui_app.MainWindow._loaded = load_then_quit
gui_app.ensure_signed_in = lambda record, parent=None: True
sys.exit(cli.main(["--db", sys.argv[1]]))
"""


def time_to_paint(code: str, *args: str, env: dict[str, str]) -> float:
    return times_to(code, ("painted",), *args, env=env)[0]


def times_to(code: str, marks: tuple[str, ...], *args: str, env: dict[str, str]) -> list[float]:
    """Seconds from starting the child to each of its ``marks`` lines, in order."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    times: list[float] = []
    for line in child.stdout:
        if line.strip() == marks[len(times)]:
            times.append(time.perf_counter() - started)
            if len(times) == len(marks):
                break
        elif line.strip() == "empty list":
            raise SystemExit("the record's patient list was empty: not the window measured")
    else:
        raise SystemExit(f"the child exited ({child.wait()}) before {marks[len(times)]!r}")
    child.wait()
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", default=None, help="a record to open (default: a 40-patient demo)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-start-"))
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "CLINIC_APP_CONFIG": str(folder / "settings.json"),
        "XDG_CONFIG_HOME": str(folder / "config"),
        "PYTHONPYCACHEPREFIX": str(folder / "pycache"),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    db = args.db
    if db is None:
        db = str(folder / "demo.sqlite3")
        subprocess.run(
            [sys.executable, "-m", "clinic_app.cli", "demo", "--db", db, "--seed", "1"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    extras = [m for m in ("pandas", "lifelines", "pytest") if importlib.util.find_spec(m)]
    print(f"python: {sys.executable}")
    print(f"test tools in this environment: {', '.join(extras) or 'none'}")
    marks = ("painted", "listed")
    time_to_paint(BARE, env=env)  # warm the file cache once for both
    times_to(APP, marks, db, env=env)
    # Alternating runs: on a shared machine a slow spell then falls on both.
    bare: list[float] = []
    painted: list[float] = []
    listed: list[float] = []
    for _ in range(args.runs):
        bare.append(time_to_paint(BARE, env=env))
        first, full = times_to(APP, marks, db, env=env)
        painted.append(first)
        listed.append(full)
    floor = statistics.median(bare)
    ours, usable = statistics.median(painted), statistics.median(listed)
    runs = f"median of {args.runs}"
    print(f"bare QMainWindow, process start to first paint:  {floor * 1000:.0f} ms ({runs})")
    print(f"clinic-app main window, first paint (loading):  {ours * 1000:.0f} ms ({runs})")
    print(f"clinic-app main window, patient list painted:   {usable * 1000:.0f} ms ({runs})")
    print(f"ratio first paint / floor: {ours / floor:.2f}")
    print(f"ratio patient list / floor: {usable / floor:.2f} (goal: at most 2)")


if __name__ == "__main__":
    main()
