"""Streams benchmark: raw consume baseline vs the full worker path, latency and memory.

    python bench/stream_bench.py [--quick] [--events N] [--runs 3] [--worker-env ANTT_X=V]

Starts its own Tansu broker (memory storage) on a free port, produces synthetic events as
1000-event records keyed by province (bench/stream_gen.py), then measures, in the same run:

1. baselines: raw aiokafka ``getmany`` + orjson parse + a count per province of every record
   (no group, no work), over our 1000-event records, and over single-event records (the
   baseline of the issue and of ../shared/platform.md, "~211k events/s" there);
2. full path: one ``antt worker`` process (fresh consumer group each run) doing validation,
   dead-lettering, dedup, counters, incident state and checkpoint writes; events/s from its
   status endpoint between the first and the last record counted, and events per CPU second
   of the worker over the same span (/proc, the worker process and its validation process
   together; less disturbed when others load the CPU);
3. in-process: the same records through ``Runtime.process`` without Kafka (the logic ceiling);
4. latency: 2,000 events/s (a 100-event record every 50 ms, recorded_at = send time) while
   polling ``/api/v1/live/national``; the time until ``events_counted`` covers each record;
5. memory: worker RSS (its validation process included) after counting the full national key
   space (every commune with a report on each of the last 38 days and in every earlier month
   of the year).

Medians of ``--runs`` runs. Other processes share the CPU: the load average is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_gen import Generator, full_key_space  # noqa: E402

from antt.kafka import ensure_topics  # noqa: E402
from antt.settings import Settings, load_settings  # noqa: E402
from devstack.stack import Server, _tcp_answers, free_port, tansu_binary  # noqa: E402

ANTT = str(Path(sys.executable).with_name("antt"))


def start_broker(root: Path) -> Server:
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    server = Server("tansu", port, root / "tansu.log", [
        str(tansu_binary()), "broker", "--listener-url", listener,
        "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/",
    ], _tcp_answers)
    server.start()
    return server


def produce(settings: Settings, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=20,
                             batch_size=2 * 1024 * 1024, max_request_size=8 * 1024 * 1024,
                             acks=1)
    started = time.perf_counter()
    for key, value in records:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()
    return time.perf_counter() - started


async def raw_consume(settings: Settings, topic: str, n_events: int) -> float:
    """Events/s of aiokafka getmany + orjson.loads + a count per province over the whole
    topic: records that are 1000-event arrays (ours) or single events (platform.md's)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                enable_auto_commit=False, max_partition_fetch_bytes=8 << 20,
                                fetch_max_bytes=32 << 20)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(parts)
        await consumer.seek_to_beginning()
        seen = 0
        counts: dict[bytes, int] = {}
        started = time.perf_counter()
        while seen < n_events:
            batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
            for messages in batches.values():
                for m in messages:
                    value = orjson.loads(m.value)
                    n = len(value) if type(value) is list else 1
                    counts[m.key] = counts.get(m.key, 0) + n
                    seen += n
        return n_events / (time.perf_counter() - started)
    finally:
        await consumer.stop()


SINGLE_TOPIC = "bench.single.v1"


def single_event_records(records: list[tuple[bytes, bytes]], n: int) -> list[tuple[bytes, bytes]]:
    """The first ``n`` events of ``records``, one per record (platform.md's baseline shape)."""
    out: list[tuple[bytes, bytes]] = []
    for key, value in records:
        out.extend((key, orjson.dumps(event)) for event in orjson.loads(value))
        if len(out) >= n:
            break
    return out[:n]


WORKER_ENV: dict[str, str] = {}
"""Extra ``ANTT_*`` settings for every benchmarked worker (``--worker-env``: A/B of a knob)."""


class Worker:
    def __init__(self, settings: Settings, name: str, logs: Path):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
        env.update(WORKER_ENV)
        env.update({
            "ANTT_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "ANTT_EVENTS_TOPIC": settings.events_topic,
            "ANTT_DLQ_TOPIC": settings.dlq_topic,
            "ANTT_WORKER_ID": settings.worker_id,
            "ANTT_WORKER_DATA_DIR": str(logs / "data"),
            "ANTT_TOPIC_PARTITIONS": str(settings.topic_partitions),
        })
        self.log = logs / f"{name}.log"
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [ANTT, "worker", "--web-port", str(self.port), "--id", name],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def get(self, path: str) -> Any:
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            return orjson.loads(resp.read())

    def status(self) -> dict[str, Any] | None:
        try:
            return self.get("/api/v1/internal/status")
        except OSError:
            return None

    def pids(self) -> list[int]:
        """The worker process and its validation process (streams/lane.py), if it has one."""
        lane = ((self.status() or {}).get("lane") or {}).get("pid")
        return [self.proc.pid] + ([lane] if lane else [])

    def rss_mb(self) -> tuple[float, float]:
        """RSS and peak RSS (MB), summed over the worker's processes."""
        rss = peak = 0.0
        for pid in self.pids():
            fields = {}
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                fields[key] = value
            rss += int(fields["VmRSS"].split()[0]) / 1024
            peak += int(fields["VmHWM"].split()[0]) / 1024
        return rss, peak

    def cpu_s(self, pids: list[int] | None = None) -> float:
        """User + system CPU seconds so far of the worker's processes (all their threads)."""
        total = 0.0
        for pid in pids if pids is not None else self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def wait_for(check: Any, timeout: float, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError("benchmark condition not reached")


def worker_rate(settings: Settings, root: Path, n_events: int, run: int, broker_pid: int
                ) -> tuple[float, float]:
    """Events/s of one worker over a pre-filled topic (fresh group: reads from the start),
    by the wall clock and per CPU second of the worker (less disturbed by a shared CPU).
    The broker's CPU over the same span is printed too: it shares the machine's cores."""
    group = settings.model_copy(update={"worker_id": f"bench-{run}-{uuid.uuid4().hex[:6]}"})
    worker = Worker(group, f"full-{run}", root)
    try:
        def done() -> Any:
            s = worker.status()
            return s if s and s["stats"]["accepted"] + s["stats"]["duplicates"] else None

        first = wait_for(done, 120, every=0.02)
        pids = worker.pids()
        t0, n0 = time.perf_counter(), first["stats"]["accepted"]
        c0 = [worker.cpu_s([pid]) for pid in pids]
        b0 = worker.cpu_s([broker_pid])
        last = wait_for(lambda: (s := worker.status()) and s["stats"]["accepted"] >= n_events
                        and s, 600, every=0.05)
        elapsed = time.perf_counter() - t0
        cpus = [worker.cpu_s([pid]) - c for pid, c in zip(pids, c0, strict=True)]
        broker = worker.cpu_s([broker_pid]) - b0
        counted = last["stats"]["accepted"] - n0
        print(f"  run {run}: {counted:,} events in {elapsed:.2f} s; CPU s: worker "
              + ", validation process ".join(f"{c:.2f}" for c in cpus)
              + f", broker {broker:.2f} (lane: {last.get('lane')})")
        return counted / elapsed, counted / sum(cpus)
    finally:
        worker.stop()


def in_process_rate(records: list[tuple[bytes, bytes]], n_events: int) -> float:
    from streams.logic.calendar import LocalCalendar
    from streams.runtime import Runtime

    gc.set_threshold(100_000, 50, 100)  # as the worker does (antt/cli/worker.py)
    runtime = Runtime(LocalCalendar(), "bench")
    now = time.time()
    started = time.perf_counter()
    for offset, (key, value) in enumerate(records):
        runtime.process(value, key, 0, offset, now)
    return n_events / (time.perf_counter() - started)


def latency(settings: Settings, root: Path, seconds: float, rate: int = 2000) -> list[float]:
    """Per-record seconds from send to visible in /api/v1/live/national."""
    from kafka import KafkaProducer

    topic_settings = settings.model_copy(update={
        "events_topic": f"bench.lat.{uuid.uuid4().hex[:6]}.v1",
        "worker_id": f"bench-lat-{uuid.uuid4().hex[:6]}"})
    ensure_topics(topic_settings)
    worker = Worker(topic_settings, "latency", root)
    try:
        wait_for(lambda: _national(worker) is not None, 120, every=0.2)
        gen = Generator(random.Random(5), datetime.now(UTC), days_back=1)
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=0, acks=1)
        sent: list[tuple[float, int]] = []
        seen: list[tuple[float, int]] = []
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                counted = _national(worker)
                if counted is not None:
                    seen.append((time.perf_counter(), counted))
                time.sleep(0.02)

        poller = threading.Thread(target=poll)
        poller.start()
        per_record, every, total = 100, 100 / rate, 0
        next_at = time.perf_counter()
        end = next_at + seconds
        provinces = list(gen.communes)
        while next_at < end:
            gen.recorded = datetime.now(UTC).isoformat()
            province = provinces[len(sent) % len(provinces)]
            events = [gen.event(province) for _ in range(per_record)]
            producer.send(topic_settings.events_topic, key=province.encode(),
                          value=orjson.dumps(events))
            total += per_record
            sent.append((time.perf_counter(), total))
            next_at += every
            time.sleep(max(0.0, next_at - time.perf_counter()))
        producer.flush()
        wait_for(lambda: seen and seen[-1][1] >= total, 60, every=0.1)
        stop.set()
        poller.join()
        producer.close()
        return [_visible_at(seen, count) - at for at, count in sent]
    finally:
        worker.stop()


def _national(worker: Worker) -> int | None:
    try:
        return worker.get("/api/v1/live/national")["freshness"]["events_counted"]
    except (OSError, ValueError):
        return None


def _visible_at(seen: list[tuple[float, int]], count: int) -> float:
    return next(t for t, c in seen if c >= count)


def memory(settings: Settings, root: Path) -> tuple[float, float, int]:
    topic_settings = settings.model_copy(update={
        "events_topic": f"bench.mem.{uuid.uuid4().hex[:6]}.v1",
        "worker_id": f"bench-mem-{uuid.uuid4().hex[:6]}"})
    ensure_topics(topic_settings)
    records = full_key_space(datetime.now(UTC), random.Random(9))
    n = sum(len(orjson.loads(v)) for _, v in records)
    produce(settings, topic_settings.events_topic, records)
    worker = Worker(topic_settings, "memory", root)
    try:
        wait_for(lambda: (s := worker.status()) and s["stats"]["accepted"] >= n, 600, every=0.5)
        worker.get("/api/v1/live/national")
        worker.get("/api/v1/live/provinces/01")
        time.sleep(1.5)  # let a checkpoint flush happen
        rss, peak = worker.rss_mb()
        return rss, peak, n
    finally:
        worker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events, shorter latency run")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker-env", action="append", default=[], metavar="ANTT_X=VALUE",
                        help="a setting for the benchmarked workers (repeatable)")
    parser.add_argument("--throughput-only", action="store_true",
                        help="baselines and worker rate only (no in-process, latency, memory)")
    args = parser.parse_args()
    WORKER_ENV.update(item.split("=", 1) for item in args.worker_env)
    n_events = args.events or (150_000 if args.quick else 600_000)
    root = Path(f"/tmp/antt-stream-bench-{os.getpid()}")
    root.mkdir(parents=True, exist_ok=True)
    broker = start_broker(root)
    try:
        return run(args, n_events, root, broker)
    finally:
        broker.stop()


def run(args: argparse.Namespace, n_events: int, root: Path, broker: Server) -> int:
    settings = load_settings(kafka_bootstrap=f"127.0.0.1:{broker.port}",
                             events_topic="bench.events.v1", dlq_topic="bench.dlq.v1")
    ensure_topics(settings)
    records = Generator(random.Random(1), datetime.now(UTC)).records(n_events)
    took = produce(settings, settings.events_topic, records)
    print(f"conditions: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
          f"(other engineers share the CPU), {n_events} events in {len(records)} records of "
          f"<=1000 events, {settings.topic_partitions} partitions, Tansu memory broker"
          + (f", worker settings {WORKER_ENV}" if WORKER_ENV else ""))
    print(f"produced in {took:.1f} s ({n_events / took:,.0f} events/s, kafka-python)")
    raw = [asyncio.run(raw_consume(settings, settings.events_topic, n_events))
           for _ in range(args.runs)]
    singles = single_event_records(records, n_events // 3)
    ensure_topics(settings.model_copy(update={"events_topic": SINGLE_TOPIC}))
    produce(settings, SINGLE_TOPIC, singles)
    single = [asyncio.run(raw_consume(settings, SINGLE_TOPIC, len(singles)))
              for _ in range(args.runs)]
    assert broker.pid is not None
    rates = [worker_rate(settings, root, n_events, i, broker.pid) for i in range(args.runs)]
    full, per_cpu = [r[0] for r in rates], [r[1] for r in rates]
    raw_m, full_m = statistics.median(raw), statistics.median(full)
    print(f"raw aiokafka getmany + orjson: {raw_m:,.0f} events/s  (runs {_fmt(raw)})")
    print(f"full worker path:              {full_m:,.0f} events/s  (runs {_fmt(full)})")
    print(f"  ratio full/raw: {full_m / raw_m:.2f}  (target >= 0.5 and >= 100,000 events/s)")
    single_m = statistics.median(single)
    print(f"raw consume, one event per record ({len(singles):,} records; the issue's and "
          f"platform.md's baseline, ~211,000 there): {single_m:,.0f} events/s  "
          f"(runs {_fmt(single)}); ratio full/that: {full_m / single_m:.2f}")
    print(f"  per worker CPU second: {statistics.median(per_cpu):,.0f} events  "
          f"(runs {_fmt(per_cpu)}; both processes of the worker, the validation one included)")
    if args.throughput_only:
        return 0
    pure = [in_process_rate(records, n_events) for _ in range(args.runs)]
    print(f"in-process Runtime.process:    {statistics.median(pure):,.0f} events/s "
          f"(validate + dedup + counters, no Kafka)")
    lat = sorted(latency(settings, root, 10 if args.quick else 30))
    p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"latency at 2,000 events/s ({len(lat)} records): p50 {p50 * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms (target p99 <= 1000 ms)")
    rss, peak, n = memory(settings, root)
    print(f"worker RSS with the full national key space ({n:,} events, 3,321 communes x "
          f"(38 days + earlier months) x all groups): {rss:.0f} MB (peak {peak:.0f} MB; "
          f"target <= 400 MB)")
    return 0


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
