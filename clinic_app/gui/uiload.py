"""Load the Qt Designer forms in ``ui/`` at run time (thin dialog classes wrap them).

The folder is found by :func:`clinic_app.core.resources.ui_dir`: ``ui/`` in the source tree
and in a bundle, the ``clinic_app_ui`` data package when installed from a wheel.
"""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import QFile, QIODevice, QObject
from PySide6.QtUiTools import QUiLoader
from PySide6.QtWidgets import QWidget

from clinic_app.core.resources import ui_dir

W = TypeVar("W", bound=QObject)


class UiFormError(RuntimeError):
    """A form file is missing or does not hold what the code expects (a packaging bug)."""


def load_ui(name: str, parent: QWidget | None = None) -> QWidget:
    """The widget built from ``ui/<name>`` (for example ``"new_patient.ui"``)."""
    path = ui_dir() / name
    file = QFile(str(path))
    if not file.open(QIODevice.OpenModeFlag.ReadOnly):
        raise UiFormError(f"The form {path} cannot be opened: {file.errorString()}")
    try:
        widget = QUiLoader().load(file, parent)
    finally:
        file.close()
    if widget is None:
        raise UiFormError(f"The form {path} could not be built.")
    return widget


def child(root: QObject, kind: type[W], name: str) -> W:
    """The named child of ``root``, checked to be a ``kind``; a missing one is a form bug."""
    found = root.findChild(kind, name)
    if found is None:
        raise UiFormError(f"The form has no {kind.__name__} named {name!r}.")
    return found
