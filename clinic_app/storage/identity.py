"""The record's identity: which record this file is, whatever its name or place.

Per-user things that point into a record (the patient that was open last) must not follow a
file name: another record, or a copy rebuilt from an export, would open a different person.
The identity is read from the record itself: the moment its first migration was applied,
written once when the record was created and never changed. A backup taken through SQLite's
backup API carries it, so a restored backup is the same record; a new record (even one an
export was imported into) has its own. Reading it writes nothing, so every role may read it.
"""

from __future__ import annotations

from clinic_app.storage import schema
from clinic_app.storage.database import Record


def record_identity(record: Record) -> str | None:
    """A short stable text naming this record, or None where the record has no history yet.

    Two records created at different moments have different identities; the same record, moved,
    renamed or restored from its backup, keeps its own.
    """
    with record.guard():
        row = record.sql.record_birth()
    if row is None:
        return None
    import hashlib  # OpenSSL's load is ~10 ms: after the window's first paint (issue 16)

    digest = hashlib.sha256(f"{schema.MIGRATION_SET}|{row[0]}|{row[1]}".encode()).hexdigest()
    return digest[:16]
