"""Regenerate the guide screenshots in docs/screenshots/guide/ from the REAL app.

Run under Xvfb (``make screenshots``): it builds a demo record in a temporary folder (40
fictitious patients, fixed date, fixed seed), sets the clinic's name and phone, opens the real
windows and dialogs on it and saves one PNG per screen. Screens that are not part of this
build yet are skipped with a note. Nothing touches the user's record or settings.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QWidget

from clinic_app.core.protocol_loader import load_protocols
from clinic_app.gui.app import application
from clinic_app.services.demo import generate_demo
from clinic_app.storage.database import Record, open_database

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "guide"
TODAY = date(2025, 3, 3)
SEED = 2
ONLY = set(sys.argv[1:])
"""Screens named on the command line (``"check out"``): only those are taken (the main
window only then too); none named: every one."""


def settle(seconds: float = 0.6) -> None:
    app = QApplication.instance()
    assert app is not None
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def save(widget: QWidget, name: str) -> None:
    widget.show()
    widget.raise_()
    settle()
    target = OUT / name
    if not widget.grab().save(str(target)):
        raise SystemExit(f"make_screenshots: cannot write {target}")
    print(f"wrote {target}")


def shoot(name: str, make: Callable[[], None]) -> None:
    try:
        make()
    except Exception as exc:  # a screen another engineer has not finished yet
        print(f"skipped {name}: {type(exc).__name__}: {exc}", file=sys.stderr)


def main() -> int:
    application()
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="clinic-app-guide-"))
    config = work / "settings.json"
    with open_database(work / "demo.sqlite3") as record:
        # Seed 2: seed 1 with 40 patients currently gives a 3+3 record the board refuses (reported).
        generate_demo(record, patients=40, seed=SEED, today=TODAY)
        # The demo record names a fictitious clinic (555-0100) itself, as a newcomer sees it.
        take_all(record, config, work)
    return 0


def take_all(record: Record, config: Path, work: Path) -> None:
    from clinic_app.gui.main_window import MainWindow

    protocols = load_protocols()
    qsettings = QSettings(str(work / "window.ini"), QSettings.Format.IniFormat)
    window = MainWindow(record, protocols, today=lambda: TODAY, settings=qsettings)
    window.resize(1360, 860)
    window.show()
    while window.loading:
        settle(0.05)
    proxy = window.patient_list.proxy
    if proxy.rowCount():
        # Chosen as a person chooses: the row, then Enter (a current row alone opens nothing).
        table = window.patient_list.table
        index = proxy.index(min(2, proxy.rowCount() - 1), 0)
        table.setCurrentIndex(index)
        table.chosen.emit(index)
        settle(1.0)
    if not ONLY:
        save(window, "main-window.png")

    def patient_id() -> int:
        pid = getattr(window, "current_patient_id", None)
        if isinstance(pid, int):
            return pid
        return int(record.db.execute("SELECT min(id) FROM patients").fetchone()[0])

    def lab_entry() -> None:
        from clinic_app.gui.lab_entry import LabEntryDialog

        dialog = LabEntryDialog(
            record, patient_id(), window, now=lambda: datetime(2025, 3, 3, 8, 30).astimezone()
        )
        dialog.resize(900, 760)
        save(dialog, "lab-entry.png")
        dialog.close()

    def trial_board() -> None:
        from clinic_app.gui.trial_board import TrialBoardWindow

        board = TrialBoardWindow(record, protocols, today=TODAY)
        save(board, "trial-board.png")
        board.close()

    def settings_tabs() -> None:
        from clinic_app.gui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(record, window, config=config)
        dialog.resize(820, 620)
        for index, name in enumerate(("printing", "checks", "ranges", "backups")):
            dialog.tabs.setCurrentIndex(index)
            save(dialog, f"settings-{name}.png")
        dialog.close()

    def protocols_view() -> None:
        from clinic_app.gui.protocol_view import ProtocolsWindow

        view = ProtocolsWindow(protocols, window)
        save(view, "protocols.png")
        view.close()

    def enrolment() -> None:
        from clinic_app.core.records import Patient, Sex
        from clinic_app.gui.dialogs.enrolment import EnrolmentDialog

        pid = record.repos.patients.add(
            Patient("NEW-0001", "Lindqvist", "Åsa", date(1958, 4, 2), Sex.FEMALE),
            reason="guide screenshots",
        )
        dialog = EnrolmentDialog(record, protocols, pid, window, today=lambda: TODAY)
        save(dialog, "enrolment.png")
        dialog.close()

    def new_patient() -> None:
        from clinic_app.gui.dialogs.new_patient import NewPatientDialog

        dialog = NewPatientDialog(record, window, today=lambda: TODAY)
        dialog.show()
        dialog.buttons.accepted.emit()  # Save on the empty form: each field says what it needs
        save(dialog, "new-patient.png")
        dialog.close()

    def documents_tab() -> None:
        tabs = getattr(window.chart, "tabs", None)
        if tabs is None:
            raise RuntimeError("the chart has no tabs")
        tabs.setCurrentWidget(tabs.documents)
        save(window, "documents-tab.png")
        tabs.setCurrentWidget(tabs.labs)
        save(window, "labs-tab.png")

    def check_out() -> None:
        from clinic_app.gui.checkout_dialog import CheckOutDialog

        pid = patient_id()
        folder = Path("/home/nurse/.local/share/clinic-app")  # as on a nurse's computer
        dialog = CheckOutDialog(record, pid, window, folder=folder)
        second = next(p.mrn for p in record.repos.patients.all() if p.id != pid)
        dialog.tick([*dialog.ticked(), second])
        dialog.label.setText("Laptop 2")
        save(dialog, "check-out.png")
        dialog.close()

    def history() -> None:
        from clinic_app.gui.history import HistoryDialog

        pid = patient_id()
        lab = record.db.execute("SELECT min(id) FROM labs WHERE patient_id = ?", [pid]).fetchone()
        patient = record.repos.patients.get(pid).value
        dialog = HistoryDialog(
            record, record.repos.labs, int(lab[0]), f"{patient.full_name}, MRN {patient.mrn}"
        )
        save(dialog, "item-history.png")
        dialog.close()

    def laptop_journey() -> None:
        """Last: it checks two patients out, so every screen before it shows the clinic as
        usual. The chart of one out on the laptop, the cancel dialog (left uncancelled) and the
        check-in dialog with its outcome."""
        from clinic_app.gui.cancel_checkout_dialog import CancelCheckoutDialog
        from clinic_app.gui.checkout_dialog import CheckInDialog
        from clinic_app.services.lab_entry import LabEntry, save_panel
        from clinic_app.storage.checkout import check_out

        pid = patient_id()
        mrns = [record.repos.patients.get(pid).value.mrn]
        mrns.append(next(p.mrn for p in record.repos.patients.all() if p.id != pid))
        laptop = work / "laptop-2.sqlite3"
        check_out(record, laptop, mrns, "Laptop 2")
        with open_database(laptop) as road:  # a panel taken on the home visit
            at = datetime(2025, 3, 4, 9, 15).astimezone()
            save_panel(road, pid, [LabEntry("anc", "1.4", "10^9/L", "1.8", "7.5")], at, now=at)
        window.refresh()
        while window.loading:
            settle(0.05)
        window.reload_patient(pid)
        settle(1.0)
        save(window, "checked-out-chart.png")

        cancel = CancelCheckoutDialog(record, window)
        cancel.tick([mrns[1]])
        cancel.reason.setText("laptop lost on a home visit")
        save(cancel, "cancel-checkout.png")
        cancel.done(0)

        dialog = CheckInDialog(record, window)
        dialog.laptop_file.setText(str(laptop))
        dialog.show()
        settle()
        dialog.run()
        while dialog.runner is not None:
            settle(0.05)
        if not dialog.report:
            raise RuntimeError(dialog.message.text())
        save(dialog, "check-in.png")
        dialog.done(1)

    shots: dict[str, Callable[[], None]] = {
        "documents tab": documents_tab,
        "history": history,
        "protocols": protocols_view,
        "new patient": new_patient,
        "enrolment": enrolment,
        "lab entry": lab_entry,
        "trial board": trial_board,
        "settings": settings_tabs,
        "check out": check_out,
        "laptop journey": laptop_journey,  # last: it checks patients out and in
    }
    for name, make in shots.items():
        if not ONLY or name in ONLY:
            shoot(name, make)
    window.close()


if __name__ == "__main__":
    sys.exit(main())
