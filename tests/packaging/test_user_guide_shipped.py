"""The user guide travels with the app (issue 14): the wheel, the bundle and the Help menu agree
on which files of docs/ it needs, and an installed copy finds them (the wheel itself is built and
installed by packaging/wheel_smoke_test.sh)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

from clinic_app.core import resources
from clinic_app.core.resources import GUIDE_FILES, docs_dir

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def shipped(relative: str) -> bool:
    return any(Path(relative).match(pattern) for pattern in GUIDE_FILES)


def guide_links() -> list[str]:
    text = (DOCS / "user-guide.md").read_text(encoding="utf-8")
    # Relative links only (no scheme), without their #fragment.
    return re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)


def test_the_wheel_ships_what_the_app_expects() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["tool"]["setuptools"]["package-data"]["clinic_app_docs"] == list(GUIDE_FILES)
    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    assert '"clinic_app_docs": "docs"' in setup
    spec = (ROOT / "packaging" / "clinic-app.spec").read_text(encoding="utf-8")
    assert "GUIDE_FILES" in spec
    smoke = (ROOT / "packaging" / "wheel_smoke_test.sh").read_text(encoding="utf-8")
    assert "GuideViewer" in smoke and "guide_path()" in smoke


def test_every_page_and_picture_the_guide_links_to_is_shipped() -> None:
    links = guide_links()
    assert "screenshots/guide/main-window.png" in links  # the pattern finds real links
    for link in links:
        assert (DOCS / link).is_file(), link
        assert shipped(link), f"the guide links to {link}, which the wheel leaves out"
    assert shipped("user-guide.md")
    assert not shipped("api/dlt.md") and not shipped("screenshots/lab_entry.png")


def test_the_checkout_uses_its_own_docs() -> None:
    assert docs_dir() == DOCS


def test_an_installed_copy_finds_the_guide_in_its_data_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An installed layout: clinic_app_docs importable from site-packages, and no checkout
    # folder beside the package.
    package = tmp_path / "site-packages" / "clinic_app_docs"
    package.mkdir(parents=True)
    (package / "user-guide.md").write_text("# Guide\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(package.parent))
    monkeypatch.setattr(resources, "_SOURCE_ROOT", tmp_path / "no-checkout")
    assert docs_dir() == package
    bundle = tmp_path / "bundle"
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert docs_dir() == bundle / "docs"
