"""Where the app's data files live: ``resources/``, ``ui/`` and the user guide in ``docs/``.

In order: an explicit override, a PyInstaller bundle, the source tree (the repository's
top-level folders), or the data packages a wheel installs (``clinic_app_resources``,
``clinic_app_ui``, ``clinic_app_docs``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def _locate(folder: str, package: str, marker: str) -> Path:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None:
        return Path(bundle) / folder
    source = _SOURCE_ROOT / folder
    if (source / marker).exists():
        return source
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return source  # nothing found: callers report the missing file by its full path


def resources_dir() -> Path:
    """The ``resources`` folder ($CLINIC_APP_RESOURCES overrides)."""
    override = os.environ.get("CLINIC_APP_RESOURCES")
    if override:
        return Path(override)
    return _locate("resources", "clinic_app_resources", "protocols")


def ui_dir() -> Path:
    """The folder of Qt Designer ``.ui`` forms."""
    return _locate("ui", "clinic_app_ui", "new_patient.ui")


# The guide and the pages and pictures it links to: what a wheel or a bundle carries of docs/.
GUIDE_FILES = ("user-guide.md", "admin-guide.md", "users.md", "screenshots/guide/*.png")


def docs_dir() -> Path:
    """The folder of the user guide (``docs/`` in a checkout, ``clinic_app_docs`` installed)."""
    return _locate("docs", "clinic_app_docs", "user-guide.md")
