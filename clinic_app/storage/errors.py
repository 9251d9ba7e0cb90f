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


class DamagedRecordError(NotADatabaseError):
    """SQLite found the file damaged ("database disk image is malformed"): pages overwritten,
    a truncated copy, a disk that returned wrong bytes. Nothing more is written to it; the way
    out is ``clinic-app restore`` (which keeps the damaged file beside the restored one)."""


class RecordIOError(StorageError):
    """The operating system failed a read or write of the record (a disk I/O error, a removed
    drive, a network share gone, the shared-memory file that cannot be made on a full disk)."""


class ServerUnavailableError(StorageError):
    """The clinic's PostgreSQL server cannot be reached, refused the sign-in, or the
    connection to it was lost (storage/engines/postgres.py says which, in one sentence)."""


class NewerDatabaseError(StorageError):
    """The file was made by a newer clinic-app; this version refuses to touch it."""


class StaleRecordError(StorageError):
    """An edit was based on a version of the row that someone else has since changed."""


# SQLite primary result codes (https://www.sqlite.org/rescode.html); extended codes share the
# low byte, so ``code & 0xFF`` classifies them.
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26
# Extended I/O codes of the WAL shared-memory file (``-shm``): at a cold start on a full disk
# SQLite cannot create or grow it, which is a full disk, not damage.
_SHM_CODES = frozenset({4618, 4874, 5386, 5130})  # SHMOPEN, SHMSIZE, SHMMAP, SHMLOCK

RESTORE_HINT = (
    "Restore the newest good backup with 'clinic-app restore BACKUP' (the damaged file is "
    "kept beside it), or start the app, which offers to"
)


def damaged_message(path: Path, detail: str = "database disk image is malformed") -> str:
    """The one sentence for a damaged record (also used by ``check``)."""
    return (
        f"The record {path} is damaged ({detail}); nothing more was written to it. {RESTORE_HINT}."
    )


DatabaseError = sqlite3.DatabaseError
"""SQLite's own error, for a last-resort catch above storage (only storage imports sqlite3)."""


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
    if primary == _SQLITE_CORRUPT or "malformed" in text:
        return DamagedRecordError(damaged_message(path))
    if code in _SHM_CODES:
        return DiskFullError(
            f"The record {path} could not be opened: its shared-memory file beside it could "
            f"not be created (the disk is probably full); {NOTHING_LOST}. Free some disk space "
            "and start again."
        )
    if primary == _SQLITE_IOERR or "disk I/O error" in text:
        return RecordIOError(
            f"The disk failed while reading or writing the record {path} ({text}); nothing more "
            "was written and the last saved entry is kept. Check that the disk or network "
            "folder is there and not full, then try again; if it happens again, run "
            "'clinic-app check'."
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
