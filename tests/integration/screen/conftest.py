"""Fixtures for the screen's browser tests: a real worker on the session's local stack,
current events sent to Kafka (``screen_feed``) and one headless Chromium."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from screen_feed import EventFeed
from screen_harness import Worker

from antt.settings import Settings
from streams.screen.browser import Browser


@pytest.fixture(scope="module")
def screen_settings(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The session stack, with a topic, consumer group and state directory of this module."""
    tag = uuid.uuid4().hex[:8]
    return stack.model_copy(update={
        "events_topic": f"antt.events.s{tag}.v1",
        "dlq_topic": f"antt.events.dlq.s{tag}.v1",
        "clickhouse_database": f"antt_s{tag}",
        "worker_id": f"antt-worker-s{tag}",
        "worker_data_dir": tmp_path_factory.mktemp("screen-worker"),
        # The broker answers a JoinGroup after about half the session timeout and waits that
        # long for a stopped worker that did not leave: 3 s instead of the default 10 s.
        "worker_session_timeout_s": 3.0,
    })


@pytest.fixture(scope="module")
def worker(screen_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    w = Worker(screen_settings, tmp_path_factory.mktemp("screen-logs"))
    w.start()
    try:
        w.wait_ready()
        yield w
    finally:
        w.stop()


@pytest.fixture(scope="module")
def feed(screen_settings: Settings) -> Iterator[EventFeed]:
    f = EventFeed(screen_settings, seed=7)
    try:
        yield f
    finally:
        f.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(width=1600, height=1300) as b:
        yield b
