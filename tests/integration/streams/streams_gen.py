"""Test scenarios: realistic incident lifecycles with duplicates, corrections, late and
out-of-order events, and malformed records, relative to a given ``now``."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import orjson

from schemas import units
from schemas.examples import make_event

GROUPS = ("property", "drugs", "life_health_dignity", "economic", "public_safety_order")
SOURCES = ("denunciation", "report", "direct_detection", "confession")


def _moment(rng: random.Random, now: datetime) -> datetime:
    """An occurred_at spread over today, this month, the statistical month and the year."""
    choice = rng.random()
    if choice < 0.25:
        back = timedelta(minutes=rng.randint(5, 240))
    elif choice < 0.55:
        back = timedelta(days=rng.randint(1, 20), minutes=rng.randint(0, 600))
    elif choice < 0.8:
        back = timedelta(days=rng.randint(20, 60))
    else:
        back = timedelta(days=rng.randint(60, 400))
    return now - back


def _ev(rng: random.Random, now: datetime, kind: str, at: datetime, **fields: Any) -> dict:
    recorded = min(at + timedelta(seconds=rng.randint(1, 3600)), now)
    return make_event(kind, occurred_at=at, recorded_at=recorded, **fields)


def incident(rng: random.Random, now: datetime, commune: str) -> list[dict[str, Any]]:
    """One crime report's events (received, triage, maybe extension/resolution/resume)."""
    at = _moment(rng, now)
    iid = f"inc-{rng.getrandbits(64):016x}"
    base = {"incident_id": iid, "commune_code": commune}
    group = rng.choice(GROUPS)
    out = [_ev(rng, now, "report_received", at, crime_group=group,
               source_type=rng.choice(SOURCES), **base)]
    t = at + timedelta(hours=rng.randint(1, 48))
    if t < now:
        outcome = rng.choice(("accepted", "accepted", "accepted", "transferred", "not_crime"))
        out.append(_ev(rng, now, "report_triaged", t, outcome=outcome, **base))
    if rng.random() < 0.15:
        t2 = at + timedelta(days=rng.randint(5, 15))
        if t2 < now:
            out.append(_ev(rng, now, "deadline_extended", t2, extension="complex_case",
                           months=rng.choice((1, 2)), **base))
    if rng.random() < 0.65:
        t3 = at + timedelta(days=rng.randint(2, 50), hours=rng.randint(0, 20))
        if t3 < now:
            decision = rng.choice(("institute", "institute", "decline", "suspend"))
            extra = {"suspension_reason": "awaiting_documents"} if decision == "suspend" else {}
            out.append(_ev(rng, now, "report_resolved", t3, decision=decision, **extra, **base))
            if decision == "suspend" and rng.random() < 0.5:
                t4 = t3 + timedelta(days=rng.randint(1, 10))
                if t4 < now:
                    out.append(_ev(rng, now, "report_resumed", t4, reason="resumed", **base))
            if decision == "institute" and rng.random() < 0.5:
                out.append(_ev(rng, now, "offence_cleared", t3, crime_group=group,
                               severity="serious", suspects_count=1, **base))
    return out


def direct(rng: random.Random, now: datetime, commune: str) -> dict[str, Any]:
    at = _moment(rng, now)
    if rng.random() < 0.5:
        return _ev(rng, now, "suspects_apprehended", at, count=rng.randint(1, 4),
                   crime_group=rng.choice(GROUPS), commune_code=commune)
    return _ev(rng, now, "admin_violation_sanctioned", at, commune_code=commune,
               violations_detected=rng.randint(1, 9), violations_sanctioned=rng.randint(0, 9),
               violators=rng.randint(1, 5), fine_vnd=rng.randint(1, 50) * 500_000)


def correction_of(rng: random.Random, now: datetime, e: dict[str, Any]) -> dict[str, Any]:
    """A correcting event for ``e`` (new event_id, changed payload)."""
    fixed = dict(e)
    fixed["event_id"] = make_event("report_triaged")["event_id"]
    fixed["corrects_event_id"] = e["event_id"]
    fixed["recorded_at"] = now.isoformat()
    t = e["event_type"]
    if t == "report_received":
        fixed["crime_group"] = rng.choice(GROUPS)
    elif t == "report_resolved":
        fixed["decision"], fixed["suspension_reason"] = "decline", None
    elif t == "admin_violation_sanctioned":
        fixed["fine_vnd"] = e["fine_vnd"] + 1_000_000
    elif t == "suspects_apprehended":
        fixed["count"] = e["count"] + 1
    return fixed


def scenario(
    rng: random.Random, now: datetime, provinces: list[str], n_incidents: int
) -> list[dict[str, Any]]:
    """Valid events in send order: shuffled (out of order), with resends and corrections."""
    events: list[dict[str, Any]] = []
    for _ in range(n_incidents):
        province = rng.choice(provinces)
        commune = rng.choice(units.communes_of(province)[:12])
        events.extend(incident(rng, now, commune))
        if rng.random() < 0.5:
            events.append(direct(rng, now, commune))
    rng.shuffle(events)
    extra = []
    for e in rng.sample(events, k=len(events) // 20):
        if e["event_type"] in ("report_received", "report_resolved",
                               "admin_violation_sanctioned", "suspects_apprehended"):
            extra.append(correction_of(rng, now, e))
    resends = rng.sample(events, k=len(events) // 15)
    merged = events + extra + resends
    rng.shuffle(merged)
    return merged


def records(events: list[dict[str, Any]], rng: random.Random, max_batch: int = 120
            ) -> list[tuple[bytes, bytes]]:
    """(key, value) Kafka records: per province, JSON arrays of 1..max_batch events."""
    by_province: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_province.setdefault(e["province_code"], []).append(e)
    out = []
    for province, evs in by_province.items():
        i = 0
        while i < len(evs):
            n = rng.randint(1, max_batch)
            chunk = evs[i : i + n]
            value = orjson.dumps(chunk if len(chunk) > 1 or rng.random() < 0.5 else chunk[0])
            out.append((province.encode(), value))
            i += n
    rng.shuffle(out)
    return out


def malformed(now: datetime) -> tuple[list[tuple[bytes | None, bytes | None]], list[dict], int]:
    """Bad records: (records, valid events they still carry, number of dead letters due)."""
    good = make_event("report_received", occurred_at=now - timedelta(hours=1),
                      recorded_at=now - timedelta(minutes=30))
    missing = make_event("report_triaged", occurred_at=now - timedelta(hours=1))
    del missing["outcome"]
    other_province = make_event("report_received", commune_code=units.communes_of("79")[0],
                                occurred_at=now - timedelta(hours=2))
    recs: list[tuple[bytes | None, bytes | None]] = [
        (b"01", b"{not json"),
        (b"01", b"\xff\xfe\x00garbage"),
        (b"01", orjson.dumps([good, missing])),  # one good, one bad
        (b"01", orjson.dumps([other_province])),  # key says 01, event is 79
        (b"zz", orjson.dumps([make_event("report_received")])),  # key is not a province
        (b"01", orjson.dumps({"event_type": "nonsense"})),
        (b"01", None),
    ]
    return recs, [good], 7
