"""`make run` (`antt demo`): counters move within 30 s, and Ctrl-C stops everything it started."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devstack.stack import free_port, port_is_free

pytestmark = pytest.mark.integration

LINE = re.compile(r"open=(\d+) .*clickhouse rows=(\d+)")


def _moved(seen: list[tuple[int, int]]) -> bool:
    """Live counters and ClickHouse rows both grew since the first report."""
    return len(seen) >= 2 and seen[-1][0] > seen[0][0] and seen[-1][1] > seen[0][1]


def test_demo_shows_counters_moving_and_cleans_up(tmp_path: Path) -> None:
    kafka, clickhouse, web = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
    env.update({
        "ANTT_STACK_DIR": str(tmp_path / "stack"),
        "ANTT_STACK_KAFKA_PORT": str(kafka),
        "ANTT_STACK_CLICKHOUSE_PORT": str(clickhouse),
        "ANTT_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
        "ANTT_CLICKHOUSE_URL": f"http://127.0.0.1:{clickhouse}",
        "ANTT_WORKER_WEB_PORT": str(web),
        "ANTT_WORKER_DATA_DIR": str(tmp_path / "worker"),
    })
    # --seconds 30 bounds the run: counters that have not moved by then fail the test.
    # As soon as they have moved, the demo gets SIGINT, what Ctrl-C sends under `make run`.
    with (tmp_path / "stderr.log").open("w") as err:
        demo = subprocess.Popen(
            [sys.executable, "-m", "antt.cli", "demo", "--seconds", "30"],
            env=env, stdout=subprocess.PIPE, stderr=err, text=True, cwd=tmp_path,
        )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in demo.stdout:  # type: ignore[union-attr]
            lines.put(line)
        lines.put(None)  # end of output: the demo has exited

    threading.Thread(target=read, daemon=True).start()
    out: list[str] = []
    seen: list[tuple[int, int]] = []
    interrupted = False
    deadline = time.monotonic() + 120
    try:
        while (line := lines.get(timeout=max(0.0, deadline - time.monotonic()))) is not None:
            out.append(line)
            seen += [(int(o), int(r)) for o, r in LINE.findall(line)]
            if not interrupted and _moved(seen):
                demo.send_signal(signal.SIGINT)
                interrupted = True
        demo.wait(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(timeout=30)
    stdout = "".join(out)
    report = stdout[-2000:] + (tmp_path / "stderr.log").read_text()[-2000:]
    assert demo.returncode == 0, report
    assert len(seen) >= 2, report
    # Live counters and ClickHouse rows both grew while the demo ran.
    assert _moved(seen) and interrupted, seen
    assert "antt demo: stopped" in stdout
    # Nothing it started is left: the stack's pid file is gone and its ports are free again.
    assert not (tmp_path / "stack" / "stack.json").exists()
    assert all(port_is_free(port) for port in (kafka, clickhouse, web))
