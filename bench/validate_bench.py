"""Validation throughput of ``schemas.validate_batch`` on one core.

    python bench/validate_bench.py [--quick] [--batch 1000] [--runs 15]

Input: Kafka-record-sized JSON arrays (bytes) of typical events of one province, a realistic
mix of event types, communes and timestamps. Prints the median events/s over several runs for
the fast path (all valid), for batches holding one bad event (split + per-event reasons), and
two baselines measured in the same run: orjson parsing alone (the ceiling) and per-event
pydantic validation (the naive way). The target is >= 200,000 events/s for typical batches.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pydantic
from pydantic import TypeAdapter

from schemas import Event, validate_batch
from schemas.examples import make_event
from schemas.units import communes_of

NOW = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
# Rough monthly shares of event types in normal operation.
MIX = {
    "report_received": 20,
    "report_triaged": 18,
    "report_forwarded": 8,
    "deadline_extended": 3,
    "report_resolved": 16,
    "report_resumed": 1,
    "offence_cleared": 8,
    "suspects_apprehended": 8,
    "admin_violation_sanctioned": 18,
}
RESOLVED = [
    {"decision": "institute"},
    {"decision": "decline"},
    {"decision": "suspend", "suspension_reason": "awaiting_expert_assessment"},
]


def typical_batch(rng: random.Random, size: int, province: str) -> bytes:
    communes = communes_of(province)
    types, weights = zip(*MIX.items(), strict=True)
    events: list[dict[str, Any]] = []
    for _ in range(size):
        event_type = rng.choices(types, weights)[0]
        occurred = NOW - timedelta(seconds=rng.randint(60, 30 * 86400))
        extra = rng.choice(RESOLVED) if event_type == "report_resolved" else {}
        events.append(
            make_event(
                event_type,
                commune_code=rng.choice(communes),
                occurred_at=occurred,
                recorded_at=min(occurred + timedelta(seconds=rng.randint(0, 3600)), NOW),
                **extra,
            )
        )
    return orjson.dumps(events)


def median_rate(
    fn: Callable[[bytes], object], batches: list[bytes], events: int, runs: int
) -> tuple[float, float]:
    """(median events/s by wall clock, median events per CPU-second of this process)."""
    fn(batches[0])  # warm up
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            fn(batch)
        wall.append(events / (time.perf_counter() - start))
        cpu.append(events / max(time.process_time() - start_cpu, 1e-9))
    return statistics.median(wall), statistics.median(cpu)


def with_one_bad_event(batch: bytes) -> bytes:
    events = orjson.loads(batch)
    events[len(events) // 2]["channel"] = "fax"
    return orjson.dumps(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer batches and runs")
    parser.add_argument("--batch", type=int, default=1000, help="events per record")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    n_batches, runs = (5, 5) if args.quick else (20, args.runs)
    rng = random.Random(7)
    provinces = ["01", "79", "15", "48", "92"]
    batches = [typical_batch(rng, args.batch, provinces[i % 5]) for i in range(n_batches)]
    events = n_batches * args.batch
    for i, batch in enumerate(batches):
        report = validate_batch(batch, now=NOW, expected_province=provinces[i % 5])
        assert not report.rejected, report.rejected[:3]
    one = TypeAdapter(Event)

    def naive(batch: bytes) -> object:
        return [one.validate_python(item) for item in orjson.loads(batch)]

    def fast(batch: bytes) -> object:
        return validate_batch(batch, now=NOW)

    figures = {
        "validate_batch, all valid (fast path)": median_rate(fast, batches, events, runs),
        "validate_batch, 1 bad event per batch": median_rate(
            fast, [with_one_bad_event(b) for b in batches], events, max(3, runs // 3)
        ),
        "baseline: orjson.loads only (ceiling)": median_rate(orjson.loads, batches, events, runs),
        "baseline: per-event validate_python": median_rate(
            naive, batches, events, max(3, runs // 3)
        ),
    }
    print(f"validate_bench: {n_batches} batches x {args.batch} events, median of {runs} runs")
    print(
        f"python {platform.python_version()}, pydantic {pydantic.VERSION}, "
        f"orjson {orjson.__version__}, cpus {os.cpu_count()}, load avg {os.getloadavg()}"
    )
    print(f"avg record size {sum(map(len, batches)) / len(batches) / 1024:.0f} KiB")
    print("(other processes share this machine: wall-clock rates drop under load; the CPU-time")
    print(" rate counts only this process's CPU seconds, i.e. the rate one free core would give)")
    print(f"{'':<42} {'wall ev/s':>12} {'cpu ev/s':>12}")
    for name, (wall, cpu) in figures.items():
        print(f"{name:<42} {wall:>12,.0f} {cpu:>12,.0f}")
    wall, cpu = figures["validate_batch, all valid (fast path)"]
    print(
        f"target 200,000 events/s on one core: {'met' if max(wall, cpu) >= 200_000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
