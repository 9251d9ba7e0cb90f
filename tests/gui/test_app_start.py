"""The real start (``clinic-app --db PATH`` through ``cli.main`` and ``run_app``) in its own
process: after the names' paint the log, the context, the idle lock, the wheel guard, the
change watch and the daily backup are all in place, and quitting exits cleanly (issue 16
moved them after the first paint; none may be lost on the way)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from clinic_app.core.records import Patient, Sex
from clinic_app.storage.database import open_database

# The first-account offer waits for a person, so it is skipped: the record stays in open mode.
# Everything else is the app's own start; the child reports what it finds once the list with
# its checks is in the window, then quits as File > Quit does.
CHILD = """
import json, logging, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from clinic_app import cli
import clinic_app.gui.app as gui_app
from clinic_app.gui.wheel_guard import WheelGuard
from clinic_app.storage.backup import backup_folder

gui_app.ensure_signed_in = lambda record, parent=None: True
attach = gui_app.MainWindow.attach
seen = {}

def report(window):
    if window.loading or not window.backups_done():
        QTimer.singleShot(50, lambda: report(window))
        return
    app = QApplication.instance()
    handlers = logging.getLogger("clinic_app").handlers
    seen.update(
        rows=window.patient_list.model.rowCount(),
        status=window.patient_list.model.index(0, 6).data(),
        session=window.session is not None,
        guard=app.findChild(WheelGuard) is not None,
        watching=window._watch_wanted,
        log=[getattr(h, "baseFilename", "") for h in handlers],
        backups=sorted(p.name for p in backup_folder(window.record).glob("*.sqlite3")),
    )
    print(json.dumps(seen), flush=True)
    window.close()

def attach_then_report(self, context):
    attach(self, context)
    seen["names_before_context"] = self.patient_list.model.rowCount()
    report(self)

gui_app.MainWindow.attach = attach_then_report
gui_app.MainWindow.backups_done = lambda self: any(
    backup_folder(self.record).glob("*-daily-*.sqlite3")
)
sys.exit(cli.main(["--db", sys.argv[1]]))
"""


def test_the_app_starts_on_a_record_with_everything_after_the_paint_in_place(
    tmp_path: Path,
) -> None:
    db = tmp_path / "clinic.sqlite3"
    with open_database(db) as record:
        record.repos.patients.add(Patient("M-1", "Berg", "Ana", date(1960, 1, 1), Sex.FEMALE))
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "CLINIC_APP_CONFIG": str(tmp_path / "settings.json"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["names_before_context"] == 1  # the names were listed before the context
    assert seen["rows"] == 1 and seen["status"] == "not enrolled"  # then the checks
    assert seen["session"] and seen["guard"] and seen["watching"]
    assert seen["log"] == [str(tmp_path / "data" / "clinic-app" / "logs" / "clinic-app.log")]
    assert len(seen["backups"]) == 1 and "-daily-" in seen["backups"][0]


# A person reads the message and presses OK; the child says what the box said.
DAMAGED_CHILD = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from clinic_app import cli
import clinic_app.gui.app as gui_app

gui_app.ensure_signed_in = lambda record, parent=None: True
painted = gui_app.MainWindow.after_names_painted

def read_and_close():
    box = QApplication.activeModalWidget()
    if not isinstance(box, QMessageBox):
        QTimer.singleShot(50, read_and_close)
        return
    print(box.windowTitle(), "|", box.text(), flush=True)
    box.accept()

def after_names_painted(self, work):
    QTimer.singleShot(0, read_and_close)
    painted(self, work)

gui_app.MainWindow.after_names_painted = after_names_painted
sys.exit(cli.main(["--db", sys.argv[1]]))
"""


def test_a_damaged_clinic_setting_is_said_over_the_names_and_the_app_exits(
    tmp_path: Path,
) -> None:
    # A setting another tool wrote as a number, not as text: nothing may be dosed from it.
    db = tmp_path / "clinic.sqlite3"
    with open_database(db) as record:
        record.repos.patients.add(Patient("M-1", "Berg", "Ana", date(1960, 1, 1), Sex.FEMALE))
        record.repos.settings.set("dosing.weight_change_pct", 7, reason="another tool")
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "CLINIC_APP_CONFIG": str(tmp_path / "settings.json"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-c", DAMAGED_CHILD, str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2, done.stderr
    title, text = done.stdout.strip().splitlines()[-1].split(" | ", 1)
    assert title == "A protocol or clinic setting is damaged"
    assert text == (
        "The clinic setting \u201cWeight change that asks for a new BSA (%)\u201d: "
        "dosing.weight_change_pct: is stored as 7, not as a number written as text; an "
        "administrator can set it again with clinic-app settings set dosing.weight_change_pct VALUE"
    )
    backups = tmp_path / "backups"
    assert not backups.exists() or not any(backups.glob("*-daily-*"))  # no session began
