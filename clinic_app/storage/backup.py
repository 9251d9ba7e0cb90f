"""Backups through SQLite's online backup API (never a file copy of a live database).

- :func:`backup_to` writes a consistent snapshot, even while other windows are writing, into a
  temporary ``.partial`` file, runs ``PRAGMA integrity_check`` on that copy, and only a copy
  that passed gets its final name and a manifest beside it (``<copy>.manifest.json``: when it
  was taken, in which order, its size, that it was verified). A copy that fails is deleted and
  the backup reported as failed: a corrupt copy is never counted as good.
- :func:`daily_backup_if_due` runs when the app or a command starts a session on a record
  (first of each local day; ``services.context.start_daily_backup``), and again from the
  GUI's timer while a window stays open for days. It keeps the newest ``backup.keep`` *good*
  daily copies (setting, default 14), ordered by when they were taken (the manifest's
  sequence), never by file name: a clock set back cannot make today's copy look oldest.
- The backup folder comes only from this computer's settings file (``backup.folder``, see
  ``location.py``), else the ``backups`` folder next to the record; never from the record,
  which an imported file or a restored backup could have filled.
- Backups are created 0600 in a 0700 folder (they hold password hashes); ``.partial`` files
  left by a killed backup are removed by the next one.
- :func:`restore_from` checks the backup first, keeps the file it replaces, then restores; a
  record too damaged to open is moved aside as it is.
- :func:`check` lists problems, one line each.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from clinic_app.storage import integrity, schema
from clinic_app.storage.database import (
    DEFAULT_BUSY_TIMEOUT_MS,
    Record,
    open_database,
    schema_problems,
)
from clinic_app.storage.errors import StorageError, damaged_message, translate
from clinic_app.storage.location import default_backup_folder
from clinic_app.storage.private import create_private_file, make_private, make_private_folder

DEFAULT_KEEP = 14
KEEP_SETTING = "backup.keep"
FOLDER_SETTING = "backup.folder"
MANIFEST_SUFFIX = ".manifest.json"
PARTIAL_SUFFIX = ".partial"


def backup_folder(record: Record) -> Path:
    """This computer's backup folder for ``record`` (never a value stored in the record)."""
    return default_backup_folder(record.path)


def _keep(record: Record) -> int:
    value = record.repos.settings.value(KEEP_SETTING, DEFAULT_KEEP)
    # A setting that is not a positive whole number must not delete backups: use the default.
    return (
        value
        if isinstance(value, int) and not isinstance(value, bool) and value > 0
        else DEFAULT_KEEP
    )


# -- manifests ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Manifest:
    """What is known about one backup copy, written beside it once it was verified."""

    file: Path
    taken_at: str
    """UTC, ISO text; for people (the order is ``sequence``)."""
    sequence: int
    """1 + the highest sequence in the folder when the copy was taken: the order copies were
    made in, whatever the clock said."""
    size: int
    verified: bool

    @property
    def good(self) -> bool:
        """Verified when written and still the size it had then (a truncated or replaced file
        is not counted as good)."""
        try:
            return self.verified and self.file.stat().st_size == self.size
        except OSError:
            return False


def manifest_path(copy: Path) -> Path:
    return copy.with_name(copy.name + MANIFEST_SUFFIX)


def read_manifest(copy: Path) -> Manifest | None:
    """The manifest of ``copy``; None when there is none (or it cannot be read)."""
    try:
        data = json.loads(manifest_path(copy).read_text(encoding="utf-8"))
        return Manifest(
            file=copy,
            taken_at=str(data["taken_at"]),
            sequence=int(data["sequence"]),
            size=int(data["size"]),
            verified=data["verified"] is True,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_manifest(copy: Path, sequence: int, taken: datetime) -> None:
    text = json.dumps(
        {
            "taken_at": taken.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sequence": sequence,
            "size": copy.stat().st_size,
            "verified": True,  # written only after the integrity check passed
            "check": "PRAGMA integrity_check = ok",
        },
        indent=2,
    )
    target = manifest_path(copy)
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    partial.unlink(missing_ok=True)
    create_private_file(partial)
    partial.write_text(text + "\n", encoding="utf-8")
    os.replace(partial, target)


def _next_sequence(folder: Path) -> int:
    highest = 0
    for file in folder.glob("*" + MANIFEST_SUFFIX):
        found = read_manifest(file.with_name(file.name[: -len(MANIFEST_SUFFIX)]))
        if found is not None:
            highest = max(highest, found.sequence)
    return highest + 1


# -- partial files -----------------------------------------------------------------------------
def _partial_for(target: Path) -> Path:
    # The writer's process id is in the name, so a stale partial can be told from a live one.
    return target.with_name(f"{target.name}.{os.getpid()}{PARTIAL_SUFFIX}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would not test a process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale_partials(folder: Path) -> list[Path]:
    """Delete the ``.partial`` files (and their journals) of backups whose process is gone.

    A backup killed half way leaves its temporary file; the next backup clears it. A partial
    of a backup running now in another process is left alone.
    """
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for file in folder.iterdir():
        name = file.name
        if PARTIAL_SUFFIX not in name:
            continue
        stem = name.split(PARTIAL_SUFFIX)[0]
        pid_text = stem.rsplit(".", 1)[-1]
        if pid_text.isdigit() and _alive(int(pid_text)):
            continue
        file.unlink(missing_ok=True)
        removed.append(file)
    return removed


# -- writing a copy ------------------------------------------------------------------------------
def _integrity_lines(path: Path) -> list[str]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
    finally:
        conn.close()


def _online_copy(
    source: sqlite3.Connection, target: Path, source_path: Path, *, manifest: bool = True
) -> None:
    """Snapshot ``source`` into ``target`` via a temporary file, check the copy, and only then
    give it its final name, so a failure leaves no half (or corrupt) file under that name."""
    make_private_folder(target.parent)
    remove_stale_partials(target.parent)
    partial = _partial_for(target)
    partial.unlink(missing_ok=True)
    taken = datetime.now(UTC)
    try:
        create_private_file(partial)  # 0600 before a single page is written
        dest = sqlite3.connect(str(partial))
        try:
            source.backup(dest)
            # A self-contained file: no -wal or -shm beside a backup.
            dest.execute("PRAGMA journal_mode = DELETE").fetchone()
        finally:
            dest.close()
        lines = _integrity_lines(partial)
        if lines != ["ok"]:
            raise StorageError(
                f"The backup to {target} was not kept: the copy failed its integrity check "
                f"({'; '.join(lines[:3])}), so the record itself is probably damaged; "
                f"{damaged_message(source_path)}"
            )
        make_private(partial)
        sequence = _next_sequence(target.parent) if manifest else 0
        manifest_path(target).unlink(missing_ok=True)  # a stale one must not vouch for it
        os.replace(partial, target)
        if manifest:
            _write_manifest(target, sequence, taken)
    except sqlite3.Error as exc:
        raise translate(exc, source_path) or StorageError(f"Backup failed: {exc}") from exc
    except OSError as exc:
        raise StorageError(
            f"The backup to {target} failed ({exc.strerror or exc}); the record itself is "
            "unchanged."
        ) from exc
    finally:
        for leftover in [partial] + [
            partial.with_name(partial.name + side) for side in ("-journal", "-wal", "-shm")
        ]:
            leftover.unlink(missing_ok=True)


def backup_to(record: Record, target: Path) -> Path:
    """A consistent, verified copy of the whole record at ``target`` (replacing a file there)."""
    if record.in_transaction:
        raise StorageError("A backup cannot run inside a write transaction.")
    _online_copy(record.db.conn, target, record.path)
    return target


def default_backup_name(record: Record, when: datetime | None = None) -> Path:
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return backup_folder(record) / f"{record.path.stem}-{stamp}.sqlite3"


# -- daily copies and pruning --------------------------------------------------------------------
def _daily_files(folder: Path, stem: str) -> list[Path]:
    return sorted(folder.glob(f"{stem}-daily-????-??-??.sqlite3"))


def _order(copies: Iterable[Path]) -> list[tuple[Path, Manifest | None]]:
    """Oldest first by when taken; copies without a manifest (older versions of the app) come
    first, in name order, and are never counted as good."""
    pairs = [(copy, read_manifest(copy)) for copy in copies]
    return sorted(pairs, key=lambda pair: (pair[1].sequence if pair[1] else 0, pair[1] is not None))


def prune(folder: Path, stem: str, keep: int, *, protect: Path | None = None) -> list[Path]:
    """Delete old daily copies so that the newest ``keep`` good ones stay; returns what went.

    Only copies older than the oldest kept good one are deleted (good or not), so pruning can
    never leave fewer good copies than there were, nor remove a good copy to keep a bad one.
    ``protect`` (the copy just made) is never deleted.
    """
    ordered = _order(_daily_files(folder, stem))
    good = [copy for copy, found in ordered if found is not None and found.good]
    if len(good) <= keep:
        return []
    oldest_kept = good[-keep]
    cut = [copy for copy, _ in ordered].index(oldest_kept)
    removed = []
    for copy, _ in ordered[:cut]:
        if copy == protect:
            continue
        copy.unlink(missing_ok=True)
        manifest_path(copy).unlink(missing_ok=True)
        removed.append(copy)
    return removed


def daily_backup_if_due(record: Record, today: date | None = None) -> Path | None:
    """Back up once per day; returns the new file, or ``None`` if today's good copy exists or
    it failed (then ``record.backup_problem`` says why; the record itself is never affected)."""
    if record.on_server:
        # A clinic server is backed up on the server (admin guide); every desk copying the
        # whole shared record each morning would be slow and scatter copies of it.
        return None
    day = today or date.today()
    try:
        folder = backup_folder(record)
        target = folder / f"{record.path.stem}-daily-{day.isoformat()}.sqlite3"
        found = read_manifest(target) if target.exists() else None
        if found is not None and found.good:
            return None
        backup_to(record, target)
        prune(folder, record.path.stem, _keep(record), protect=target)
        record.backup_problem = _folder_notice(record, folder)
        return target
    except (StorageError, OSError) as exc:
        record.backup_problem = f"The automatic daily backup failed: {exc}"
        return None


def _folder_notice(record: Record, folder: Path) -> str | None:
    """A record from an older version (or an import) may name a backup folder; it is no longer
    obeyed, and the person is told where the copies go instead."""
    named = record.repos.settings.value(FOLDER_SETTING)
    if not isinstance(named, str) or not named or Path(named) == folder:
        return None
    return (
        f"The record names the backup folder {named}, but backups follow only this computer's "
        f"settings now; today's backup went to {folder}. If {named} is yours, choose it in "
        "File ▸ Settings (or 'clinic-app settings set backup.folder PATH')."
    )


def good_backups(db_path: Path) -> list[Path]:
    """The verified copies of ``db_path`` in its backup folder, newest first (by when taken).

    Works without opening the record, so a damaged record can still be restored.
    """
    folder = default_backup_folder(db_path)
    if not folder.is_dir():
        return []
    copies = [
        file
        for file in folder.glob(f"{db_path.stem}-*.sqlite3")
        if (found := read_manifest(file)) is not None and found.good
    ]
    return [copy for copy, _ in reversed(_order(copies))]


def newest_good_backup(db_path: Path) -> Path | None:
    """The newest verified backup of ``db_path`` that still passes :func:`verify_backup`."""
    for copy in good_backups(db_path):
        if not verify_backup(copy):
            return copy
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


def _sound(db_path: Path) -> bool:
    """Whether the file opens as a database and passes SQLite's quick check."""
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()] == ["ok"]
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def _set_aside(db_path: Path, kept: Path) -> None:
    """Keep the file being replaced: an online copy if it is a sound database, else move the
    bytes aside exactly as they are (a damaged record is evidence, and may hold what the
    backup does not)."""
    if _sound(db_path):
        live = sqlite3.connect(str(db_path), timeout=DEFAULT_BUSY_TIMEOUT_MS / 1000)
        try:
            _online_copy(live, kept, db_path, manifest=False)
            return
        except StorageError:
            pass  # damage the quick check missed: move it aside below
        finally:
            live.close()
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
        create_private_file(db_path)  # when the old file was moved aside: a new one, 0600
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
    open_database(db_path).close()
    return kept


def check(record: Record) -> list[str]:
    """Integrity, foreign keys and schema: one line per problem (empty when all is well)."""
    if record.on_server:
        # The server keeps its own pages and foreign keys whole; what can go wrong there is a
        # trigger dropped or edited, and a log that no longer matches the rows.
        with record.guard(), record.read_snapshot():
            found = schema_problems(record)
            return found + [p for p in integrity.audit_problems(record.sql) if p not in found]
    conn = record.db.conn
    problems: list[str] = []
    with record.guard():
        lines = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
        if lines != ["ok"]:
            # A damaged file: the other checks would read damaged pages; say what to do.
            return [damaged_message(record.path, "integrity check failed")] + [
                f"integrity: {line}" for line in lines
            ]
        for table, rowid, parent, _fk in conn.execute("PRAGMA foreign_key_check").fetchall():
            problems.append(f"foreign key: {table} row {rowid} points to a missing {parent} row")
        problems += schema_problems(record)
        problems += [p for p in integrity.verify(conn) if p not in problems]
    return problems
