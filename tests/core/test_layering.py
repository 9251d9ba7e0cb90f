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


# -- the layers above the core (issue 17) ------------------------------------------------------
# import-linter checks the whole graph (pyproject's "layers" contract, indirect imports
# included); these read the source itself, so they also run where import-linter is not installed.
PACKAGE = CORE.parent


def package_imports(package: str) -> dict[str, set[str]]:
    """Every module of ``clinic_app.<package>`` (relative imports resolved) and what it names."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / package).rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".")[: -node.level]
                    names.add(".".join([*base, node.module] if node.module else base))
                elif node.module:
                    names.add(node.module)
        found[module] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{module} imports {name}"
        for module, names in package_imports(package).items()
        for name in sorted(names)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_the_gui_never_imports_a_command() -> None:
    assert offenders("gui", ("clinic_app.commands", "clinic_app.cli")) == []


def test_reports_import_neither_services_nor_storage() -> None:
    forbidden = ("clinic_app.services", "clinic_app.storage", "sqlite3", "sqlite_utils")
    assert offenders("reports", forbidden) == []


def test_the_lock_and_the_patient_menus_reach_the_window_through_host_interfaces() -> None:
    imports = package_imports("gui")
    for module in ("clinic_app.gui.lock", "clinic_app.gui.patient_actions"):
        assert "clinic_app.gui.main_window" not in imports[module], module


SQL_WORDS = ("BEGIN", "ROLLBACK", "COMMIT", "SAVEPOINT", "PRAGMA", "SELECT ", "INSERT ", "UPDATE ")


def sql_in(path: Path) -> list[str]:
    """Calls of ``.execute``/``.executescript`` and strings that start like SQL in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("execute", "executescript"):
            found.append(f"{path.name}:{node.lineno} .{node.attr}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.lstrip().startswith(SQL_WORDS)
        ):
            found.append(f"{path.name}:{node.lineno} {node.value[:30]!r}")
    return found


def test_no_sql_outside_storage() -> None:
    # The export's one-state read is storage's Record.read_snapshot, not its own BEGIN.
    found = [
        f"{package}/{line}"
        for package in ("services", "gui", "commands", "reports")
        for path in sorted((PACKAGE / package).rglob("*.py"))
        for line in sql_in(path)
    ]
    assert found == []


def test_the_sql_check_catches_a_transaction_run_by_hand(tmp_path: Path) -> None:
    bad = tmp_path / "exchange.py"
    bad.write_text('def f(conn):\n    conn.execute("BEGIN")\n', encoding="utf-8")
    assert sql_in(bad) == ["exchange.py:2 .execute", "exchange.py:2 'BEGIN'"]
