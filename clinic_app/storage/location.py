"""Where the clinical record lives on disk.

Precedence, most specific first: the ``--db PATH`` option, the ``CLINIC_APP_DB`` environment
variable, then ``clinic-app.sqlite3`` in the data folder: the one this computer's settings file
names (``data.folder``, set in the settings dialog), else the platform's per-user data folder
(for example ``~/.local/share/clinic-app`` on Linux). The folder is created on first use; the
database file itself is created by :func:`clinic_app.storage.database.open_database`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from platformdirs import user_config_dir, user_data_dir

from clinic_app.storage.database import ServerAddress
from clinic_app.storage.errors import StorageError
from clinic_app.storage.private import make_private_folder

ENV_VAR = "CLINIC_APP_DB"
APP_NAME = "clinic-app"
DEFAULT_FILE_NAME = "clinic-app.sqlite3"
CONFIG_ENV_VAR = "CLINIC_APP_CONFIG"
CONFIG_FILE_NAME = "settings.json"
DATA_FOLDER_KEY = "data.folder"
BACKUP_FOLDER_KEY = "backup.folder"


def config_path() -> Path:
    """This computer's settings file ($CLINIC_APP_CONFIG, else the platform's config folder).

    It holds what cannot live in the record itself, such as where the record is.
    """
    override = os.environ.get(CONFIG_ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path(user_config_dir(APP_NAME, appauthor=False)) / CONFIG_FILE_NAME


def _configured_folder(key: str) -> Path | None:
    """The folder named under ``key`` in this computer's settings file, if any.

    A damaged file is refused rather than ignored: opening the default record instead of the
    configured one would show a nurse an empty list as if the patients were gone.
    """
    file = config_path()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StorageError(
            f"This computer's settings file {file} cannot be read ({exc}), so the app does not "
            "know which data folder to use; fix or delete the file, or name the record with "
            "--db PATH. Nothing was opened or changed."
        ) from None
    folder = data.get(key) if isinstance(data, dict) else None
    return Path(folder).expanduser() if isinstance(folder, str) and folder else None


SERVER_KEY = "data.server"


def server_address_problem(address: str) -> str | None:
    """Why ``address`` cannot be kept as this computer's clinic server, or None when it can.
    One rule for the settings file, the settings command and the settings dialog."""
    # The password first: what was typed is never repeated back when it holds one.
    if _has_password(address):
        return (
            "a password is never kept in this computer's settings: remove it from the address "
            "and put it in the PostgreSQL password file (~/.pgpass) or a service file"
        )
    if not is_server_address(address):
        return (
            f"{address!r} is not a server address: type postgresql://user@host/database "
            "(add ?sslmode=verify-full for an encrypted connection) or service=NAME"
        )
    return None


def configured_server() -> str | None:
    """The clinic server this computer's settings name (``data.server``: a libpq URI without a
    password, or ``service=NAME``), if any."""
    file = config_path()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # _configured_folder says so, with the file's name, where it matters
    value = data.get(SERVER_KEY) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value.strip():
        return None
    problem = server_address_problem(value.strip())
    if problem:
        raise StorageError(
            f"This computer's settings file {file} names the clinic server, but {problem}. "
            "Fix it in the settings. Nothing was opened or changed."
        )
    return value.strip()


def _has_password(address: str) -> bool:
    from urllib.parse import urlsplit

    if "://" in address:
        try:
            has = urlsplit(address).password is not None
        except ValueError:
            has = False
        return has or "password=" in address.lower()
    return "password" in address.lower()


def configured_data_folder() -> Path | None:
    """The data folder named in this computer's settings file, if any."""
    return _configured_folder(DATA_FOLDER_KEY)


def configured_backup_folder() -> Path | None:
    """The backup folder named in this computer's settings file, if any.

    Only this computer's settings (changed by whoever runs the app here, an administrator in
    the settings dialog) choose where copies of the whole record are written: never a value
    inside the record, which an imported file or a restored backup could have put there.
    """
    return _configured_folder(BACKUP_FOLDER_KEY)


def default_backup_folder(db_path: Path) -> Path:
    """Where backups of ``db_path`` go: the configured folder, else ``backups`` beside it."""
    return configured_backup_folder() or db_path.parent / "backups"


def default_data_dir() -> Path:
    """The per-user data folder (not created here)."""
    return Path(user_data_dir(APP_NAME, appauthor=False))


# "postgresql://…", "file:…", "https://…": a scheme of two letters or more (so "C:\\" is a path).
_ADDRESS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


_SERVER = re.compile(r"^\s*(postgresql|postgres)://|^\s*service\s*=", re.IGNORECASE)


def is_server_address(chosen: str) -> bool:
    """A PostgreSQL server record: a libpq URI or a service name (``service=clinic``)."""
    return bool(_SERVER.match(chosen))


def refuse_address(chosen: str) -> None:
    """An address is never taken as a file name: ``--db postgresql://host/db`` once wrote a
    SQLite file called ``postgresql:`` into the current folder and showed an empty record.
    Server addresses are not refused here: they open a server record."""
    if _ADDRESS.match(chosen) and not is_server_address(chosen):
        raise StorageError(
            f"{chosen!r} is not an address clinic-app can open. Name a record file on this "
            "computer (--db PATH) or a clinic server (--db postgresql://user@host/database, "
            "or --db service=NAME). Nothing was opened or created."
        )


def resolve_db_path(cli_value: str | os.PathLike[str] | None) -> Path | ServerAddress:
    """The record to use: a file, with its folder created, or a server address.

    An empty ``--db`` or ``CLINIC_APP_DB`` counts as not given, so a blank variable left in a
    shell profile falls back to the default instead of pointing at the current folder.
    """
    chosen: str | os.PathLike[str] | None = cli_value or os.environ.get(ENV_VAR) or None
    if chosen is None:
        chosen = configured_server()
    if isinstance(chosen, str):
        refuse_address(chosen)
        if is_server_address(chosen):
            return ServerAddress(chosen.strip())
    if chosen is None:
        path = (configured_data_folder() or default_data_dir()) / DEFAULT_FILE_NAME
    else:
        path = Path(chosen)
    path = path.expanduser()
    make_private_folder(path.parent)  # a new data folder is its owner's only (0700)
    return path
