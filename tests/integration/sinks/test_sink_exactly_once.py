"""Exactly-once into ClickHouse: the same batch twice, resends, replays, corrections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sink_helpers import caught_up, produce, running_sink, wait_until

from antt.settings import Settings
from schemas.examples import ICT, make_event
from schemas.validate import validate_batch
from sinks.rows import Batch
from sinks.writer import Writer

pytestmark = pytest.mark.integration

T0 = datetime(2026, 9, 1, 9, 30, tzinfo=ICT)


def _batch(events: list[dict], first_offset: int, partition: int = 0,
           per_record: int = 1) -> Batch:
    report = validate_batch(events, now=datetime.now(UTC))
    assert not report.rejected, report.rejected
    batch = Batch("antt.events.test", partition, first_offset, first_offset)
    for i, event in enumerate(report.valid):
        batch.add(event.__dict__, first_offset + i // per_record)
    return batch


def _totals(ch) -> dict[str, int]:
    rows = ch.query("SELECT metric, sum(events) FROM metrics_daily GROUP BY metric").result_rows
    return {m: int(n) for m, n in rows if n}


def _count(ch, sql: str) -> int:
    return int(ch.command(sql))


def test_same_batch_inserted_twice_is_counted_once(sink_settings: Settings, ch) -> None:
    writer = Writer(ch, sink_settings)
    batch = _batch([make_event("report_received") for _ in range(50)], first_offset=100)
    # Straight to the insert (no id lookup): only the dedup token protects the second copy.
    for _ in range(2):
        assert writer._insert(batch, 0, len(batch.events), []) == 50
    assert _count(ch, "SELECT count() FROM events_raw") == 50
    for table in ("metrics_daily", "metrics_daily_province", "metrics_monthly_province"):
        assert _count(ch, f"SELECT sum(events) FROM {table} WHERE metric = 'received'") == 50
    assert _count(ch, "SELECT count() FROM incidents_current") == 50
    # And through the full write path.
    result = writer.write(batch)
    assert (result.inserted, result.duplicates) == (0, 50)
    assert _totals(ch) == {"received": 50}


def test_resend_at_another_offset_counts_once(sink_settings: Settings, ch) -> None:
    writer = Writer(ch, sink_settings)
    events = [make_event("report_received"), make_event("offence_cleared")]
    first = writer.write(_batch(events + [events[0]], first_offset=0))
    assert (first.inserted, first.duplicates) == (2, 1)
    again = writer.write(_batch(events, first_offset=7, partition=0))
    assert (again.inserted, again.duplicates) == (0, 2)
    assert _totals(ch) == {"received": 1, "cleared": 1, "cleared_suspects": 1}


def test_replay_with_other_batch_boundaries_changes_nothing(sink_settings: Settings, ch) -> None:
    writer = Writer(ch, sink_settings)
    events = [make_event("admin_violation_sanctioned", fine_vnd=1000 + i) for i in range(30)]
    writer.write(_batch(events[:20], 0))
    writer.write(_batch(events[20:], 20))
    before = ch.query("SELECT metric, sum(value) FROM metrics_daily GROUP BY metric "
                      "ORDER BY metric").result_rows
    writer.write(_batch(events[5:25], 5))  # boundaries differ from the first pass
    writer.write(_batch(events, 0))
    after = ch.query("SELECT metric, sum(value) FROM metrics_daily GROUP BY metric "
                     "ORDER BY metric").result_rows
    assert after == before
    assert dict(after)["fines_vnd"] == sum(1000 + i for i in range(30))


@pytest.mark.parametrize("order", ["correction_last", "correction_first"])
def test_a_correction_replaces_the_corrected_event(sink_settings: Settings, ch,
                                                   order: str) -> None:
    writer = Writer(ch, sink_settings)
    original = make_event("report_received", crime_group="property")
    fix = make_event("report_received", crime_group="drugs",
                     incident_id=original["incident_id"],
                     corrects_event_id=original["event_id"])
    sequence = [original, fix] if order == "correction_last" else [fix, original]
    writer.write(_batch([sequence[0]], 0))
    writer.write(_batch([sequence[1]], 1))
    writer.write(_batch(sequence, 0))  # a replay changes nothing
    groups = ch.query("SELECT crime_group, sum(events) FROM metrics_daily "
                      "WHERE metric = 'received' GROUP BY crime_group HAVING sum(events) != 0"
                      ).result_rows
    assert groups == [("drugs", 1)]
    assert _count(ch, "SELECT count() FROM events_retracted") == 1
    state = ch.query("SELECT crime_group, events_in_force FROM incidents_current").result_rows
    assert state == [("drugs", 1)]


def test_corrected_resolution_moves_on_time_figures(sink_settings: Settings, ch) -> None:
    writer = Writer(ch, sink_settings)
    received = make_event("report_received", occurred_at=T0, recorded_at=T0)
    incident = received["incident_id"]
    late = T0 + timedelta(days=25)
    resolved = make_event("report_resolved", incident_id=incident, occurred_at=late,
                          recorded_at=late)
    on_time = T0 + timedelta(days=10)
    fix = make_event("report_resolved", incident_id=incident, occurred_at=on_time,
                     recorded_at=late, corrects_event_id=resolved["event_id"])
    writer.write(_batch([received, resolved], 0))
    assert ch.query("SELECT on_time, due_date FROM incidents_current").result_rows[0][0] == 0
    writer.write(_batch([fix], 2))
    row = ch.query("SELECT on_time, resolved_at, length(resolutions) "
                   "FROM incidents_current").result_rows[0]
    assert row[0] == 1 and row[2] == 1


async def test_sink_replay_of_a_whole_partition_keeps_totals(sink_settings: Settings,
                                                             ch) -> None:
    records = []
    for _ in range(40):
        events = [make_event("report_received", commune_code="00070") for _ in range(25)]
        records.append(("01", events))
    records.append(("01", records[3][1]))  # a resent record
    await produce(sink_settings, records)
    async with running_sink(sink_settings) as sink:
        await wait_until(lambda: caught_up(sink, sink_settings), 60, "first pass")
    assert _totals(ch) == {"received": 1000}
    # A second consumer group reads every partition again from offset 0.
    replay = sink_settings.model_copy(update={"sink_group_id": sink_settings.sink_group_id + "r"})
    async with running_sink(replay) as sink:
        await wait_until(lambda: caught_up(sink, replay), 60, "replay")
        assert sink.stats.inserted == 0
    assert _totals(ch) == {"received": 1000}
    assert _count(ch, "SELECT count() FROM events_raw") == 1000


def test_crash_between_insert_and_retraction_is_repaired_by_the_replay(
        sink_settings: Settings, ch) -> None:
    writer = Writer(ch, sink_settings)
    original = make_event("report_received", crime_group="property")
    writer.write(_batch([original], 0))
    fix = make_event("report_received", crime_group="drugs",
                     incident_id=original["incident_id"],
                     corrects_event_id=original["event_id"])
    batch = _batch([fix], 1)
    writer._insert(batch, 0, 1, [])  # the insert happened, then the process died
    assert _count(ch, "SELECT count() FROM events_retracted") == 0
    replay = Writer(ch, sink_settings)  # a new process re-reads the uncommitted record
    result = replay.write(_batch([fix], 1))
    assert (result.inserted, result.retracted) == (0, 1)
    groups = ch.query("SELECT crime_group, sum(events) FROM metrics_daily "
                      "WHERE metric = 'received' GROUP BY crime_group HAVING sum(events) != 0"
                      ).result_rows
    assert groups == [("drugs", 1)]


def test_next_batch_prepared_before_the_previous_is_stored(sink_settings: Settings, ch) -> None:
    """The consumer prepares partition B's batch while A's is stored: same outcome, and a
    prepared batch stored after a failed store is still written exactly once."""
    writer = Writer(ch, sink_settings)
    a_events = [make_event("report_received", commune_code="00004")
                for _ in range(30)]
    b_events = [make_event("offence_cleared", commune_code="25747")
                for _ in range(20)]
    a, b = _batch(a_events, 0, partition=0), _batch(b_events, 0, partition=1)
    prep_a = writer.prepare(a)
    prep_b = writer.prepare(b)  # before A is stored
    assert writer.store(prep_a).inserted == 30
    assert writer.store(prep_b).inserted == 20
    # Replayed after a crash: prepared again, everything is a duplicate.
    replay_b = writer.prepare(b)
    replay_a = writer.prepare(a)
    assert writer.store(replay_a).duplicates == 30 and writer.store(replay_b).duplicates == 20
    # A prepared batch stored again after a store that touched its (province, date) pairs is
    # prepared again first: nothing is counted twice.
    assert writer.store(prep_b).inserted == 0
    # One province through two partitions (records without a key), the same event in both,
    # the second prepared before the first is stored: written once.
    twice = make_event("report_received", commune_code="00004")
    p0, p1 = _batch([twice], 40, partition=0), _batch([twice], 90, partition=1)
    prep0, prep1 = writer.prepare(p0), writer.prepare(p1)
    assert writer.store(prep0).inserted == 1
    assert (writer.store(prep1).inserted, _totals(ch)["received"]) == (0, 31)
    assert _count(ch, "SELECT count() FROM events_raw") == 51
    assert _totals(ch)["cleared"] == 20
