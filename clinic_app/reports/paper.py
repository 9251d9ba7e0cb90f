"""The paper sizes documents are printed on.

A module of its own so that the settings registry, imported at start, need not import the
document models and the core modules they hold (issue 16: cold start).
"""

from __future__ import annotations

from enum import StrEnum


class PaperSize(StrEnum):
    A4 = "A4"
    LETTER = "Letter"
