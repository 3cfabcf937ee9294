"""Read side: province summaries (mergeable across workers) and the live API JSON.

A *summary* is what one worker knows about one province as of a clock reading: raw slot
vectors and carried-over counts per period, backlog counts, per-minute counts and freshness;
with ``detail`` the same per commune. Summaries are plain JSON, so a worker can fetch the
provinces it does not own from their owners and merge; rates are derived only after merging.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.logic.calendar import LocalCalendar, Period
from streams.logic.facts import (
    BASE_FIGURES,
    CRIME_GROUPS,
    GROUP_CLEARED,
    GROUP_RECEIVED,
    GROUP_RESOLVED,
    N_SLOTS,
    SLOT,
    SOURCE_RECEIVED,
    SOURCE_TYPES,
)
from streams.logic.state import ProvinceState

Summary = dict[str, Any]
PERIOD_NAMES = ("today", "month", "stat_month", "ytd")
_RECEIVED, _RESOLVED = SLOT["received"], SLOT["resolved"]


def _vadd(acc: list[int], row: list[int] | None) -> None:
    if row is not None:
        for i, v in enumerate(row):
            if v:
                acc[i] += v


def _period_raw(
    day_get: Any, month_get: Any, carry: int, p: Period, cal: LocalCalendar, today: int
) -> dict[str, Any]:
    acc = [0] * N_SLOTS
    if p.name == "today":
        _vadd(acc, day_get(p.start))
    elif p.name == "month":
        _vadd(acc, month_get(cal.month(p.start)))
    elif p.name == "stat_month":
        for day in range(p.start, p.end + 1):
            _vadd(acc, day_get(day))
    else:  # ytd: whole months, minus a day after today that falls in this month
        for month in range(cal.month(p.start), cal.month(p.end) + 1):
            _vadd(acc, month_get(month))
        if cal.month(today + 1) == cal.month(today):
            tomorrow = day_get(today + 1)
            if tomorrow is not None:
                for i, v in enumerate(tomorrow):
                    acc[i] -= v
    return {"raw": acc, "carried": carry}


def _periods_for(
    state: ProvinceState, commune: str | None, periods: dict[str, Period], today: int
) -> dict[str, Any]:
    day_get: Callable[[int], list[int] | None]
    month_get: Callable[[int], list[int] | None]
    if commune is None:
        day_get, month_get = state.prov_day.get, state.prov_month.get
        carried = {s: 0 for s in state.starts}
        for (_, start), n in state.carry.items():
            carried[start] = carried.get(start, 0) + n
    else:
        day_cells, month_cells = state.day_cells, state.month_cells

        def day_get(day: int) -> list[int] | None:
            return day_cells.get((commune, day))

        def month_get(month: int) -> list[int] | None:
            return month_cells.get((commune, month))

        carried = {s: state.carry.get((commune, s), 0) for s in state.starts}
    return {
        name: _period_raw(day_get, month_get, carried.get(p.start, 0), p, state.cal, today)
        for name, p in periods.items()
    }


def province_summary(state: ProvinceState, as_of: float, detail: bool = False) -> Summary:
    """What this worker knows about one province, as of ``as_of`` (epoch seconds)."""
    state.tick(as_of)
    cal = state.cal
    periods = cal.periods(as_of)
    today = cal.day(as_of)
    backlog = state.backlog.at(today)
    communes: dict[str, Any] = {}
    if detail:
        communes = {c: {"backlog": b} for c, b in state.backlog.per_commune(today).items()}
        names = {c for c, _ in state.month_cells} | set(communes)
        for commune in names:
            entry = communes.setdefault(commune, {"backlog": {"open": 0, "overdue": 0}})
            entry["periods"] = _periods_for(state, commune, periods, today)
    first_minute = int(as_of // 60) - 59
    return {
        "days": _days(state, periods["month"].start, today),
        "code": state.code,
        "periods": _periods_for(state, None, periods, today),
        "backlog": backlog,
        "minutes": {str(m): v for m, v in state.minutes.items() if m >= first_minute},
        "freshness": {
            "newest": state.newest_recorded_ts,
            "lag": state.lag_s,
            "counted": state.events_counted,
        },
        "communes": communes if detail else None,
    }


def _days(state: ProvinceState, start: int, today: int) -> dict[str, list[int]]:
    """``received``/``resolved`` per local day of the current month up to today (non-zero)."""
    out: dict[str, list[int]] = {}
    for day in range(start, today + 1):
        row = state.prov_day.get(day)
        if row is not None and (row[_RECEIVED] or row[_RESOLVED]):
            out[str(day)] = [row[_RECEIVED], row[_RESOLVED]]
    return out


def figures(raw: list[int], carried: int) -> dict[str, Any]:
    """The figures object ``F`` of docs/live-api.md from a slot vector."""
    out: dict[str, Any] = {name: raw[SLOT[name]] for name in BASE_FIGURES}
    out["resolution_rate"] = _rate(out["resolved"], carried + out["received"])
    out["on_time_rate"] = _rate(out["resolved_on_time"], out["resolved"])
    out["clearance_rate"] = _rate(out["cleared"], out["instituted"])
    out["by_crime_group"] = {
        g: {
            "received": raw[GROUP_RECEIVED[g]],
            "resolved": raw[GROUP_RESOLVED[g]],
            "cleared": raw[GROUP_CLEARED[g]],
        }
        for g in CRIME_GROUPS
    }
    out["by_source_type"] = {s: raw[SOURCE_RECEIVED[s]] for s in SOURCE_TYPES}
    return out


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den > 0 else None


def empty_periods() -> dict[str, Any]:
    return {name: {"raw": [0] * N_SLOTS, "carried": 0} for name in PERIOD_NAMES}


def merge_periods(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out = empty_periods()
    for part in parts:
        for name in PERIOD_NAMES:
            _vadd(out[name]["raw"], part[name]["raw"])
            out[name]["carried"] += part[name]["carried"]
    return out


def render_periods(raw_periods: dict[str, Any], periods: dict[str, Period]) -> dict[str, Any]:
    return {
        name: {**periods[name].as_json(), "figures": figures(v["raw"], v["carried"])}
        for name, v in raw_periods.items()
    }
