"""Cold start: the app's main window painted on the demo record, beside a bare QMainWindow.

    .venv/bin/python benchmarks/bench_startup.py [--runs 5] [--db PATH]

Each figure is the wall time from starting a fresh Python process to a paint, the median of
``--runs`` runs: the window's first paint (the list still loading on its background thread) and
the paint once the record's patient list is in the window, the first screen a nurse can use
(the goal's figure; an empty list stops the benchmark). The floor is the same libraries doing
the same work with no app logic: a PySide6 ``QMainWindow`` of the same size, shown and
painted. A second floor builds the same screen in plain Qt (the menus, find box, tabs and a
table of the record's names read by one query, with Qt's own item model): what Qt itself
costs for what the window shows, so the ratio to it is the app's own work. All report from a
paintEvent in the event loop. Another child only imports what the
app imports before its window exists (PySide6 included), which shows how much of the start is
Python building the app's modules before anything is drawn. The app's figures go through the
real entry point (``clinic_app.cli.main``, its modules imported in ``launch_gui``'s order), so
they include every import the app makes before its window is up. Both run from compiled bytecode,
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

# Each side reports a paint from the widget's own paintEvent, inside the event loop: what the
# screen gets, with no extra rendering (grab) of either window.
BARE = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])

class Window(QMainWindow):
    def paintEvent(self, event):
        super().paintEvent(event)
        print("painted", flush=True)
        QTimer.singleShot(0, app.quit)

window = Window()
window.resize(1360, 860)
window.show()
app.exec()
"""

# The same screen with no app logic: the window's widgets (menus, find box, tabs, a table of
# the record's names read by one query, the right-hand page, the status bar), built the plain
# way with Qt's own item model, reporting the table's paint once it holds the names. What Qt
# itself costs for that screen (its namespace's enums, the font database for text, the table's
# layout), which the bare window never pays; the gap above it is the app's own work.
SCREEN = """
import sqlite3
import sys
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView, QApplication, QLabel, QLineEdit, QMainWindow, QSplitter,
    QStackedWidget, QTableView, QTabWidget, QVBoxLayout, QWidget,
)
app = QApplication(sys.argv[:1])

class Table(QTableView):
    def paintEvent(self, event):
        super().paintEvent(event)
        if self.model().rowCount():
            print("painted", flush=True)
            QTimer.singleShot(0, app.quit)

window = QMainWindow()
for title, count in (("&File", 11), ("&View", 5), ("&Patient", 8), ("&Help", 3)):
    menu = window.menuBar().addMenu(title)
    for number in range(count):
        menu.addAction(f"Item {number}")
pane = QWidget()
layout = QVBoxLayout(pane)
layout.addWidget(QLineEdit(placeholderText="Find by name or MRN"))
layout.addWidget(QLabel("patients"))
model = QStandardItemModel(0, 8)
model.setHorizontalHeaderLabels(
    ["MRN", "Name", "Born", "Protocol", "Phase", "Cycle", "Status", "Flags"]
)
with sqlite3.connect(sys.argv[1]) as db:
    for mrn, family, given, born in db.execute(
        "SELECT mrn, family_name, given_name, date_of_birth FROM patients "
        "WHERE voided_at IS NULL ORDER BY family_name, given_name, id"
    ):
        model.appendRow([QStandardItem(mrn), QStandardItem(f"{family}, {given}"),
                         QStandardItem(born)])
table = Table()
table.setModel(model)
table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
table.verticalHeader().setVisible(False)
table.resizeColumnsToContents()
layout.addWidget(table)
tabs = QTabWidget()
tabs.addTab(pane, "&Patients")
tabs.addTab(QTableView(), "&Today")
right = QStackedWidget()
right.addWidget(QLabel("Choose a patient in the list to see their chart."))
splitter = QSplitter(Qt.Orientation.Horizontal)
splitter.addWidget(tabs)
splitter.addWidget(right)
window.setCentralWidget(splitter)
window.statusBar().addPermanentWidget(QLabel("Database"), 1)
window.resize(1360, 860)
window.show()
app.exec()
"""

# What the app imports before its window exists, in the same order, and nothing else: the
# part of the start that is Python building the app's modules (the clinical rules the list's
# rows are computed with, the window's classes), shown beside the other two figures.
IMPORTS = """
import importlib
from clinic_app import cli
for name in cli.QT_FREE_START_MODULES:
    importlib.import_module(name)
import clinic_app.gui.app
print("imported", flush=True)
"""

# The real entry point, imported in the order ``cli.launch_gui`` imports it (the Qt-free
# layers, then the GUI); the additions report the patient table's first paint (the list still
# loading) and its first paint with the record's patients in it (the first screen a nurse can
# use), then quit. What the window does after that paint (building the chart) is not counted:
# the nurse already sees the list. They skip the dialog that offers to create the first account
# (it waits for a person; the record stays in open mode).
APP = """
import importlib
import sys
from clinic_app import cli
for name in cli.QT_FREE_START_MODULES:
    importlib.import_module(name)
import clinic_app.gui.app as gui_app
from clinic_app.gui.choosing import ChoosingTable
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

painted = ChoosingTable.paintEvent
loaded = gui_app.MainWindow._loaded
said = set()

def say(mark):
    if mark not in said:
        said.add(mark)
        print(mark, flush=True)

def paint_then_report(self, event):
    painted(self, event)
    if self.objectName() != "patient_table":
        return
    say("painted")
    if self.model().rowCount():
        say("listed")
        if "loaded" in said:
            say("checked")
            QTimer.singleShot(0, QApplication.quit)

def load_then_check(self, rows, items):
    loaded(self, rows, items)
    said.add("loaded")
    if not self.patient_list.model.rowCount():
        print("empty list", flush=True)
        QApplication.quit()

ChoosingTable.paintEvent = paint_then_report
gui_app.MainWindow._loaded = load_then_check
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
    marks = ("painted", "listed", "checked")
    time_to_paint(BARE, env=env)  # warm the file cache once for both
    times_to(APP, marks, db, env=env)
    # Alternating runs: on a shared machine a slow spell then falls on both.
    bare: list[float] = []
    screen: list[float] = []
    imported: list[float] = []
    painted: list[float] = []
    listed: list[float] = []
    checked: list[float] = []
    for _ in range(args.runs):
        bare.append(time_to_paint(BARE, env=env))
        screen.append(time_to_paint(SCREEN, db, env=env))
        imported.append(times_to(IMPORTS, ("imported",), env=env)[0])
        first, names, rows = times_to(APP, marks, db, env=env)
        painted.append(first)
        listed.append(names)
        checked.append(rows)
    floor = statistics.median(bare)
    same = statistics.median(screen)
    modules = statistics.median(imported)
    ours, usable = statistics.median(painted), statistics.median(listed)
    complete = statistics.median(checked)
    runs = f"median of {args.runs}"
    print(f"bare QMainWindow, process start to first paint:  {floor * 1000:.0f} ms ({runs})")
    print(f"the same screen in plain Qt, names listed:      {same * 1000:.0f} ms ({runs})")
    print(f"clinic-app's modules imported, nothing shown:   {modules * 1000:.0f} ms ({runs})")
    print(f"clinic-app main window, first paint (loading):  {ours * 1000:.0f} ms ({runs})")
    print(f"clinic-app main window, patients listed:        {usable * 1000:.0f} ms ({runs})")
    print(f"clinic-app main window, list with its checks:   {complete * 1000:.0f} ms ({runs})")
    print(f"ratio imports alone / floor: {modules / floor:.2f}")
    print(f"ratio first paint / floor: {ours / floor:.2f}")
    print(f"ratio patients listed / floor: {usable / floor:.2f} (goal: at most 2)")
    print(f"ratio list with its checks / floor: {complete / floor:.2f}")
    print(f"ratio patients listed / the same screen in plain Qt: {usable / same:.2f}")


if __name__ == "__main__":
    main()
