"""Files and folders only their owner can read (issue 15, item 6).

The record, its WAL and shared-memory files, backups and exports hold patient data and password
hashes. A umask decides what ``open`` and ``mkdir`` create, and a umask of 022 (the usual one)
makes them world-readable; so they are created here with 0600 / 0700 and set so explicitly,
whatever the umask. SQLite creates ``-wal``, ``-shm`` and ``-journal`` files with the mode of
the database file they belong to, so a private database keeps its side files private too.

On Windows the mode bits mean little (access is by ACL on the user's profile folders); the
calls are harmless there.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def make_private_folder(folder: Path) -> Path:
    """``folder`` and any missing parents, each new one created 0700 (existing ones are left
    as they are: a shared clinic folder may be meant for a group)."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue  # another process made it meanwhile
        os.chmod(path, FOLDER_MODE)  # mkdir's mode is filtered by the umask
    return folder


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty and 0600 if it does not exist; True when this call created it.

    An empty file is a valid empty SQLite database, so ``sqlite3.connect`` then writes into a
    file that was never readable by others, not even for a moment.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.chmod(path, FILE_MODE)  # os.open's mode is filtered by the umask too
    finally:
        os.close(fd)
    return True


def make_private(path: Path) -> None:
    """Set an existing file that this app just wrote to 0600."""
    os.chmod(path, FILE_MODE)
