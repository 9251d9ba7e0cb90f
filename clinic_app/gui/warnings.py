"""The one warning sign and the one error label of the GUI.

A refusal or a warning is shown in red *and* with the warning sign, so colour is never the only
signal (a nurse with colour-blindness, a grey-scale print of a screenshot).
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QLabel, QWidget

WARNING_SIGN = "⚠"
ERROR_STYLE = "color: #b00020;"
SEVERE_STYLE = "color: #b00020; font-weight: bold;"


def warned(message: str) -> str:
    """``message`` behind the warning sign."""
    return f"{WARNING_SIGN} {message}"


def warned_lines(messages: list[str] | tuple[str, ...]) -> str:
    """One warning-signed line per message."""
    return "\n".join(warned(m) for m in messages)


def style_error_label(label: QLabel) -> QLabel:
    """Make an existing label (one from a ``.ui`` file) a field's error label: red, wrapping,
    hidden until it has something to say."""
    label.setWordWrap(True)
    label.setStyleSheet(ERROR_STYLE)
    label.setVisible(False)
    return label


def error_label(parent: QWidget | None = None, name: str = "") -> QLabel:
    """The hidden label under a field where its refusal appears."""
    label = QLabel(parent)
    if name:
        label.setObjectName(name)
    return style_error_label(label)


def show_error(label: QLabel, message: str | None) -> None:
    """A field's message behind the warning sign; no message hides the label."""
    label.setText(warned(message) if message else "")
    label.setVisible(bool(message))


def show_error_and_fit(label: QLabel, message: str) -> None:
    """Like ``show_error``; a dialog around it grows so the sentence is never clipped."""
    show_error(label, message)
    window = label.window()
    if isinstance(window, QDialog):
        window.adjustSize()
