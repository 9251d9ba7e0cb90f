"""Check-in: every change made on the laptop, brought back into the clinic in one transaction.

The laptop's audit log after its check-out mark says what changed on the road: new rows,
corrections and voids. Each touched row is written into the clinic as the laptop holds it
now, and each of its entries is copied with its original instant, names and reason, its
``via`` naming the laptop. New rows get fresh clinic ids; every foreign key, signature and
audit ``row_id`` (and the ids inside the audit JSON) follow, so row identities never clash.
The clinic's own triggers are suspended for those rows meanwhile (the entries are the
laptop's); on a server that is the owner role's right, as for a move onto the server.

All or nothing: the check-outs become ``returned`` in the same transaction, so a check-in
that fails (or is killed) leaves the clinic as before and the patients still out. Checking in
the same file again finds them returned and changes nothing. The laptop record is then noted
(its copies become read only); if that note cannot be written, the clinic is still complete.

A laptop whose check-out an administrator cancelled (a lost laptop) is not applied: its
changes are stored whole in ``checkin_reviews`` for someone to review; nothing is lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from clinic_app.storage.checkout.guard import local_time
from clinic_app.storage.checkout.links import CHART_TABLES, WHAT, Owners, placeholders
from clinic_app.storage.checkout.out import CheckoutRefused, now_text
from clinic_app.storage.database import Record, open_database
from clinic_app.storage.engines import ConstraintError, Engine
from clinic_app.storage.errors import NOTHING_LOST
from clinic_app.storage.identity import record_identity
from clinic_app.storage.permissions import Permission, require

BROUGHT_BACK = (*CHART_TABLES, "signatures")
"""What a check-in writes into the clinic: the charts, and the signatures on their rows."""

BOOKKEEPING = ("checkouts", "checkin_reviews")

_ENTRY = "id, at, via, app_user, os_user, reason, table_name, row_id, action, old_json, new_json"


@dataclass(frozen=True)
class CheckinReport:
    laptop: Path
    label: str
    mrns: tuple[str, ...]
    outcome: str
    """``applied``, ``already`` (nothing changed) or ``review`` (kept for review only)."""
    new_rows: dict[str, int] = field(default_factory=dict)
    changed_rows: dict[str, int] = field(default_factory=dict)
    audit_entries: int = 0
    kept_for_review: int = 0
    review_id: int | None = None
    left_on_laptop: dict[str, int] = field(default_factory=dict)
    """Changes not brought back (settings, accounts, drafts): they stay in the laptop file."""
    laptop_noted: bool = True
    note: str = ""

    def lines(self) -> list[str]:
        who = ", ".join(self.mrns)
        if self.outcome == "already":
            return [
                self.note or f"The laptop {self.label} was already checked in; nothing changed."
            ]
        out: list[str] = []
        added: int = sum(self.new_rows.values()) + sum(self.changed_rows.values())
        if self.outcome == "applied" or added:
            new, changed = sum(self.new_rows.values()), sum(self.changed_rows.values())
            out.append(
                f"Checked in the laptop {self.label} ({who}): "
                f"{_count(new, 'new entry', 'new entries')} and "
                f"{_count(changed, 'correction or void', 'corrections or voids')}, with "
                f"{_count(self.audit_entries, 'audit trail entry', 'audit trail entries')}; these "
                "patients can be changed here again."
            )
            out += [f"  {_what(t)}, new: {n}" for t, n in self.new_rows.items() if n]
            out += [
                f"  {_what(t)}, corrected or voided: {n}" for t, n in self.changed_rows.items() if n
            ]
        if self.review_id is not None:
            out.append(
                f"The check-out of the laptop {self.label} had been cancelled, so its "
                f"{self.kept_for_review} changes were not applied: they are kept in the clinic's "
                f"record for review (set {self.review_id}); nothing was lost."
            )
        elif self.outcome == "review" and not added:
            out.append(
                f"The check-out of the laptop {self.label} ({who}) had been cancelled, and "
                "nothing had been recorded on the laptop for these patients since, so there was "
                "nothing to bring back or to keep for review."
            )
        if self.left_on_laptop:
            kinds = ", ".join(f"{_what(t)} ({n})" for t, n in self.left_on_laptop.items())
            out.append(f"Not brought back, still in the laptop file: changes to {kinds}.")
        if not self.laptop_noted:
            out.append(
                "The laptop file could not be noted as checked in; the clinic's record is "
                "complete, and checking the file in again changes nothing."
            )
        return out


@dataclass
class _Laptop:
    """What check-in reads from the laptop record, once, before the clinic's transaction."""

    label: str
    identity: str
    lent: list[dict[str, Any]]
    mark: int
    rows: dict[str, dict[int, dict[str, Any]]]
    entries: list[dict[str, Any]]
    users: dict[int, str]
    foreign_keys: dict[str, dict[str, str]]


def check_in(
    clinic: Record,
    laptop_path: Path,
    *,
    now: datetime | None = None,
    on_step: Callable[[int], None] | None = None,
) -> CheckinReport:
    """Bring the changes of the laptop record at ``laptop_path`` back into ``clinic``.

    ``on_step(n)`` is called as each step starts: 0 checking the file, 1 reading the
    laptop's changes, 2 bringing them back (one transaction), 3 noting on the laptop that it
    was checked in (only when it still was out)."""
    step = on_step or (lambda _n: None)
    step(0)
    require(clinic, Permission.PATIENTS)
    if not laptop_path.is_file():
        raise CheckoutRefused(f"There is no laptop record at {laptop_path}; {NOTHING_LOST}.")
    if not clinic.on_server and clinic.path.resolve() == laptop_path.resolve():
        raise CheckoutRefused(f"A record cannot be checked in to itself; {NOTHING_LOST}.")
    clinic_identity = record_identity(clinic) or ""
    with open_database(laptop_path) as laptop:
        read = _read_laptop(laptop, laptop_path, clinic_identity, step)
        step(2)
        report = _bring_back(clinic, laptop_path, read, now_text(now))
        if any(r["status"] == "out" for r in read.lent):  # also a note that failed before
            step(3)
            noted = _note_on_laptop(laptop, report, read, clinic.actor, now_text(now))
            report = _with(report, laptop_noted=noted)
    return report


def _read_laptop(
    laptop: Record, path: Path, clinic_identity: str, step: Callable[[int], None]
) -> _Laptop:
    from clinic_app.storage.backup import check

    problems = check(laptop)
    if problems:
        raise CheckoutRefused(
            f"The laptop record {path} fails its check ({problems[0]}), so it may have been "
            f"altered outside clinic-app and was not checked in; {NOTHING_LOST}. Keep the file "
            "and ask the administrator."
        )
    sql = laptop.sql
    with laptop.guard(), laptop.read_snapshot():
        lent = sql.rows(
            "SELECT * FROM checkouts WHERE side = 'laptop' AND voided_at IS NULL ORDER BY id"
        )
        if not lent:
            raise CheckoutRefused(
                f"The record {path} is not a laptop record made by 'clinic-app checkout', so it "
                f"was not checked in; {NOTHING_LOST}."
            )
        if any(str(r["clinic_identity"]) != clinic_identity for r in lent):
            raise CheckoutRefused(
                f"The laptop record {path} was checked out from another record "
                f"({lent[0]['clinic_location']}), not this one, so it was not checked in; "
                f"{NOTHING_LOST}."
            )
        mark = min(int(r["audit_mark"]) for r in lent)
        step(1)
        rows = {
            table: {int(r["id"]): r for r in sql.rows(f"SELECT * FROM {table} ORDER BY id")}
            for table in BROUGHT_BACK
        }
        entries = sql.rows(f"SELECT {_ENTRY} FROM audit_log WHERE id > ? ORDER BY id", [mark])
        users = {int(i): str(n) for i, n in sql.execute("SELECT id, username FROM users")}
        foreign_keys = {
            table: {
                str(r[3]): str(r[2])
                for r in sql.execute(f"PRAGMA foreign_key_list({table})").fetchall()
            }
            for table in BROUGHT_BACK
        }
    return _Laptop(
        str(lent[0]["laptop_label"]),
        record_identity(laptop) or "",
        lent,
        mark,
        rows,
        entries,
        users,
        foreign_keys,
    )


def _bring_back(clinic: Record, path: Path, read: _Laptop, stamp: str) -> CheckinReport:
    label = read.label
    mrns = tuple(
        str(read.rows["patients"][int(r["patient_id"])]["mrn"])
        for r in read.lent
        if int(r["patient_id"]) in read.rows["patients"]
    )
    left = _left_on_laptop(read.entries)
    actor = clinic.actor
    with clinic.transaction(reason=f"checked in from the laptop {label}") as sql:
        ids = [int(r["clinic_checkout_id"] or 0) for r in read.lent]
        home = {
            int(r["id"]): r
            for r in sql.rows(
                f"SELECT id, patient_id, status, version, returned_at, laptop_identity "
                f"FROM checkouts WHERE side = 'clinic' AND id IN ({placeholders(len(ids))})",
                ids,
            )
            if str(r["laptop_identity"]) == read.identity
        }
        statuses = {
            int(r["patient_id"]): home.get(int(r["clinic_checkout_id"] or 0)) for r in read.lent
        }
        already = _already(sql, read, home)
        if already:
            return CheckinReport(path, label, mrns, "already", note=already)
        cancelled = any(h is None or h["status"] != "out" for h in statuses.values())
        apply, review = _split(read, statuses, cancelled)
        for checkout in home.values():
            if checkout["status"] == "out":
                sql.execute(
                    "UPDATE checkouts SET status = 'returned', returned_at = ?, returned_by = ?, "
                    "version = version + 1 WHERE id = ? AND version = ?",
                    [stamp, actor, checkout["id"], checkout["version"]],
                )
        new_rows, changed, copied = _apply(clinic, sql, read, apply)
        review_id = None
        if review:
            review_id = sql.insert(
                "INSERT INTO checkin_reviews (checkout_id, laptop_label, laptop_identity, "
                "received_at, received_by, entries, changes, status, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                [
                    next((int(h["id"]) for h in home.values() if h["status"] != "out"), None),
                    label,
                    read.identity,
                    stamp,
                    actor,
                    len(review),
                    _review_json(read, review),
                    actor,
                ],
            )
    outcome = "applied" if not cancelled else "review"
    return CheckinReport(
        path, label, mrns, outcome, new_rows, changed, copied, len(review), review_id, left
    )


def _already(sql: Engine, read: _Laptop, home: Mapping[int, Mapping[str, Any]]) -> str:
    if home and all(h["status"] == "returned" for h in home.values()):
        when = max(str(h["returned_at"]) for h in home.values())
        said = (
            f"The laptop {read.label} was already checked in on {local_time(when)}; "
            "nothing changed."
        )
        # A laptop whose note failed may have taken more changes after that: say so, they are
        # still in its file (the note is written again below).
        late = [e for e in read.entries if e["table_name"] in BROUGHT_BACK and str(e["at"]) > when]
        if late:
            said += (
                f" {len(late)} changes were made on the laptop after that; they were not brought "
                "back and are still in the laptop file (ask the administrator)."
            )
        return said
    kept = sql.execute(
        "SELECT id, received_at FROM checkin_reviews WHERE laptop_identity = ? "
        "AND voided_at IS NULL ORDER BY id LIMIT 1",
        [read.identity],
    ).fetchone()
    if kept is not None:
        return (
            f"The changes of the laptop {read.label} were already kept for review (set "
            f"{kept[0]}, {str(kept[1])[:10]}); nothing changed."
        )
    return ""


def _left_on_laptop(entries: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    left: dict[str, int] = {}
    for entry in entries:
        table = str(entry["table_name"])
        if table not in BROUGHT_BACK and table not in BOOKKEEPING:
            left[table] = left.get(table, 0) + 1
    return left


def _split(
    read: _Laptop, statuses: Mapping[int, Mapping[str, Any] | None], cancelled: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The entries to apply and those to keep for review, by the patient each row is of."""
    owners = Owners({t: list(r.values()) for t, r in read.rows.items()})
    apply: list[dict[str, Any]] = []
    review: list[dict[str, Any]] = []
    for entry in read.entries:
        table = str(entry["table_name"])
        if table not in BROUGHT_BACK:
            continue
        row = read.rows[table].get(int(entry["row_id"]))
        if table == "signatures" and row is not None:
            target_table = str(row["table_name"])
            target = read.rows.get(target_table, {}).get(int(row["row_id"]))
            owner = None if target is None else owners.of(target_table, target)
        else:
            owner = None if row is None else owners.of(table, row)
        if owner is not None and owner in statuses:
            status = statuses[owner]
            goes = status is not None and status["status"] == "out"
        else:  # a patient new on the laptop, or a row of nobody's
            goes = owner is not None and not cancelled
        (apply if goes else review).append(entry)
    return apply, review


def _apply(
    clinic: Record, sql: Engine, read: _Laptop, entries: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, int], dict[str, int], int]:
    if not entries:
        return {}, {}, 0
    touched: dict[tuple[str, int], list[Mapping[str, Any]]] = {}
    for entry in entries:
        touched.setdefault((str(entry["table_name"]), int(entry["row_id"])), []).append(entry)
    ids: dict[str, dict[int, int]] = {t: {} for t in BROUGHT_BACK}
    users = _user_map(sql, read)
    new_rows: dict[str, int] = {}
    changed: dict[str, int] = {}
    tables = sorted({t for t, _ in touched}, key=BROUGHT_BACK.index)
    try:
        with _suspended(sql, tables):
            for table in tables:
                for (t, row_id), trail in sorted(touched.items(), key=lambda kv: kv[0][1]):
                    if t != table:
                        continue
                    row = read.rows[table].get(row_id)
                    if row is None:
                        raise CheckoutRefused(
                            f"The laptop's {table} row {row_id} has audit entries but is not in "
                            f"the laptop record, so nothing was checked in; {NOTHING_LOST}."
                        )
                    values = _remapped(table, row, read, ids, users)
                    if str(trail[0]["action"]) == "insert":
                        ids[table][row_id] = _insert(sql, table, values)
                        new_rows[table] = new_rows.get(table, 0) + 1
                    else:
                        _update(sql, table, row_id, values, int(row["version"]) - len(trail))
                        changed[table] = changed.get(table, 0) + 1
            for entry in entries:
                _copy_entry(sql, entry, read, ids, users)
    except ConstraintError as exc:
        raise CheckoutRefused(
            f"The laptop {read.label} could not be checked in: the clinic's record refused one "
            f"of its rows ({exc}), so nothing was checked in and the patients stay checked "
            f"out; {NOTHING_LOST}."
        ) from exc
    return new_rows, changed, len(entries)


def _suspended(sql: Engine, tables: Sequence[str]) -> AbstractContextManager[None]:
    # On the server a nurse signs in as the app role, which may not switch triggers off: the
    # server's check-in session (engines/pg_checkin) lets the laptop's rows and entries in.
    if sql.kind == "postgresql":
        return _server_session(sql, tables)
    return sql.triggers_suspended(tables)


@contextmanager
def _server_session(sql: Engine, tables: Sequence[str]) -> Iterator[None]:
    sql.execute("SELECT clinic_app_begin_checkin(?::text[])", [list(tables)]).fetchone()
    yield
    sql.execute("SELECT clinic_app_end_checkin()").fetchone()


def _user_map(sql: Engine, read: _Laptop) -> dict[int, int]:
    here = {str(n).casefold(): int(i) for i, n in sql.execute("SELECT id, username FROM users")}
    return {
        lid: here[name.casefold()] for lid, name in read.users.items() if name.casefold() in here
    }


def _refs(table: str, row: Mapping[str, Any], read: _Laptop) -> Iterator[tuple[str, str]]:
    """(column, the table its value is an id of) for every id a row of ``table`` holds."""
    yield "id", table
    yield from read.foreign_keys.get(table, {}).items()
    if table == "signatures":
        yield "row_id", str(row["table_name"])


def _mapped(
    value: Any,
    parent: str,
    ids: Mapping[str, Mapping[int, int]],
    users: Mapping[int, int],
    label: str,
) -> Any:
    if value is None:
        return None
    if parent == "users":
        if int(value) not in users:
            raise CheckoutRefused(
                f"A signature on the laptop {label} is by an account the clinic's record does "
                f"not have, so nothing was checked in; {NOTHING_LOST}. Add the account at the "
                "clinic first."
            )
        return users[int(value)]
    return ids.get(parent, {}).get(int(value), value)


def _remapped(
    table: str,
    row: Mapping[str, Any],
    read: _Laptop,
    ids: Mapping[str, Mapping[int, int]],
    users: Mapping[int, int],
) -> dict[str, Any]:
    out = dict(row)
    for column, parent in _refs(table, row, read):
        if column != "id":
            out[column] = _mapped(row[column], parent, ids, users, read.label)
    out.pop("id")
    return out


def _insert(sql: Engine, table: str, values: Mapping[str, Any]) -> int:
    names = list(values)
    return sql.insert(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders(len(names))})",
        [values[n] for n in names],
    )


def _update(sql: Engine, table: str, row_id: int, values: Mapping[str, Any], was: int) -> None:
    names = list(values)
    cursor = sql.execute(
        f"UPDATE {table} SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ? AND version = ?",
        [*(values[n] for n in names), row_id, was],
    )
    if cursor.rowcount != 1:
        raise CheckoutRefused(
            f"The clinic's {table} row {row_id} is not as it was when it went out on the laptop, "
            f"so nothing was checked in and the patients stay checked out; {NOTHING_LOST}."
        )


def _copy_entry(
    sql: Engine,
    entry: Mapping[str, Any],
    read: _Laptop,
    ids: Mapping[str, Mapping[int, int]],
    users: Mapping[int, int],
) -> None:
    table = str(entry["table_name"])
    row = read.rows[table][int(entry["row_id"])]
    refs = dict(_refs(table, row, read))

    def remap(text: Any) -> Any:
        if text is None:
            return None
        data = json.loads(str(text))
        if not isinstance(data, dict):
            return text
        moved = False
        for column, parent in refs.items():
            if data.get(column) is not None:
                value = _mapped(data[column], parent, ids, users, read.label)
                if value != data[column]:
                    data[column], moved = value, True
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")) if moved else text

    # The server takes a laptop's entry only through its check-in session (pg_checkin).
    into = (
        "SELECT clinic_app_checkin_entry(?, ?, ?, ?, ?, ?, ?::bigint, ?, ?, ?)"
        if sql.kind == "postgresql"
        else "INSERT INTO audit_log (at, via, app_user, os_user, reason, table_name, row_id, "
        "action, old_json, new_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    sql.execute(
        into,
        [
            entry["at"],
            f"{entry['via']} on the laptop {read.label}",
            entry["app_user"],
            entry["os_user"],
            entry["reason"],
            table,
            ids.get(table, {}).get(int(entry["row_id"]), int(entry["row_id"])),
            entry["action"],
            remap(entry["old_json"]),
            remap(entry["new_json"]),
        ],
    )


def _review_json(read: _Laptop, entries: Sequence[Mapping[str, Any]]) -> str:
    touched: dict[str, list[dict[str, Any]]] = {}
    seen: set[tuple[str, int]] = set()
    for entry in entries:
        key = (str(entry["table_name"]), int(entry["row_id"]))
        if key not in seen and key[1] in read.rows.get(key[0], {}):
            seen.add(key)
            touched.setdefault(key[0], []).append(read.rows[key[0]][key[1]])
    return json.dumps(
        {
            "laptop": read.label,
            "laptop_identity": read.identity,
            "since_entry": read.mark,
            "entries": [dict(e) for e in entries],
            "rows": touched,
            # So the set can be applied later, even with the laptop gone: who each user id
            # is, and which table each id column points at.
            "users": {str(i): n for i, n in read.users.items()},
            "foreign_keys": read.foreign_keys,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _note_on_laptop(
    laptop: Record, report: CheckinReport, read: _Laptop, actor: str, stamp: str
) -> bool:
    """The laptop's copies become read only, noting when they went back (best effort)."""
    try:
        with laptop.transaction(reason=f"checked in to the clinic ({report.outcome})") as sql:
            for row in read.lent:
                if row["status"] == "out":
                    sql.execute(
                        "UPDATE checkouts SET status = 'returned', returned_at = ?, "
                        "returned_by = ?, version = version + 1 WHERE id = ? AND version = ?",
                        [stamp, actor, row["id"], row["version"]],
                    )
    except Exception:  # the clinic already holds everything; the report says so
        return False
    return True


def _with(report: CheckinReport, **changes: Any) -> CheckinReport:
    from dataclasses import replace

    return replace(report, **changes)


_LEFT = {"users": "accounts", "drafts": "unfinished forms", "settings": "settings"}


def _what(table: str) -> str:
    return WHAT.get(table) or _LEFT.get(table) or table.replace("_", " ")


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"
