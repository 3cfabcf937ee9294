"""Snapshots of a big province: where the time goes, and how long they hold the event loop.

A province's state is built from synthetic facts (no validation: fact tuples fed straight to
``ProvinceState.apply_many``): every day ``--per-day`` facts, a quarter of them crime reports
(received, triaged, 85 % resolved 2-40 days later) and the rest administrative sanctions,
over ``--days`` days. It is then snapshotted with an acceptance window of 62 days (eviction)
and without (everything kept), three ways:

- the steps of the old blocking snapshot timed one by one (eviction, facts list, frozen
  counters, JSON, zlib, SHA-256, part splitting);
- ``Retention.snapshot`` (blocking, as before) and ``Retention.snapshot_async`` (cooperative)
  while a ticker task (``asyncio.sleep(0.01)`` in a loop) measures the longest gap between
  its wake-ups: the longest time the event loop answered nothing.

Medians of ``--repeat`` runs, each on a fresh copy of the state, with the worker's GC
thresholds and the built state frozen (``gc.freeze``, as after a restore). Other work may load
the CPU (the load average is printed).

    python bench/snapshot_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import hashlib
import os
import random
import statistics
import time
import zlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from schemas.units import communes_of
from streams.logic.calendar import LocalCalendar
from streams.logic.facts import (
    ADMIN,
    CRIME_GROUPS,
    POS_STRIDE,
    RECEIVED,
    RESOLVED,
    SOURCE_TYPES,
    TRIAGED,
    Fact,
)
from streams.logic.retention import Frozen, evict, horizon_at
from streams.logic.state import ProvinceState
from streams.snapshots import Policy, Retention, SnapshotWrite

ICT = timezone(timedelta(hours=7))
START = datetime(2026, 1, 1, tzinfo=ICT)
WINDOW_DAYS = 62.0
PART_BYTES = 512 * 1024
DECISIONS = ("institute", "decline", "suspend")


def synthetic_facts(days: int, per_day: int, seed: int = 1) -> tuple[list[Fact], float]:
    """``days`` of one province's facts (recorded order) and the time just after the last."""
    rng = random.Random(seed)
    communes = communes_of("01")[:60]
    out: list[tuple[float, tuple[Any, ...]]] = []
    pos = 0

    def fact(kind: int, iid: str | None, commune: str, at: float, a: Any = None, b: Any = None,
             c: Any = None, d: Any = None) -> None:
        nonlocal pos
        pos += 1
        out.append((at, (0, "%032x" % rng.getrandbits(128), kind, iid, commune,  # noqa: UP031
                         at - 300, at, None, a, b, c, d)))

    for day in range(days):
        day_ts = (START + timedelta(days=day)).timestamp()
        for _ in range(per_day // 4):
            at = day_ts + rng.randint(0, 80_000)
            commune = rng.choice(communes)
            iid = "%032x" % rng.getrandbits(128)  # noqa: UP031
            fact(RECEIVED, iid, commune, at, rng.choice(CRIME_GROUPS), rng.choice(SOURCE_TYPES))
            fact(TRIAGED, iid, commune, at + 1800, "accepted")
            if rng.random() < 0.85:
                fact(RESOLVED, iid, commune, at + rng.randint(2, 40) * 86_400,
                     rng.choice(DECISIONS))
            fact(ADMIN, None, commune, at, 3, 2, 2, 1_500_000)
            fact(ADMIN, None, commune, at + 60, 1, 1, 1, 500_000)
    now = (START + timedelta(days=days)).timestamp()
    out = [item for item in out if item[0] < now]
    out.sort(key=lambda item: item[0])
    facts = [(i * POS_STRIDE, *f[1:]) for i, (_, f) in enumerate(out)]
    return facts, now


def build_state(facts: list[Fact], now: float) -> ProvinceState:
    state = ProvinceState("01", LocalCalendar())
    for i in range(0, len(facts), 1000):
        state.apply_many(facts[i : i + 1000], now)
    state.watermark = facts[-1][0] if facts else -1
    return state


def step_times(state: ProvinceState, now: float, window: float) -> dict[str, float]:
    """Seconds per step of the old blocking snapshot, on ``state`` (which it changes)."""
    times: dict[str, float] = {}
    frozen = Frozen()

    def timed(name: str, run: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        value = run()
        times[name] = time.perf_counter() - started
        return value

    if window > 0:
        timed("evict", lambda: evict(state, horizon_at(now, window), window, frozen, now))
    facts = timed("facts list", lambda: list(state.registry.values()))
    frozen_json = timed("frozen json", frozen.to_json)
    raw = timed("orjson.dumps", lambda: orjson.dumps({"frozen": frozen_json, "facts": facts}))
    blob = timed("zlib level 1", lambda: zlib.compress(raw, 1))
    timed("sha256", lambda: hashlib.sha256(blob).hexdigest())
    timed("split parts", lambda: [blob[i : i + PART_BYTES]
                                  for i in range(0, len(blob), PART_BYTES)])
    times["(json MB)"] = len(raw) / 1e6
    times["(zlib MB)"] = len(blob) / 1e6
    return times


async def longest_gap(work: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """``(seconds the work took, longest gap between a 10 ms ticker's wake-ups)``."""
    gaps: list[float] = []
    stop = False

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop:
            await asyncio.sleep(0.01)
            t = time.perf_counter()
            gaps.append(t - last)
            last = t

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await work()
    took = time.perf_counter() - started
    stop = True
    await task
    return took, max(gaps) - 0.01


def snapshot_runs(
    state: ProvinceState, now: float, window: float, cooperative: bool
) -> tuple[float, float, SnapshotWrite]:
    retention = Retention(Policy(window_days=window, every_chunks=1, part_bytes=PART_BYTES), {})
    fresh = copy_state(state)
    out: list[SnapshotWrite] = []

    async def blocking() -> None:
        out.append(retention.snapshot(0, fresh, 1, now))

    async def cooperative_() -> None:
        out.append(await retention.snapshot_async(0, fresh, 1, now))

    took, gap = asyncio.run(longest_gap(cooperative_ if cooperative else blocking))
    return took, gap, out[0]


def copy_state(state: ProvinceState) -> ProvinceState:
    """A copy whose eviction leaves ``state`` as it is (facts are shared: immutable)."""
    fresh = copy.copy(state)
    fresh.registry = dict(state.registry)
    fresh.incidents = dict(state.incidents)
    return fresh


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--days", type=int, default=150)
    ap.add_argument("--per-day", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    gc.set_threshold(100_000, 50, 100)  # as the worker sets it (antt/cli/worker.py)
    if args.quick:
        args.days, args.per_day, args.repeat = 90, 2000, 1
    facts, now = synthetic_facts(args.days, args.per_day)
    state = build_state(facts, now)
    del facts
    gc.freeze()  # as the worker does with its restored state (streams/app.py)
    print(f"one province: {len(state.registry)} facts in memory ({args.days} days x "
          f"~{args.per_day}/day), parts of {PART_BYTES} bytes; load average "
          f"{os.getloadavg()[0]:.2f} (other work may load the CPU); medians of {args.repeat}")
    for window in (0.0, WINDOW_DAYS):
        label = f"window {window:g} days" if window else "no eviction"
        runs = [step_times(copy_state(state), now, window) for _ in range(args.repeat)]
        steps = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"\n{label}: steps of the blocking snapshot")
        for name, value in steps.items():
            unit = "" if name.startswith("(") else " s"
            print(f"  {name:<14} {value:8.3f}{unit}")
        for cooperative in (False, True):
            results = [snapshot_runs(state, now, window, cooperative)
                       for _ in range(args.repeat)]
            took = statistics.median(r[0] for r in results)
            gap = statistics.median(r[1] for r in results)
            snap = results[0][2]
            print(f"  {'cooperative' if cooperative else 'blocking':<11}: total {took:.3f} s, "
                  f"longest loop gap {gap * 1000:7.1f} ms; {snap.kept} kept, "
                  f"{snap.evicted} evicted, {len(snap.parts)} parts")


if __name__ == "__main__":
    main()
