"""The protocols the app runs: the built-in files and the clinic's own folder beside them.

The clinic's folder is ``$CLINIC_APP_PROTOCOL_DIR`` when set, else this computer's setting
``protocols.clinic_folder`` (in the config file, never in the record). A clinic file that is
refused (unreadable, malformed, or using the key of a built-in protocol) is left out with a
located problem; the built-ins still load.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from clinic_app.core.errors import ProtocolError
from clinic_app.core.protocol import Protocol
from clinic_app.core.protocol_loader import load_with_clinic_dirs
from clinic_app.services.settings import PROTOCOL_FOLDER, machine_values
from clinic_app.storage.database import Record

ENV_VAR = "CLINIC_APP_PROTOCOL_DIR"
SETTING_KEY = PROTOCOL_FOLDER

log = logging.getLogger(__name__)


class LoadedProtocols(dict[str, Protocol]):
    """The protocols by key, with the problems of the clinic's files that were left out."""

    problems: tuple[ProtocolError, ...] = ()


def clinic_protocol_folder(
    record_or_settings: Record | Mapping[str, object] | None = None,
    *,
    config: Path | None = None,
) -> Path | None:
    """The clinic's own protocols folder: ``$CLINIC_APP_PROTOCOL_DIR`` first, then this
    computer's setting (from ``record_or_settings`` when it is a mapping of machine settings,
    else the config file, ``config`` naming another one); None when neither is set.

    A record is accepted for the callers that hold one, but never consulted: the setting is
    kept on the computer so that an imported record cannot choose the dose rules."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    if isinstance(record_or_settings, Mapping):
        values: Mapping[str, object] = record_or_settings
    else:
        values = machine_values(config)
    configured = values.get(SETTING_KEY)
    if isinstance(configured, str) and configured.strip():
        return Path(configured).expanduser()
    return None


def load_all(
    record_or_settings: Record | Mapping[str, object] | None = None,
    *,
    directory: Path | None = None,
    config: Path | None = None,
) -> LoadedProtocols:
    """The built-in protocols (``directory`` overrides their folder) and the clinic's.

    A problem in a built-in file is raised (the app cannot run without its protocols); a
    problem in a clinic file is logged and kept in ``problems``.
    """
    folder = clinic_protocol_folder(record_or_settings, config=config)
    protocols, problems = load_with_clinic_dirs(directory, () if folder is None else (folder,))
    for problem in problems:
        log.warning("clinic protocol file refused: %s", problem)
    loaded = LoadedProtocols(protocols)
    loaded.problems = tuple(problems)
    return loaded
