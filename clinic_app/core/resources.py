"""Where the app's data files live: ``resources/`` beside the package, or inside a bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    """The ``resources`` folder: $CLINIC_APP_RESOURCES, a PyInstaller bundle, or the source tree."""
    override = os.environ.get("CLINIC_APP_RESOURCES")
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"
