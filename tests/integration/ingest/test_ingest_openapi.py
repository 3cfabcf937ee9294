"""The gateway driven from its own OpenAPI document (schemathesis), real gateway + broker.

Every generated request must get a documented status with a body and headers matching the
document, and never a 5xx. ``positive_data_acceptance`` is left out on purpose: an event can
match the JSON Schema and still break a cross-field rule of the contract (unknown commune,
recorded before it occurred...), and the gateway rightly answers 422 for it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator

import aiohttp
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from antt.kafka import ensure_topics
from antt.settings import Settings
from ingest.openapi import document
from ingest.server import start_gateway
from ingest.tokens import add_token

pytestmark = pytest.mark.integration

SCHEMA = schemathesis.openapi.from_dict(document())
SEEN: dict[int, int] = {}  # POST statuses met by the generated cases


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: object, value: object) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", errors="surrogatepass")
    return json.dumps(value).encode()  # negative cases: any JSON value, big integers too


@pytest.fixture(scope="module")
def live_gateway(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """The gateway in a thread of its own (schemathesis calls it synchronously)."""
    tag = uuid.uuid4().hex[:8]
    cfg = stack.model_copy(update={
        "events_topic": f"antt.events.t{tag}.v1", "dlq_topic": f"antt.events.dlq.t{tag}.v1",
        "gateway_tokens_file": tmp_path_factory.mktemp("openapi") / "tokens.json",
        "gateway_rate_per_token": 10_000.0, "gateway_read_timeout_s": 2.0,
    })
    ensure_topics(cfg)
    token, _ = add_token(cfg.gateway_tokens_file, "01", label="schemathesis")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    running = asyncio.run_coroutine_threadsafe(
        start_gateway(cfg, host="127.0.0.1", port=0), loop).result(timeout=30)
    try:
        yield running.url, token
    finally:
        asyncio.run_coroutine_threadsafe(running.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@SCHEMA.parametrize()
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_gateway_conforms_to_its_openapi(case, live_gateway):
    url, token = live_gateway
    headers = {"Authorization": f"Bearer {token}"} if case.path == "/api/v1/events" else {}
    response = case.call_and_validate(base_url=url, headers=headers,
                                      excluded_checks=[positive_data_acceptance])
    if case.path == "/api/v1/events":
        SEEN[response.status_code] = SEEN.get(response.status_code, 0) + 1


def test_generated_cases_reached_the_validator():
    """The cases above got past authentication and parsing (per-event answers), not only
    refusals of the whole request."""
    assert SEEN, "the schemathesis test did not run before this one"
    assert SEEN.keys() & {200, 403, 422}, SEEN


async def test_served_document_is_the_full_one(live_gateway):
    url, _ = live_gateway
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/openapi.json") as resp:
            served = await resp.json()
    assert served == document()
    assert "ReportReceived" in served["components"]["schemas"]
