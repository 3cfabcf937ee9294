"""Helpers for the sink's integration tests: produce, wait, run the sink, read a topic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager

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


@asynccontextmanager
async def running_sink(settings: Settings) -> AsyncIterator[SinkConsumer]:
    sink = build_sink(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    try:
        yield sink
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        sink.writer.client.close()
        sink.writer.lookup.close()


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
