"""`make run` (`antt demo`): counters move within 30 s, and everything it started stops."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.stack import free_port, port_is_free

pytestmark = pytest.mark.integration

LINE = re.compile(r"open=(\d+) .*clickhouse rows=(\d+)")


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
    done = subprocess.run(
        [sys.executable, "-m", "antt.cli", "demo", "--seconds", "30"],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    seen = [(int(o), int(r)) for o, r in LINE.findall(done.stdout)]
    assert len(seen) >= 2, done.stdout[-2000:]
    # Live counters and ClickHouse rows both grew while the demo ran.
    assert seen[-1][0] > seen[0][0] and seen[-1][1] > seen[0][1], seen
    assert "antt demo: stopped" in done.stdout
    # Nothing it started is left: the stack's pid file is gone and its ports are free again.
    assert not (tmp_path / "stack" / "stack.json").exists()
    assert all(port_is_free(port) for port in (kafka, clickhouse, web))
