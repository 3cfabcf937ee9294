"""Sink throughput into the local ClickHouse, end to end and stage by stage, with CPU per process.

    python bench/sink_bench.py            # 1,000,000 events
    python bench/sink_bench.py --quick    # 200,000 events

Starts a private Tansu broker and local ClickHouse server, produces the events as Kafka
records of 1,000 events (4 partitions), then measures, each figure the median of ``--runs``
(3) runs, each run into a fresh database (migrations and dimensions are loaded before the
clock starts):

1. end to end: ``antt sink`` (fetch, validate, batch, dedup, insert with token, read-back,
   corrections, commit) from the first record fetched to the last offset committed;
2. the write path alone on validated batches of 50,000 (``Writer.prepare`` of the next batch
   while ``Writer.store`` writes one, as the sink does);
3. the server alone: the same Native bodies the writer built, posted with ``raw_insert``
   (one tokened insert per batch: no client work, no lookup, no read-back);
4. baseline, measured in the same run: chDB itself (in this process, no HTTP) inserting the
   same Native bodies with ``INSERT ... FROM INFILE`` into the same schema (with its
   materialized views), as the local server does;
5. validation alone (``schemas.validate_batch`` on the same records).

For every stage it prints CPU microseconds per row of each process (the sink/bench process,
the ClickHouse server, the broker) and the server's CPU in the SETTLE_S seconds after the
stage (``merges after``: background merges the stage left behind; each run's database is then
dropped so that they stop). On 2 cores, the busiest process sets the ceiling (1 s / its CPU
per row), and all of them together must stay under 2 s of CPU per second. The load average
is printed before and after: other engineers share this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402

from bench._local import conditions, local_stack  # noqa: E402

PER_RECORD = 1000
BATCH = 50_000
SETTLE_S = 4.0


@dataclass
class Run:
    rows: int
    seconds: float
    cpu: dict[str, float]  # process -> CPU seconds

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def cpu_seconds(pid: int | None) -> float:
    """user + system CPU of a process (this one when ``pid`` is None)."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Wall time and CPU of the named processes around a stage."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids

    def __enter__(self) -> Meter:
        self.cpu0 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.cpu = {name: cpu_seconds(pid) - self.cpu0[name] for name, pid in self.pids.items()}

    def run(self, rows: int, seconds: float | None = None) -> Run:
        """The stage's figures; then waits SETTLE_S and adds the server's CPU meanwhile (the
        background merges the stage caused) as ``merges after``."""
        cpu = dict(self.cpu)
        server = self.pids.get("server")
        if server is not None:
            before = cpu_seconds(server)
            time.sleep(SETTLE_S)
            cpu["merges after"] = cpu_seconds(server) - before
        return Run(rows, seconds if seconds is not None else self.seconds, cpu)


def report(label: str, runs: list[Run]) -> float:
    rates = [r.rate for r in runs]
    median = statistics.median(rates)
    cpu = {name: statistics.median(r.cpu[name] / r.rows * 1e6 for r in runs)
           for name in runs[0].cpu}
    per = ", ".join(f"{name} {us:.2f}" for name, us in cpu.items())
    print(f"{label}: {median:,.0f} rows/s median of {len(runs)} "
          f"({', '.join(f'{r:,.0f}' for r in rates)}); CPU us/row: {per}", flush=True)
    return median


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


async def end_to_end(settings, total: int, pids: dict[str, int | None]) -> Run:  # noqa: ANN001
    from sinks.service import build_sink, prepare_database, tune_gc

    prepare_database(settings)
    tune_gc()  # as run_sink (antt sink) does
    sink = build_sink(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    started = None
    with Meter(pids) as meter:
        while sink.stats.inserted < total:
            if started is None and sink.stats.records:
                started = time.perf_counter()
            if task.done():
                task.result()
            await asyncio.sleep(0.005)
    seconds = time.perf_counter() - (started or time.perf_counter())
    stop.set()
    await task
    drop_database(sink.writer.client, settings)
    sink.writer.client.close()
    sink.writer.lookup.close()
    return meter.run(total, seconds)


def drop_database(client, settings) -> None:  # noqa: ANN001
    """Drop a run's database once measured: its background merges would otherwise be counted
    in the server's CPU during the next runs."""
    client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database} SYNC")


def validated_batches(records, settings):  # noqa: ANN001, ANN201
    """Batches of BATCH events per partition, as the sink's would be: a province always maps
    to the same one of 4 partitions (as Kafka's key hashing does), offsets per partition."""
    from schemas.validate import validate_batch
    from sinks.rows import Batch

    now = datetime.now(UTC)
    batches, filling, next_offset = [], {}, {}
    for key, value in records:
        partition = hash(key) % 4
        offset = next_offset.get(partition, 0)
        next_offset[partition] = offset + 1
        batch = filling.get(partition)
        if batch is None:
            batch = filling[partition] = Batch(settings.events_topic, partition, offset, offset)
        for event in validate_batch(value, now=now).valid:
            batch.add(event.__dict__, offset)
        if len(batch.events) >= BATCH:
            batches.append(filling.pop(partition))
    batches.extend(filling.values())
    return batches


def write_path(settings, batches, pids) -> tuple[Run, list]:  # noqa: ANN001
    """Writer.prepare/store as the sink runs them; returns the run and the prepared bodies."""
    from sinks.client import make_client
    from sinks.service import prepare_database
    from sinks.writer import Writer

    prepare_database(settings)
    client = make_client(settings, database=settings.clickhouse_database)
    lookup = make_client(settings, database=settings.clickhouse_database)
    writer = Writer(client, settings, lookup=lookup)
    prepared = []
    with Meter(pids) as meter, ThreadPoolExecutor(1) as pool:
        nxt = pool.submit(writer.prepare, batches[0])
        for i in range(len(batches)):
            prep = nxt.result()
            if i + 1 < len(batches):
                nxt = pool.submit(writer.prepare, batches[i + 1])
            writer.store(prep)
            prepared.append(prep)
    drop_database(client, settings)
    client.close()
    lookup.close()
    return meter.run(sum(len(b.events) for b in batches)), prepared


def server_alone(settings, prepared, pids) -> Run:  # noqa: ANN001
    """The writer's Native bodies posted as they are: one tokened raw_insert per batch."""
    from sinks.client import make_client
    from sinks.rows import COLUMNS
    from sinks.service import prepare_database
    from sinks.writer import INSERT_SETTINGS

    prepare_database(settings)
    client = make_client(settings, database=settings.clickhouse_database)
    with Meter(pids) as meter:
        for prep in prepared:
            client.raw_insert(f"{settings.clickhouse_database}.events_raw", list(COLUMNS),
                              prep.body, fmt="Native",
                              settings={**INSERT_SETTINGS,
                                        "insert_deduplication_token": prep.batch.token})
    drop_database(client, settings)
    client.close()
    return meter.run(sum(len(p.fresh.events) for p in prepared))


def chdb_infile(prepared, tz: str, pids) -> Run:  # noqa: ANN001
    """chDB in this process: the same bodies through INSERT ... FROM INFILE (as the server)."""
    from devstack.chserver.engine import Engine
    from sinks.migrate import load_migrations
    from sinks.rows import COLUMNS
    from sinks.writer import INSERT_SETTINGS

    with tempfile.TemporaryDirectory(prefix="antt-bench-chdb-") as tmp:
        engine = Engine(Path(tmp) / "data")
        try:
            for migration in load_migrations():
                for statement in migration.statements("antt_b", tz):
                    engine.query(statement, "TabSeparated", {})
            cols = ", ".join(COLUMNS)
            flags = ", ".join(f"{k} = {v}" for k, v in INSERT_SETTINGS.items())
            with Meter(pids) as meter:
                for prep in prepared:
                    engine.insert(
                        f"INSERT INTO antt_b.events_raw ({cols}) SETTINGS {flags}, "
                        f"insert_deduplication_token = '{prep.batch.token}'", "Native",
                        prep.body)
            return meter.run(sum(len(p.fresh.events) for p in prepared))
        finally:
            engine.close()


def repeat_runs(runs: int, one: Callable[[int], Run]) -> list[Run]:
    return [one(run) for run in range(runs)]


def stages(settings, records, runs: int, pids) -> float:  # noqa: ANN001
    """Stages 2-5; returns the chDB baseline's rows/s."""
    from schemas.validate import validate_batch

    batches = validated_batches(records, settings)
    prepared: list = []

    def write_once(run: int) -> Run:
        nonlocal prepared
        result, prepared = write_path(settings.model_copy(
            update={"clickhouse_database": f"antt_w{run}"}), batches, pids)
        return result

    write = report("2. write path (prepare + tokened insert + read-back + corrections)",
                   repeat_runs(runs, write_once))
    server = report("3. server alone (the writer's Native bodies, one raw_insert each)",
                    repeat_runs(runs, lambda run: server_alone(settings.model_copy(
                        update={"clickhouse_database": f"antt_s{run}"}), prepared, pids)))
    base = report("4. baseline: chDB INFILE insert in-process (same bodies, same schema)",
                  repeat_runs(runs, lambda run: chdb_infile(prepared, settings.timezone,
                                                            {"bench": None})))
    print(f"   ratios to the chDB baseline: write path {write / base:.2f}, "
          f"server alone {server / base:.2f}")
    now = datetime.now(UTC)
    with Meter({"bench": None}) as meter:
        for _key, value in records:
            validate_batch(value, now=now)
    report("5. validation alone (schemas.validate_batch)",
           [meter.run(sum(len(b.events) for b in batches))])
    return base


def uptime() -> str:
    import subprocess

    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 events instead of 1M")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--batch", type=int, default=50_000,
                        help="rows per insert (per partition batch; the sink's "
                             "sink_batch_rows is this times the partitions)")
    args = parser.parse_args()
    total = args.events or (200_000 if args.quick else 1_000_000)
    globals()["BATCH"] = args.batch  # the stages read it

    from antt.kafka import ensure_topics
    from antt.settings import load_settings
    with local_stack(kafka=True) as stack:
        settings = load_settings(
            kafka_bootstrap=stack.kafka_bootstrap,  # type: ignore[attr-defined]
            clickhouse_url=stack.clickhouse_url,  # type: ignore[attr-defined]
            sink_batch_rows=4 * BATCH, sink_batch_seconds=1.0,
            sink_max_pending_rows=8 * BATCH)
        pids = {"sink": None, "server": stack.clickhouse.pid,  # type: ignore[attr-defined]
                "broker": stack.kafka.pid}  # type: ignore[attr-defined]
        print(f"sink_bench: {total:,} events in records of {PER_RECORD}, "
              f"{settings.topic_partitions} partitions, batches of {BATCH:,} per partition "
              f"(sink_batch_rows {settings.sink_batch_rows:,}, sink_max_pending_rows "
              f"{settings.sink_max_pending_rows:,}); {conditions()}")
        print(f"uptime before: {uptime()}", flush=True)
        ensure_topics(settings)
        records = make_records(total, datetime.now(UTC))
        asyncio.run(produce(settings, records))
        e2e = report("1. end to end (Kafka -> validate -> ClickHouse, offsets committed)",
                     repeat_runs(args.runs, lambda run: asyncio.run(end_to_end(
                         settings.model_copy(update={
                             "clickhouse_database": f"antt_e{run}",
                             "sink_group_id": f"sink-bench-{run}"}), total, pids))))
        base = stages(settings, records, args.runs, pids)
        print(f"   end to end / chDB baseline: {e2e / base:.2f}")
        print(f"uptime after: {uptime()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
