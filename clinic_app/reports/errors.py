"""Why a document could not be printed; importable without loading ReportLab.

The command line and the GUI catch these at start-up cost of nothing: the PDF libraries are
loaded only when a document is rendered.
"""

from __future__ import annotations


class FontMissingError(RuntimeError):
    """A font file the documents need is not installed."""


class FontCoverageError(ValueError):
    """Text holds a character that none of the document fonts can print."""
