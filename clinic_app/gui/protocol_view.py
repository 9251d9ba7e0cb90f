"""Trial ▸ Protocols…: a read-only page per protocol for trial staff.

It names each protocol's version and source text and lists how the app reads the places where
that text is ambiguous or mistyped (the protocol file's ``readings``). Those explanations are
for the people who answer for the protocol; nurse screens show only what to do.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from clinic_app.core.protocol import Protocol
from clinic_app.gui import fit


def _cycle_lengths(protocol: Protocol) -> str:
    """The cycle length ("cycles of 21 days"), naming each phase whose cycles are another
    length (VRd: 28-day maintenance)."""
    text = f"cycles of {protocol.cycle_length_days} days"
    other = [
        f"{p.name}: {protocol.cycle_length(p.key)} days"
        for p in protocol.phases
        if protocol.cycle_length(p.key) != protocol.cycle_length_days
    ]
    return f"{text} ({'; '.join(other)})" if other else text


def protocol_page(protocol: Protocol) -> str:
    """The page of one protocol, as HTML (every text escaped)."""
    e = html.escape
    parts = [
        f"<h2>{e(protocol.name)}</h2>",
        f"<p>{e(protocol.title)}</p>",
        f"<p>Version {e(str(protocol.version))}; {e(_cycle_lengths(protocol))}.</p>",
        "<h3>How the protocol text is read</h3>",
    ]
    if protocol.readings:
        parts.append("<ul>")
        parts += [f"<li>{e(r)}</li>" for r in protocol.readings]
        parts.append("</ul>")
    else:
        parts.append("<p>The protocol text is applied as written; nothing needed reading.</p>")
    if protocol.caps.inconsistency:
        parts.append(f"<h3>Enrolment caps</h3><p>{e(protocol.caps.inconsistency)}</p>")
    return "\n".join(parts)


class ProtocolsWindow(QDialog):
    """One read-only tab per protocol."""

    def __init__(self, protocols: Mapping[str, Protocol], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Protocols — how the app reads them")
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget(self)
        self.pages: dict[str, QTextBrowser] = {}
        for key, protocol in sorted(protocols.items(), key=lambda kv: kv[1].name):
            page = QTextBrowser(self.tabs)
            page.setObjectName(f"protocol_{key}")
            page.setOpenLinks(False)
            page.setHtml(protocol_page(protocol))
            self.tabs.addTab(page, protocol.name)
            self.pages[key] = page
        layout.addWidget(self.tabs, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        metrics = self.fontMetrics()
        wanted = QSize(90 * metrics.averageCharWidth(), 28 * metrics.lineSpacing())
        fit.fit_to_screen(self, self.sizeHint().expandedTo(wanted))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.reject()
            return
        super().keyPressEvent(event)


def open_protocols(
    protocols: Mapping[str, Protocol], parent: QWidget | None = None
) -> ProtocolsWindow:
    window = ProtocolsWindow(protocols, parent)
    window.show()
    window.raise_()
    return window
