"""A report's events at the same instant: one order, whatever the arrival order (issue #4).

The rule (docs/live-api.md): ``occurred_at`` to the millisecond (as ClickHouse stores it),
then the event type (received, extended, resumed, resolved), then ``event_id`` as text; the
ClickHouse view ``incidents_current`` orders the same way (sinks/ddl/0008). Each scenario is
fed to a fresh ``ProvinceState`` in every arrival order: the figures, the backlog and the
report's state must be the same every time, and the ones the rule gives. The scenarios are
built so that the old order (``occurred_at`` to the microsecond, then ``recorded_at``) gives
other figures. ``tests/integration/sinks/test_sink_same_instant_order.py`` checks ClickHouse
against the same rule.
"""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_streams_state_fastpath import random_facts

from schemas.examples import ICT, make_event
from schemas.validate import validate_batch
from sinks.rows import ms_ticks
from streams.logic import incidents as inc
from streams.logic.calendar import LocalCalendar
from streams.logic.facts import (
    EXTENDED,
    F_ID,
    F_INCIDENT,
    F_KIND,
    INCIDENT_KINDS,
    RECEIVED,
    RESOLVED,
    RESUMED,
    SLOT,
    Fact,
    to_fact,
)
from streams.logic.rules import DueRules
from streams.logic.state import ProvinceState

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=ICT)
T0 = datetime(2026, 9, 1, 9, 30, tzinfo=ICT)
# Textually ID_LOW < ID_HIGH; as 128-bit numbers split in halves they need not be.
ID_LOW = "0000000f-0000-4000-8000-ffffffffffff"
ID_HIGH = "f0000000-0000-4000-8000-000000000000"
ID_LOW2 = "0000000e-0000-4000-8000-ffffffffffff"  # another pair (event ids are unique)
ID_HIGH2 = "e0000000-0000-4000-8000-000000000000"
ON_TIME = SLOT["resolved_on_time"]


def _iid(tag: str) -> str:
    return f"inc-{tag}-{uuid.UUID(int=0).hex}"


def _event(kind: str, at: datetime, recorded_after_s: float, iid: str, **fields: object) -> dict:
    return make_event(kind, incident_id=iid, occurred_at=at,
                      recorded_at=at + timedelta(seconds=recorded_after_s), **fields)


def scenarios() -> dict[str, tuple[list[dict], dict]]:
    """name -> (events of one report, what the rule says: due date, open, decision, on time
    per resolution in order). The events at the same instant are recorded in the order the
    rule does not take."""
    out = {}
    at = T0 + timedelta(days=25)
    iid = _iid("ext")  # the extension counts for the resolution: on time (due 09-21 without)
    out["extension_and_resolution"] = ([
        _event("report_received", T0, 60, iid),
        _event("deadline_extended", at, 120, iid, extension="complex_case", months=2),
        _event("report_resolved", at, 60, iid, decision="institute"),
    ], {"due": date(2026, 11, 1), "open": False, "decision": "institute", "on_time": [True]})
    iid = _iid("two")  # the larger event id is the decision in force
    at = T0 + timedelta(days=5)
    out["two_resolutions"] = ([
        _event("report_received", T0, 60, iid),
        _event("report_resolved", at, 60, iid, decision="decline", event_id=ID_HIGH),
        _event("report_resolved", at, 120, iid, decision="institute", event_id=ID_LOW),
    ], {"due": date(2026, 9, 21), "open": False, "decision": "decline",
        "on_time": [True, True]})
    iid = _iid("resume")  # resumed, then resolved: closed, due a month after the resumption
    at = T0 + timedelta(days=10)
    out["resumption_and_resolution"] = ([
        _event("report_received", T0, 60, iid),
        _event("report_resolved", T0 + timedelta(days=3), 60, iid, decision="suspend",
               suspension_reason="awaiting_documents"),
        _event("report_resumed", at, 120, iid),
        _event("report_resolved", at, 60, iid, decision="institute"),
    ], {"due": date(2026, 10, 11), "open": False, "decision": "institute",
        "on_time": [True, True]})
    iid = _iid("together")  # same instant, recorded together: the old order was arrival's
    out["resolutions_recorded_together"] = ([
        _event("report_received", T0, 60, iid),
        _event("report_resolved", at, 60, iid, decision="institute", event_id=ID_LOW2),
        _event("report_resolved", at, 60, iid, decision="decline", event_id=ID_HIGH2),
    ], {"due": date(2026, 9, 21), "open": False, "decision": "decline",
        "on_time": [True, True]})
    iid = _iid("reext")  # extended, then resumed: open, due a month after the resumption
    at = T0 + timedelta(days=40)  # (resumed first, the extension would add a month to that)
    out["extension_and_resumption"] = ([
        _event("report_received", T0, 60, iid),
        _event("report_resolved", T0 + timedelta(days=4), 60, iid, decision="suspend",
               suspension_reason="awaiting_documents"),
        _event("deadline_extended", at, 120, iid, extension="procuracy", months=1),
        _event("report_resumed", at, 60, iid),
    ], {"due": date(2026, 11, 11), "open": True, "decision": "suspend", "on_time": [True]})
    iid = _iid("early")  # a resolution recorded before its report, same occurred_at
    out["resolution_recorded_before_report"] = ([
        _event("report_received", T0, 120, iid),
        _event("report_resolved", T0, 60, iid, decision="decline"),
    ], {"due": date(2026, 9, 21), "open": False, "decision": "decline", "on_time": [True]})
    iid = _iid("ms")  # one millisecond: the extension 800 µs after the resolution still counts
    at = T0 + timedelta(days=25)
    out["same_millisecond"] = ([
        _event("report_received", T0, 60, iid),
        _event("deadline_extended", at + timedelta(microseconds=900), 120, iid,
               extension="complex_case", months=2),
        _event("report_resolved", at + timedelta(microseconds=100), 60, iid,
               decision="institute"),
    ], {"due": date(2026, 11, 1), "open": False, "decision": "institute", "on_time": [True]})
    iid = _iid("reopen")  # resumed is ranked before resolved: the report stays closed
    at = T0 + timedelta(days=4)
    out["resolution_then_resumption_recorded"] = ([
        _event("report_received", T0, 60, iid),
        _event("report_resolved", at, 60, iid, decision="suspend",
               suspension_reason="awaiting_documents"),
        _event("report_resumed", at, 120, iid),
    ], {"due": date(2026, 10, 5), "open": False, "decision": "suspend", "on_time": [True]})
    return out


def facts_of(events: list[dict]) -> list[Fact]:
    report = validate_batch(orjson.dumps(events), now=datetime.now(UTC))
    assert not report.rejected, report.rejected
    return [to_fact(e, 0) for e in report.valid]


def fed(facts: list[Fact]) -> ProvinceState:
    """A fresh province fed ``facts`` in this arrival order (one source position each)."""
    state = ProvinceState("01", LocalCalendar())
    for i, fact in enumerate(facts):
        state.apply((i * 1024, *fact[1:]), NOW.timestamp())
    return state


def figures(state: ProvinceState) -> dict:
    backlog = {c: dict(b.dues) for c, b in state.backlog.communes.items() if b.dues}
    return {
        "cells": {k: list(v) for k, v in state.day_cells.items() if any(v)},
        "months": {k: list(v) for k, v in state.prov_month.items() if any(v)},
        "backlog": backlog,
        "carry": {k: v for k, v in state.carry.items() if v},
        "order": {iid: [f[F_ID] for f in facts] for iid, facts in state.incidents.items()},
    }


def live_report(state: ProvinceState) -> dict:
    """The report's state as the live worker has it (one report per state)."""
    (iid, facts), = state.incidents.items()
    now = inc.current(facts, state.cal, state.rules)
    due = date.fromordinal(now.due_day) if now.due_day is not None else None
    dues = {i: d for b in state.backlog.communes.values() for i, d in b.dues.items()}
    assert (iid in dues) == now.is_open
    if now.is_open:
        assert dues[iid] == now.due_day
    on_time = sum(row[ON_TIME] for row in state.prov_month.values())
    assert on_time == sum(flag for _i, _d, flag in now.resolutions)
    return {"due": due, "open": now.is_open, "decision": now.decision,
            "on_time": [flag for _i, _d, flag in now.resolutions]}


@pytest.mark.parametrize("name", list(scenarios()))
def test_every_arrival_order_gives_the_documented_state(name: str) -> None:
    events, expected = scenarios()[name]
    facts = facts_of(events)
    seen = None
    for order in itertools.permutations(facts):
        state = fed(list(order))
        now = figures(state)
        if seen is None:
            seen = now
            assert live_report(state) == expected
            overdue = expected["open"] and expected["due"] < NOW.date()
            assert state.backlog.at(state.cal.day(NOW.timestamp())) == {
                "open": int(expected["open"]), "overdue": int(overdue)}
        assert now == seen, f"arrival order {[f[F_KIND] for f in order]} changes the figures"


def test_order_within_the_report_is_the_rule() -> None:
    """Receipt, extension, resumption, resolution at one millisecond; ties by event id."""
    events, _ = scenarios()["two_resolutions"]
    facts = facts_of(events)
    ordered = fed(facts[::-1]).incidents[_iid("two")]
    assert [f[F_ID] for f in ordered] == [facts[0][F_ID], uuid.UUID(ID_LOW).hex,
                                         uuid.UUID(ID_HIGH).hex]
    events, _ = scenarios()["resumption_and_resolution"]
    kinds = [f[F_KIND] for f in fed(facts_of(events)[::-1]).incidents[_iid("resume")]]
    assert kinds == [RECEIVED, RESOLVED, RESUMED, RESOLVED]
    assert inc.RANK[RECEIVED] < inc.RANK[EXTENDED] < inc.RANK[RESUMED] < inc.RANK[RESOLVED]


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2105, 12, 31),
                    timezones=st.sampled_from([UTC, ICT])))
def test_milliseconds_are_the_sinks(moment: datetime) -> None:
    """The millisecond of the sort key is the one the sink stores (floor, no float error)."""
    fact = (0, "x", RESOLVED, "i", "00070", moment.timestamp(), 0.0, None, "institute",
            None, None, None)
    assert inc.occurred_ms(fact) == ms_ticks(moment) == inc.sort_key(fact)[0]


def test_milliseconds_at_awkward_fractions() -> None:
    base = datetime(2026, 11, 20, 9, 30, tzinfo=ICT)
    for micros in (0, 1, 290_000, 999, 1000, 1001, 999_999, 500_500, 700_000, 123_456):
        moment = base + timedelta(microseconds=micros)
        fact = (0, "x", RESOLVED, "i", "00070", moment.timestamp(), 0.0, None, "x", None,
                None, None)
        assert inc.occurred_ms(fact) == ms_ticks(moment)


def test_event_ids_sort_as_clickhouse_text() -> None:
    ids = [str(uuid.uuid4()) for _ in range(200)] + [ID_LOW, ID_HIGH]
    assert [uuid.UUID(i).hex for i in sorted(ids)] == sorted(uuid.UUID(i).hex for i in ids)


@settings(max_examples=100, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 10))
def test_current_agrees_with_evaluate(rng: random.Random, n_incidents: int) -> None:
    """``current`` (used to compare with ClickHouse) walks as ``evaluate`` does."""
    cal, rules = LocalCalendar(), DueRules()
    groups: dict[str, list[Fact]] = {}
    for fact in random_facts(rng, n_incidents):
        if fact[F_KIND] in INCIDENT_KINDS:
            groups.setdefault(fact[F_INCIDENT], []).append(fact)
    for facts in groups.values():
        facts.sort(key=inc.sort_key)
        derived = inc.evaluate(facts, cal, rules, ())
        now = inc.current(facts, cal, rules)
        assert now.is_open == (derived.open is not None)
        if derived.open is not None:
            assert derived.open[1] == now.due_day
        on_time = sum(d for (_c, _t, slot), d in derived.cells.items() if slot == ON_TIME)
        assert on_time == sum(flag for _i, _d, flag in now.resolutions)
        assert len(now.resolutions) == sum(f[F_KIND] == RESOLVED for f in facts)
