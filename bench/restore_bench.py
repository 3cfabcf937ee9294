"""Restores of a big province: where the time goes, and how long they hold the event loop.

The province of ``bench/snapshot_bench.py`` (synthetic facts, ``--days`` x ``--per-day``) is
checkpointed two ways: all its facts as chunks (no snapshot), and a snapshot with an
acceptance window of 62 days (eviction) followed by ``--tail`` facts in chunks. Each table is
then restored:

- the steps of a restore timed one by one (listing and decoding the chunks, zlib + SHA-256,
  parsing the snapshot's JSON, ``from_json``, ``apply_many``, the frozen counters);
- ``Runtime.restore`` (in one piece, as the worker did) and ``Runtime.restore_async`` +
  ``adopt`` (in steps, as the worker does now) while a ticker task (``asyncio.sleep(0.01)``
  in a loop) measures the longest gap between its wake-ups: the longest time the event loop
  answered nothing.

Medians of ``--repeat`` runs, with the worker's GC thresholds. Other work may load the CPU
(the load average is printed).

    python bench/restore_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import statistics
import time
import zlib
from collections.abc import Callable
from typing import Any

import orjson
from snapshot_bench import build_state, longest_gap, synthetic_facts

from streams import checkpoint
from streams.logic.calendar import LocalCalendar
from streams.logic.facts import from_json
from streams.logic.retention import Frozen
from streams.logic.state import ProvinceState
from streams.runtime import Runtime
from streams.snapshots import Policy, Retention

WINDOW_DAYS = 62.0


def tables(days: int, per_day: int, tail: int) -> tuple[dict[str, dict[str, bytes]], float]:
    facts, now = synthetic_facts(days, per_day)
    plain: dict[str, bytes] = {}
    for chunk in checkpoint.make_chunks(0, "01", 0, facts, facts[-1][0]):
        plain[chunk.key] = chunk.encode()
    head, rest = facts[:-tail], facts[-tail:]
    state = build_state(head, now)
    snap = Retention(Policy(window_days=WINDOW_DAYS, every_chunks=1), {}).snapshot(
        0, state, 0, now)
    snapped = dict([*snap.parts, snap.manifest])
    for chunk in checkpoint.make_chunks(0, "01", 0, rest, rest[-1][0]):
        snapped[chunk.key] = chunk.encode()
    return {"chunks only": plain, "snapshot + chunks": snapped}, now


def step_times(table: dict[str, bytes], now: float) -> dict[str, float]:
    """Seconds per step of a restore of ``table`` (one province, partition 0)."""
    times: dict[str, float] = {}

    def timed(name: str, run: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        value = run()
        times[name] = times.get(name, 0.0) + time.perf_counter() - started
        return value

    stored = timed("scan+chunks", lambda: checkpoint.scan(table.items(), {0}))["01"]
    state = ProvinceState("01", LocalCalendar())
    m = stored.manifest
    snap_seq = 0
    if m is not None:
        blob = b"".join(stored.parts[(stored.snap_epoch or 0, m["seq"], k)]
                        for k in range(m["parts"]))
        timed("sha256", lambda: hashlib.sha256(blob).hexdigest())
        raw = timed("zlib", lambda: zlib.decompress(blob))
        body = timed("json parse", lambda: orjson.loads(raw))
        frozen = timed("frozen", lambda: Frozen.from_json(body["frozen"]))
        timed("frozen", lambda: frozen.install(state, now))
        facts = timed("from_json", lambda: from_json(body["facts"]))
        timed("apply_many", lambda: [state.apply_many(facts[i : i + 1000], now)
                                     for i in range(0, len(facts), 1000)])
        snap_seq = m["seq"]
    for chunk in stored.chunks:
        if chunk.seq >= snap_seq:
            timed("apply_many", lambda c=chunk: state.apply_many(c.facts, now))
    times["(facts)"] = len(state.registry)
    return times


def restore_run(table: dict[str, bytes], now: float, stepped: bool) -> tuple[float, float]:
    runtime = Runtime(LocalCalendar(), "antt.events.v1",
                      policy=Policy(window_days=WINDOW_DAYS, every_chunks=1))

    async def one_piece() -> None:
        runtime.restore({0}, table.items(), now)

    async def in_steps() -> None:
        runtime.adopt(await runtime.restore_async({0}, table.items(), now))

    took, gap = asyncio.run(longest_gap(in_steps if stepped else one_piece))
    gc.unfreeze()  # (restore_async freezes what it built, as the worker wants)
    return took, gap


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--days", type=int, default=150)
    ap.add_argument("--per-day", type=int, default=2000)
    ap.add_argument("--tail", type=int, default=40_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    gc.set_threshold(100_000, 50, 100)  # as the worker sets it (antt/cli/worker.py)
    if args.quick:
        args.days, args.per_day, args.tail, args.repeat = 90, 2000, 20_000, 1
    made, now = tables(args.days, args.per_day, args.tail)
    print(f"one province, {args.days} days x ~{args.per_day} facts/day; load average "
          f"{os.getloadavg()[0]:.2f} (other work may load the CPU); medians of {args.repeat}")
    for label, table in made.items():
        runs = [step_times(table, now) for _ in range(args.repeat)]
        steps = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"\n{label} ({len(table)} keys, {sum(map(len, table.values())) / 1e6:.1f} MB): "
              "steps of a restore")
        for name, value in steps.items():
            print(f"  {name:<12} " + (f"{value:8.0f}" if name.startswith("(")
                                      else f"{value:8.3f} s"))
        for stepped in (False, True):
            results = [restore_run(table, now, stepped) for _ in range(args.repeat)]
            took = statistics.median(r[0] for r in results)
            gap = statistics.median(r[1] for r in results)
            print(f"  {'in steps' if stepped else 'one piece'}: total {took:.3f} s, "
                  f"longest loop gap {gap * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
