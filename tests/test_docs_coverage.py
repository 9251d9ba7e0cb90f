"""The guides cover every command and every setting: a new one without an entry fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clinic_app.cli import build_parser
from clinic_app.services.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
GUIDES = ("user-guide.md", "admin-guide.md")


def guides() -> str:
    return "\n".join((ROOT / "docs" / name).read_text(encoding="utf-8") for name in GUIDES)


def subcommands() -> list[str]:
    parser = build_parser()
    found = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return sorted(found[0].choices)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", subcommands())
def test_every_command_has_an_entry(command: str) -> None:
    assert re.search(rf"`clinic-app {re.escape(command)}\b", guides()), (
        f"`clinic-app {command}` is not in docs/user-guide.md or docs/admin-guide.md"
    )


@pytest.mark.parametrize("key", [s.key for s in SETTINGS])
def test_every_setting_has_an_entry(key: str) -> None:
    assert f"`{key}`" in guides(), f"setting {key} is not in the guides"


def test_every_screenshot_the_guides_show_exists() -> None:
    for name in GUIDES:
        text = (ROOT / "docs" / name).read_text(encoding="utf-8")
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
            assert (ROOT / "docs" / target).is_file(), f"{name}: {target} is missing"


def test_the_check_itself_fails_on_a_missing_entry() -> None:
    assert not re.search(r"`clinic-app no-such-command\b", guides())
    assert "`no.such.setting`" not in guides()


# -- menus and shortcuts the guides name ----------------------------------------------------
# "**Patient ▸ Enter lab results…** (**Ctrl+L**)": a menu, an entry, optionally its shortcut.
MENU_ENTRY = re.compile(
    r"\*\*(File|View|Patient|Trial|Help) ▸ ([^*]+)\*\*(?:\s+\(\*\*([^*]+)\*\*)?"
)


def menu_entries(names: tuple[str, ...]) -> list[tuple[str, str, str | None]]:
    text = "\n".join((ROOT / "docs" / name).read_text(encoding="utf-8") for name in names)
    return [(m[1], m[2], m[3]) for m in MENU_ENTRY.finditer(text)]


def app_menus(qtbot: object, tmp_path: Path) -> dict[str, dict[str, str]]:
    """Menu title -> entry text -> shortcut, read from the real main window."""
    from datetime import date

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMenu

    from clinic_app.core.protocol_loader import load_protocols
    from clinic_app.gui.main_window import MainWindow
    from clinic_app.storage.database import open_database

    settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    with open_database(tmp_path / "record.sqlite3") as record:
        window = MainWindow(
            record, load_protocols(), today=lambda: date(2025, 3, 3), settings=settings
        )
        qtbot.addWidget(window)  # type: ignore[attr-defined]
        # The list loads in the background: let it finish before the record closes.
        qtbot.waitUntil(lambda: not window.loading, timeout=10_000)  # type: ignore[attr-defined]
        menus: dict[str, dict[str, str]] = {}
        for top in window.menuBar().actions():
            menu = top.menu()
            assert isinstance(menu, QMenu)
            menus[top.text().replace("&", "")] = {
                a.text().replace("&", ""): a.shortcut().toString()
                for a in menu.actions()
                if not a.isSeparator()
            }
        window.close()
    return menus


def mismatches(
    entries: list[tuple[str, str, str | None]], menus: dict[str, dict[str, str]]
) -> list[str]:
    wrong = []
    for menu, entry, keys in entries:
        found = menus.get(menu, {})
        if entry not in found:
            wrong.append(f"{menu} ▸ {entry}: no such entry (the menu has {sorted(found)})")
        elif keys is not None and found[entry] != keys:
            wrong.append(f"{menu} ▸ {entry}: the guide says {keys}, the app {found[entry]!r}")
    return wrong


def test_the_guides_name_real_menu_entries_and_shortcuts(qtbot: object, tmp_path: Path) -> None:
    entries = menu_entries(GUIDES)
    assert len(entries) >= 12  # the walk-through names most of the Patient and Trial menus
    assert mismatches(entries, app_menus(qtbot, tmp_path)) == []


def test_the_menu_check_itself_notices_a_wrong_entry_or_shortcut() -> None:
    menus = {"Patient": {"Enter lab results…": "Ctrl+L"}}
    assert mismatches([("Patient", "Enter lab results…", "Ctrl+L")], menus) == []
    assert mismatches([("Patient", "Enter lab results…", "Ctrl+K")], menus)
    assert mismatches([("Patient", "Enter labs…", None)], menus)
    assert mismatches([("File", "Enter lab results…", None)], menus)


def test_users_guide_names_real_menu_entries(qtbot: object, tmp_path: Path) -> None:
    assert mismatches(menu_entries(("users.md",)), app_menus(qtbot, tmp_path)) == []


def test_the_admin_guide_shows_the_server_roles_the_code_sets_up() -> None:
    from clinic_app.storage.engines.pg_schema import roles_sql

    guide = (Path(__file__).parents[1] / "docs" / "admin-guide.md").read_text(encoding="utf-8")
    assert roles_sql() in guide
