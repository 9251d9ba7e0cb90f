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
