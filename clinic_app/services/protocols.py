"""The protocols the app runs: the built-in files and the clinic's own folder beside them.

The clinic's folder is ``$CLINIC_APP_PROTOCOL_DIR`` when set, else the record's setting
``protocols.clinic_folder``. A clinic file that is refused (unreadable, malformed, or using
the key of a built-in protocol) is left out with a located problem; the built-ins still load.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from clinic_app.core.errors import ProtocolError
from clinic_app.core.protocol import Protocol
from clinic_app.core.protocol_loader import load_with_clinic_dirs
from clinic_app.storage.database import Record

ENV_VAR = "CLINIC_APP_PROTOCOL_DIR"
SETTING_KEY = "protocols.clinic_folder"  # services.settings.PROTOCOL_FOLDER

log = logging.getLogger(__name__)


class LoadedProtocols(dict[str, Protocol]):
    """The protocols by key, with the problems of the clinic's files that were left out."""

    problems: tuple[ProtocolError, ...] = ()


def clinic_protocol_folder(
    record_or_settings: Record | Mapping[str, object] | None = None,
) -> Path | None:
    """The clinic's own protocols folder: the environment variable first, then the setting
    (of a record, or of a mapping of settings such as a config file's); None when neither."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    configured: object | None = None
    if isinstance(record_or_settings, Record):
        configured = record_or_settings.repos.settings.value(SETTING_KEY)
    elif record_or_settings is not None:
        configured = record_or_settings.get(SETTING_KEY)
    if isinstance(configured, str) and configured.strip():
        return Path(configured).expanduser()
    return None


def load_all(
    record_or_settings: Record | Mapping[str, object] | None = None,
    *,
    directory: Path | None = None,
) -> LoadedProtocols:
    """The built-in protocols (``directory`` overrides their folder) and the clinic's.

    A problem in a built-in file is raised (the app cannot run without its protocols); a
    problem in a clinic file is logged and kept in ``problems``.
    """
    folder = clinic_protocol_folder(record_or_settings)
    protocols, problems = load_with_clinic_dirs(directory, () if folder is None else (folder,))
    for problem in problems:
        log.warning("clinic protocol file refused: %s", problem)
    loaded = LoadedProtocols(protocols)
    loaded.problems = tuple(problems)
    return loaded
