"""Fonts for printed documents: DejaVu Sans for text, WenQuanYi Zen Hei for what it lacks.

Patient names come in any script. DejaVu Sans covers Latin with diacritics, Greek and
Cyrillic; WenQuanYi Zen Hei covers CJK and Hangul. Text is split into runs by which font has
the glyph (the font's own cmap), so no character prints as a missing-glyph box. A character
neither font has is refused with :class:`FontCoverageError`: a box instead of a letter in a
name on a dosing card is a wrong-patient risk, not a cosmetic problem.

Lookup order for each font file: ``$CLINIC_APP_FONT_DIR``, ``resources/fonts/`` (the bundle),
then the Debian system paths. A missing file raises :class:`FontMissingError` naming the font
and the Debian package that provides it; nothing silently falls back to Helvetica.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from clinic_app.core.resources import resources_dir

TEXT = "ClinicSans"
"""DejaVu Sans, regular; the name every style uses."""
TEXT_BOLD = "ClinicSans-Bold"
FALLBACK = "ClinicCJK"
"""WenQuanYi Zen Hei (subfont 0 of the TTC), for characters DejaVu Sans lacks."""


@dataclass(frozen=True)
class FontFile:
    name: str
    file: str
    package: str
    system_dir: str
    subfont: int = 0


FONT_FILES = (
    FontFile(TEXT, "DejaVuSans.ttf", "fonts-dejavu-core", "/usr/share/fonts/truetype/dejavu"),
    FontFile(
        TEXT_BOLD, "DejaVuSans-Bold.ttf", "fonts-dejavu-core", "/usr/share/fonts/truetype/dejavu"
    ),
    FontFile(FALLBACK, "wqy-zenhei.ttc", "fonts-wqy-zenhei", "/usr/share/fonts/truetype/wqy"),
)


class FontMissingError(RuntimeError):
    """A font file the documents need is not installed."""


class FontCoverageError(ValueError):
    """Text holds a character that none of the document fonts can print."""


def font_dirs() -> list[Path]:
    dirs: list[Path] = []
    override = os.environ.get("CLINIC_APP_FONT_DIR")
    if override:
        dirs.append(Path(override))
    dirs.append(resources_dir() / "fonts")
    return dirs


def find_font_file(font: FontFile) -> Path:
    candidates = [d / font.file for d in font_dirs()] + [Path(font.system_dir) / font.file]
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise FontMissingError(
        f"The font {font.file} is needed to print documents but was not found (looked in "
        f"{looked}). Install the Debian package {font.package} or put {font.file} in "
        "$CLINIC_APP_FONT_DIR."
    )


@cache
def register_fonts() -> None:
    """Register the document fonts with ReportLab once per process."""
    for font in FONT_FILES:
        path = find_font_file(font)
        pdfmetrics.registerFont(TTFont(font.name, str(path), subfontIndex=font.subfont))
    # <b> in a Paragraph picks the family's bold face; the CJK font has one weight only.
    pdfmetrics.registerFontFamily(
        TEXT, normal=TEXT, bold=TEXT_BOLD, italic=TEXT, boldItalic=TEXT_BOLD
    )
    pdfmetrics.registerFontFamily(
        FALLBACK, normal=FALLBACK, bold=FALLBACK, italic=FALLBACK, boldItalic=FALLBACK
    )


def covers(font_name: str, char: str) -> bool:
    """Does the font have a glyph for ``char``? (Glyph 0 is .notdef, the box.)"""
    register_fonts()
    glyphs = pdfmetrics.getFont(font_name).face.charToGlyph
    return bool(glyphs.get(ord(char), 0))


def font_for(char: str, primary: str = TEXT) -> str:
    """The font that prints ``char``: the primary text font where it can, else the fallback."""
    if char in "\n\t" or covers(primary, char):
        return primary
    if covers(FALLBACK, char):
        return FALLBACK
    raise FontCoverageError(
        f"The character {char!r} (U+{ord(char):04X}) cannot be printed: neither DejaVu Sans "
        "nor WenQuanYi Zen Hei has it. Correct the text, or install a font that covers it."
    )


def runs(text: str, primary: str = TEXT) -> Iterator[tuple[str, str]]:
    """``(font name, text)`` runs, each printable in that one font."""
    current: str | None = None
    chunk: list[str] = []
    for char in text:
        font = font_for(char, primary)
        if font != current and chunk:
            assert current is not None
            yield current, "".join(chunk)
            chunk = []
        current = font
        chunk.append(char)
    if chunk and current is not None:
        yield current, "".join(chunk)


def markup(text: str) -> str:
    """Paragraph markup for plain ``text``: escaped, fallback runs wrapped in ``<font>``.

    >>> markup("O'Brien & Søn <x>")
    "O'Brien &amp; Søn &lt;x&gt;"
    >>> markup("山田 Taro")
    '<font name="ClinicCJK">山田</font> Taro'
    """
    parts = []
    for font, chunk in runs(text):
        safe = escape(chunk)
        parts.append(safe if font == TEXT else f'<font name="{font}">{safe}</font>')
    return "".join(parts)


def draw_text(
    canvas: object, x: float, y: float, text: str, size: float, *, bold: bool = False
) -> float:
    """Draw ``text`` on a canvas run by run; returns the x after the last character."""
    primary = TEXT_BOLD if bold else TEXT
    for font, chunk in runs(text, primary):
        canvas.setFont(font, size)  # type: ignore[attr-defined]
        canvas.drawString(x, y, chunk)  # type: ignore[attr-defined]
        x += pdfmetrics.stringWidth(chunk, font, size)
    return x


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    primary = TEXT_BOLD if bold else TEXT
    return float(sum(pdfmetrics.stringWidth(c, f, size) for f, c in runs(text, primary)))
