"""Packaging files hold what a desktop and an installer need (the build: make bundle-smoke)."""

from __future__ import annotations

import ast
import configparser
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_spec_is_python_and_carries_resources_ui_and_fonts() -> None:
    text = (PACKAGING / "clinic-app.spec").read_text(encoding="utf-8")
    ast.parse(text)  # a syntax error would only show at build time
    # Layout clinic_app.core.resources expects under sys._MEIPASS.
    assert '(str(ROOT / "resources"), "resources")' in text
    assert '(str(ROOT / "ui"), "ui")' in text
    assert '"resources/fonts"' in text
    for font in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "wqy-zenhei.ttc"):
        assert font in text
    # The command modules are imported by name: the spec must collect them.
    assert 'collect_submodules("clinic_app")' in text


def test_spec_fonts_are_the_ones_the_reports_look_for() -> None:
    from clinic_app.reports.fonts import FONT_FILES

    text = (PACKAGING / "clinic-app.spec").read_text(encoding="utf-8")
    for font in FONT_FILES:
        assert font.file in text and font.system_dir in text


def test_desktop_file_has_the_required_keys() -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(PACKAGING / "clinic-app.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "clinic-app"
    assert entry["Icon"] == "clinic-app"  # the PNGs' name in hicolor/
    assert entry["Terminal"] == "false"
    assert entry["Name"]
    # Categories: ';'-terminated list with at least one main category.
    categories = entry["Categories"]
    assert categories.endswith(";")
    assert {"Office", "Science", "Education"} & set(categories.split(";"))


def test_metainfo_is_appstream_xml_naming_the_desktop_file() -> None:
    tree = ET.parse(PACKAGING / "org.example.ClinicApp.metainfo.xml")
    root = tree.getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == "org.example.ClinicApp"
    for tag in ("name", "summary", "metadata_license", "project_license", "description"):
        assert root.find(tag) is not None, tag
    launchable = root.find("launchable")
    assert launchable is not None and launchable.text == "clinic-app.desktop"
    assert (PACKAGING / launchable.text).is_file()
    release = root.find("releases/release")
    assert release is not None
    from clinic_app import __version__

    if "+source" not in __version__:
        assert release.get("version") == __version__


@pytest.mark.parametrize("size", PNG_SIZES)
def test_png_icon_exists_at_each_size(size: int) -> None:
    path = PACKAGING / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "clinic-app.png"
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (size, size)


def test_svg_master_ico_and_icns() -> None:
    svg = ET.parse(PACKAGING / "icons" / "clinic-app.svg").getroot()
    assert svg.tag.endswith("svg")
    ico = (PACKAGING / "icons" / "clinic-app.ico").read_bytes()
    assert ico[:4] == b"\x00\x00\x01\x00"  # ICONDIR, type 1 = icon
    assert int.from_bytes(ico[4:6], "little") >= 5  # several sizes, not one
    icns = (PACKAGING / "icons" / "clinic-app.icns").read_bytes()
    assert icns[:4] == b"icns" and int.from_bytes(icns[4:8], "big") == len(icns)


def test_inno_setup_script_installs_per_machine_with_a_start_menu_entry() -> None:
    text = (PACKAGING / "windows" / "clinic-app.iss").read_text(encoding="utf-8")
    assert re.search(r"^PrivilegesRequired=admin$", text, re.M)
    assert re.search(r"^DefaultDirName=\{autopf\}", text, re.M)
    assert re.search(r'^Name: "\{commonprograms\}', text, re.M)
    assert '#define BundleDir "..\\..\\dist\\clinic-app"' in text
    assert (PACKAGING / "icons" / "clinic-app.ico").is_file()


def test_smoke_test_prints_a_card_with_the_built_program() -> None:
    text = (PACKAGING / "smoke_test.sh").read_text(encoding="utf-8")
    for step in ("--version", " demo ", "settings set clinic.phone", " card ", "pdftotext"):
        assert step in text, step


def test_makefile_has_the_packaging_targets() -> None:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("bundle:", "bundle-smoke:", "screenshots:"):
        assert re.search(rf"^{target}", text, re.M), target
