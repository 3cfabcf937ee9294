"""Agent ``count_events``: one source record (a batch of up to 1000 events) at a time.

Records are sent to the validation process as they are fetched and counted in order a few
records later (``streams/agents/pipeline.py``). Per record: validate the batch (or take the
validation process's answer), dead-letter the bad events, dedup and count the good ones in
memory (``Runtime.process``). Per partition and flush interval: wait until the broker holds
the dead letters, write the accepted facts as checkpoint chunks to the table and wait for
them, then ack the records they came from (see
``streams/checkpoint.py`` for why that gives an exactly-once effect). The ClickHouse sink is a
separate consumer group (``sinks/``) on the same topic: valid events reach it from there.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from typing import TYPE_CHECKING, Any

from streams.agents import delivery
from streams.agents.pipeline import Pipeline
from streams.lane import Answer, Lane
from streams.snapshots import SnapshotWrite

if TYPE_CHECKING:
    from streams.app import LiveApp

log = logging.getLogger(__name__)


def register(live_app: LiveApp) -> None:
    unacked: dict[int, list[Any]] = {}
    live_app.extras["unacked"] = unacked
    live_app.extras["letters"] = {}  # partition -> delivery futures of its dead letters
    live_app.extras["arrivals"] = {}  # partition -> when its last record reached the agent

    @live_app.app.agent(live_app.events_topic, name="count_events")
    async def count_events(stream: Any) -> None:
        plain = stream.noack()
        live_app.extras["stream"] = plain
        settings = live_app.settings
        lane = (Lane(settings.future_tolerance_s) if settings.worker_validation_process
                else None)

        async def handle(event: Any, answer: Answer | None) -> None:
            await _handle(live_app, plain, event, unacked, answer)

        pipeline = Pipeline(handle, settings.worker_pipeline_records, lane)
        live_app.extras["lane"] = lane
        live_app.extras["pipeline"] = pipeline
        drop = settings.worker_test_drop_record  # (tests only: 0, never)
        await pipeline.start()
        try:
            async for event in plain.events():
                drop -= 1
                if drop == 0:
                    log.warning("test hook: record %s[%d]@%d ignored, as if never delivered",
                                settings.events_topic, event.message.partition,
                                event.message.offset)
                    continue
                delivery.arrived(live_app, event.message.partition)
                await pipeline.put(event)
        finally:
            await pipeline.close()


def forget(live_app: LiveApp, partitions: set[int]) -> None:
    """Drop the unacked records of revoked partitions: their new owner replays them."""
    unacked: dict[int, list[Any]] = live_app.extras["unacked"]
    for partition in partitions:
        unacked.pop(partition, None)
        live_app.extras["letters"].pop(partition, None)
    delivery.forget(live_app, partitions)


async def _handle(
    live_app: LiveApp, stream: Any, event: Any, unacked: dict[int, list[Any]],
    answer: Answer | None = None,
) -> None:
    """Count one record (in the order fetched), with the validation lane's answer for it if
    it gave one (``streams/agents/pipeline.py``)."""
    message = event.message
    partition, offset = message.partition, message.offset
    runtime = live_app.runtime
    if partition not in runtime.loaded:
        for _ in range(2):  # (again if a restore under way was for a previous assignment)
            live_app.restore_assigned()
            restoring = live_app.restoring.get(partition)
            if restoring is None:
                break
            await _wait_restore(live_app, restoring, partition, offset)
        if partition not in runtime.loaded:
            # A record fetched before a rebalance took the partition away (or revoked
            # during its restore): leave it unacked; the owner re-reads it from the
            # committed offset (Faust seeks there after every rebalance).
            log.info("skipping %s[%d]@%d: partition not held here now",
                     live_app.settings.events_topic, partition, offset)
            return
    if not await delivery.in_sequence(live_app, message.tp, offset):
        return
    async with _lock(live_app, partition):
        await _count(live_app, stream, event, unacked, answer)


async def _wait_restore(
    live_app: LiveApp, restoring: asyncio.Future[None], partition: int, offset: int
) -> None:
    """The record waits for its partition's restore (a task, in steps), and so do the
    agent's next ones; the event loop (the live API, flushes) runs meanwhile."""
    waiting: set[int] = live_app.extras.setdefault("waiting", set())
    waiting.add(partition)
    log.info("record %s[%d]@%d waits for its partition's restore",
             live_app.settings.events_topic, partition, offset)
    try:
        await asyncio.shield(restoring)
    finally:
        waiting.discard(partition)


async def _count(
    live_app: LiveApp, stream: Any, event: Any, unacked: dict[int, list[Any]],
    answer: Answer | None = None,
) -> None:
    message = event.message
    partition, offset = message.partition, message.offset
    runtime = live_app.runtime
    if partition not in runtime.loaded:
        return  # revoked while this waited for the partition's lock
    now = time.time()
    result = runtime.process(message.value, message.key, partition, offset, now,
                             record_ts=message.timestamp, answer=answer)
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
    partition and wait for them, write the snapshots that are due, then ack its records.

    The caller holds the partition's lock (:func:`_lock`): no record of the partition is
    decided while this runs, so none is decided under a horizon not yet on the broker.
    Writes go through ``send_changelog`` with an explicit partition (not ``table[key]``),
    so the idle-flush timer can checkpoint too; the changelog partition equals the source
    partition, as Faust's own table writes would choose. The first flush after the partition
    was adopted fixes the owner epoch that its keys carry, from the consumer generation of
    the assignment (``streams/checkpoint.py``: how a stalled owner's late writes are made
    harmless).
    """
    runtime = live_app.runtime
    if partition in runtime.loaded:  # (no wait since: the assignment it was adopted in)
        runtime.retention.stamp(partition, live_app.app.consumer_generation_id)
    events = unacked.pop(partition, [])
    # Dead letters first: once a chunk covers a record, a replay no longer re-emits the
    # record's letters, so they must be on the broker before the chunk is written.
    letters = live_app.extras["letters"].pop(partition, None)
    if letters:
        await asyncio.gather(*letters)
    chunks = runtime.take_chunks(partition, now)
    frozen = bool(chunks) and _test_freeze(live_app, partition)
    sent = [_write(live_app, partition, chunk.key, chunk.encode()) for chunk in chunks]
    # The records are acked (and so may be committed) only once the broker holds their
    # checkpoint: Faust's own flush before a commit gives up after a short wait.
    if sent:
        await asyncio.gather(*sent)
    if frozen:
        log.warning("test hook: the chunks of the frozen flush are on the broker")
    snaps = runtime.take_snapshots(partition, now, build=False)
    for job in snaps:
        # Built in steps: the event loop (other partitions, the live API) runs meanwhile;
        # this partition's records wait for its lock, so its state cannot change.
        snap = await job.build_async()
        if runtime.states.get(snap.province) is not job.state:
            log.info("snapshot of province %s not written: partition %d was revoked while "
                     "it was built", snap.province, partition)
            continue
        await _write_snapshot(live_app, snap)
    if sent or snaps:
        # One record on its own last: the local Tansu broker answers ListOffsets with the
        # last batch's first offset + 1, so Faust's recovery (which reads up to that) would
        # miss the rest of a last batch of several records (measured; Kafka is exact).
        await _write(live_app, partition, f"{partition}:end", b"1")
    for pending in events:
        await stream.ack(pending)


def _write(live_app: LiveApp, partition: int, key: str, value: bytes | None) -> Any:
    """One changelog record (``None``: a tombstone); also kept in the local table."""
    table = live_app.table
    if value is None:
        table.data.pop(key, None)
    else:
        table.data[key] = value  # Faust may not re-read the changelog on reassignment
    return table.send_changelog(partition, key, value)


async def _write_snapshot(live_app: LiveApp, snap: SnapshotWrite) -> None:
    """Parts, then the manifest, then the tombstones, each acknowledged before the next.

    Parts go one at a time (each its own batch: see the note on Tansu in :func:`_flush`),
    so that a restore after a crash between parts sees them all and tombstones them.
    """
    p = snap.partition
    await _test_pause(live_app, "before_parts", snap)
    half = len(snap.parts) // 2
    for i, (key, value) in enumerate(snap.parts):
        if i == half and half:
            await _test_pause(live_app, "between_parts", snap)
        await _write(live_app, p, key, value)
    await _write(live_app, p, *snap.manifest)
    await _test_pause(live_app, "before_tombstones", snap)
    half = len(snap.tombstones) // 2
    await asyncio.gather(*(_write(live_app, p, k, None) for k in snap.tombstones[:half]))
    if half:
        await _test_pause(live_app, "between_tombstones", snap)
    await asyncio.gather(*(_write(live_app, p, k, None) for k in snap.tombstones[half:]))
    log.info("snapshot of province %s (partition %d): %d parts, %d facts kept, %d evicted, "
             "%d keys tombstoned", snap.province, p, len(snap.parts), snap.kept, snap.evicted,
             len(snap.tombstones))


async def _test_pause(live_app: LiveApp, point: str, snap: SnapshotWrite) -> None:
    """Test hook (setting ``worker_snapshot_pause``): stop here once, for a ``kill -9``; with
    ``stop:<point>``, stop the whole process there (SIGSTOP) and go on after a SIGCONT."""
    setting = live_app.settings.worker_snapshot_pause
    if setting.removeprefix("stop:") != point or live_app.extras.get("paused"):
        return
    live_app.extras["paused"] = point
    live_app.runtime.stats["snapshot_paused"] = 1
    log.warning("test hook: snapshot of province %s (partition %d) paused at %s",
                snap.province, snap.partition, point)
    if setting.startswith("stop:"):
        _stop_process()
        return
    await asyncio.Event().wait()


def _test_freeze(live_app: LiveApp, partition: int) -> bool:
    """Test hook (setting ``worker_test_freeze_flush``): the Nth flush with chunks stops the
    whole process here (SIGSTOP: threads, heartbeats and all, as a long GC pause or a frozen
    VM would) until it gets a SIGCONT; whether this was that flush."""
    n = live_app.settings.worker_test_freeze_flush
    if not n:
        return False
    count = live_app.extras["flushes"] = live_app.extras.get("flushes", 0) + 1
    if count != n:
        return False
    log.warning("test hook: flush %d (partition %d) stops the process before writing its "
                "chunks", n, partition)
    _stop_process()
    return True


def _stop_process() -> None:
    """Test hooks: the whole process stops here (SIGSTOP) until it gets a SIGCONT."""
    os.kill(os.getpid(), signal.SIGSTOP)
    log.warning("test hook: the process goes on after SIGCONT")


def _lock(live_app: LiveApp, partition: int) -> asyncio.Lock:
    locks: dict[int, asyncio.Lock] = live_app.extras.setdefault("locks", {})
    lock = locks.get(partition)
    if lock is None:
        lock = locks[partition] = asyncio.Lock()
    return lock


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
                async with _lock(live_app, partition):
                    if runtime.flush_due(partition, now):
                        await _flush(live_app, stream, partition, now, unacked)

    return flush_idle
