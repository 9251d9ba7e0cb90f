"""Check-in onto a server record as the app's own role (issue 19), without switching triggers off.

A check-in writes the laptop's rows with the laptop's version numbers and brings the laptop's
own audit entries instead of the entries the triggers would write. On SQLite the triggers are
suspended for that; on the server only the owner could do so, and a nurse signs in as the app
role. So the server keeps a ``checkin_sessions`` row per check-in transaction, which only the
functions here write (the app role may not touch the table):

- ``clinic_app_begin_checkin(tables)`` opens one, and only in a transaction that has just marked
  a check-out ``returned`` that was ``out`` (its own audit entry says so);
- while it is open, the audit and version triggers of those tables let the laptop's rows in
  (no automatic entry; a version may jump to the laptop's);
- ``clinic_app_checkin_entry(...)`` appends one laptop entry, refused unless it says it was made
  on that laptop and is of one of those tables;
- ``clinic_app_end_checkin()`` closes it before the transaction writes anything else.

The session rows stay as a trail; a transaction id is never used twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clinic_app.storage.engines.postgres import PostgresEngine

SESSIONS = "checkin_sessions"

SESSIONS_TABLE = f"""CREATE TABLE {SESSIONS} (
    txid BIGINT PRIMARY KEY,
    laptop_label TEXT NOT NULL,
    tables TEXT[] NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT
)"""

OPEN_SESSION = (
    f"EXISTS (SELECT 1 FROM {SESSIONS} s WHERE s.txid = txid_current() "
    "AND s.ended_at IS NULL AND TG_TABLE_NAME = ANY (s.tables))"
)
"""Inside a trigger function: this transaction is checking in rows of this table."""

_NOW = "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"


def _refuse(message: str) -> str:
    return "RAISE EXCEPTION USING MESSAGE = '" + message.replace("'", "''") + "';"


_NOTHING_TO_CHECK_IN = _refuse(
    "no check-out that was out, nor a kept set of laptop changes, is being checked in by this "
    "transaction"
)


def functions(chart_tables: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Signature -> (``RETURNS … LANGUAGE …``, body) of the definer functions above."""
    allowed = "ARRAY[" + ", ".join(f"'{t}'" for t in chart_tables) + "]::text[]"
    begin = f"""
DECLARE
    label text;
    labels bigint;
BEGIN
    IF tables IS NULL OR NOT tables <@ {allowed} THEN
        {_refuse("a check-in writes only the charts and their signatures")}
    END IF;
    -- This transaction's own entry: the check-out went from out to returned just now.
    SELECT min(k.laptop_label), count(DISTINCT k.laptop_label) INTO label, labels
        FROM checkouts k JOIN audit_log a ON a.table_name = 'checkouts' AND a.row_id = k.id
        WHERE k.side = 'clinic' AND k.status = 'returned' AND k.voided_at IS NULL
        AND a.action = 'update' AND a.xmin::text::bigint = txid_current() % 4294967296
        AND a.old_json::json ->> 'status' = 'out' AND a.new_json::json ->> 'status' = 'returned';
    IF label IS NULL THEN
        -- Or a review set of a cancelled check-out, being applied by this transaction.
        SELECT min(r.laptop_label), count(DISTINCT r.laptop_label) INTO label, labels
            FROM checkin_reviews r
            JOIN audit_log a ON a.table_name = 'checkin_reviews' AND a.row_id = r.id
            WHERE r.voided_at IS NULL AND a.action = 'update'
            AND a.xmin::text::bigint = txid_current() % 4294967296
            -- An update keeps only the columns it changed: a partial apply leaves it pending.
            AND coalesce(a.old_json::json ->> 'status', r.status) = 'pending'
            AND a.new_json::json ->> 'changes' IS NOT NULL;
    END IF;
    IF label IS NULL OR labels <> 1 THEN
        {_NOTHING_TO_CHECK_IN}
    END IF;
    INSERT INTO {SESSIONS} (txid, laptop_label, tables, started_at)
        VALUES (txid_current(), label, tables, {_NOW});
    RETURN label;
END
"""
    end = f"""
BEGIN
    UPDATE {SESSIONS} SET ended_at = {_NOW} WHERE txid = txid_current() AND ended_at IS NULL;
END
"""
    entry = f"""
DECLARE
    label text;
BEGIN
    SELECT s.laptop_label INTO label FROM {SESSIONS} s
        WHERE s.txid = txid_current() AND s.ended_at IS NULL AND e_table = ANY (s.tables);
    IF label IS NULL THEN
        {_refuse("a laptop's audit entry is taken only during its check-in, for its charts")}
    END IF;
    IF e_via IS NULL OR right(e_via, length(' on the laptop ' || label))
            IS DISTINCT FROM ' on the laptop ' || label THEN
        {_refuse("a laptop's audit entry must say it was made on the laptop being checked in")}
    END IF;
    INSERT INTO audit_log (at, via, app_user, os_user, reason, table_name, row_id, action,
        old_json, new_json)
    VALUES (e_at, e_via, e_app_user, e_os_user, e_reason, e_table, e_row_id, e_action,
        e_old_json, e_new_json);
END
"""
    return {
        "clinic_app_begin_checkin(tables text[])": ("text LANGUAGE plpgsql", begin),
        "clinic_app_end_checkin()": ("void LANGUAGE plpgsql", end),
        "clinic_app_checkin_entry(e_at text, e_via text, e_app_user text, e_os_user text, "
        "e_reason text, e_table text, e_row_id bigint, e_action text, e_old_json text, "
        "e_new_json text)": ("void LANGUAGE plpgsql", entry),
    }


def owner_only(engine: PostgresEngine) -> None:
    """The default privileges give the app role INSERT and UPDATE on every new table: not on
    the sessions, which only the functions above write."""
    engine.script(
        f"""DO $clinic_app$
DECLARE grantee text;
BEGIN
    FOR grantee IN SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
        WHERE g.table_schema = current_schema() AND g.table_name = '{SESSIONS}'
        AND g.grantee <> current_user
    LOOP
        EXECUTE format('REVOKE ALL ON {SESSIONS} FROM %I', grantee);
    END LOOP;
END
$clinic_app$"""
    )
