"""The partition side of the worker's :class:`~streams.runtime.Runtime`: partitions rebuilt
from the checkpoint table when assigned, made the worker's whole, forgotten when revoked; and
a province rebuilt from its own facts after a bug in the middle of one of its records.

Every function here takes the runtime first; all but :func:`rebuild` are also its methods
(``runtime.restore(...)`` is ``restore(runtime, ...)``). ``streams/runtime.py`` keeps the
record side (records in, dead letters and chunks out). A restore builds the provinces of its
partitions off to the side (:func:`restore_steps`, in steps: driven in one piece by
:func:`restore`, or on the event loop by :func:`restore_async`) and :func:`adopt` makes them
the worker's in one step: nothing of a partition is counted into or answered for before.
What a snapshot and its chunks hold, and how a province is rebuilt from them, is in
``streams/snapshots.py`` (:meth:`~streams.snapshots.Retention.restore_steps`).
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

from antt.perf import gc_paused
from streams import checkpoint
from streams.logic.facts import F_POS, POS_STRIDE
from streams.logic.retention import Steps, drive
from streams.logic.state import ProvinceState
from streams.snapshots import LOOP_BUDGET_S, RestoredPartitions, drive_async

if TYPE_CHECKING:
    from streams.runtime import Runtime


def restore(runtime: Runtime, partitions: set[int], items: Any, now_ts: float) -> int:
    """Rebuild the provinces of ``partitions`` from table items; returns facts replayed."""
    with gc_paused():  # many long-lived objects: no collector passes over them meanwhile
        restored = drive(restore_steps(runtime, partitions, items, now_ts))
    return adopt(runtime, restored)


async def restore_async(
    runtime: Runtime, partitions: set[int], items: Any, now_ts: float,
    budget_s: float = LOOP_BUDGET_S,
) -> RestoredPartitions:
    """:func:`restore_steps` driven on the event loop, which runs again every
    ``budget_s`` or so; the caller gives the result to :func:`adopt` if the partitions
    are still its own. The cyclic GC is paused meanwhile, and every object alive at the
    end is frozen (``gc.freeze``) before it runs again: otherwise its first pass would
    scan the whole new state at once (~0.1 s for 250,000 facts)."""
    with gc_paused():
        restored = await drive_async(restore_steps(runtime, partitions, items, now_ts),
                                     budget_s)
        gc.freeze()
    return restored


def restore_steps(
    runtime: Runtime, partitions: set[int], items: Any, now_ts: float
) -> Steps[RestoredPartitions]:
    """The provinces of ``partitions`` rebuilt from table items, in steps, outside the
    worker's state: nothing of it is seen (counted into, asked for figures) before
    :func:`adopt`."""
    found = yield from checkpoint.scan_steps(items, partitions)
    out = RestoredPartitions(set(partitions))
    for province, stored in found.items():
        state = ProvinceState(province, runtime.cal)
        out.provinces.append(
            (yield from runtime.retention.restore_steps(state, stored, now_ts))
        )
    return out


def adopt(
    runtime: Runtime, restored: RestoredPartitions, partitions: set[int] | None = None
) -> int:
    """Make restored partitions (those of ``partitions`` only, if given) the runtime's,
    in one step: their provinces and the partitions' loaded mark; facts replayed."""
    keep = restored.partitions if partitions is None else restored.partitions & partitions
    runtime.retention.adopting(keep)  # a new owner epoch at their next write
    replayed = 0
    for got in restored.provinces:
        if got.partition not in keep:
            continue
        province = got.state.code
        runtime.retention.adopt(got)
        runtime.states[province] = got.state
        runtime.partition_of[province] = got.partition
        runtime.next_seq[province] = got.next_seq
        replayed += got.replayed
    runtime.loaded |= keep
    runtime.version += 1
    runtime.stats["restored_facts"] += replayed
    return replayed


def rebuild(runtime: Runtime, province: str, offset: int, now_ts: float) -> None:
    """After a bug mid-record (``Runtime.process``): the province's state again from its
    facts minus that record's (a half-applied record would leave counters no restart could
    reproduce)."""
    state = runtime.states.get(province)
    if state is None:
        return
    first, end = offset * POS_STRIDE, (offset + 1) * POS_STRIDE
    facts = [f for f in state.registry.values() if not first <= f[F_POS] < end]
    fresh = ProvinceState(province, runtime.cal, state.rules)
    fresh.watermark = state.watermark
    frozen = runtime.retention.provinces.get(province)
    if frozen is not None:
        frozen.frozen.install(fresh, now_ts)
    fresh.apply_many(facts, now_ts)
    runtime.states[province] = fresh
    runtime.stats["rebuilds"] += 1


def applied_through(runtime: Runtime, partition: int) -> int:
    """The highest source offset of ``partition`` whose events are in the state (-1: none)."""
    marks = [runtime.states[p].watermark for p, part in runtime.partition_of.items()
             if part == partition and p in runtime.states]
    top = max(marks, default=-1)
    return top // POS_STRIDE if top >= 0 else -1


def drop(runtime: Runtime, partitions: set[int]) -> None:
    """Forget revoked partitions (their unacked records will be replayed by the owner)."""
    gone = [p for p, part in runtime.partition_of.items() if part in partitions]
    runtime.retention.drop(gone, partitions)
    for province in gone:
        runtime.states.pop(province, None)
        runtime.partition_of.pop(province, None)
        runtime.next_seq.pop(province, None)
    for partition in partitions:
        runtime.pending.pop(partition, None)
    runtime.loaded -= partitions
    runtime.version += 1
