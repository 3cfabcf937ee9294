"""Broker down: 503 with Retry-After, nothing acknowledged that was not stored; then recovery."""

from __future__ import annotations

import time

import aiohttp
import orjson
import pytest

from antt.kafka import ensure_topics
from ingest.server import start_gateway
from ingest.tokens import add_token
from schemas.examples import make_event

pytestmark = pytest.mark.integration


async def test_broker_down_then_back(own_broker, isolated, tmp_path, topic_reader):
    settings = isolated.model_copy(update={
        "kafka_bootstrap": f"127.0.0.1:{own_broker.port}",
        "gateway_tokens_file": tmp_path / "tokens.json",
        "gateway_produce_timeout_s": 2.0,
    })
    ensure_topics(settings)
    token, _ = add_token(settings.gateway_tokens_file, "01")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    running = await start_gateway(settings, host="127.0.0.1", port=0)
    url = running.url + "/api/v1/events"
    first = [make_event("report_received") for _ in range(5)]
    lost = [make_event("report_received") for _ in range(5)]
    later = [make_event("report_received") for _ in range(5)]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=orjson.dumps(first), headers=headers) as resp:
                assert resp.status == 200
            own_broker.stop()
            started = time.monotonic()
            async with session.post(url, data=orjson.dumps(lost), headers=headers) as resp:
                answer = await resp.json()
                assert resp.status == 503, answer
                assert int(resp.headers["Retry-After"]) >= 1
                assert answer["error"] == "broker_unavailable" and answer["accepted"] == []
            assert time.monotonic() - started < 10  # a short produce timeout, not a hang
            async with session.get(running.url + "/healthz") as resp:
                assert resp.status == 503
            own_broker.start()  # memory storage: the restarted broker is empty
            ensure_topics(settings)
            deadline = time.monotonic() + 30
            status = 0
            while time.monotonic() < deadline:
                async with session.post(url, data=orjson.dumps(later), headers=headers) as resp:
                    status = resp.status
                if status == 200:
                    break
                assert status == 503
            assert status == 200
    finally:
        await running.stop()
    stored = await topic_reader(settings, records=1)
    ids = {e["event_id"] for _, events in stored for e in events}
    assert {e["event_id"] for e in later} <= ids
