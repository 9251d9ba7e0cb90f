"""Settings kept in the record itself (audited like clinical rows), as JSON values."""

from __future__ import annotations

from typing import Any

from clinic_app.core.records import LINE_MAX, check_text
from clinic_app.storage.repositories import _codec as c
from clinic_app.storage.repositories._base import Row, TableRepository

SETTING_TEXT_MAX = 1000
"""Characters of any one text in a setting (a folder path can be long; a name is short)."""


def _texts(value: Any) -> list[str]:
    found: list[str] = []
    stack = [value]
    while stack and len(stack) < 10_000:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


class SettingRepository(TableRepository[Any]):
    table = "settings"
    noun = "setting"

    def encode(self, value: Any) -> dict[str, Any]:
        # Every text in a setting is one printable line of bounded length: a clinic name is
        # printed on every card, and 120 kB of it cannot be laid out (issue 15, item 3).
        for text in _texts(value):
            check_text(text, "value", "A setting", limit=SETTING_TEXT_MAX)
        return {"value": c.dump(value)}

    def decode(self, row: Row) -> Any:
        return c.load(row["value"])

    def value(self, key: str, default: Any = None) -> Any:
        rows = self._rows("key = ? AND voided_at IS NULL", [key], "id")
        return self.decode(rows[0]) if rows else default

    def set(self, key: str, value: Any, *, reason: str) -> None:
        """Create or change ``key`` in one transaction (audited, with ``reason``)."""
        # A folder may be a long path; anything else (a clinic name, a phone) is one line.
        if not key.endswith(".folder"):
            for text in _texts(value):
                check_text(text, "value", "A setting", limit=LINE_MAX)
        with self.record.transaction(reason=reason):
            rows = self._rows("key = ? AND voided_at IS NULL", [key], "id")
            if rows:
                self.update(
                    int(rows[0]["id"]),
                    value,
                    expected_version=int(rows[0]["version"]),
                    reason=reason,
                )
            else:
                self._insert({"key": key, **self.encode(value)}, reason)
