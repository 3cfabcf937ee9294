"""Legal-time rules as pure functions; the clock is always a parameter.

Deadlines (Criminal Procedure Code 2015, art. 147-149): a crime report is due 20 days after the
day it was received; a complex case may run to 2 months from receipt; the procuracy may extend
once more by up to 2 months; never beyond 4 months from receipt. A resumed report gets 1 more
month from the day of resumption. A deadline ends at 24:00 of its last day
(Asia/Ho_Chi_Minh), so due dates are calendar dates.

Reporting periods: calendar day, month, quarter and year in Asia/Ho_Chi_Minh, and the
statistical month (by default 15th of the previous month to 14th of this one; the start day is
a setting, and single months can be overridden in a :class:`StatCalendar`).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from schemas.enums import CrimeGroup, ExtensionKind

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
REPORT_DUE_DAYS = 20
COMPLEX_CASE_MAX_MONTHS = 2
PROCURACY_MAX_MONTHS = 2
TOTAL_MAX_MONTHS = 4
RESUMED_MONTHS = 1


def local_date(moment: datetime, tz: ZoneInfo = TZ) -> date:
    """The calendar date of an aware datetime in Viet Nam (or ``tz``)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: time zone required")
    return moment.astimezone(tz).date()


def add_months(day: date, months: int) -> date:
    """Same day ``months`` later; the last day of the month when it has no such day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --- deadlines -------------------------------------------------------------------------------


def initial_due(received_at: datetime) -> date:
    """Due date of a newly received report: 20 days after the day of receipt."""
    return local_date(received_at) + timedelta(days=REPORT_DUE_DAYS)


def max_due(received_at: datetime) -> date:
    """The latest due date extensions can reach: 4 months after the day of receipt."""
    return add_months(local_date(received_at), TOTAL_MAX_MONTHS)


def extend_due(
    current: date, received_at: datetime, kind: ExtensionKind | str, months: int
) -> date:
    """Due date after a ``deadline_extended`` event.

    ``complex_case`` sets it to receipt + ``months`` (at most 2); ``procuracy`` adds ``months``
    (at most 2) to the current due date. Never beyond 4 months after receipt, never earlier
    than the current due date.
    """
    kind = ExtensionKind(kind)
    limit = COMPLEX_CASE_MAX_MONTHS if kind is ExtensionKind.COMPLEX_CASE else PROCURACY_MAX_MONTHS
    if not 1 <= months <= limit:
        raise ValueError(f"{kind} extension of {months} months (1-{limit} allowed)")
    if kind is ExtensionKind.COMPLEX_CASE:
        candidate = add_months(local_date(received_at), months)
    else:
        candidate = add_months(current, months)
    return max(current, min(candidate, max_due(received_at)))


def resumed_due(resumed_at: datetime) -> date:
    """Due date of a resumed report (or one whose suspension was annulled): 1 month on."""
    return add_months(local_date(resumed_at), RESUMED_MONTHS)


def due_date(
    received_at: datetime,
    extensions: Iterable[tuple[ExtensionKind | str, int]] = (),
    resumed_at: datetime | None = None,
) -> date:
    """Due date in force after the given extensions (in order) and an optional resumption.

    >>> from datetime import datetime
    >>> r = datetime(2026, 1, 10, 9, 0, tzinfo=TZ)
    >>> due_date(r), due_date(r, [("complex_case", 2), ("procuracy", 2)])
    (datetime.date(2026, 1, 30), datetime.date(2026, 5, 10))
    """
    due = initial_due(received_at)
    for kind, months in extensions:
        due = extend_due(due, received_at, kind, months)
    if resumed_at is not None:
        due = resumed_due(resumed_at)
    return due


def is_on_time(resolved_at: datetime, due: date) -> bool:
    """Resolved on or before the due date (the deadline ends at 24:00 local time)."""
    return local_date(resolved_at) <= due


def is_overdue(due: date, now: datetime) -> bool:
    """An open report is overdue once its due date has passed at ``now``."""
    return local_date(now) > due


def overdue_since(due: date) -> datetime:
    """The first instant at which a report due on ``due`` is overdue (00:00 next day, local)."""
    return datetime.combine(due + timedelta(days=1), datetime.min.time(), tzinfo=TZ)


# --- reporting periods ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """An inclusive range of local dates; ``label`` names it (``2026-11``, ``2026-Q4``...)."""

    kind: str
    start: date
    end: date
    label: str

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def day_period(day: date) -> Period:
    return Period("day", day, day, day.isoformat())


def month_period(day: date) -> Period:
    last = calendar.monthrange(day.year, day.month)[1]
    start = day.replace(day=1)
    return Period("month", start, day.replace(day=last), f"{day.year}-{day.month:02d}")


def quarter_period(day: date) -> Period:
    q = (day.month - 1) // 3
    start = date(day.year, 3 * q + 1, 1)
    end = add_months(start, 3) - timedelta(days=1)
    return Period("quarter", start, end, f"{day.year}-Q{q + 1}")


def year_period(day: date) -> Period:
    return Period("year", date(day.year, 1, 1), date(day.year, 12, 31), str(day.year))


def year_to_date(day: date) -> Period:
    return Period("ytd", date(day.year, 1, 1), day, f"{day.year}-ytd")


@dataclass(frozen=True)
class StatCalendar:
    """The statistical-month calendar: a start day plus optional per-month overrides.

    The statistical month labelled ``YYYY-MM`` runs from ``start_day`` of the previous month to
    the day before ``start_day`` of month MM (default 15th-14th). ``overrides`` maps a label to
    an explicit (start, end) when a ministry calendar differs (e.g. a 16th-15th month).
    """

    start_day: int = 15
    overrides: Mapping[str, tuple[date, date]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.start_day <= 28:
            raise ValueError("statistical month start day must be 1-28")

    def month(self, label_year: int, label_month: int) -> Period:
        label = f"{label_year}-{label_month:02d}"
        if label in self.overrides:
            start, end = self.overrides[label]
            return Period("stat_month", start, end, label)
        this = date(label_year, label_month, self.start_day)
        start = add_months(this, -1) if self.start_day > 1 else this
        end = (
            this - timedelta(days=1)
            if self.start_day > 1
            else add_months(this, 1) - timedelta(days=1)
        )
        return Period("stat_month", start, end, label)

    def period_of(self, day: date) -> Period:
        """The statistical month containing ``day``."""
        for months_ahead in (0, 1, -1, 2):
            target = add_months(day.replace(day=1), months_ahead)
            period = self.month(target.year, target.month)
            if day in period:
                return period
        raise ValueError(f"no statistical month contains {day} (check the overrides)")


def periods_at(now: datetime, stat: StatCalendar | None = None) -> dict[str, Period]:
    """The live API's periods as of ``now``: today, month, stat_month, ytd."""
    today = local_date(now)
    return {
        "today": day_period(today),
        "month": month_period(today),
        "stat_month": (stat or StatCalendar()).period_of(today),
        "ytd": year_to_date(today),
    }


# --- crimes against social order -----------------------------------------------------------

DEFAULT_SOCIAL_ORDER_GROUPS: frozenset[CrimeGroup] = frozenset(
    {
        CrimeGroup.LIFE_HEALTH_DIGNITY,
        CrimeGroup.FREEDOMS,
        CrimeGroup.PROPERTY,
        CrimeGroup.MARRIAGE_FAMILY,
        CrimeGroup.PUBLIC_SAFETY_ORDER,
    }
)
"""Crime groups counted as "tội phạm về trật tự xã hội" unless configured (unconfirmed)."""


def social_order_groups(names: Iterable[str] | None = None) -> frozenset[CrimeGroup]:
    """Parse a configured list of crime-group codes (``None``: the default mapping)."""
    if names is None:
        return DEFAULT_SOCIAL_ORDER_GROUPS
    return frozenset(CrimeGroup(name) for name in names)


def is_social_order(group: CrimeGroup | str, groups: frozenset[CrimeGroup] | None = None) -> bool:
    """Whether ``group`` belongs to "crimes against social order" under ``groups``."""
    return CrimeGroup(group) in (DEFAULT_SOCIAL_ORDER_GROUPS if groups is None else groups)
