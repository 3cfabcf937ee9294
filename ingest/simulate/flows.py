"""One incident's life as events: report -> triage -> (forwarded) -> (extended) -> resolved ...

Pure and deterministic for a given ``random.Random``. Times are aware datetimes; events in
the future of ``now`` are not emitted (the incident is still at that stage). Dates of
resolutions and of open reports' due dates keep at least one day away from the boundaries
(due date, today) so that the ground truth does not depend on a few minutes of clock skew.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ingest.simulate import weights as w
from schemas import rules

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def pick(rng: random.Random, mix: Mapping[str, float]) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def uniform_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + (end - start) * rng.random()


def end_of_day(day: date) -> datetime:
    """The last instant of a local date (exclusive bound for "on or before")."""
    return rules.overdue_since(day)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=rules.TZ)


@dataclass
class Place:
    province_code: str
    commune_code: str
    source_system: str


class IncidentBuilder:
    """Collects the events of one incident (dicts with datetime values)."""

    def __init__(self, rng: random.Random, place: Place, prefix: str) -> None:
        self.rng = rng
        self.place = place
        self.incident_id = f"{prefix}-{place.province_code}-{rng.getrandbits(64):016x}"
        self.events: list[dict[str, Any]] = []

    def add(self, event_type: str, at: datetime, **fields: Any) -> None:
        self.events.append({
            "event_id": new_uuid(self.rng),
            "event_type": event_type,
            "schema_version": 1,
            "incident_id": self.incident_id,
            "province_code": self.place.province_code,
            "commune_code": self.place.commune_code,
            "code_regime": "2025",
            "occurred_at": at,
            "recorded_at": at,  # set later by the stream builder
            "source_system": self.place.source_system,
            "corrects_event_id": None,
            **fields,
        })


def report_flow(rng: random.Random, place: Place, t0: datetime) -> list[dict[str, Any]]:
    """Every event of one crime report received at ``t0`` (future ones included)."""
    b = IncidentBuilder(rng, place, "rpt")
    group, severity = pick(rng, w.CRIME_GROUPS), pick(rng, w.SEVERITIES)
    b.add("report_received", t0, source_type=pick(rng, w.SOURCE_TYPES),
          channel=pick(rng, w.CHANNELS), crime_group=group, severity=severity)
    t_triage = t0 + timedelta(minutes=10) + DAY * min(3.0, rng.expovariate(1.0))
    outcome = pick(rng, w.TRIAGE)
    b.add("report_triaged", t_triage, outcome=outcome)
    if outcome == "transferred":
        return b.events  # the competent body takes it over; nothing more is sent
    if outcome == "not_crime":
        b.add("report_resolved", t_triage + DAY * rng.uniform(0.5, 3.0), decision="decline")
        return b.events
    if rng.random() < w.SHARE_FORWARDED:
        b.add("report_forwarded", t_triage + HOUR * rng.uniform(1, 48),
              handled_by=pick(rng, w.HANDLED_BY))
    due = _extensions(rng, b, t0)
    t_res, decision = _resolution(rng, t0, due)
    extra = {"suspension_reason": pick(rng, w.SUSPENSION_REASONS)} if decision == "suspend" else {}
    b.add("report_resolved", t_res, decision=decision, **extra)
    if decision == "suspend" and rng.random() < w.SHARE_RESUMED:
        t_resume = t_res + DAY * rng.uniform(5, 40)
        b.add("report_resumed", t_resume, reason=pick(rng, w.RESUME_REASONS))
        decision = "institute" if rng.random() < 0.6 else "decline"
        b.add("report_resolved", t_resume + DAY * rng.uniform(3, 26), decision=decision)
    if decision == "institute":
        _clearance(rng, b, b.events[-1]["occurred_at"], group, severity)
    return b.events


def _extensions(rng: random.Random, b: IncidentBuilder, t0: datetime) -> date:
    """Maybe extend the deadline (complex case, then procuracy); return the due date."""
    due = rules.initial_due(t0)
    if rng.random() >= w.SHARE_COMPLEX:
        return due
    months = rng.choice((1, 2))
    b.add("deadline_extended", t0 + DAY * rng.uniform(14, 18.5), extension="complex_case",
          months=months)
    due = rules.extend_due(due, t0, "complex_case", months)
    if rng.random() < w.SHARE_PROCURACY:
        months = rng.choice((1, 2))
        b.add("deadline_extended", start_of_day(due) - DAY * rng.uniform(2, 6),
              extension="procuracy", months=months)
        due = rules.extend_due(due, t0, "procuracy", months)
    return due


def _resolution(rng: random.Random, t0: datetime, due: date) -> tuple[datetime, str]:
    """When and how the report is resolved, at least a day away from its due date."""
    decision = pick(rng, w.DECISIONS)
    if decision == "suspend":  # only once the deadline has run out
        return end_of_day(due) + DAY * rng.uniform(1.0, 3.0), decision
    if rng.random() < w.SHARE_ON_TIME:
        latest = start_of_day(due) - DAY  # at least one whole day early
        return uniform_time(rng, min(t0 + 2 * DAY, latest), latest), decision
    return end_of_day(due) + DAY + DAY * rng.expovariate(1 / 10), decision


def _clearance(rng: random.Random, b: IncidentBuilder, t_inst: datetime, group: str,
               severity: str) -> None:
    if rng.random() >= w.SHARE_CLEARED:
        return
    t_clear = t_inst + DAY * rng.uniform(0, 30)
    suspects = rng.randint(1, 3)
    b.add("offence_cleared", t_clear, crime_group=group, severity=severity,
          suspects_count=suspects)
    if rng.random() < w.SHARE_APPREHENDED:
        b.add("suspects_apprehended", t_clear + HOUR * rng.uniform(1, 72),
              count=rng.randint(1, suspects + 1), crime_group=group)


def admin_event(rng: random.Random, place: Place, at: datetime) -> dict[str, Any]:
    b = IncidentBuilder(rng, place, "adm")
    detected = rng.randint(1, 20)
    sanctioned = rng.randint(max(1, detected // 2), detected)
    b.add("admin_violation_sanctioned", at, field=pick(rng, w.ADMIN_FIELDS),
          violations_detected=detected, violations_sanctioned=sanctioned,
          violators=rng.randint(1, detected),
          fine_vnd=sanctioned * rng.randint(5, 500) * 100_000)
    return b.events[0]


def due_in_force(events: list[dict[str, Any]], at: datetime) -> date | None:
    """Due date of a report at ``at`` from its own events (``None``: no report_received)."""
    received = next((e for e in events if e["event_type"] == "report_received"), None)
    if received is None:
        return None
    extensions = [(e["extension"], e["months"]) for e in events
                  if e["event_type"] == "deadline_extended" and e["occurred_at"] <= at]
    resumes = [e["occurred_at"] for e in events
               if e["event_type"] == "report_resumed" and e["occurred_at"] <= at]
    return rules.due_date(received["occurred_at"], extensions, max(resumes, default=None))


def open_due_is_safe(events: list[dict[str, Any]], now: datetime) -> bool:
    """False when the report is open at ``now`` with a due date within a day of today.

    ``events`` are the incident's events up to ``now``, in time order.
    """
    status = [e for e in events if e["event_type"] in ("report_resolved", "report_resumed")]
    if status and status[-1]["event_type"] == "report_resolved":
        return True
    due = due_in_force(events, now)
    if due is None:
        return True
    return abs((due - rules.local_date(now)).days) > 1
