"""Backups through SQLite's online backup API (never a file copy of a live database).

- :func:`backup_to` writes a consistent snapshot, even while other windows are writing.
- :func:`daily_backup_if_due` runs on the first open of each (local) day and keeps the newest
  ``backup.keep`` daily files (setting, default 14) in ``backup.folder`` (setting, default the
  ``backups`` folder next to the database).
- :func:`restore_from` checks the backup first, keeps the file it replaces, then restores.
- :func:`check` lists problems, one line each.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

from clinic_app.storage import integrity, schema
from clinic_app.storage.database import (
    DEFAULT_BUSY_TIMEOUT_MS,
    Record,
    open_database,
    schema_problems,
)
from clinic_app.storage.errors import StorageError, translate

DEFAULT_KEEP = 14
KEEP_SETTING = "backup.keep"
FOLDER_SETTING = "backup.folder"


def backup_folder(record: Record) -> Path:
    configured = record.repos.settings.value(FOLDER_SETTING)
    return Path(configured) if configured else record.path.parent / "backups"


def _keep(record: Record) -> int:
    value = record.repos.settings.value(KEEP_SETTING, DEFAULT_KEEP)
    # A setting that is not a positive whole number must not delete backups: use the default.
    return (
        value
        if isinstance(value, int) and not isinstance(value, bool) and value > 0
        else DEFAULT_KEEP
    )


def _online_copy(source: sqlite3.Connection, target: Path, source_path: Path) -> None:
    """Snapshot ``source`` into ``target`` via a temporary file, so a failure leaves no half
    file under the final name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        dest = sqlite3.connect(str(partial))
        try:
            source.backup(dest)
        finally:
            dest.close()
        os.replace(partial, target)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise translate(exc, source_path) or StorageError(f"Backup failed: {exc}") from exc
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(
            f"The backup to {target} failed ({exc.strerror or exc}); the record itself is "
            "unchanged."
        ) from exc


def backup_to(record: Record, target: Path) -> Path:
    """A consistent copy of the whole record at ``target`` (replacing a file already there)."""
    if record.in_transaction:
        raise StorageError("A backup cannot run inside a write transaction.")
    _online_copy(record.db.conn, target, record.path)
    return target


def default_backup_name(record: Record, when: datetime | None = None) -> Path:
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return backup_folder(record) / f"{record.path.stem}-{stamp}.sqlite3"


def _daily_files(folder: Path, stem: str) -> list[Path]:
    return sorted(folder.glob(f"{stem}-daily-????-??-??.sqlite3"))


def daily_backup_if_due(record: Record, today: date | None = None) -> Path | None:
    """Back up once per day; returns the new file, or ``None`` if today's exists or it failed
    (then ``record.backup_problem`` says why; the record itself is never affected)."""
    day = today or date.today()
    try:
        folder = backup_folder(record)
        target = folder / f"{record.path.stem}-daily-{day.isoformat()}.sqlite3"
        if target.exists():
            return None
        backup_to(record, target)
        for old in _daily_files(folder, record.path.stem)[: -_keep(record)]:
            old.unlink(missing_ok=True)
        return target
    except (StorageError, OSError) as exc:
        record.backup_problem = f"The automatic daily backup failed: {exc}"
        return None


def verify_backup(path: Path) -> list[str]:
    """Problems that make ``path`` unfit to restore (empty when it is a sound backup)."""
    if not path.is_file():
        return [f"{path}: no such file"]
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return [f"{path}: cannot be opened ({exc})"]
    try:
        lines = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        if lines != ["ok"]:
            return [f"{path}: integrity: {line}" for line in lines]
        tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master").fetchall()}
        if "_sqlite_migrations" not in tables:
            return [f"{path}: not a clinic-app database (no schema history)"]
        applied = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = ?",
                [schema.MIGRATION_SET],
            ).fetchall()
        ]
        problems = [
            f"{path}: made by a newer clinic-app (unknown change {name})"
            for name in applied
            if name not in schema.MIGRATION_NAMES
        ]
        if schema.MIGRATION_NAMES[0] not in applied:
            problems.append(f"{path}: not a clinic-app database (no initial schema)")
            return problems
        # Triggers as installed and the audit log against the rows (issue 15, item 7).
        return problems + [f"{path}: {line}" for line in integrity.verify(conn)]
    except sqlite3.Error as exc:
        error = translate(exc, path)
        return [f"{path}: {error or exc}"]
    finally:
        conn.close()


def _set_aside(db_path: Path, kept: Path) -> None:
    """Keep the file being replaced: an online copy if it is a database, else rename it."""
    try:
        live = sqlite3.connect(str(db_path), timeout=DEFAULT_BUSY_TIMEOUT_MS / 1000)
        try:
            live.execute("SELECT count(*) FROM sqlite_master").fetchone()
            _online_copy(live, kept, db_path)
            return
        finally:
            live.close()
    except sqlite3.DatabaseError:
        pass  # not a database (or damaged): move the bytes aside as they are
    os.replace(db_path, kept)
    for suffix in ("-wal", "-shm"):
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():  # a WAL of the damaged file must not be replayed into the backup
            os.replace(side, kept.with_name(kept.name + suffix))


def restore_from(db_path: Path, backup_path: Path, *, now: datetime | None = None) -> Path | None:
    """Replace the record at ``db_path`` by ``backup_path``; returns where the replaced file was
    kept (``None`` when there was none). Nothing changes unless the backup checks out."""
    problems = verify_backup(backup_path)
    if problems:
        raise StorageError(
            "The backup was not restored because it failed its check; nothing was changed: "
            + "; ".join(problems)
        )
    kept: Path | None = None
    if db_path.exists():
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        kept = db_path.with_name(f"{db_path.stem}.replaced-{stamp}{db_path.suffix}")
        _set_aside(db_path, kept)
    try:
        source = sqlite3.connect(f"{backup_path.resolve().as_uri()}?mode=ro", uri=True)
        dest = sqlite3.connect(str(db_path), timeout=DEFAULT_BUSY_TIMEOUT_MS / 1000)
        try:
            source.backup(dest)  # takes the write lock: other windows wait, then see the backup
        finally:
            dest.close()
            source.close()
    except sqlite3.Error as exc:
        kept_note = f" The previous file is kept at {kept}." if kept else ""
        raise (
            translate(exc, db_path) or StorageError(f"Restore failed: {exc}.{kept_note}")
        ) from exc
    # Bring an older backup up to this app's schema (one transaction, as on every open).
    open_database(db_path, daily_backup=False).close()
    return kept


def check(record: Record) -> list[str]:
    """Integrity, foreign keys and schema: one line per problem (empty when all is well)."""
    conn = record.db.conn
    problems: list[str] = []
    with record.guard():
        lines = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        problems += [f"integrity: {line}" for line in lines if line != "ok"]
        for table, rowid, parent, _fk in conn.execute("PRAGMA foreign_key_check").fetchall():
            problems.append(f"foreign key: {table} row {rowid} points to a missing {parent} row")
        problems += schema_problems(record)
        problems += [p for p in integrity.verify(conn) if p not in problems]
    return problems
