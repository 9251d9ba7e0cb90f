"""Where the clinical record lives on disk.

Precedence, most specific first: the ``--db PATH`` option, the ``CLINIC_APP_DB`` environment
variable, then ``clinic-app.sqlite3`` in the platform's per-user data folder (for example
``~/.local/share/clinic-app`` on Linux). The folder is created on first use; the database file
itself is created by :func:`clinic_app.storage.database.open_database`.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

ENV_VAR = "CLINIC_APP_DB"
APP_NAME = "clinic-app"
DEFAULT_FILE_NAME = "clinic-app.sqlite3"


def default_data_dir() -> Path:
    """The per-user data folder (not created here)."""
    return Path(user_data_dir(APP_NAME, appauthor=False))


def resolve_db_path(cli_value: str | os.PathLike[str] | None) -> Path:
    """The database file to use, with its folder created.

    An empty ``--db`` or ``CLINIC_APP_DB`` counts as not given, so a blank variable left in a
    shell profile falls back to the default instead of pointing at the current folder.
    """
    chosen: str | os.PathLike[str] | None = cli_value or os.environ.get(ENV_VAR) or None
    path = default_data_dir() / DEFAULT_FILE_NAME if chosen is None else Path(chosen)
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
