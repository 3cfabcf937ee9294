"""ClickHouse orders a report's events at the same instant as the live worker (issue #4).

The scenarios of ``tests/unit/streams/test_same_instant_order.py`` (extension and
resolution at one instant, two resolutions, resumption and resolution, a resolution recorded
before its report, one millisecond apart in microseconds, ...) go through the sink's real
write path into the session's ClickHouse, one event per batch in a shuffled order; the view
``incidents_current`` must give each report the state the live worker gives it
(``incidents.current`` over the facts of a ``ProvinceState`` fed the same events): due date,
open, decision in force, on time. Extra reports with two resolutions at one instant and
random event ids make a view whose tie-break is arbitrary fail.
"""

from __future__ import annotations

import random
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from antt.settings import Settings
from schemas.validate import validate_batch
from sinks.migrate import load_migrations, migrate
from sinks.rows import Batch
from sinks.writer import Writer
from streams.logic import incidents as inc

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "streams"))
from test_same_instant_order import T0, _event, facts_of, fed, scenarios  # noqa: E402

pytestmark = pytest.mark.integration


def _ties(n: int) -> dict[str, tuple[list[dict], None]]:
    """``n`` reports, each resolved twice at one instant with random event ids."""
    out: dict[str, tuple[list[dict], None]] = {}
    at = T0 + timedelta(days=2, milliseconds=250)
    for i in range(n):
        iid = f"inc-tie{i}-{uuid.uuid4().hex}"
        out[f"tie{i}"] = ([
            _event("report_received", T0, 60, iid),
            _event("report_resolved", at, 60, iid, decision="institute"),
            _event("report_resolved", at, 60, iid, decision="decline"),
        ], None)
    return out


def _store(writer: Writer, events: list[dict], rng: random.Random) -> None:
    """One event per batch (so per insert), in a shuffled order, at increasing offsets."""
    report = validate_batch(events, now=datetime.now(UTC))
    assert not report.rejected, report.rejected
    valid = list(report.valid)
    rng.shuffle(valid)
    for offset, event in enumerate(valid):
        batch = Batch("antt.events.test", 0, offset, offset)
        batch.add(event.__dict__, offset)
        writer.write(batch)


def _live(events: list[dict]) -> dict:
    state = fed(facts_of(events))
    (facts,) = state.incidents.values()
    now = inc.current(facts, state.cal, state.rules)
    return {"due": date.fromordinal(now.due_day) if now.due_day is not None else None,
            "open": now.is_open, "decision": now.decision,
            "on_time": [flag for _i, _d, flag in now.resolutions],
            "ids": [str(uuid.UUID(i)) for i, _d, _f in now.resolutions]}


def _clickhouse(ch) -> dict[str, dict]:  # noqa: ANN001
    rows = ch.query(
        "SELECT incident_id, due_date, is_open, decision, on_time, "
        "arrayMap(r -> r.4 = 1, resolutions), arrayMap(r -> toString(r.1), resolutions) "
        "FROM incidents_current").result_rows
    out = {}
    for iid, due, is_open, decision, on_time, flags, ids in rows:
        assert on_time == (flags[-1] if flags else None)  # the view's own consistency
        out[iid] = {"due": due, "open": bool(is_open), "decision": decision,
                    "on_time": list(flags), "ids": list(ids)}
    return out


def _differ(ch, cases: dict) -> dict:  # noqa: ANN001
    """Reports whose incidents_current row is not the live state: name -> (view, live)."""
    stored = _clickhouse(ch)
    assert len(stored) == len(cases)
    differ = {}
    for name, (events, expected) in cases.items():
        live = _live(events)
        if expected is not None:  # the documented rule, as the unit test states it
            assert {k: v for k, v in live.items() if k != "ids"} == expected, name
        got = stored[events[0]["incident_id"]]
        if got != live:
            differ[name] = (got, live)
    return differ


def _stored_cases(ch, settings: Settings) -> dict:  # noqa: ANN001
    cases = {**scenarios(), **_ties(12)}
    rng = random.Random(4)
    writer = Writer(ch, settings)
    for events, _expected in cases.values():
        _store(writer, events, rng)
    return cases


def test_incidents_current_orders_same_instant_events_as_live(sink_settings: Settings,
                                                              ch) -> None:  # noqa: ANN001
    cases = _stored_cases(ch, sink_settings)
    differ = _differ(ch, cases)
    assert not differ, f"incidents_current != live for {sorted(differ)}: {differ}"
    stored = _clickhouse(ch)
    # The views that read incidents_current (0005) read the replaced one.
    assert ch.command("SELECT sum(open) FROM backlog_current") == sum(
        s["open"] for s in stored.values())
    by_type = ch.query("SELECT period_type, sum(resolved_on_time) FROM on_time_by_period "
                       "GROUP BY period_type").result_rows
    assert by_type and {n for _t, n in by_type} == {
        sum(sum(s["on_time"]) for s in stored.values())}


def test_migration_8_upgrades_a_database_of_versions_1_to_7(sink_settings: Settings,
                                                            ch) -> None:  # noqa: ANN001
    """Data stored under the 0003 view; migration 8 then makes it agree with live, once."""
    cases = _stored_cases(ch, sink_settings)
    (old_view,) = [sql for sql in next(m for m in load_migrations() if m.version == 3)
                   .statements(sink_settings.clickhouse_database, sink_settings.timezone)
                   if ".incidents_current AS" in sql]
    ch.command(old_view.replace("CREATE VIEW IF NOT EXISTS", "CREATE OR REPLACE VIEW"))
    ch.command("ALTER TABLE schema_migrations DELETE WHERE version = 8 "
               "SETTINGS mutations_sync = 1")
    assert _differ(ch, cases), "the 0003 view should order some ties otherwise"
    assert migrate(ch, sink_settings) == [8]
    assert not _differ(ch, cases)
    assert migrate(ch, sink_settings) == []
    (new_view,) = next(m for m in load_migrations() if m.version == 8).statements(
        sink_settings.clickhouse_database, sink_settings.timezone)
    ch.command(new_view)  # idempotent when run again by hand
    assert not _differ(ch, cases)
