"""Helpers for the streams integration tests: real Tansu broker, real `antt worker` processes.

Workers run as subprocesses so that ``kill -9`` is real. Events are produced with
kafka-python; dead letters are read back with aiokafka.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from antt.kafka import client_config
from antt.settings import Settings

ANTT = str(Path(sys.executable).with_name("antt"))


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.25) -> Any:
    """Poll ``check`` until it returns a truthy value; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


def get_json(port: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read() or b"null")


def produce(settings: Settings, records: list[tuple[bytes | None, bytes | None]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(**client_config(settings), linger_ms=5, acks=1,
                             max_request_size=4 * 1024 * 1024)
    try:
        for key, value in records:
            producer.send(settings.events_topic, key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close()


def read_topic(settings: Settings, topic: str, count: int, timeout: float = 30) -> list[Any]:
    """The first ``count`` records of ``topic`` (all partitions), values parsed as JSON."""

    async def run() -> list[Any]:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        try:
            parts = consumer.partitions_for_topic(topic) or set()
            consumer.assign([TopicPartition(topic, p) for p in parts])
            await consumer.seek_to_beginning()
            out: list[Any] = []
            deadline = time.monotonic() + timeout
            while len(out) < count and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for msgs in batches.values():
                    out.extend(orjson.loads(m.value) for m in msgs)
            return out
        finally:
            await consumer.stop()

    return asyncio.run(run())


class Workers:
    """`antt worker` subprocesses of one consumer group."""

    def __init__(self, settings: Settings, logs: Path):
        self.settings = settings
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self.extra_env: dict[str, str] = {}  # more ANTT_ settings for the next start

    def env(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
        env.update({
            "ANTT_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
            "ANTT_EVENTS_TOPIC": s.events_topic,
            "ANTT_DLQ_TOPIC": s.dlq_topic,
            "ANTT_WORKER_ID": s.worker_id,
            "ANTT_WORKER_DATA_DIR": str(s.worker_data_dir),
            "ANTT_TOPIC_PARTITIONS": str(s.topic_partitions),
            "ANTT_LIVE_FLUSH_INTERVAL_S": str(s.live_flush_interval_s),
            "ANTT_WORKER_SESSION_TIMEOUT_S": str(s.worker_session_timeout_s),
        })
        env.update(self.extra_env)
        return env

    def start(self, name: str) -> int:
        from devstack.stack import free_port

        port = self.ports.get(name) or free_port()
        self.ports[name] = port
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        self.procs[name] = subprocess.Popen(
            [ANTT, *(["-v"] if os.environ.get("STREAMS_TEST_DEBUG") else []), "worker",
             "--web-port", str(port), "--id", name],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        return port

    def signal(self, name: str, sig: int) -> None:
        proc = self.procs[name]
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def counted(self, name: str) -> int:
        status, body = get_json(self.ports[name], "/api/v1/live/national")
        return body["freshness"]["events_counted"] if status == 200 else -1

    def status(self, name: str) -> dict[str, Any]:
        return get_json(self.ports[name], "/api/v1/internal/status")[1]

    def stacks(self, name: str, timeout: float = 5) -> str:
        """Every thread's and task's stack, dumped by the running worker on SIGUSR1 (mode's
        handler) into its log: for a failure message."""
        path = self.logs / f"{name}.log"
        size = path.stat().st_size
        os.kill(self.procs[name].pid, signal.SIGUSR1)  # (the worker only, not its child)
        sizes = [size]

        def written() -> bool:  # (grown, then the same size at the next look)
            sizes.append(path.stat().st_size)
            return sizes[-1] > size and sizes[-1] == sizes[-2]

        try:
            wait_until(written, timeout, "a stack dump", every=0.3)
        except AssertionError:
            return "(no stack dump)"
        return path.read_bytes()[size:].decode(errors="replace")

    def tail(self, name: str, lines: int = 40) -> str:
        text = (self.logs / f"{name}.log").read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def produce_at(
    settings: Settings, records: list[tuple[bytes, bytes]], partition: int | None
) -> set[int]:
    """Produce to one chosen partition (``None``: the default partitioner); partitions used."""
    from kafka import KafkaProducer

    producer = KafkaProducer(**client_config(settings), linger_ms=5, acks=1,
                             max_request_size=4 * 1024 * 1024)
    try:
        futures = [producer.send(settings.events_topic, key=key, value=value,
                                 partition=partition) for key, value in records]
        producer.flush(timeout=30)
        return {f.get(timeout=30).partition for f in futures}
    finally:
        producer.close()


def committed_offsets(settings: Settings) -> dict[int, int]:
    """The worker group's committed offsets on the events topic, per partition."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**client_config(settings))
    try:
        offsets = admin.list_group_offsets(settings.worker_id).get(settings.worker_id, {})
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items()
            if tp.topic == settings.events_topic and meta.offset >= 0}


def window_phases(
    events: list[dict[str, Any]], horizon: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split a scenario at the acceptance horizon into what was sent before and after it.

    Before: every event recorded before ``horizon``. After: those recorded since, minus what
    the live counters document as not honoured once the originals left memory (corrections
    of events recorded before the horizon; state changes of a report already resolved
    before it), so that the ground truth of ``before + after`` is what the live API must show.
    """
    old = [e for e in events if datetime.fromisoformat(e["recorded_at"]) < horizon]
    old_ids = {e["event_id"] for e in old}
    closed = {e["incident_id"] for e in old if e["event_type"] == "report_resolved"}
    lifecycle = {"report_received", "deadline_extended", "report_resolved", "report_resumed"}
    new = [
        e for e in events
        if datetime.fromisoformat(e["recorded_at"]) >= horizon
        and e.get("corrects_event_id") not in old_ids
        and not (e["event_type"] in lifecycle and e["incident_id"] in closed)
    ]
    return old, new


def changelog_latest(settings: Settings, timeout: float = 30) -> dict[str, bytes | None]:
    """Latest value of every key ever written to the worker's checkpoint changelog (``None``:
    a tombstone): what log compaction converges to."""
    return dict(changelog_records(settings, timeout))


def changelog_records(settings: Settings, timeout: float = 30) -> list[tuple[str, bytes | None]]:
    """Every record of the worker's checkpoint changelog, in order per partition."""

    async def run() -> list[tuple[str, bytes | None]]:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        topic = f"{settings.worker_id}-live_facts_by_province-changelog"
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            consumer.assign(tps)
            await consumer.seek_to_beginning()
            ends = await consumer.end_offsets(tps)
            latest: list[tuple[str, bytes | None]] = []
            deadline = time.monotonic() + timeout
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                if time.monotonic() > deadline:
                    raise AssertionError(f"changelog {topic} not read in {timeout} s")
                for msgs in (await consumer.getmany(timeout_ms=500)).values():
                    for m in msgs:
                        latest.append((orjson.loads(m.key), m.value))  # keys: JSON strings
            return latest
        finally:
            await consumer.stop()

    return asyncio.run(run())


def check_truth(port: int, events: list[dict[str, Any]], provinces: list[str]) -> None:
    """The national page and each of ``provinces``' pages equal the ground truth computed
    from ``events`` (``streams_truth``), and every distinct event is counted."""
    import streams_truth

    now = datetime.now(UTC)
    status, national = get_json(port, "/api/v1/live/national")
    assert status == 200, national
    assert national["freshness"]["events_counted"] == len({e["event_id"] for e in events})
    assert streams_truth.compare(national, streams_truth.figures(events, now)) == []
    for code in provinces:
        status, page = get_json(port, f"/api/v1/live/provinces/{code}")
        assert status == 200
        truth = streams_truth.figures(events, now, province=code)
        assert streams_truth.compare(page, truth) == [], code
