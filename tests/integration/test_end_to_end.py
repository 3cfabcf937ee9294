"""The walking skeleton, end to end, through the real processes a user runs.

`antt db migrate`, then `antt worker` and `antt sink` as subprocesses against the local stack;
a simulated stream (duplicates, corrections, late, out-of-order and malformed events) is
produced with kafka-python. The live API and ClickHouse must both equal the simulator's
independent ground truth, and so each other.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import clickhouse_connect
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from antt.kafka import client_config
from antt.settings import Settings
from devstack.stack import free_port
from ingest.simulate import Knobs, compare, generate
from ingest.simulate.run import send_kafka
from schemas import rules
from sinks.figures import backlog, period_figures

pytestmark = pytest.mark.integration

ANTT = [sys.executable, "-m", "antt.cli"]


def _env(settings: Settings, web_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
    env.update({
        "ANTT_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "ANTT_CLICKHOUSE_URL": settings.clickhouse_url,
        "ANTT_CLICKHOUSE_DATABASE": settings.clickhouse_database,
        "ANTT_EVENTS_TOPIC": settings.events_topic,
        "ANTT_DLQ_TOPIC": settings.dlq_topic,
        "ANTT_WORKER_ID": settings.worker_id,
        "ANTT_WORKER_DATA_DIR": str(settings.worker_data_dir / settings.worker_id),
        "ANTT_WORKER_WEB_PORT": str(web_port),
        "ANTT_SINK_GROUP_ID": f"{settings.worker_id}-sink",
    })
    return env


def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, ValueError) as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def fed_pipeline(stack: Settings, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[tuple[Settings, int, Path, Any, datetime]]:
    """Migrated database, one worker and one sink running as the user runs them, and one
    simulated stream produced to them (shared by this module's tests: they only read).
    """
    tag = uuid.uuid4().hex[:8]
    settings = stack.model_copy(update={
        "events_topic": f"antt.events.e{tag}.v1", "dlq_topic": f"antt.events.dlq.e{tag}.v1",
        "clickhouse_database": f"antt_e{tag}", "worker_id": f"antt-worker-e{tag}"})
    logs = tmp_path_factory.mktemp("end-to-end")
    web_port = free_port()
    env = _env(settings, web_port)
    subprocess.run([*ANTT, "db", "migrate"], env=env, check=True, capture_output=True)
    procs = []
    for name in ("worker", "sink"):
        log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        procs.append(subprocess.Popen([*ANTT, name], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True))
        log.close()
    try:
        sim, now = _feed(settings)
        yield settings, web_port, logs, sim, now
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def pipeline(fed_pipeline: tuple[Settings, int, Path, Any, datetime]
             ) -> Iterator[tuple[Settings, int, Any, datetime]]:
    settings, web_port, logs, sim, now = fed_pipeline
    yield settings, web_port, sim, now
    for name in ("worker", "sink"):  # shown by pytest only when the test failed
        text = (logs / f"{name}.log").read_text(errors="replace").splitlines()
        print(f"--- {name} log (last 40 lines) ---", *text[-40:], sep="\n")


def _live(port: int, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        return orjson.loads(resp.read())  # type: ignore[no-any-return]


def _clickhouse_view(ch: Any, settings: Settings, like: dict[str, Any], province: str | None,
                     today: date) -> dict[str, Any]:
    periods = {
        name: {"start": p["start"], "end": p["end"], "figures": period_figures(
            ch, settings.clickhouse_database, date.fromisoformat(p["start"]),
            date.fromisoformat(p["end"]), settings.timezone, province)}
        for name, p in like["periods"].items()
    }
    return {"periods": periods,
            "backlog": backlog(ch, settings.clickhouse_database, today, province)}


def _feed(settings: Settings) -> tuple[Any, datetime]:
    """Produce a simulated stream with every kind of trouble; return it and its clock."""
    now = datetime.now(UTC)
    knobs = Knobs(duplicates=0.05, out_of_order=0.05, late=0.05, malformed=0.02,
                  corrections=0.04)
    sim = generate(11, n_events=3000, knobs=knobs, now=now,
                   stat_start_day=settings.statistical_month_start_day)
    sent = send_kafka(settings, sim.records, rate=None)
    assert sent.failed_records == 0
    return sim, now


async def _sink_committed_to_end(settings: Settings) -> bool:
    """The sink's consumer group has committed the end offset of every partition."""
    consumer = AIOKafkaConsumer(**client_config(settings), group_id=_env(settings, 0)[
        "ANTT_SINK_GROUP_ID"], enable_auto_commit=False)
    await consumer.start()
    try:
        topic = settings.events_topic
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(parts)
        committed = {tp: await consumer.committed(tp) or 0 for tp in parts}
        return bool(parts) and all(committed[tp] >= end for tp, end in ends.items())
    finally:
        await consumer.stop()


def _busiest_province(sim: Any) -> str:
    return max(sim.truth["provinces"], key=lambda c: sim.truth["provinces"][c]["backlog"]["open"])


def _scoped(answer: dict[str, Any]) -> dict[str, Any]:
    return {"periods": answer["periods"], "backlog": answer["backlog"]}


def test_stream_reaches_the_live_api_exactly(pipeline: tuple[Settings, int, Any, datetime]
                                              ) -> None:
    _, port, sim, _ = pipeline
    expected_events = sim.truth["meta"]["distinct_valid_events"]
    _wait(lambda: _live(port, "/api/v1/live/national")["freshness"]["events_counted"]
          == expected_events, 120, "the worker to count every distinct valid event")
    diffs = compare(_scoped(sim.truth["national"]),
                    _scoped(_live(port, "/api/v1/live/national")))
    assert not diffs, "live API vs truth:\n" + "\n".join(diffs[:30])
    code = _busiest_province(sim)
    diffs = compare(_scoped(sim.truth["provinces"][code]),
                    _scoped(_live(port, f"/api/v1/live/provinces/{code}")))
    assert not diffs, f"province {code}:\n" + "\n".join(diffs[:30])


def test_stream_reaches_clickhouse_exactly(pipeline: tuple[Settings, int, Any, datetime]
                                           ) -> None:
    settings, _, sim, now = pipeline
    expected_events = sim.truth["meta"]["distinct_valid_events"]
    url = settings.clickhouse_url.rsplit(":", 1)
    ch = clickhouse_connect.get_client(host=url[0].split("//")[1], port=int(url[1]),
                                       database=settings.clickhouse_database)
    _wait(lambda: int(ch.command("SELECT count() FROM events_raw FINAL")) == expected_events,
          120, "the sink to store every distinct valid event")
    # The rows land before the batch's corrections are applied: compare only once the sink
    # has committed every partition's end offset (it commits after the whole batch is done).
    _wait(lambda: asyncio.run(_sink_committed_to_end(settings)), 60,
          "the sink to commit every partition's end offset")
    today = rules.local_date(now)
    truth = sim.truth["national"]
    diffs = compare(_scoped(truth), _clickhouse_view(ch, settings, truth, None, today))
    assert not diffs, "ClickHouse vs truth:\n" + "\n".join(diffs[:30])
    code = _busiest_province(sim)
    expected = sim.truth["provinces"][code]
    diffs = compare(_scoped(expected), _clickhouse_view(ch, settings, expected, code, today))
    assert not diffs, f"province {code}:\n" + "\n".join(diffs[:30])
