"""User accounts: Argon2id password hashes, sign-in with a growing delay after failures.

Passwords are hashed with argon2-cffi's Argon2id at OWASP's minimum parameters (m = 19 MiB,
t = 2, p = 1); a clear password is never stored, logged or put in an error message. Every write
here is audited like the clinical tables (the hash itself is kept out of the audit JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from clinic_app.core.errors import DomainError
from clinic_app.storage.database import Record
from clinic_app.storage.errors import NOTHING_LOST
from clinic_app.storage.permissions import Permission, Role, require

if TYPE_CHECKING:
    from argon2 import PasswordHasher

# OWASP Password Storage Cheat Sheet: Argon2id, m = 19 MiB (19456 KiB), t = 2, p = 1 minimum.
ARGON2_MEMORY_KIB = 19456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1


@cache
def hasher() -> PasswordHasher:
    """The one hasher, made when a password is first checked or set: argon2 (and the
    ``platform`` module it imports) stays out of the app's start in open mode (issue 16)."""
    from argon2 import PasswordHasher

    return PasswordHasher(
        time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
    )


MIN_PASSWORD_LENGTH = 12
FAILURES_BEFORE_DELAY = 3
MAX_DELAY_SECONDS = 300


def delay_after(failures: int) -> int:
    """Seconds to wait before the next try after ``failures`` failures in a row.

    >>> [delay_after(n) for n in (0, 1, 2, 3, 4, 5, 10, 11, 40)]
    [0, 0, 0, 2, 4, 8, 256, 300, 300]
    """
    if failures < FAILURES_BEFORE_DELAY:
        return 0
    return min(int(2 ** (failures - FAILURES_BEFORE_DELAY + 1)), MAX_DELAY_SECONDS)


def password_problem(password: str) -> str | None:
    """Why ``password`` may not be used, or None.

    >>> password_problem("short")
    'The password must have at least 12 characters (it has 5).'
    >>> password_problem("twelve chars") is None
    True
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return (
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters "
            f"(it has {len(password)})."
        )
    if not password.strip():
        return "The password cannot be only spaces."
    return None


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    """A hash of a random password, made once: an unknown name is checked against it, so it
    takes as long to refuse as a wrong password."""
    if not _DUMMY:
        import secrets  # hmac and OpenSSL, ~10 ms: not at the app's start (issue 16)

        _DUMMY.append(hasher().hash(secrets.token_urlsafe(24)))
    return _DUMMY[0]


def _verify(stored: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return hasher().verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class User:
    id: int
    username: str
    full_name: str
    role: Role
    active: bool
    failed_attempts: int = 0
    locked_until: str | None = None
    version: int = 1

    @property
    def label(self) -> str:
        return f"{self.full_name} ({self.username}, {self.role.value})"


class SignInRefused(DomainError):
    """A sign-in (or a password re-entry) that did not succeed; ``retry_after`` seconds to
    wait before the next try (0: at once)."""

    def __init__(self, message: str, *, field: str = "password", retry_after: int = 0) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


_COLUMNS = "id, username, full_name, role, active, failed_attempts, locked_until, version"


def _user(row: tuple[object, ...]) -> User:
    return User(
        id=int(str(row[0])),
        username=str(row[1]),
        full_name=str(row[2]),
        role=Role(str(row[3])),
        active=bool(row[4]),
        failed_attempts=int(str(row[5])),
        locked_until=None if row[6] is None else str(row[6]),
        version=int(str(row[7])),
    )


class UserRepository:
    """The accounts of one record. ``clock`` gives the current UTC time (tests replace it)."""

    def __init__(self, record: Record, clock: Callable[[], datetime] | None = None) -> None:
        self.record = record
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))

    # -- reads ------------------------------------------------------------------------------
    def all(self) -> list[User]:
        with self.record.guard():
            rows = self.record.sql.execute(
                f"SELECT {_COLUMNS} FROM users ORDER BY username"
            ).fetchall()
        return [_user(r) for r in rows]

    def find(self, username: str) -> User | None:
        with self.record.guard():
            row = self.record.sql.execute(
                f"SELECT {_COLUMNS} FROM users WHERE username = ?", [username.strip()]
            ).fetchone()
        return None if row is None else _user(row)

    def get(self, username: str) -> User:
        user = self.find(username)
        if user is None:
            raise DomainError(f"There is no user {username!r} in this record.", field="username")
        return user

    def current(self) -> User | None:
        """The signed-in account of this connection, if any."""
        return None if self.record.app_user is None else self.find(self.record.app_user)

    def _hash(self, username: str) -> str:
        with self.record.guard():
            row = self.record.sql.execute(
                "SELECT password_hash FROM users WHERE username = ?", [username]
            ).fetchone()
        return "" if row is None else str(row[0])

    # -- accounts ---------------------------------------------------------------------------
    def _check_new(self, username: str, full_name: str, password: str) -> None:
        if not username.strip() or any(ch.isspace() for ch in username.strip()):
            raise DomainError("A username is one word without spaces.", field="username")
        if not full_name.strip():
            raise DomainError(
                "Give the person's full name (it prints on signatures).", field="full_name"
            )
        problem = password_problem(password)
        if problem:
            raise DomainError(problem, field="password")
        wanted = username.strip().casefold()
        # SQLite's NOCASE folds ASCII only; "Łukasz" and "łukasz" are one name to a person.
        if self.find(username) is not None or any(
            u.username.casefold() == wanted for u in self.all()
        ):
            raise DomainError(
                f"The username {username.strip()!r} is taken; {NOTHING_LOST}.", field="username"
            )

    def _insert(self, username: str, full_name: str, role: Role, password: str) -> User:
        with self.record.transaction(reason=f"account {username.strip()} created") as db:
            db.execute(
                "INSERT INTO users (username, full_name, role, password_hash, created_by) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    username.strip(),
                    full_name.strip(),
                    Role(role).value,
                    hasher().hash(password),
                    self.record.actor,
                ],
            )
        return self.get(username)

    def create_first_administrator(self, username: str, full_name: str, password: str) -> User:
        """The first account of a record (only while it has none): an administrator."""
        if self.record.has_users():
            raise DomainError(
                f"This record already has accounts; an administrator adds users. {NOTHING_LOST}.",
                field="username",
            )
        self._check_new(username, full_name, password)
        user = self._insert(username, full_name, Role.ADMINISTRATOR, password)
        self.record.password_checked(user.username)  # they just chose the password
        return user

    def add(self, username: str, full_name: str, role: Role, password: str) -> User:
        """A new active account (administrators only, once the record has accounts)."""
        require(self.record, Permission.USERS)
        self._check_new(username, full_name, password)
        return self._insert(username, full_name, Role(role), password)

    def _update(self, user: User, sets: dict[str, object], reason: str) -> User:
        names = ", ".join(f"{key} = ?" for key in sets)
        with self.record.transaction(reason=reason) as db:
            cursor = db.execute(
                f"UPDATE users SET {names}, version = version + 1 WHERE id = ? AND version = ?",
                [*sets.values(), user.id, user.version],
            )
            if cursor.rowcount != 1:
                raise DomainError(
                    f"The account {user.username} was changed meanwhile; {NOTHING_LOST}. "
                    "Reopen the list and try again."
                )
        return self.get(user.username)

    def _keep_an_administrator(self, user: User, role: Role, active: bool) -> None:
        if user.role is not Role.ADMINISTRATOR or (role is Role.ADMINISTRATOR and active):
            return
        others = [
            u for u in self.all() if u.active and u.role is Role.ADMINISTRATOR and u.id != user.id
        ]
        if not others:
            raise DomainError(
                f"{user.username} is the only active administrator; add another administrator "
                f"first, or nobody could manage accounts. {NOTHING_LOST.capitalize()}.",
                field="role",
            )

    def set_role(self, username: str, role: Role) -> User:
        require(self.record, Permission.USERS)
        user = self.get(username)
        self._keep_an_administrator(user, Role(role), user.active)
        return self._update(
            user, {"role": Role(role).value}, f"role of {user.username} set to {Role(role)}"
        )

    def set_active(self, username: str, active: bool) -> User:
        require(self.record, Permission.USERS)
        user = self.get(username)
        self._keep_an_administrator(user, user.role, active)
        word = "reactivated" if active else "deactivated"
        return self._update(user, {"active": int(active)}, f"account {user.username} {word}")

    def reset_password(self, username: str, password: str) -> User:
        """A new password set by an administrator (also clears a sign-in delay)."""
        require(self.record, Permission.USERS)
        user = self.get(username)
        problem = password_problem(password)
        if problem:
            raise DomainError(problem, field="password")
        return self._update(
            user,
            {
                "password_hash": hasher().hash(password),
                "password_changed_at": _utc_text(self.clock()),
                "failed_attempts": 0,
                "locked_until": None,
            },
            f"password of {user.username} reset",
        )

    # -- sign-in ----------------------------------------------------------------------------
    def wait_seconds(self, username: str) -> int:
        """Seconds before ``username`` may try again (0: now)."""
        user = self.find(username)
        if user is None or user.locked_until is None:
            return 0
        left = (_parse_utc(user.locked_until) - self.clock()).total_seconds()
        return max(0, int(left + 0.999))

    def authenticate(self, username: str, password: str) -> User:
        """The active account whose password this is; raises :class:`SignInRefused` otherwise.

        Every failure is recorded (``sign_in_failures``, audited) and raises the account's
        ``failed_attempts``; from the third failure in a row the next try must wait
        (:func:`delay_after`). Unknown names and wrong passwords get the same sentence, and
        take as long: an unknown name is checked against a dummy hash.

        The wait, the password check and the counter move in one write transaction (``BEGIN
        IMMEDIATE``), so guesses from many processes at once queue: each sees the failures
        of the ones before it, and ten parallel guesses are not all checked (issue 15, item 5).
        """
        name = username.strip()
        if not name:
            raise SignInRefused("Type your username.", field="username")
        refused: SignInRefused | None = None
        with self.record.transaction(reason=f"sign-in as {name}"):
            user = self.find(name)
            wait = self.wait_seconds(name)
            if wait:
                refused = SignInRefused(
                    f"Too many failed sign-ins for {name}; try again in {wait} seconds.",
                    retry_after=wait,
                )
            else:
                stored = self._hash(name) if user is not None else ""
                ok = _verify(stored or _dummy_hash(), password) and bool(stored)
                if not ok or user is None:
                    retry = self._record_failure(name, user)
                    message = "The username or password is wrong."
                    if retry:
                        message += f" Wait {retry} seconds before the next try."
                    refused = SignInRefused(message, retry_after=retry)
                elif not user.active:
                    refused = SignInRefused(
                        f"The account {user.username} has been deactivated; ask an administrator.",
                        field="username",
                    )
                else:
                    sets: dict[str, object] = {}
                    if user.failed_attempts or user.locked_until:
                        sets.update(failed_attempts=0, locked_until=None)
                    if hasher().check_needs_rehash(stored):
                        sets["password_hash"] = hasher().hash(password)
                    if sets:
                        self._update(user, sets, f"{user.username} signed in")
        if refused is not None:
            raise refused  # after the commit: the failure and its counter are kept
        user = self.get(name)
        self.record.password_checked(user.username)  # only now may this window act as them
        return user

    def _record_failure(self, name: str, user: User | None) -> int:
        now = self.clock()
        retry = 0
        with self.record.transaction(reason=f"failed sign-in as {name}") as db:
            db.execute(
                "INSERT INTO sign_in_failures (username, at, os_user, created_by) "
                "VALUES (?, ?, ?, ?)",
                [name, _utc_text(now), self.record.os_user, self.record.actor],
            )
            if user is not None:
                failures = user.failed_attempts + 1
                retry = delay_after(failures)
                until = _utc_text(now + timedelta(seconds=retry)) if retry else None
                db.execute(
                    "UPDATE users SET failed_attempts = ?, locked_until = ?, "
                    "version = version + 1 WHERE id = ?",
                    [failures, until, user.id],
                )
        return retry
