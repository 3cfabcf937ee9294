"""The ground truth: live-API answers computed straight from the generated events.

Independent of ``streams/`` by design: this module re-derives every figure of
docs/live-api.md from the list of *effective* events (distinct, valid, corrections applied),
so that the live API and ClickHouse can be checked against it key by key.
Fields the truth cannot know (``as_of``, ``freshness``, ``last_hour``) are ``None``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from schemas import rules, units
from schemas.enums import CrimeGroup, SourceType

GROUPS = tuple(g.value for g in CrimeGroup)
SOURCES = tuple(s.value for s in SourceType)
COUNTS = (
    "received", "accepted", "transferred", "not_crime", "resolved", "instituted", "declined",
    "suspended", "resolved_on_time", "cleared", "suspects", "admin_violations",
    "admin_sanctioned", "admin_violators", "fines_vnd",
)
_TRIAGE = {"accepted": "accepted", "transferred": "transferred", "not_crime": "not_crime"}
_DECISION = {"institute": "instituted", "decline": "declined", "suspend": "suspended"}


def empty_figures() -> dict[str, Any]:
    figures: dict[str, Any] = dict.fromkeys(COUNTS, 0)
    figures["by_crime_group"] = {g: {"received": 0, "resolved": 0, "cleared": 0} for g in GROUPS}
    figures["by_source_type"] = dict.fromkeys(SOURCES, 0)
    return figures


@dataclass
class Report:
    """What the truth needs of one incident with a report."""

    events: list[dict[str, Any]] = field(default_factory=list)  # time order

    @property
    def received(self) -> dict[str, Any] | None:
        return next((e for e in self.events if e["event_type"] == "report_received"), None)

    def due_at(self, at: datetime) -> date | None:
        received = self.received
        if received is None:
            return None
        extensions = [(e["extension"], e["months"]) for e in self.events
                      if e["event_type"] == "deadline_extended" and e["occurred_at"] <= at]
        resumes = [e["occurred_at"] for e in self.events
                   if e["event_type"] == "report_resumed" and e["occurred_at"] <= at]
        return rules.due_date(received["occurred_at"], extensions, max(resumes, default=None))

    def open_at(self, before: date | None = None) -> bool:
        """Received and not resolved: the last resolve/resume (before ``before``) decides."""
        status = [e for e in self.events
                  if e["event_type"] in ("report_resolved", "report_resumed")
                  and (before is None or rules.local_date(e["occurred_at"]) < before)]
        return not status or status[-1]["event_type"] == "report_resumed"


def _scopes(event: dict[str, Any]) -> tuple[str, str, str]:
    return ("national", "p" + event["province_code"], "c" + event["commune_code"])


class Tally:
    """Counts per scope and period; scope keys: ``national``, ``p01``, ``c00070``."""

    def __init__(self, periods: dict[str, rules.Period]) -> None:
        self.periods = periods
        self.figures: dict[str, dict[str, dict[str, Any]]] = defaultdict(
            lambda: {name: empty_figures() for name in periods}
        )
        self.carried: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(periods, 0))
        self.backlog: dict[str, dict[str, int]] = defaultdict(lambda: {"open": 0, "overdue": 0})
        # scope -> local date -> [received, resolved], current calendar month up to today
        self.days: dict[str, dict[date, list[int]]] = defaultdict(dict)

    def add_event(self, event: dict[str, Any], report: Report | None) -> None:
        day = rules.local_date(event["occurred_at"])
        column = _DAY_COLUMN.get(event["event_type"])
        if column is not None and self.periods["month"].start <= day <= self.periods["today"].end:
            for scope in _scopes(event):
                self.days[scope].setdefault(day, [0, 0])[column] += 1
        for name, period in self.periods.items():
            if day in period:
                for scope in _scopes(event):
                    _count(self.figures[scope][name], event, report)

    def add_report(self, report: Report, now: datetime) -> None:
        received = report.received
        if received is None:
            return
        scopes = _scopes(received)
        for name, period in self.periods.items():
            if rules.local_date(received["occurred_at"]) < period.start and report.open_at(
                period.start
            ):
                for scope in scopes:
                    self.carried[scope][name] += 1
        if report.open_at():
            due = report.due_at(now)
            overdue = due is not None and rules.is_overdue(due, now)
            for scope in scopes:
                self.backlog[scope]["open"] += 1
                self.backlog[scope]["overdue"] += int(overdue)


_DAY_COLUMN = {"report_received": 0, "report_resolved": 1}


def _days(tally: Tally, scope: str, periods: dict[str, rules.Period]) -> list[dict[str, Any]]:
    """``days`` of docs/live-api.md: the 1st of the month to today, zeros included."""
    counts = tally.days.get(scope, {})
    out = []
    for n in range(periods["month"].start.toordinal(), periods["today"].end.toordinal() + 1):
        day = date.fromordinal(n)
        received, resolved = counts.get(day, (0, 0))
        out.append({"date": day.isoformat(), "received": received, "resolved": resolved})
    return out


def _count(f: dict[str, Any], e: dict[str, Any], report: Report | None) -> None:
    kind = e["event_type"]
    if kind == "report_received":
        f["received"] += 1
        f["by_crime_group"][e["crime_group"]]["received"] += 1
        f["by_source_type"][e["source_type"]] += 1
    elif kind == "report_triaged":
        f[_TRIAGE[e["outcome"]]] += 1
    elif kind == "report_resolved":
        f["resolved"] += 1
        f[_DECISION[e["decision"]]] += 1
        received = report.received if report else None
        due = report.due_at(e["occurred_at"]) if report else None
        if due is not None and rules.is_on_time(e["occurred_at"], due):
            f["resolved_on_time"] += 1
        if received is not None:
            f["by_crime_group"][received["crime_group"]]["resolved"] += 1
    elif kind == "offence_cleared":
        f["cleared"] += 1
        f["by_crime_group"][e["crime_group"]]["cleared"] += 1
    elif kind == "suspects_apprehended":
        f["suspects"] += e["count"]
    elif kind == "admin_violation_sanctioned":
        f["admin_violations"] += e["violations_detected"]
        f["admin_sanctioned"] += e["violations_sanctioned"]
        f["admin_violators"] += e["violators"]
        f["fines_vnd"] += e["fine_vnd"]


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def finish(figures: dict[str, Any], carried_over: int) -> dict[str, Any]:
    figures["resolution_rate"] = _rate(figures["resolved"], carried_over + figures["received"])
    figures["on_time_rate"] = _rate(figures["resolved_on_time"], figures["resolved"])
    figures["clearance_rate"] = _rate(figures["cleared"], figures["instituted"])
    return figures


def effective_events(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Distinct events (first copy of an event_id wins) with corrections applied."""
    distinct: dict[str, dict[str, Any]] = {}
    for event in events:
        distinct.setdefault(event["event_id"], event)
    replaced = {e["corrects_event_id"] for e in distinct.values() if e["corrects_event_id"]}
    return [e for eid, e in distinct.items() if eid not in replaced]


def compute_truth(
    events: Iterable[dict[str, Any]], now: datetime, *, stat_start_day: int = 15
) -> dict[str, Any]:
    """``{"national": answer, "provinces": {code: answer}}`` as of ``now``.

    ``events`` are valid events with datetime values (duplicates and corrections allowed:
    :func:`effective_events` is applied here).
    """
    periods = rules.periods_at(now, rules.StatCalendar(stat_start_day))
    effective = sorted(effective_events(events), key=lambda e: e["occurred_at"])
    reports: dict[str, Report] = defaultdict(Report)
    for event in effective:
        if event["event_type"] != "admin_violation_sanctioned":
            reports[event["incident_id"]].events.append(event)
    tally = Tally(periods)
    for event in effective:
        tally.add_event(event, reports.get(event["incident_id"]))
    for report in reports.values():
        tally.add_report(report, now)
    return {
        "national": _answer(tally, "national", None, periods),
        "provinces": {p: _answer(tally, "p" + p, p, periods) for p in units.PROVINCES},
    }


def _periods(tally: Tally, scope: str, periods: dict[str, rules.Period]) -> dict[str, Any]:
    figures = tally.figures[scope]
    return {
        name: {"start": p.start.isoformat(), "end": p.end.isoformat(),
               "figures": finish(figures[name], tally.carried[scope][name])}
        for name, p in periods.items()
    }


def _unit(tally: Tally, scope: str, code: str, name: str,
          periods: dict[str, rules.Period]) -> dict[str, Any]:
    return {"code": code, "name": name, "periods": _periods(tally, scope, periods),
            "backlog": dict(tally.backlog[scope])}


def _answer(tally: Tally, scope: str, code: str | None,
            periods: dict[str, rules.Period]) -> dict[str, Any]:
    if code is None:
        children = [_unit(tally, "p" + p, p, units.province_name(p), periods)
                    for p in units.PROVINCES]
    else:
        scopes = set(tally.figures) | set(tally.backlog)
        seen = sorted(s[1:] for s in scopes if s.startswith("c")
                      and units.COMMUNE_PROVINCE.get(s[1:]) == code)
        children = [_unit(tally, "c" + c, c, units.commune_name(c), periods) for c in seen]
    return {
        "scope": "national" if code is None else "province",
        "code": code,
        "as_of": None,
        "freshness": None,
        "periods": _periods(tally, scope, periods),
        "backlog": dict(tally.backlog[scope]),
        "last_hour": None,
        "days": _days(tally, scope, periods),
        "children": children,
    }
