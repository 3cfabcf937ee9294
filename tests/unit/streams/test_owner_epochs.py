"""Owner epochs (``streams/checkpoint.py``): a stale owner ("zombie") that writes checkpoint
chunks and snapshots after a newer owner adopted its partition cannot overwrite or tombstone
the newer owner's keys, and a restore from the whole table counts every fact once. Without
Kafka: two runtimes sharing a dict as the changelog, as in test_retention_snapshots.py."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from test_retention_snapshots import NOW, POLICY, PROVINCES, Rec, Worker, answers, scenario

from streams import checkpoint
from streams.logic.calendar import LocalCalendar
from streams.logic.facts import F_REC
from streams.runtime import Runtime
from streams.snapshots import Policy

ALL = set(range(len(PROVINCES)))
EVERY_FLUSH = Policy(window_days=62, every_chunks=1, min_facts=10**9, part_bytes=3000)
NO_SNAPSHOTS = Policy(window_days=62, every_chunks=0)


def process(worker: Worker, recs: list[Rec]) -> float:
    """Records counted in memory only (nothing written); the clock of the last one."""
    now = NOW.timestamp()
    for key, value, now in recs:
        partition = PROVINCES.index(key.decode())
        offset = worker.offset.get(partition, 0)
        worker.offset[partition] = offset + 1
        worker.runtime.process(value, key, partition, offset, now)
    return now


def adopt(worker: Worker, table: dict[str, bytes], generation: int) -> None:
    """Restore every partition from ``table`` and stamp the owner epoch of ``generation``."""
    worker.runtime.restore(ALL, list(table.items()), NOW.timestamp())
    for partition in ALL:
        worker.runtime.retention.stamp(partition, generation)


def restored(table: dict[str, bytes]) -> Runtime:
    runtime = Runtime(LocalCalendar(), "antt.events.v1", policy=POLICY)
    runtime.restore(ALL, table.items(), NOW.timestamp())
    return runtime


def share(worker: Worker, other: Worker) -> None:
    worker.table, worker.log = other.table, other.log


def run_with_a_zombie(
    seed: int, generations: tuple[int, int], zombie_policy: Policy, stalled: int,
    owner_policy: Policy = POLICY,
) -> tuple[Worker, tuple[Any, Any]]:
    """An old owner (keys of the format before epochs) checkpoints a third of the records;
    A adopts and counts ``stalled`` more without writing (it stalls); B adopts too (A wrote
    nothing, so both found the same highest epoch: only the generation sets them apart),
    re-reads from the last checkpoint and writes; then A wakes and flushes (chunks and, due
    every flush under ``zombie_policy``, a snapshot with its tombstones); B goes on. B, and
    B's answers and those of a restore right after A's late writes."""
    _old, _new, recs = scenario(seed)
    third = len(recs) // 3
    first = Worker()
    first.feed(recs[:third])
    assert all(":e" not in key for key in first.table)  # the old format
    committed = dict(first.offset)
    a, b = Worker(policy=zombie_policy), Worker(policy=owner_policy)
    share(a, first)
    share(b, first)
    adopt(a, first.table, generations[0])
    a.offset = dict(committed)
    now = process(a, recs[third : third + stalled])
    adopt(b, first.table, generations[1])
    b.offset = dict(committed)
    b.feed(recs[third : 2 * third], flush_every=50)
    written_by_b = len(b.log)
    a.flush(now)  # the stale owner's flush, after B's writes
    assert len(a.log) > written_by_b
    checked = (answers(b.runtime), answers(restored(b.table)))
    b.feed(recs[2 * third :])
    return b, checked


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("stalled", [1, 80])
@pytest.mark.parametrize("zombie_policy", [POLICY, EVERY_FLUSH], ids=["chunks", "snapshot"])
@pytest.mark.parametrize("owner_policy", [POLICY, NO_SNAPSHOTS], ids=["owner_snaps", "no_snaps"])
def test_a_stale_owners_late_writes_lose_nothing_and_count_nothing_twice(
    seed: int, stalled: int, zombie_policy: Policy, owner_policy: Policy
) -> None:
    b, (live, again) = run_with_a_zombie(seed, (1, 2), zombie_policy, stalled, owner_policy)
    assert again == live  # restored right after the stale owner's writes: B's state
    _old, _new, recs = scenario(seed)
    reference = Worker(policy=None)
    reference.feed(recs)
    assert answers(b.runtime) == answers(reference.runtime)
    epochs = {k.epoch for key in b.table if (k := checkpoint.parse(key)) is not None}
    assert len(epochs) >= 2
    assert answers(restored(b.table)) == answers(reference.runtime)
    stale_epoch = 0 + 1 + 1  # A: nothing found above the old format's 0, generation 1
    if zombie_policy is EVERY_FLUSH:  # the stale owner's snapshot was written
        assert any(k.startswith(f"{p}:{PROVINCES[p]}:e{stale_epoch}:snap") for k, _ in b.log
                   for p in ALL)


def test_with_one_epoch_for_both_owners_the_stale_chunks_overwrite_the_new_ones() -> None:
    """Why two owners must never share an epoch (the generation in it): the same run with
    equal epochs loses the facts of the overwritten chunks (the bug this fixes; here the
    new owner writes no snapshot, which would cover them again)."""
    _b, (live, again) = run_with_a_zombie(1, (1, 1), POLICY, 1, owner_policy=NO_SNAPSHOTS)
    assert again != live
    count = again[0]["freshness"]["events_counted"]
    assert count < live[0]["freshness"]["events_counted"]


def test_keys_of_the_format_before_epochs_parse_as_epoch_0() -> None:
    assert checkpoint.parse("3:01:0000000007") == checkpoint.Key(3, "01", 0, "chunk", 7)
    assert checkpoint.parse("3:01:snap") == checkpoint.Key(3, "01", 0, "manifest")
    assert checkpoint.parse("3:01:snap:0000000009:00002") == checkpoint.Key(
        3, "01", 0, "part", 9, 2)
    assert checkpoint.parse("3:01:e12:0000000007") == checkpoint.Key(3, "01", 12, "chunk", 7)
    assert checkpoint.parse(checkpoint.part_key(3, "01", 9, 2, 12)) == checkpoint.Key(
        3, "01", 12, "part", 9, 2)
    assert checkpoint.parse(checkpoint.manifest_key(3, "01", 12)) == checkpoint.Key(
        3, "01", 12, "manifest")
    assert checkpoint.chunk_key(3, "01", 7) == "3:01:0000000007"  # epoch 0: the old keys
    for other in ("3:end", "x:01:0000000001", "3:01:e:0000000001", "3:01:snap:1"):
        assert checkpoint.parse(other) is None


def test_the_snapshot_used_is_the_highest_epoch_whose_parts_are_all_there() -> None:
    """A stale owner's manifest may land after a newer owner tombstoned its parts (found
    without a manifest at its restore): such a snapshot is passed over, and tombstoned."""
    stored = checkpoint.Stored(0, [])
    for epoch in (3, 5):
        stored.manifests[epoch] = {"seq": 4, "parts": 2}
        stored.parts[(epoch, 4, 0)] = b"x"
    stored.parts[(3, 4, 1)] = b"y"
    assert stored.snap_epoch == 3
    assert set(stored.superseded("01")) == {"0:01:e5:snap", "0:01:e5:snap:0000000004:00000"}
    del stored.parts[(3, 4, 1)]
    assert stored.snap_epoch is None


def test_chunk_facts_recorded_before_the_snapshots_horizon_are_not_replayed() -> None:
    """A stale owner's chunk may hold facts the snapshot evicted into its frozen counters:
    the restore applies the acceptance rule to chunk facts, so they cannot count twice."""
    _old, _new, recs = scenario(1)
    worker = Worker()
    worker.feed(recs)
    runtime = worker.runtime
    province, state = next((c, s) for c, s in runtime.states.items()
                           if runtime.retention.horizon(c) is not None)
    horizon = runtime.retention.horizon(province)
    evicted = runtime.retention.provinces[province].frozen.counted
    assert evicted and horizon is not None
    before = answers(restored(worker.table))
    old_facts = [f for f in _all_facts(recs, runtime.partition_of[province]) if f[F_REC] < horizon]
    assert old_facts
    chunk = checkpoint.Chunk(runtime.partition_of[province], province, 10**6, 0, old_facts, 99)
    table = {**worker.table, chunk.key: chunk.encode()}
    assert answers(restored(table)) == before


def _all_facts(recs: list[Rec], partition: int) -> list:
    """Every fact of ``partition`` as a worker that keeps them all decided it."""
    keeper = Worker(policy=None)
    keeper.feed(recs)
    province = PROVINCES[partition]
    return list(keeper.runtime.states[province].registry.values())


def test_a_chunk_value_is_the_same_in_every_epoch() -> None:
    chunk = checkpoint.make_chunks(1, "79", 3, [], wm=5, epoch=7)[0]
    assert chunk.key == "1:79:e7:0000000003"
    assert orjson.loads(chunk.encode()) == {"v": checkpoint.FORMAT_VERSION, "wm": 5,
                                            "facts": []}



def test_an_owner_epoch_is_fixed_at_the_first_write_after_each_adoption() -> None:
    """Highest epoch found + generation + 1, fixed until the partition is dropped; a new
    adoption (after a rebalance, by the same worker too) gets a new, higher one."""
    chunk = checkpoint.make_chunks(0, "01", 0, [], wm=-1, epoch=7)[0]
    table = {chunk.key: chunk.encode(), "0:end": b"1"}
    runtime = Runtime(LocalCalendar(), "antt.events.v1", policy=POLICY)
    runtime.restore({0}, table.items(), NOW.timestamp())
    assert runtime.retention.stamp(0, 3) == 7 + 3 + 1
    assert runtime.retention.stamp(0, 9) == 11  # fixed: a later generation changes nothing
    runtime.drop({0})
    table["0:01:e11:0000000001"] = checkpoint.make_chunks(0, "01", 1, [], -1, 11)[0].encode()
    runtime.restore({0}, table.items(), NOW.timestamp())
    assert runtime.retention.stamp(0, 4) == 11 + 4 + 1
    assert runtime.retention.epoch(1) == 0  # never adopted: the keys of before epochs
