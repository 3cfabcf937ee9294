"""Validation throughput of ``schemas.validate_batch`` on realistic Kafka records.

    python bench/validate_bench.py [--quick] [--rounds 3] [--baseline SRC_DIR]

Input: events from the ingest simulator (``ingest.simulate.generate``: realistic type mix,
corrections, Viet Nam time offsets), grouped by province into records of 1, 100 and 1000
events, all valid or with 2% malformed events (the simulator's kinds of breakage). Each case
prints the median over rounds (one process each) of the best of 3 passes, in events/s by wall
clock and by the measuring process's CPU time.

``--baseline SRC_DIR``: also measure another copy of the validator (e.g. the previous commit,
``git archive HEAD schemas antt | tar -x -C /tmp/before``), interleaved round by round with the
current one on the same records, so both see the same machine load.

Also measured on the valid events: what the consumers do next (the worker's ``to_fact`` and the
sink's column building), since the representation the validator returns sets their cost.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NOW = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
SIZES = (1, 100, 1000)
MALFORMED_SHARE = 0.02
Case = tuple[str, list[tuple[str, bytes]]]  # (name, [(province key, record value)])


def _simulated_events(n_events: int) -> dict[str, list[dict[str, Any]]]:
    """Valid simulator events (JSON-ready dicts) per province."""
    from ingest.simulate.generate import generate

    sim = generate(11, n_events=n_events, now=NOW)
    by_province: dict[str, list[dict[str, Any]]] = {}
    for item in sim.items:
        if item.valid:
            by_province.setdefault(item.province, []).append(item.value)
    return by_province


def _malformed(rng: random.Random, template: dict[str, Any]) -> Any:
    from ingest.simulate.stream import MALFORMED_KINDS, malformed_value

    return malformed_value(rng, rng.choice(MALFORMED_KINDS), template, NOW)


def _records(events: dict[str, list[dict[str, Any]]], size: int, total: int, bad: float,
             seed: int) -> list[tuple[str, bytes]]:
    """About ``total`` events in records of ``size`` (one province each), ``bad`` malformed."""
    import orjson

    rng = random.Random(seed)
    provinces = sorted(events)
    out: list[tuple[str, bytes]] = []
    count = 0
    while count < total:
        province = rng.choice(provinces)
        pool = events[province]
        if len(pool) >= size:  # consecutive events of the stream
            start = rng.randrange(len(pool) - size + 1)
            batch: list[Any] = list(pool[start:start + size])
        else:  # a small province: its events drawn again (the validator does not dedup)
            batch = rng.choices(pool, k=size)
        n_bad = round(bad * size) if size > 1 else int(rng.random() < bad)
        for i in rng.sample(range(size), n_bad):
            batch[i] = _malformed(rng, batch[i])
        out.append((province, orjson.dumps(batch if size > 1 else batch[0])))
        count += size
    return out


def build_cases(quick: bool) -> list[Case]:
    total = 5_000 if quick else 20_000
    events = _simulated_events(total)
    cases = []
    for size in SIZES:
        for bad in (0.0, MALFORMED_SHARE):
            name = f"{size:>4} ev/record, {'2% malformed' if bad else 'all valid'}"
            cases.append((name, _records(events, size, total, bad, seed=size)))
    return cases


def _rate(fn: Callable[[str, bytes], object], records: list[tuple[str, bytes]],
          n_events: int, passes: int = 3) -> tuple[float, float]:
    """(events/s by wall clock, events per CPU second): the best of ``passes`` passes over
    ``records`` (one pass can be hit by another process or a full garbage collection)."""
    wall, cpu = 0.0, 0.0
    for _ in range(passes):
        start, start_cpu = time.perf_counter(), time.process_time()
        for province, value in records:
            fn(province, value)
        wall = max(wall, n_events / (time.perf_counter() - start))
        cpu = max(cpu, n_events / max(time.process_time() - start_cpu, 1e-9))
    return wall, cpu


def _count(records: list[tuple[str, bytes]]) -> int:
    from schemas import validate_batch

    reports = [validate_batch(v, now=NOW) for _, v in records]
    return sum(len(r.valid) + len(r.rejected) for r in reports)


def _consumer_rates(records: list[tuple[str, bytes]]) -> dict[str, tuple[float, float]]:
    """What the worker and the sink spend per valid event after validation."""
    from schemas import validate_batch
    from sinks.rows import batch_columns
    from streams.logic.facts import to_fact

    valid = [e for _, v in records for e in validate_batch(v, now=NOW).valid]
    n = len(valid)
    dicts = [e.__dict__ for e in valid]

    def facts(_p: str, _v: bytes) -> object:
        return [to_fact(e, i) for i, e in enumerate(valid)]

    def columns(_p: str, _v: bytes) -> object:
        return batch_columns(dicts, "t", 0, range(n), NOW)

    return {"consumer: worker to_fact": _rate(facts, [("", b"")], n),
            "consumer: sink batch_columns": _rate(columns, [("", b"")], n)}


def measure(cases_file: str) -> dict[str, tuple[float, float]]:
    """One round over every case with whichever ``schemas`` this process imports."""
    from schemas import validate_batch

    with open(cases_file, "rb") as fh:
        cases: list[Case] = pickle.load(fh)  # noqa: S301 (our own temp file)

    def validate(province: str, value: bytes) -> object:
        return validate_batch(value, now=NOW, expected_province=province)

    out = {}
    for name, records in cases:
        n_events = _count(records)
        validate(*records[0])  # warm up
        out[name] = _rate(validate, records, n_events)
    out.update(_consumer_rates(cases[-1][1]))
    return out


def _round(cases_file: str, src: str | None) -> dict[str, tuple[float, float]]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    proc = subprocess.run(  # noqa: S603 (this script, this interpreter)
        [sys.executable, __file__, "--measure", cases_file],
        env=env, capture_output=True, text=True, check=True,
    )
    return {k: tuple(v) for k, v in json.loads(proc.stdout).items()}  # type: ignore[misc]


def _median(rounds: list[dict[str, tuple[float, float]]], name: str, i: int) -> float:
    return statistics.median(r[name][i] for r in rounds)


def report(current: list[dict[str, tuple[float, float]]],
           baseline: list[dict[str, tuple[float, float]]], loads: list[str]) -> None:
    import pydantic

    print(f"validate_bench: median of {len(current)} rounds (interleaved with the baseline)")
    print(f"python {sys.version.split()[0]}, pydantic {pydantic.VERSION}, cpus {os.cpu_count()}")
    print(f"load average before/after: {loads[0]} / {loads[1]} (other engineers share the CPU:")
    print(" wall rates drop under load; cpu = events per CPU-second of the measuring process)")
    head = f"{'':<40} {'wall ev/s':>11} {'cpu ev/s':>11}"
    print(head + (f" {'base wall':>11} {'base cpu':>11} {'cpu x':>6}" if baseline else ""))
    for name in current[0]:
        wall, cpu = _median(current, name, 0), _median(current, name, 1)
        line = f"{name:<40} {wall:>11,.0f} {cpu:>11,.0f}"
        if baseline:
            b_wall, b_cpu = _median(baseline, name, 0), _median(baseline, name, 1)
            line += f" {b_wall:>11,.0f} {b_cpu:>11,.0f} {cpu / b_cpu:>6.2f}"
        print(line)


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events per case")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (>= 3)")
    parser.add_argument("--baseline", metavar="SRC_DIR", help="another copy of schemas/ + antt/")
    parser.add_argument("--measure", metavar="CASES", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory(prefix="validate-bench-") as tmp:
        cases_file = str(Path(tmp) / "cases.pickle")
        with open(cases_file, "wb") as fh:
            pickle.dump(build_cases(args.quick), fh)
        loads = [_load()]
        current, baseline = [], []
        for _ in range(max(3, args.rounds)):
            if args.baseline:
                baseline.append(_round(cases_file, args.baseline))
            current.append(_round(cases_file, None))
        loads.append(_load())
    report(current, baseline, loads)


if __name__ == "__main__":
    main()
