"""Sampling profile of one ``antt worker`` counting a pre-filled topic (py-spy, no code changes).

    python bench/stream_worker_profile.py [--quick] [--events N] [--top 30] [--native]
                                          [--stacks FILE]

Starts a Tansu memory broker on a free port, produces the benchmark's records
(bench/stream_gen.py), starts one worker, attaches ``py-spy record`` (raw collapsed stacks)
while it counts, and prints the share of samples per function (own time) and for a few
stages (cumulative: validation, to_fact, apply_many, checkpoint chunks; own time in
Faust's and aiokafka's frames).
Needs py-spy in the venv and ptrace rights. Other processes share the CPU: the load average
is printed.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_bench import Worker, produce, start_broker, wait_for  # noqa: E402
from stream_gen import Generator  # noqa: E402

from antt.kafka import ensure_topics  # noqa: E402
from antt.settings import load_settings  # noqa: E402

PY_SPY = str(Path(sys.executable).with_name("py-spy"))
STAGES = {
    "validate_batch": "validate_batch (schemas)",
    "to_fact": "to_fact",
    "apply_many": "ProvinceState.apply_many",
    "make_chunks": "checkpoint.make_chunks",
    "_dead": "dead letters",
    "aiokafka": "aiokafka (own time)",
    "faust": "faust (own time)",
}


def summarise(raw: Path, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    stage: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        total += n
        own[_name(frames[-1])] += n
        funcs = {f.partition(" (")[0].rpartition(".")[2] for f in frames}
        for key in STAGES:
            if key in funcs or (key in ("aiokafka", "faust") and f"{key}/" in frames[-1]):
                stage[key] += n
    print(f"{total} samples")
    for key, label in STAGES.items():
        print(f"  {label:<32} {100 * stage[key] / total:5.1f} %")
    print("own time:")
    for name, n in own.most_common(top):
        print(f"  {100 * n / total:5.1f} %  {name}")


def _name(frame: str) -> str:
    """``function (path/to/file.py:line)`` -> ``function (file.py)``."""
    func, _, where = frame.partition(" (")
    path = where.split(":")[0]
    return f"{func} ({Path(path).name})" if path else func


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--native", action="store_true",
                        help="sample C frames too (py-spy --native: shows the cyclic GC)")
    parser.add_argument("--stacks", type=Path, default=None,
                        help="also keep py-spy's raw collapsed stacks in this file")
    args = parser.parse_args()
    n_events = args.events or (150_000 if args.quick else 600_000)
    root = Path(f"/tmp/antt-stream-profile-{os.getpid()}")
    root.mkdir(parents=True, exist_ok=True)
    broker = start_broker(root)
    try:
        settings = load_settings(kafka_bootstrap=f"127.0.0.1:{broker.port}",
                                 events_topic="bench.events.v1", dlq_topic="bench.dlq.v1",
                                 worker_id="bench-profile")
        ensure_topics(settings)
        produce(settings, settings.events_topic,
                Generator(random.Random(1), datetime.now(UTC)).records(n_events))
        print(f"conditions: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
              f"(shared CPU), {n_events} events")
        worker = Worker(settings, "profiled", root)
        try:
            wait_for(lambda: worker.status() is not None, 120, every=0.1)
            raw = root / "stacks.txt"
            spy = subprocess.Popen([PY_SPY, "record", "--pid", str(worker.proc.pid),
                                    "--rate", "200", "--format", "raw", "--output", str(raw),
                                    *(["--native"] if args.native else ["--nonblocking"])],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            started = time.perf_counter()
            wait_for(lambda: (s := worker.status()) and s["stats"]["accepted"] >= n_events,
                     300, every=0.1)
            print(f"counted in {time.perf_counter() - started:.1f} s (including attach)")
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            spy.wait(timeout=30)
        finally:
            worker.stop()
        summarise(raw, args.top)
        if args.stacks is not None:
            args.stacks.write_text(raw.read_text())
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
