"""``generate(seed, ...)``: a deterministic national stream and its ground truth.

>>> from datetime import datetime, UTC
>>> sim = generate(7, n_events=300, now=datetime(2026, 11, 22, 3, 0, tzinfo=UTC))
>>> records, truth = sim
>>> sum(r.count for r in records) == sim.stats["sent_items"]
True
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.kafka import Record
from ingest.simulate import flows
from ingest.simulate import stream as st
from ingest.simulate import weights as w
from ingest.simulate.truth import compute_truth, effective_events
from schemas import units

MIN_AGE = timedelta(minutes=2)  # events newer than now - MIN_AGE have not happened yet


@dataclass(frozen=True)
class Knobs:
    """Shares between 0 and 1 (of the valid events) of each kind of trouble."""

    duplicates: float = 0.0
    out_of_order: float = 0.0
    late: float = 0.0
    malformed: float = 0.0
    corrections: float = w.SHARE_CORRECTED

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")


@dataclass
class Simulation:
    """Records to produce (in order), the truth, and the stream behind them."""

    records: list[Record]
    truth: dict[str, Any]
    items: list[st.Item]
    events: list[dict[str, Any]]  # distinct valid events (datetime values), corrections incl.
    stats: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        yield self.records
        yield self.truth


class _Places:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.provinces = list(w.PROVINCE_WEIGHTS)
        self.weights = list(w.PROVINCE_WEIGHTS.values())
        self.communes = {p: units.communes_of(p) for p in self.provinces}

    def draw(self) -> flows.Place:
        province = self.rng.choices(self.provinces, weights=self.weights)[0]
        commune = self.rng.choice(self.communes[province])
        return flows.Place(province, commune, f"p{province}-qlvv")


def _start_time(rng: random.Random, now: datetime) -> datetime:
    if rng.random() < w.SHARE_RECENT:
        return flows.uniform_time(rng, now - timedelta(days=2), now - MIN_AGE)
    return flows.uniform_time(rng, now - timedelta(days=w.HORIZON_DAYS), now - timedelta(days=2))


def _reports(rng: random.Random, places: _Places, now: datetime, target: int) -> list[dict]:
    """Events of whole incidents (up to ``now``), about ``target`` of them."""
    out: list[dict[str, Any]] = []
    misses = 0
    while len(out) < target and misses < 1000:
        events = flows.report_flow(rng, places.draw(), _start_time(rng, now))
        past = sorted((e for e in events if e["occurred_at"] <= now - MIN_AGE),
                      key=lambda e: e["occurred_at"])
        if not past or not flows.open_due_is_safe(past, now):
            continue  # redraw: an open report due within a day of today
        if len(out) + len(past) > target:
            misses += 1  # does not fit any more: the rest is filled with admin events
            continue
        out.extend(past)
    return out


def _record_times(rng: random.Random, events: list[dict[str, Any]], now: datetime) -> None:
    """recorded_at = occurred_at + a short delay (never after now); whole seconds."""
    latest = now - timedelta(seconds=1)
    for e in events:
        e["occurred_at"] = e["occurred_at"].replace(microsecond=0)
        delay = timedelta(seconds=min(6 * 3600, rng.expovariate(1 / 1200)))
        e["recorded_at"] = min(e["occurred_at"] + delay, latest).replace(microsecond=0)


_CORRECTABLE = ("report_received", "report_resolved", "suspects_apprehended",
                "admin_violation_sanctioned")


def _corrections(rng: random.Random, events: list[dict[str, Any]], count: int,
                 now: datetime) -> list[dict[str, Any]]:
    """Later corrections of ``count`` events (same occurred_at, new values, recorded later)."""
    eligible = [e for e in events if e["event_type"] in _CORRECTABLE
                and not (e["event_type"] == "report_resolved" and e["decision"] != "decline")
                and e["recorded_at"] < now - timedelta(hours=2)]
    fixes = []
    for original in rng.sample(eligible, min(count, len(eligible))):
        fix = dict(original, event_id=flows.new_uuid(rng), corrects_event_id=original["event_id"])
        window = (now - timedelta(minutes=5) - original["recorded_at"]).total_seconds()
        later = timedelta(seconds=rng.uniform(3600, max(3601, min(window, 7 * 86400))))
        fix["recorded_at"] = min(original["recorded_at"] + later, now - timedelta(seconds=1))
        _amend(rng, fix)
        fixes.append(fix)
    return fixes


def _amend(rng: random.Random, fix: dict[str, Any]) -> None:
    kind = fix["event_type"]
    if kind == "report_received":  # the crime group stays: only source and severity change
        fix["source_type"] = rng.choice([s for s in w.SOURCE_TYPES if s != fix["source_type"]])
        fix["severity"] = rng.choice([s for s in w.SEVERITIES if s != fix["severity"]])
    elif kind == "report_resolved":  # a decline later recorded as instituted
        fix["decision"] = "institute"
    elif kind == "suspects_apprehended":
        fix["count"] = fix["count"] + rng.choice((1, 2))
    else:
        fix["violators"] = fix["violators"] + 1
        fix["fine_vnd"] = fix["fine_vnd"] + 500_000


def generate(
    seed: int,
    *,
    n_events: int | None = None,
    duration: float | None = None,
    rate: float = 100.0,
    knobs: Knobs | None = None,
    now: datetime | None = None,
    stat_start_day: int = 15,
) -> Simulation:
    """A national stream of about ``n_events`` (or ``rate * duration``) distinct valid events.

    Deterministic for ``seed`` and ``now``. Event times lie up to 60 days before ``now``, a
    quarter of incidents in the last two days. The truth is as of ``now``.
    """
    knobs = knobs or Knobs()
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    total = n_events if n_events is not None else round(rate * (duration or 0))
    rng = random.Random(seed)
    places = _Places(rng)
    n_fix = round(total * knobs.corrections)
    n_admin = round((total - n_fix) * w.SHARE_ADMIN_EVENTS)
    events = _reports(rng, places, now, total - n_fix - n_admin)
    _record_times(rng, events, now)
    events += _corrections(rng, events, n_fix, now)
    while len(events) < total:
        admin = [flows.admin_event(rng, places.draw(), _start_time(rng, now))]
        _record_times(rng, admin, now)
        events += admin
    return _assemble(rng, events, knobs, now, stat_start_day)


def _assemble(rng: random.Random, events: list[dict[str, Any]], knobs: Knobs, now: datetime,
              stat_start_day: int) -> Simulation:
    stats = st.StreamStats()
    on_time, late = st.make_late(rng, events, knobs.late, now)
    stats.late = len(late)
    ordered = sorted(on_time, key=lambda e: e["recorded_at"]) + late
    items = [st.Item(e["province_code"], st.to_json(e)) for e in ordered]
    stats.out_of_order = st.displace(rng, items, knobs.out_of_order)
    stats.duplicates = st.add_duplicates(rng, items, knobs.duplicates)
    st.add_malformed(rng, items, knobs.malformed, now, stats)
    records = list(st.records_of(items))
    if knobs.malformed > 0:
        stats.garbage_records = max(1, round(stats.malformed / 50))
        provinces = sorted({i.province for i in items})
        garbage = st.garbage_records(rng, stats.garbage_records, provinces)
        for record in garbage:
            records.insert(rng.randint(0, len(records)), record)
    truth = compute_truth(events, now, stat_start_day=stat_start_day)
    truth["meta"] = _meta(events, items, records, stats, now)
    return Simulation(records, truth, items, events, vars(stats) | truth["meta"])


def _meta(events: list[dict[str, Any]], items: list[st.Item], records: list[Record],
          stats: st.StreamStats, now: datetime) -> dict[str, Any]:
    effective = effective_events(events)
    by_type: dict[str, int] = {}
    for e in effective:
        by_type[e["event_type"]] = by_type.get(e["event_type"], 0) + 1
    return {
        "generated_at": now.isoformat(),
        "distinct_valid_events": len(events),
        "corrections": sum(1 for e in events if e["corrects_event_id"]),
        "effective_events": len(effective),
        "effective_by_type": dict(sorted(by_type.items())),
        "sent_items": len(items),
        "records": len(records),
        "duplicates": stats.duplicates,
        "late": stats.late,
        "out_of_order": stats.out_of_order,
        "malformed_events": stats.malformed,
        "garbage_records": stats.garbage_records,
        "dead_letters_expected": stats.malformed + stats.garbage_records,
        "newest_recorded_at": max(e["recorded_at"] for e in events).isoformat() if events else None,
    }
