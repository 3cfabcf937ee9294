"""Due dates as local day numbers, delegating to the shared legal-time rules (schemas/rules.py).

A due date is a calendar date (the deadline ends at 24:00 local time): a resolution is on
time when its local date is on or before it, and an open report is overdue once the local
date of ``as_of`` is after it. Day numbers are ``date.toordinal()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from schemas import rules


@dataclass(frozen=True)
class DueRules:
    tz: ZoneInfo = rules.TZ

    def _dt(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, UTC).astimezone(self.tz)

    def initial_due(self, received_day: int) -> int:
        """Due day of a report received on local day number ``received_day``."""
        return received_day + rules.REPORT_DUE_DAYS

    def extend(self, received_ts: float, due_day: int, kind: str, months: int) -> int:
        """Due date after a ``deadline_extended`` of ``kind`` by ``months``."""
        try:
            new = rules.extend_due(date.fromordinal(due_day), self._dt(received_ts), kind, months)
        except ValueError:  # not reachable for validated events; keep the date in force
            return due_day
        return new.toordinal()

    def resumed(self, resumed_ts: float) -> int:
        return rules.resumed_due(self._dt(resumed_ts)).toordinal()
