"""Test configuration shared by every test folder.

Qt runs offscreen, set here rather than by each developer's shell, so the suite behaves the
same on a laptop, in CI and under Xvfb.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never touch the user's real record or settings.
os.environ.pop("CLINIC_APP_DB", None)
os.environ["CLINIC_APP_CONFIG"] = os.path.join(
    tempfile.mkdtemp(prefix="clinic-app-test-config-"), "settings.json"
)

_HAS_PYTEST_QT = importlib.util.find_spec("pytestqt") is not None
_GUI_DIR = Path(__file__).parent / "tests" / "gui"


def pytest_addoption(parser: pytest.Parser) -> None:
    # The core suite also runs where pytest-qt (and Qt) is absent; keep the shared ini valid there.
    if not _HAS_PYTEST_QT:
        parser.addini("qt_log_level_fail", "placeholder when pytest-qt is not installed")


def pytest_configure(config: pytest.Config) -> None:
    # required_plugins (pyproject) refuses a run without pytest-qt; only the core suite turns
    # that off (make test-core-pure). Asked for the GUI tests all the same, say so rather
    # than skip them.
    if _HAS_PYTEST_QT:
        return
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path == _GUI_DIR or _GUI_DIR in path.parents or path in _GUI_DIR.parents:
            raise pytest.UsageError(
                f"pytest-qt is not installed, so the GUI tests in {_GUI_DIR} cannot run "
                "(run only tests/core, or install the dev dependencies: make pytest)."
            )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # Without Qt installed, only the layers that must not need it are collected.
    if _HAS_PYTEST_QT:
        return None
    parts = collection_path.parts
    return "gui" in parts or collection_path.name == "cli.py" or None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        uses_qt = "qtbot" in getattr(item, "fixturenames", ())
        if uses_qt or _GUI_DIR in path.parents:
            item.add_marker(pytest.mark.gui)
