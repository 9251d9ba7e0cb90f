"""clinic_app.storage: the clinical record, in one SQLite file or on a PostgreSQL server (never Qt).

Entry points: ``location.resolve_db_path``, ``database.open_database`` (returns a ``Record``;
``record.transaction(reason=...)`` for writes, ``record.repos`` for the repositories),
``backup`` (online backups, restore, check) and ``errors`` (``StorageError`` and subclasses).
Design notes: docs/storage.md.
"""

import importlib
import sys


def import_sqlite_utils_alone() -> None:
    """Import sqlite-utils without its optional pandas and numpy type mappings.

    sqlite-utils imports pandas and numpy whenever they are installed, which costs about half a
    second at every start (pandas comes with the test tools, numpy with the plotting library).
    The record stores exact Decimal text and never hands it numpy or pandas values, so those
    mappings are never used. Hiding the two modules for the one import leaves them importable
    afterwards for the code that does use them (lab trend plots).

    Called by the few places that use sqlite-utils (a local record's migrations, Record.db),
    not at import: a plain start never needs sqlite-utils (issue 16).
    """
    if "sqlite_utils" in sys.modules:
        return
    hidden = [name for name in ("pandas", "numpy") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
    try:
        importlib.import_module("sqlite_utils")
    finally:
        for name in hidden:
            del sys.modules[name]
