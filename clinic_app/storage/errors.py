"""Storage failures, each with a sentence that says what happened and that nothing was lost.

Every write runs in one transaction, so when any of these is raised the transaction has been
rolled back: the record is exactly as it was before the attempt.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

NOTHING_LOST = "nothing was saved and the record is unchanged"


class StorageError(Exception):
    """Something stopped the record from being read or written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class DatabaseLockedError(StorageError):
    """Another program kept the database busy for longer than the busy timeout."""


class DiskFullError(StorageError):
    """The disk (or the database's size limit) is full."""


class ReadOnlyError(StorageError):
    """The file, or the connection to it, cannot be written."""


class NotADatabaseError(StorageError):
    """The file exists but is not an SQLite database (or is damaged beyond opening)."""


class NewerDatabaseError(StorageError):
    """The file was made by a newer clinic-app; this version refuses to touch it."""


class StaleRecordError(StorageError):
    """An edit was based on a version of the row that someone else has since changed."""


# SQLite primary result codes (https://www.sqlite.org/rescode.html); extended codes share the
# low byte, so ``code & 0xFF`` classifies them.
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26


def translate(exc: sqlite3.Error, path: Path) -> StorageError | None:
    """The :class:`StorageError` for an environment failure, or ``None`` for anything else
    (constraint violations and our own bugs stay as they are)."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in text:
        return DatabaseLockedError(
            f"The database {path} is busy: another clinic-app window or program kept it locked "
            f"for longer than the wait allowed; {NOTHING_LOST}. Try again in a moment, or close "
            "the other program."
        )
    if primary == _SQLITE_FULL or "database or disk is full" in text:
        return DiskFullError(
            f"The disk holding {path} is full (or the database reached its size limit); "
            f"{NOTHING_LOST}. Free some disk space and try again."
        )
    if primary == _SQLITE_READONLY or "readonly database" in text:
        return ReadOnlyError(
            f"The database {path} is read-only (permission denied or opened read-only); "
            f"{NOTHING_LOST}. Ask for write permission on the file and its folder."
        )
    if primary == _SQLITE_NOTADB or "file is not a database" in text:
        return NotADatabaseError(
            f"{path} is not a clinic-app database (it is not an SQLite file, or it is damaged); "
            "it was not changed. Check the path, or restore a backup with 'clinic-app restore'."
        )
    if primary == _SQLITE_CANTOPEN or "unable to open database" in text:
        return ReadOnlyError(
            f"The database {path} cannot be opened (missing folder or no permission); "
            f"{NOTHING_LOST}. Check the path and its permissions."
        )
    return None


class RowNotFoundError(StorageError):
    """The row asked for does not exist in this record."""
