"""Investigator decisions other than the DLT review are signed too (issue: users and
signatures): a dose modification and an end-of-cycle decision are saved only once the signer
re-enters the password, and the signature names the signer and the meaning."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from clinic_app.core.protocol import Protocol
from clinic_app.gui.signature import SignatureDialog
from clinic_app.storage.database import Record
from clinic_app.storage.users import Role
from tests.gui.test_dose_admin import grid, modification, started

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")

INVESTIGATOR_PW = "investigator pw 333"


def test_dose_modification_is_signed(
    qtbot: QtBot, record: Record, protocols: dict[str, Protocol]
) -> None:
    pid = started(record, protocols)  # open mode while the patient is set up
    record.repos.users.create_first_administrator("admin", "Ada Admin", "admin password 1")
    record.set_user("admin")
    record.repos.users.add("dr.b", "Dr Bea Byrne", Role.INVESTIGATOR, INVESTIGATOR_PW)
    record.repos.users.authenticate("dr.b", INVESTIGATOR_PW)
    record.set_user("dr.b")

    m = modification(qtbot, grid(qtbot, record, pid, protocols))
    qtbot.keyClicks(m.reason, "grade 4 neutropenia")
    m.cause.setCurrentIndex(0)  # haematological
    qtbot.keyClick(m.reason, Qt.Key.Key_Return)
    sig = m.signature
    assert isinstance(sig, SignatureDialog)
    assert "I confirm this dose modification" in sig.windowTitle()
    assert record.repos.modifications.for_enrolment(1) == []  # nothing before the signature
    qtbot.keyClicks(sig.password, "wrong password here")
    qtbot.keyClick(sig.password, Qt.Key.Key_Return)
    assert record.repos.modifications.for_enrolment(1) == []
    qtbot.keyClicks(sig.password, INVESTIGATOR_PW)
    qtbot.keyClick(sig.password, Qt.Key.Key_Return)
    (saved,) = record.repos.modifications.for_enrolment(1)
    assert saved.id is not None
    (signature,) = record.repos.signatures.for_row("dose_modifications", saved.id)
    assert (signature.printed_name, signature.meaning) == (
        "Dr Bea Byrne",
        "I confirm this dose modification",
    )
