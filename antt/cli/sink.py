"""``antt sink``: run the ClickHouse sink consumer in the foreground; Ctrl-C stops it."""

from __future__ import annotations

import argparse
import asyncio

from antt.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "sink",
        help="write events from Kafka into ClickHouse (consumer group ANTT_SINK_GROUP_ID)",
        description="Consumes ANTT_EVENTS_TOPIC, writes every valid event once into the "
        "ClickHouse database ANTT_CLICKHOUSE_DATABASE, commits offsets after ClickHouse "
        "acknowledged. Several sinks may share the group: they split the partitions. "
        "Applies pending migrations first unless --no-migrate (safe when several sinks "
        "start together: one migrates, the others wait for it).",
    )
    parser.add_argument("--no-migrate", action="store_true",
                        help="do not apply pending DDL before starting")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from antt.kafka import ensure_topics
    from sinks.service import prepare_database, run_sink

    ensure_topics(settings)
    if not args.no_migrate:
        prepare_database(settings)
    asyncio.run(run_sink(settings))
    return 0
