"""Helpers for the sink's integration tests: produce, wait, run the sink, read a topic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from antt.kafka import client_config
from antt.settings import Settings
from sinks.consumer import SinkConsumer
from sinks.service import build_sink


async def produce(settings: Settings, records: Iterable[tuple[str, object]],
                  topic: str | None = None) -> None:
    """Send (province key, events list or raw bytes) records, in order, and wait for acks."""
    producer = AIOKafkaProducer(**client_config(settings), acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = []
        for key, value in records:
            raw = value if isinstance(value, bytes) else orjson.dumps(value)
            futures.append(await producer.send(topic or settings.events_topic, raw,
                                               key=key.encode()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def end_offsets(settings: Settings, topic: str | None = None) -> dict[int, int]:
    consumer = AIOKafkaConsumer(**client_config(settings))
    await consumer.start()
    try:
        name = topic or settings.events_topic
        parts = consumer.partitions_for_topic(name) or set()
        tps = [TopicPartition(name, p) for p in parts]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: off for tp, off in ends.items()}
    finally:
        await consumer.stop()


async def wait_until(check: Callable[[], Awaitable[bool] | bool], timeout: float,
                     what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


QUICK_GROUP = {"session_timeout_ms": 4_000, "heartbeat_interval_ms": 500}
"""Group timeouts of the sinks these tests run in-process (the rebalance timeout stays).

The broker (Tansu) answers a JoinGroup only after about half the joining member's session
timeout (measured: 10 s -> 5 s, 4 s -> 2 s, 2 s -> 1 s), so every start and every rebalance
of a sink with the production 10 s costs 5 s of waiting. 4 s still leaves 8 missed
heartbeats before a member is expelled; a dead member is noticed within that."""


def quick_sink(settings: Settings) -> SinkConsumer:
    """``build_sink`` with the tests' shorter session timeout (:data:`QUICK_GROUP`)."""
    sink = build_sink(settings)
    sink.group_timeouts.update(QUICK_GROUP)
    return sink


@asynccontextmanager
async def running_sink(settings: Settings) -> AsyncIterator[SinkConsumer]:
    """Build a sink for ``settings`` (:func:`quick_sink`) and run it until the block ends."""
    async with running(quick_sink(settings)) as sink:
        yield sink


async def caught_up(sink: SinkConsumer, settings: Settings) -> bool:
    """Every partition's committed offset reached the topic's end."""
    ends = await end_offsets(settings)
    committed = sink.stats.committed or {}
    return all(committed.get(p, 0) >= end for p, end in ends.items() if end > 0)


async def read_topic(settings: Settings, topic: str, expected: int,
                     timeout: float = 20) -> list[dict]:
    """The first ``expected`` records of ``topic`` (JSON values), read from the beginning."""
    consumer = AIOKafkaConsumer(topic, **client_config(settings),
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    out: list[dict] = []
    try:
        deadline = time.monotonic() + timeout
        while len(out) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                out += [orjson.loads(m.value) for m in messages]
    finally:
        await consumer.stop()
    return out


async def group_committed(settings: Settings, topic: str | None = None) -> dict[int, int]:
    """The sink group's committed offset per partition, as the broker has it (-1: none)."""
    consumer = AIOKafkaConsumer(**client_config(settings), group_id=settings.sink_group_id,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        name = topic or settings.events_topic
        parts = consumer.partitions_for_topic(name) or set()
        out = {}
        for p in sorted(parts):
            committed = await consumer.committed(TopicPartition(name, p))
            out[p] = -1 if committed is None else committed
        return out
    finally:
        await consumer.stop()


async def group_caught_up(settings: Settings) -> bool:
    """The group's committed offsets reached the end of every non-empty partition."""
    ends = await end_offsets(settings)
    committed = await group_committed(settings)
    return all(committed.get(p, -1) >= end for p, end in ends.items() if end > 0)


def slow_stores(sink: SinkConsumer, delay_s: float) -> None:
    """Make every ClickHouse insert of ``sink`` take ``delay_s`` longer (a slow server).

    The delay runs in the flush's worker thread before the real insert, so a rebalance can be
    made to happen while a write is in flight.
    """
    store = sink.writer.store

    def slow(prepared):  # noqa: ANN001, ANN202
        time.sleep(delay_s)
        return store(prepared)

    sink.writer.store = slow  # type: ignore[method-assign]


@asynccontextmanager
async def running(sink: SinkConsumer) -> AsyncIterator[SinkConsumer]:
    """Run an already built sink (see :func:`running_sink`) until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    try:
        yield sink
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        sink.writer.client.close()
        sink.writer.lookup.close()


def truth_diffs(ch, settings: Settings, truth: dict, today) -> list[str]:  # noqa: ANN001
    """Differences between ClickHouse's figures and a simulation's truth (national + provinces)."""
    from datetime import date

    from ingest.simulate.compare import compare
    from sinks.figures import backlog, period_figures

    db = settings.clickhouse_database

    def answer(part: dict, province: str | None) -> dict:
        periods = {}
        for name, period in part["periods"].items():
            start, end = date.fromisoformat(period["start"]), date.fromisoformat(period["end"])
            periods[name] = {"start": period["start"], "end": period["end"],
                             "figures": period_figures(ch, db, start, end, settings.timezone,
                                                       province)}
        return {"periods": periods, "backlog": backlog(ch, db, today, province)}

    national = truth["national"]
    diffs = compare({"periods": national["periods"], "backlog": national["backlog"]},
                    answer(national, None))
    for code, part in truth["provinces"].items():
        diffs += compare({"periods": part["periods"], "backlog": part["backlog"]},
                         answer(part, code), f"provinces.{code}")
    return diffs


def store_then_forget_migration_6(ch: Any, settings: Settings) -> None:
    """Store 10 events, then drop migration 6 (a table with a backfill) and its record, as if
    that version arrived only after the data."""
    from datetime import UTC, datetime

    from schemas.examples import make_event
    from schemas.validate import validate_batch
    from sinks.rows import Batch
    from sinks.writer import Writer

    events = [make_event("report_received") for _ in range(7)]
    events += [make_event("report_resolved", decision="institute") for _ in range(3)]
    batch = Batch("t", 0, 0, 0)
    for i, event in enumerate(validate_batch(events, now=datetime.now(UTC)).valid):
        batch.add(event.__dict__, i)
    Writer(ch, settings).write(batch)
    ch.command("DROP VIEW official_monthly_province_mv")
    ch.command("DROP TABLE official_monthly_province")
    ch.command("ALTER TABLE schema_migrations DELETE WHERE version = 6 "
               "SETTINGS mutations_sync = 1")
