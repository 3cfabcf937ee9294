"""Agent ``count_events``: one source record (a batch of up to 1000 events) per iteration.

Per record: validate the batch, dead-letter the bad events, dedup and count the good ones in
memory (``Runtime.process``). Per partition and flush interval: wait until the broker holds
the dead letters, write the accepted facts as checkpoint chunks to the table and wait for
them, then ack the records they came from (see
``streams/checkpoint.py`` for why that gives an exactly-once effect). The ClickHouse sink is a
separate consumer group (``sinks/``) on the same topic: valid events reach it from there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from streams.compat import committed_offset

if TYPE_CHECKING:
    from streams.app import LiveApp

log = logging.getLogger(__name__)


def register(live_app: LiveApp) -> None:
    unacked: dict[int, list[Any]] = {}
    live_app.extras["unacked"] = unacked
    live_app.extras["letters"] = {}  # partition -> delivery futures of its dead letters

    @live_app.app.agent(live_app.events_topic, name="count_events")
    async def count_events(stream: Any) -> None:
        plain = stream.noack()
        live_app.extras["stream"] = plain
        async for event in plain.events():
            await _handle(live_app, plain, event, unacked)


async def recheck_positions(live_app: LiveApp, delay_s: float = 0.5) -> None:
    """After a rebalance: partitions that delivered nothing yet are sought to their committed
    offset (or 0), in case records fetched during table recovery were dropped (see
    :func:`_in_sequence`; a hole is only visible there if a later record arrives)."""
    await asyncio.sleep(delay_s)
    if not live_app.ready:
        return
    expected: dict[int, int] = live_app.extras.setdefault("expected", {})
    consumer = live_app.app.consumer
    for tp in live_app.app.assignor.assigned_actives():
        if tp.topic == live_app.settings.events_topic and tp.partition not in expected:
            await consumer.seek(tp, committed_offset(consumer, tp) or 0)


def forget(live_app: LiveApp, partitions: set[int]) -> None:
    """Drop the unacked records of revoked partitions: their new owner replays them."""
    unacked: dict[int, list[Any]] = live_app.extras["unacked"]
    expected: dict[int, int] = live_app.extras.setdefault("expected", {})
    for partition in partitions:
        unacked.pop(partition, None)
        expected.pop(partition, None)
        live_app.extras["letters"].pop(partition, None)


async def _in_sequence(live_app: LiveApp, tp: Any, offset: int) -> bool:
    """Whether ``offset`` continues its partition; if records were skipped, seek back.

    Faust drops records fetched while a partition is paused for table recovery, and with no
    committed offset yet it does not seek back afterwards: those records would never be seen
    (observed with a fresh consumer group restarted after kill -9). So the agent checks that
    offsets arrive without holes from the committed position; on a hole it seeks back once.
    A hole seen twice at the same place is real (e.g. compaction) and is accepted.
    """
    extras = live_app.extras
    expected: dict[int, int] = extras.setdefault("expected", {})
    holes: dict[int, tuple[int, int]] = extras.setdefault("holes", {})
    partition = tp.partition
    want = expected.get(partition)
    if want is None:
        # Faust's committed-offset map can lack a partition just taken over from another
        # worker (its committed offset is then unknown here, not 0); the restored state
        # knows how far the partition was applied, and the broker never delivers from
        # before the committed offset, which is never past the last checkpoint.
        committed = committed_offset(live_app.app.consumer, tp) or 0
        want = max(committed, live_app.runtime.applied_through(partition) + 1)
    if offset > want and holes.get(partition) != (want, offset):
        holes[partition] = (want, offset)
        log.warning("records %s[%d]@%d..%d were not delivered: seeking back",
                    tp.topic, partition, want, offset - 1)
        expected[partition] = want
        await live_app.app.consumer.seek(tp, want)
        return False
    expected[partition] = max(want, offset + 1)
    return True


async def _handle(
    live_app: LiveApp, stream: Any, event: Any, unacked: dict[int, list[Any]]
) -> None:
    message = event.message
    partition, offset = message.partition, message.offset
    runtime = live_app.runtime
    if partition not in runtime.loaded:
        live_app.restore_assigned()
        if partition not in runtime.loaded:
            # A record fetched before a rebalance took the partition away (or before its
            # state is restored): leave it unacked; the owner re-reads it from the
            # committed offset (Faust seeks there after every rebalance).
            log.info("skipping %s[%d]@%d: partition not held here now",
                     live_app.settings.events_topic, partition, offset)
            return
    if not await _in_sequence(live_app, message.tp, offset):
        return
    now = time.time()
    result = runtime.process(message.value, message.key, partition, offset, now)
    if result.dead_letters:
        sent = live_app.extras["letters"].setdefault(partition, [])
        for letter in result.dead_letters:
            sent.append(await live_app.dlq_topic.send(key=message.key, value=letter))
        log.info("%d dead letters from %s[%d]@%d", len(result.dead_letters),
                 live_app.settings.events_topic, partition, offset)
    unacked.setdefault(partition, []).append(event)
    if runtime.flush_due(partition, now):
        await _flush(live_app, stream, partition, now, unacked)


async def _flush(
    live_app: LiveApp, stream: Any, partition: int, now: float, unacked: dict[int, list[Any]]
) -> None:
    """Wait for the partition's dead letters, write its chunks to its own changelog
    partition and wait for them, then ack its records.

    The write goes through ``send_changelog`` with an explicit partition (not ``table[key]``),
    so the idle-flush timer can checkpoint too; the changelog partition equals the source
    partition, as Faust's own table writes would choose.
    """
    # Dead letters first: once a chunk covers a record, a replay no longer re-emits the
    # record's letters, so they must be on the broker before the chunk is written.
    letters = live_app.extras["letters"].pop(partition, None)
    if letters:
        await asyncio.gather(*letters)
    table = live_app.table
    sent = []
    for chunk in live_app.runtime.take_chunks(partition, now):
        value = chunk.encode()
        table.data[chunk.key] = value  # Faust may not re-read the changelog on reassignment
        sent.append(table.send_changelog(partition, chunk.key, value))
    # The records are acked (and so may be committed) only once the broker holds their
    # checkpoint: Faust's own flush before a commit gives up after a short wait.
    if sent:
        await asyncio.gather(*sent)
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
