"""HTTP sessions (``session_id``): settings from ``SET``, the database from ``USE``.

ClickHouse keeps these per session on the server; here they are plain data re-applied to the
shared engine connection before each request of the session.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class Session:
    settings: dict[str, str] = field(default_factory=dict)
    database: str | None = None
    readonly: int = 0
    expires_at: float = 0.0


class Sessions:
    """Sessions by id, expiring ``timeout`` seconds after their last use (clock passed in)."""

    def __init__(self, max_sessions: int = 10_000) -> None:
        self._items: OrderedDict[str, Session] = OrderedDict()
        self._max = max_sessions

    def get(self, session_id: str | None, now: float, timeout: float) -> Session:
        """The live session ``session_id`` (new if unknown or expired); a throwaway one if None."""
        self._expire(now)
        if session_id is None:
            return Session(expires_at=now)
        session = self._items.pop(session_id, None) or Session()
        session.expires_at = now + max(timeout, 0.0)
        self._items[session_id] = session
        while len(self._items) > self._max:
            self._items.popitem(last=False)
        return session

    def _expire(self, now: float) -> None:
        # Least recently used first: stop at the first live one.
        while self._items:
            sid, session = next(iter(self._items.items()))
            if session.expires_at >= now:
                break
            del self._items[sid]

    def __len__(self) -> int:
        return len(self._items)
