"""clinic_app.storage: the clinical record in one SQLite file (sqlite-utils; never Qt).

Entry points: ``location.resolve_db_path``, ``database.open_database`` (returns a ``Record``;
``record.transaction(reason=...)`` for writes, ``record.repos`` for the repositories),
``backup`` (online backups, restore, check) and ``errors`` (``StorageError`` and subclasses).
Design notes: docs/storage.md.
"""
