"""Shared fixtures: the real local stack (Tansu broker + local ClickHouse over chDB).

The stack is started once per test session on free ports, in a temporary directory.
A server that cannot start fails the tests that need it; nothing is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from antt.settings import Settings, load_settings


@pytest.fixture(scope="session")
def stack_handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The running ``devstack.Stack`` (for fault injection: ``stop_clickhouse()`` ...)."""
    from devstack.stack import Stack, free_port

    root: Path = tmp_path_factory.mktemp("stack")
    stack = Stack(root, kafka_port=free_port(), clickhouse_port=free_port())
    stack.up()
    try:
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="session")
def stack(stack_handle: object, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings pointing at the session's local stack."""
    return load_settings(
        kafka_bootstrap=stack_handle.kafka_bootstrap,  # type: ignore[attr-defined]
        clickhouse_url=stack_handle.clickhouse_url,  # type: ignore[attr-defined]
        stack_dir=stack_handle.root,  # type: ignore[attr-defined]
        worker_data_dir=tmp_path_factory.mktemp("worker"),
        gateway_tokens_file=tmp_path_factory.mktemp("gateway") / "tokens.json",
    )


@pytest.fixture
def isolated(stack: Settings) -> Settings:
    """Like ``stack`` but with topics and a ClickHouse database of this test's own."""
    tag = uuid.uuid4().hex[:8]
    return stack.model_copy(
        update={
            "events_topic": f"antt.events.t{tag}.v1",
            "dlq_topic": f"antt.events.dlq.t{tag}.v1",
            "clickhouse_database": f"antt_t{tag}",
            "worker_id": f"antt-worker-t{tag}",
        }
    )
