"""Printing from the chart and the Today view.

- **Preview** (QtPdf is not available): the PDF from :mod:`clinic_app.services.documents` and
  :mod:`clinic_app.reports` is rendered to page images with ``pdftoppm`` when it is installed;
  otherwise the dialog says so and offers "Save as PDF…" and "Open in viewer" (the system viewer
  through ``QDesktopServices``). "Print…" opens ``QPrintDialog`` and paints the page images.
- **Morning batch**: every dosing card of the cycles starting on a day, written to a folder by
  a :class:`~clinic_app.gui.background.BackgroundRunner` (its own thread and database
  connection), with a progress bar and Cancel. The thread is always waited for when the
  dialog closes.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QPainter, QPixmap
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.errors import DomainError
from clinic_app.gui import fit
from clinic_app.gui.background import BackgroundRunner, Connection, Outcome, Progress
from clinic_app.gui.texts import patient_title
from clinic_app.gui.warnings import WARNING_SIGN
from clinic_app.services import documents
from clinic_app.services import settings as st
from clinic_app.services.documents import DOCUMENT_PROBLEMS, card_file_name
from clinic_app.storage.database import Record, RecordLocation
from clinic_app.storage.errors import StorageError

DOSING_CARD = "dosing_card"
TOXICITY_SUMMARY = "toxicity_summary"
# Settings a document needs; a card refused for one of these offers to open Settings there.
_SETTINGS_FIELDS = {st.CLINIC_PHONE, st.CLINIC_NAME}
_TITLES = {DOSING_CARD: "Dosing card", TOXICITY_SUMMARY: "Toxicity summary"}


def write_pdf_file(path: Path, data: bytes) -> None:
    from clinic_app.reports.layout import write_pdf

    write_pdf(path, data)


def render_document(record: Record, kind: str, mrn: str, cycle: int) -> bytes:
    """The PDF of one document; raises ``DomainError`` for what is missing."""
    # ReportLab loads when the first document is made, not when the app starts.
    from clinic_app.reports.dosing_card import render_dosing_card
    from clinic_app.reports.toxicity_summary import render_toxicity_summary

    now = datetime.now().astimezone()
    if kind == DOSING_CARD:
        return render_dosing_card(documents.build_dosing_card(record, mrn, cycle, printed_at=now))
    if kind == TOXICITY_SUMMARY:
        summary = documents.build_toxicity_summary(record, mrn, cycle, printed_at=now)
        return render_toxicity_summary(summary)
    raise DomainError(f"Unknown document {kind!r}.", field="document")


def page_images(pdf: Path, folder: Path, dpi: int = 80) -> list[Path]:
    """PNG pages of ``pdf`` made by ``pdftoppm``; empty when the tool is not installed."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        return []
    subprocess.run(
        [tool, "-png", "-r", str(dpi), str(pdf), str(folder / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return sorted(folder.glob("page*.png"))


def patient_cycle_numbers(record: Record, patient_id: int) -> list[int]:
    """The cycle numbers recorded for the patient, over all their enrolments."""
    numbers: list[int] = []
    for enrolment in record.repos.enrolments.for_patient(patient_id):
        if enrolment.id is not None:
            numbers += [c.number for c in record.repos.cycles.for_enrolment(enrolment.id)]
    return sorted(set(numbers))


class PreviewDialog(QDialog):
    def __init__(
        self, record: Record, kind: str, patient_id: int, cycle: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.settings_button: QPushButton | None = None
        self.viewer_box: QMessageBox | None = None
        # The system's "open this file" (False when no program opens PDFs).
        self.open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl
        patient = record.repos.patients.get(patient_id).value
        self.setWindowTitle(f"{_TITLES.get(kind, kind)}, cycle {cycle} — {patient_title(patient)}")
        fit.keep_title_readable(self)  # the name and MRN stay readable
        self._tmp = Path(tempfile.mkdtemp(prefix="clinic-print-"))
        self.pdf_path: Path | None = None
        self.pages: list[Path] = []
        layout = QVBoxLayout(self)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.scroll_area = QScrollArea(self)
        holder = QWidget(self.scroll_area)
        self.pages_layout = QVBoxLayout(holder)
        self.scroll_area.setWidget(holder)
        self.scroll_area.setWidgetResizable(True)
        metrics = self.fontMetrics()
        self.scroll_area.setMinimumSize(80 * metrics.averageCharWidth(), 30 * metrics.lineSpacing())
        layout.addWidget(self.scroll_area)
        self.buttons = QDialogButtonBox(self)
        self.print_button = self.buttons.addButton(
            "&Print…", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.save_button = self.buttons.addButton(
            "&Save as PDF…", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.open_button = self.buttons.addButton(
            "&Open in viewer", QDialogButtonBox.ButtonRole.ActionRole
        )
        close = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.reject)
        self.print_button.clicked.connect(self.print_pages)
        self.save_button.clicked.connect(self.save_as)
        self.open_button.clicked.connect(self.open_viewer)
        layout.addWidget(self.buttons)
        self.finished.connect(lambda _code: shutil.rmtree(self._tmp, ignore_errors=True))
        self.kind = kind
        self.patient = patient
        self.holder = holder
        # Which cycle's document: any cycle of the patient can be chosen here.
        self.cycle_box = QComboBox(self)
        self.cycle_box.setObjectName("cycle_choice")
        self.cycle_box.setAccessibleName("Cycle of the document")
        numbers = patient_cycle_numbers(record, patient_id) or [cycle]
        for number in sorted(set(numbers) | {cycle}):
            self.cycle_box.addItem(f"Cycle {number}", number)
        self.cycle_box.setCurrentIndex(self.cycle_box.findData(cycle))
        cycle_label = QLabel("&Cycle:", self)
        cycle_label.setBuddy(self.cycle_box)
        row = QHBoxLayout()
        row.addWidget(cycle_label)
        row.addWidget(self.cycle_box)
        row.addStretch(1)
        layout.insertLayout(0, row)
        self.cycle_box.currentIndexChanged.connect(
            lambda _i: self.show_cycle(int(self.cycle_box.currentData()))
        )
        self.show_cycle(cycle)

    def show_cycle(self, cycle: int) -> None:
        """Make the document of ``cycle`` and show its pages (or why it cannot be printed)."""
        kind, patient = self.kind, self.patient
        self.setWindowTitle(f"{_TITLES.get(kind, kind)}, cycle {cycle} — {patient_title(patient)}")
        self.cycle = cycle
        self.pdf_path = None
        while self.pages_layout.count():
            item = self.pages_layout.takeAt(0)
            if item is not None and item.widget() is not None:
                item.widget().deleteLater()
        for button in (self.print_button, self.save_button, self.open_button):
            button.setEnabled(True)
        if self.settings_button is not None:
            self.buttons.removeButton(self.settings_button)
            self.settings_button.deleteLater()
            self.settings_button = None
        try:
            data = render_document(self.record, kind, patient.mrn, cycle)
        except StorageError:
            raise
        except DOCUMENT_PROBLEMS as exc:
            self.message.setText(f"{WARNING_SIGN} Not printed: {exc}")
            for button in (self.print_button, self.save_button, self.open_button):
                button.setEnabled(False)
            if getattr(exc, "field", None) in _SETTINGS_FIELDS:
                # What is missing is a setting: one click opens Settings at that field.
                self.settings_button = self.buttons.addButton(
                    "Open &Settings…", QDialogButtonBox.ButtonRole.ActionRole
                )
                key = str(getattr(exc, "field"))  # noqa: B009
                self.settings_button.clicked.connect(lambda: self.open_settings(key))
                self.settings_button.setDefault(True)
            return
        folder = self._tmp / f"cycle{cycle}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.pdf_path = folder / card_file_name(patient.mrn, cycle)
        write_pdf_file(self.pdf_path, data)
        self.pages = page_images(self.pdf_path, folder)
        for page in self.pages:
            label = QLabel(self.holder)
            label.setPixmap(QPixmap(str(page)))
            self.pages_layout.addWidget(label)
        if self.pages:
            self.message.setText(f"{len(self.pages)} page(s).")
        else:
            self.message.setText(
                "No preview here (pdftoppm is not installed): save the PDF or open it in the "
                "system viewer to check it before printing."
            )
        self.print_button.setEnabled(bool(self.pages))

    def open_settings(self, key: str) -> QWidget:
        from clinic_app.gui.settings_dialog import open_settings_dialog

        dialog = open_settings_dialog(self.record, self.parentWidget() or self, at=key)
        self.reject()  # the card is made again once the setting is saved
        return dialog

    def save_as(self, target: str | None = None) -> Path | None:
        if self.pdf_path is None:
            return None
        chosen = (
            target
            or QFileDialog.getSaveFileName(self, "Save as PDF", self.pdf_path.name, "PDF (*.pdf)")[
                0
            ]
        )
        if not chosen:
            return None
        shutil.copyfile(self.pdf_path, chosen)
        return Path(chosen)

    def open_viewer(self) -> None:
        if self.pdf_path is None:
            return
        if not self.open_url(QUrl.fromLocalFile(str(self.pdf_path))):
            self.no_viewer()

    def no_viewer(self) -> QMessageBox:
        """No program opens PDFs on this computer: say so, and offer to save the file."""
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "No PDF viewer",
            "No program to show PDF files is set up on this computer, so the document cannot "
            "be opened here. Save it as a PDF file instead, to print or send it from "
            "another program?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        box.accepted.connect(lambda: self.save_as())
        self.viewer_box = box
        box.open()
        return box

    def print_pages(self) -> None:
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        if QPrintDialog(printer, self).exec() != QDialog.DialogCode.Accepted:
            return
        paint_pages(printer, self.pages)


def paint_pages(printer: QPrinter, pages: list[Path]) -> None:
    painter = QPainter(printer)
    try:
        for number, page in enumerate(pages):
            if number:
                printer.newPage()
            image = QPixmap(str(page))
            area = painter.viewport()
            size = image.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
            painter.drawPixmap(0, 0, size.width(), size.height(), image)
    finally:
        painter.end()


def open_print_preview(
    parent: QWidget | None, record: Record, patient_id: int, kind: str, cycle: int
) -> PreviewDialog:
    dialog = PreviewDialog(record, kind, patient_id, cycle, parent)
    dialog.open()
    return dialog


# -- the morning batch -----------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchResult:
    printed: int
    failed: int
    cancelled: bool
    problems: tuple[str, ...]
    """One sentence per card not printed: who, and why."""


def write_cards(record: Record, progress: Progress, day: date, folder: Path) -> BatchResult:
    """Write the dosing card of every cycle starting on ``day``; on the runner's thread, with
    its own connection. Cancel stops after the current card; the cards written are kept."""
    from clinic_app.reports.dosing_card import render_dosing_card
    from clinic_app.reports.layout import write_pdf

    printed = failed = 0
    problems: list[str] = []
    refs = documents.cycles_starting_on(record, day)
    for number, ref in enumerate(refs, start=1):
        if progress.cancelled:
            break
        who = f"{ref.patient.mrn} {ref.patient.full_name}"
        progress.report(number, len(refs), who)
        try:
            card = documents.dosing_card_for(record, ref, None, None)
            target = folder / card_file_name(ref.patient.mrn, ref.cycle.number)
            write_pdf(target, render_dosing_card(card))
            printed += 1
        except DOCUMENT_PROBLEMS as exc:
            failed += 1
            problems.append(f"{who}: {exc}")
    return BatchResult(printed, failed, progress.cancelled, tuple(problems))


class BatchDialog(QDialog):
    batch_finished = Signal(str)
    """Emitted on the GUI thread with the result sentence when the batch is done."""

    def __init__(
        self, db_path: RecordLocation, day: date, folder: Path, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Dosing cards for {day.isoformat()}")
        self.result_text = ""
        layout = QVBoxLayout(self)
        self.label = QLabel("Starting…", self)
        self.label.setWordWrap(True)
        # Cards not printed, one a line, scrolled when many: the window stays on the screen.
        self.problems = QPlainTextEdit(self)
        self.problems.setObjectName("batch_problems")
        self.problems.setReadOnly(True)
        self.problems.setVisible(False)
        self.setMinimumWidth(70 * self.fontMetrics().averageCharWidth())
        self.bar = QProgressBar(self)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.rejected.connect(self.cancel)
        for widget in (self.label, self.bar, self.problems, self.buttons):
            layout.addWidget(widget)
        self.runner = BackgroundRunner(
            Connection(db_path),
            lambda record, progress: write_cards(record, progress, day, folder),
            self,
        )
        self.runner.progressed.connect(self.on_progress)
        self.runner.finished.connect(self.on_done)
        self.runner.start()

    def on_progress(self, number: int, total: int, who: str) -> None:
        self.bar.setMaximum(total)
        self.bar.setValue(number - 1)
        self.label.setText(f"{number} of {total}: {who}")

    def on_done(self, outcome: Outcome) -> None:
        if isinstance(outcome.result, BatchResult):
            result = outcome.result
        else:  # the record could not be opened or read: nothing was written
            problem = "" if outcome.error is None else str(outcome.error)
            result = BatchResult(0, 0, outcome.cancelled, (problem,) if problem else ())
        printed, failed, cancelled = result.printed, result.failed, result.cancelled
        self.bar.setValue(self.bar.maximum())
        words = f"{printed} card(s) written"
        if failed:
            words += f", {failed} not printed: " + "; ".join(result.problems)
        elif result.problems:
            words += ": " + "; ".join(result.problems)
        if cancelled:
            words += "; cancelled before the end"
        self.result_text = words
        shown = f"{printed} card(s) written"
        if result.problems:
            if failed:
                shown += f", {failed} not printed (below)"
            self.problems.setPlainText("\n".join(result.problems))
            self.problems.setVisible(True)
        if cancelled:
            shown += "; cancelled before the end"
        self.label.setText(shown + ".")
        fit.fit_to_screen(self, self.size().expandedTo(self.sizeHint()))
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        self.batch_finished.emit(words)

    def cancel(self) -> None:
        if self.runner.running:
            self.runner.cancel()
            self.label.setText("Cancelling after the current card…")
        else:
            self.reject()

    def stop(self) -> None:
        """Cancel and wait: no thread is left running."""
        self.runner.stop()

    def done(self, code: int) -> None:
        self.stop()
        super().done(code)


def open_morning_batch(
    parent: QWidget | None,
    record: Record,
    day: date,
    folder: Path,
    on_finished: Callable[[str], None] | None = None,
) -> BatchDialog:
    """The Today view's "Print today's cards": runs off the GUI thread, on ``record.location``."""
    dialog = BatchDialog(record.location, day, folder, parent)
    if on_finished is not None:
        dialog.batch_finished.connect(on_finished)
    dialog.open()
    return dialog
