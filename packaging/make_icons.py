"""Render the icon master ``icons/clinic-app.svg`` into every size a desktop wants.

Writes ``icons/hicolor/<N>x<N>/apps/clinic-app.png`` (16 .. 512, the freedesktop layout),
``icons/clinic-app.ico`` (Windows: 16, 24, 32, 48, 64, 128, 256) and ``icons/clinic-app.icns``
(macOS: 16 .. 512). Qt's SVG renderer draws the PNGs; Pillow packs the .ico and .icns.
Run after changing the SVG:  .venv/bin/python packaging/make_icons.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

HERE = Path(__file__).resolve().parent / "icons"
MASTER = HERE / "clinic-app.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512)


def png_path(size: int) -> Path:
    return HERE / "hicolor" / f"{size}x{size}" / "apps" / "clinic-app.png"


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def main() -> int:
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(MASTER))
    if not renderer.isValid():
        print(f"make_icons: {MASTER} is not a valid SVG", file=sys.stderr)
        return 1
    for size in PNG_SIZES:
        target = png_path(size)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not render(renderer, size).save(str(target)):
            print(f"make_icons: cannot write {target}", file=sys.stderr)
            return 1
    with Image.open(png_path(256)) as big:
        big.save(HERE / "clinic-app.ico", sizes=[(s, s) for s in ICO_SIZES])
    with Image.open(png_path(512)) as big:
        big.save(HERE / "clinic-app.icns", sizes=[(s, s) for s in ICNS_SIZES])
    print(f"Wrote {len(PNG_SIZES)} PNGs, clinic-app.ico and clinic-app.icns in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
