"""Agent ``count_events``: one source record (a batch of up to 1000 events) per iteration.

Per record: validate the batch, dead-letter the bad events, dedup and count the good ones in
memory (``Runtime.process``). Per partition and flush interval: write the accepted facts as
checkpoint chunks to the table, then ack the records they came from (see
``streams/checkpoint.py`` for why that gives an exactly-once effect). The ClickHouse sink is a
separate consumer group (``sinks/``) on the same topic: valid events reach it from there.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.app import LiveApp

log = logging.getLogger(__name__)


def register(live_app: LiveApp) -> None:
    unacked: dict[int, list[Any]] = {}
    live_app.extras["unacked"] = unacked

    @live_app.app.agent(live_app.events_topic, name="count_events")
    async def count_events(stream: Any) -> None:
        plain = stream.noack()
        live_app.extras["stream"] = plain
        async for event in plain.events():
            await _handle(live_app, plain, event, unacked)


def forget(live_app: LiveApp, partitions: set[int]) -> None:
    """Drop the unacked records of revoked partitions: their new owner replays them."""
    unacked: dict[int, list[Any]] = live_app.extras["unacked"]
    for partition in partitions:
        unacked.pop(partition, None)


async def _handle(
    live_app: LiveApp, stream: Any, event: Any, unacked: dict[int, list[Any]]
) -> None:
    message = event.message
    partition, offset = message.partition, message.offset
    runtime = live_app.runtime
    if partition not in runtime.loaded:
        live_app.restore_assigned()
        if partition not in runtime.loaded:  # not expected: recovery runs before agents
            runtime.restore({partition}, live_app.table.items(), time.time())
    now = time.time()
    result = runtime.process(message.value, message.key, partition, offset, now)
    for letter in result.dead_letters:
        await live_app.dlq_topic.send(key=message.key, value=letter)
    if result.dead_letters:
        log.info("%d dead letters from %s[%d]@%d", len(result.dead_letters),
                 live_app.settings.events_topic, partition, offset)
    unacked.setdefault(partition, []).append(event)
    if runtime.flush_due(partition, now):
        await _flush(live_app, stream, partition, now, unacked)


async def _flush(
    live_app: LiveApp, stream: Any, partition: int, now: float, unacked: dict[int, list[Any]]
) -> None:
    """Write the partition's chunks to its own changelog partition, then ack its records.

    The write goes through ``send_changelog`` with an explicit partition (not ``table[key]``),
    so the idle-flush timer can checkpoint too; the changelog partition equals the source
    partition, as Faust's own table writes would choose.
    """
    table = live_app.table
    for chunk in live_app.runtime.take_chunks(partition, now):
        value = chunk.encode()
        table.data[chunk.key] = value
        table.send_changelog(partition, chunk.key, value)
    for pending in unacked.pop(partition, []):
        await stream.ack(pending)


def idle_flusher(live_app: LiveApp) -> Any:
    """Timer body: checkpoint partitions that went quiet with facts pending."""
    unacked: dict[int, list[Any]] = live_app.extras["unacked"]

    async def flush_idle() -> None:
        stream = live_app.extras.get("stream")
        if stream is None:
            return
        now = time.time()
        runtime = live_app.runtime
        for partition in list(runtime.pending):
            if partition in runtime.loaded and runtime.flush_due(partition, now):
                await _flush(live_app, stream, partition, now, unacked)

    return flush_idle
