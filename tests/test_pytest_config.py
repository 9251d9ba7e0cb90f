"""The test configuration refuses to run the GUI suite without pytest-qt instead of skipping
it quietly, while the core suite still runs where Qt is absent (make test-core-pure). Run with
the Qt-free environment the Makefile builds (.venv-core); skipped where it was not built."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE_PYTHON = ROOT / ".venv-core" / "bin" / "python"

pytestmark = pytest.mark.skipif(
    not CORE_PYTHON.exists() or sys.platform == "win32",
    reason="needs the Qt-free environment of make test-core-pure (.venv-core)",
)


def run_core_pytest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CORE_PYTHON), "-m", "pytest", "-p", "no:cacheprovider", "--co", "-q", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_pytest_qt_a_run_is_refused() -> None:
    run = run_core_pytest("tests/core/test_plan.py")
    assert run.returncode != 0
    assert "Missing required plugins: pytest-qt" in run.stdout + run.stderr


def test_the_core_run_turns_the_requirement_off_but_not_for_the_gui_folder() -> None:
    core = run_core_pytest("-o", "required_plugins=", "tests/core/test_plan.py")
    assert core.returncode == 0, core.stdout + core.stderr
    gui = run_core_pytest("-o", "required_plugins=", "tests/gui")
    assert gui.returncode != 0
    assert "pytest-qt is not installed, so the GUI tests" in gui.stdout + gui.stderr
