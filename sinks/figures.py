"""Live-API-shaped figures (docs/live-api.md) computed from ClickHouse.

Used to reconcile ClickHouse with the live counters and with the simulator's ground truth,
and by analysts as a reference for how each figure maps onto the tables. Volumes come from
``metrics_daily_province``; on-time resolutions, resolutions by crime group and the backlog
come from ``incidents_current``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.enums import CrimeGroup, SourceType

_COUNT_METRICS = {
    "received": "metric = 'received'",
    "accepted": "metric = 'accepted'",
    "transferred": "metric = 'transferred'",
    "not_crime": "metric = 'not_crime'",
    "resolved": "metric = 'resolved'",
    "instituted": "metric = 'resolved' AND detail = 'institute'",
    "declined": "metric = 'resolved' AND detail = 'decline'",
    "suspended": "metric = 'resolved' AND detail = 'suspend'",
    "cleared": "metric = 'cleared'",
}
_VALUE_METRICS = {
    "suspects": "suspects",
    "admin_violations": "admin_violations",
    "admin_sanctioned": "admin_sanctioned",
    "admin_violators": "admin_violators",
    "fines_vnd": "fines_vnd",
}


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _scope(province: str | None) -> str:
    return f" AND province_code = '{province}'" if province else ""


def period_figures(client: Client, db: str, start: date, end: date, tz: str,
                   province: str | None = None) -> dict[str, Any]:
    """Figures ``F`` of the live API for the local dates ``start..end`` (inclusive)."""
    in_period = f"day BETWEEN '{start}' AND '{end}'"
    where = f"{in_period}{_scope(province)}"
    selects = [f"sumIf(events, ({cond}) AND {in_period}) AS {name}"
               for name, cond in _COUNT_METRICS.items()]
    selects += [f"sumIf(value, metric = '{m}' AND {in_period}) AS {name}"
                for name, m in _VALUE_METRICS.items()]
    # carried over = reports open at the start = received - resolved + resumed before it
    selects.append(f"sumIf(events * multiIf(metric = 'received', 1, metric = 'resolved', -1, "
                   f"metric = 'resumed', 1, 0), day < '{start}') AS carried_over")
    row = client.query(
        f"SELECT {', '.join(selects)} FROM {db}.metrics_daily_province "
        f"WHERE day <= '{end}'{_scope(province)}"
    ).named_results()
    f: dict[str, Any] = {k: int(v) for k, v in next(iter(row)).items()}
    carried = max(f.pop("carried_over"), 0)
    f["by_crime_group"] = {g.value: {"received": 0, "resolved": 0, "cleared": 0}
                           for g in CrimeGroup}
    f["by_source_type"] = dict.fromkeys((s.value for s in SourceType), 0)
    for metric, group, detail, n in client.query(
        f"SELECT metric, crime_group, detail, sum(events) FROM {db}.metrics_daily_province "
        f"WHERE {where} AND metric IN ('received', 'cleared') GROUP BY ALL"
    ).result_rows:
        if group in f["by_crime_group"]:
            f["by_crime_group"][group][metric] += int(n)
        if metric == "received" and detail in f["by_source_type"]:
            f["by_source_type"][detail] += int(n)
    on_time, by_group = _resolutions(client, db, start, end, tz, province)
    f["resolved_on_time"] = on_time
    for group, n in by_group.items():
        if group in f["by_crime_group"]:
            f["by_crime_group"][group]["resolved"] = n
    f["resolution_rate"] = _rate(f["resolved"], carried + f["received"])
    f["on_time_rate"] = _rate(f["resolved_on_time"], f["resolved"])
    f["clearance_rate"] = _rate(f["cleared"], f["instituted"])
    return f


def _resolutions(client: Client, db: str, start: date, end: date, tz: str,
                 province: str | None) -> tuple[int, dict[str, int]]:
    rows = client.query(
        f"SELECT crime_group, count(), sum(r.4) FROM {db}.incidents_current "
        f"ARRAY JOIN resolutions AS r "
        f"WHERE toDate(r.2, '{tz}') BETWEEN '{start}' AND '{end}'{_scope(province)} "
        f"GROUP BY crime_group"
    ).result_rows
    on_time = sum(int(t) for _g, _n, t in rows)
    return on_time, {str(g): int(n) for g, n, _t in rows}


def backlog(client: Client, db: str, today: date, province: str | None = None) -> dict[str, int]:
    """Open reports and those whose due date lies before ``today`` (a local date)."""
    where = "WHERE 1" + _scope(province)
    open_, overdue = client.query(
        f"SELECT countIf(is_open), countIf(is_open AND due_date < '{today}') "
        f"FROM {db}.incidents_current {where}"
    ).result_rows[0]
    return {"open": int(open_), "overdue": int(overdue)}
