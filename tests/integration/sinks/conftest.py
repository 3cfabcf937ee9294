"""Fixtures for the sink: an isolated topic + database on the session's real local stack."""

from __future__ import annotations

import uuid

import pytest

from antt.kafka import ensure_topics
from antt.settings import Settings
from sinks.client import make_client
from sinks.service import prepare_database


@pytest.fixture
def sink_settings(isolated: Settings) -> Settings:
    """Own topics, own database (migrated, dimensions loaded), own consumer group."""
    settings = isolated.model_copy(update={
        "sink_group_id": f"antt-sink-t{uuid.uuid4().hex[:8]}",
        "sink_batch_seconds": 0.3,
        "sink_batch_rows": 20_000,
        "sink_retry_max_s": 2.0,
    })
    ensure_topics(settings)
    prepare_database(settings)
    return settings


@pytest.fixture
def ch(sink_settings: Settings):  # noqa: ANN201
    client = make_client(sink_settings, database=sink_settings.clickhouse_database)
    yield client
    client.close()
