"""Wiring for ``antt sink`` and ``antt db``: migrations, dimensions, then the consumer loop."""

from __future__ import annotations

import asyncio
import logging
import signal

from antt.settings import Settings
from sinks.client import make_client
from sinks.consumer import SinkConsumer, SinkStats
from sinks.dimensions import load_dimensions
from sinks.migrate import migrate
from sinks.writer import Writer

log = logging.getLogger(__name__)


def prepare_database(settings: Settings) -> list[int]:
    """Apply pending DDL and (re)load changed dimensions. Idempotent: run it on every start."""
    client = make_client(settings)
    try:
        applied = migrate(client, settings)
        load_dimensions(client, settings)
        return applied
    finally:
        client.close()


def build_sink(settings: Settings) -> SinkConsumer:
    client = make_client(settings, database=settings.clickhouse_database)
    return SinkConsumer(settings, Writer(client, settings))


async def run_sink(settings: Settings, stop: asyncio.Event | None = None) -> SinkStats:
    """Run the sink until ``stop`` is set (or SIGINT/SIGTERM when ``stop`` is None)."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    sink = build_sink(settings)
    log.info("sink: group %s, topic %s -> %s/%s", settings.sink_group_id,
             settings.events_topic, settings.clickhouse_url, settings.clickhouse_database)
    stats = await sink.run(stop)
    log.info("sink stopped: %s", stats)
    return stats
