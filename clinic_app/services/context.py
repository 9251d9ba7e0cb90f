"""One application context: everything an operation needs, built once (issue 17).

The way Anki's ``Collection`` does it: the open record, the protocols with the record's own
settings applied (the clinic's weight-change and lab-age thresholds, the clinic's protocol
folder), the signed-in user, the clock and the signature policy. The app builds one when it
starts and every command builds one with :func:`open_context`; screens and commands take their
protocols from it, so the chart and ``clinic-app patient`` read the same record the same way.

The context never starts anything by itself: the daily backup is started by whoever opens the
record for a session (:func:`start_daily_backup`), not by opening it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from enum import StrEnum
from types import MappingProxyType, TracebackType
from typing import Self

from clinic_app.core.errors import DomainError
from clinic_app.core.protocol import Protocol
from clinic_app.services import protocols as clinic_protocols
from clinic_app.services.settings import with_record_thresholds
from clinic_app.storage.backup import daily_backup_if_due
from clinic_app.storage.database import Record, RecordLocation, Session, open_database
from clinic_app.storage.signatures import MEANINGS
from clinic_app.storage.users import User


# -- the clock -------------------------------------------------------------------------------
def _system_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Clock:
    """Where "now" comes from: the system clock, or a fixed day (tests, ``--today``)."""

    source: Callable[[], datetime] = _system_now
    """Returns a timezone-aware instant."""

    @classmethod
    def on(cls, day: date) -> Clock:
        """A clock standing at local noon of ``day`` (so ``today()`` is ``day`` in any zone)."""
        instant = datetime.combine(day, time(12)).astimezone().astimezone(UTC)
        return cls(lambda: instant)

    @classmethod
    def following(cls, today: Callable[[], date]) -> Clock:
        """A clock whose day is ``today()`` (a window given a day function, e.g. in a test);
        the real time of day when that is the real day."""

        def source() -> datetime:
            day, now = today(), datetime.now(UTC)
            if now.astimezone().date() == day:
                return now
            return datetime.combine(day, time(12)).astimezone().astimezone(UTC)

        return cls(source)

    def now(self) -> datetime:
        return self.source()

    def today(self) -> date:
        """The local calendar day (the clinic's day, as the schedules count it)."""
        return self.source().astimezone().date()


# -- the signature policy --------------------------------------------------------------------
class Signed(StrEnum):
    """What an investigator signs (rules page: investigator decisions are signed)."""

    DLT_REVIEW = "dlt_reviews"
    DECISION = "decisions"
    DOSE_MODIFICATION = "dose_modifications"
    CONDITION_OVERRIDE = "condition_override"


@dataclass(frozen=True)
class SignaturePolicy:
    """What needs a signature and what it means. Storage still refuses the commit of an
    unsigned decision (``Record.transaction``); this is the question a screen asks first."""

    record: Record

    @property
    def required(self) -> bool:
        """Signatures are asked for once the record has accounts (open mode has nobody to
        sign). Read live: the first account may be made while the app runs."""
        return self.record.has_users()

    def needs_signature(self, what: Signed) -> bool:
        return self.required

    @staticmethod
    def meaning(what: Signed) -> str:
        return MEANINGS[what.value]


# -- the protocols the record uses -----------------------------------------------------------
def load_protocol_files(record: Record | None = None) -> dict[str, Protocol]:
    """The built-in protocols and, when the clinic keeps its own folder (from
    ``CLINIC_APP_PROTOCOL_DIR`` or the record's setting), those too
    (``services.protocols.load_all``)."""
    return dict(clinic_protocols.load_all(record))


def record_protocols(record: Record) -> dict[str, Protocol]:
    """The protocols as this record uses them: the files with the record's settings applied.

    Raises ``ProtocolError`` for a damaged protocol file or a damaged stored setting.
    """
    return with_record_thresholds(record, load_protocol_files(record))


# -- the context -----------------------------------------------------------------------------
@dataclass(frozen=True)
class AppContext:
    """The record, its protocols, the signed-in user, the clock and the signature policy."""

    record: Record
    protocols: Mapping[str, Protocol]
    """Read-only; rebuilt with :meth:`reloaded` after a setting changed."""
    clock: Clock = field(default_factory=Clock)
    signatures: SignaturePolicy = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "protocols", MappingProxyType(dict(self.protocols)))
        object.__setattr__(self, "signatures", SignaturePolicy(self.record))

    @classmethod
    def for_record(cls, record: Record, clock: Clock | None = None) -> AppContext:
        """The context of an already open record (the app's, a test's)."""
        return cls(record, record_protocols(record), clock or Clock())

    @property
    def user(self) -> User | None:
        """The signed-in user, or None (open mode, or a command that signs nobody in).
        Read live: a lock may hand the window to another user."""
        if self.record.app_user is None or not self.record.has_users():
            return None
        return self.record.repos.users.current()

    def today(self) -> date:
        return self.clock.today()

    def now(self) -> datetime:
        return self.clock.now()

    def protocol(self, key: str) -> Protocol:
        """The protocol ``key`` names; a key the record names but no file loads is said."""
        found = self.protocols.get(key)
        if found is None:
            known = ", ".join(sorted(self.protocols)) or "none"
            raise DomainError(
                f"The record names protocol {key!r}, which is not loaded (loaded: {known}).",
                field="protocol",
            )
        return found

    def reloaded(self) -> AppContext:
        """The same record and clock with the protocols read again (a setting changed)."""
        return replace(self, protocols=record_protocols(self.record))

    def on(self, day: date) -> AppContext:
        """The same context with the clock standing on ``day`` (``--today``)."""
        return replace(self, clock=Clock.on(day))

    def close(self) -> None:
        self.record.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_context(
    db_path: str | os.PathLike[str] | RecordLocation,
    *,
    read_only: bool = False,
    app_user: str | Session | None = None,
    today: date | None = None,
) -> AppContext:
    """Open the record at ``db_path`` and build its context (the record is closed again when
    the protocols cannot be read). Opening has no side effect beyond what ``open_database``
    does (creating and upgrading the file); no backup is started."""
    record = open_database(db_path, read_only=read_only, app_user=app_user)
    try:
        return AppContext.for_record(record, Clock.on(today) if today else None)
    except BaseException:
        record.close()
        raise


def start_daily_backup(context: AppContext | Record) -> None:
    """The first session of the day backs the record up (storage/backup.py); a failure is kept
    in ``record.backup_problem`` for the caller to show, and never stops the session."""
    record = context.record if isinstance(context, AppContext) else context
    if not record.read_only:
        daily_backup_if_due(record)
