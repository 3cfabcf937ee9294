"""The live API JSON (docs/architecture.md, "Live API") from merged province summaries."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from streams.logic.calendar import LocalCalendar
from streams.logic.view import Summary, empty_periods, merge_periods, render_periods

Names = Callable[[str], str]
NO_BACKLOG = {"open": 0, "overdue": 0}


def render(
    scope: str,
    code: str | None,
    summaries: Mapping[str, Summary],
    as_of: float,
    cal: LocalCalendar,
    children: list[tuple[str, str]],
) -> dict[str, Any]:
    """One API answer. ``scope`` is ``national``, ``provinces`` or ``province``.

    ``summaries``: province code -> summary (with commune detail for ``province``);
    ``children``: ``(code, name)`` of every province (or commune) to list, data or not.
    """
    periods = cal.periods(as_of)
    parts = list(summaries.values())
    if scope == "province":
        own = summaries.get(code or "")
        parts = [own] if own else []
        detail = (own or {}).get("communes") or {}
        kids = [_child(c, name, detail.get(c), periods) for c, name in children]
    else:
        kids = [_child(c, name, summaries.get(c), periods) for c, name in children]
    return {
        "scope": scope,
        "code": code,
        "as_of": cal.local(as_of).isoformat(timespec="seconds"),
        "freshness": _freshness(parts, cal),
        "periods": render_periods(merge_periods([p["periods"] for p in parts]), periods),
        "backlog": {
            "open": sum(p["backlog"]["open"] for p in parts),
            "overdue": sum(p["backlog"]["overdue"] for p in parts),
        },
        "last_hour": _last_hour(parts, as_of, cal),
        "days": _days(parts, periods["month"].start, cal.day(as_of)),
        "children": kids,
    }


def _child(code: str, name: str, part: dict[str, Any] | None, periods: Any) -> dict[str, Any]:
    part = part or {}
    raw = part.get("periods") or empty_periods()
    return {
        "code": code,
        "name": name,
        "periods": render_periods(raw, periods),
        "backlog": part.get("backlog") or dict(NO_BACKLOG),
    }


def _freshness(parts: list[Summary], cal: LocalCalendar) -> dict[str, Any]:
    newest: float | None = None
    lag: float | None = None
    counted = 0
    for p in parts:
        f = p["freshness"]
        counted += f["counted"]
        if f["newest"] is not None and (newest is None or f["newest"] > newest):
            newest, lag = f["newest"], f["lag"]
    return {
        "newest_event_at": cal.local(newest).isoformat() if newest is not None else None,
        "lag_seconds": round(lag, 3) if lag is not None else None,
        "events_counted": counted,
    }


def _last_hour(parts: list[Summary], as_of: float, cal: LocalCalendar) -> list[dict[str, Any]]:
    last = int(as_of // 60)
    totals = {m: [0, 0] for m in range(last - 59, last + 1)}
    for p in parts:
        for minute, (received, resolved) in p["minutes"].items():
            row = totals.get(int(minute))
            if row is not None:
                row[0] += received
                row[1] += resolved
    return [
        {
            "minute": cal.local(m * 60).isoformat(timespec="seconds"),
            "received": row[0],
            "resolved": row[1],
        }
        for m, row in totals.items()
    ]


def _days(parts: list[Summary], start: int, today: int) -> list[dict[str, Any]]:
    """Per local day of the current month up to today: received and resolved (merged)."""
    totals = {day: [0, 0] for day in range(start, today + 1)}
    for p in parts:
        for day, (received, resolved) in (p.get("days") or {}).items():
            row = totals.get(int(day))
            if row is not None:
                row[0] += received
                row[1] += resolved
    return [
        {"date": date.fromordinal(day).isoformat(), "received": row[0], "resolved": row[1]}
        for day, row in totals.items()
    ]
