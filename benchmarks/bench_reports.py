"""Time to render one dosing card and a batch of 100, against a bare ReportLab floor.

The floor is a plain ReportLab document with the same amount of text in the same fonts
(DejaVu Sans, embedded), one paragraph per line of the card, and no tables, calendar or
footer pass. The ratio says what the card's layout costs on top of putting that text on
paper. Run: ``.venv/bin/python benchmarks/bench_reports.py``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from io import BytesIO

from pypdf import PdfReader
from reportlab.lib.pagesizes import A4, landscape
from reportlab.platypus import Paragraph, SimpleDocTemplate

from clinic_app.core.plan import plan_cycle
from clinic_app.core.protocol_loader import load_protocols
from clinic_app.reports.dosing_card import render_dosing_card
from clinic_app.reports.fonts import markup
from clinic_app.reports.layout import style
from clinic_app.reports.models import Clinic, DosingCard, PatientIdentity, PrintStamp


def card() -> DosingCard:
    plan = plan_cycle(load_protocols()["dextr"], cycle=1, start=date(2026, 1, 5))
    return DosingCard(
        PatientIdentity("Zoë Ñúñez-Łukasiewicz", date(1950, 3, 12), "MRN-0001"),
        PrintStamp(datetime(2026, 1, 5, 8, 30, tzinfo=UTC), "nurse", "schema 2 · change 1"),
        Clinic("Oncology Day Unit", "+1 555 0100"),
        plan,
    )


def floor(lines: list[str]) -> bytes:
    buffer = BytesIO()
    body = style()
    SimpleDocTemplate(buffer, pagesize=landscape(A4)).build(
        [Paragraph(markup(line), body) for line in lines]
    )
    return buffer.getvalue()


def timed(label: str, work: object, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        work()  # type: ignore[operator]
    seconds = (time.perf_counter() - start) / repeat
    print(f"{label:<42} {seconds * 1000:8.1f} ms each ({repeat} runs)")
    return seconds


def main() -> None:
    the_card = card()
    data = render_dosing_card(the_card)  # warm-up: font loading, protocol parsing
    lines = [
        line for page in PdfReader(BytesIO(data)).pages for line in page.extract_text().splitlines()
    ]
    floor(lines)
    print(f"card: {len(data):,} bytes, {len(lines)} lines of text")
    one = timed("dosing card", lambda: render_dosing_card(the_card), 10)
    bare = timed("bare ReportLab, same text (floor)", lambda: floor(lines), 10)
    start = time.perf_counter()
    for _ in range(100):
        render_dosing_card(the_card)
    batch = time.perf_counter() - start
    print(f"{'batch of 100 cards':<42} {batch:8.2f} s")
    print(f"ratio card / floor: {one / bare:.2f}")


if __name__ == "__main__":
    main()
