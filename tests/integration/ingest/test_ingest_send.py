"""``KafkaSender`` against the real broker: a partial failure is counted exactly."""

from __future__ import annotations

import orjson
import pytest

from antt.kafka import ensure_topics
from ingest.kafka import Record
from ingest.send import KafkaSender
from schemas.examples import make_event

pytestmark = pytest.mark.integration


def _record(n: int) -> Record:
    return Record(b"01", orjson.dumps([make_event("report_received") for _ in range(n)]), n)


async def test_only_acknowledged_records_count_when_one_fails(isolated, topic_reader):
    """One record the producer cannot deliver (larger than its max request size) fails
    alone: the others are acknowledged and stored, and the failed one is never counted."""
    ensure_topics(isolated)
    too_big = Record(b"01", b"[" + b" " * (5 * 1024 * 1024) + b"]", 7)
    records = [_record(3), too_big, _record(4)]
    with KafkaSender(isolated, timeout_s=5, rounds=2) as sender:
        result = sender.send(records)
    assert result.acked_records == 2 and result.acked_events == 7
    assert result.failed == [too_big] and result.failed_events == 7 and not result.ok
    assert result.errors  # the reason is reported
    stored = await topic_reader(isolated, records=2)
    assert sorted(len(v) for _, v in stored) == [3, 4]
