"""Restores in steps (``Runtime.restore_async`` + ``Runtime.adopt``): the same state as the
one-piece restore, nothing of a partition visible before it is whole, and the event loop
keeps running while a big province is rebuilt."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import orjson
import pytest
from loop_gap import longest_gap
from test_retention_snapshots import NOW, POLICY, PROVINCES, Worker, answers, scenario

from antt.settings import Settings
from streams import checkpoint
from streams.app import LiveApp
from streams.logic.calendar import LocalCalendar
from streams.logic.facts import from_json
from streams.logic.retention import Frozen
from streams.logic.state import ProvinceState
from streams.logic.view import province_summary
from streams.runtime import Runtime
from streams.snapshots import Policy, Province, Retention

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
import snapshot_bench  # noqa: E402  (the benchmark's synthetic province)

ALL = set(range(len(PROVINCES)))
WINDOW_DAYS = 62.0


@pytest.fixture(autouse=True)
def _unfreeze() -> Iterator[None]:
    """``restore_async`` freezes what it built for the GC (as the worker wants): not kept
    frozen past a test."""
    yield
    gc.unfreeze()


def old_restore(retention: Retention, state: ProvinceState, stored: checkpoint.Stored,
                now_ts: float) -> tuple[int, int]:
    """``Retention.restore`` as it was before restores were cut into steps (the reference)."""
    p = retention.provinces[state.code] = Province()
    snap = stored.snapshot()
    replayed = 0
    if snap is not None:
        manifest, body = snap
        p.frozen = Frozen.from_json(body["frozen"])
        p.frozen.install(state, now_ts)
        p.horizon = manifest["horizon"]
        p.snap_seq, p.snap_parts = manifest["seq"], manifest["parts"]
        raw_facts = body.pop("facts")
        for i in range(0, len(raw_facts), checkpoint.MAX_FACTS_PER_CHUNK):
            state.apply_many(from_json(raw_facts[i : i + checkpoint.MAX_FACTS_PER_CHUNK]),
                             now_ts)
        replayed += len(raw_facts)
        state.watermark = max(state.watermark, manifest["wm"])
    next_seq = p.snap_seq
    for chunk in stored.chunks:
        if chunk.seq < p.snap_seq:
            continue
        state.apply_many(chunk.facts, now_ts)
        replayed += len(chunk.facts)
        state.watermark = max(state.watermark, chunk.wm)
        p.chunks_since += 1
        p.facts_since += len(chunk.facts)
        next_seq = chunk.seq + 1
    return replayed, next_seq


def old_runtime(table: dict[str, bytes], policy: Policy | None, now: float) -> Runtime:
    runtime = Runtime(LocalCalendar(), "antt.events.v1", policy=policy)
    for province, stored in checkpoint.scan(table.items(), ALL).items():
        state = runtime.states[province] = ProvinceState(province, runtime.cal)
        _, runtime.next_seq[province] = old_restore(runtime.retention, state, stored, now)
        runtime.partition_of[province] = stored.partition
    runtime.loaded |= ALL
    return runtime


def everything(runtime: Runtime, now: float) -> dict[str, Any]:
    """What a restore decides: facts, figures, frozen counters and snapshot bookkeeping."""
    return {
        "registry": {c: s.registry for c, s in runtime.states.items()},
        "figures": {c: province_summary(s, now, detail=True) for c, s in runtime.states.items()},
        "counters": {c: (s.day_cells, s.month_cells, s.prov_day, s.prov_month,
                         s.events_counted, s.newest_recorded_ts, s.watermark)
                     for c, s in runtime.states.items()},
        "retention": runtime.retention.provinces,
        "partition_of": runtime.partition_of, "next_seq": runtime.next_seq,
        "loaded": runtime.loaded, "answers": answers(runtime),
    }


@pytest.mark.parametrize("seed", [1, 2])
async def test_the_stepped_restore_equals_the_one_piece_restore(seed: int) -> None:
    _old, _new, recs = scenario(seed)
    worker = Worker()
    worker.feed(recs)
    table = worker.table
    assert any(k.endswith(":snap") for k in table) and worker.runtime.stats["evicted_facts"]
    assert any(checkpoint.parse_key(k) for k in table)  # chunks after the snapshots too
    now = NOW.timestamp()
    reference = everything(old_runtime(table, POLICY, now), now)
    stepped = Runtime(LocalCalendar(), "antt.events.v1", policy=POLICY)
    restored = await stepped.restore_async(ALL, table.items(), now, budget_s=0.0)
    assert stepped.states == {} and stepped.loaded == set()  # nothing seen before adopt
    assert stepped.adopt(restored) == sum(len(s.registry) for s in stepped.states.values())
    blocking = Runtime(LocalCalendar(), "antt.events.v1", policy=POLICY)
    blocking.restore(ALL, table.items(), now)
    assert everything(stepped, now) == reference
    assert everything(blocking, now) == reference
    assert reference["answers"] == answers(worker.runtime)
    assert any(p.frozen.counted for p in stepped.retention.provinces.values())


async def test_a_partition_left_out_of_adopt_leaves_no_trace() -> None:
    _old, _new, recs = scenario(1)
    worker = Worker()
    worker.feed(recs)
    now = NOW.timestamp()
    runtime = Runtime(LocalCalendar(), "antt.events.v1", policy=POLICY)
    restored = await runtime.restore_async(ALL, worker.table.items(), now)
    runtime.adopt(restored, {0, 2})  # partition 1 was revoked during its restore
    assert runtime.loaded == {0, 2}
    assert set(runtime.states) == set(runtime.partition_of) == {PROVINCES[0], PROVINCES[2]}
    assert PROVINCES[1] not in runtime.retention.provinces
    again = Runtime(LocalCalendar(), "antt.events.v1", policy=POLICY)
    again.restore({0, 2}, worker.table.items(), now)
    assert everything(runtime, now) == everything(again, now)


@pytest.mark.parametrize("slice_bytes", [1, 7, 64, 1 << 20])
def test_fact_slices_parse_as_the_whole_body(slice_bytes: int) -> None:
    tricky = [[1, "a],[b", None, "]", [2, 3], "x\\\"],[\\\"y"], [2, [[4]], "],["],
              [3, "\u00e9", 1.5], []]
    facts = [[i, f"{i:032x}", 5, None, "00001", 1.5 * i, 2.0, None, "k],[", i, [i], None]
             for i in range(300)]
    for items in (tricky, facts, [], [[1]]):
        body = {"frozen": {"day": [["a,\"facts\":[", 1, [1]]], "counted": 1}, "facts": items}
        raw = orjson.dumps(body)
        split = checkpoint.split_body(raw)
        assert split.whole is None, "this shape is sliced"
        assert split.head == {"frozen": body["frozen"]}
        slices = list(split.fact_slices(slice_bytes))
        assert [x for s in slices for x in s] == items
        if len(items) > 1 and slice_bytes == 1:
            assert len(slices) > 1
    for other in ({"facts": [[1]], "frozen": {}},  # facts not last: parsed whole
                  {"frozen": {"y": 1, "facts": [[9]]}, "facts": [[1]]}):  # a nested "facts"
        split = checkpoint.split_body(orjson.dumps(other))
        assert split.whole is not None
        assert split.head == {"frozen": other["frozen"]}
        assert list(split.fact_slices()) == [[[1]]]


@pytest.fixture(scope="module")
def big_table() -> Iterator[tuple[dict[str, bytes], float]]:
    """A province of about 290,000 facts over 100 days, snapshotted with eviction, then
    40,000 more facts in chunks after the snapshot; the worker's GC thresholds."""
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    facts, now = snapshot_bench.synthetic_facts(100, 3000)
    head, tail = facts[:-40_000], facts[-40_000:]
    state = snapshot_bench.build_state(head, now)
    retention = Retention(Policy(window_days=WINDOW_DAYS, every_chunks=1), {})
    snap = retention.snapshot(0, state, 0, now)
    table = dict([*snap.parts, snap.manifest])
    for chunk in checkpoint.make_chunks(0, "01", 0, tail, tail[-1][0]):
        table[chunk.key] = chunk.encode()
    del facts, head, tail, state
    yield table, now
    gc.unfreeze()  # (restore_async freezes what it built, as the worker wants)
    gc.set_threshold(*thresholds)


async def test_the_event_loop_keeps_running_while_a_big_province_restores(
    big_table: tuple[dict[str, bytes], float],
) -> None:
    table, now = big_table
    policy = Policy(window_days=WINDOW_DAYS, every_chunks=1)
    blocking = Runtime(LocalCalendar(), "antt.events.v1", policy=policy)

    async def one_piece() -> int:
        return blocking.restore({0}, table.items(), now)

    replayed, old_gap = await longest_gap(one_piece)
    stepped = Runtime(LocalCalendar(), "antt.events.v1", policy=policy)
    seen: list[tuple[frozenset[int], int]] = []

    def watch() -> None:  # what the live API and the agent see meanwhile
        seen.append((frozenset(stepped.loaded), len(stepped.states)))

    async def in_steps() -> Any:
        return await stepped.restore_async({0}, table.items(), now)

    restored, gap = await longest_gap(in_steps, watch)
    assert set(seen) == {(frozenset(), 0)} and len(seen) > 10
    assert stepped.adopt(restored) == replayed > 200_000
    print(f"{replayed} facts replayed: longest loop gap {old_gap * 1000:.0f} ms in one piece, "
          f"{gap * 1000:.0f} ms in steps")
    assert stepped.states["01"].registry == blocking.states["01"].registry
    assert province_summary(stepped.states["01"], now, detail=True) == province_summary(
        blocking.states["01"], now, detail=True)
    assert gap < 0.15, f"the event loop stalled {gap * 1000:.0f} ms (one piece: {old_gap:.3f} s)"
    assert old_gap > 2 * gap  # the province is big enough for the test to mean something


class _TP(NamedTuple):
    topic: str
    partition: int


def live_app(table: dict[str, bytes], partitions: set[int]) -> LiveApp:
    """A ``LiveApp`` around a plain runtime and table: its restore logic without Faust."""
    settings = Settings()
    topic = settings.events_topic
    assignor = SimpleNamespace(assigned_actives=lambda: {_TP(topic, p) for p in partitions})
    runtime = Runtime(LocalCalendar(), topic, policy=POLICY)
    app = LiveApp(settings, SimpleNamespace(assignor=assignor), runtime,  # type: ignore[arg-type]
                  runtime.cal, None, None, SimpleNamespace(items=table.items), "w1")
    app.ready = True
    return app


async def test_the_worker_adopts_a_partition_whole_and_drops_one_revoked_meanwhile() -> None:
    _old, _new, recs = scenario(2)
    worker = Worker()
    worker.feed(recs)
    app = live_app(worker.table, ALL)
    app.restore_assigned()
    task = app.restoring[0]
    assert set(app.restoring) == ALL and app.restoring[1] is task
    app.restore_assigned()  # (a record or the timer asks again: no second restore)
    assert app.restoring[0] is task
    for _ in range(5):
        await asyncio.sleep(0)
    assert app.runtime.loaded == set() and app.runtime.states == {}  # 503 meanwhile
    app.revocations[1] = 1  # partition 1 revoked (and maybe assigned again) meanwhile
    await task
    assert app.restoring == {} and app.runtime.loaded == {0, 2}
    assert set(app.runtime.states) == {PROVINCES[0], PROVINCES[2]}
    app.restore_assigned()  # the timer's next turn restores partition 1 afresh
    await app.restoring[1]
    assert app.runtime.loaded == ALL
    # (the worker restores at the real clock: the lag and the last hour's minutes differ)
    assert clockless(answers(app.runtime)) == clockless(answers(worker.runtime))


def clockless(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: clockless(v) for k, v in value.items()
                if k not in ("lag_seconds", "last_hour")}
    return [clockless(v) for v in value] if isinstance(value, list) else value
