"""The sink: consumer group ``antt-sink`` reading ``antt.events.v1`` into ClickHouse.

Plain aiokafka with manual commits. Records are validated with the shared validator (invalid
events are skipped here: the stream worker dead-letters them), buffered per partition, and
flushed when ``sink_batch_rows`` events are pending or the oldest is ``sink_batch_seconds``
old. A partition's offsets are committed only after ClickHouse acknowledged its batch.

When ClickHouse is down or slow the flush fails with a retryable code: fetching pauses, the
same batches are retried with exponential back-off, and the sink resumes by itself. Fetching
also pauses while more than ``sink_max_pending_rows`` events wait (bounded memory).

Several sinks may share the group. On a rebalance the sink first lets the write in flight
finish and commits what ClickHouse acknowledged, then gives its partitions up (dropping what
it buffered but did not write: the next owner re-reads it from the committed offset). Without
that wait the next owner could look up stored ids before the old write landed and insert the
same events again under another dedup token.

The event loop stays responsive (heartbeats, the rebalance listener, the flush task): a fetched
chunk is validated in slices of at most :data:`SLICE_S` seconds with a yield in between.
The future-time rule of the validator is checked against the record's Kafka timestamp (not
the sink's wall clock), so every sink and every replay of a record gives the same verdict.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from antt.kafka import client_config
from antt.settings import Settings
from schemas.validate import validate_batch
from sinks.errors import Verdict, classify, error_name
from sinks.rows import Batch
from sinks.writer import DeadRow, Prepared, Writer, WriteResult

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass
class SinkStats:
    records: int = 0
    events_valid: int = 0
    events_invalid: int = 0
    inserted: int = 0
    duplicates: int = 0
    retracted: int = 0
    dead_lettered: int = 0
    flushes: int = 0
    retries: int = 0
    pauses: int = 0
    revocations: int = 0  # rebalances that took partitions away from this sink
    committed: dict[int, int] | None = None


SLICE_S = 0.05
"""Longest stretch of validation between two yields to the event loop."""

GROUP_TIMEOUTS: dict[str, int] = {
    "session_timeout_ms": 10_000,
    "heartbeat_interval_ms": 1_000,
    "rebalance_timeout_ms": 30_000,
    "max_poll_interval_ms": 120_000,
}
"""Consumer-group timeouts of the sink (aiokafka keyword arguments).

A dead sink is noticed within the session timeout. The rebalance timeout is how long the
broker waits for members to rejoin: it bounds the wait for a write in flight when partitions
are revoked (:meth:`SinkConsumer.release` waits at most 80 % of it). It stays below the
clients' request timeout (aiokafka: 40 s): a joining member's JoinGroup request is answered
only once every member has rejoined, and a timed-out JoinGroup starts the join over.
"""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sink: SinkConsumer) -> None:
        self.sink = sink

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.sink.release(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.sink.assigned(assigned)


class SinkConsumer:
    def __init__(self, settings: Settings, writer: Writer, clock: Clock | None = None,
                 group_timeouts: dict[str, int] | None = None) -> None:
        self.settings = settings
        self.group_timeouts = {**GROUP_TIMEOUTS, **(group_timeouts or {})}
        self.writer = writer
        self.clock = clock or (lambda: datetime.now(UTC))
        self.topic = settings.events_topic
        self.buffers: dict[int, Batch] = {}  # filling
        self.inflight: dict[int, Batch] = {}  # taken by the current flush (or awaiting a retry)
        self.flush_task: asyncio.Task[None] | None = None
        self.stats = SinkStats(committed={})
        self.oldest: float | None = None
        self.failures = 0
        self.retry_at = 0.0
        self.paused = False
        self.events_per_record = 1000.0
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.rebalancing = False  # between revocation and the next assignment
        self.generation = 0  # bumped at every revocation
        self.assignments = 0  # assignments received (a stable member gets one)

    @property
    def pending(self) -> int:
        """Events held in memory: buffered plus being written."""
        held = list(self.buffers.values()) + list(self.inflight.values())
        return sum(len(b.events) for b in held)

    async def start(self) -> None:
        config = client_config(self.settings)
        self.consumer = AIOKafkaConsumer(
            **config, group_id=self.settings.sink_group_id, enable_auto_commit=False,
            auto_offset_reset="earliest", max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024, **self.group_timeouts,
        )
        self.consumer.subscribe([self.topic], listener=_Rebalance(self))
        self.producer = AIOKafkaProducer(**config, acks="all", linger_ms=5)
        await self.producer.start()
        await self.consumer.start()

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()

    async def run(self, stop: asyncio.Event) -> SinkStats:
        """Consume until ``stop`` is set; pending batches are flushed (best effort) at the end."""
        await self.start()
        try:
            while not stop.is_set():
                await self.step()
            if self.flush_task is not None:
                await self.flush_task
            if not self.inflight and self.buffers:
                self._start_flush()
            if self.flush_task is not None and not self.flush_task.done():
                await self.flush_task
        finally:
            await self.stop()
        return self.stats

    async def step(self) -> None:
        """One turn of the loop: fetch (unless paused), start a flush when one is due.

        Flushes run in a background task (the ClickHouse client in a worker thread), so the
        next batches are fetched and validated while the previous ones are written. One flush
        at a time: a partition's batches are written and committed in offset order.
        """
        assert self.consumer is not None
        self._update_pause()
        records = await self.consumer.getmany(timeout_ms=100, max_records=self._fetch_size())
        await self._ingest_all(records)
        if self.rebalancing:
            return  # no new write while partitions change hands
        if self.flush_task is not None and self.flush_task.done():
            self.flush_task.result()  # failures are handled inside; this re-raises bugs only
            self.flush_task = None
        if self.flush_task is None:
            if self.inflight:
                if time.monotonic() >= self.retry_at:
                    self.flush_task = asyncio.create_task(self.flush_inflight())
            elif self._flush_due():
                self._start_flush()

    async def _ingest_all(self, records: dict[TopicPartition, list[Any]]) -> None:
        """Validate fetched records in slices of :data:`SLICE_S`, yielding in between.

        A rebalance can run during a yield; the rest of the chunk is then dropped (the
        partitions' next owner, maybe this sink again, re-reads it from the committed offset).
        """
        generation = self.generation
        budget = time.monotonic() + SLICE_S
        for tp, messages in records.items():
            for message in messages:
                if self.rebalancing or self.generation != generation:
                    return
                self.ingest(tp.partition, message.offset, message.key, message.value,
                            message.timestamp)
                if time.monotonic() >= budget:
                    await asyncio.sleep(0)
                    budget = time.monotonic() + SLICE_S

    async def release(self, revoked: set[TopicPartition]) -> None:
        """Partitions are being revoked: finish and commit the write in flight, drop the rest.

        aiokafka rejoins the group only after this returns, so the partitions' next owner
        starts from offsets that cover everything this sink stored.
        """
        self.rebalancing = True
        self.generation += 1
        self.stats.revocations += bool(revoked)
        task = self.flush_task
        if task is not None and not task.done():
            limit = 0.8 * self.group_timeouts["rebalance_timeout_ms"] / 1000
            log.info("partitions %s revoked: waiting for the write in flight",
                     sorted(tp.partition for tp in revoked))
            try:
                await asyncio.wait_for(asyncio.shield(task), limit)
            except TimeoutError:
                log.error("the write in flight did not finish within %.0f s of a rebalance: "
                          "the next owner may store its events again", limit)
            except Exception:  # noqa: BLE001 - re-raised by step(); here only the wait matters
                log.debug("flush task failed during a rebalance", exc_info=True)
        for tp in revoked:
            self.buffers.pop(tp.partition, None)
            self.inflight.pop(tp.partition, None)
        if not self.buffers:
            self.oldest = None
        if not self.inflight:
            # Nothing left to retry: fetching must resume (a paused sink with nothing to
            # write would never learn that ClickHouse is back); the next write backs off anew.
            self.failures = 0

    def assigned(self, assigned: set[TopicPartition]) -> None:
        self.writer.reset_requested = True  # others may have written these provinces
        self.rebalancing = False
        self.paused = False  # a new assignment starts fetching; _update_pause decides again
        self.assignments += 1
        log.info("partitions assigned: %s", sorted(tp.partition for tp in assigned))

    def _start_flush(self) -> None:
        self.inflight, self.buffers = self.buffers, {}
        self.oldest = None
        self.flush_task = asyncio.create_task(self.flush_inflight())

    async def flush(self) -> None:
        """Write everything pending now (used at shutdown and by tests)."""
        if self.flush_task is not None:
            await self.flush_task
            self.flush_task = None
        if not self.inflight:
            self.inflight, self.buffers = self.buffers, {}
            self.oldest = None
        await self.flush_inflight()

    def ingest(self, partition: int, offset: int, key: bytes | None, value: bytes | None,
               timestamp_ms: int | None = None) -> None:
        """Validate one record and add its valid events to the partition's batch.

        ``timestamp_ms`` is the record's Kafka timestamp: the validator's "now" (the sink's
        clock only when the record has none).
        """
        self.stats.records += 1
        batch = self.buffers.get(partition)
        if batch is None:
            batch = self.buffers[partition] = Batch(self.topic, partition, offset, offset)
            self.oldest = self.oldest or time.monotonic()
        batch.last_offset = max(batch.last_offset, offset)
        province = key.decode("utf-8", "replace") if key else None
        report = validate_batch(value or b"", now=self._now(timestamp_ms),
                                expected_province=province,
                                future_tolerance_s=self.settings.future_tolerance_s)
        size = len(report.valid) + len(report.rejected)
        self.events_per_record = max(1.0, 0.9 * self.events_per_record + 0.1 * size)
        self.stats.events_invalid += len(report.rejected)
        self.stats.events_valid += len(report.valid)
        if report.valid:
            batch.extend(report.valid, offset)

    def _now(self, timestamp_ms: int | None) -> datetime:
        if timestamp_ms is None or timestamp_ms < 0:
            return self.clock()
        return datetime.fromtimestamp(timestamp_ms / 1000, UTC)

    def _fetch_size(self) -> int:
        """Records to fetch so that pending events stay near ``sink_max_pending_rows``.

        Records carry 1 to 1,000 events; the running mean (starting pessimistic at 1,000)
        converts the free room into a record count.
        """
        room = self.settings.sink_max_pending_rows - self.pending
        per_record = self.events_per_record
        return max(1, min(5_000, int(room / per_record)))

    def _flush_due(self) -> bool:
        if not self.buffers:
            return False
        if self.pending >= self.settings.sink_batch_rows:
            return True
        age = time.monotonic() - (self.oldest or time.monotonic())
        return age >= self.settings.sink_batch_seconds

    def _update_pause(self) -> None:
        assert self.consumer is not None
        want = self.pending >= self.settings.sink_max_pending_rows or self.failures > 0
        assignment = self.consumer.assignment()
        if want and not self.paused and assignment:
            self.consumer.pause(*assignment)
            self.paused = True
            self.stats.pauses += 1
            log.info("fetching paused (%d events pending, %d failed flushes)",
                     self.pending, self.failures)
        elif not want and self.paused:
            self.consumer.resume(*self.consumer.paused())
            self.paused = False
            log.info("fetching resumed")

    async def flush_inflight(self) -> None:
        """Write the taken batches; commit each partition right after its batch is stored.

        Partitions are stored one after the other, in order; the next partition's batch is
        prepared (duplicates dropped, columns built) while the previous one is being stored.
        Once a revocation has begun, no further batch is stored: the insert under way
        finishes and commits, the rest is left to the partitions' next owner (so the
        revocation waits for one insert, not for every partition's).
        """
        parts = [(p, self.inflight[p]) for p in sorted(self.inflight)]
        nxt = self._prepare(parts[0][1]) if parts else None
        for i, (partition, batch) in enumerate(parts):
            assert nxt is not None
            try:
                prepared = await nxt
            except Exception as exc:  # noqa: BLE001 - decided from the ClickHouse code
                self._back_off(batch, exc)
                return
            if self.rebalancing:
                log.info("partitions changing hands: %d batch(es) left unwritten for their "
                         "next owner", len(parts) - i)
                return
            nxt = self._prepare(parts[i + 1][1]) if i + 1 < len(parts) else None
            try:
                result = await asyncio.to_thread(self.writer.store, prepared)
                await self._dead_letter(batch, result.dead)
            except Exception as exc:  # noqa: BLE001 - decided from the ClickHouse code
                if nxt is not None:
                    await asyncio.gather(nxt, return_exceptions=True)  # discarded
                self._back_off(batch, exc)
                return
            if self.inflight.get(partition) is batch:
                del self.inflight[partition]
            await self._commit(batch, result)
        self.failures = 0
        self._update_pause()  # resume fetching at once after an outage

    def _prepare(self, batch: Batch) -> asyncio.Future[Prepared]:
        return asyncio.ensure_future(asyncio.to_thread(self.writer.prepare, batch))

    async def _commit(self, batch: Batch, result: WriteResult) -> None:
        assert self.consumer is not None
        tp = TopicPartition(batch.topic, batch.partition)
        try:
            await self.consumer.commit({tp: OffsetAndMetadata(batch.last_offset + 1, "")})
        except KafkaError as exc:
            # Lost the partition in a rebalance: its next owner re-reads from the last commit,
            # and every write is idempotent, so nothing is lost or doubled.
            log.warning("commit of partition %d offset %d failed (%s); the next owner replays",
                        batch.partition, batch.last_offset + 1, type(exc).__name__)
            return
        s = self.stats
        s.flushes += 1
        s.inserted += result.inserted
        s.duplicates += result.duplicates
        s.retracted += result.retracted
        s.dead_lettered += len(result.dead)
        assert s.committed is not None
        s.committed[batch.partition] = batch.last_offset + 1
        log.debug("partition %d offsets %d-%d: %d inserted, %d duplicates, committed",
                  batch.partition, batch.first_offset, batch.last_offset, result.inserted,
                  result.duplicates)

    def _back_off(self, batch: Batch, exc: BaseException) -> None:
        verdict = classify(exc)
        self.failures += 1
        self.stats.retries += 1
        delay = min(self.settings.sink_retry_max_s, 0.2 * 2 ** min(self.failures, 10))
        delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
        self.retry_at = time.monotonic() + delay
        level = logging.ERROR if verdict is Verdict.FATAL else logging.WARNING
        log.log(level, "ClickHouse write failed for %s partition %d offsets %d-%d (%s, %s): "
                "retry %d in %.1f s", batch.topic, batch.partition, batch.first_offset,
                batch.last_offset, error_name(exc), verdict.value, self.failures, delay)

    async def _dead_letter(self, batch: Batch, dead: list[DeadRow]) -> None:
        assert self.producer is not None
        for row in dead:
            event = row.event
            payload: dict[str, Any] = {
                "reason": f"ClickHouse refused the row: {row.reason}",
                "path": "",
                "index": None,
                "event_id": str(event.get("event_id")),
                "source": {"topic": batch.topic, "partition": batch.partition,
                           "offset": row.offset},
                "raw": _event_json(event),
                "clickhouse_code": row.code,
            }
            key = str(event.get("province_code", "")).encode()
            await self.producer.send_and_wait(self.settings.dlq_topic,
                                              orjson.dumps(payload), key=key)


def _event_json(event: dict[str, Any]) -> str:
    plain = {k: v for k, v in event.items() if v is not None}
    return orjson.dumps(plain, default=str).decode()
