"""Lab results form (``ui/lab_entry.ui``): a panel graded as it is typed, saved in one go.

The checks and the grade text come from ``clinic_app.services.lab_entry``; this module only
shows them: the CTCAE term and grade beside each value, the reason for a refusal under the
field (with a warning sign, not colour alone), a confirmation box for an unusual value.
The same form corrects or voids one saved result (:func:`open_lab_correction`), with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QFont, QFontMetrics, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core import labs
from clinic_app.core.ctcae import fact_words
from clinic_app.core.errors import DomainError
from clinic_app.core.ismp import plain_number
from clinic_app.gui import fit
from clinic_app.gui.dates import to_qdatetime
from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.texts import patient_title
from clinic_app.gui.uiload import child, load_ui
from clinic_app.gui.warnings import ERROR_STYLE, SEVERE_STYLE, WARNING_SIGN
from clinic_app.services.lab_entry import (
    PANEL,
    EntryStatus,
    LabEntry,
    PanelCheck,
    ReferenceRanges,
    check_panel,
    correct_lab,
    facts_asked,
    reference_ranges,
    save_panel,
    void_lab,
)
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError


def _local_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class LabRow:
    """The widgets of one test on the form."""

    test: str
    value: QLineEdit
    unit: QComboBox
    lln: QLineEdit
    uln: QLineEdit
    grade: QLabel
    error: QLabel
    confirm: QCheckBox
    facts: dict[str, QCheckBox]
    """The CTCAE clinical facts asked for this test; unticked = not known (stored as NULL)."""
    known_absent: set[str] = field(default_factory=set)
    """Facts a corrected result recorded as absent; kept while their box stays unticked."""

    def entry(self) -> LabEntry:
        return LabEntry(
            self.test,
            self.value.text(),
            str(self.unit.currentData()),
            self.lln.text(),
            self.uln.text(),
            tuple(
                (fact, box.isChecked())
                for fact, box in self.facts.items()
                if box.isChecked() or fact in self.known_absent
            ),
        )

    def side_fields(self) -> list[QWidget]:
        """Reached with Alt+→ from the value, not with Tab (issue 14: Tab goes value to value)."""
        return [self.unit, self.lln, self.uln, *self.facts.values()]


def _retain_space(widget: QWidget) -> None:
    # A hidden message or tick box keeps its place, so fields never move under the pointer.
    policy = widget.sizePolicy()
    policy.setRetainSizeWhenHidden(True)
    widget.setSizePolicy(policy)


class LabEntryDialog(QDialog):
    """Enter a panel (``lab_id`` None) or correct/void one saved result.

    After Save, ``saved_ids`` holds the new lab ids (or the corrected one); after Void,
    ``voided`` is True.
    """

    def __init__(
        self,
        record: Record,
        patient_id: int,
        parent: QWidget | None = None,
        *,
        lab_id: int | None = None,
        now: Callable[[], datetime] = _local_now,
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.patient_id = patient_id
        self.lab_id = lab_id
        self.now = now
        self.saved_ids: tuple[int, ...] = ()
        self.voided = False
        self.patient = record.repos.patients.get(patient_id).value
        self.ranges: ReferenceRanges = reference_ranges(record)
        self.form = load_ui("lab_entry.ui", self)
        QVBoxLayout(self).addWidget(self.form)
        self.collected_at = child(self.form, QDateTimeEdit, "collected_at")
        self.collected_error = child(self.form, QLabel, "collected_at_error")
        self.reason = child(self.form, QLineEdit, "reason")
        self.reason_error = child(self.form, QLabel, "reason_error")
        self.summary = child(self.form, QLabel, "summary")
        self.buttons = child(self.form, QDialogButtonBox, "buttons")
        self.grid = child(self.form, QGridLayout, "panel_grid")
        self.rows: dict[str, LabRow] = {}
        self.void_button: QPushButton | None = None
        self.stored_version: int | None = None
        self.touched: set[str] = set()
        """Rows (and "collected_at") a person has typed in: only they show refusals."""
        self.save_tried = False
        self.question: QMessageBox | None = None
        """The open "save these grade >= 3 values?" or "discard?" question, if any."""
        tests = self._tests_shown()
        self._build_rows(tests)
        self._set_up_mode()
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        # Enter never saves (issue 14: Enter after two values saved half a panel): no default
        # button; Enter moves to the next field and Ctrl+Enter saves (keyPressEvent).
        for button in self.buttons.buttons():
            if isinstance(button, QPushButton):
                button.setDefault(False)
                button.setAutoDefault(False)
        save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save_button.setToolTip("Save the panel (Ctrl+Enter)")
        self.collected_at.dateTimeChanged.connect(self._collected_edited)
        self._chain_tab_order()
        self.recheck()
        self._initial = self.entries()
        self._fit_to_screen()

    # -- building -------------------------------------------------------------------------------
    def _tests_shown(self) -> list[tuple[str, tuple[str, ...]]]:
        if self.lab_id is None:
            return list(PANEL)
        stored = self.record.repos.labs.get(self.lab_id)
        self.stored_version = stored.version
        return [("Correct this result", (stored.value.test,))]

    def _fit_to_screen(self) -> None:
        # Wide enough for the grid, never beyond the screen (1366x768 with the buttons visible):
        # the panel scrolls inside the dialog, the buttons stay below it.
        metrics = QFontMetrics(self.font())
        width, height = metrics.horizontalAdvance("M") * 110, metrics.height() * 48
        room = fit.available(self)
        width = min(width, room.width() - 40)
        height = min(height, room.height() - 60)
        self.resize(width, height)

    def _build_rows(self, sections: list[tuple[str, tuple[str, ...]]]) -> None:
        grid = self.grid
        header_font = QFont(self.font())
        header_font.setBold(True)
        for column, text in enumerate(("Test", "Value", "Unit", "LLN", "ULN")):
            heading = QLabel(text)
            heading.setFont(header_font)
            grid.addWidget(heading, 0, column)
        line = 1
        for section, tests in sections:
            title = QLabel(section)
            title.setFont(header_font)
            grid.addWidget(title, line, 0, 1, 6)
            line += 1
            for test in tests:
                line = self._add_row(test, line)
        grid.setColumnStretch(5, 1)
        grid.setRowStretch(line, 1)

    def _add_row(self, test: str, line: int) -> int:
        """One test: name, value, unit, LLN, ULN and the tick box on the first line; the grade
        sentence (or the refusal) on a reserved line below; the clinical facts, for the tests
        CTCAE grades by them, on a third line. Nothing appears or vanishes in a way that moves
        another field (issue 14: a click meant for Platelets ticked Hemoglobin's box)."""
        entry = labs.lab_test(test)
        name = QLabel(f"{entry.name}:")
        value = QLineEdit()
        value.setObjectName(f"{test}_value")
        value.setAccessibleName(f"{entry.name} value")
        value.setToolTip("Enter or Tab: next test · Alt+→: unit and limits · Ctrl+Enter: save")
        name.setBuddy(value)
        unit = QComboBox()
        unit.setObjectName(f"{test}_unit")
        unit.setAccessibleName(f"{entry.name} unit")
        for key in entry.units:
            unit.addItem(labs.unit_label(key), key)
        lln, uln = QLineEdit(), QLineEdit()
        for edit, which in ((lln, "lln"), (uln, "uln")):
            edit.setObjectName(f"{test}_{which}")
            edit.setAccessibleName(f"{entry.name} {which.upper()}")
        width = QFontMetrics(self.font()).horizontalAdvance("0000.000")
        for edit in (value, lln, uln):
            edit.setMaximumWidth(width * 3 // 2)
        grade = QLabel()
        grade.setObjectName(f"{test}_grade")
        error = QLabel()
        error.setObjectName(f"{test}_error")
        error.setStyleSheet(ERROR_STYLE)
        for label in (grade, error):
            # Wraps within the grid's width instead of widening it: a long sentence never
            # pushes the test names out of view.
            label.setWordWrap(True)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            # Two lines reserved: a grade sentence or refusal of up to two lines (nearly all)
            # fits without growing the row.
            label.setMinimumHeight(2 * QFontMetrics(label.font()).lineSpacing())
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            _retain_space(label)
        error.setVisible(False)
        confirm = QCheckBox("Value checked: it is correct")
        confirm.setObjectName(f"{test}_confirm")
        _retain_space(confirm)
        confirm.setVisible(False)
        facts: dict[str, QCheckBox] = {}
        for fact in facts_asked(test):
            box = QCheckBox(fact_words(fact).capitalize())
            box.setObjectName(f"{test}_{fact}")
            box.setAccessibleName(f"{entry.name}: {fact_words(fact)}")
            box.setToolTip("Tick only when it is so; unticked means not known.")
            facts[fact] = box
        row = LabRow(test, value, unit, lln, uln, grade, error, confirm, facts)
        self.rows[test] = row
        for column, widget in enumerate((name, value, unit, lln, uln, confirm)):
            self.grid.addWidget(widget, line, column)
        # The grade sentence and the refusal share one reserved line: one shows at a time.
        self.grid.addWidget(grade, line + 1, 1, 1, 5)
        self.grid.addWidget(error, line + 1, 1, 1, 5)
        used = 2
        if facts:
            strip = QWidget()
            strip.setObjectName(f"{test}_facts")
            layout = QHBoxLayout(strip)
            layout.setContentsMargins(0, 0, 0, 0)
            # Named: the strip sits between this test's value and the next test's, nearer the
            # next, so "CTCAE, if known:" alone read as the facts of the test below it.
            facts_label = QLabel(f"{entry.name}, CTCAE if known:")
            facts_label.setObjectName(f"{test}_facts_label")
            layout.addWidget(facts_label)
            for box in facts.values():
                layout.addWidget(box)
                box.toggled.connect(self.recheck)
            layout.addStretch(1)
            self.grid.addWidget(strip, line + 2, 1, 1, 5)
            used = 3
        self._fill_limits(row)
        for edit in (value, lln, uln):
            edit.textChanged.connect(self.recheck)
            edit.textEdited.connect(lambda _t, t=test: self._touch(t))
        unit.currentIndexChanged.connect(lambda _i, r=row: self._unit_changed(r))
        confirm.toggled.connect(self.recheck)
        for widget in (value, *row.side_fields()):
            widget.installEventFilter(self)
        return line + used

    def _touch(self, test: str) -> None:
        self.touched.add(test)
        self.recheck()

    def _collected_edited(self) -> None:
        self.touched.add("collected_at")
        self.recheck()

    def _fill_limits(self, row: LabRow) -> None:
        limits = self.ranges.get(row.test, str(row.unit.currentData()))
        row.lln.setText("" if limits.lln is None else plain_number(limits.lln))
        row.uln.setText("" if limits.uln is None else plain_number(limits.uln))

    def _unit_changed(self, row: LabRow) -> None:
        # Limits are in the unit of the value: switching units takes that unit's limits.
        self._fill_limits(row)
        self.recheck()

    def _set_up_mode(self) -> None:
        title = "Lab results" if self.lab_id is None else "Correct lab result"
        self.setWindowTitle(f"{title} — {patient_title(self.patient)}")
        correcting = self.lab_id is not None
        for name in ("reason_label", "reason"):
            child(self.form, QWidget, name).setVisible(correcting)
        if not correcting:
            stamp = self.now().astimezone().replace(second=0, microsecond=0, tzinfo=None)
            self.collected_at.setDateTime(to_qdatetime(stamp))
            return
        assert self.lab_id is not None
        lab = self.record.repos.labs.get(self.lab_id).value
        row = self.rows[lab.test]
        row.unit.setCurrentIndex(row.unit.findData(lab.unit))
        row.value.setText(plain_number(lab.value))
        row.lln.setText("" if lab.lln is None else plain_number(lab.lln))
        row.uln.setText("" if lab.uln is None else plain_number(lab.uln))
        # The facts recorded with the result come back with it, so a correction keeps them.
        for fact, present in lab.facts:
            if present and fact in row.facts:
                row.facts[fact].setChecked(True)
            elif not present:
                row.known_absent.add(fact)
        local = lab.collected_at.astimezone().replace(tzinfo=None)
        self.collected_at.setDateTime(to_qdatetime(local))
        self.void_button = self.buttons.addButton(
            "&Void (entered in error)", QDialogButtonBox.ButtonRole.DestructiveRole
        )
        self.void_button.clicked.connect(self.void)

    def _chain_tab_order(self) -> None:
        # Tab (and Enter) go value -> next value; the "value checked" box joins the chain only
        # while it is shown. Unit, LLN, ULN and the facts take a click or Alt+→ / Alt+←.
        chain: list[QWidget] = [self.collected_at]
        for row in self.rows.values():
            chain += [row.value, row.confirm]
            for widget in row.side_fields():
                widget.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        if self.lab_id is not None:
            chain.append(self.reason)
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)
        first_value = next(iter(self.rows.values())).value
        first_value.setFocus()

    def _row_of(self, widget: QObject) -> LabRow | None:
        for row in self.rows.values():
            if widget is row.value or widget in row.side_fields():
                return row
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            alt = event.modifiers() & Qt.KeyboardModifier.AltModifier
            row = self._row_of(watched)
            if alt and row is not None and event.key() in (Qt.Key.Key_Right, Qt.Key.Key_Left):
                along = [row.value, *row.side_fields()]
                index = along.index(watched)  # type: ignore[arg-type]
                step = 1 if event.key() == Qt.Key.Key_Right else -1
                along[max(0, min(len(along) - 1, index + step))].setFocus()
                return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                self.save()
                return
            focus = self.focusWidget()
            if isinstance(focus, QAbstractButton) and not isinstance(focus, QCheckBox):
                focus.click()  # Enter on a focused button presses that button, as asked
                return
            row = None if focus is None else self._row_of(focus)
            if row is not None and focus is not row.value:
                row.value.setFocus()  # back to the main chain, then on to the next value
            self.focusNextChild()
            return
        super().keyPressEvent(event)

    # -- reading and checking -------------------------------------------------------------------
    def collected(self) -> datetime:
        # The form shows local time; the record keeps UTC instants.
        local = self.collected_at.dateTime().toPython()
        assert isinstance(local, datetime)
        return local.astimezone(UTC)

    def entries(self) -> list[LabEntry]:
        return [row.entry() for row in self.rows.values()]

    def confirmed(self) -> list[str]:
        return [test for test, row in self.rows.items() if row.confirm.isChecked()]

    def check(self) -> PanelCheck:
        return check_panel(self.entries(), self.collected(), self.now())

    def recheck(self) -> None:
        """Show, for every row, the grade or why the value is refused, as it is typed."""
        panel = self.check()
        for test, row in self.rows.items():
            result = panel.entries[test]
            # Refusals wait until the row was typed in or Save was tried (issue 14).
            shown = self.save_tried or test in self.touched
            errors = dict(result.errors) if shown else {}
            if result.status is EntryStatus.UNUSUAL:
                # What to confirm, and the grade the value would have, on the one line.
                errors.setdefault("value", f"{result.warning} {result.grade_text}".strip())
            message = " ".join(errors.values())
            row.error.setText(f"{WARNING_SIGN} {message}" if message else "")
            row.error.setVisible(bool(message))
            row.grade.setVisible(not message)
            row.value.setAccessibleDescription(message)
            row.confirm.setVisible(result.status is EntryStatus.UNUSUAL)
            if result.status is not EntryStatus.UNUSUAL and row.confirm.isChecked():
                row.confirm.blockSignals(True)
                row.confirm.setChecked(False)
                row.confirm.blockSignals(False)
            if result.status is EntryStatus.REFUSED:
                row.grade.setText("Not graded yet" if shown else "")
            else:
                row.grade.setText(result.grade_text)
            row.grade.setStyleSheet(SEVERE_STYLE if result.severe else "")
            row.grade.setToolTip(result.grade.explanation if result.grade else "")
        collected = (
            panel.collected_error if self.save_tried or "collected_at" in self.touched else ""
        )
        self.collected_error.setText(f"{WARNING_SIGN} {collected}" if collected else "")
        self.collected_error.setVisible(bool(collected))
        entered = len(panel.entered)
        severe = sum(1 for c in panel.entered if c.severe)
        text = f"{entered} value{'s' if entered != 1 else ''} entered"
        if severe:
            text += f"; {WARNING_SIGN} {severe} at grade 3 or more"
        self.summary.setText(text + ".")

    # -- saving ---------------------------------------------------------------------------------
    def _show_problem(self, field: str, message: str) -> None:
        if field == "collected_at":
            self.collected_error.setText(f"{WARNING_SIGN} {message}")
            self.collected_error.setVisible(True)
            self.collected_at.setFocus()
            return
        if field == "reason":
            self.reason_error.setText(f"{WARNING_SIGN} {message}")
            self.reason_error.setVisible(True)
            self.reason.setFocus()
            return
        if field == "panel":
            self.summary.setText(f"{WARNING_SIGN} {message}")
            next(iter(self.rows.values())).value.setFocus()
            return
        test, _, part = field.partition(".")
        row = self.rows.get(test)
        if row is None:
            self.summary.setText(f"{WARNING_SIGN} {message}")
            return
        row.error.setText(f"{WARNING_SIGN} {message}")
        row.error.setVisible(True)
        target: QWidget = {
            "confirm": row.confirm,
            "lln": row.lln,
            "uln": row.uln,
            "unit": row.unit,
        }.get(part, row.value)
        target.setFocus()

    def typed(self) -> bool:
        """Whether anything differs from how the form opened."""
        return self.entries() != self._initial

    def severe_summary(self, panel: PanelCheck) -> str:
        """One line naming every value at grade 3 or more, for the question before saving."""
        parts = []
        for check in panel.entered:
            if check.severe and check.result is not None and check.grade is not None:
                entry = labs.lab_test(check.test)
                shown = f"{plain_number(check.result.value)} {labs.unit_label(check.result.unit)}"
                grade = check.grade.grade if check.grade.grade is not None else "≥ 3"
                parts.append(f"{entry.abbreviation} {shown}: {check.grade.term} grade {grade}")
        return "; ".join(parts)

    def _ask(self, title: str, text: str, yes: str, no: str, then: Callable[[], None]) -> None:
        # Non-blocking (open, not exec), so the lock screen can still close the dialog.
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=self)
        box.setObjectName("lab_question")
        yes_button = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
        no_button = box.addButton(no, QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(no_button)
        box.setEscapeButton(no_button)

        def finished() -> None:
            self.question = None
            if box.clickedButton() is yes_button:
                then()

        box.finished.connect(finished)
        self.question = box
        box.open()

    def reject(self) -> None:
        # Esc with typed values asks first (issue 14); hidden (the lock screen keeps a draft
        # and closes it) or untouched, it closes at once.
        if self.isVisible() and self.typed() and self.question is None:
            self._ask(
                "Discard the typed values?",
                "The values typed on this form are not saved. Discard them?",
                "&Discard them",
                "&Keep editing",
                self.discard,
            )
            return
        super().reject()

    def discard(self) -> None:
        """Close without saving and without asking."""
        QDialog.reject(self)

    def save(self) -> None:
        self.save_tried = True
        self.recheck()
        panel = self.check()
        # A correction already takes a reason; a new panel says its severe values first.
        summary = self.severe_summary(panel) if self.lab_id is None else ""
        if summary and not panel.problems(self.confirmed()):
            # A grade >= 3 value is said in one line before it is stored (issue 14).
            self._ask(
                "Save grade 3 or more?", f"{summary}. Save?", "&Save", "&Go back", self._store
            )
            return
        self._store()

    def _store(self) -> None:
        self.reason_error.setVisible(False)
        try:
            if self.lab_id is None:
                self.saved_ids = save_panel(
                    self.record,
                    self.patient_id,
                    self.entries(),
                    self.collected(),
                    now=self.now(),
                    confirmed_unusual=self.confirmed(),
                )
            else:
                assert self.stored_version is not None
                test = next(iter(self.rows))
                stored = correct_lab(
                    self.record,
                    self.patient_id,
                    self.lab_id,
                    self.rows[test].entry(),
                    self.collected(),
                    expected_version=self.stored_version,
                    reason=self.reason.text(),
                    now=self.now(),
                    confirmed_unusual=test in self.confirmed(),
                )
                self.saved_ids = (stored.id,)
        except DomainError as error:
            self._show_problem(error.field or "panel", error.message)
            return
        except StorageError as error:
            show_storage_error(self, error)
            return
        self.accept()

    def void(self) -> None:
        assert self.lab_id is not None and self.stored_version is not None
        self.reason_error.setVisible(False)
        try:
            void_lab(
                self.record,
                self.lab_id,
                expected_version=self.stored_version,
                reason=self.reason.text(),
            )
        except DomainError as error:
            self._show_problem("reason", error.message)
            return
        except StorageError as error:
            show_storage_error(self, error)
            return
        self.voided = True
        self.accept()


def open_lab_entry(parent: QWidget | None, record: Record, patient_id: int) -> LabEntryDialog:
    """Open the lab panel form for a patient (non-modal to the app; modal to its window)."""
    dialog = LabEntryDialog(record, patient_id, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def open_lab_correction(
    parent: QWidget | None, record: Record, patient_id: int, lab_id: int
) -> LabEntryDialog:
    """Open one saved result to correct it or void it, with a reason (audited)."""
    dialog = LabEntryDialog(record, patient_id, parent, lab_id=lab_id)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
