"""Settling a check-in review set: the changes of a laptop whose check-out was cancelled.

Each row the laptop touched is one change: a new row, or a correction or void of a row the
clinic also holds. A correction applies cleanly only while the clinic's row is still at the
version that went out on the laptop; otherwise the clinic changed it since, and it is a
conflict: never applied over the clinic's row, it stays listed in the set. So is a change whose
parent can no longer take it (``_Parents``): an entry whose cycle, enrolment or patient (or
any row it points at) the clinic voided since check-out, or whose new parent from the laptop is
itself a conflict; each conflict says why in words (``Change.why``).

Applying (an administrator, with a reason) writes the new rows and the clean corrections in
one transaction through check-in's own writer (``back._apply``: fresh ids, foreign keys
followed, the laptop's audit entries copied with their who, when and reason). The set keeps
its JSON whole; what was applied is added to it under ``applied``, so a second apply changes
nothing. Dismissing marks the set settled and keeps its JSON too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from clinic_app.storage.checkout.back import BROUGHT_BACK, _apply, _count, _Laptop
from clinic_app.storage.checkout.links import LINKS, WHAT, Owners
from clinic_app.storage.checkout.out import CheckoutRefused, now_text
from clinic_app.storage.database import Record
from clinic_app.storage.engines import Engine
from clinic_app.storage.errors import NOTHING_LOST
from clinic_app.storage.permissions import PermissionDeniedError, Role

CLEAN = "will apply"
CONFLICT = "conflict: the clinic changed this since"
APPLIED = "applied"
CHANGED = "the clinic changed this since"
"""Why an entry conflicts when the clinic changed it since check-out (CONFLICT says the same)."""


@dataclass(frozen=True)
class Change:
    """One row the laptop touched, side by side with the clinic's row now."""

    table: str
    row_id: int
    kind: str
    """``new``, ``correction`` or ``void``."""
    patient: str
    laptop: dict[str, Any]
    clinic: dict[str, Any] | None
    state: str
    """:data:`CLEAN`, :data:`CONFLICT` or :data:`APPLIED`."""
    reason: str
    by: str
    at: str
    why: str = ""
    """For a conflict: why, in words (e.g. ``the clinic voided the cycle this dose belongs to
    since check-out``)."""

    @property
    def said(self) -> str:
        """The state in words; a conflict says why."""
        return f"conflict: {self.why}" if self.state == CONFLICT and self.why else self.state

    @property
    def what(self) -> str:
        """In words, e.g. ``new lab result`` or ``correction of adverse event``."""
        thing = WHAT.get(self.table, self.table.replace("_", " "))
        return f"new {thing}" if self.kind == "new" else f"{self.kind} of {thing}"

    @property
    def key(self) -> str:
        return f"{self.table}:{self.row_id}"

    def differences(self) -> dict[str, tuple[Any, Any]]:
        """Column: (laptop value, clinic value), for the columns that differ."""
        skip = {"id", "version", "updated_at", "updated_by", "created_at", "created_by"}
        clinic = self.clinic or {}
        return {
            c: (v, clinic.get(c))
            for c, v in self.laptop.items()
            if c not in skip and v != clinic.get(c)
        }


def _admin(record: Record, doing: str) -> None:
    if record.has_users() and record.role is not Role.ADMINISTRATOR:
        raise PermissionDeniedError(
            f"Only an administrator may {doing} a laptop's changes kept for review; {NOTHING_LOST}."
        )


def _load(sql: Engine, review_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    row = sql.execute(
        "SELECT id, status, version, changes, laptop_label FROM checkin_reviews "
        "WHERE id = ? AND voided_at IS NULL",
        [review_id],
    ).fetchone()
    if row is None:
        raise CheckoutRefused(f"There is no set {review_id} of laptop changes; {NOTHING_LOST}.")
    head = {"id": int(row[0]), "status": str(row[1]), "version": int(row[2]), "label": str(row[4])}
    return head, json.loads(str(row[3]))


def _laptop(data: dict[str, Any], sql: Engine) -> _Laptop:
    rows = {t: {int(r["id"]): r for r in data.get("rows", {}).get(t, [])} for t in BROUGHT_BACK}
    keys = data.get("foreign_keys")
    if keys is None:  # a set kept before these were stored: the clinic's own schema says
        keys = {t: _clinic_keys(sql, t) for t in BROUGHT_BACK}
    users = {int(i): str(n) for i, n in data.get("users", {}).items()}
    return _Laptop(
        str(data["laptop"]),
        str(data.get("laptop_identity", "")),
        [],
        int(data.get("since_entry", 0)),
        rows,
        list(data.get("entries", [])),
        users,
        {t: dict(v) for t, v in keys.items()},
    )


def _clinic_keys(sql: Engine, table: str) -> dict[str, str]:
    if sql.kind == "postgresql":
        found = sql.execute(
            "SELECT kcu.column_name, ccu.table_name FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = "
            "tc.constraint_name JOIN information_schema.constraint_column_usage ccu ON "
            "ccu.constraint_name = tc.constraint_name WHERE tc.constraint_type = 'FOREIGN KEY' "
            "AND tc.table_name = ?",
            [table],
        ).fetchall()
        return {str(c): str(t) for c, t in found}
    return {str(r[3]): str(r[2]) for r in sql.execute(f"PRAGMA foreign_key_list({table})")}


def _trails(entries: list[dict[str, Any]]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    trails: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for entry in entries:
        trails.setdefault((str(entry["table_name"]), int(entry["row_id"])), []).append(entry)
    return trails


def _classify(sql: Engine, read: _Laptop, applied: set[str], mark: int) -> list[Change]:
    owners = Owners({t: list(r.values()) for t, r in read.rows.items()})
    changes: list[Change] = []
    conflicting: set[tuple[str, int]] = set()
    trails = _trails(read.entries)
    news = {k for k, trail in trails.items() if str(trail[0]["action"]) == "insert"}
    parents = _Parents(sql, read, news, mark)
    ordered = sorted(trails.items(), key=lambda kv: (BROUGHT_BACK.index(kv[0][0]), kv[0][1]))
    for (table, row_id), trail in ordered:
        row = read.rows.get(table, {}).get(row_id)
        if row is None:
            continue
        new = (table, row_id) in news
        here = None if new else _clinic_row(sql, table, row_id)
        why = ""
        if table == "signatures":  # a signature follows the row it signs
            target = (str(row["table_name"]), int(row["row_id"]))
            if target in conflicting:
                why = "the change it signs is a conflict too"
        elif not new:
            went_out = int(row["version"]) - len(trail)
            if here is None or int(here["version"]) != went_out:
                why = CHANGED
        # Parents are classified first (BROUGHT_BACK's order), so a conflict passes down.
        why = why or parents.refusal(table, row, new, conflicting)
        key = f"{table}:{row_id}"
        state = APPLIED if key in applied else (CONFLICT if why else CLEAN)
        if state == CONFLICT:
            conflicting.add((table, row_id))
        kind = "new" if new else ("void" if row.get("voided_at") else "correction")
        last = trail[-1]
        changes.append(
            Change(
                table,
                row_id,
                kind,
                _patient(sql, read, owners, table, row),
                dict(row),
                here,
                state,
                str(last.get("reason") or ""),
                str(last.get("app_user") or last.get("os_user") or ""),
                str(last.get("at") or ""),
                why if state == CONFLICT else "",
            )
        )
    return changes


def _word(table: str) -> str:
    return "patient" if table == "patients" else WHAT.get(table, table.replace("_", " "))


def _pointed_at(
    read: _Laptop, table: str, row: Mapping[str, Any]
) -> Iterator[tuple[str, int, bool]]:
    """(table, id, whether it is the row's owner) of every chart row ``row`` points at."""
    if table == "signatures":
        yield str(row["table_name"]), int(row["row_id"]), True
    owner = LINKS.get(table)
    for column, parent in read.foreign_keys.get(table, {}).items():
        if parent in BROUGHT_BACK and row.get(column) is not None:
            yield parent, int(row[column]), column == owner


class _Parents:
    """Whether the rows a change points at can still take it at the clinic.

    The storage constraints only check that a parent exists: a new dose would be written into
    a voided cycle (or, with its new cycle not applied, keep the laptop's id and point at
    another cycle). Such a change conflicts instead, so the rest of the set still applies.
    """

    def __init__(self, sql: Engine, read: _Laptop, news: set[tuple[str, int]], mark: int) -> None:
        self.sql, self.read, self.news, self.mark = sql, read, news, mark
        self._said: dict[tuple[str, int], tuple[str, str] | None] = {}

    def refusal(
        self, table: str, row: Mapping[str, Any], new: bool, conflicting: set[tuple[str, int]]
    ) -> str:
        """Why ``row`` cannot be written into the clinic now, or ``""``."""
        this = _word(table)
        for parent, pid, owns in _pointed_at(self.read, table, row):
            how = "belongs to" if owns else "refers to"
            if (parent, pid) in self.news:  # written in the same apply, or not at all
                if (parent, pid) in conflicting:
                    return f"the new {_word(parent)} this {this} {how} is a conflict too"
                continue
            found = self._gone(parent, pid)
            if found is None:
                continue
            gone, when = found
            if when == "since":
                return f"the clinic voided the {gone} this {this} {how} since check-out"
            if when == "missing":
                return f"the {gone} this {this} {how} is not in the clinic's record"
            if new:  # voided before check-out: still no place for a new entry
                return f"the {gone} this {this} {how} is voided at the clinic"
        return ""

    def _gone(self, table: str, row_id: int) -> tuple[str, str] | None:
        """The clinic row, or the first of its owners up to the patient, that is voided or
        missing: (it in words, ``since`` or ``before`` check-out, or ``missing``); ``None``
        while they are all there."""
        key = (table, row_id)
        if key not in self._said:
            here = _clinic_row(self.sql, table, row_id)
            said: tuple[str, str] | None
            if here is None:
                said = (_word(table), "missing")
            elif here.get("voided_at"):
                said = (_word(table), "since" if self._voided_since(table, row_id) else "before")
            else:
                link = LINKS.get(table, "id")
                owner = self.read.foreign_keys.get(table, {}).get(link)
                said = None if owner is None else self._gone(owner, int(here[link]))
            self._said[key] = said
        return self._said[key]

    def _voided_since(self, table: str, row_id: int) -> bool:
        found = self.sql.execute(
            "SELECT max(id) FROM audit_log WHERE table_name = ? AND row_id = ? AND action = 'void'",
            [table, row_id],
        ).fetchone()
        return found is None or found[0] is None or int(found[0]) > self.mark


def _mark(sql: Engine, data: Mapping[str, Any]) -> int:
    """The clinic's newest audit entry when the laptop went out (0 if no longer known)."""
    found = sql.execute(
        "SELECT min(audit_mark) FROM checkouts WHERE side = 'clinic' AND laptop_identity = ?",
        [str(data.get("laptop_identity", ""))],
    ).fetchone()
    return 0 if found is None or found[0] is None else int(found[0])


def _clinic_row(sql: Engine, table: str, row_id: int) -> dict[str, Any] | None:
    found = sql.rows(f"SELECT * FROM {table} WHERE id = ?", [row_id])
    return dict(found[0]) if found else None


def _patient(sql: Engine, read: _Laptop, owners: Owners, table: str, row: dict[str, Any]) -> str:
    if table == "signatures":
        target = read.rows.get(str(row["table_name"]), {}).get(int(row["row_id"]))
        pid = None if target is None else owners.of(str(row["table_name"]), target)
    else:
        pid = owners.of(table, row)
        if pid is None:  # its cycle or enrolment was not changed on the laptop: the clinic's
            pid = _clinic_owner(sql, table, row)
    if pid is None:
        return ""
    if pid in read.rows["patients"] and str(read.rows["patients"][pid].get("mrn")):
        return str(read.rows["patients"][pid]["mrn"])
    found = sql.execute("SELECT mrn FROM patients WHERE id = ?", [pid]).fetchone()
    return "" if found is None else str(found[0])


def _clinic_owner(sql: Engine, table: str, row: dict[str, Any]) -> int | None:
    """The patient of ``row`` through the clinic's own cycle or enrolment row."""
    link = LINKS.get(table)
    if link == "cycle_id":
        found = sql.execute(
            "SELECT e.patient_id FROM cycles c JOIN enrolments e ON e.id = c.enrolment_id "
            "WHERE c.id = ?",
            [int(row["cycle_id"])],
        ).fetchone()
    elif link == "enrolment_id":
        found = sql.execute(
            "SELECT patient_id FROM enrolments WHERE id = ?", [int(row["enrolment_id"])]
        ).fetchone()
    else:
        return None
    return None if found is None else int(found[0])


def review_changes(record: Record, review_id: int) -> list[Change]:
    """Every change of the set ``review_id``, with the clinic's row now and its state."""
    with record.guard(), record.read_snapshot():
        _, data = _load(record.sql, review_id)
        read = _laptop(data, record.sql)
        done = set(data.get("applied", {}).get("rows", []))
        return _classify(record.sql, read, done, _mark(record.sql, data))


def apply_review(record: Record, review_id: int, reason: str) -> str:
    """Apply what does not conflict; returns the sentence saying what was done."""
    _admin(record, "apply")
    why = reason.strip()
    if not why:
        raise CheckoutRefused(f"Applying a laptop's changes needs a reason; {NOTHING_LOST}.")
    actor = record.actor
    with record.transaction(reason=f"laptop changes applied from review: {why}") as sql:
        head, data = _load(sql, review_id)
        if head["status"] != "pending":
            return f"The set {review_id} was already settled; nothing changed."
        read = _laptop(data, sql)
        done = set(data.get("applied", {}).get("rows", []))
        changes = _classify(sql, read, done, _mark(sql, data))
        clean = {(c.table, c.row_id) for c in changes if c.state == CLEAN}
        left = [c for c in changes if c.state == CONFLICT]
        if not clean:
            return (
                f"Nothing in the set {review_id} can be applied: {_count(len(left), 'change')} "
                "conflicting with what the clinic wrote since; nothing changed."
            )
        entries = [e for e in read.entries if (str(e["table_name"]), int(e["row_id"])) in clean]
        if "users" not in data and any(t == "signatures" for t, _ in clean):
            raise CheckoutRefused(
                f"The set {review_id} was kept by an older clinic-app that did not store the "
                "laptop's account names, so its signatures cannot be matched to accounts here "
                f"and nothing was applied; {NOTHING_LOST}. Dismiss it and enter the changes again "
                "by hand, or check the laptop file in again if you still have it."
            )
        data["applied"] = {
            "rows": sorted(done | {f"{t}:{i}" for t, i in clean}),
            "at": now_text(None),
            "by": actor,
            "reason": why,
        }
        settled = not left
        marked = sql.execute(
            "UPDATE checkin_reviews SET changes = ?, status = ?, settled_at = ?, settled_by = ?, "
            "settled_note = ?, version = version + 1 WHERE id = ? AND version = ?",
            [
                json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                "settled" if settled else "pending",
                now_text(None) if settled else None,
                actor if settled else None,
                f"applied: {why}" if settled else None,
                review_id,
                head["version"],
            ],
        )
        if marked.rowcount != 1:
            raise CheckoutRefused(
                f"The set {review_id} was changed by someone else meanwhile, so nothing was "
                f"applied; {NOTHING_LOST}. Open it again."
            )
        # The set is marked first, then its rows written: one transaction, so both or neither.
        # Each copied entry's via says it came from review and, at its end (as check-in's do),
        # which laptop it was made on ("… on the laptop <label>", back._copy_entry).
        entries = [{**e, "via": f"{e['via']} (applied from review by {actor})"} for e in entries]
        new_rows, changed, _copied = _apply(record, sql, read, entries)
    said = (
        f"Applied from the laptop {head['label']}: "
        f"{_count(sum(new_rows.values()), 'new entry', 'new entries')} and "
        f"{_count(sum(changed.values()), 'correction or void', 'corrections or voids')}."
    )
    if left:
        said += (
            f" {_count(len(left), 'change')} not applied because of what the clinic recorded "
            "since check-out; they stay in the set for review."
        )
    return said


def dismiss_review(record: Record, review_id: int, reason: str) -> str:
    """Settle the set without applying the rest; its changes stay stored in it."""
    _admin(record, "dismiss")
    why = reason.strip()
    if not why:
        raise CheckoutRefused(f"Dismissing a laptop's changes needs a reason; {NOTHING_LOST}.")
    with record.transaction(reason=f"laptop changes dismissed: {why}") as sql:
        head, _ = _load(sql, review_id)
        if head["status"] != "pending":
            return f"The set {review_id} was already settled; nothing changed."
        sql.execute(
            "UPDATE checkin_reviews SET status = 'settled', settled_at = ?, settled_by = ?, "
            "settled_note = ?, version = version + 1 WHERE id = ? AND version = ?",
            [now_text(None), record.actor, f"dismissed: {why}", review_id, head["version"]],
        )
    return (
        f"The laptop {head['label']}'s changes (set {review_id}) were dismissed; they stay "
        "stored in the clinic's record."
    )
