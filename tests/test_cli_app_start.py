"""``clinic-app`` without a subcommand opens the desktop app without importing the subcommands'
modules (issue 16: a faster cold start); every other command line gets the full parser."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from clinic_app.cli import opens_the_app

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("words", "app"),
    [
        ([], True),
        (["--db", "r.sqlite3"], True),
        (["--db=r.sqlite3"], True),
        (["--db"], False),  # the full parser says the path is missing
        (["--version"], False),
        (["--help"], False),
        (["demo", "--db", "r.sqlite3"], False),
        (["--db", "r.sqlite3", "card", "M-1"], False),
    ],
)
def test_which_command_lines_open_the_app(words: list[str], app: bool) -> None:
    assert opens_the_app(words) is app


def test_the_app_starts_without_the_subcommand_modules(tmp_path: Path) -> None:
    # No display: the app refuses in one sentence at the point where it would load Qt, so this
    # shows what was imported on the way there.
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = ""
    code = (
        "import sys\n"
        "from clinic_app import cli\n"
        f"status = cli.main(['--db', {str(tmp_path / 'r.sqlite3')!r}])\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('clinic_app.commands.'))\n"
        "print(status, loaded, 'PySide6' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert "no graphical display" in result.stderr
    assert result.stdout.split() == ["2", "['clinic_app.commands.parsing']", "False"]
    assert not (tmp_path / "r.sqlite3").exists()  # nothing was opened


def _fresh_python(code: str) -> str:
    """What ``code`` prints in a new interpreter, offscreen (sys.modules starts empty there)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_the_window_layers_imported_before_qt_are_qt_free_and_complete() -> None:
    # They are imported before PySide6 (its import hook slows every later import); one that
    # imported Qt would defeat that, and one missing would be imported after Qt.
    code = (
        "import importlib, sys\n"
        "from clinic_app import cli\n"
        "for name in cli.QT_FREE_START_MODULES:\n"
        "    importlib.import_module(name)\n"
        "qt = 'PySide6' in sys.modules\n"
        "before = set(sys.modules)\n"
        "import clinic_app.gui.app\n"
        "late = sorted(m for m in sys.modules if m not in before and m.startswith('clinic_app.')\n"
        "              and not m.startswith('clinic_app.gui'))\n"
        "print(qt, late)\n"
    )
    assert _fresh_python(code) == "False []"


# Used only once a patient's chart, a lab entry or a document is open: the window's start
# (everything up to its first paint) must not import them (issue 16: cold start).
DEFERRED = (
    "clinic_app.services.lab_entry",
    "clinic_app.reports.models",
    "argon2",  # passwords: only once someone signs in or sets one
    "secrets",  # a worker's session token, a refused name's dummy hash
    "hashlib",  # the record's identity (the patient open last), read with the real rows
    "logging.handlers",  # the log file, opened after the first paint
    "pyqtgraph",
    "reportlab",
    "numpy",
    "pandas",
)


def test_the_window_start_imports_nothing_only_later_screens_use() -> None:
    code = (
        "import importlib, sys\n"
        "from clinic_app import cli\n"
        "for name in cli.QT_FREE_START_MODULES:\n"
        "    importlib.import_module(name)\n"
        "import clinic_app.gui.app\n"
        f"print(sorted(m for m in {DEFERRED!r} if m in sys.modules))\n"
    )
    assert _fresh_python(code) == "[]"


def test_the_settings_name_the_reference_ranges_key_as_lab_entry_does() -> None:
    # settings writes the key out rather than import lab_entry at start; the two must agree.
    from clinic_app.services import lab_entry, settings

    assert settings.REFERENCE_RANGES == lab_entry.SETTING_KEY
