"""Per-province snapshots and eviction for the worker's :class:`~streams.runtime.Runtime`.

The record format and the crash argument are in ``streams/checkpoint.py``; what leaves
memory, and what the acceptance horizon means, in ``streams/logic/retention.py``. This module
keeps the bookkeeping (which chunks and parts a province's current snapshot supersedes, the
frozen counters, the horizon) and builds the records to write; the agent writes them in order
(parts, then manifest, then tombstones), each group acknowledged before the next.
The worker builds a snapshot in steps (:meth:`Retention.snapshot_async`: eviction, JSON,
zlib and SHA-256 a slice at a time), so that its event loop keeps serving the other
partitions and the live API meanwhile; the records are those of :meth:`Retention.snapshot`.
It restores a province in steps too (:meth:`Retention.restore_steps`: into a fresh state,
with this object's bookkeeping taken only by :meth:`Retention.adopt`, once the whole
partition is rebuilt; ``Runtime.restore_async``).
No Kafka here: tested with plain dicts as the table.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from antt.perf import gc_paused
from streams import checkpoint
from streams.logic.facts import F_REC, Fact, from_json
from streams.logic.retention import (
    MIN_WINDOW_DAYS,
    Frozen,
    Steps,
    T,
    drive,
    evict_steps,
    horizon_at,
)
from streams.logic.state import ProvinceState

log = logging.getLogger(__name__)
LOOP_BUDGET_S = 0.005  # how long a snapshot holds the event loop between two yields (about)


async def drive_async(steps: Steps[T], budget_s: float = LOOP_BUDGET_S) -> T:
    """Run ``steps`` (see ``streams/logic/retention.py``) on the event loop, letting it run
    once ``budget_s`` has passed since it last did; a yielded callable (pure CPU work that
    releases the GIL: zlib, SHA-256) runs in a thread meanwhile. Another task may wait up to
    about twice ``budget_s`` (this one may run first in the loop's turn where it is due)."""
    result: object = None
    last = time.perf_counter()
    while True:
        try:
            item = steps.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        result = None
        if callable(item):
            result = await asyncio.to_thread(item)
            last = time.perf_counter()
        elif time.perf_counter() - last >= budget_s:
            await asyncio.sleep(0)
            last = time.perf_counter()


@dataclass
class Policy:
    """When to snapshot and what to evict (0 turns a rule off)."""

    window_days: float = 0.0  # acceptance window; 0: keep every fact, refuse nothing
    every_chunks: int = 0  # snapshot after this many chunks of a province; 0: never
    min_facts: int = 50_000  # ... or this many new facts, and at least half the kept ones
    part_bytes: int = 512 * 1024

    def __post_init__(self) -> None:
        if 0 < self.window_days < MIN_WINDOW_DAYS:
            raise ValueError(f"an acceptance window of {self.window_days} days is too short: "
                             f"0 (keep every fact) or at least {MIN_WINDOW_DAYS} days")


@dataclass
class SnapshotWrite:
    """The records of one snapshot, in the order they must reach the broker."""

    partition: int
    province: str
    parts: list[tuple[str, bytes]]
    manifest: tuple[str, bytes]
    tombstones: list[str]
    evicted: int = 0
    kept: int = 0


@dataclass
class SnapshotJob:
    """A snapshot found due and not built yet: :meth:`build` it at once, or
    :meth:`build_async` it while the event loop keeps running."""

    retention: Retention
    partition: int
    state: ProvinceState
    next_seq: int
    now_ts: float

    def build(self) -> SnapshotWrite:
        return self.retention.snapshot(self.partition, self.state, self.next_seq, self.now_ts)

    async def build_async(self) -> SnapshotWrite:
        return await self.retention.snapshot_async(self.partition, self.state, self.next_seq,
                                                   self.now_ts)


RESTORE_SLICE = 1000  # facts applied per step of a restore (about 2 ms)


def _apply_steps(state: ProvinceState, facts: list[Fact], now_ts: float) -> Steps[int]:
    for i in range(0, len(facts), RESTORE_SLICE):
        state.apply_many(facts[i : i + RESTORE_SLICE], now_ts)
        yield None
    return len(facts)


@dataclass
class Province:
    """Retention bookkeeping of one province."""

    snap_seq: int = 0  # chunks with seq < snap_seq are in the current snapshot
    snap_parts: int = 0  # parts of the current snapshot (0: none yet)
    chunks_since: int = 0
    facts_since: int = 0
    horizon: float | None = None
    frozen: Frozen = field(default_factory=Frozen)
    # What the next snapshot supersedes, besides this owner's chunks from seq own_first on:
    # the current snapshot's parts, the keys of other epochs the restore applied (their
    # chunks, manifest and parts; a manifest of this epoch is overwritten by the next one),
    # and the keys the restore found but did not need (``Stored.superseded``).
    covered: list[str] = field(default_factory=list, compare=False)
    own_first: int | None = field(default=None, compare=False)


@dataclass
class RestoredProvince:
    """A province rebuilt by :meth:`Retention.restore_steps`, not adopted yet."""

    state: ProvinceState
    partition: int
    bookkeeping: Province
    replayed: int
    next_seq: int
    top_epoch: int = 0  # the highest owner epoch among the province's keys


@dataclass
class RestoredPartitions:
    """Provinces of ``partitions`` rebuilt from the table (``Runtime.restore_steps``), not
    in the worker's state yet (``Runtime.adopt``)."""

    partitions: set[int]
    provinces: list[RestoredProvince] = field(default_factory=list)


class Retention:
    def __init__(self, policy: Policy, stats: dict[str, int]):
        self.policy = policy
        self.provinces: dict[str, Province] = {}
        self.found: dict[int, int] = {}  # partition -> highest owner epoch its restore found
        self.epochs: dict[int, int] = {}  # partition -> this owner's epoch (stamp)
        self.stats = stats
        for name in ("snapshots", "evicted_facts", "tombstones", "outside_window"):
            stats.setdefault(name, 0)

    def horizon(self, province: str) -> float | None:
        p = self.provinces.get(province)
        return p.horizon if p is not None else None

    def stamp(self, partition: int, generation: int) -> int:
        """This owner's epoch for ``partition`` (``streams/checkpoint.py``), fixed at the
        first call after the partition was adopted: the highest epoch its restore found +
        the consumer group's generation of the assignment (0 if unknown) + 1."""
        epoch = self.epochs.get(partition)
        if epoch is None:
            found = self.found.get(partition, 0)
            epoch = self.epochs[partition] = found + max(generation, 0) + 1
            log.info("partition %d: checkpoint owner epoch %d (generation %d, highest epoch "
                     "found %d)", partition, epoch, generation, found)
        return epoch

    def epoch(self, partition: int) -> int:
        """The epoch of :meth:`stamp` (stamped with generation 0 if not yet); 0 (keys of
        the format before epochs) for a partition never adopted (tests without restores)."""
        if partition not in self.epochs and partition not in self.found:
            return 0
        return self.stamp(partition, 0)

    def wrote_chunks(self, province: str, chunks: list[checkpoint.Chunk]) -> None:
        """Bookkeeping of chunks taken to be written (made with :meth:`epoch`)."""
        p = self.provinces.setdefault(province, Province())
        p.chunks_since += len(chunks)
        p.facts_since += sum(len(c.facts) for c in chunks)
        if chunks and p.own_first is None:
            p.own_first = chunks[0].seq

    def due(self, province: str, kept: int) -> bool:
        p = self.provinces.get(province)
        every = self.policy.every_chunks
        if p is None or not every or not p.chunks_since:
            return False
        return p.chunks_since >= every or p.facts_since >= max(self.policy.min_facts, kept // 2)

    def snapshot(
        self, partition: int, state: ProvinceState, next_seq: int, now_ts: float
    ) -> SnapshotWrite:
        """Evict, then build the snapshot covering every chunk below ``next_seq``.

        The caller must have taken the province's pending facts as chunks first (the
        snapshot's ``wm`` is the state's), and must write nothing decided under the new
        horizon before the manifest is acknowledged.
        """
        return drive(self.snapshot_steps(partition, state, next_seq, now_ts))

    async def snapshot_async(
        self, partition: int, state: ProvinceState, next_seq: int, now_ts: float,
        budget_s: float = LOOP_BUDGET_S,
    ) -> SnapshotWrite:
        """:meth:`snapshot` without holding the event loop more than about ``budget_s`` at a
        time (same records). Until it returns, nothing else may change ``state``'s facts:
        the worker holds the partition's lock, so that partition's records wait. The cyclic
        GC is paused meanwhile (as for a restore): eviction's scratch state is hundreds of
        thousands of short-lived objects that a collection pass would otherwise scan."""
        with gc_paused():
            return await drive_async(self.snapshot_steps(partition, state, next_seq, now_ts),
                                     budget_s)

    def snapshot_steps(
        self, partition: int, state: ProvinceState, next_seq: int, now_ts: float
    ) -> Steps[SnapshotWrite]:
        """:meth:`snapshot` in steps (``streams/logic/retention.py``'s :data:`Steps`)."""
        province = state.code
        p = self.provinces.setdefault(province, Province())
        evicted = 0
        if self.policy.window_days > 0:
            horizon = max(horizon_at(now_ts, self.policy.window_days),
                          p.horizon if p.horizon is not None else float("-inf"))
            evicted = yield from evict_steps(state, horizon, self.policy.window_days,
                                             p.frozen, now_ts)
            p.horizon = horizon
        # A copy taken in one step (facts are immutable tuples, the frozen rows are copied):
        # what is encoded cannot change while the event loop runs between the steps.
        body = {"frozen": p.frozen.to_json(), "facts": list(state.registry.values())}
        kept = len(body["facts"])
        epoch = self.epoch(partition)
        parts, manifest = yield from checkpoint.encode_snapshot_steps(
            partition, province, next_seq, state.watermark, p.horizon, body,
            self.policy.part_bytes, epoch,
        )
        own = ([] if p.own_first is None else
               [checkpoint.chunk_key(partition, province, seq, epoch)
                for seq in range(p.own_first, next_seq)])
        rewritten = {key for key, _ in parts} | {manifest[0]}
        tombstones = [k for k in own + p.covered if k not in rewritten]
        p.snap_seq, p.snap_parts = next_seq, len(parts)
        p.covered, p.own_first = [key for key, _ in parts], None
        p.chunks_since = p.facts_since = 0
        self.stats["snapshots"] += 1
        self.stats["evicted_facts"] += evicted
        self.stats["tombstones"] += len(tombstones)
        return SnapshotWrite(partition, province, parts, manifest, tombstones, evicted, kept)

    def restore(
        self, state: ProvinceState, stored: checkpoint.Stored, now_ts: float
    ) -> tuple[int, int]:
        """Rebuild ``state`` from a stored snapshot + chunks; ``(facts replayed, next seq)``."""
        restored = drive(self.restore_steps(state, stored, now_ts))
        self.adopt(restored)
        return restored.replayed, restored.next_seq

    def restore_steps(
        self, state: ProvinceState, stored: checkpoint.Stored, now_ts: float
    ) -> Steps[RestoredProvince]:
        """:meth:`restore` in steps (``streams/logic/retention.py``'s :data:`Steps`), into
        ``state`` only: this object's bookkeeping changes when the result is given to
        :meth:`adopt` (a restore dropped half-way leaves no trace here)."""
        p = Province()
        snap_epoch = stored.snap_epoch
        snap = yield from stored.snapshot_steps()
        replayed = 0
        if snap is not None:
            manifest, body = snap
            p.frozen = Frozen.from_json(body.head["frozen"])
            p.frozen.install(state, now_ts)
            p.horizon = manifest["horizon"]
            p.snap_seq, p.snap_parts = manifest["seq"], manifest["parts"]
            for raw_facts in body.fact_slices():
                yield None
                facts: list[Fact] = from_json(raw_facts)
                yield None
                replayed += yield from _apply_steps(state, facts, now_ts)
            state.watermark = max(state.watermark, manifest["wm"])
            p.covered += [checkpoint.part_key(stored.partition, state.code, p.snap_seq, k,
                                              snap_epoch or 0) for k in range(p.snap_parts)]
            p.covered.append(checkpoint.manifest_key(stored.partition, state.code,
                                                     snap_epoch or 0))
        next_seq = p.snap_seq
        for chunk in stored.chunks:
            if chunk.epoch == snap_epoch and chunk.seq < p.snap_seq:
                continue  # in the snapshot (left by a crash before its tombstones)
            replayed += yield from _apply_steps(state, _inside(chunk.facts, p.horizon), now_ts)
            state.watermark = max(state.watermark, chunk.wm)
            p.chunks_since += 1
            p.facts_since += len(chunk.facts)
            p.covered.append(chunk.key)
            next_seq = max(next_seq, chunk.seq + 1)
        # Keys no restore needs (left by a crash, or by a stalled owner still writing them:
        # parts of a snapshot whose manifest is yet to come) are tombstoned only by this
        # owner's own next snapshot, once its manifest is on the broker: tombstoning them
        # earlier could delete the parts of a stalled owner's snapshot that then completes
        # and replaces that owner's previous one (found by review; test_worker_zombie).
        p.covered += stored.superseded(state.code)
        return RestoredProvince(state, stored.partition, p, replayed, next_seq,
                                stored.top_epoch)

    def adopt(self, restored: RestoredProvince) -> None:
        """Take the bookkeeping of a province restored by :meth:`restore_steps` (after
        :meth:`adopting` its partition)."""
        self.provinces[restored.state.code] = restored.bookkeeping
        partition = restored.partition
        self.found[partition] = max(self.found.get(partition, 0), restored.top_epoch)

    def adopting(self, partitions: set[int]) -> None:
        """Partitions about to be adopted: their next write stamps a new owner epoch."""
        for partition in partitions:
            self.epochs.pop(partition, None)
            self.found[partition] = 0

    def drop(self, provinces: list[str], partitions: set[int]) -> None:
        for province in provinces:
            self.provinces.pop(province, None)
        for partition in partitions:
            self.epochs.pop(partition, None)
            self.found.pop(partition, None)


def _inside(facts: list[Fact], horizon: float | None) -> list[Fact]:
    """The chunk facts a restore applies on top of a snapshot with ``horizon``: those
    recorded since (the acceptance rule, ``Runtime._inside_window``). One owner's chunks
    hold no others but duplicates of kept facts; a stale owner's may hold facts the
    snapshot evicted into its frozen counters, which must not count twice."""
    if horizon is None:
        return facts
    return [f for f in facts if f[F_REC] >= horizon]

