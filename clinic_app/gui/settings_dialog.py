"""Settings: the form from ``ui/settings.ui`` over :mod:`clinic_app.services.settings`.

Every value is checked by the service's ``parse`` before anything is written; each refusal is
shown under its field with a warning sign. Record settings that changed are written in ONE
transaction with the reason typed at the bottom (audited); the data folder and the clinic
server's address (refused with a password in it) go to this user's config file. Window layout
is not here: it stays in QSettings.

Open it with :func:`open_settings_dialog` (the main window's Settings action).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core import labs
from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.ismp import format_number
from clinic_app.gui import fit
from clinic_app.gui.errors import show_storage_error
from clinic_app.gui.uiload import child, load_ui
from clinic_app.gui.warnings import show_error as show_field_error
from clinic_app.gui.warnings import style_error_label
from clinic_app.services import lab_entry
from clinic_app.services import settings as st
from clinic_app.storage.database import Record
from clinic_app.storage.errors import StorageError

# Line edits of the form -> the setting they hold.
EDITS: dict[str, str] = {
    "clinic_name": st.CLINIC_NAME,
    "clinic_phone": st.CLINIC_PHONE,
    "weight_change_pct": st.WEIGHT_CHANGE_PCT,
    "lab_max_age_days": st.LAB_MAX_AGE_DAYS,
    "backup_folder": st.BACKUP_FOLDER,
    "backup_keep": st.BACKUP_KEEP,
    "data_folder": st.DATA_FOLDER,
    "data_server": st.DATA_SERVER,
}
TAB_OF_FIELD = {
    "clinic_name": 0,
    "clinic_phone": 0,
    "paper_size": 0,
    "weight_change_pct": 1,
    "lab_max_age_days": 1,
    "ranges": 2,
    "backup_folder": 3,
    "backup_keep": 3,
    "data_folder": 3,
    "data_server": 3,
    "reason": 3,
}


@dataclass
class RangeRow:
    test: str
    name: str
    unit: str
    lln: str
    uln: str
    own: bool
    original: tuple[str, str]

    @property
    def changed(self) -> bool:
        return (self.lln.strip(), self.uln.strip()) != self.original


def _text(value: Decimal | None) -> str:
    return "" if value is None else format_number(value)


class ReferenceRangeModel(QAbstractTableModel):
    """One row per panel test and unit: LLN and ULN editable, where each value comes from."""

    HEADERS = ("Test", "Unit", "LLN", "ULN", "Source")

    def __init__(self, record: Record, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        ranges = lab_entry.reference_ranges(record)
        own_raw = st.stored(record, st.REFERENCE_RANGES)
        own = (
            lab_entry.ReferenceRanges.from_mapping(own_raw, f"setting {st.REFERENCE_RANGES}")
            if isinstance(own_raw, dict)
            else lab_entry.ReferenceRanges()
        )
        self.rows: list[RangeRow] = []
        for test in lab_entry.PANEL_TESTS:
            entry = labs.lab_test(test)
            for unit in entry.units:
                limits = ranges.get(test, unit)
                lln, uln = _text(limits.lln), _text(limits.uln)
                self.rows.append(
                    RangeRow(
                        test, entry.name, unit, lln, uln, (test, unit) in own.ranges, (lln, uln)
                    )
                )

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.HEADERS)
        ):
            return self.HEADERS[section]
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if index.column() == 4:
                if row.changed:
                    return "changed, not saved yet"
                return "this clinic" if row.own else "default"
            return (row.name, row.unit, row.lln, row.uln, "")[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole and index.column() in (2, 3):
            return "Empty: the laboratory reports no limit here."
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsEditable if index.column() in (2, 3) else base

    def setData(
        self,
        index: QModelIndex | QPersistentModelIndex,
        value: Any,
        role: int = Qt.ItemDataRole.EditRole,
    ) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or index.column() not in (2, 3):
            return False
        row = self.rows[index.row()]
        if index.column() == 2:
            row.lln = str(value).strip()
        else:
            row.uln = str(value).strip()
        self.dataChanged.emit(index, self.index(index.row(), 4))
        return True

    def changed_rows(self) -> list[RangeRow]:
        return [row for row in self.rows if row.changed]


class SettingsDialog(QDialog):
    """Change the settings; ``saved`` is True once a Save wrote them."""

    def __init__(
        self, record: Record, parent: QWidget | None = None, config: Path | None = None
    ) -> None:
        super().__init__(parent)
        self.record = record
        self.config = config
        self.saved = False
        self.setWindowTitle(f"Settings — {record.location}")
        self.form = load_ui("settings.ui", self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        self.tabs = child(self.form, QTabWidget, "tabs")
        self.edits = {name: child(self.form, QLineEdit, name) for name in EDITS}
        self.paper_size = child(self.form, QComboBox, "paper_size")
        self.paper_size.addItems(list(st.spec(st.PAPER_SIZE).choices))
        self.reason = child(self.form, QLineEdit, "reason")
        self.errors = {
            name: child(self.form, QLabel, f"{name}_error")
            for name in (*EDITS, "paper_size", "ranges", "reason")
        }
        for label in self.errors.values():
            style_error_label(label)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ranges_model = ReferenceRangeModel(record, self)
        self.ranges = child(self.form, QTableView, "ranges")
        self.ranges.setModel(self.ranges_model)
        self.ranges.verticalHeader().setVisible(False)
        self.ranges.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.ranges.horizontalHeader().setStretchLastSection(True)
        for name in ("backup_folder", "data_folder"):
            button = child(self.form, QPushButton, f"{name}_browse")
            button.clicked.connect(lambda _=False, n=name: self.browse(n))
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.load()
        self.edits["clinic_name"].setFocus()

    # -- filling the form -------------------------------------------------------------------
    def load(self) -> None:
        for name, key in EDITS.items():
            edit = self.edits[name]
            s = st.spec(key)
            if s.scope is st.Scope.MACHINE:
                current = st.machine_values(self.config).get(key)
            else:
                current = st.stored(self.record, key)
            edit.setText("" if current is None else str(current))
            if (
                not edit.placeholderText()
                or s.scope is st.Scope.MACHINE
                or key
                in (
                    st.WEIGHT_CHANGE_PCT,
                    st.LAB_MAX_AGE_DAYS,
                    st.BACKUP_FOLDER,
                    st.BACKUP_KEEP,
                )
            ):
                default = st.display(self.record, key, config=self.config)
                edit.setPlaceholderText(default if current is None else f"default {s.default_text}")
        paper = st.value(self.record, st.PAPER_SIZE)
        self.paper_size.setCurrentText(str(paper))
        self.original = self.current_texts()

    def current_texts(self) -> dict[str, str]:
        texts = {EDITS[name]: edit.text().strip() for name, edit in self.edits.items()}
        texts[st.PAPER_SIZE] = self.paper_size.currentText()
        return texts

    def browse(self, name: str) -> None:
        start = self.edits[name].text() or str(Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Choose a folder", start)
        if chosen:
            self.edits[name].setText(chosen)

    # -- saving -----------------------------------------------------------------------------
    def show_error(self, field: str, message: str) -> None:
        show_field_error(self.errors[field], message)

    def clear_errors(self) -> None:
        for label in self.errors.values():
            label.clear()
            label.setVisible(False)

    def changes(self) -> tuple[dict[str, str], dict[str, str]]:
        """(record key -> text, machine key -> text) of the fields that changed."""
        record: dict[str, str] = {}
        machine: dict[str, str] = {}
        for key, text in self.current_texts().items():
            if text == self.original[key]:
                continue
            (machine if st.spec(key).scope is st.Scope.MACHINE else record)[key] = text
        for row in self.ranges_model.changed_rows():
            record[f"{st.REFERENCE_RANGES}.{row.test}.{row.unit}"] = f"{row.lln},{row.uln}"
        return record, machine

    def show_setting(self, key: str) -> None:
        """Open at the field that holds ``key`` (e.g. the clinic telephone), ready to type."""
        name = self.field_of(key)
        self.tabs.setCurrentIndex(TAB_OF_FIELD.get(name, 0))
        if name in self.edits:
            self.edits[name].setFocus()
            self.edits[name].selectAll()

    def field_of(self, key: str) -> str:
        if key.startswith(st.REFERENCE_RANGES):
            return "ranges"
        if key == st.PAPER_SIZE:
            return "paper_size"
        return next(name for name, k in EDITS.items() if k == key)

    def check(self, record_changes: dict[str, str], machine: dict[str, str]) -> bool:
        ok = True
        for key, text in {**record_changes, **machine}.items():
            field = self.field_of(key)
            try:
                if field == "ranges":
                    st.range_key(key)
                    st.range_text(key, text)
                elif text or st.spec(key).scope is st.Scope.RECORD:
                    if not text:
                        raise DomainError(
                            "A stored setting cannot be emptied; type the value to use."
                        )
                    st.parse(key, text)
            except DomainError as exc:
                prefix = ""
                if field == "ranges":
                    _, test, unit = key.split(".", 2)
                    prefix = f"{labs.lab_test(test).name} {unit}: "
                self.show_error(field, prefix + exc.message)
                ok = False
        if record_changes and not self.reason.text().strip():
            self.show_error("reason", "Say why the settings change; the audit trail keeps it.")
            ok = False
        return ok

    def save(self) -> None:
        self.clear_errors()
        record_changes, machine = self.changes()
        if not self.check(record_changes, machine):
            first = next(name for name, label in self.errors.items() if not label.isHidden())
            self.tabs.setCurrentIndex(TAB_OF_FIELD.get(first, 0))
            if first in self.edits:
                self.edits[first].setFocus()
            elif first == "reason":
                self.reason.setFocus()
            # A warning needs its full height, never cut to one line: the tab's page learns
            # the new height from its posted layout request, then the dialog grows to it.
            for _level in range(6):  # page, stack, tabs, form, dialog: one level per round
                QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
            fit.refit(self)
            return
        reason = self.reason.text().strip()
        try:
            if record_changes:
                with self.record.transaction(reason=reason):  # all or nothing
                    for key, text in record_changes.items():
                        st.set_value(self.record, key, text, reason=reason)
            for key, text in machine.items():
                st.set_machine_value(key, text, self.config)
        except (DomainError, ProtocolError) as exc:
            self.show_error("reason", str(exc))
            return
        except OSError as exc:
            self.show_error("data_folder", f"The settings file cannot be written: {exc}")
            return
        except StorageError as exc:
            show_storage_error(self, exc)
            return
        self.saved = True
        self.accept()


def open_settings_dialog(
    record: Record, parent: QWidget | None = None, at: str | None = None
) -> SettingsDialog:
    """Show the settings dialog (modeless on top of ``parent``), at setting ``at``; returns it."""
    dialog = SettingsDialog(record, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    if at is not None:
        dialog.show_setting(at)
    return dialog


SHORTCUT = QKeySequence.StandardKey.Preferences
"""The platform's settings shortcut (Ctrl+, on Linux/Windows, Cmd+, on macOS)."""
