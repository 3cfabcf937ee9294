"""Fast synthetic event records for the streams benchmark (valid under the v1 contract).

Events come as JSON arrays of up to 1000 events per record, keyed by province, the way
producers are asked to send them. The mix: crime reports with triage, resolutions and a few
extensions, offences cleared, suspects apprehended and administrative sanctions.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import orjson

from schemas import units

GROUPS = ("national_security", "life_health_dignity", "freedoms", "property", "marriage_family",
          "economic", "environment", "drugs", "public_safety_order", "administrative_order",
          "position_corruption", "judicial", "military", "war_crimes")
SOURCES = ("denunciation", "report", "prosecution_recommendation", "confession", "surrender",
           "direct_detection")


def _common(rng: random.Random, kind: str, iid: str, commune: str, province: str,
            occurred: str, recorded: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "event_type": kind, "schema_version": 1, "incident_id": iid,
        "province_code": province, "commune_code": commune, "code_regime": "2025",
        "occurred_at": occurred, "recorded_at": recorded, "source_system": "bench-sim",
        "corrects_event_id": None,
    }


class Generator:
    """Events for a list of provinces; ``moments`` are the occurred_at choices."""

    def __init__(self, rng: random.Random, now: datetime, days_back: int = 60):
        self.rng = rng
        self.now = now
        self.communes = {p: units.communes_of(p) for p in units.PROVINCES}
        self.moments = [
            (now - timedelta(days=d, minutes=m)).isoformat()
            for d in range(days_back) for m in (7, 300, 700)
        ]
        self.recorded = now.isoformat()
        self.open: dict[str, list[tuple[str, str]]] = {p: [] for p in units.PROVINCES}

    def event(self, province: str) -> dict[str, Any]:
        rng = self.rng
        roll = rng.random()
        pending = self.open[province]
        if roll < 0.45 or not pending:
            commune = rng.choice(self.communes[province])
            iid = f"inc-{rng.getrandbits(64):016x}"
            pending.append((iid, commune))
            if len(pending) > 5000:
                pending.pop(0)
            e = _common(rng, "report_received", iid, commune, province,
                        rng.choice(self.moments), self.recorded)
            e.update(source_type=rng.choice(SOURCES), channel="phone",
                     crime_group=rng.choice(GROUPS), severity="serious")
            return e
        iid, commune = rng.choice(pending)
        occurred = rng.choice(self.moments)
        if roll < 0.7:
            e = _common(rng, "report_triaged", iid, commune, province, occurred, self.recorded)
            e["outcome"] = rng.choice(("accepted", "transferred", "not_crime"))
        elif roll < 0.88:
            e = _common(rng, "report_resolved", iid, commune, province, occurred, self.recorded)
            e["decision"] = rng.choice(("institute", "decline"))
        elif roll < 0.92:
            e = _common(rng, "offence_cleared", iid, commune, province, occurred, self.recorded)
            e.update(crime_group=rng.choice(GROUPS), severity="serious", suspects_count=1)
        elif roll < 0.96:
            e = _common(rng, "suspects_apprehended", iid, commune, province, occurred,
                        self.recorded)
            e.update(count=rng.randint(1, 3), crime_group=rng.choice(GROUPS))
        else:
            e = _common(rng, "admin_violation_sanctioned", iid, commune, province, occurred,
                        self.recorded)
            e.update(field="road_traffic", violations_detected=3, violations_sanctioned=2,
                     violators=2, fine_vnd=1_500_000)
        return e

    def records(self, n_events: int, batch: int = 1000) -> list[tuple[bytes, bytes]]:
        """``n_events`` events as (key, value) records of ``batch`` events, provinces mixed."""
        out = []
        provinces = list(units.PROVINCES)
        made = 0
        while made < n_events:
            province = self.rng.choice(provinces)
            size = min(batch, n_events - made)
            events = [self.event(province) for _ in range(size)]
            out.append((province.encode(), orjson.dumps(events)))
            made += size
        return out


def full_key_space(now: datetime, rng: random.Random) -> list[tuple[bytes, bytes]]:
    """Fill every counter cell the API reads, for every commune.

    Counter rows are per (commune, day) and (commune, month), each row holding every crime
    group and source type; so each commune gets one report on each of the last 38 days
    (today, this month, the statistical month) and one in each earlier month of the year,
    with the crime group rotating.
    """
    dates = [now - timedelta(days=d) for d in range(38)]
    dates += [now.replace(month=m, day=10) for m in range(1, now.month)]
    recorded = now.isoformat()
    out = []
    for province in units.PROVINCES:
        events = []
        for commune in units.communes_of(province):
            for i, when in enumerate(dates):
                e = _common(rng, "report_received", f"inc-{rng.getrandbits(64):016x}",
                            commune, province, when.isoformat(), recorded)
                e.update(source_type=SOURCES[i % len(SOURCES)], channel="phone",
                         crime_group=GROUPS[i % len(GROUPS)], severity="serious")
                events.append(e)
        for i in range(0, len(events), 1000):
            out.append((province.encode(), orjson.dumps(events[i : i + 1000])))
    return out
