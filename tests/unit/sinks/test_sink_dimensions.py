"""Dimension rows built from the reference data and settings (pure)."""

from __future__ import annotations

from datetime import date

from schemas.enums import CrimeGroup
from sinks.dimensions import (
    CRIME_GROUP_CHAPTERS,
    calendar_rows,
    checksum,
    crime_group_rows,
    province_rows,
)


def _periods(rows: list[list], day: date) -> dict[str, tuple]:
    return {r[1]: (r[2], r[3], r[4]) for r in rows if r[0] == day}


def test_calendar_has_four_period_types_per_day() -> None:
    rows = calendar_rows(15, (2026, 2026))
    assert len(rows) == 365 * 4
    got = _periods(rows, date(2026, 2, 14))
    assert got["month"] == (date(2026, 2, 1), date(2026, 2, 28), "2026-02")
    assert got["quarter"] == (date(2026, 1, 1), date(2026, 3, 31), "2026-Q1")
    assert got["year"] == (date(2026, 1, 1), date(2026, 12, 31), "2026")
    assert got["stat_month"] == (date(2026, 1, 15), date(2026, 2, 14), "2026-02")
    assert _periods(rows, date(2026, 2, 15))["stat_month"][2] == "2026-03"


def test_statistical_month_start_day_is_a_setting() -> None:
    rows = calendar_rows(16, (2026, 2026))
    assert _periods(rows, date(2026, 2, 15))["stat_month"] == (
        date(2026, 1, 16), date(2026, 2, 15), "2026-02")


def test_crime_groups_follow_the_enum_and_the_configured_grouping() -> None:
    assert set(CRIME_GROUP_CHAPTERS) == {g.value for g in CrimeGroup}
    rows = crime_group_rows(["property", "drugs"])
    assert {r[0] for r in rows if r[3]} == {"property", "drugs"}


def test_provinces_and_checksum() -> None:
    rows = province_rows()
    assert len(rows) == 34 and ["15", "Lào Cai", "2025"] in [list(r) for r in rows]
    assert checksum(rows) == checksum([list(r) for r in rows])
    assert checksum(rows) != checksum(rows[:-1])
