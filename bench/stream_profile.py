"""Where the worker's in-process time goes: plain lane, plain_fact, apply_many (no Kafka).

    python bench/stream_profile.py [--quick] [--events N] [--runs 3] [--cprofile]

Feeds synthetic records (bench/stream_gen.py, the same mix as bench/stream_bench.py) through
the stages of ``Runtime.process`` one by one and through ``Runtime.process`` as a whole,
timing each in CPU time (``time.process_time``: less disturbed than wall time when other
processes share the CPU). Per stage: medians of ``--runs`` runs, microseconds per event.
``--cprofile`` adds a cProfile of one ``Runtime.process`` pass (top 25 by own time).
Other processes share the CPU: the load average is printed.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_gen import Generator  # noqa: E402

from schemas import MAX_BATCH_EVENTS, validate_batch  # noqa: E402
from schemas.plain import plain_events  # noqa: E402
from streams.logic.calendar import LocalCalendar  # noqa: E402
from streams.logic.facts import POS_STRIDE, plain_fact, to_facts  # noqa: E402
from streams.logic.state import ProvinceState  # noqa: E402
from streams.runtime import Runtime  # noqa: E402


def stages(records: list[tuple[bytes, bytes]], now_ts: float) -> dict[str, float]:
    """Seconds per stage over all records, the way ``Runtime.process`` takes them: the
    validator's plain lane and ``plain_fact`` (every bench record is plain), ``apply_many``;
    and, for comparison, the full validator with ``to_facts`` (the path of records the lane
    declines)."""
    cal = LocalCalendar()
    now = datetime.fromtimestamp(now_ts, UTC)
    t0 = time.process_time()
    lanes = [(key.decode(), plain_events(value, now=now, expected_province=key.decode(),
                                         future_tolerance_s=300, max_events=MAX_BATCH_EVENTS))
             for key, value in records]
    t1 = time.process_time()
    batches = []
    for offset, (province, events) in enumerate(lanes):
        assert events is not None, "the lane declined a bench record"
        batches.append((province, [plain_fact(e, pos)
                                   for pos, e in enumerate(events, offset * POS_STRIDE)]))
    t2 = time.process_time()
    states: dict[str, ProvinceState] = {}
    for province, facts in batches:
        state = states.get(province)
        if state is None:
            state = states[province] = ProvinceState(province, cal)
        state.apply_many(facts, now_ts)
    t3 = time.process_time()
    del lanes, batches
    t4 = time.process_time()
    for offset, (key, value) in enumerate(records):
        valid = validate_batch(value, now=now, expected_province=key.decode()).valid
        to_facts(valid, range(offset * POS_STRIDE, offset * POS_STRIDE + len(valid)))
    t5 = time.process_time()
    return {"plain lane": t1 - t0, "plain_fact": t2 - t1, "apply_many": t3 - t2,
            "(validate_batch + to_facts)": t5 - t4}


def whole(records: list[tuple[bytes, bytes]], now_ts: float) -> float:
    runtime = Runtime(LocalCalendar(), "bench")
    t0 = time.process_time()
    for offset, (key, value) in enumerate(records):
        runtime.process(value, key, 0, offset, now_ts)
    return time.process_time() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()
    n = args.events or (100_000 if args.quick else 300_000)
    gc.set_threshold(100_000, 50, 100)  # as the worker does (antt/cli/worker.py)
    now = datetime.now(UTC)
    records = Generator(random.Random(1), now).records(n)
    now_ts = now.timestamp()
    print(f"conditions: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
          f"(shared CPU), {n} events in {len(records)} records")
    runs = [stages(records, now_ts) for _ in range(args.runs)]
    for name in runs[0]:
        secs = statistics.median(r[name] for r in runs)
        print(f"  {name:<27} {secs / n * 1e6:6.2f} us/event  ({n / secs:,.0f} events/s)")
    total = statistics.median(whole(records, now_ts) for _ in range(args.runs))
    print(f"Runtime.process: {total / n * 1e6:.2f} us/event ({n / total:,.0f} events/s)")
    if args.cprofile:
        prof = cProfile.Profile()
        prof.runcall(whole, records, now_ts)
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
