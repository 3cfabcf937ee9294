"""Snapshots built in steps (``Retention.snapshot_async``): the event loop keeps running, and
the records are the same bytes as those of the old one-piece encoding."""

from __future__ import annotations

import gc
import hashlib
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from loop_gap import longest_gap

from streams import checkpoint
from streams.logic.calendar import LocalCalendar
from streams.logic.state import ProvinceState
from streams.runtime import Runtime
from streams.snapshots import Policy, Retention, SnapshotWrite

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
import snapshot_bench  # noqa: E402  (the benchmark's synthetic province)

WINDOW_DAYS = 62.0


def old_encoding(
    partition: int, province: str, seq: int, wm: int, horizon: float | None,
    body: dict[str, Any], part_bytes: int,
) -> tuple[list[tuple[str, bytes]], tuple[str, bytes]]:
    """The records as the worker wrote them before snapshots were built in steps."""
    blob = zlib.compress(orjson.dumps(body), 1)
    pieces = [blob[i : i + part_bytes] for i in range(0, len(blob), part_bytes)] or [b""]
    parts = [(checkpoint.part_key(partition, province, seq, k), piece)
             for k, piece in enumerate(pieces)]
    manifest = {"v": 1, "seq": seq, "wm": wm, "horizon": horizon, "parts": len(pieces),
                "sha256": hashlib.sha256(blob).hexdigest()}
    return parts, (checkpoint.manifest_key(partition, province), orjson.dumps(manifest))


@pytest.fixture(scope="module")
def big() -> Iterator[tuple[ProvinceState, float]]:
    """About 290,000 facts of one province over 100 days, kept out of the GC's scans as the
    worker keeps its restored state (its thresholds, ``gc.freeze``)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    facts, now = snapshot_bench.synthetic_facts(100, 3000)
    state = snapshot_bench.build_state(facts, now)
    del facts
    gc.freeze()
    yield state, now
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def copy_of(state: ProvinceState) -> ProvinceState:
    return snapshot_bench.copy_state(state)


def retention(part_bytes: int = 512 * 1024) -> Retention:
    return Retention(Policy(window_days=WINDOW_DAYS, every_chunks=1, part_bytes=part_bytes), {})


@pytest.mark.parametrize("n_facts", [0, 1, 4999, 5000, 5001, 12_345])
@pytest.mark.parametrize("part_bytes", [1000, 512 * 1024])
def test_the_records_are_the_bytes_of_the_old_encoding(n_facts: int, part_bytes: int) -> None:
    facts, _now = snapshot_bench.synthetic_facts(8, 2000)
    assert len(facts) > 12_345
    body = {"frozen": {"day": [["00001", 740000, [1, 2, 3]]], "counted": 3, "newest": None},
            "facts": facts[:n_facts]}
    args = (3, "79", 17, 123_456, 1.5e9, body, part_bytes)
    assert checkpoint.encode_snapshot(*args) == old_encoding(*args)
    assert checkpoint.encode_snapshot(3, "79", 0, -1, None, {}, 10) == old_encoding(
        3, "79", 0, -1, None, {}, 10)


async def test_async_snapshot_equals_the_blocking_one_and_the_old_bytes(
    big: tuple[ProvinceState, float],
) -> None:
    state, now = big
    blocking_state, async_state = copy_of(state), copy_of(state)
    blocking, stepped = retention(), retention()
    a = blocking.snapshot(0, blocking_state, 5, now)
    b = await stepped.snapshot_async(0, async_state, 5, now)
    assert a == b
    assert a.evicted > 50_000 and a.kept == len(async_state.registry) > 50_000
    assert async_state.registry == blocking_state.registry
    assert async_state.incidents == blocking_state.incidents
    frozen = stepped.provinces[state.code]
    assert frozen.frozen == blocking.provinces[state.code].frozen
    # the same records as the old encoding of the state the snapshot left
    body = {"frozen": frozen.frozen.to_json(), "facts": list(async_state.registry.values())}
    assert (b.parts, b.manifest) == old_encoding(0, state.code, 5, state.watermark,
                                                 frozen.horizon, body, 512 * 1024)


async def test_a_stepped_snapshot_restores_the_same_facts_and_figures(
    big: tuple[ProvinceState, float],
) -> None:
    state, now = big
    live = copy_of(state)
    snap = await retention(part_bytes=256 * 1024).snapshot_async(0, live, 0, now)
    assert len(snap.parts) > 3
    table = dict([*snap.parts, snap.manifest])
    restored = Runtime(LocalCalendar(), "antt.events.v1", policy=Policy(
        window_days=WINDOW_DAYS, every_chunks=1))
    assert restored.restore({0}, table.items(), now) == snap.kept
    again = restored.states[state.code]
    assert again.registry == live.registry
    for name in ("day_cells", "month_cells", "prov_day", "prov_month", "events_counted",
                 "newest_recorded_ts", "watermark"):
        assert getattr(again, name) == getattr(state, name), name


async def test_the_event_loop_keeps_running_while_a_big_province_snapshots(
    big: tuple[ProvinceState, float],
) -> None:
    state, now = big
    old: list[SnapshotWrite] = []

    async def blocking() -> SnapshotWrite:
        snap = retention().snapshot(0, copy_of(state), 1, now)
        old.append(snap)
        return snap

    _, old_gap = await longest_gap(blocking)
    snap, gap = await longest_gap(lambda: retention().snapshot_async(0, copy_of(state), 1, now))
    print(f"{len(state.registry)} facts, {snap.evicted} evicted: longest loop gap "
          f"{old_gap * 1000:.0f} ms blocking, {gap * 1000:.0f} ms in steps")
    assert snap == old[0]
    assert gap < 0.15, f"the event loop stalled {gap * 1000:.0f} ms (blocking: {old_gap:.3f} s)"
    assert old_gap > 2 * gap  # the province is big enough for the test to mean something
