"""Take a picture of the real main window: ``python -m clinic_app.gui.screenshot --db X -o Y``.

Used by the screenshot test under Xvfb and to refresh ``docs/screenshots/main-window.png``.
With ``--demo N`` an empty record is first filled with N demonstration patients.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from clinic_app.gui import fit
from clinic_app.gui.app import application
from clinic_app.gui.main_window import MainWindow, _demo_function
from clinic_app.storage.database import open_database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--demo", type=int, default=0)
    parser.add_argument("--today", default=None, help="YYYY-MM-DD (default: today)")
    parser.add_argument("--size", default="1360x860")
    args = parser.parse_args(argv)
    app = application()
    today = date.fromisoformat(args.today) if args.today else date.today()
    with open_database(args.db) as record:
        if args.demo and not record.repos.patients.all():
            create = _demo_function()
            if create is None:
                print("no demonstration data in this build", file=sys.stderr)
                return 2
            create(record, patients=args.demo, seed=1, today=today)
        # A throw-away settings file: a picture must not depend on, or change, the user's.
        settings_dir = tempfile.mkdtemp(prefix="clinic-app-shot-")
        settings = QSettings(str(Path(settings_dir) / "settings.ini"), QSettings.Format.IniFormat)
        # The record's own context (its settings applied), as the app opens it.
        window = MainWindow(record, today=lambda: today, settings=settings)
        width, height = (int(v) for v in args.size.split("x"))
        window.resize(width, height)
        window.show()
        while window.loading:  # the list loads in the background
            QApplication.processEvents()
            time.sleep(0.01)
        rows = window.patient_list.proxy.rowCount()
        if rows:
            # Chosen as a person chooses it (the row, then Enter): a current row alone opens
            # no chart (issue 14).
            table = window.patient_list.table
            index = window.patient_list.proxy.index(min(2, rows - 1), 0)
            table.setCurrentIndex(index)
            table.chosen.emit(index)
        ok: list[bool] = []

        def shoot() -> None:
            screen = fit.screen_of(window)
            picture = screen.grabWindow(window.winId())
            if picture.isNull() or picture.width() < 10:
                picture = window.grab()
            ok.append(picture.save(args.output))
            QApplication.quit()

        QTimer.singleShot(1500, shoot)
        app.exec()
        window.close()
    return 0 if ok and ok[0] else 1


if __name__ == "__main__":
    sys.exit(main())
