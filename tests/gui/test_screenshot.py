"""The real app window on a demo database under Xvfb: a screenshot that is not blank."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

XVFB_RUN = shutil.which("xvfb-run")


def pixel_spread(image: QImage) -> tuple[int, float]:
    """(distinct grey levels, variance of grey) over a grid of samples."""
    values = []
    step = max(1, min(image.width(), image.height()) // 80)
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            values.append(image.pixelColor(x, y).lightness())
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    return len(set(values)), variance


@pytest.mark.slow
@pytest.mark.skipif(XVFB_RUN is None, reason="Xvfb (xvfb-run) is not installed on this machine")
def test_main_window_screenshot_under_xvfb(tmp_path: Path, qapp: object) -> None:
    out = tmp_path / "main-window.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    env.pop("CLINIC_APP_DB", None)
    assert XVFB_RUN is not None
    completed = subprocess.run(
        [
            XVFB_RUN,
            "-a",
            "-s",
            "-screen 0 1400x900x24",
            sys.executable,
            "-m",
            "clinic_app.gui.screenshot",
            "--db",
            str(tmp_path / "demo.sqlite3"),
            "-o",
            str(out),
            "--demo",
            "40",
            "--today",
            "2025-06-02",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    image = QImage(str(out))
    assert not image.isNull()
    assert image.width() >= 1000 and image.height() >= 600
    distinct, variance = pixel_spread(image)
    # A blank (or single-colour) window has one grey level and no variance; a real screen
    # with text, tables and the timeline has many.
    assert distinct > 20, distinct
    assert variance > 100, variance
