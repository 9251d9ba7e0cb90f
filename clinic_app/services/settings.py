"""Every setting the app has, typed and validated in one registry.

Two homes, because one setting cannot live in the database it locates:

- **record** settings change what is printed or what the clinical checks decide (clinic name
  and phone on cards, paper size, lab reference ranges, the weight-change and lab-age
  thresholds, backups). They are rows of the record's ``settings`` table, so every change is
  audited with who, when and why.
- **machine** settings belong to one user on one computer: the data folder and the backup
  folder (never taken from the record, which an import or a restored backup fills). They live in a
  small JSON file in the per-user config folder (``$CLINIC_APP_CONFIG`` overrides its path).

Values are validated here (``parse``) before anything is stored; a refusal is a
:class:`DomainError` whose ``field`` is the setting key and whose message says what to type.
Window layout is not a setting here: the GUI keeps it in QSettings.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path

from clinic_app.core import labs
from clinic_app.core.errors import DomainError, ProtocolError
from clinic_app.core.ismp import format_number
from clinic_app.core.protocol import Protocol
from clinic_app.reports.paper import PaperSize
from clinic_app.storage.backup import DEFAULT_KEEP
from clinic_app.storage.database import Record
from clinic_app.storage.location import (
    DATA_FOLDER_KEY,
    SERVER_KEY,
    default_data_dir,
    server_address_problem,
)
from clinic_app.storage.location import config_path as config_path  # part of this API
from clinic_app.storage.permissions import ACCOUNTS_REQUIRED_SETTING


class Scope(StrEnum):
    RECORD = "record"
    """In the record's settings table: audited, shared by everyone using that record."""
    MACHINE = "machine"
    """In this user's config file on this computer."""


class Kind(StrEnum):
    TEXT = "text"
    PHONE = "phone"
    CHOICE = "choice"
    WHOLE = "whole number"
    PERCENT = "percentage"
    FOLDER = "folder"
    SERVER = "server address"
    RANGES = "reference ranges"


@dataclass(frozen=True)
class SettingSpec:
    key: str
    label: str
    kind: Kind
    scope: Scope
    default: object
    """The value used while nothing is stored (``None``: nothing, see ``default_text``)."""
    default_text: str
    help: str
    choices: tuple[str, ...] = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    @property
    def clinical(self) -> bool:
        """Stored in the record and audited (it changes printouts or clinical checks)."""
        return self.scope is Scope.RECORD


# Bounds that are sanity limits, not clinical rules: the rules page gives only the defaults.
WEIGHT_CHANGE_MAX = Decimal(50)  # a 50 % weight change before re-calculating BSA is no check
LAB_AGE_MAX_DAYS = 30
BACKUP_KEEP_MAX = 3650
IDLE_LOCK_MAX_MINUTES = 240

CLINIC_NAME = "clinic.name"
CLINIC_PHONE = "clinic.phone"
PAPER_SIZE = "print.paper_size"
# lab_entry.SETTING_KEY, written out: lab_entry (the ranges file, ~20 ms) is imported where it is
# used, not at start (issue 16); a test checks the two agree.
REFERENCE_RANGES = "lab_reference_ranges"
WEIGHT_CHANGE_PCT = "dosing.weight_change_pct"
LAB_MAX_AGE_DAYS = "labs.max_age_days"
BACKUP_FOLDER = "backup.folder"
BACKUP_KEEP = "backup.keep"
DATA_FOLDER = DATA_FOLDER_KEY
DATA_SERVER = SERVER_KEY
IDLE_LOCK_MINUTES = "security.idle_lock_minutes"
PROTOCOL_FOLDER = "protocols.clinic_folder"
ACCOUNTS_REQUIRED = ACCOUNTS_REQUIRED_SETTING

SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        CLINIC_NAME,
        "Clinic name",
        Kind.TEXT,
        Scope.RECORD,
        None,
        '"the clinic"',
        "Printed at the top of every dosing card and toxicity summary.",
    ),
    SettingSpec(
        CLINIC_PHONE,
        "Clinic telephone",
        Kind.PHONE,
        Scope.RECORD,
        None,
        "none: cards are refused until it is set",
        "The number patients call about their treatment; every dosing card must show it.",
    ),
    SettingSpec(
        PAPER_SIZE,
        "Paper size",
        Kind.CHOICE,
        Scope.RECORD,
        PaperSize.A4.value,
        PaperSize.A4.value,
        "Paper size of printed cards and summaries.",
        choices=tuple(size.value for size in PaperSize),
    ),
    SettingSpec(
        REFERENCE_RANGES,
        "Lab reference ranges",
        Kind.RANGES,
        Scope.RECORD,
        None,
        "resources/lab_reference_ranges.toml",
        "Your laboratory's LLN and ULN per test and unit; the lab form pre-fills them and "
        "CTCAE grades are computed from them.",
    ),
    SettingSpec(
        WEIGHT_CHANGE_PCT,
        "Weight change that asks for a new BSA (%)",
        Kind.PERCENT,
        Scope.RECORD,
        None,
        "each protocol's own value (10 %)",
        "A weight change of this many percent or more since the weight behind the "
        "last BSA is flagged and must be acknowledged before a dose is confirmed.",
        minimum=Decimal("0.1"),
        maximum=WEIGHT_CHANGE_MAX,
    ),
    SettingSpec(
        LAB_MAX_AGE_DAYS,
        "Oldest labs accepted before day 1 (days)",
        Kind.WHOLE,
        Scope.RECORD,
        None,
        "each protocol's own value (3 days)",
        "Labs older than this many days before day 1 count as missing.",
        minimum=Decimal(0),
        maximum=Decimal(LAB_AGE_MAX_DAYS),
    ),
    SettingSpec(
        BACKUP_FOLDER,
        "Backup folder",
        Kind.FOLDER,
        # This computer's, never the record's: an imported file or a restored backup must not
        # choose where full copies of the record (password hashes included) are written.
        Scope.MACHINE,
        None,
        "the backups folder next to the record",
        "Where the daily backup and `clinic-app backup` write, on this computer. Prefer a "
        "different disk.",
    ),
    SettingSpec(
        PROTOCOL_FOLDER,
        "The clinic's own protocols folder",
        Kind.FOLDER,
        # This computer's, never the record's: an imported file or a restored backup must not
        # choose which dose rules the app loads. CLINIC_APP_PROTOCOL_DIR wins over it.
        Scope.MACHINE,
        None,
        "none: only the protocols that come with the app",
        "A folder of protocol files (one .toml file per regimen) that the clinic wrote; "
        "they are loaded beside the protocols that come with the app.",
    ),
    SettingSpec(
        BACKUP_KEEP,
        "Daily backups to keep",
        Kind.WHOLE,
        Scope.RECORD,
        DEFAULT_KEEP,
        str(DEFAULT_KEEP),
        "How many daily backups stay in the backup folder; older ones are deleted.",
        minimum=Decimal(1),
        maximum=Decimal(BACKUP_KEEP_MAX),
    ),
    SettingSpec(
        IDLE_LOCK_MINUTES,
        "Lock the window after (minutes idle)",
        Kind.WHOLE,
        Scope.RECORD,
        10,
        "10",
        "A workstation left alone hides patient data after this many minutes (issue: users).",
        minimum=Decimal(1),
        maximum=Decimal(IDLE_LOCK_MAX_MINUTES),
    ),
    SettingSpec(
        ACCOUNTS_REQUIRED,
        "Require user accounts before clinical data",
        Kind.CHOICE,
        Scope.RECORD,
        "no",
        "no",
        "A record without accounts is open to anyone at this computer, and anyone may create "
        "its first administrator. With yes, no clinical data can be entered until that first "
        "administrator account exists.",
        choices=("no", "yes"),
    ),
    SettingSpec(
        DATA_FOLDER,
        "Data folder",
        Kind.FOLDER,
        Scope.MACHINE,
        None,
        "the per-user data folder",
        "The folder that holds the record (clinic-app.sqlite3) on this computer. --db and "
        "$CLINIC_APP_DB still win over it.",
    ),
    SettingSpec(
        DATA_SERVER,
        "Clinic server",
        Kind.SERVER,
        Scope.MACHINE,
        None,
        "none: the record file in the data folder",
        "The clinic's shared record on a PostgreSQL server, used instead of the file in the "
        "data folder: postgresql://user@host/database, or service=NAME from the PostgreSQL "
        "service file. The password goes in the PostgreSQL password file, never here. --db "
        "and $CLINIC_APP_DB still win over it.",
    ),
)
BY_KEY: Mapping[str, SettingSpec] = {s.key: s for s in SETTINGS}


def spec(key: str) -> SettingSpec:
    """The setting called ``key``; an unknown key is refused with the list of known ones."""
    found = BY_KEY.get(key.strip())
    if found is None:
        known = ", ".join(BY_KEY)
        raise DomainError(f"There is no setting {key!r}. Known settings: {known}.", field=key)
    return found


# -- parsing what a person typed -------------------------------------------------------------
_PHONE = re.compile(r"^\+?[0-9 ()./-]+$")
_PHONE_MIN_DIGITS = 3  # an internal extension can be short; fewer digits is a typing slip


def parse(key: str, text: str) -> object:
    """The value to store for ``key`` from ``text`` as typed (JSON-compatible).

    >>> parse("backup.keep", " 30 ")
    30
    >>> parse("print.paper_size", "letter")
    'Letter'
    >>> parse("dosing.weight_change_pct", "7.5")
    '7.5'
    >>> parse("backup.keep", "0")
    Traceback (most recent call last):
    ...
    clinic_app.core.errors.DomainError: Daily backups to keep must be at least 1 (you typed 0).
    """
    s = spec(key)
    raw = text.strip()
    if s.kind is Kind.RANGES:
        raise DomainError(
            f"{s.label} are set one test and unit at a time: {key}.TEST.UNIT LLN,ULN "
            '(for example lab_reference_ranges.anc.10^9/L "1.8,7.5").',
            field=key,
        )
    if s.kind is Kind.TEXT:
        if not raw:
            raise DomainError(f"{s.label} cannot be empty.", field=key)
        return raw
    if s.kind is Kind.PHONE:
        digits = sum(ch.isdigit() for ch in raw)
        if not _PHONE.match(raw) or digits < _PHONE_MIN_DIGITS:
            raise DomainError(
                f"{s.label}: type digits, spaces and + ( ) - only, as patients should dial it "
                f"(you typed {raw!r}).",
                field=key,
            )
        return raw
    if s.kind is Kind.CHOICE:
        for choice in s.choices:
            if raw.lower() == choice.lower():
                return choice
        raise DomainError(
            f"{s.label} must be one of {', '.join(s.choices)} (you typed {raw!r}).", field=key
        )
    if s.kind is Kind.FOLDER:
        if not raw:
            raise DomainError(f"{s.label}: type a folder path.", field=key)
        path = Path(raw).expanduser()
        if not path.is_absolute():
            raise DomainError(
                f"{s.label} must be a full path (starting at the drive or /), not {raw!r}.",
                field=key,
            )
        if path.exists() and not path.is_dir():
            raise DomainError(f"{s.label}: {path} is a file, not a folder.", field=key)
        return str(path)
    if s.kind is Kind.SERVER:
        problem = server_address_problem(raw)
        if problem:
            raise DomainError(f"{s.label}: {problem}.", field=key)
        return raw
    number = _number(s, raw)
    if s.kind is Kind.WHOLE:
        if number != number.to_integral_value():
            raise DomainError(f"{s.label} must be a whole number (you typed {raw}).", field=key)
        return int(number)
    return format_number(number)  # PERCENT: a decimal kept as text, no float on the way


def _number(s: SettingSpec, raw: str) -> Decimal:
    try:
        number = Decimal(raw)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise DomainError(f"{s.label} must be a number (you typed {raw!r}).", field=s.key)
    if s.minimum is not None and number < s.minimum:
        raise DomainError(
            f"{s.label} must be at least {format_number(s.minimum)} (you typed {raw}).",
            field=s.key,
        )
    if s.maximum is not None and number > s.maximum:
        raise DomainError(
            f"{s.label} must be at most {format_number(s.maximum)} (you typed {raw}).",
            field=s.key,
        )
    return number


# -- reading and writing the record's settings ----------------------------------------------
def stored(record: Record, key: str) -> object | None:
    """What the record holds for ``key`` (``None``: nothing stored, the default applies)."""
    s = spec(key)
    if s.scope is not Scope.RECORD:
        raise DomainError(f"{s.label} is kept on this computer, not in the record.", field=key)
    value: object | None = record.repos.settings.value(key)
    return value


def value(record: Record, key: str) -> object | None:
    """The value in force for a record setting: the stored one, else the default."""
    current = stored(record, key)
    return spec(key).default if current is None else current


def set_value(record: Record, key: str, text: str, *, reason: str) -> object:
    """Validate ``text`` and store it (audited with ``reason``); returns the stored value.

    ``lab_reference_ranges.TEST.UNIT`` with ``text`` ``"LLN,ULN"`` (either may be empty)
    stores one test's limits in one unit.
    """
    if not reason.strip():
        raise DomainError("Give a reason for the change; it goes into the audit trail.")
    if key.startswith(REFERENCE_RANGES + "."):
        test, unit = range_key(key)
        lln, uln = range_text(key, text)
        from clinic_app.services import lab_entry

        lab_entry.set_reference_range(record, test, unit, lln, uln, reason=reason)
        return text.strip()
    s = spec(key)
    if s.scope is not Scope.RECORD:
        raise DomainError(f"{s.label} is kept on this computer; use set_machine_value.", field=key)
    new = parse(key, text)
    record.repos.settings.set(key, new, reason=reason)
    return new


def range_key(key: str) -> tuple[str, str]:
    parts = key.split(".", 2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise DomainError(f"Write the key as {REFERENCE_RANGES}.TEST.UNIT, not {key!r}.", field=key)
    test, unit = parts[1], parts[2]
    try:
        entry = labs.lab_test(test)
    except DomainError:
        from clinic_app.services import lab_entry

        tests = ", ".join(t for _, group in lab_entry.PANEL for t in group)
        raise DomainError(f"There is no lab test {test!r}. Tests: {tests}.", field=key) from None
    if unit not in entry.units:
        raise DomainError(
            f"{entry.name} is not reported in {unit!r}; use {', '.join(entry.units)}.", field=key
        )
    return test, unit


def range_text(key: str, text: str) -> tuple[Decimal | None, Decimal | None]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        raise DomainError(
            'Type the limits as LLN,ULN, e.g. "1.8,7.5"; leave one side empty when the lab '
            'reports none (",40").',
            field=key,
        )

    def one(part: str, name: str) -> Decimal | None:
        if not part:
            return None
        try:
            number = Decimal(part)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or number < 0:
            raise DomainError(f"The {name} must be a number of 0 or more, not {part!r}.", field=key)
        return number

    lln, uln = one(parts[0], "LLN"), one(parts[1], "ULN")
    if lln is None and uln is None:
        raise DomainError("Give at least one of LLN and ULN.", field=key)
    if lln is not None and uln is not None and lln >= uln:
        raise DomainError(f"The LLN ({parts[0]}) must be below the ULN ({parts[1]}).", field=key)
    return lln, uln


def reference_range_lines(record: Record) -> list[str]:
    """``test unit: LLN..ULN`` for every range in force, the clinic's own marked."""
    from clinic_app.services import lab_entry

    ranges = lab_entry.reference_ranges(record)
    own_raw = stored(record, REFERENCE_RANGES)
    own = (
        lab_entry.ReferenceRanges.from_mapping(own_raw, f"setting {REFERENCE_RANGES}")
        if isinstance(own_raw, Mapping)
        else lab_entry.ReferenceRanges()
    )
    lines = []
    for (test, unit), limits in sorted(ranges.ranges.items()):
        lln = "-" if limits.lln is None else format_number(limits.lln)
        uln = "-" if limits.uln is None else format_number(limits.uln)
        mark = " (this clinic)" if (test, unit) in own.ranges else ""
        lines.append(f"{test} {unit}: LLN {lln}, ULN {uln}{mark}")
    return lines


def display(record: Record | None, key: str, *, config: Path | None = None) -> str:
    """The value in force for ``key`` as one line of text ("(default: ...)" when none is set)."""
    s = spec(key)
    if s.scope is Scope.MACHINE:
        current: object | None = machine_values(config).get(key)
    elif record is None:
        raise DomainError(f"{s.label} is kept in the record; open one first.", field=key)
    else:
        current = stored(record, key)
    if current is None and s.key == DATA_FOLDER:
        return f"(default: {default_data_dir()})"
    if current is None:
        return f"(default: {s.default_text})"
    if s.kind is Kind.RANGES:
        count = len(current) if isinstance(current, Mapping) else 0
        return f"this clinic's limits for {count} test(s); see `clinic-app settings get {key}`"
    return str(current)


# -- the thresholds the protocols carry ------------------------------------------------------
def with_record_thresholds(
    record: Record, protocols: Mapping[str, Protocol]
) -> dict[str, Protocol]:
    """The protocols with the record's weight-change and lab-age settings in force.

    Each protocol file's ``[settings]`` gives the default (rules §2: 10 % and 3 days); a value
    stored in the record replaces it for every protocol.
    """
    pct = stored(record, WEIGHT_CHANGE_PCT)
    days = stored(record, LAB_MAX_AGE_DAYS)
    result: dict[str, Protocol] = {}
    for key, protocol in protocols.items():
        settings = protocol.settings
        if pct is not None:
            settings = replace(settings, weight_change_pct=_stored_decimal(WEIGHT_CHANGE_PCT, pct))
        if days is not None:
            settings = replace(settings, lab_max_age_days=_stored_whole(LAB_MAX_AGE_DAYS, days))
        result[key] = (
            protocol if settings == protocol.settings else replace(protocol, settings=settings)
        )
    return result


def _stored_decimal(key: str, raw: object) -> Decimal:
    # A value written by another tool is checked like typed text: a bad one is refused, loudly.
    if not isinstance(raw, str):
        raise _stored_wrongly(key, raw, "a number written as text")
    parsed = parse(key, raw)
    assert isinstance(parsed, str)
    return Decimal(parsed)


def _stored_whole(key: str, raw: object) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise _stored_wrongly(key, raw, "a whole number")
    parsed = parse(key, str(raw))
    assert isinstance(parsed, int)
    return parsed


def _stored_wrongly(key: str, raw: object, wanted: str) -> ProtocolError:
    """A stored value of the wrong type, said with the setting's name and how to mend it (the
    app stops at start with it: nothing may be dosed from a value it cannot read)."""
    return ProtocolError(
        f"The clinic setting \u201c{spec(key).label}\u201d",
        key,
        f"is stored as {raw!r}, not as {wanted}; an administrator can set it again with "
        f"clinic-app settings set {key} VALUE",
    )


# -- machine settings: the per-user config file ----------------------------------------------
def machine_values(path: Path | None = None) -> dict[str, object]:
    """The config file's settings; a missing file is an empty one, a damaged one is refused."""
    file = path or config_path()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise DomainError(f"The settings file {file} cannot be read ({exc.strerror}).") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DomainError(
            f"The settings file {file} is damaged (line {exc.lineno}); fix or delete it."
        ) from None
    if not isinstance(data, dict):
        raise DomainError(f"The settings file {file} must hold a JSON object; fix or delete it.")
    return {k: v for k, v in data.items() if k in BY_KEY}


def set_machine_value(key: str, text: str, path: Path | None = None) -> object | None:
    """Validate and store a machine setting; empty ``text`` goes back to the default."""
    s = spec(key)
    if s.scope is not Scope.MACHINE:
        raise DomainError(f"{s.label} is kept in the record; use set_value.", field=key)
    file = path or config_path()
    values = machine_values(file)
    new: object | None = None
    if text.strip():
        new = parse(key, text)
        values[key] = new
    else:
        values.pop(key, None)
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(file.name + ".partial")
    partial.write_text(json.dumps(values, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, file)  # never a half-written settings file
    return new


def data_folder(path: Path | None = None) -> Path:
    """The data folder in force on this computer: the config file's, else the default."""
    configured = machine_values(path).get(DATA_FOLDER)
    return Path(configured) if isinstance(configured, str) and configured else default_data_dir()
