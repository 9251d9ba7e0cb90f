"""``Stored``: a core object read from the record, with what an editor needs to write it back.

The row id and the ``version`` it read (an update based on an older version is refused). The
domain records themselves live in core (``clinic_app.core.records``, ``core.cycles``,
``core.decisions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Stored(Generic[T]):
    value: T
    id: int
    version: int
    created_at: str
    created_by: str
    voided_at: str | None = None
    void_reason: str | None = None

    @property
    def voided(self) -> bool:
        return self.voided_at is not None
