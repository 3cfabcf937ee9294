"""ClickHouse folds a report's events exactly as the live worker (issue #4, definitions).

``incidents_current`` (sinks/ddl/0008) must give every report the state ``incidents.current``
gives it live (docs/live-api.md: the first ``report_received`` in the order of a report's
events is the report; open = the last resolution/resumption is not a resolution; on time by
the due date in force at that moment, extensions and resumptions ordered before the receipt
included). Named scenarios cover the cases where the 0003 fold differed (a resolution before
its report, duplicate receipts, an extension or a resumption before the receipt); a seeded
random set of reports (receipts anywhere, several or none, ties at one millisecond, instants
next to local midnight) covers the rest. Events go through the sink's real ``Writer`` into
the session's ClickHouse; each report's live state comes from a fresh ``ProvinceState``.
"""

from __future__ import annotations

import random
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from antt.settings import Settings
from schemas.examples import ICT, make_event
from schemas.validate import validate_batch
from sinks.client import make_client
from sinks.migrate import load_migrations
from sinks.rows import Batch, ms_ticks
from sinks.service import prepare_database
from sinks.writer import Writer
from streams.logic import incidents as inc
from streams.logic.facts import F_ID, F_KIND, RECEIVED

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "streams"))
from test_same_instant_order import T0, facts_of, fed  # noqa: E402

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
FIELDS = ("due", "open", "decision", "on_time", "ids", "received_at", "crime_group",
          "severity")


def _ev(kind: str, at: datetime, iid: str, **fields: object) -> dict:
    return make_event(kind, incident_id=iid, occurred_at=at,
                      recorded_at=max(at, T0) + timedelta(minutes=1), **fields)


def _received(at: datetime, iid: str, group: str = "property",
              severity: str = "less_serious") -> dict:
    return _ev("report_received", at, iid, crime_group=group, severity=severity)


def _resolved(at: datetime, iid: str, decision: str = "institute") -> dict:
    extra = {"suspension_reason": "awaiting_documents"} if decision == "suspend" else {}
    return _ev("report_resolved", at, iid, decision=decision, **extra)


def scenarios() -> dict[str, tuple[list[dict], dict]]:
    """name -> (events of one report, the state docs/live-api.md gives it)."""
    out: dict[str, tuple[list[dict], dict]] = {}

    def iid(tag: str) -> str:
        return f"inc-fold-{tag}-{uuid.uuid4().hex}"

    i = iid("early")  # case 1: resolved the day before the receipt: closed, on time
    out["resolution_before_receipt"] = ([
        _received(T0, i), _resolved(T0 - DAY, i, "decline"),
    ], {"due": date(2026, 9, 21), "open": False, "decision": "decline", "on_time": [True]})
    i = iid("early-late")  # case 1: one before, one late after: the late one decides
    out["resolutions_before_and_after_receipt"] = ([
        _received(T0, i), _resolved(T0 - 2 * DAY, i, "suspend"),
        _resolved(T0 + 30 * DAY, i, "institute"),
    ], {"due": date(2026, 9, 21), "open": False, "decision": "institute",
        "on_time": [True, False]})
    i = iid("dup")  # case 2: the first receipt gives the due date, group and severity
    out["two_receipts"] = ([
        _received(T0, i, "drugs", "serious"), _received(T0 + 10 * DAY, i, "property"),
        _resolved(T0 + 25 * DAY, i),
    ], {"due": date(2026, 9, 21), "open": False, "decision": "institute", "on_time": [False]})
    i = iid("dup-after")  # case 2: a second receipt after the resolution does not reopen
    out["receipt_after_resolution"] = ([
        _received(T0, i), _resolved(T0 + 3 * DAY, i, "decline"),
        _received(T0 + 5 * DAY, i, "drugs", "very_serious"),
    ], {"due": date(2026, 9, 21), "open": False, "decision": "decline", "on_time": [True]})
    i = iid("ext-before")  # case 3: an extension before the receipt counts
    out["extension_before_receipt"] = ([
        _ev("deadline_extended", T0 - DAY, i, extension="complex_case", months=2),
        _received(T0, i), _resolved(T0 + 40 * DAY, i),
    ], {"due": date(2026, 11, 1), "open": False, "decision": "institute", "on_time": [True]})
    i = iid("resume-before")  # case 3: a resumption before the receipt sets the due date
    out["resumption_before_receipt"] = ([
        _ev("report_resumed", T0 - 3 * DAY, i), _received(T0, i),
    ], {"due": date(2026, 9, 29), "open": True, "decision": "", "on_time": []})
    i = iid("resolve-resume-before")  # resolved, resumed, then the receipt: open
    out["resolution_and_resumption_before_receipt"] = ([
        _resolved(T0 - 5 * DAY, i, "suspend"), _ev("report_resumed", T0 - 2 * DAY, i),
        _received(T0, i), _ev("deadline_extended", T0 + DAY, i, extension="procuracy",
                              months=2),
    ], {"due": date(2026, 11, 30), "open": True, "decision": "suspend", "on_time": [True]})
    i = iid("due-day")  # the deadline ends at 24:00 local time of the due date
    due_end = datetime(2026, 9, 22, tzinfo=ICT)
    out["resolutions_at_the_end_of_the_due_date"] = ([
        _received(T0, i), _resolved(due_end - timedelta(microseconds=1), i, "suspend"),
        _ev("report_resumed", due_end + timedelta(hours=8), i),
        _resolved(due_end + 31 * DAY - timedelta(milliseconds=1), i, "decline"),
        _resolved(due_end + 31 * DAY, i, "institute"),
    ], {"due": date(2026, 10, 22), "open": False, "decision": "institute",
        "on_time": [True, True, False]})
    i = iid("limit")  # extensions stop at receipt + 4 months
    july = datetime(2026, 7, 1, 10, 0, tzinfo=ICT)
    out["extensions_up_to_the_limit"] = ([
        _received(july, i), _ev("deadline_extended", july + DAY, i, extension="complex_case",
                                months=2),
        _ev("deadline_extended", july + 2 * DAY, i, extension="procuracy", months=2),
        _ev("deadline_extended", july + 3 * DAY, i, extension="procuracy", months=1),
    ], {"due": date(2026, 11, 1), "open": True, "decision": "", "on_time": []})
    i = iid("resumed-late")  # an extension never moves a due date back (resumed past it)
    out["extension_after_a_late_resumption"] = ([
        _received(july, i), _resolved(july + DAY, i, "suspend"),
        _ev("report_resumed", datetime(2026, 10, 20, 8, 0, tzinfo=ICT), i),
        _ev("deadline_extended", datetime(2026, 10, 21, 8, 0, tzinfo=ICT), i,
            extension="procuracy", months=1),
    ], {"due": date(2026, 11, 20), "open": True, "decision": "suspend", "on_time": [True]})
    i = iid("no-receipt")  # no report: no due date, not open, nothing on time
    out["no_receipt"] = ([
        _ev("report_resumed", T0, i), _resolved(T0 + DAY, i),
    ], {"due": None, "open": False, "decision": "institute", "on_time": [False]})
    return out


# The scenarios where the 0003 fold (learning the receipt only when it reaches it, taking the
# last one) differs from live: cases 1-3 of the issue and a report without a receipt.
ISSUE_CASES = {"resolution_before_receipt", "resolutions_before_and_after_receipt",
               "two_receipts", "receipt_after_resolution", "extension_before_receipt",
               "resumption_before_receipt", "resolution_and_resumption_before_receipt",
               "no_receipt"}
_GROUPS = ("property", "drugs", "economic", "public_safety_order")
_SEVERITIES = ("less_serious", "serious", "very_serious", "especially_serious")


def _instant(rng: random.Random, ties: list[datetime]) -> datetime:
    """Around T0, often at an instant already used, at local midnight or just before it."""
    if ties and rng.random() < 0.3:
        return rng.choice(ties)
    day = datetime(2026, 8, 1, tzinfo=ICT) + rng.randrange(95) * DAY
    offset = rng.choice([timedelta(0), timedelta(milliseconds=1), -timedelta(milliseconds=1),
                         timedelta(seconds=rng.randrange(86_400),
                                   microseconds=rng.randrange(1_000_000))])
    moment = day + offset
    ties.append(moment)
    return moment


def random_reports(seed: int, n: int) -> dict[str, tuple[list[dict], None]]:
    """``n`` reports of 1-8 lifecycle events each: receipts anywhere (none, one, several)."""
    rng = random.Random(seed)
    out: dict[str, tuple[list[dict], None]] = {}
    for r in range(n):
        iid = f"inc-rand{r}-{uuid.UUID(int=rng.getrandbits(128)).hex}"
        ties: list[datetime] = []
        events = []
        for _ in range(rng.randint(1, 8)):
            at = _instant(rng, ties)
            kind = rng.choices(["report_received", "deadline_extended", "report_resumed",
                                "report_resolved", "report_triaged", "report_forwarded"],
                               [3, 2, 2, 4, 1, 1])[0]
            fields: dict = {"event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4))}
            if kind == "report_received":
                events.append(_received(at, iid, rng.choice(_GROUPS), rng.choice(_SEVERITIES)))
                events[-1].update(fields)
                continue
            if kind == "deadline_extended":
                fields.update(extension=rng.choice(["complex_case", "procuracy"]),
                              months=rng.randint(1, 2))
            elif kind == "report_resolved":
                fields["decision"] = rng.choice(["institute", "decline", "suspend"])
                if fields["decision"] == "suspend":
                    fields["suspension_reason"] = "awaiting_documents"
            events.append(_ev(kind, at, iid, **fields))
        out[f"random{r}"] = (events, None)
    return out


def _store(writer: Writer, events: list[dict], rng: random.Random, offset: int) -> int:
    """All events in a shuffled order, 20 to a batch (an insert); returns the next offset."""
    report = validate_batch(events, now=datetime.now(UTC))
    assert not report.rejected, report.rejected
    valid = list(report.valid)
    rng.shuffle(valid)
    for start in range(0, len(valid), 20):
        batch = Batch("antt.events.fold", 0, offset, offset)
        for event in valid[start:start + 20]:
            batch.add(event.__dict__, offset)
            offset += 1
        writer.write(batch)
    return offset


def _live(events: list[dict]) -> dict:
    """The report's state live, in the view's terms (the report = live's first receipt)."""
    state = fed(facts_of(events))
    (facts,) = state.incidents.values() or [[]]  # triaged/forwarded only: no facts live
    now = inc.current(facts, state.cal, state.rules)
    first = next((f for f in facts if f[F_KIND] == RECEIVED), None)
    recv = next((e for e in events if first is not None
                 and uuid.UUID(e["event_id"]).hex == first[F_ID]), None)
    at = datetime.fromisoformat(recv["occurred_at"]) if recv else None
    return {"due": date.fromordinal(now.due_day) if now.due_day is not None else None,
            "open": now.is_open, "decision": now.decision,
            "on_time": [flag for _i, _d, flag in now.resolutions],
            "ids": [str(uuid.UUID(i)) for i, _d, _f in now.resolutions],
            "received_at": ms_ticks(at) if at else None,
            "crime_group": recv["crime_group"] if recv else "",
            "severity": recv["severity"] if recv else ""}


def _clickhouse(ch) -> dict[str, dict]:  # noqa: ANN001
    rows = ch.query(
        "SELECT incident_id, due_date, is_open, decision, on_time, "
        "arrayMap(r -> r.4 = 1, resolutions), arrayMap(r -> toString(r.1), resolutions), "
        "toUnixTimestamp64Milli(received_at), crime_group, severity, is_resolved "
        "FROM incidents_current").result_rows
    out = {}
    for iid, due, is_open, decision, on_time, flags, ids, recv, group, sev, done in rows:
        assert on_time == (flags[-1] if flags else None)  # the view's own consistency
        assert not (is_open and done)
        out[iid] = {"due": due, "open": bool(is_open), "decision": decision,
                    "on_time": list(flags), "ids": list(ids), "received_at": recv,
                    "crime_group": group, "severity": sev}
    return out


def _differ(ch, cases: dict) -> dict:  # noqa: ANN001
    """Reports whose incidents_current row is not the live state: name -> {field: (view,
    live)}."""
    stored = _clickhouse(ch)
    assert len(stored) == len(cases)
    differ = {}
    for name, (events, expected) in cases.items():
        live = _live(events)
        if expected is not None:  # the documented rule
            assert {k: live[k] for k in expected} == expected, name
        got = stored[events[0]["incident_id"]]
        bad = {k: (got[k], live[k]) for k in FIELDS if got[k] != live[k]}
        if bad:
            differ[name] = bad
    return differ


@pytest.fixture(scope="module")
def fold(stack: Settings) -> Iterator[tuple[Settings, Any, dict]]:
    """(settings, client, cases): one database of this module (migrated, dimensions loaded)
    holding every case's events, written once; the tests read it (the 0003 test swaps the
    view and always puts migration 8's back)."""
    tag = uuid.uuid4().hex[:8]
    settings = stack.model_copy(update={"clickhouse_database": f"antt_fold{tag}"})
    prepare_database(settings)
    ch = make_client(settings, database=settings.clickhouse_database)
    cases = {**scenarios(), **random_reports(seed=2026, n=40)}
    rng = random.Random(8)
    writer = Writer(ch, settings)
    offset = 0
    for events, _expected in cases.values():
        offset = _store(writer, events, rng, offset)
    try:
        yield settings, ch, cases
    finally:
        ch.close()


def test_incidents_current_folds_as_live(fold: tuple[Settings, Any, dict]) -> None:
    _settings, ch, stored = fold
    differ = _differ(ch, stored)
    assert not differ, f"incidents_current != live for {sorted(differ)}: {differ}"
    kinds = [[e["event_type"] for e in events] for events, _ in stored.values()]
    # the random set reaches the shapes it is there for
    assert sum(k.count("report_received") > 1 for k in kinds) >= 5
    assert sum("report_received" not in k for k in kinds) >= 3
    view = _clickhouse(ch)
    assert ch.command("SELECT sum(open) FROM backlog_current") == sum(
        s["open"] for s in view.values())
    by_type = ch.query("SELECT period_type, sum(resolved_on_time) FROM on_time_by_period "
                       "GROUP BY period_type").result_rows
    assert by_type and {n for _t, n in by_type} == {
        sum(sum(s["on_time"]) for s in view.values())}


def test_the_0003_fold_differs_in_every_named_case(fold: tuple[Settings, Any, dict]) -> None:
    """The scenarios see the old definition (the receipt learnt only when reached, the last
    receipt wins); then migration 8's statement, run again, restores live's."""
    sink_settings, ch, stored = fold
    (old_view,) = [sql for sql in next(m for m in load_migrations() if m.version == 3)
                   .statements(sink_settings.clickhouse_database, sink_settings.timezone)
                   if ".incidents_current AS" in sql]
    (new_view,) = next(m for m in load_migrations() if m.version == 8).statements(
        sink_settings.clickhouse_database, sink_settings.timezone)
    ch.command(old_view.replace("CREATE VIEW IF NOT EXISTS", "CREATE OR REPLACE VIEW"))
    try:
        assert ISSUE_CASES <= set(_differ(ch, stored))
    finally:
        ch.command(new_view)  # the database is shared with the other test of this module
    assert not _differ(ch, stored)
