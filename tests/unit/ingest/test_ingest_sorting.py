"""Sorting a request's items with the real validator: accepted, rejected, forbidden."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest.body import Unparseable
from ingest.kafka import batch_records
from ingest.sorting import sort_items
from schemas import validate_batch
from schemas.examples import make_event
from schemas.units import communes_of

HCM = communes_of("79")[0]

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_valid_invalid_unparseable_and_foreign_province():
    items = [
        make_event("report_received"),
        make_event("report_received", channel="fax"),
        Unparseable("line is not valid JSON", b"{"),
        make_event("report_triaged", commune_code=HCM),  # a commune of province 79
        make_event("report_resolved"),
    ]
    batch = sort_items(items, validate_batch, now=NOW, province_code="01")
    assert [i for i, _ in batch.valid] == [0, 4]
    assert batch.forbidden == [3]
    assert sorted(r.index for r in batch.rejected) == [1, 2, 3]
    answer = batch.answer("rid")
    assert answer["accepted_count"] == 2 and answer["rejected_count"] == 3
    assert answer["forbidden_indexes"] == [3] and answer["error"] == "cross_province"
    assert {r["index"]: r["path"] for r in answer["rejected"]}[1] == "channel"


def test_an_unknown_province_code_is_invalid_not_forbidden():
    """Only a real other province makes a request 403; a typo is a plain rejection."""
    items = [make_event("report_received"), make_event("report_received", province_code="99"),
             make_event("report_received", province_code=7)]
    batch = sort_items(items, validate_batch, now=NOW, province_code="01")
    assert [i for i, _ in batch.valid] == [0]
    assert batch.forbidden == [] and "error" not in batch.answer("rid")
    assert [(r.index, r.path) for r in batch.rejected] == [(1, "province_code"),
                                                           (2, "province_code")]
    assert "unknown province code '99'" in batch.rejected[0].reason


def test_more_than_one_validator_chunk():
    items = [make_event("report_received") for _ in range(2500)]
    items[1700]["severity"] = "unknown"
    batch = sort_items(items, validate_batch, now=NOW, province_code="01")
    assert len(batch.valid) == 2499
    assert [r.index for r in batch.rejected] == [1700]


def test_records_hold_at_most_1000_events_of_one_province():
    events = [("01", make_event("report_received")) for _ in range(2001)]
    events += [("79", make_event("report_received", commune_code=HCM))]
    records = list(batch_records(events))
    assert [(r.key, r.count) for r in records] == [(b"01", 1000), (b"01", 1000), (b"01", 1),
                                                   (b"79", 1)]
    report = validate_batch(records[0].value, now=NOW, expected_province="01")
    assert len(report.valid) == 1000 and not report.rejected


def test_records_respect_the_byte_limit():
    events = [("01", make_event("report_received")) for _ in range(50)]
    records = list(batch_records(events, max_bytes=5000))
    assert sum(r.count for r in records) == 50
    assert all(len(r.value) <= 5000 for r in records)
