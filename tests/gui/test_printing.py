"""Printing: the dosing card and toxicity summary previewed from a real record (pages rendered
with pdftoppm, saved as PDF and read back), a refusal when a setting is missing, and the morning
batch off the GUI thread: complete, cancelled, and no thread left running."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from clinic_app.gui.background import Progress
from clinic_app.gui.printing import (
    DOSING_CARD,
    TOXICITY_SUMMARY,
    BatchDialog,
    PreviewDialog,
    write_cards,
)
from clinic_app.storage.database import Record
from tests.services.helpers import cycle, enrol, patient

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise)")
DAY = date(2024, 1, 2)
SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


def morning(record: Record, n: int, phone: bool = True) -> list[int]:
    if phone:
        record.repos.settings.set("clinic.phone", "+1 555 0100", reason="setup")
    ids = []
    for i in range(n):
        pid = patient(record, f"P-{i}", f"Family{i}")
        eid = enrol(record, pid, "dextr", date(2023, 12, 28))
        cycle(record, eid, 1, "induction", DAY)  # DexTR induction: flat doses
        ids.append(pid)
    return ids


def text_of(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


@pytest.mark.parametrize("kind", [DOSING_CARD, TOXICITY_SUMMARY])
def test_preview_and_save_as_pdf(qtbot: QtBot, record: Record, tmp_path: Path, kind: str) -> None:
    [pid] = morning(record, 1)
    d = PreviewDialog(record, kind, pid, 1)
    qtbot.addWidget(d)
    d.show()
    assert "Ana Family0" in d.windowTitle() and "P-0" in d.windowTitle()
    if shutil.which("pdftoppm"):
        assert d.pages and d.print_button.isEnabled()
        assert d.message.text().endswith("page(s).")
    saved = d.save_as(str(tmp_path / "out.pdf"))
    assert saved is not None
    assert "P-0" in text_of(saved)
    if os.environ.get("CLINIC_SCREENSHOTS") and kind == DOSING_CARD:
        d.grab().save(str(SHOTS / "print_preview.png"))
    d.close()


def test_missing_clinic_phone_is_said_not_printed(qtbot: QtBot, record: Record) -> None:
    [pid] = morning(record, 1, phone=False)
    d = PreviewDialog(record, DOSING_CARD, pid, 1)
    qtbot.addWidget(d)
    assert "telephone number is not set" in d.message.text()
    assert d.message.text().startswith("⚠")
    assert not d.save_button.isEnabled() and not d.print_button.isEnabled()
    d.close()


def test_batch_writes_every_card_off_the_gui_thread(
    qtbot: QtBot, record: Record, tmp_path: Path
) -> None:
    morning(record, 3)
    out = tmp_path / "cards"
    out.mkdir()
    d = BatchDialog(record.path, DAY, out)
    qtbot.addWidget(d)
    with qtbot.waitSignal(d.batch_finished, timeout=60_000) as done:
        pass
    assert done.args == ["3 card(s) written"]
    qtbot.waitUntil(lambda: not d.runner.running)
    assert sorted(p.name for p in out.iterdir()) == [
        "P-0-cycle1-card.pdf",
        "P-1-cycle1-card.pdf",
        "P-2-cycle1-card.pdf",
    ]
    assert d.result_text == "3 card(s) written"


def test_batch_cancel_stops_after_the_current_card(
    qtbot: QtBot, record: Record, tmp_path: Path
) -> None:
    morning(record, 3)
    out = tmp_path / "cards"
    out.mkdir()
    # Cancel as soon as the first card starts (on this thread: no race).
    progress = Progress(lambda *_: progress.cancel())
    result = write_cards(record, progress, DAY, out)
    assert (result.printed, result.failed, result.cancelled) == (1, 0, True)
    assert [p.name for p in out.iterdir()] == ["P-0-cycle1-card.pdf"]


def test_cancel_button_then_close_leaves_no_thread(
    qtbot: QtBot, record: Record, tmp_path: Path
) -> None:
    morning(record, 3)
    d = BatchDialog(record.path, DAY, tmp_path)
    qtbot.addWidget(d)
    d.show()
    qtbot.keyClick(d, Qt.Key.Key_Escape)  # Esc = Cancel
    qtbot.waitUntil(lambda: not d.runner.running, timeout=60_000)
    assert d.runner.cancel_requested or d.result_text.startswith("3 card(s)")
    d.close()
    assert not d.runner.running
