"""What every printed page shares: paper, styles, date wording and the footer.

The footer carries the two identifiers and the MRN, who printed the page and when, the record
version and "page n of m" (rules §8). "m" is only known once every page is laid out, so the
canvas keeps each page's drawing state and writes the footers when the document is saved.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4, LETTER, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from clinic_app.core.day_words import day_text
from clinic_app.reports.fonts import TEXT, TEXT_BOLD, draw_text, markup, register_fonts, text_width
from clinic_app.reports.models import PaperSize, PatientIdentity, PrintStamp

BODY_PT = 11.0  # large type for older eyes: no body text below 11 pt
SMALL_PT = 10.0  # footer and dense staff tables
MARGIN = 10 * mm
FOOTER_HEIGHT = 16 * mm

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def page_size(paper: PaperSize, *, wide: bool = False) -> tuple[float, float]:
    size = A4 if paper is PaperSize.A4 else LETTER
    return landscape(size) if wide else (size[0], size[1])


def weekday_text(day: date) -> str:
    return _WEEKDAYS[day.weekday()]


def time_text(moment: datetime) -> str:
    return f"{day_text(moment.date())} {moment:%H:%M}"


def style(size: float = BODY_PT, *, bold: bool = False, leading: float | None = None) -> Any:
    register_fonts()
    return ParagraphStyle(
        name=f"s{size}{bold}",
        fontName=TEXT_BOLD if bold else TEXT,
        fontSize=size,
        leading=leading or size * 1.25,
        alignment=TA_LEFT,
    )


def para(text: str, size: float = BODY_PT, *, bold: bool = False) -> Paragraph:
    """A paragraph of plain text (escaped, multi-script safe)."""
    return Paragraph(markup(text), style(size, bold=bold))


def rich(markup_text: str, size: float = BODY_PT) -> Paragraph:
    """A paragraph of markup the caller built from :func:`markup` pieces."""
    return Paragraph(markup_text, style(size))


def footer_lines(patient: PatientIdentity, stamp: PrintStamp) -> tuple[str, str]:
    who = f"{patient.full_name} · born {day_text(patient.date_of_birth)} · MRN {patient.mrn}"
    printed = (
        f"printed {time_text(stamp.printed_at)} by {stamp.printed_by} · "
        f"record version {stamp.record_version}"
    )
    return who, printed


def footed_canvas(patient: PatientIdentity, stamp: PrintStamp) -> type[Canvas]:
    """A canvas class that writes the patient footer, with "page n of m", on every page."""
    return lines_canvas(*footer_lines(patient, stamp))


def lines_canvas(who: str, printed: str) -> type[Canvas]:
    """A canvas class writing a two-line footer (the first in bold) and "page n of m" on every
    page; ``m`` is known only once every page is laid out, so footers are drawn on save."""

    class FootedCanvas(Canvas):  # type: ignore[misc]  # reportlab is untyped
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            register_fonts()
            kwargs["initialFontName"] = kwargs.get("initialFontName") or TEXT  # no Helvetica
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # ReportLab's method name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self._footer(number, total)
                super().showPage()
            super().save()

        def _footer(self, number: int, total: int) -> None:
            width, _ = self._pagesize
            top = FOOTER_HEIGHT - 3 * mm
            self.setLineWidth(0.7)
            self.line(MARGIN, top + 2 * mm, width - MARGIN, top + 2 * mm)
            page = f"page {number} of {total}"
            page_w = text_width(page, SMALL_PT, bold=True)
            room = width - 2 * MARGIN - page_w - 4 * mm
            # A long name (several scripts) must never run into "page n of m": the page
            # number moves to the second line, and only if both are too long does the
            # name's line shrink to fit.
            who_w = text_width(who, SMALL_PT, bold=True)
            page_line = 1
            if who_w > room and text_width(printed, SMALL_PT) <= room:
                page_line = 2
            fits = room if page_line == 1 else width - 2 * MARGIN
            who_pt = SMALL_PT if who_w <= fits else SMALL_PT * fits / who_w
            draw_text(self, MARGIN, top - SMALL_PT, who, who_pt, bold=True)
            draw_text(self, MARGIN, top - 2.3 * SMALL_PT, printed, SMALL_PT)
            x = width - MARGIN - page_w
            y = top - SMALL_PT if page_line == 1 else top - 2.3 * SMALL_PT
            draw_text(self, x, y, page, SMALL_PT, bold=True)

    return FootedCanvas


def write_atomically(path: Path, render: Callable[[Path], object]) -> None:
    """Render into a temporary file beside ``path``, then rename: never a partial document."""
    folder = path.parent
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(handle)
    temp = Path(temp_name)
    try:
        render(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_pdf(path: Path, data: bytes) -> None:
    """Write finished PDF bytes to ``path`` atomically."""
    write_atomically(path, lambda temp: temp.write_bytes(data))
