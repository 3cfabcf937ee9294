"""The local stack: both servers answer, ports taken are refused clearly, down leaves nothing."""

from __future__ import annotations

import socket
import time

import pytest

from devstack.stack import Stack, StackError, _alive, free_port


def test_stack_up_answers_and_down_leaves_nothing(tmp_path):
    stack = Stack(tmp_path, kafka_port=free_port(), clickhouse_port=free_port())
    started = time.monotonic()
    stack.up()
    ready_s = time.monotonic() - started
    pids = [s.pid for s in stack.servers]
    try:
        status = stack.status()
        assert all(s["alive"] and s["answers"] for s in status.values()), status
        assert ready_s < 10, f"stack took {ready_s:.1f} s to be ready"
        # A second Stack object on the same dir adopts the recorded pids (the CLI case).
        other = Stack(tmp_path, stack.kafka.port, stack.clickhouse.port)
        other.load_state()
        assert [s.pid for s in other.servers] == pids
    finally:
        Stack(tmp_path, stack.kafka.port, stack.clickhouse.port).down()
    assert not any(_alive(pid) for pid in pids)
    assert not (tmp_path / "stack.json").exists()


def test_port_taken_is_a_clear_error(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        stack = Stack(tmp_path, kafka_port=taken, clickhouse_port=free_port())
        with pytest.raises(StackError, match=f"port {taken} is already in use"):
            stack.up()
    assert not any(_alive(s.pid) for s in stack.servers)


def test_stack_clickhouse_has_readonly_analyst(stack):
    """The local stack's ClickHouse refuses writes from the analyst user (code 164)."""
    import urllib.error
    import urllib.request

    def post(user: str, sql: str) -> tuple[int, str]:
        req = urllib.request.Request(f"{stack.clickhouse_url}/?user={user}", data=sql.encode())
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    assert post("default", "CREATE TABLE IF NOT EXISTS default.ro_probe (x UInt8) "
                           "ENGINE = MergeTree ORDER BY x")[0] == 200
    status, body = post("analyst", "INSERT INTO default.ro_probe VALUES (1)")
    assert status != 200 and "Code: 164" in body, body
    assert post("analyst", "SELECT count() FROM default.ro_probe") == (200, "0\n")
