"""Local dates and reporting periods (Asia/Ho_Chi_Minh by default), as plain day numbers.

A *day number* is the proleptic ordinal of the local date (``date.toordinal()``); a *month key*
is ``year * 12 + month - 1``. The offset of the time zone is read once: Viet Nam has kept
UTC+7 without daylight saving since 1975, which is what makes ``(ts + offset) // 86400`` exact.
"""

from __future__ import annotations

import calendar as _cal
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()  # day number of 1970-01-01
_EPOCH_ORDINAL = EPOCH_ORDINAL


@dataclass(frozen=True)
class Period:
    """An inclusive range of local dates (day numbers)."""

    name: str
    start: int
    end: int

    def as_json(self) -> dict[str, str]:
        return {
            "start": date.fromordinal(self.start).isoformat(),
            "end": date.fromordinal(self.end).isoformat(),
        }


class LocalCalendar:
    """Day numbers, month keys and the four live periods for one fixed-offset time zone."""

    def __init__(self, tz_name: str = "Asia/Ho_Chi_Minh", stat_month_start_day: int = 15):
        self.tz = ZoneInfo(tz_name)
        offset = datetime(2025, 1, 1, tzinfo=self.tz).utcoffset() or timedelta(0)
        self.offset_s = offset.total_seconds()
        self.stat_start_day = stat_month_start_day
        self.months: dict[int, int] = {}  # day number -> month key, as met (see month())

    def day(self, ts: float) -> int:
        """Local day number of an epoch timestamp."""
        return int((ts + self.offset_s) // 86400) + _EPOCH_ORDINAL

    def day_start_ts(self, day: int) -> float:
        """Epoch timestamp of local midnight starting ``day``."""
        return (day - _EPOCH_ORDINAL) * 86400 - self.offset_s

    def month(self, day: int) -> int:
        """Month key of a day number (cached: called per counted event)."""
        key = self.months.get(day)
        if key is None:
            d = date.fromordinal(day)
            key = d.year * 12 + d.month - 1
            self.months[day] = key
        return key

    def local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, UTC).astimezone(self.tz)

    def periods(self, now_ts: float) -> dict[str, Period]:
        """``today``, ``month``, ``stat_month`` and ``ytd`` as of ``now_ts``."""
        today = date.fromordinal(self.day(now_ts))
        last = _cal.monthrange(today.year, today.month)[1]
        month_start = today.replace(day=1)
        s = self.stat_start_day
        if today.day >= s:
            stat_start = today.replace(day=s)
        else:
            prev_year, prev_month = (today.year, today.month - 1) if today.month > 1 else (
                today.year - 1, 12)
            stat_start = date(prev_year, prev_month, s)
        stat_end = _add_months(stat_start, 1) - timedelta(days=1)
        return {
            "today": Period("today", today.toordinal(), today.toordinal()),
            "month": Period("month", month_start.toordinal(), today.replace(day=last).toordinal()),
            "stat_month": Period("stat_month", stat_start.toordinal(), stat_end.toordinal()),
            "ytd": Period("ytd", date(today.year, 1, 1).toordinal(), today.toordinal()),
        }


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    year, month = divmod(total, 12)
    day = min(d.day, _cal.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


def month_key_of(d: date) -> int:
    return d.year * 12 + d.month - 1
