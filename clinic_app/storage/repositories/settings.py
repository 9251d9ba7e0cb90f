"""Settings kept in the record itself (audited like clinical rows), as JSON values."""

from __future__ import annotations

from typing import Any

from clinic_app.storage.repositories import _codec as c
from clinic_app.storage.repositories._base import Row, TableRepository


class SettingRepository(TableRepository[Any]):
    table = "settings"
    noun = "setting"

    def encode(self, value: Any) -> dict[str, Any]:
        return {"value": c.dump(value)}

    def decode(self, row: Row) -> Any:
        return c.load(row["value"])

    def value(self, key: str, default: Any = None) -> Any:
        rows = self._rows("key = ? AND voided_at IS NULL", [key], "id")
        return self.decode(rows[0]) if rows else default

    def set(self, key: str, value: Any, *, reason: str) -> None:
        """Create or change ``key`` in one transaction (audited, with ``reason``)."""
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
