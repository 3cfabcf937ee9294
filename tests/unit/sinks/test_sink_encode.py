"""The sink's own Native encoder sends byte for byte what clickhouse-connect would send."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.insert import InsertContext
from clickhouse_connect.driver.transform import NativeTransform
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.examples import make_event
from schemas.validate import validate_batch
from sinks.encode import leb128, ms_ticks, native_block, type_groups
from sinks.rows import COLUMNS, batch_columns, insert_types

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
TYPES = ["report_received", "report_triaged", "report_forwarded", "deadline_extended",
         "report_resolved", "report_resumed", "offence_cleared", "suspects_apprehended",
         "admin_violation_sanctioned"]


def _events(raw: list[dict]) -> list[dict]:
    report = validate_batch(raw, now=NOW + timedelta(days=1))
    assert not report.rejected, report.rejected
    return [e.__dict__ for e in report.valid]


def _reference(events: list[dict], offsets: list[int], order: list[int]) -> bytes:
    """clickhouse-connect's Native block for the same rows, in the encoder's row order."""
    rows = [events[i] for i in order]
    cols = batch_columns(rows, "antt.events.v1", 3, [offsets[i] for i in order], NOW)
    ctx = InsertContext("t", list(COLUMNS), [get_from_name(t) for t in insert_types()],
                        data=cols, column_oriented=True, compression=None)
    body = b"".join(NativeTransform.build_insert(ctx))
    return body[body.index(b"FORMAT Native\n") + len(b"FORMAT Native\n"):]


def _check(events: list[dict]) -> None:
    offsets = [100 + i // 3 for i in range(len(events))]
    body, order = native_block(events, "antt.events.v1", 3, offsets, NOW)
    assert sorted(order) == list(range(len(events)))
    # batch_columns groups rows by type too; give it rows already in the encoder's order
    assert body == _reference(events, offsets, order)


def test_every_event_type_and_optional_field_matches_clickhouse_connect() -> None:
    raw = [make_event(TYPES[i % len(TYPES)]) for i in range(60)]
    raw[4]["corrects_event_id"] = str(uuid.uuid4())
    raw[13]["corrects_event_id"] = str(uuid.uuid4())
    raw[7]["occurred_at"] = "2026-11-20T23:59:59.999999+07:00"  # sub-millisecond: floored
    raw[7]["recorded_at"] = "2026-11-21T00:00:00+07:00"
    raw[8]["recorded_at"] = "2026-11-21T10:00:00.000500-03:30"
    _check(_events(raw))


def test_legacy_codes_and_one_type_only() -> None:
    legacy = make_event("report_received", code_regime="2004", province_code="01",
                        commune_code="00004")
    events = _events([legacy, make_event("report_received")])
    assert events[0]["legacy_province_code"]  # mapped from 2004: the legacy columns are set
    _check(events)


def test_empty_batch_is_a_block_of_zero_rows() -> None:
    body, order = native_block([], "t", 0, [], NOW)
    assert order == [] and body.startswith(leb128(len(COLUMNS)) + leb128(0))


def test_leb128_and_ticks() -> None:
    assert [leb128(v) for v in (0, 127, 128, 300)] == [b"\x00", b"\x7f", b"\x80\x01",
                                                       b"\xac\x02"]
    moment = datetime(2026, 1, 1, 7, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=7)))
    assert ms_ticks([moment]) == [int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()) * 1000
                                  + 999]


def test_groups_are_stable_and_cover_every_row() -> None:
    events = [{"event_type": t} for t in ("b", "a", "b", "c", "a")]
    assert type_groups(events) == [[1, 4], [0, 2], [3]]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TYPES), st.booleans()), min_size=1, max_size=40))
def test_any_mix_matches_clickhouse_connect(spec: list[tuple[str, bool]]) -> None:
    raw = []
    for kind, corrects in spec:
        event = make_event(kind)
        if corrects:
            event["corrects_event_id"] = str(uuid.uuid4())
        raw.append(event)
    _check(_events(raw))


@pytest.mark.parametrize("length", [0, 1, 127, 128, 20_000])
def test_long_and_empty_strings_in_a_high_cardinality_column(length: int) -> None:
    from sinks.encode import _strings

    value = "x" * length
    assert _strings([value, "ab"], "incident_id") == leb128(length) + value.encode() + b"\x02ab"
