"""Legal-time rules: deadlines, on-time, overdue at a given clock, reporting periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from antt.settings import load_settings
from schemas import CrimeGroup, ExtensionKind
from schemas.rules import (
    TZ,
    Period,
    StatCalendar,
    add_months,
    due_date,
    extend_due,
    initial_due,
    is_on_time,
    is_overdue,
    is_social_order,
    local_date,
    max_due,
    month_period,
    overdue_since,
    periods_at,
    quarter_period,
    resumed_due,
    social_order_groups,
    year_period,
)

RECEIVED = datetime(2026, 1, 10, 9, 0, tzinfo=TZ)


def test_local_date_uses_viet_nam_time() -> None:
    late_utc = datetime(2026, 3, 31, 17, 30, tzinfo=UTC)  # 00:30 on 1 April in Ha Noi
    assert local_date(late_utc) == date(2026, 4, 1)
    with pytest.raises(ValueError):
        local_date(datetime(2026, 1, 1))  # noqa: DTZ001


def test_report_is_due_20_days_after_receipt() -> None:
    assert initial_due(RECEIVED) == date(2026, 1, 30)
    # received 23:30 UTC on the 9th = 06:30 on the 10th in Ha Noi
    assert initial_due(datetime(2026, 1, 9, 23, 30, tzinfo=UTC)) == date(2026, 1, 30)


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 15), 2) == date(2027, 1, 15)
    assert add_months(date(2026, 1, 15), -1) == date(2025, 12, 15)


def test_complex_case_extension_runs_from_receipt() -> None:
    due = initial_due(RECEIVED)
    assert extend_due(due, RECEIVED, ExtensionKind.COMPLEX_CASE, 2) == date(2026, 3, 10)
    assert extend_due(due, RECEIVED, "complex_case", 1) == date(2026, 2, 10)


def test_procuracy_extension_adds_to_current_due_date() -> None:
    due = extend_due(initial_due(RECEIVED), RECEIVED, "complex_case", 2)
    assert extend_due(due, RECEIVED, "procuracy", 1) == date(2026, 4, 10)
    assert extend_due(due, RECEIVED, "procuracy", 2) == date(2026, 5, 10)


def test_four_months_at_most() -> None:
    assert max_due(RECEIVED) == date(2026, 5, 10)
    due = due_date(RECEIVED, [("complex_case", 2), ("procuracy", 2), ("procuracy", 2)])
    assert due == date(2026, 5, 10)


def test_an_extension_never_shortens_the_deadline() -> None:
    due = due_date(RECEIVED, [("complex_case", 2), ("procuracy", 2)])
    assert extend_due(due, RECEIVED, "complex_case", 1) == due


@pytest.mark.parametrize(("kind", "months"), [("complex_case", 3), ("procuracy", 0), ("x", 1)])
def test_invalid_extensions(kind: str, months: int) -> None:
    with pytest.raises(ValueError):
        extend_due(initial_due(RECEIVED), RECEIVED, kind, months)


def test_resumed_report_gets_one_more_month() -> None:
    resumed = datetime(2026, 6, 30, 8, 0, tzinfo=TZ)
    assert resumed_due(resumed) == date(2026, 7, 30)
    assert due_date(RECEIVED, [("complex_case", 2)], resumed_at=resumed) == date(2026, 7, 30)


def test_on_time_includes_the_whole_due_day() -> None:
    due = initial_due(RECEIVED)  # 2026-01-30
    assert is_on_time(datetime(2026, 1, 30, 23, 59, tzinfo=TZ), due)
    assert not is_on_time(datetime(2026, 1, 31, 0, 0, tzinfo=TZ), due)
    assert is_on_time(datetime(2026, 1, 30, 16, 59, tzinfo=UTC), due)  # 23:59 in Ha Noi
    assert not is_on_time(datetime(2026, 1, 30, 17, 0, tzinfo=UTC), due)


def test_overdue_depends_on_the_clock() -> None:
    due = initial_due(RECEIVED)
    assert not is_overdue(due, datetime(2026, 1, 30, 23, 59, 59, tzinfo=TZ))
    assert is_overdue(due, datetime(2026, 1, 31, 0, 0, tzinfo=TZ))
    assert overdue_since(due) == datetime(2026, 1, 31, tzinfo=TZ)
    assert is_overdue(due, overdue_since(due))
    assert not is_overdue(due, overdue_since(due) - timedelta(microseconds=1))


def test_calendar_periods() -> None:
    day = date(2026, 11, 22)
    assert month_period(day) == Period("month", date(2026, 11, 1), date(2026, 11, 30), "2026-11")
    assert quarter_period(day) == Period(
        "quarter", date(2026, 10, 1), date(2026, 12, 31), "2026-Q4"
    )
    assert quarter_period(date(2026, 2, 28)).end == date(2026, 3, 31)
    assert year_period(day).start == date(2026, 1, 1)
    assert date(2026, 11, 30) in month_period(day)
    assert date(2026, 12, 1) not in month_period(day)


def test_statistical_month_default_15th_to_14th() -> None:
    cal = StatCalendar()
    nov = cal.month(2026, 11)
    assert (nov.start, nov.end, nov.label) == (date(2026, 10, 15), date(2026, 11, 14), "2026-11")
    assert cal.period_of(date(2026, 11, 14)) == nov
    assert cal.period_of(date(2026, 11, 15)).label == "2026-12"
    assert cal.period_of(date(2026, 12, 31)).label == "2027-01"
    assert cal.period_of(date(2026, 1, 1)) == cal.month(2026, 1)
    assert cal.month(2026, 1).start == date(2025, 12, 15)


def test_statistical_month_is_configurable() -> None:
    cal = StatCalendar(start_day=16)
    assert cal.period_of(date(2026, 11, 15)).end == date(2026, 11, 15)
    assert cal.period_of(date(2026, 11, 16)).start == date(2026, 11, 16)
    first = StatCalendar(start_day=1)
    assert first.period_of(date(2026, 2, 10)) == Period(
        "stat_month", date(2026, 2, 1), date(2026, 2, 28), "2026-02"
    )
    override = StatCalendar(overrides={"2026-11": (date(2026, 10, 16), date(2026, 11, 15))})
    assert override.period_of(date(2026, 11, 15)).label == "2026-11"
    with pytest.raises(ValueError):
        StatCalendar(start_day=29)
    assert load_settings().statistical_month_start_day == StatCalendar().start_day


def test_consecutive_statistical_months_tile_the_year() -> None:
    cal = StatCalendar()
    for month in range(1, 13):
        this, following = cal.month(2026, month), cal.month(2026 + month // 12, month % 12 + 1)
        assert this.end + timedelta(days=1) == following.start


def test_periods_at_the_live_api_clock() -> None:
    now = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)  # 01:00 on 22 November in Ha Noi
    periods = periods_at(now)
    assert periods["today"].start == date(2026, 11, 22)
    assert periods["month"].label == "2026-11"
    assert periods["stat_month"] == StatCalendar().period_of(date(2026, 11, 22))
    assert periods["ytd"].start == date(2026, 1, 1)
    assert periods["ytd"].end == date(2026, 11, 22)


def test_social_order_mapping_is_configurable() -> None:
    assert is_social_order("property")
    assert not is_social_order(CrimeGroup.DRUGS)
    custom = social_order_groups(["drugs"])
    assert is_social_order("drugs", custom)
    assert not is_social_order("property", custom)
    assert social_order_groups(load_settings().social_order_crime_groups) == social_order_groups()
    with pytest.raises(ValueError):
        social_order_groups(["theft"])
