"""Events -> columns of events_raw (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.examples import make_event
from schemas.validate import validate_batch
from sinks.rows import COLUMNS, EVENT_COLUMNS, Batch, batch_columns, first_of_each_id

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _events(*events: dict) -> list[dict]:
    report = validate_batch(list(events), now=NOW)
    assert not report.rejected
    return [e.__dict__ for e in report.valid]


def _row(columns: list[list], event: dict) -> dict:
    """The row of ``event`` (rows come grouped by event type, not in batch order)."""
    i = columns[COLUMNS.index("event_id")].index(event["event_id"])
    return {name: col[i] for name, col in zip(COLUMNS, columns, strict=True)}


def test_type_specific_fields_are_renamed_and_defaulted() -> None:
    events = _events(make_event("report_resumed", reason="suspension_annulled"),
                     make_event("suspects_apprehended", count=3),
                     make_event("admin_violation_sanctioned", field="drugs", fine_vnd=5))
    cols = batch_columns(events, "t", 2, [10, 10, 11], NOW)
    resumed, suspects, admin = (_row(cols, e) for e in events)
    assert resumed["resume_reason"] == "suspension_annulled" and resumed["fine_vnd"] == 0
    assert suspects["apprehended_count"] == 3 and suspects["crime_group"] == "drugs"
    assert admin["admin_field"] == "drugs" and admin["fine_vnd"] == 5
    assert admin["source_type"] == "" and admin["months"] == 0
    assert admin["corrects_event_id"] is None  # Nullable column keeps NULL
    assert (admin["kafka_topic"], admin["kafka_partition"], admin["kafka_offset"]) == ("t", 2, 11)
    assert admin["ingested_at"] == int(NOW.timestamp() * 1000)
    assert resumed["legacy_province_code"] == ""


def test_columns_cover_the_table_in_order() -> None:
    assert COLUMNS[: len(EVENT_COLUMNS)] == EVENT_COLUMNS
    assert COLUMNS[-4:] == ("kafka_topic", "kafka_partition", "kafka_offset", "ingested_at")
    assert len(set(COLUMNS)) == len(COLUMNS)
    assert batch_columns([], "t", 0, [], NOW) == [[] for _ in COLUMNS]


def test_token_names_topic_partition_and_offsets() -> None:
    batch = Batch("antt.events.v1", 3, 100, 100)
    for offset, event in zip((100, 100, 104), _events(*(make_event("report_received")
                                                       for _ in range(3))), strict=True):
        batch.add(event, offset)
    assert batch.token == "antt.events.v1:3:100-104"
    assert batch.part_token(0, 2) == "antt.events.v1:3:100-104:rows:0-2"
    kept = batch.keep([2])
    assert kept.token == batch.token and kept.offsets == [104]


def test_first_copy_of_each_event_id_wins() -> None:
    a, b = make_event("report_received"), make_event("report_received")
    events = _events(a, b, a)
    assert first_of_each_id(events) == [0, 1]


def test_grouped_rows_match_a_field_by_field_reading() -> None:
    from sinks.rows import _FIELDS, _NULLABLE, ms_ticks

    types = ["report_received", "report_triaged", "report_forwarded", "deadline_extended",
             "report_resolved", "report_resumed", "offence_cleared", "suspects_apprehended",
             "admin_violation_sanctioned"]
    events = _events(*(make_event(types[i % len(types)]) for i in range(40)))
    offsets = list(range(500, 540))
    cols = batch_columns(events, "t", 1, offsets, NOW)
    assert all(len(col) == len(events) for col in cols)
    for event, offset in zip(events, offsets, strict=True):
        row = _row(cols, event)
        for name, attr, default in _FIELDS:
            value = event.get(attr)
            if name in ("occurred_at", "recorded_at"):
                value = ms_ticks(value)
            elif value is None and name not in _NULLABLE:
                value = default
            assert row[name] == value, (event["event_type"], name)
        assert row["kafka_offset"] == offset


def test_extend_is_add_for_every_model_of_a_record() -> None:
    report = validate_batch([make_event("report_received") for _ in range(3)], now=NOW)
    one, many = Batch("t", 0, 7, 7), Batch("t", 0, 7, 7)
    for event in report.valid:
        one.add(event.__dict__, 9)
    many.extend(report.valid, 9)
    assert (many.events, many.offsets, many.last_offset) == (one.events, one.offsets, 9)
    assert many.events[0] is report.valid[0].__dict__
