"""Sink throughput into the local ClickHouse, end to end and stage by stage.

    python bench/sink_bench.py            # 1,000,000 events
    python bench/sink_bench.py --quick    # 200,000 events

Starts a private Tansu broker and local ClickHouse server, produces the events as Kafka
records of 1,000 events (4 partitions), then measures:

Each figure is the median of ``--runs`` (3) runs; the load average is printed before and
after (other engineers share the machine).

1. end to end: ``antt sink`` (validate, batch, dedup lookup, insert with token, read-back
   check, commit) from the first record fetched to the last offset committed;
2. the ClickHouse write path alone on validated batches of 50,000 (``Writer.prepare`` of the
   next batch while ``Writer.store`` writes one, as the sink does);
3. the bare insert (one tokened insert per batch, no lookup, no read-back), into
   ``events_raw`` with its materialized views, and, as the baseline measured in the same run,
   into a copy without views;
4. validation alone (``schemas.validate_batch`` on the same records).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402

from bench._local import conditions, local_stack  # noqa: E402

PER_RECORD = 1000
BATCH = 50_000


def make_records(total: int, now: datetime) -> list[tuple[bytes, bytes]]:
    """(key, value) records of PER_RECORD events of one province, recent and valid."""
    from schemas import units
    from schemas.examples import make_event

    types = ["report_received"] * 3 + ["report_triaged", "report_resolved", "offence_cleared",
                                       "deadline_extended", "admin_violation_sanctioned"]
    templates = {t: make_event(t) for t in types}
    provinces = list(units.PROVINCES)
    records = []
    for r in range(total // PER_RECORD):
        province = provinces[r % len(provinces)]
        communes = units.communes_of(province)
        events = []
        for i in range(PER_RECORD):
            n = r * PER_RECORD + i
            at = now - timedelta(seconds=60 + n % 170_000)
            event = dict(templates[types[n % len(types)]])
            event.update(event_id=str(uuid.uuid4()), incident_id=f"inc-bench-{n // 4:012d}",
                         province_code=province, commune_code=communes[n % len(communes)],
                         occurred_at=at.isoformat(), recorded_at=at.isoformat())
            events.append(event)
        records.append((province.encode(), orjson.dumps(events)))
    return records


async def produce(settings, records) -> None:  # noqa: ANN001
    from aiokafka import AIOKafkaProducer

    from antt.kafka import client_config

    producer = AIOKafkaProducer(**client_config(settings), acks="all", linger_ms=20,
                                max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(settings.events_topic, v, key=k) for k, v in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def end_to_end(settings, total: int) -> float:  # noqa: ANN001
    from sinks.service import build_sink, prepare_database, tune_gc

    prepare_database(settings)
    tune_gc()  # as run_sink (antt sink) does
    sink = build_sink(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    started = None
    while sink.stats.inserted < total:
        if started is None and sink.stats.records:
            started = time.perf_counter()
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    seconds = time.perf_counter() - (started or time.perf_counter())
    stop.set()
    await task
    print(f"  stats: {sink.stats}")
    return seconds


def validated_batches(records, settings):  # noqa: ANN001, ANN201
    """Batches of BATCH events per partition, as the sink's would be: a province always maps
    to the same one of 4 partitions (as Kafka's key hashing does), offsets per partition."""
    from schemas.validate import validate_batch
    from sinks.rows import Batch

    now = datetime.now(UTC)
    batches, filling, partitions = [], {}, {}
    for key, value in records:
        partition = partitions.setdefault(key, len(partitions) % 4)
        batch = filling.get(partition)
        offset = batch.last_offset + 1 if batch else sum(
            len(b.events) // PER_RECORD for b in batches if b.partition == partition)
        if batch is None:
            batch = filling[partition] = Batch(settings.events_topic, partition, offset, offset)
        for event in validate_batch(value, now=now).valid:
            batch.add(event.__dict__, offset)
        if len(batch.events) >= BATCH:
            batches.append(filling.pop(partition))
    batches.extend(filling.values())
    return batches


def timed_writes(settings, batches, full: bool, views: bool = True) -> float:  # noqa: ANN001
    from sinks.client import make_client
    from sinks.service import prepare_database
    from sinks.writer import Writer

    prepare_database(settings)
    client = make_client(settings, database=settings.clickhouse_database)
    if not views:
        for name in ("corrections_mv", "metrics_daily_from_raw_mv", "incidents_from_raw_mv"):
            client.command(f"DROP VIEW {settings.clickhouse_database}.{name}")
    lookup = make_client(settings, database=settings.clickhouse_database)
    writer = Writer(client, settings, verify=full, lookup=lookup)
    started = time.perf_counter()
    if full:  # as the sink does: the next batch is prepared while one is stored
        with ThreadPoolExecutor(1) as pool:
            nxt = pool.submit(writer.prepare, batches[0])
            for i in range(len(batches)):
                prepared = nxt.result()
                if i + 1 < len(batches):
                    nxt = pool.submit(writer.prepare, batches[i + 1])
                writer.store(prepared)
    else:
        for batch in batches:
            writer._insert(batch, 0, len(batch.events), [])
    seconds = time.perf_counter() - started
    client.close()
    lookup.close()
    return seconds


def stages(settings, records, total: int, runs: int) -> None:  # noqa: ANN001
    """Stages 2-4 on the same records, each run into a database of its own (medians)."""
    from schemas.validate import validate_batch

    batches = validated_batches(records, settings)
    for label, db, full, views in (
        ("2. write path (lookup + tokened insert + read-back + corrections)", "antt_w", True,
         True),
        ("3. bare tokened insert into events_raw (+ its materialized views)", "antt_i", False,
         True),
        ("   baseline: the same insert without materialized views", "antt_n", False, False),
    ):
        rates = []
        for run in range(runs):
            seconds = timed_writes(
                settings.model_copy(update={"clickhouse_database": f"{db}{run}"}),
                batches, full=full, views=views)
            rates.append(total / seconds)
        print(f"{label}: {statistics.median(rates):,.0f} rows/s median of {runs} "
              f"({', '.join(f'{r:,.0f}' for r in rates)})")
    now = datetime.now(UTC)
    started = time.perf_counter()
    for _key, value in records:
        validate_batch(value, now=now)
    valid = time.perf_counter() - started
    print(f"4. validation alone (schemas.validate_batch): {total / valid:,.0f} events/s")


def e2e_runs(settings, total: int, runs: int) -> None:  # noqa: ANN001
    """End to end ``runs`` times, each a fresh consumer group into a fresh database."""
    rates = []
    for run in range(runs):
        seconds = asyncio.run(end_to_end(settings.model_copy(update={
            "clickhouse_database": f"antt_e{run}", "sink_group_id": f"sink-bench-{run}"}), total))
        rates.append(total / seconds)
    print(f"1. end to end (Kafka -> validate -> ClickHouse, committed): "
          f"{statistics.median(rates):,.0f} events/s median of {runs} "
          f"({', '.join(f'{r:,.0f}' for r in rates)})")


def uptime() -> str:
    import subprocess

    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 events instead of 1M")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args()
    total = args.events or (200_000 if args.quick else 1_000_000)

    from antt.kafka import ensure_topics
    from antt.settings import load_settings
    with local_stack(kafka=True) as stack:
        settings = load_settings(
            kafka_bootstrap=stack.kafka_bootstrap,  # type: ignore[attr-defined]
            clickhouse_url=stack.clickhouse_url,  # type: ignore[attr-defined]
            sink_batch_rows=BATCH, sink_batch_seconds=1.0, sink_max_pending_rows=4 * BATCH)
        print(f"sink_bench: {total:,} events in records of {PER_RECORD}, "
              f"{settings.topic_partitions} partitions; {conditions()}")
        print(f"uptime before: {uptime()}")
        ensure_topics(settings)
        records = make_records(total, datetime.now(UTC))
        asyncio.run(produce(settings, records))
        e2e_runs(settings, total, args.runs)
        stages(settings, records, total, args.runs)
        print(f"uptime after: {uptime()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
