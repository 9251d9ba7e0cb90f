"""Fonts for printed documents: DejaVu Sans for text, WenQuanYi Zen Hei for what it lacks.

Patient names come in any script. DejaVu Sans covers Latin with diacritics, Greek and
Cyrillic; WenQuanYi Zen Hei covers CJK and Hangul. Text is split into runs by which font has
the glyph (the font's own cmap), so no character prints as a missing-glyph box. A character
neither font has is refused with :class:`FontCoverageError`: a box instead of a letter in a
name on a dosing card is a wrong-patient risk, not a cosmetic problem.

Lookup order for each font file: ``$CLINIC_APP_FONT_DIR``, ``resources/fonts/`` (the bundle),
then this operating system's font folders (Linux: the Debian path and the XDG font folders;
Windows: ``%WINDIR%\\Fonts`` and the per-user folder; macOS: the Library folders), then whatever
fontconfig knows where it is installed. A missing file raises :class:`FontMissingError` naming
the font and how to install it on this system; nothing silently falls back to Helvetica.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from clinic_app.core.resources import resources_dir
from clinic_app.reports.errors import FontCoverageError, FontMissingError

TEXT = "ClinicSans"
"""DejaVu Sans, regular; the name every style uses."""
TEXT_BOLD = "ClinicSans-Bold"
FALLBACK = "ClinicCJK"
"""WenQuanYi Zen Hei (subfont 0 of the TTC), for characters DejaVu Sans lacks."""


@dataclass(frozen=True)
class FontFile:
    name: str
    file: str
    family: str
    """The font's family name, as a user finds it to install and as fontconfig knows it."""
    package: str
    """The Debian/Ubuntu package that installs it (named in the error on Linux)."""
    system_dir: str
    subfont: int = 0


FONT_FILES = (
    FontFile(
        TEXT,
        "DejaVuSans.ttf",
        "DejaVu Sans",
        "fonts-dejavu-core",
        "/usr/share/fonts/truetype/dejavu",
    ),
    FontFile(
        TEXT_BOLD,
        "DejaVuSans-Bold.ttf",
        "DejaVu Sans",
        "fonts-dejavu-core",
        "/usr/share/fonts/truetype/dejavu",
    ),
    FontFile(
        FALLBACK,
        "wqy-zenhei.ttc",
        "WenQuanYi Zen Hei",
        "fonts-wqy-zenhei",
        "/usr/share/fonts/truetype/wqy",
    ),
)


def font_dirs() -> list[Path]:
    """The app's own folders, looked at before the system's: the override, then the bundle."""
    dirs: list[Path] = []
    override = os.environ.get("CLINIC_APP_FONT_DIR")
    if override:
        dirs.append(Path(override))
    dirs.append(resources_dir() / "fonts")
    return dirs


def platform_font_dirs(
    platform: str = sys.platform,
    environ: Mapping[str, str] = os.environ,
    home: Path | None = None,
) -> list[Path]:
    """Where the operating system keeps installed fonts, system-wide and per user.

    Each folder is searched with its subfolders (Linux distributions nest by family).
    """
    home = home if home is not None else Path.home()
    if platform.startswith("win"):
        windir = environ.get("WINDIR", r"C:\Windows")
        local = environ.get("LOCALAPPDATA", str(home / "AppData" / "Local"))
        return [Path(windir) / "Fonts", Path(local) / "Microsoft" / "Windows" / "Fonts"]
    if platform == "darwin":
        return [
            home / "Library" / "Fonts",
            Path("/Library/Fonts"),
            Path("/System/Library/Fonts"),
            Path("/opt/homebrew/share/fonts"),
            Path("/usr/local/share/fonts"),
        ]
    data_home = Path(environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    data_dirs = (environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":")
    return [
        data_home / "fonts",
        home / ".fonts",
        *(Path(d) / "fonts" for d in data_dirs if d),
    ]


def _fontconfig_files() -> dict[str, Path]:
    """Font files fontconfig knows, by file name; empty where fontconfig is not installed."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return {}
    try:
        listed = subprocess.run(
            [fc_list, "--format", "%{file}\\n"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {Path(line).name: Path(line) for line in listed.splitlines() if line}


def _search(folder: Path, file_name: str) -> Path | None:
    direct = folder / file_name
    if direct.is_file():
        return direct
    if not folder.is_dir():
        return None
    try:
        return next((p for p in folder.rglob(file_name) if p.is_file()), None)
    except OSError:  # an unreadable subfolder is not a reason to stop printing
        return None


def install_advice(font: FontFile, platform: str = sys.platform) -> str:
    """How to install ``font`` on this kind of computer, in one sentence."""
    if platform.startswith("win"):
        return (
            f"Install the {font.family} font for all users (right-click the font file and "
            f'choose "Install for all users"), or put {font.file} in the folder named by '
            "CLINIC_APP_FONT_DIR."
        )
    if platform == "darwin":
        return (
            f"Install the {font.family} font with Font Book, or put {font.file} in "
            "~/Library/Fonts or in the folder named by CLINIC_APP_FONT_DIR."
        )
    return (
        f"Install the {font.family} font (on Debian or Ubuntu the package {font.package}; "
        "on other distributions the package of that name for your system), or put "
        f"{font.file} in ~/.local/share/fonts or in the folder named by CLINIC_APP_FONT_DIR."
    )


def find_font_file(font: FontFile) -> Path:
    """The installed file for ``font``: the app's folders, then the system's, then fontconfig."""
    for folder in font_dirs():
        if (folder / font.file).is_file():
            return folder / font.file
    system = [Path(font.system_dir), *platform_font_dirs()]
    for folder in system:
        found = _search(folder, font.file)
        if found is not None:
            return found
    known = _fontconfig_files().get(font.file)
    if known is not None and known.is_file():
        return known
    looked = ", ".join(str(p) for p in [*font_dirs(), *system])
    raise FontMissingError(
        f"Documents cannot be printed: the font {font.family} ({font.file}) is not "
        f"installed on this computer. {install_advice(font)} (Looked in {looked}.)"
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
