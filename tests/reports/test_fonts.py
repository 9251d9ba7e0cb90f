"""Every glyph of a multi-script name is in the font the PDF uses for it (issue 5)."""

from __future__ import annotations

import shutil
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


def test_missing_font_names_the_font_and_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    font = fonts.FontFile(
        "X", "NoSuchFont.ttf", "No Such Sans", "fonts-nosuch", str(tmp_path / "absent")
    )
    monkeypatch.setenv("CLINIC_APP_FONT_DIR", str(tmp_path))
    with pytest.raises(fonts.FontMissingError) as refused:
        fonts.find_font_file(font)
    message = str(refused.value)
    assert "the font No Such Sans (NoSuchFont.ttf) is not installed" in message
    assert "the package fonts-nosuch" in message  # this test runs on Linux


def test_install_advice_speaks_to_each_operating_system() -> None:
    font = fonts.FONT_FILES[0]
    assert "Install for all users" in fonts.install_advice(font, "win32")
    assert "Font Book" in fonts.install_advice(font, "darwin")
    linux = fonts.install_advice(font, "linux")
    assert "fonts-dejavu-core" in linux and "~/.local/share/fonts" in linux
    assert "Debian" not in fonts.install_advice(font, "win32")


def test_platform_font_folders(tmp_path: Path) -> None:
    windows = fonts.platform_font_dirs(
        "win32", {"WINDIR": r"D:\Win", "LOCALAPPDATA": r"D:\Users\n\AppData\Local"}, tmp_path
    )
    assert windows[0] == Path(r"D:\Win") / "Fonts"
    assert windows[1] == Path(r"D:\Users\n\AppData\Local") / "Microsoft" / "Windows" / "Fonts"
    mac = fonts.platform_font_dirs("darwin", {}, tmp_path)
    assert tmp_path / "Library" / "Fonts" in mac and Path("/Library/Fonts") in mac
    linux = fonts.platform_font_dirs("linux", {"XDG_DATA_DIRS": "/opt/share"}, tmp_path)
    assert linux == [tmp_path / ".local/share/fonts", tmp_path / ".fonts", Path("/opt/share/fonts")]


def test_a_font_installed_per_user_in_a_subfolder_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fedora and Arch nest fonts by family (…/fonts/dejavu-sans-fonts/DejaVuSans.ttf).
    font = fonts.FontFile("X", "NestedSans.ttf", "Nested Sans", "fonts-nested", "/nonexistent")
    nested = tmp_path / "data" / "fonts" / "nested-sans-fonts" / "NestedSans.ttf"
    nested.parent.mkdir(parents=True)
    nested.write_bytes(b"not read here")
    monkeypatch.setenv("CLINIC_APP_FONT_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert fonts.find_font_file(font) == nested


def test_font_dir_override_is_looked_at_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = fonts.FONT_FILES[0]
    (tmp_path / system.file).write_bytes(Path(system.system_dir, system.file).read_bytes())
    monkeypatch.setenv("CLINIC_APP_FONT_DIR", str(tmp_path))
    assert fonts.find_font_file(system) == tmp_path / system.file


@pytest.mark.skipif(shutil.which("fc-list") is None, reason="fontconfig is not installed")
def test_a_font_only_fontconfig_knows_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A font folder configured for fontconfig alone (not one of the usual folders).
    odd = tmp_path / "odd-place"
    odd.mkdir()
    real = fonts.FONT_FILES[0]
    copy = odd / "OnlyFontconfigSans.ttf"
    copy.write_bytes(Path(real.system_dir, real.file).read_bytes())
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        f'<?xml version="1.0"?><fontconfig><dir>{odd}</dir>'
        f"<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>"
    )
    monkeypatch.setenv("FONTCONFIG_FILE", str(conf))
    monkeypatch.setenv("CLINIC_APP_FONT_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "nodata"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "nodirs"))
    font = fonts.FontFile("X", copy.name, "Only Fontconfig Sans", "fonts-x", "/nonexistent")
    assert fonts.find_font_file(font) == copy
