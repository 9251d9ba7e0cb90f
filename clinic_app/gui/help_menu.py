"""The Help menu's windows: the user guide (read-only) and the list of keyboard shortcuts.

The guide is ``docs/user-guide.md``, read where ``core.resources.docs_dir()`` finds it: the
checkout's ``docs/``, the wheel's ``clinic_app_docs`` package or the bundle's ``docs/``. Where it
is missing, the viewer says so and where to find it, instead of opening nothing. The shortcuts
list is built from the window's own actions, so it cannot drift from what the keys do.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.resources import docs_dir
from clinic_app.gui import fit

GUIDE_NAME = "user-guide.md"


def guide_path() -> Path | None:
    """Where the user guide is on this computer, or None."""
    path = docs_dir() / GUIDE_NAME
    return path if path.is_file() else None


def _fit(dialog: QDialog, chars: int, lines: int) -> None:
    """A size from the font, within the screen."""
    metrics = dialog.fontMetrics()
    width, height = metrics.averageCharWidth() * chars, metrics.height() * lines
    screen = fit.available(dialog)
    dialog.resize(min(width, screen.width() * 9 // 10), min(height, screen.height() * 8 // 10))


class GuideViewer(QDialog):
    """The user guide, read-only, with links and search by Ctrl+F in the text."""

    def __init__(self, parent: QWidget | None = None, path: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("User guide — clinic-app")
        self.setObjectName("user_guide")
        self.path = path if path is not None else guide_path()
        self.text = QTextBrowser(self)
        self.text.setOpenExternalLinks(False)
        self.text.setReadOnly(True)
        if self.path is not None:
            self.text.setSearchPaths([str(self.path.parent)])
            self.text.setMarkdown(self.path.read_text(encoding="utf-8"))
        else:
            self.text.setMarkdown(
                "# The user guide is not installed\n\nThis copy of clinic-app was installed "
                "without its user guide. It is the file `docs/user-guide.md` of the "
                "clinic-app project; ask whoever installed the app for it."
            )
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        _fit(self, 100, 40)


def shortcut_rows(actions: list[QAction]) -> list[tuple[str, str]]:
    """(what, keys) of every action with a shortcut, in menu wording."""
    rows = []
    for action in actions:
        keys = action.shortcut()
        if keys.isEmpty():
            continue
        what = action.text().replace("&", "").rstrip("…").strip()
        rows.append((what, keys.toString(QKeySequence.SequenceFormat.NativeText)))
    return rows


class ShortcutsDialog(QDialog):
    """Every keyboard shortcut of the main window, as a table."""

    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts — clinic-app")
        self.setObjectName("shortcuts")
        rows = shortcut_rows(actions)
        self.table = QTableWidget(len(rows), 2, self)
        self.table.setHorizontalHeaderLabels(["What", "Keys"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (what, keys) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(what))
            self.table.setItem(r, 1, QTableWidgetItem(keys))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        _fit(self, 70, len(rows) + 6)
