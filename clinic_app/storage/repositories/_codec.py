"""Exact conversions between core values and the TEXT/INTEGER the schema stores."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from clinic_app.core.errors import DomainError


def dec(value: Decimal | None, field: str) -> str | None:
    """A Decimal as exact text (``Decimal("1.30")`` -> ``"1.30"``, trailing zero kept)."""
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite():
        raise DomainError(f"{field} must be a finite Decimal, not {value!r}", field=field)
    return str(value)


def to_dec(text: Any) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(str(text))
    except InvalidOperation:
        raise DomainError(f"stored value {text!r} is not a number") from None


def need_dec(text: Any) -> Decimal:
    value = to_dec(text)
    if value is None:
        raise DomainError("a required number is missing from the stored row")
    return value


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def to_day(text: Any) -> date | None:
    return None if text is None else date.fromisoformat(str(text))


def need_day(text: Any) -> date:
    value = to_day(text)
    if value is None:
        raise DomainError("a required date is missing from the stored row")
    return value


def instant(value: datetime | None, field: str) -> str | None:
    """A timezone-aware instant as UTC ISO text; a naive time is refused (never guess a zone)."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise DomainError(f"{field} needs a time zone (a naive time is ambiguous)", field=field)
    return value.astimezone(UTC).isoformat()


def to_instant(text: Any) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(str(text))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def flag(value: bool | None) -> int | None:
    return None if value is None else int(bool(value))


def to_flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def load(text: Any) -> Any:
    return json.loads(str(text)) if text is not None else None
