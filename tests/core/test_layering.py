"""The core stays pure: no Qt, no SQL, no PDF library, no upper layer (architecture.md).

import-linter checks the same contracts in `make test`; this test needs nothing but the
standard library, so it also guards the core-only environment.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "clinic_app" / "core"
FORBIDDEN = (
    "PySide6",
    "shiboken6",
    "sqlite3",
    "sqlite_utils",
    "reportlab",
    "numpy",
    "scipy",
    "pandas",
    "clinic_app.storage",
    "clinic_app.reports",
    "clinic_app.gui",
    "clinic_app.cli",
    "clinic_app.commands",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_nothing_forbidden() -> None:
    offenders = []
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 5
    for path in files:
        for name in imported_modules(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                offenders.append(f"{path.name} imports {name}")
    assert offenders == []


def test_the_check_catches_an_offender(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from PySide6.QtCore import QObject\nimport sqlite3\n", encoding="utf-8")
    assert imported_modules(bad) == {"PySide6.QtCore", "sqlite3"}
