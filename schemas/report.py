"""What the validator returns: valid events and one :class:`Rejection` per refused event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.models import EventBase


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one event (or a whole unreadable record, ``index=None``) was refused."""

    index: int | None
    event_id: str | None
    path: str
    reason: str
    raw: bytes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``raw`` as text; invalid UTF-8 replaced)."""
        return {
            "index": self.index,
            "event_id": self.event_id,
            "path": self.path,
            "reason": self.reason,
            "raw": self.raw.decode("utf-8", errors="replace"),
        }


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """Valid events in input order, and one rejection per bad event (sorted by index)."""

    valid: list[EventBase] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


# Valid events plus their record indices (None: positional, i.e. nothing was dropped).
Outcome = tuple[list[EventBase], list[int] | None, list[Rejection]]


def by_index(rejection: Rejection) -> int:
    return -1 if rejection.index is None else rejection.index
