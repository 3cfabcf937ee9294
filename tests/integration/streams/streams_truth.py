"""Ground truth for the live figures, computed straight from the produced events.

Written independently of ``streams/logic`` (plain loops over event dicts, datetimes and the
shared legal-time rules in ``schemas/rules.py``), following docs/live-api.md. Used by the
streams unit tests (property test) and integration tests (real broker and workers).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from schemas import rules

BASE = (
    "received", "accepted", "transferred", "not_crime", "resolved", "instituted", "declined",
    "suspended", "resolved_on_time", "cleared", "suspects", "admin_violations",
    "admin_sanctioned", "admin_violators", "fines_vnd",
)
DECISION = {"institute": "instituted", "decline": "declined", "suspend": "suspended"}


def _when(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


def _day(event: dict[str, Any]) -> date:
    return rules.local_date(_when(event))


def active_events(produced: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Distinct by event_id (first copy wins), minus every event some correction names."""
    distinct: dict[str, dict[str, Any]] = {}
    for e in produced:
        distinct.setdefault(e["event_id"], e)
    corrected = {e["corrects_event_id"] for e in distinct.values() if e.get("corrects_event_id")}
    return [e for e in distinct.values() if e["event_id"] not in corrected]


def _incidents(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    lifecycle = {"report_received", "report_triaged", "report_forwarded", "deadline_extended",
                 "report_resolved", "report_resumed"}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["event_type"] in lifecycle:
            out[e["incident_id"]].append(e)
    for evs in out.values():
        evs.sort(key=_order)
    return out


_RANK = {kind: rank for rank, kind in enumerate(
    ["report_received", "report_triaged", "report_forwarded", "deadline_extended",
     "report_resumed", "report_resolved"])}


def _order(e: dict[str, Any]) -> tuple[datetime, int, str]:
    """docs/live-api.md: occurred_at to the millisecond, then event type, then event_id text."""
    when = _when(e)
    return (when.replace(microsecond=when.microsecond // 1000 * 1000), _RANK[e["event_type"]],
            str(uuid.UUID(e["event_id"])))


def _due_at(evs: list[dict[str, Any]], moment: datetime) -> tuple[dict | None, date | None]:
    """The report and its due date in force at ``moment`` (extensions/resumes up to it)."""
    report = next((e for e in evs if e["event_type"] == "report_received"), None)
    if report is None:
        return None, None
    received_at = _when(report)
    due = rules.initial_due(received_at)
    for e in evs:
        if _when(e) > moment:
            break
        if e["event_type"] == "deadline_extended":
            due = rules.extend_due(due, received_at, e["extension"], e["months"])
        elif e["event_type"] == "report_resumed":
            due = rules.resumed_due(_when(e))
    return report, due


def _open_at(evs: list[dict[str, Any]], before: date | None) -> bool:
    status = None
    for e in evs:
        if e["event_type"] in ("report_resolved", "report_resumed"):
            if before is not None and _day(e) >= before:
                break
            status = e["event_type"]
    return status != "report_resolved"


def figures(produced: list[dict[str, Any]], now: datetime, stat_start_day: int = 15,
            province: str | None = None) -> dict[str, Any]:
    """Expected ``periods`` (base figures + resolution_rate) and ``backlog`` for one scope."""
    events = active_events(produced)
    incidents = _incidents(events)
    if province is not None:
        events = [e for e in events if e["province_code"] == province]
    periods = rules.periods_at(now, rules.StatCalendar(stat_start_day))
    out: dict[str, Any] = {"periods": {}}
    for name, period in periods.items():
        f = dict.fromkeys(BASE, 0)
        for e in events:
            if _day(e) in period:
                _count(f, e, incidents)
        carried = _carried(incidents, period.start, province)
        den = carried + f["received"]
        f["resolution_rate"] = round(f["resolved"] / den, 4) if den else None
        out["periods"][name] = f
    out["backlog"] = _backlog(incidents, now, province)
    out["days"] = _days(events, periods["month"].start, rules.local_date(now))
    distinct = {e["event_id"]: e for e in produced}
    out["events_counted"] = sum(
        1 for e in distinct.values() if province is None or e["province_code"] == province
    )
    return out


def _days(events: list[dict[str, Any]], first: date, today: date) -> list[dict[str, Any]]:
    """received / resolved per event date from the 1st of the month to today."""
    rows = {
        date.fromordinal(n).isoformat(): {"received": 0, "resolved": 0}
        for n in range(first.toordinal(), today.toordinal() + 1)
    }
    kinds = {"report_received": "received", "report_resolved": "resolved"}
    for e in events:
        row = rows.get(_day(e).isoformat())
        if row is not None and e["event_type"] in kinds:
            row[kinds[e["event_type"]]] += 1
    return [{"date": d, **row} for d, row in rows.items()]


def _count(f: dict[str, int], e: dict[str, Any], incidents: dict[str, list]) -> None:
    t = e["event_type"]
    if t == "report_received":
        f["received"] += 1
    elif t == "report_triaged":
        f[e["outcome"]] += 1
    elif t == "report_resolved":
        f["resolved"] += 1
        f[DECISION[e["decision"]]] += 1
        report, due = _due_at(incidents[e["incident_id"]], _when(e))
        if report is not None and rules.is_on_time(_when(e), due):
            f["resolved_on_time"] += 1
    elif t == "offence_cleared":
        f["cleared"] += 1
    elif t == "suspects_apprehended":
        f["suspects"] += e["count"]
    elif t == "admin_violation_sanctioned":
        f["admin_violations"] += e["violations_detected"]
        f["admin_sanctioned"] += e["violations_sanctioned"]
        f["admin_violators"] += e["violators"]
        f["fines_vnd"] += e["fine_vnd"]


def _carried(incidents: dict[str, list], start: date, province: str | None) -> int:
    n = 0
    for evs in incidents.values():
        report = next((e for e in evs if e["event_type"] == "report_received"), None)
        if report is None or (province is not None and report["province_code"] != province):
            continue
        if _day(report) < start and _open_at(evs, start):
            n += 1
    return n


def _backlog(incidents: dict[str, list], now: datetime, province: str | None) -> dict[str, int]:
    b = {"open": 0, "overdue": 0}
    for evs in incidents.values():
        report = next((e for e in evs if e["event_type"] == "report_received"), None)
        if report is None or (province is not None and report["province_code"] != province):
            continue
        if _open_at(evs, None):
            b["open"] += 1
            _, due = _due_at(evs, now)
            if rules.is_overdue(due, now):
                b["overdue"] += 1
    return b


def compare(api: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Differences between an API answer (scope object) and the truth; empty when equal."""
    diffs = []
    for name, want in expected["periods"].items():
        got = api["periods"][name]["figures"]
        for key, value in want.items():
            if got[key] != value:
                diffs.append(f"{name}.{key}: api {got[key]} != truth {value}")
    for key, value in expected["backlog"].items():
        if api["backlog"][key] != value:
            diffs.append(f"backlog.{key}: api {api['backlog'][key]} != truth {value}")
    # whole answers carry ``days`` (children, which have no "scope", do not)
    if "scope" in api and api.get("days") != expected["days"]:
        diffs.append(f"days: api {api.get('days')} != truth {expected['days']}")
    return diffs
