"""Turning generated events into what a sender would really emit: late, out of order,
duplicated, with malformed items, then batched into Kafka records (one province each).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from ingest.kafka import MAX_BATCH_EVENTS, Record
from ingest.simulate.flows import new_uuid
from schemas import rules

ICT = rules.TZ
MALFORMED_KINDS = (
    "unknown_commune", "bad_enum", "missing_field", "naive_time", "future_time",
    "not_an_object", "bad_uuid", "bad_version",
)
FLUSH_EVERY = 5000  # stream items between flushes of every province's pending batch


@dataclass
class Item:
    """One element of the stream: a valid event (dict) or a malformed value."""

    province: str
    value: Any
    valid: bool = True
    duplicate: bool = False


@dataclass
class StreamStats:
    late: int = 0
    out_of_order: int = 0
    duplicates: int = 0
    malformed: int = 0
    garbage_records: int = 0
    malformed_kinds: dict[str, int] = field(default_factory=dict)


def to_json(event: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready copy: datetimes as ISO 8601 in Viet Nam time (seconds)."""
    return {k: (v.astimezone(ICT).isoformat() if isinstance(v, datetime) else v)
            for k, v in event.items()}


def make_late(rng: random.Random, events: list[dict[str, Any]], share: float,
              now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pick ``share`` of the events that happened over a day ago: they are recorded now."""
    old = [i for i, e in enumerate(events) if e["occurred_at"] <= now - timedelta(days=1)]
    chosen = set(rng.sample(old, min(len(old), round(share * len(events)))))
    late: list[dict[str, Any]] = []
    for i in sorted(chosen):
        seconds = rng.randint(1, 600)
        events[i]["recorded_at"] = now - timedelta(seconds=seconds)
        late.append(events[i])
    return [e for i, e in enumerate(events) if i not in chosen], late


def displace(rng: random.Random, items: list[Item], share: float) -> int:
    """Move ``share`` of the items forward by a random distance; return how many moved."""
    count = round(share * len(items))
    if len(items) < 2 or count == 0:
        return 0
    reach = max(10, len(items) // 20)
    for _ in range(count):
        i = rng.randrange(len(items) - 1)
        item = items.pop(i)
        items.insert(min(len(items), i + rng.randint(1, reach)), item)
    return count


def add_duplicates(rng: random.Random, items: list[Item], share: float) -> int:
    """Resend ``share`` of the valid events (same event_id, same body) later in the stream."""
    count = round(share * len(items))
    valid = [i for i, item in enumerate(items) if item.valid]
    picks = sorted((rng.choice(valid) for _ in range(count)), reverse=True) if valid else []
    for i in picks:
        copy = Item(items[i].province, items[i].value, duplicate=True)
        items.insert(rng.randint(i + 1, len(items)), copy)
    return len(picks)


def malformed_value(rng: random.Random, kind: str, template: dict[str, Any],
                    now: datetime) -> Any:
    """An event that breaks the contract in one way (``kind``), built from a valid one."""
    bad = dict(template, event_id=new_uuid(rng), corrects_event_id=None)
    if kind == "unknown_commune":
        bad["commune_code"] = "99999"
    elif kind == "bad_enum":
        bad["event_type"] = "report_received"
        bad.update(source_type="rumour", channel="fax", crime_group="property",
                   severity="serious")
    elif kind == "missing_field":
        bad.pop("incident_id", None)
    elif kind == "naive_time":
        bad["occurred_at"] = "2026-01-01T08:00:00"
    elif kind == "future_time":
        bad["recorded_at"] = (now + timedelta(days=2)).isoformat()
    elif kind == "not_an_object":
        return ["not", "an", "event"]
    elif kind == "bad_uuid":
        bad["event_id"] = "not-a-uuid"
    else:
        bad["schema_version"] = -1
    return bad


def add_malformed(rng: random.Random, items: list[Item], share: float, now: datetime,
                  stats: StreamStats) -> None:
    count = round(share * len(items))
    valid = [item for item in items if item.valid]
    if not valid:
        return
    for _ in range(count):
        template = rng.choice(valid)
        kind = rng.choice(MALFORMED_KINDS)
        value = malformed_value(rng, kind, template.value, now)
        items.insert(rng.randint(0, len(items)), Item(template.province, value, valid=False))
        stats.malformed_kinds[kind] = stats.malformed_kinds.get(kind, 0) + 1
    stats.malformed += count


def records_of(items: list[Item], *, max_events: int = MAX_BATCH_EVENTS,
               flush_every: int = FLUSH_EVERY) -> Iterator[Record]:
    """Batch the stream into records: per province, flushed when full or every window."""
    pending: dict[str, list[bytes]] = {}

    def flush(province: str) -> Record:
        values = pending.pop(province)
        return Record(province.encode(), b"[" + b",".join(values) + b"]", len(values))

    for n, item in enumerate(items, 1):
        pending.setdefault(item.province, []).append(orjson.dumps(item.value))
        if len(pending[item.province]) >= max_events:
            yield flush(item.province)
        if n % flush_every == 0:
            for province in list(pending):
                yield flush(province)
    for province in list(pending):
        yield flush(province)


def garbage_records(rng: random.Random, count: int, provinces: list[str]) -> list[Record]:
    """Records that are not JSON at all (a truncated array): one dead letter each."""
    return [Record(rng.choice(provinces).encode(), b'[{"event_id": "', 0) for _ in range(count)]
