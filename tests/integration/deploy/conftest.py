"""A chDB engine in a child process, configured like one node of the production cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

CLUSTER = "antt"

# One shard whose only replica is this process (tcp_port makes localhost:9000 "local"), the
# production macros, and ClickHouse's in-memory test keeper for the Replicated engines.
CONFIG = """<clickhouse>
  <tcp_port>9000</tcp_port>
  <zookeeper><implementation>testkeeper</implementation></zookeeper>
  <macros><shard>01</shard><replica>r1</replica><cluster>{cluster}</cluster></macros>
  <remote_servers>
    <{cluster}><shard><replica><host>localhost</host><port>9000</port></replica></shard></{cluster}>
  </remote_servers>
</clickhouse>
"""

Runner = Callable[[list[str]], list[dict[str, object]]]


@pytest.fixture
def run_chdb(tmp_path: Path) -> Runner:
    """Run statements in a fresh chDB engine; returns one result dict per statement run."""
    config = tmp_path / "config.xml"
    config.write_text(CONFIG.format(cluster=CLUSTER), encoding="utf-8")
    counter = iter(range(1000))

    def run(statements: list[str], stop_on_error: bool = True) -> list[dict[str, object]]:
        n = next(counter)
        out = tmp_path / f"out{n}.json"
        job = {
            "path": str(tmp_path / f"db{n}"),
            "config": str(config),
            "out": str(out),
            "steps": [{"sql": s, "stop_on_error": stop_on_error} for s in statements],
        }
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("chdb_runner.py"))],
            input=json.dumps(job),
            text=True,
            capture_output=True,
            timeout=240,
        )
        assert out.exists(), f"chDB child failed (rc={proc.returncode}): {proc.stderr[-2000:]}"
        return json.loads(out.read_text(encoding="utf-8"))

    return run
