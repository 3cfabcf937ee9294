"""``antt send`` and ``antt simulate`` as a user runs them, against the real broker."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from antt.kafka import ensure_topics
from antt.settings import Settings
from ingest.simulate import compare
from schemas.examples import make_event

pytestmark = pytest.mark.integration


def antt(settings: Settings, *args: str, timeout: float = 120,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env or {}),
           "ANTT_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
           "ANTT_EVENTS_TOPIC": settings.events_topic,
           "ANTT_DLQ_TOPIC": settings.dlq_topic,
           "ANTT_GATEWAY_TOKENS_FILE": str(settings.gateway_tokens_file)}
    return subprocess.run([sys.executable, "-m", "antt.cli", *args], env=env, timeout=timeout,
                          capture_output=True, text=True)


@pytest.fixture
def topics(isolated: Settings, tmp_path: Path) -> Settings:
    settings = isolated.model_copy(update={"gateway_tokens_file": tmp_path / "tokens.json"})
    ensure_topics(settings)
    return settings


async def test_send_counts_only_acknowledged_events(topics, tmp_path, topic_reader):
    events = [make_event("report_received") for _ in range(2500)]
    path = tmp_path / "events.ndjson.gz"
    path.write_bytes(gzip.compress(b"\n".join(orjson.dumps(e) for e in events)))
    done = antt(topics, "send", str(path))
    assert done.returncode == 0, done.stderr
    assert "2500 valid, 0 invalid, 2500 acknowledged by the broker, 0 not acknowledged" in (
        done.stdout)
    stored = await topic_reader(topics, records=3)
    assert sorted(len(v) for _, v in stored) == [500, 1000, 1000]


async def test_send_with_invalid_events_exits_2_and_sends_the_rest(topics, tmp_path,
                                                                  topic_reader):
    events = [make_event("report_triaged") for _ in range(3)]
    events[1]["outcome"] = "maybe"
    path = tmp_path / "events.json"
    path.write_bytes(orjson.dumps(events))
    done = antt(topics, "send", str(path))
    assert done.returncode == 2
    assert "invalid #1" in done.stderr and "2 acknowledged" in done.stdout
    stored = await topic_reader(topics, records=1)
    assert [e["event_id"] for _, v in stored for e in v] == [events[0]["event_id"],
                                                             events[2]["event_id"]]


async def test_send_uses_the_configured_future_tolerance(topics, tmp_path, topic_reader):
    from datetime import UTC, datetime, timedelta

    ahead = datetime.now(UTC) + timedelta(seconds=120)  # inside the default 300 s
    events = [make_event("report_received", occurred_at=ahead - timedelta(minutes=1),
                         recorded_at=ahead), make_event("report_received")]
    path = tmp_path / "events.json"
    path.write_bytes(orjson.dumps(events))
    done = antt(topics, "send", str(path), env={"ANTT_FUTURE_TOLERANCE_S": "10"})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "invalid #0" in done.stderr and "recorded_at" in done.stderr
    stored = await topic_reader(topics, records=1)
    assert [e["event_id"] for _, v in stored for e in v] == [events[1]["event_id"]]


def test_send_without_broker_exits_1_and_claims_nothing(topics, tmp_path):
    from devstack.stack import free_port

    path = tmp_path / "events.json"
    path.write_bytes(orjson.dumps([make_event("report_received")]))
    nowhere = topics.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    done = antt(nowhere, "send", "--timeout", "1", "--rounds", "2", str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "0 acknowledged by the broker, 1 not acknowledged" in done.stdout


def test_unreadable_file_exits_3(topics, tmp_path):
    path = tmp_path / "broken.json"
    path.write_bytes(b"[{")
    assert antt(topics, "send", str(path)).returncode == 3


async def test_simulate_via_kafka_writes_the_truth_of_what_it_sent(topics, tmp_path,
                                                                  topic_reader):
    truth_path = tmp_path / "truth.json"
    done = antt(topics, "simulate", "--rate", "2000", "--duration", "2", "--seed", "5",
                "--duplicates", "0.05", "--malformed", "0.02", "--late", "0.05",
                "--out-of-order", "0.05", "--truth", str(truth_path))
    assert done.returncode == 0, done.stderr
    truth = orjson.loads(truth_path.read_bytes())
    meta = truth["meta"]
    assert meta["distinct_valid_events"] == 4000
    stored = await topic_reader(topics, records=meta["records"], timeout=30)
    assert len(stored) == meta["records"]
    garbage = [v for _, v in stored if isinstance(v, bytes)]
    assert len(garbage) == meta["garbage_records"]
    assert sum(len(v) for _, v in stored if isinstance(v, list)) == meta["sent_items"]
    assert set(truth["provinces"]) == {c["code"] for c in truth["national"]["children"]}
    assert compare(truth["national"], truth["national"]) == []



@pytest.mark.parametrize("own_tokens", [True, False])
async def test_simulate_via_gateway(topics, tmp_path, topic_reader, own_tokens):
    import asyncio

    from ingest.server import start_gateway
    from ingest.tokens import add_token
    from schemas.units import PROVINCES

    settings = topics.model_copy(update={"gateway_rate_per_token": 1000.0})
    token_args: list[str] = []
    if own_tokens:
        tokens = {p: add_token(settings.gateway_tokens_file, p)[0] for p in PROVINCES}
        (tmp_path / "tokens-plain.json").write_bytes(orjson.dumps(tokens))
        token_args = ["--tokens", str(tmp_path / "tokens-plain.json")]
    running = await start_gateway(settings, host="127.0.0.1", port=0)
    truth_path = tmp_path / "truth.json"
    env = {**os.environ, "ANTT_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
           "ANTT_EVENTS_TOPIC": settings.events_topic,
           "ANTT_GATEWAY_TOKENS_FILE": str(settings.gateway_tokens_file)}
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "antt.cli", "simulate", "--via", "gateway", "--gateway-url",
            running.url, *token_args, "--rate", "1000",
            "--duration", "2", "--duplicates", "0.1", "--malformed", "0.05",
            "--truth", str(truth_path), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    finally:
        await running.stop()
    assert proc.returncode == 0, err.decode()[-2000:]
    meta = orjson.loads(truth_path.read_bytes())["meta"]
    # The gateway keeps only valid events: every distinct one plus the resent duplicates.
    assert f"{meta['distinct_valid_events'] + meta['duplicates']} events accepted" in (
        out.decode())
    stored = await topic_reader(settings, records=1, timeout=20)
    ids = [e["event_id"] for _, v in stored for e in v]
    assert len(ids) == meta["distinct_valid_events"] + meta["duplicates"]
    assert len(set(ids)) == meta["distinct_valid_events"]
    from ingest.tokens import read_token_file

    left = read_token_file(settings.gateway_tokens_file)
    assert len(left) == (len(PROVINCES) if own_tokens else 0)  # minted tokens are revoked


async def test_simulate_via_gateway_counts_refused_records_as_failed(topics):
    """A record the gateway refuses as a whole (401 here) or cannot answer is not delivered:
    it must count as failed (so that ``antt simulate`` exits 1), never vanish silently."""
    from datetime import UTC, datetime

    from devstack.stack import free_port
    from ingest.server import start_gateway
    from ingest.simulate import generate
    from ingest.simulate.run import send_gateway

    records = generate(3, n_events=300, now=datetime.now(UTC)).records
    tokens = {r.key.decode(): "antt_not-a-token" for r in records}
    running = await start_gateway(topics, host="127.0.0.1", port=0)
    try:
        refused = await send_gateway(running.url, tokens, records, rate=None)
    finally:
        await running.stop()
    assert refused.accepted == 0 and refused.failed_records == len(records)
    assert refused.statuses == {401: len(records)}
    nowhere = await send_gateway(f"http://127.0.0.1:{free_port()}", tokens, records[:3],
                                 rate=None)
    assert nowhere.accepted == 0 and nowhere.failed_records == 3
