"""Who may change what: the one table of roles and permissions, enforced by the repositories.

The GUI disables what a role may not do (with this module's sentences as the reason), and the
storage layer refuses it as well, so a missed button cannot write what the role does not allow.

Open mode: a record with no user accounts yet (every record made before accounts existed, and a
fresh install before the administrator is created) runs without sign-in and without role checks.
Once any account exists, every clinical write needs a signed-in user whose role allows it.

Open mode is open to anyone who can run the app on the computer, and anyone may create the
first administrator; the ``security.accounts_required`` setting makes such a record refuse
clinical data until that first account exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from clinic_app.core.decision_kinds import DecisionKind
from clinic_app.storage.errors import NOTHING_LOST, StorageError

if TYPE_CHECKING:
    from clinic_app.storage.database import Record


class Role(StrEnum):
    NURSE = "nurse"
    INVESTIGATOR = "investigator"
    ADMINISTRATOR = "administrator"


class Permission(StrEnum):
    PATIENTS = "patients"
    LABS = "labs"
    ADVERSE_EVENTS = "adverse events"
    DOSE_ADMINISTRATION = "dose administration"
    CYCLES = "cycle start"
    MEASUREMENTS = "measurements"
    RESPONSES = "response entry"
    PRINTING = "printing"
    ENROLMENT = "enrolment"
    DOSE_MODIFICATIONS = "dose modifications"
    OVERRIDES = "overrides of treatment conditions"
    PHASE_DECISIONS = "phase decisions"
    DLT_CONFIRMATION = "DLT confirmation"
    OFF_STUDY = "off study"
    AUDIT = "audit trail"
    USERS = "user accounts"
    SETTINGS = "settings"


_NURSE = frozenset(
    {
        Permission.PATIENTS,
        Permission.LABS,
        Permission.ADVERSE_EVENTS,
        Permission.DOSE_ADMINISTRATION,
        Permission.CYCLES,
        Permission.MEASUREMENTS,
        Permission.RESPONSES,
        Permission.PRINTING,
    }
)

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.NURSE: _NURSE,
    Role.INVESTIGATOR: _NURSE
    | {
        Permission.ENROLMENT,
        Permission.DOSE_MODIFICATIONS,
        Permission.OVERRIDES,
        Permission.PHASE_DECISIONS,
        Permission.DLT_CONFIRMATION,
        Permission.OFF_STUDY,
        Permission.AUDIT,
    },
    # Administrators keep the accounts and the settings and may read (and print) everything,
    # but enter no clinical data.
    Role.ADMINISTRATOR: frozenset(
        {Permission.USERS, Permission.SETTINGS, Permission.AUDIT, Permission.PRINTING}
    ),
}

# What a write to each table needs. Decisions depend on their kind (see ``_DECISION_KINDS``).
TABLE_PERMISSIONS: Mapping[str, Permission] = {
    "patients": Permission.PATIENTS,
    "endpoint_events": Permission.PATIENTS,
    "body_measurements": Permission.MEASUREMENTS,
    "temperatures": Permission.MEASUREMENTS,
    "gcsf_doses": Permission.DOSE_ADMINISTRATION,
    "labs": Permission.LABS,
    "adverse_events": Permission.ADVERSE_EVENTS,
    "dose_events": Permission.DOSE_ADMINISTRATION,
    "cycles": Permission.CYCLES,
    "response_assessments": Permission.RESPONSES,
    "enrolments": Permission.ENROLMENT,
    "dose_modifications": Permission.DOSE_MODIFICATIONS,
    "dlt_reviews": Permission.DLT_CONFIRMATION,
    "settings": Permission.SETTINGS,
    "decisions": Permission.PHASE_DECISIONS,
}

_DECISION_KINDS: Mapping[str, Permission] = {
    "phase": Permission.PHASE_DECISIONS,
    "escalation": Permission.PHASE_DECISIONS,
    "other": Permission.PHASE_DECISIONS,
    "off_study": Permission.OFF_STUDY,
    # the legacy option kind, read for older records (an option is now written as "option")
    DecisionKind.LEGACY_OPTION.value: Permission.DOSE_MODIFICATIONS,
    "option": Permission.DOSE_MODIFICATIONS,  # an investigator option changes a dose
    "condition_override": Permission.OVERRIDES,
}

# The verb phrase of each permission in a refusal ("Only an investigator may confirm a DLT").
_DOING: Mapping[Permission, str] = {
    Permission.PATIENTS: "add or change patients",
    Permission.LABS: "enter lab results",
    Permission.ADVERSE_EVENTS: "record adverse events",
    Permission.DOSE_ADMINISTRATION: "record dose administration",
    Permission.CYCLES: "start a cycle",
    Permission.MEASUREMENTS: "record measurements",
    Permission.RESPONSES: "enter response assessments",
    Permission.PRINTING: "print",
    Permission.ENROLMENT: "enrol a patient",
    Permission.DOSE_MODIFICATIONS: "modify a dose",
    Permission.OVERRIDES: "override a treatment condition",
    Permission.PHASE_DECISIONS: "record a phase decision",
    Permission.DLT_CONFIRMATION: "confirm a DLT",
    Permission.OFF_STUDY: "take a patient off study",
    Permission.AUDIT: "open the audit trail",
    Permission.USERS: "manage user accounts",
    Permission.SETTINGS: "change settings",
}


class PermissionDeniedError(StorageError):
    """The signed-in user's role does not allow this write (or nobody is signed in)."""


def allows(role: Role | None, permission: Permission) -> bool:
    return role is not None and permission in ROLE_PERMISSIONS[role]


def roles_allowed(permission: Permission) -> list[Role]:
    return [role for role in Role if permission in ROLE_PERMISSIONS[role]]


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def who_may(permission: Permission) -> str:
    """``"an investigator"`` / ``"a nurse or an investigator"``."""
    return " or ".join(_article(role.value) for role in roles_allowed(permission))


def not_allowed(permission: Permission, user: str | None, role: Role | None) -> str:
    """Who may do this and who is signed in (the reason a button is disabled).

    >>> not_allowed(Permission.DLT_CONFIRMATION, "nurse.a", Role.NURSE)
    'Only an investigator may confirm a DLT; you are signed in as nurse.a (nurse).'
    """
    doing = _DOING[permission]
    if user is None:
        return (
            f"This record has user accounts, so you must sign in to {doing}; nobody is signed "
            "in on this connection."
        )
    if role is None:
        return f"The account {user} is not an active user of this record, so it may not {doing}."
    return f"Only {who_may(permission)} may {doing}; you are signed in as {user} ({role.value})."


def refusal(permission: Permission, user: str | None, role: Role | None) -> str:
    """:func:`not_allowed` and that nothing was saved (the storage layer's refusal)."""
    return f"{not_allowed(permission, user, role)} {NOTHING_LOST.capitalize()}."


def why_not(record: Record, permission: Permission) -> str | None:
    """None when the record's user may do ``permission`` (always in open mode), else why not."""
    if not record.has_users():
        return None
    role = record.role
    return None if allows(role, permission) else not_allowed(permission, record.app_user, role)


def required_for(table: str, row: Mapping[str, Any] | None = None) -> Permission | None:
    """The permission a write to ``table`` needs (None: not a table this module guards)."""
    if table == "decisions" and row is not None and "kind" in row:
        return _DECISION_KINDS.get(str(row["kind"]), Permission.PHASE_DECISIONS)
    return TABLE_PERMISSIONS.get(table)


ACCOUNTS_REQUIRED_SETTING = "security.accounts_required"
"""A record setting ("yes"/"no", default "no"): with "yes", a record without accounts accepts
no clinical data until the first administrator exists (issue 15, item 10)."""


def accounts_required(record: Record) -> bool:
    return bool(record.repos.settings.value(ACCOUNTS_REQUIRED_SETTING, "no") == "yes")


def require(record: Record, permission: Permission) -> None:
    """Raise :class:`PermissionDeniedError` unless the record's user may do ``permission``.

    In open mode (no accounts in the record) everything is allowed, unless the record's
    ``security.accounts_required`` setting says the first account must come first (settings
    stay writable, so the setting itself can be kept).
    """
    if not record.has_users():
        if permission is not Permission.SETTINGS and accounts_required(record):
            raise PermissionDeniedError(
                "This record requires user accounts before clinical data are entered, and "
                "it has none yet: create the administrator account first (File ▸ Users…, or "
                f"'clinic-app users add NAME --role administrator'). {NOTHING_LOST.capitalize()}."
            )
        return
    role = record.role
    if not allows(role, permission):
        raise PermissionDeniedError(refusal(permission, record.app_user, role))


def require_write(record: Record, table: str, row: Mapping[str, Any] | None = None) -> None:
    permission = required_for(table, row)
    if permission is not None:
        require(record, permission)
