"""Where the worker's memory goes with the full national key space (issue #4: RSS <= 400 MB).

    python bench/memory_profile.py [--mode inproc|worker|both] [--runs 1]

``inproc``: the same records as ``bench/stream_bench.py``'s memory step (every commune with a
report on each of the last 38 days and in every earlier month of the year) through
``Runtime.process`` in this process, after importing what ``antt worker`` imports; prints RSS
after each import group, then the live state's Python objects per part (a deep
``sys.getsizeof`` walk, each object counted once; small ints, None and the shared category /
commune strings left out), the checkpoint chunk bytes the worker also keeps in its local
table, and what RSS holds beyond the counted objects (allocator pools, fragmentation).

``worker``: the memory step of ``bench/stream_bench.py`` itself (its helpers: a Tansu memory
broker, one ``antt worker`` process), then the worker's RSS split by mapping
(``/proc/<pid>/smaps``: heap, anonymous mmaps, libraries) before it is stopped. Environment
variables of this process pass on to the worker (e.g. ``MALLOC_ARENA_MAX=2`` to compare).

Other processes share the CPU and memory: the load average is printed.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

STATE_PARTS = ("registry", "corrected", "incidents", "day_cells", "month_cells", "prov_day",
               "prov_month", "minutes", "backlog", "carry")
MB = 1024 * 1024


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def import_steps() -> list[tuple[str, float]]:
    """RSS after importing, in order, the groups of modules the worker process imports."""
    steps = [("interpreter (+ antt.settings, pydantic)", rss_mb())]
    groups = (
        ("orjson", "orjson"),
        ("schemas (validator, unit tables)", "schemas schemas.units"),
        ("aiokafka + kafka client", "aiokafka"),
        ("faust + mode", "faust"),
        ("faust.worker (web, cli)", "faust.worker"),
        ("antt.cli", "antt.cli antt.kafka"),
        ("streams (app, runtime, web, agents)",
         "streams.app streams.web streams.agents.count_events streams.live"),
    )
    for label, names in groups:
        for name in names.split():
            __import__(name)
        steps.append((label, rss_mb()))
    return steps


def deep_size(root: Any, seen: set[int]) -> int:
    """Bytes of ``root`` and everything it reaches (containers, slots, instance dicts)."""
    total, stack = 0, [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif hasattr(obj, "__slots__") and not isinstance(obj, type):
            stack.extend(getattr(obj, s) for s in obj.__slots__ if hasattr(obj, s))
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            stack.append(obj.__dict__)
    return total


def shared_ids() -> set[int]:
    """Objects shared by the whole process (not the state's): small ints, None, bools,
    the canonical category and commune strings of ``streams.logic.facts``."""
    from streams.logic import facts

    seen = {id(i) for i in range(-5, 257)} | {id(None), id(True), id(False)}
    seen |= {id(s) for s in facts._CANONICAL.values()}
    return seen


def state_breakdown(runtime: Any) -> Counter[str]:
    seen = shared_ids()
    parts: Counter[str] = Counter()
    for state in runtime.states.values():
        for name in STATE_PARTS:
            parts[name] += deep_size(getattr(state, name), seen)
    parts["frozen (retention)"] = deep_size(runtime.retention, seen)
    parts["pending facts"] = deep_size(runtime.pending, seen)
    return parts


def counts(runtime: Any) -> dict[str, int]:
    states = runtime.states.values()
    return {name: sum(len(getattr(s, name)) for s in states)
            for name in ("registry", "incidents", "day_cells", "month_cells", "carry")}


def inproc(now: datetime, malloc_threshold: int) -> dict[str, float]:
    from antt.perf import fix_malloc_thresholds

    fix_malloc_thresholds(malloc_threshold)  # as the worker does (antt/cli/worker.py)
    gc.set_threshold(100_000, 50, 100)
    steps = import_steps()
    print("imports (RSS after each group, MB):")
    prev = 0.0
    for label, value in steps:
        print(f"  {label:<38} {value:7.1f}  (+{value - prev:.1f})")
        prev = value
    from stream_gen import full_key_space

    from streams.logic.calendar import LocalCalendar
    from streams.runtime import Runtime

    records = full_key_space(now, random.Random(9))
    n = sum(len(orjson.loads(v)) for _, v in records)
    runtime = Runtime(LocalCalendar(), "bench")
    before = rss_mb()
    now_ts = now.timestamp()
    started = time.process_time()
    for offset, (key, value) in enumerate(records):
        runtime.process(value, key, 0, offset, now_ts)
    cpu = time.process_time() - started
    chunk_bytes = sum(len(c.encode()) for p in list(runtime.pending)
                      for c in runtime.take_chunks(p, now_ts))
    del records
    gc.collect()
    after = rss_mb()
    parts = state_breakdown(runtime)
    counted = sum(parts.values()) / MB
    print(f"{n:,} events counted in {cpu:.1f} s CPU; objects: {counts(runtime)}")
    print("live state (deep getsizeof, MB):")
    for name, size in parts.most_common():
        print(f"  {name:<38} {size / MB:7.1f}")
    print(f"  {'total':<38} {counted:7.1f}")
    print(f"checkpoint chunk bytes (the worker's local table keeps them): "
          f"{chunk_bytes / MB:.1f} MB")
    print(f"RSS: {after:.1f} MB; at start {steps[-1][1]:.1f}; before counting {before:.1f} "
          f"(records held); state + allocator = {after - steps[-1][1]:.1f}; "
          f"not in counted objects (pools, fragmentation, caches) "
          f"{after - steps[-1][1] - counted:.1f}")
    return {"rss": after, "state": counted, "start": steps[-1][1]}


def smaps(pid: int) -> Counter[str]:
    """RSS (MB) per kind of mapping of process ``pid``."""
    out: Counter[str] = Counter()
    kind = "?"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and ":" not in head[0]:
            name = head[5] if len(head) > 5 else ""
            kind = ("heap (brk)" if name == "[heap]" else "anonymous mmap" if not name
                    else "stack" if name.startswith("[stack") else
                    "python/.so/files" if name.startswith("/") else name)
        elif line.startswith("Rss:"):
            out[kind] += int(head[1]) / 1024
    return out


def _alive(worker: Any) -> bool:
    if worker.proc.poll() is not None:
        raise RuntimeError(f"the worker exited ({worker.proc.returncode}): see {worker.log}")
    return True


FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def worker_run(days_back: int) -> dict[str, float]:
    import stream_bench as sb
    from stream_gen import full_key_space

    from antt.kafka import ensure_topics
    from antt.settings import load_settings

    root = Path(f"/tmp/antt-memory-profile-{os.getpid()}")
    root.mkdir(parents=True, exist_ok=True)
    broker = sb.start_broker(root)
    try:
        settings = load_settings(kafka_bootstrap=f"127.0.0.1:{broker.port}",
                                 events_topic=f"bench.mem.{uuid.uuid4().hex[:6]}.v1",
                                 dlq_topic="bench.dlq.v1",
                                 worker_id=f"bench-mem-{uuid.uuid4().hex[:6]}")
        ensure_topics(settings)
        records = full_key_space(datetime.now(UTC) - timedelta(days=days_back),
                                 random.Random(9))
        n = sum(len(orjson.loads(v)) for _, v in records)
        sb.produce(settings, settings.events_topic, records)
        del records
        if days_back:  # the worker's clock too (libfaketime: apt install faketime)
            os.environ.update(LD_PRELOAD=str(FAKETIME_LIB), FAKETIME=f"-{days_back}d")
        try:
            worker = sb.Worker(settings, "memory", root)
        finally:
            os.environ.pop("LD_PRELOAD", None)
            os.environ.pop("FAKETIME", None)
        try:
            sb.wait_for(lambda: _alive(worker) and worker.status() is not None, 120, every=0.2)
            idle = worker.rss_mb()[0]
            sb.wait_for(lambda: _alive(worker) and (s := worker.status())
                        and s["stats"]["accepted"] >= n, 600, every=0.5)
            worker.get("/api/v1/live/national")
            worker.get("/api/v1/live/provinces/01")
            time.sleep(1.5)  # as stream_bench: let a checkpoint flush happen
            rss, peak = worker.rss_mb()
            maps = smaps(worker.proc.pid)
        finally:
            worker.stop()
    finally:
        broker.stop()
    print(f"worker: {n:,} events; RSS idle (API up) {idle:.0f} MB, after counting {rss:.0f} MB "
          f"(peak {peak:.0f}); by mapping: "
          + ", ".join(f"{k} {v:.0f}" for k, v in maps.most_common()))
    return {"rss": rss, "peak": peak, "idle": idle}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("inproc", "worker", "both"), default="both")
    parser.add_argument("--runs", type=int, default=1, help="worker runs (median)")
    parser.add_argument("--now", default=None, help="inproc: the clock (ISO, with offset; "
                        "default now). The 14th is the worst case: the statistical month then "
                        "started on the 15th before, the most days of commune rows kept")
    parser.add_argument("--days-back", type=int, default=0,
                        help="worker: run it (and the key space) this many days in the past, "
                        "with libfaketime (e.g. to land on the 14th)")
    parser.add_argument("--malloc-threshold", type=int, default=None,
                        help="inproc: glibc threshold to fix (default: the worker's setting, "
                        "ANTT_WORKER_MALLOC_THRESHOLD; 0: glibc's adaptive default)")
    parser.add_argument("--worker-env", action="append", default=[], metavar="ANTT_X=VALUE",
                        help="worker: a setting for the measured worker (repeatable)")
    args = parser.parse_args()
    if args.worker_env:
        import stream_bench

        stream_bench.WORKER_ENV.update(item.split("=", 1) for item in args.worker_env)
    malloc_env = {k: v for k, v in os.environ.items() if k.startswith(("MALLOC_", "ANTT_"))}
    print(f"conditions: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
          f"(shared machine), python {sys.version.split()[0]}, env {malloc_env or '-'}")
    if args.mode in ("inproc", "both"):
        from antt.settings import load_settings

        threshold = args.malloc_threshold
        if threshold is None:
            threshold = load_settings().worker_malloc_threshold
        now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
        inproc(now, threshold)
    if args.mode in ("worker", "both"):
        runs = [worker_run(args.days_back) for _ in range(args.runs)]
        print(f"worker RSS median of {len(runs)}: "
              f"{statistics.median(r['rss'] for r in runs):.0f} MB "
              f"(runs {', '.join(format(r['rss'], '.0f') for r in runs)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
