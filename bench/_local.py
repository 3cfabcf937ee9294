"""Shared by the sink/query benchmarks: a private local ClickHouse server (and broker)."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def local_stack(kafka: bool) -> Iterator[object]:
    """A devstack.Stack on free ports in a temporary directory (Kafka only when asked)."""
    from devstack.stack import Stack, free_port

    with tempfile.TemporaryDirectory(prefix="antt-bench-") as tmp:
        stack = Stack(Path(tmp), kafka_port=free_port(), clickhouse_port=free_port())
        servers = stack.servers if kafka else [stack.clickhouse]
        try:
            for server in servers:
                server.start()
            yield stack
        finally:
            for server in reversed(servers):
                server.stop()


def median_ms(run: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), times


def conditions() -> str:
    import os

    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs, load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} "
            f"(other engineers share this machine)")
