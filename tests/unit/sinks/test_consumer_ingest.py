"""The sink's ingest path without a broker: the validator's clock, time slices, rebalances."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import orjson
from aiokafka import TopicPartition

from antt.settings import load_settings
from schemas.examples import make_event
from sinks import consumer as consumer_module
from sinks.consumer import SinkConsumer

T = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def _sink(clock_at: datetime = T) -> SinkConsumer:
    writer = SimpleNamespace(reset_requested=False)
    return SinkConsumer(load_settings(), writer, clock=lambda: clock_at)  # type: ignore[arg-type]


def _record(recorded_at: datetime, n: int = 1) -> bytes:
    events = [make_event("report_received", occurred_at=recorded_at - timedelta(minutes=1))
              for _ in range(n)]
    for event in events:
        event["recorded_at"] = recorded_at.isoformat()
    return orjson.dumps(events)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def test_future_rule_uses_the_record_timestamp_not_the_sinks_clock() -> None:
    tolerance = load_settings().future_tolerance_s
    near = _record(T + timedelta(seconds=tolerance - 60))
    far = _record(T + timedelta(seconds=tolerance + 60))
    # Read live, or replayed a day later: the same verdicts.
    for clock in (T, T + timedelta(days=1), T - timedelta(hours=1)):
        sink = _sink(clock)
        sink.ingest(0, 1, b"01", near, _ms(T))
        sink.ingest(0, 2, b"01", far, _ms(T))
        assert (sink.stats.events_valid, sink.stats.events_invalid) == (1, 1), clock


def test_without_a_record_timestamp_the_sinks_clock_is_used() -> None:
    tolerance = load_settings().future_tolerance_s
    far = _record(T + timedelta(seconds=tolerance + 60))
    late_clock = _sink(T + timedelta(hours=1))
    late_clock.ingest(0, 1, b"01", far, None)
    late_clock.ingest(0, 2, b"01", far, -1)  # Kafka's "no timestamp"
    assert late_clock.stats.events_valid == 2


def _messages(n: int, events_per_record: int) -> dict:
    tp = TopicPartition("t", 0)
    msgs = [SimpleNamespace(offset=i, key=b"01", value=_record(T, events_per_record),
                            timestamp=_ms(T)) for i in range(n)]
    return {tp: msgs}


async def _ticks_while_ingesting(sink: SinkConsumer, fetched: dict) -> int:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await sink._ingest_all(fetched)
    ticker.cancel()
    return ticks


async def test_a_large_fetch_is_validated_in_slices(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(consumer_module, "SLICE_S", 0.0)  # every record exceeds the slice
    sink = _sink()
    assert await _ticks_while_ingesting(sink, _messages(40, 200)) >= 39
    assert sink.stats.events_valid == 8000
    monkeypatch.setattr(consumer_module, "SLICE_S", 3600.0)  # nothing exceeds it
    assert await _ticks_while_ingesting(_sink(), _messages(40, 200)) == 0


async def test_records_are_dropped_once_partitions_are_revoked(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(consumer_module, "SLICE_S", 0.0)  # yield after every record
    sink = _sink()

    async def revoke_soon() -> None:
        await asyncio.sleep(0)
        await sink.release({TopicPartition("t", 0)})

    revoker = asyncio.create_task(revoke_soon())
    await sink._ingest_all(_messages(20, 1))
    await revoker
    assert 0 < sink.stats.records < 20
    assert sink.buffers == {} and sink.rebalancing
    sink.assigned(set())
    assert not sink.rebalancing and sink.writer.reset_requested


async def test_revocation_waits_for_the_write_in_flight() -> None:
    sink = _sink()
    done = asyncio.Event()

    async def write() -> None:
        await asyncio.sleep(0.2)
        done.set()

    sink.flush_task = asyncio.create_task(write())
    await sink.release({TopicPartition("t", 0)})
    assert done.is_set()
    assert sink.stats.revocations == 1


async def test_a_revoked_failed_batch_does_not_leave_the_sink_paused() -> None:
    sink = _sink()
    sink.ingest(0, 1, b"01", _record(T), _ms(T))
    sink.inflight, sink.buffers = sink.buffers, {}
    sink.failures = 3  # its write failed: fetching is paused until a retry succeeds
    await sink.release({TopicPartition("t", 0)})
    assert (sink.inflight, sink.failures) == ({}, 0)


async def test_once_a_revocation_begins_no_further_batch_is_stored() -> None:
    sink = _sink()
    stored: list[int] = []
    committed: list[int] = []

    def store(prepared):  # noqa: ANN001, ANN202 - the insert under way when partitions go
        stored.append(prepared.partition)
        sink.rebalancing = True
        return SimpleNamespace(dead=[], inserted=1, duplicates=0, retracted=0)

    async def commit(offsets):  # noqa: ANN001, ANN202
        committed.extend(tp.partition for tp in offsets)

    sink.writer = SimpleNamespace(prepare=lambda batch: batch, store=store)
    sink.consumer = SimpleNamespace(commit=commit)
    sink.producer = SimpleNamespace()  # no dead letters to send
    for partition in (0, 1, 2):
        sink.ingest(partition, 1, b"01", _record(T), _ms(T))
    sink.inflight, sink.buffers = sink.buffers, {}
    await sink.flush_inflight()
    assert (stored, committed) == ([0], [0])
    assert sorted(sink.inflight) == [1, 2]  # dropped by the revocation, re-read by the owner
