"""Every glyph of a multi-script name is in the font the PDF uses for it (issue 5)."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader

from clinic_app.reports import fonts
from clinic_app.reports.dosing_card import render_dosing_card
from clinic_app.services import documents
from clinic_app.storage.database import Record
from tests.reports.conftest import MULTI_SCRIPT_FAMILY, MULTI_SCRIPT_GIVEN, PRINTED_AT

FONT_OF_BASEFONT = {
    "DejaVuSans": fonts.TEXT,
    "DejaVuSans-Bold": fonts.TEXT_BOLD,
    "WenQuanYiZenHei-0": fonts.FALLBACK,
}


def test_multi_script_name_prints_in_fonts_that_have_every_glyph(record: Record) -> None:
    card = documents.build_dosing_card(record, "MRN-0001", 1, printed_at=PRINTED_AT)
    reader = PdfReader(BytesIO(render_dosing_card(card)))
    name_chars = set((MULTI_SCRIPT_GIVEN + MULTI_SCRIPT_FAMILY).replace(" ", ""))
    seen: dict[str, set[str]] = {}

    def visit(text: str, cm: object, tm: object, font: dict | None, size: float) -> None:
        if not text.strip():
            return  # line breaks the extractor adds, not text drawn in a font
        base = str(font["/BaseFont"]).split("+", 1)[-1] if font else "none"
        seen.setdefault(base, set()).update(text)

    page = reader.pages[0]
    text = page.extract_text(visitor_text=visit)
    for part in MULTI_SCRIPT_GIVEN.split() + MULTI_SCRIPT_FAMILY.split():
        assert part in text
    printed = set().union(*seen.values())
    assert name_chars <= printed
    assert set(seen) <= set(FONT_OF_BASEFONT)  # no Helvetica, nothing unexpected
    for base, chars in seen.items():
        for char in chars & name_chars:
            assert fonts.covers(FONT_OF_BASEFONT[base], char), (base, char)
    # the CJK and Hangul characters went to the fallback font, the rest to DejaVu Sans
    assert {"山", "田", "김"} <= seen["WenQuanYiZenHei-0"]
    assert {"ë", "Ł", "Α", "Д"} <= seen["DejaVuSans"]
    # every font is embedded (a FontFile2 stream), none relies on the viewer's fonts
    for ref in page["/Resources"]["/Font"].values():
        font = ref.get_object()
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor


def test_markup_escapes_and_wraps_fallback_runs() -> None:
    assert fonts.markup("O'Brien & Søn <x>") == "O'Brien &amp; Søn &lt;x&gt;"
    assert fonts.markup("김민준 Kim") == '<font name="ClinicCJK">김민준</font> Kim'


def test_a_character_no_font_has_is_refused() -> None:
    # Devanagari is in neither DejaVu Sans nor WenQuanYi Zen Hei: refused, never a box
    with pytest.raises(fonts.FontCoverageError, match=r"U\+0905"):
        fonts.markup("\u0905nil")


def test_missing_font_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    font = fonts.FontFile("X", "NoSuchFont.ttf", "fonts-nosuch", str(tmp_path / "absent"))
    monkeypatch.setenv("CLINIC_APP_FONT_DIR", str(tmp_path))
    with pytest.raises(fonts.FontMissingError, match="Install the Debian package fonts-nosuch"):
        fonts.find_font_file(font)


def test_font_dir_override_is_looked_at_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = fonts.FONT_FILES[0]
    (tmp_path / system.file).write_bytes(Path(system.system_dir, system.file).read_bytes())
    monkeypatch.setenv("CLINIC_APP_FONT_DIR", str(tmp_path))
    assert fonts.find_font_file(system) == tmp_path / system.file
