"""Exact conversions between core values and the TEXT/INTEGER the schema stores."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from clinic_app.core.errors import DomainError
from clinic_app.core.records import check_day, check_quantity

JSON_MAX = 100_000
"""Characters of one JSON column (a setting, a payload); more is not something a person typed."""
JSON_DEPTH_MAX = 20


def dec(value: Decimal | None, field: str) -> str | None:
    """A Decimal as exact text (``Decimal("1.30")`` -> ``"1.30"``, trailing zero kept)."""
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite():
        raise DomainError(f"{field} must be a finite Decimal, not {value!r}", field=field)
    check_quantity(value, field, field.replace("_", " "))
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


def day(value: date | None, field: str = "date") -> str | None:
    if value is None:
        return None
    check_day(value, field)
    return value.isoformat()


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


def depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list | tuple):
            deepest = max(deepest, level)
            if level > JSON_DEPTH_MAX:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def dump(value: Any, field: str = "value") -> str:
    if depth(value) > JSON_DEPTH_MAX:
        raise DomainError(f"{field} nests more than {JSON_DEPTH_MAX} levels deep", field=field)
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if len(text) > JSON_MAX:
        raise DomainError(f"{field} is {len(text)} characters; at most {JSON_MAX}", field=field)
    return text


def load(text: Any) -> Any:
    return json.loads(str(text)) if text is not None else None
