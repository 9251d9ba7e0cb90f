"""Start a cycle: the form from ``ui/cycle_start.ui`` over ``services.cycle_start``.

Every change re-runs ``check_start`` (pure, instant) on facts read once when the dialog opens:
the conditions with their values and dates, the weight-change flag, BSA, CrCl and the plan
with unit counts are shown as they are typed; each problem appears next to its field with a
warning sign, and the Start button stays disabled with the reasons written beside it.

Entry point: ``open_cycle_start(parent, record, patient_id)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from PySide6.QtCore import QSize, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QScrollArea,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.day_words import day_text
from clinic_app.core.dosing import format_dose_change
from clinic_app.core.ismp import format_number, format_quantity
from clinic_app.core.plan import CyclePlan
from clinic_app.core.protocol import Protocol
from clinic_app.gui import fit
from clinic_app.gui.dates import from_qdate, to_qdate
from clinic_app.gui.dose_admin import TextTableModel
from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.signature import sign_then_save
from clinic_app.gui.texts import parse_decimal, patient_title
from clinic_app.gui.uiload import child, load_ui
from clinic_app.gui.warnings import WARNING_SIGN, show_error
from clinic_app.services.cycle_start import (
    StartCheck,
    StartContext,
    StartRefused,
    StartRequest,
    StartResult,
    check_start,
    gather_start,
    start_cycle,
)
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError
from clinic_app.storage.signatures import MEANINGS, Signer

_FIELDS = (
    "start",
    "delay_reason",
    "enrolment",
    "height_cm",
    "weight_kg",
    "measured_on",
    "weight_ack",
    "creatinine",
    "plan",
    "options",
    "override_reason",
    "decided_by",
)
# Problems whose field has no label of its own are shown with the plan.
_PLAN_FIELDS = {"plan", "phase", "bsa", "crcl_ml_min", "dose", "dose_level", "strengths", "cycle"}
_MAX_REASONS = 4
OK_MARK, NOT_OK_MARK = "✓", WARNING_SIGN


class CycleStartDialog(QDialog):
    def __init__(
        self,
        record: Record,
        patient_id: int,
        parent: QWidget | None = None,
        protocols: Mapping[str, Protocol] | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        super().__init__(parent)
        self.record, self.patient_id, self.today = record, patient_id, today
        self.protocols = protocols
        self.result_: StartResult | None = None
        self.check: StartCheck | None = None
        self.context: StartContext = gather_start(record, patient_id, protocols)
        self.setWindowTitle(
            f"Start cycle {self.context.number} — {patient_title(self.context.patient)}"
        )
        self.form = load_ui("cycle_start.ui", self)
        f = self.form
        # The form can be taller than the screen (many refusals, labs, notes): it scrolls, so a
        # sentence is never squeezed and cut off; the reasons and the buttons stay below it.
        self.form_scroll = QScrollArea(self)
        self.form_scroll.setObjectName("form_scroll")
        self.form_scroll.setWidgetResizable(True)
        self.form_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.form_scroll.setWidget(f)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form_scroll, 1)
        right = child(f, QVBoxLayout, "right")
        # Width beyond what the left column needs goes to the plan table (drug, dose, units).
        child(f, QHBoxLayout, "columns").setStretch(1, 1)
        for name, kind in (("status", QLabel), ("buttons", QDialogButtonBox)):
            widget = child(f, kind, name)
            right.removeWidget(widget)
            layout.addWidget(widget)
        self.start = child(f, QDateEdit, "start")
        self.planned_text = child(f, QLabel, "planned_text")
        self.delay_reason = child(f, QLineEdit, "delay_reason")
        self.conditions_text = child(f, QLabel, "conditions_text")
        self.labs_text = child(f, QLabel, "labs_text")
        self.height_edit = child(f, QLineEdit, "height_cm")
        self.weight_edit = child(f, QLineEdit, "weight_kg")
        self.measured_on = child(f, QDateEdit, "measured_on")
        self.weight_change_text = child(f, QLabel, "weight_change_text")
        self.weight_ack = child(f, QCheckBox, "weight_ack")
        self.bsa_result = child(f, QLabel, "bsa_result")
        self.crcl_result = child(f, QLabel, "crcl_result")
        self.phase_text = child(f, QLabel, "phase_text")
        self.plan_table = child(f, QTableView, "plan_table")
        self.carried_text = child(f, QLabel, "carried_text")
        self.options_box = child(f, QGroupBox, "options_box")
        self.options_list = child(f, QVBoxLayout, "options_list")
        self.override_reason = child(f, QLineEdit, "override_reason")
        self.decided_by = child(f, QLineEdit, "decided_by")
        self.status = child(self, QLabel, "status")
        self.buttons = child(self, QDialogButtonBox, "buttons")
        self.errors = {name: child(f, QLabel, f"{name}_error") for name in _FIELDS}
        for label in self.errors.values():
            label.setVisible(False)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(f"&Start cycle {self.context.number}")
        self.ok_button.setDefault(True)
        # Missing or old labs are entered from here; the form re-reads them when that closes.
        self.labs_button = self.buttons.addButton(
            "Enter &labs…", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.labs_button.setObjectName("enter_labs")
        self.labs_button.setAutoDefault(False)
        self.labs_button.setToolTip("Open the lab form for this patient; the checks update after.")
        self.labs_button.clicked.connect(self.enter_labs)
        self.lab_dialog: QDialog | None = None

        self.plan_model = TextTableModel(("Day", "Date", "Drug", "Dose", "Units", "Route"), self)
        self.plan_table.setModel(self.plan_model)
        self.plan_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.plan_table.horizontalHeader().setStretchLastSection(True)
        self.plan_table.verticalHeader().setVisible(False)
        # Every column inside the dialog (1366x768 too): units, drug and route wrap in their
        # cell first, so no dose is hidden to the right.
        self.plan_table.setWordWrap(True)
        self.plan_fitter = fit.ColumnFitter(
            self.plan_table, [[4, 2, 5], [3, 1, 0]], fill=self._fill_plan_columns
        )
        self.plan_model.modelReset.connect(self.plan_fitter.refit)
        # A plan that appears once the weight is typed may need a wider window than it opened.
        self.plan_model.modelReset.connect(self._grow_for_plan)

        now = to_qdate(today())
        for edit in (self.start, self.measured_on):
            edit.setDate(now)
            edit.setMaximumDate(now)
            edit.dateChanged.connect(self.recheck)
        if self.context.latest_height_cm is not None:
            self.height_edit.setText(format_number(self.context.latest_height_cm))
        self.decided_by.setText(record.app_user or "")
        self._option_boxes: dict[str, QCheckBox] = {}
        self._build_options()
        for line in (
            self.delay_reason,
            self.height_edit,
            self.weight_edit,
            self.override_reason,
            self.decided_by,
        ):
            line.textChanged.connect(self.recheck)
        self.weight_ack.toggled.connect(self.recheck)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.recheck()
        self._fit_to_screen()
        self.weight_edit.setFocus()

    def _plan_column_widths(self) -> list[int]:
        """Each plan column's width for its widest cell in any row. Qt's own
        ``resizeColumnsToContents`` measures only the rows in view, so a longer unit text
        further down ("1 × 100 mg capsule") was elided."""
        table, model = self.plan_table, self.plan_model
        header = table.horizontalHeader()
        grid = 1 if table.showGrid() else 0
        # Measured on one line: with word wrap on, a cell's hint is its wrapped width in the
        # column as narrowed, so a narrow column would measure itself narrow.
        # The column fitter never narrows a column below its header or six characters.
        least = max(6 * table.fontMetrics().averageCharWidth(), header.minimumSectionSize())
        wrap = table.wordWrap()
        table.setWordWrap(False)
        try:
            return [
                max(
                    [least, fit.header_text_width(table, c), header.sectionSizeHint(c)]
                    + [
                        table.sizeHintForIndex(model.index(r, c)).width() + grid
                        for r in range(model.rowCount())
                    ]
                )
                for c in range(model.columnCount())
            ]
        finally:
            table.setWordWrap(wrap)

    def _fill_plan_columns(self) -> None:
        """The natural widths the column fitter narrows from (the fitter's ``fill``)."""
        header = self.plan_table.horizontalHeader()
        for column, width in enumerate(self._plan_column_widths()):
            header.resizeSection(column, width)

    def _plan_width(self) -> int:
        """The width the plan table needs to show every cell whole: drug names and units
        that cannot wrap (one word, e.g. "Dexamethasone") are elided in a narrower column."""
        table = self.plan_table
        columns = sum(self._plan_column_widths())
        return columns + table.verticalScrollBar().sizeHint().width() + 2 * table.frameWidth()

    def sizeHint(self) -> QSize:
        """Everything unscrolled, with the plan table's columns at their contents' width."""
        form = self.form.sizeHint()
        bar = self.form_scroll.verticalScrollBar().sizeHint().width()
        below = self.status.sizeHint().height() + self.buttons.sizeHint().height()
        layout = self.layout()
        assert layout is not None
        margins = layout.contentsMargins()
        # The form's own hint gives the plan table Qt's default width, which elided the drug
        # and units at 1366x768 while the screen had room to spare.
        wanted = max(
            form.width() + max(0, self._plan_width() - self.plan_table.sizeHint().width()),
            self.fontMetrics().averageCharWidth() * 140,
        )
        width = wanted + bar + margins.left() + margins.right()
        height = form.height() + below + margins.top() + margins.bottom() + 2 * bar
        return QSize(width, height)

    def _fit_to_screen(self) -> None:
        """As large as the form wants, within the screen (the form scrolls beyond that)."""
        available = fit.available(self)
        wanted = self.sizeHint()
        # Leave room for the window frame and title bar.
        self.resize(
            min(wanted.width(), available.width() * 9 // 10),
            min(wanted.height(), available.height() * 9 // 10),
        )

    def _grow_for_plan(self) -> None:
        """Wider (never narrower, never beyond the screen) when the new plan needs it."""
        if not self.isVisible():
            return
        area = fit.available(self)
        width = min(self.sizeHint().width(), area.width() * 9 // 10)
        if width > self.width():
            self.resize(width, self.height())
            frame = self.frameGeometry()
            if frame.right() > area.right():  # kept on the screen
                self.move(max(area.left(), area.right() - frame.width()), frame.top())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # Measured again once shown and laid out: before that the cells measure narrower (the
        # dialog opened at 943 px on a 1366 screen and still cut "Dexame…").
        QTimer.singleShot(0, self, self._grow_for_plan)

    def enter_labs(self) -> QDialog:
        """Open lab entry for this patient; when it closes, read the labs again and re-check."""
        from clinic_app.gui import lab_entry

        dialog = lab_entry.open_lab_entry(self, self.record, self.patient_id)
        dialog.finished.connect(self._labs_entered)
        self.lab_dialog = dialog
        return dialog

    def _labs_entered(self) -> None:
        self.lab_dialog = None
        try:
            self.context = gather_start(self.record, self.patient_id, self.protocols)
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        self.recheck()

    # -- options ------------------------------------------------------------------------------
    def _build_options(self) -> None:
        protocol = self.context.protocol
        options = protocol.options if protocol else ()
        self.options_box.setVisible(bool(options))
        for option in options:
            box = QCheckBox(option.label, self.options_box)
            box.setObjectName(f"option_{option.key}")
            self.options_list.insertWidget(self.options_list.count() - 1, box)
            box.toggled.connect(self.recheck)
            self._option_boxes[option.key] = box

    def _sync_options(self, check: StartCheck) -> None:
        for choice in check.options:
            box = self._option_boxes.get(choice.option.key)
            if box is None:
                continue
            if choice.already_elected:
                box.setChecked(True)
                box.setEnabled(False)
                box.setText(f"{choice.option.label} — {choice.already_elected}")
            elif not choice.available:
                box.setEnabled(False)
                box.setText(
                    f"{choice.option.label} — available from cycle {choice.option.from_cycle}"
                )

    # -- reading the form -----------------------------------------------------------------------
    def request(self) -> StartRequest:
        elected = frozenset(
            key for key, box in self._option_boxes.items() if box.isChecked() and box.isEnabled()
        )
        return StartRequest(
            start=from_qdate(self.start.date()),
            height_cm=parse_decimal(self.height_edit.text()),
            weight_kg=parse_decimal(self.weight_edit.text()),
            measured_on=from_qdate(self.measured_on.date()),
            weight_change_acknowledged=self.weight_ack.isChecked(),
            delay_reason=self.delay_reason.text(),
            override_reason=self.override_reason.text(),
            decided_by=self.decided_by.text(),
            elect_options=elected,
        )

    # -- live check -------------------------------------------------------------------------------
    def recheck(self) -> None:
        check = check_start(self.context, self.request(), self.today())
        self.check = check
        self._sync_options(check)
        self._show_day1(check)
        self._show_labs(check)
        self._show_body(check)
        self._show_plan(check.plan, check)
        self._show_problems(check)
        self.ok_button.setEnabled(check.ok)

    def _show_day1(self, check: StartCheck) -> None:
        if check.planned_start is None:
            self.planned_text.setText("")
            return
        # Say how the day 1 in the date field relates to the plan, so the two always agree.
        day1 = from_qdate(self.start.date())
        planned = check.planned_start
        if check.delay_days:
            delay = f"{WARNING_SIGN} {check.delay_days} day(s) late: give the reason."
        elif day1 < planned:
            delay = f"{(planned - day1).days} day(s) before the planned day."
        else:
            delay = "on time."
        self.planned_text.setText(
            f"Planned for {day_text(planned)}; day 1 {day_text(day1)} is {delay}"
        )
        self.delay_reason.setEnabled(bool(check.delay_days))

    def _show_labs(self, check: StartCheck) -> None:
        if check.conditions:
            lines = [
                f"{OK_MARK if c.met else NOT_OK_MARK} {c.describe()}" for c in check.conditions
            ]
            self.conditions_text.setText("\n".join(lines))
        else:
            self.conditions_text.setText("No treatment conditions for this cycle's drugs.")
        max_age = self.context.protocol.settings.lab_max_age_days if self.context.protocol else 0
        if check.labs:
            self.labs_text.setText(
                f"Latest labs (older than {max_age} days count as missing):\n"
                + "\n".join(f"• {line.describe()}" for line in check.labs)
            )
        else:
            self.labs_text.setText("No lab results are recorded.")
        failed = bool(check.failed_conditions)
        self.override_reason.setEnabled(failed)

    def _show_body(self, check: StartCheck) -> None:
        change = check.weight_change
        needs_ack = change is not None and change.needs_recalculation
        self.weight_ack.setVisible(needs_ack)
        if change is None:
            self.weight_change_text.setText(
                "No earlier BSA: this measurement gives the BSA."
                if check.new_bsa
                else "Enter the weight to compare it with the weight behind the last BSA."
            )
        else:
            mark = WARNING_SIGN + " " if needs_ack else ""
            self.weight_change_text.setText(mark + change.describe())
        if check.bsa is not None:
            self.bsa_result.setText(f"{check.bsa.describe()}\n{check.bsa_note}")
        else:
            self.bsa_result.setText("— (needs height and weight)")
        if check.crcl is not None:
            age = ""
            if check.crcl_lab is not None:
                days = (from_qdate(self.start.date()) - check.crcl_lab.collected_on).days
                age = f"; creatinine {days} day(s) before day 1"
            # The creatinine as entered, the CrCl cut to one decimal (core.dosing).
            self.crcl_result.setText(check.crcl.describe() + age)
        else:
            self.crcl_result.setText("— (needs the weight and a creatinine)")

    def _show_plan(self, plan: CyclePlan | None, check: StartCheck) -> None:
        self.phase_text.setText(
            f"{plan.phase_name} cycle {plan.cycle}"
            + (f", dose level {plan.dose_level}" if plan.dose_level is not None else "")
            + (f". {check.phase_note}" if check.phase_note else ".")
            if plan
            else check.phase_note
        )
        rows: list[list[str]] = []
        tips: list[str] = []
        if plan is not None:
            notes = {n.drug: n for n in plan.dose_notes}
            for day, dose in plan.doses():
                rows.append(
                    [
                        str(day.day),
                        day_text(day.date),
                        dose.drug_name,
                        format_quantity(dose.dose_mg, "mg"),
                        dose.describe_units(),
                        dose.route.value,
                    ]
                )
                note = notes.get(dose.drug)
                tips.append(
                    note.rounding.describe()
                    if note and note.rounding
                    else "; ".join(note.reasons if note else ())
                )
        self.plan_model.set_rows(rows, tips)
        lines: list[str] = []
        if plan is not None:
            for note in plan.dose_notes:
                if note.rounding is not None:
                    lines.append(f"{plan.drug_names[note.drug]}: {note.rounding.describe()}")
        drugs = self.context.protocol.drugs if self.context.protocol else {}
        for m in check.carried:
            drug = drugs.get(m.drug)
            # rules §8: both doses with their unit (mg, or mg/m² for bendamustine)
            change = format_dose_change(
                drug.name if drug else m.drug,
                m.old_dose,
                m.new_dose,
                drug.basis.unit if drug else None,
            )
            lines.append(
                f"Carried over: {change} from cycle {m.effective_cycle} day "
                f"{m.effective_day} ({m.reason}; {m.decided_by}, {day_text(m.decided_on)})"
            )
        if not check.carried:
            lines.append("No dose modifications recorded.")
        lines.extend(f"Note: {n}" for n in check.notes)
        self.carried_text.setText("\n".join(lines))

    def _show_problems(self, check: StartCheck) -> None:
        for name, label in self.errors.items():
            messages = check.messages(name)
            if name == "plan":
                messages = [p.message for p in check.problems if p.field in _PLAN_FIELDS]
            show_error(label, "\n".join(messages) if messages else None)
            if len(messages) > 1:
                label.setText("\n".join(f"{WARNING_SIGN} {m}" for m in messages))
        height = self.errors["height_cm"]
        if check.height_note and not check.messages("height_cm"):
            height.setText(f"{WARNING_SIGN} {check.height_note}")
            height.setVisible(True)
        if check.ok:
            extra = " The override is recorded as a decision." if check.failed_conditions else ""
            self.status.setText(
                f"Ready: cycle {check.number} starts {from_qdate(self.start.date())}.{extra}"
            )
            return
        reasons = [p.message for p in check.problems]
        text = "Start is not available yet:\n" + "\n".join(
            f"{WARNING_SIGN} {r}" for r in reasons[:_MAX_REASONS]
        )
        if len(reasons) > _MAX_REASONS:
            text += f"\n… and {len(reasons) - _MAX_REASONS} more."
        self.status.setText(text)

    # -- save ---------------------------------------------------------------------------------
    def save(self) -> None:
        self.recheck()
        if self.check is None or not self.check.ok:
            return
        request = self.request()
        if request.override_reason.strip():
            # Overriding a failed treatment condition is an investigator decision: signed.
            meaning = MEANINGS["condition_override"]
            self.signature = sign_then_save(self, self.record, meaning, self._start)
        elif request.elect_options:
            self.signature = sign_then_save(self, self.record, MEANINGS["decisions"], self._start)
        else:
            self._start(None)

    def _start(self, signer: Signer | None) -> None:
        try:
            with self.record.transaction(reason="cycle start"):
                self.result_ = start_cycle(
                    self.record, self.patient_id, self.request(), self.today(), self.protocols
                )
                if signer is not None:  # the override and option decisions carry the signature
                    for decision_id in self.result_.decision_ids:
                        self.record.repos.signatures.sign(signer, "decisions", decision_id)
        except StartRefused as exc:
            # The record changed since the dialog opened: read it again and show why.
            self.context = gather_start(self.record, self.patient_id, self.protocols)
            self.recheck()
            self.status.setText(f"{WARNING_SIGN} {exc.message}")
            return
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        self.accept()


def open_cycle_start(
    parent: QWidget | None,
    record: Record,
    patient_id: int,
    protocols: Mapping[str, Protocol] | None = None,
) -> CycleStartDialog | None:
    """Open the start dialog for the patient's next cycle (None when the record failed)."""
    try:
        dialog = CycleStartDialog(record, patient_id, parent, protocols)
    except StorageError as exc:
        show_storage_error(parent, exc)
        return None
    dialog.open()
    return dialog
