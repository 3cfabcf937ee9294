"""The writer's own insert format against the real local ClickHouse server: every column
stored as sent, the read-back after a deduplicated re-send, corrections within a province."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from antt.settings import Settings
from schemas.examples import make_event
from schemas.validate import validate_batch
from sinks.rows import COLUMNS, Batch, batch_columns
from sinks.writer import Writer

pytestmark = pytest.mark.integration

TYPES = ["report_received", "report_triaged", "report_forwarded", "deadline_extended",
         "report_resolved", "report_resumed", "offence_cleared", "suspects_apprehended",
         "admin_violation_sanctioned"]


def _batch(raw: list[dict], first_offset: int = 0, partition: int = 0) -> Batch:
    report = validate_batch(raw, now=datetime.now(UTC))
    assert not report.rejected, report.rejected
    batch = Batch("antt.events.test", partition, first_offset, first_offset)
    for i, event in enumerate(report.valid):
        batch.add(event.__dict__, first_offset + i)
    return batch


def _received_by_group(ch) -> dict[str, int]:
    rows = ch.query("SELECT crime_group, sum(events) FROM metrics_daily WHERE metric = "
                    "'received' GROUP BY crime_group HAVING sum(events) != 0").result_rows
    return dict(rows)


def test_every_column_is_stored_as_sent(sink_settings: Settings, ch) -> None:
    raw = [make_event(TYPES[i % len(TYPES)]) for i in range(45)]
    raw[3]["corrects_event_id"] = str(uuid.uuid4())
    raw[5]["occurred_at"] = "2026-11-01T23:59:59.999999+07:00"  # floored to the millisecond
    raw[5]["recorded_at"] = "2026-11-02T00:00:00+07:00"
    batch = _batch(raw, first_offset=500, partition=2)
    writer = Writer(ch, sink_settings, clock=lambda: datetime(2026, 11, 22, 1, tzinfo=UTC))
    assert writer.write(batch).inserted == 45
    names = [c for c in COLUMNS if c != "ingested_at"]
    stored = ch.query(f"SELECT {', '.join(names)}, toUnixTimestamp64Milli(occurred_at), "
                      f"toUnixTimestamp64Milli(recorded_at) FROM events_raw").result_rows
    expected = batch_columns(batch.events, batch.topic, batch.partition, batch.offsets,
                             datetime(2026, 11, 22, 1, tzinfo=UTC))
    by_id = {row[0]: row for row in stored}
    times = {"occurred_at": len(names), "recorded_at": len(names) + 1}
    for j in range(45):
        row = by_id[expected[0][j]]
        for i, name in enumerate(names):
            want = expected[i][j]
            got = row[times[name]] if name in times else row[i]
            assert got == want, (name, got, want)


def test_a_resent_block_stored_by_an_earlier_attempt_is_not_bisected_into_duplicates(
        sink_settings: Settings, ch) -> None:
    """Prepared twice (the second time before the first was visible): the second insert is
    dropped by its token, finds no row with its own ingested_at, and must then find every id
    stored instead of re-inserting halves under other tokens."""
    writer = Writer(ch, sink_settings)
    batch = _batch([make_event("report_received") for _ in range(40)])
    first, second = writer.prepare(batch), writer.prepare(batch)
    assert first.ingested_ms != second.ingested_ms
    assert writer.store(first).inserted == 40
    keys = {second.keys[i] for i in second.fresh_idx}
    dead: list = []
    assert writer._insert_checked(second, keys, dead) == 40 and not dead
    assert int(ch.command("SELECT count() FROM events_raw")) == 40
    assert sum(_received_by_group(ch).values()) == 40


@pytest.mark.parametrize("order", ["correction_last", "correction_first"])
def test_a_correction_retracts_only_an_original_of_its_own_province(
        sink_settings: Settings, ch, order: str) -> None:
    writer = Writer(ch, sink_settings)
    original = make_event("report_received", crime_group="property", province_code="01",
                          commune_code="00004")
    foreign = make_event("report_received", crime_group="drugs", province_code="79",
                         commune_code="25747", incident_id=original["incident_id"],
                         corrects_event_id=original["event_id"])
    local = make_event("report_received", crime_group="economic", province_code="01",
                       commune_code="00004", incident_id=original["incident_id"],
                       corrects_event_id=original["event_id"])
    first, then = ([original], [foreign]) if order == "correction_last" else ([foreign],
                                                                              [original])
    writer.write(_batch(first, 0))
    writer.write(_batch(then, 1))
    assert int(ch.command("SELECT count() FROM events_retracted")) == 0
    assert _received_by_group(ch) == {"property": 1, "drugs": 1}  # both count, nothing undone
    # A correction from the original's own province retracts it, once (replays included).
    assert writer.write(_batch([local], 2)).retracted == 1
    writer.write(_batch([original, foreign, local], 0))
    fresh = Writer(ch, sink_settings)  # a restarted sink, caches empty
    assert fresh.write(_batch([foreign, local], 1)).retracted == 0
    assert _received_by_group(ch) == {"drugs": 1, "economic": 1}
    assert ch.query("SELECT event_id FROM events_retracted").result_rows == [
        (uuid.UUID(original["event_id"]),)]
