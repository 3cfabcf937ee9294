"""Fixtures for the streams integration tests (helpers in ``streams_harness.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streams_harness import Workers

from antt.kafka import ensure_topics
from antt.settings import Settings


@pytest.fixture
def live_settings(isolated: Settings, tmp_path: Path, request: pytest.FixtureRequest
                  ) -> Settings:
    """Own topics and group; a test module may set ``WORKER_SESSION_TIMEOUT_S`` (default 6 s).

    The broker (Tansu) answers a JoinGroup only after about half the joining member's
    session timeout, and waits that long for a member that died without leaving: each
    worker start, kill and rebalance costs time in proportion to it.
    """
    settings = isolated.model_copy(update={
        "worker_data_dir": tmp_path / "workers",
        "live_flush_interval_s": 0.5,
        "worker_session_timeout_s": getattr(request.module, "WORKER_SESSION_TIMEOUT_S", 6.0),
    })
    ensure_topics(settings)
    return settings


@pytest.fixture
def workers(live_settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    group = Workers(live_settings, tmp_path)
    try:
        yield group
    finally:
        group.stop_all()
