"""Check out to a laptop and check a laptop back in, from the File menu (issue 19).

Both dialogs run the storage work (``storage/checkout``) in the background runner, on the
signed-in user's own connection, and stay open with the refusal in words when it fails; on
success they close with the report's sentences in :attr:`report` for the window to show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.errors import DomainError
from clinic_app.gui import fit
from clinic_app.gui.background import BackgroundRunner, Connection, Outcome, run_in_background
from clinic_app.gui.uiload import child, load_ui
from clinic_app.gui.warnings import warned
from clinic_app.storage.checkout.back import CheckinReport
from clinic_app.storage.database import Record
from clinic_app.storage.errors import NOTHING_LOST, StorageError

RECORD_FILTER = "Laptop records (*.sqlite3);;All files (*)"
MRN_ROLE = Qt.ItemDataRole.UserRole


def default_laptop_file(folder: Path, stem: str = "laptop") -> Path:
    """``laptop.sqlite3`` in ``folder``, or ``laptop-2.sqlite3`` ... when that is taken
    (check-out never overwrites a file)."""
    path = folder / f"{stem}.sqlite3"
    number = 2
    while path.exists():
        path = folder / f"{stem}-{number}.sqlite3"
        number += 1
    return path


def failure_text(outcome: Outcome) -> str | None:
    """The sentence for a failed run, or None when it worked. Only the record's refusals
    and the rules' are expected; anything else is our bug and is raised."""
    error = outcome.error
    if error is None:
        return None
    if isinstance(error, StorageError):
        return error.message
    if isinstance(error, DomainError):
        return f"{error} {NOTHING_LOST.capitalize()}."
    raise error


def _connection(record: Record) -> Connection:
    # The signed-in user acts on the runner's connection too (a name alone acts as nobody).
    return Connection(record.location, app_user=record.session or record.app_user)


class _LaptopFileDialog(QDialog):
    """What both dialogs share: the form, the file field, the message, OK/Cancel, the run."""

    succeeded = Signal()
    """The work is done (the report is set), whether or not the dialog closes at once."""

    def __init__(self, ui_name: str, title: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = load_ui(ui_name, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        self.laptop_file = child(self.form, QLineEdit, "laptop_file")
        self.browse = child(self.form, QPushButton, "browse")
        self.message = child(self.form, QLabel, "message")
        # A file's whole path reads in its field (the data folder's are long).
        self.laptop_file.setMinimumWidth(self.fontMetrics().averageCharWidth() * 56)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.run)
        self.buttons.rejected.connect(self.reject)
        self.browse.clicked.connect(self.choose_file)
        self.runner: BackgroundRunner | None = None
        self.report = ""
        """The report's sentences once the work succeeded (the dialog is then accepted)."""

    def show_message(self, text: str) -> None:
        self.message.setText(warned(text))
        self.message.setVisible(True)
        fit.refit(self)  # a refusal needs its full height, never cut to one line

    def path(self) -> Path | None:
        text = self.laptop_file.text().strip()
        return Path(text).expanduser() if text else None

    def choose_file(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        raise NotImplementedError

    def start(self, record: Record, work: Callable[[Record, Any], Any], busy: str) -> None:
        self.buttons.setEnabled(False)
        self.form.setEnabled(False)
        self.message.setStyleSheet("")
        self.message.setText(busy)
        self.message.setVisible(True)
        self.setCursor(Qt.CursorShape.BusyCursor)
        self.runner = run_in_background(_connection(record), work, self, self._finished)

    def _finished(self, outcome: Outcome) -> None:
        self.runner = None
        self.unsetCursor()
        self.buttons.setEnabled(True)
        self.form.setEnabled(True)
        self.message.setStyleSheet("color: #b00020;")
        problem = failure_text(outcome)
        if problem is not None:
            self.show_message(problem)
            return
        self.report = "\n".join(outcome.result.lines()) or (
            f"The laptop {getattr(outcome.result, 'label', '')} was checked in; nothing had "
            "been recorded on it."
        )
        self.succeeded.emit()
        self.show_result(outcome.result)

    def show_result(self, result: Any) -> None:
        """After success: the check-out closes at once (the window says what was done)."""
        self.accept()

    def reject(self) -> None:
        if self.runner is not None:
            return  # the work cannot be stopped half-way: it finishes, then the dialog closes
        super().reject()

    def done(self, result: int) -> None:
        if self.runner is not None and result != QDialog.DialogCode.Accepted:
            return
        super().done(result)


class CheckOutDialog(_LaptopFileDialog):
    """Tick patients, name the laptop, choose the new file; OK checks them out."""

    def __init__(
        self,
        record: Record,
        chosen: int | None,
        parent: QWidget | None = None,
        *,
        folder: Path | None = None,
    ) -> None:
        super().__init__("checkout.ui", "Check out to a laptop", parent)
        self.record = record
        self.patients = child(self.form, QListWidget, "patients")
        self.label = child(self.form, QLineEdit, "label")
        self._fill(chosen)
        if folder is None:
            from clinic_app.services.settings import data_folder

            folder = data_folder()
        self.laptop_file.setText(str(default_laptop_file(folder)))
        self.label.setText("Laptop")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Check &out")
        fit.fit_to_screen(self)

    def _fill(self, chosen: int | None) -> None:
        from clinic_app.storage.checkout import checked_out_patients, describe

        away = checked_out_patients(self.record)
        for patient in self.record.repos.patients.all():
            item = QListWidgetItem(
                f"{patient.family_name}, {patient.given_name} — MRN {patient.mrn}"
            )
            item.setData(MRN_ROLE, patient.mrn)
            if patient.id in away:
                # Already out: shown, with where, but it cannot be ticked again.
                item.setText(f"{item.text()} ({describe(away[patient.id])})")
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setCheckState(Qt.CheckState.Unchecked)
            else:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                ticked = patient.id == chosen
                item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
            self.patients.addItem(item)
            if patient.id == chosen:
                self.patients.setCurrentItem(item)
                self.patients.scrollToItem(item)

    def ticked(self) -> list[str]:
        items = (self.patients.item(i) for i in range(self.patients.count()))
        return [
            str(item.data(MRN_ROLE)) for item in items if item.checkState() == Qt.CheckState.Checked
        ]

    def tick(self, mrns: Sequence[str]) -> None:
        """Tick exactly these patients (as a nurse clicking their boxes)."""
        for i in range(self.patients.count()):
            item = self.patients.item(i)
            if item.flags() & Qt.ItemFlag.ItemIsEnabled:
                state = item.data(MRN_ROLE) in mrns
                item.setCheckState(Qt.CheckState.Checked if state else Qt.CheckState.Unchecked)

    def choose_file(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "New laptop record", self.laptop_file.text(), RECORD_FILTER
        )
        if name:
            self.laptop_file.setText(name)

    def run(self) -> None:
        from clinic_app.storage.checkout import check_out

        mrns, label, path = self.ticked(), self.label.text().strip(), self.path()
        if not mrns:
            self.show_message("Tick at least one patient; nothing was checked out.")
            return
        if not label:
            self.show_message(
                "Give the laptop a name (for example Laptop 2); nothing was checked out."
            )
            return
        if path is None:
            self.show_message("Choose a file for the laptop record; nothing was checked out.")
            return
        self.start(
            self.record,
            lambda record, _progress: check_out(record, path, mrns, label),
            f"Checking out {len(mrns)} patient{'' if len(mrns) == 1 else 's'}…",
        )


def _brought_back(report: CheckinReport) -> str:
    if report.outcome == "already":
        return "Nothing to bring back: it was checked in before"
    if report.outcome == "review":
        return "Changes kept for review (the check-out had been cancelled), not applied"
    return "Changes brought back into the patients' charts"


CHECKIN_STEPS: tuple[tuple[str, Callable[[CheckinReport], str]], ...] = (
    (
        "checking the file is this clinic's laptop record",
        lambda r: f"File checked: it is this clinic's laptop record ({r.label})",
    ),
    ("reading the changes made on the laptop", lambda r: "Changes made on the laptop read"),
    ("bringing the changes back", _brought_back),
    (
        "noting on the laptop that it was checked in",
        lambda r: "Laptop noted as checked in: its copy is read only now",
    ),
)
"""Each step: what it says while the work runs, and once it is done."""


def step_states(report: CheckinReport) -> list[bool]:
    """Which steps are done: all but the laptop's note when that could not be written."""
    return [True, True, True, report.outcome == "already" or report.laptop_noted]


class CheckInDialog(_LaptopFileDialog):
    """Choose the laptop record that came back; OK brings its changes in."""

    def __init__(self, record: Record, parent: QWidget | None = None) -> None:
        super().__init__("checkin.ui", "Check in a laptop", parent)
        self.record = record
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Check &in")
        self.busy = QProgressBar(self)
        self.busy.setRange(0, 0)  # no stages are reported: it moves while the work runs
        self.busy.setTextVisible(False)
        self.busy.setVisible(False)
        # Steps and outcome below the form, outside it: the form is greyed once checked in,
        # what was done must stay readable.
        layout = self.layout()
        assert layout is not None  # _LaptopFileDialog's own
        at = layout.indexOf(self.buttons)
        widgets: list[QWidget] = [self.busy]
        self.steps: list[QLabel] = []
        for _ in CHECKIN_STEPS:
            label = QLabel(self)
            label.setWordWrap(True)
            label.setVisible(False)
            self.steps.append(label)
        self.outcome = QLabel(self)
        self.outcome.setObjectName("outcome")
        self.outcome.setWordWrap(True)
        self.outcome.setVisible(False)
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for widget in [*widgets, *self.steps, self.outcome]:
            assert isinstance(layout, QVBoxLayout)
            layout.insertWidget(at, widget)
            at += 1
        self.buttons.rejected.connect(self._closed_after_success)
        fit.fit_to_screen(self)

    def start(self, record: Record, work: Callable[[Record, Any], Any], busy: str) -> None:
        for label, (doing, _done) in zip(self.steps, CHECKIN_STEPS, strict=True):
            label.setText(f"… {doing}")
            label.setVisible(True)
        self.busy.setVisible(True)
        super().start(record, work, busy)
        assert self.runner is not None
        self.runner.progressed.connect(lambda step, _total, _text: self.show_step(step))
        fit.refit(self)

    def show_step(self, current: int) -> None:
        """While the work runs: the steps before ``current`` are done, ``current`` is under
        way (its final words come with the outcome)."""
        for index, (label, (doing, _done)) in enumerate(
            zip(self.steps, CHECKIN_STEPS, strict=True)
        ):
            mark = "✓" if index < current else ("▶" if index == current else "…")
            label.setText(f"{mark} {doing}")

    def _finished(self, outcome: Outcome) -> None:
        self.busy.setVisible(False)
        if outcome.error is not None:
            for label in self.steps:
                label.setVisible(False)  # the refusal below says where it stopped
        super()._finished(outcome)

    def show_result(self, result: Any) -> None:
        """After success the dialog stays open with the steps ticked and the outcome, until
        Close."""
        report: CheckinReport = result
        for label, (_doing, done), ticked in zip(
            self.steps, CHECKIN_STEPS, step_states(report), strict=True
        ):
            label.setText(f"{'✓' if ticked else '✗'} {done(report) if ticked else _doing}")
        self.message.setVisible(False)
        self.outcome.setText(self.report)
        self.outcome.setVisible(True)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setVisible(False)
        close = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        close.setText("&Close")
        close.setDefault(True)
        close.setFocus()
        self.form.setEnabled(False)  # the file was checked in: nothing more to choose
        fit.refit(self)

    def _closed_after_success(self) -> None:
        if self.report:
            self.accept()  # the work was done: Close is the dialog's acceptance

    def choose_file(self) -> None:
        from clinic_app.services.settings import data_folder

        start = self.laptop_file.text() or str(data_folder())
        name, _ = QFileDialog.getOpenFileName(self, "Laptop record", start, RECORD_FILTER)
        if name:
            self.laptop_file.setText(name)

    def run(self) -> None:
        from clinic_app.storage.checkout import check_in

        path = self.path()
        if path is None or not path.is_file():
            where = f" at {path}" if path is not None else ""
            self.show_message(
                f"There is no laptop record file{where}; choose the file that came back. "
                f"Nothing was checked in."
            )
            return
        total = len(CHECKIN_STEPS)
        self.start(
            self.record,
            lambda record, progress: check_in(
                record, path, on_step=lambda n: progress.report(n, total)
            ),
            "Checking in the laptop…",
        )
