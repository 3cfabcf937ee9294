"""ProvinceState's incremental fast paths against a from-scratch evaluation of the same facts.

The reference rebuilds every counter from the final set of distinct facts: direct slots of
each active fact, and ``incidents.evaluate`` over each incident's sorted active facts. The
state under test is fed the same facts in random orders, split into random batches, with
resends and corrections (also corrections that arrive before their original).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.logic import incidents as inc
from streams.logic.calendar import LocalCalendar
from streams.logic.facts import (
    ADMIN,
    APPREHENDED,
    CLEARED,
    CRIME_GROUPS,
    EXTENDED,
    F_COMMUNE,
    F_CORRECTS,
    F_ID,
    F_INCIDENT,
    F_KIND,
    F_OCC,
    INCIDENT_KINDS,
    N_SLOTS,
    RECEIVED,
    RESOLVED,
    RESUMED,
    SOURCE_TYPES,
    TRIAGED,
    direct_slots,
)
from streams.logic.rules import DueRules
from streams.logic.state import MINUTE_SLOTS, MINUTES_KEPT_S, ProvinceState

ICT = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=ICT).timestamp()
COMMUNES = ("00004", "00008", "00025")
KINDS = (RECEIVED, RECEIVED, RESOLVED, RESOLVED, EXTENDED, RESUMED, TRIAGED, CLEARED,
         APPREHENDED, ADMIN)


def random_facts(rng: random.Random, n_incidents: int) -> list[tuple]:
    """Facts of a few incidents around period starts, some corrections among them."""
    facts: list[tuple] = []
    for i in range(n_incidents):
        iid = f"inc-{i}"
        for _ in range(rng.randint(1, 6)):
            kind = rng.choice(KINDS)
            occ = NOW - rng.choice((0, 1, 2, 7, 20, 23, 40, 75)) * 86400 - rng.randint(0, 86399)
            a = b = c = d = None
            if kind == RECEIVED:
                a, b = rng.choice(CRIME_GROUPS[:3]), rng.choice(SOURCE_TYPES[:2])
            elif kind == RESOLVED:
                a = rng.choice(("institute", "decline", "suspend"))
            elif kind == EXTENDED:
                a, b = rng.choice((("complex_case", rng.randint(1, 2)),
                                   ("procuracy", rng.randint(1, 2))))
            elif kind == TRIAGED:
                a = rng.choice(("accepted", "transferred", "not_crime"))
            elif kind == CLEARED:
                a = rng.choice(CRIME_GROUPS[:3])
            elif kind == APPREHENDED:
                a, b = rng.randint(1, 3), CRIME_GROUPS[0]
            elif kind == ADMIN:
                a, b, c, d = 3, 2, 2, 1_500_000
            n = len(facts)
            corrects = None
            if facts and rng.random() < 0.1:
                corrects = rng.choice(facts)[F_ID]
            rec = max(occ, NOW - rng.randint(0, 3) * 86400)
            facts.append((n * 1024, f"e{n}", kind, iid, rng.choice(COMMUNES), float(occ),
                          float(rec), corrects, a, b, c, d))
    return facts


def reference(facts: list[tuple], cal: LocalCalendar, starts: tuple[int, ...]) -> dict:
    """Counters, backlog and carry rebuilt from scratch from the distinct facts."""
    distinct = {f[F_ID]: f for f in facts}
    corrected = {f[F_CORRECTS] for f in distinct.values() if f[F_CORRECTS] is not None}
    active = [f for eid, f in distinct.items() if eid not in corrected]
    cells: dict = {}
    minutes: dict[int, list[int]] = {}

    # A commune's day rows are kept from the first day the read side can ask for (state.py).
    floor = ProvinceState.day_floor_at(cal.periods(NOW))

    def add(commune: str, ts: float, slot: int, delta: int) -> None:
        day = cal.day(ts)
        keys = ((commune, day), (commune, cal.month(day)), day, ("m", cal.month(day)))
        for key in keys if day >= floor else keys[1:]:
            cells.setdefault(key, [0] * N_SLOTS)[slot] += delta
        if ts >= NOW - MINUTES_KEPT_S and slot in MINUTE_SLOTS:
            minutes.setdefault(int(ts // 60), [0, 0])[MINUTE_SLOTS[slot]] += delta

    by_incident: dict[str, list[tuple]] = {}
    for f in active:
        for slot, delta in direct_slots(f):
            add(f[F_COMMUNE], f[F_OCC], slot, delta)
        if f[F_KIND] in INCIDENT_KINDS:
            by_incident.setdefault(f[F_INCIDENT], []).append(f)
    backlog: dict[str, dict[str, int]] = {}
    carry: dict = {}
    for iid, group in by_incident.items():
        derived = inc.evaluate(sorted(group, key=inc.sort_key), cal, DueRules(tz=cal.tz), starts)
        for (commune, ts, slot), delta in derived.cells.items():
            add(commune, ts, slot, delta)
        if derived.open is not None:
            backlog.setdefault(derived.open[0], {})[iid] = derived.open[1]
        for key in derived.carry:
            carry[key] = carry.get(key, 0) + 1
    return {"cells": _nonzero(cells), "minutes": _nonzero(minutes), "backlog": backlog,
            "carry": {k: v for k, v in carry.items() if v}}


def observed(state: ProvinceState) -> dict:
    cells: dict = {}
    cells.update(state.day_cells)
    cells.update(state.month_cells)
    cells.update(state.prov_day)
    cells.update({("m", k): v for k, v in state.prov_month.items()})
    backlog = {c: dict(b.dues) for c, b in state.backlog.communes.items() if b.dues}
    return {"cells": _nonzero(cells), "minutes": _nonzero(state.minutes), "backlog": backlog,
            "carry": {k: v for k, v in state.carry.items() if v}}


def _nonzero(rows: dict) -> dict:
    return {k: list(v) for k, v in rows.items() if any(v)}


def feed(facts: list[tuple], rng: random.Random, cal: LocalCalendar) -> ProvinceState:
    state = ProvinceState("01", cal)
    stream = facts + rng.sample(facts, len(facts) // 5)  # resends
    rng.shuffle(stream)
    i = 0
    while i < len(stream):
        size = rng.randint(1, 12)
        if rng.random() < 0.2:
            for fact in stream[i : i + size]:
                state.apply(fact, NOW)
        else:
            state.apply_many(stream[i : i + size], NOW)
        i += size
    return state


@settings(max_examples=150, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 12))
def test_state_equals_from_scratch_evaluation(rng: random.Random, n_incidents: int) -> None:
    cal = LocalCalendar()
    facts = random_facts(rng, n_incidents)
    state = feed(facts, rng, cal)
    assert observed(state) == reference(facts, cal, state.starts)


def test_in_order_stream_with_many_incidents() -> None:
    """Facts mostly later than their incident's others: the append path, at scale."""
    rng = random.Random(3)
    cal = LocalCalendar()
    facts = sorted(random_facts(rng, 400), key=lambda f: f[F_OCC])
    state = ProvinceState("01", cal)
    for i in range(0, len(facts), 50):
        state.apply_many(facts[i : i + 50], NOW)
    assert observed(state) == reference(facts, cal, state.starts)
    reversed_state = ProvinceState("01", cal)
    reversed_state.apply_many(list(reversed(facts)), NOW)
    assert observed(reversed_state) == observed(state)


def test_to_fact_timestamps_of_validated_events() -> None:
    from schemas import validate_batch
    from schemas.examples import make_event
    from streams.logic.facts import F_REC, to_fact, to_facts

    moment = datetime(2026, 11, 3, 23, 59, 59, 999_999, tzinfo=ICT)
    events = [make_event("report_received", occurred_at=moment - timedelta(days=d),
                         recorded_at=moment) for d in range(3)]
    report = validate_batch(orjson.dumps(events), now=datetime.now(ICT))
    assert len(report.valid) == 3
    for event in report.valid:
        fact = to_fact(event, 0)
        assert fact[F_OCC] == event.occurred_at.timestamp()
        assert fact[F_REC] == event.recorded_at.timestamp()
        assert fact[F_ID] == event.event_id.hex
    assert to_facts(report.valid, range(5, 8)) == [
        to_fact(e, 5 + i) for i, e in enumerate(report.valid)]
