"""The gateway against the real broker: what is answered is exactly what is stored."""

from __future__ import annotations

import asyncio
import gzip
import logging
import uuid

import aiohttp
import orjson
import pytest

from ingest.tokens import add_token, revoke_tokens
from schemas.examples import make_event
from schemas.units import communes_of

pytestmark = pytest.mark.integration

HCM = communes_of("79")[0]


def events(n: int, **overrides) -> list[dict]:
    return [make_event("report_received", **overrides) for _ in range(n)]


async def post(gw, body: bytes, province: str = "01", **headers):
    async with aiohttp.ClientSession() as session:
        async with session.post(gw.events_url, data=body,
                                headers=gw.auth(province, **headers)) as resp:
            return resp.status, dict(resp.headers), await resp.json()


async def test_json_array_is_acknowledged_and_stored(gateway, topic_reader):
    batch = events(1500)  # two records of 1000 + 500
    status, headers, answer = await post(gateway, orjson.dumps(batch))
    assert status == 200, answer
    assert answer["accepted_count"] == 1500 and answer["rejected"] == []
    assert [a["event_id"] for a in answer["accepted"]] == [e["event_id"] for e in batch]
    assert headers["X-Request-ID"] == answer["request_id"]
    stored = await topic_reader(gateway.settings, records=2)
    assert sorted(len(v) for _, v in stored) == [500, 1000]
    assert {k for k, _ in stored} == {b"01"}
    assert [e["event_id"] for _, v in stored for e in v] == [e["event_id"] for e in batch]


async def test_ndjson_gzip_with_a_bad_line_and_a_bad_event(gateway, topic_reader):
    batch = events(4)
    batch[2]["severity"] = "mild"
    lines = [orjson.dumps(e) for e in batch]
    lines.insert(1, b"{not json")
    body = gzip.compress(b"\n".join(lines))
    status, _, answer = await post(gateway, body, **{"Content-Type": "application/x-ndjson",
                                                     "Content-Encoding": "gzip"})
    assert status == 200
    assert [a["index"] for a in answer["accepted"]] == [0, 2, 4]
    assert [(r["index"], r["path"]) for r in answer["rejected"]] == [(1, ""), (3, "severity")]
    stored = await topic_reader(gateway.settings, records=1)
    assert len(stored[0][1]) == 3


async def test_cross_province_is_403_and_the_rest_is_kept(gateway, topic_reader):
    batch = events(3)
    batch[1] = make_event("report_received", commune_code=HCM)
    status, _, answer = await post(gateway, orjson.dumps(batch))
    assert status == 403
    assert answer["error"] == "cross_province" and answer["forbidden_indexes"] == [1]
    assert [a["index"] for a in answer["accepted"]] == [0, 2]
    stored = await topic_reader(gateway.settings, records=1)
    assert [e["event_id"] for e in stored[0][1]] == [batch[0]["event_id"], batch[2]["event_id"]]


async def test_all_invalid_is_422_and_nothing_is_produced(gateway, topic_reader):
    batch = events(2, channel="fax")
    status, _, answer = await post(gateway, orjson.dumps(batch))
    assert status == 422 and answer["accepted_count"] == 0 and answer["rejected_count"] == 2
    status, _, _ = await post(gateway, orjson.dumps(events(1)))  # a marker record
    stored = await topic_reader(gateway.settings, records=1)
    assert len(stored) == 1 and len(stored[0][1]) == 1


async def test_resending_is_harmless(gateway, topic_reader):
    batch = events(10)
    first = await post(gateway, orjson.dumps(batch))
    second = await post(gateway, orjson.dumps(batch))
    assert first[0] == second[0] == 200
    assert first[2]["accepted"] == second[2]["accepted"]
    stored = await topic_reader(gateway.settings, records=2)
    ids = [e["event_id"] for _, v in stored for e in v]
    assert len(ids) == 20 and len(set(ids)) == 10  # consumers dedup by event_id


@pytest.mark.parametrize("body,headers,status,code", [
    (b"[{", {}, 400, "invalid_json"),
    (b'{"event_id": 1}', {}, 400, "not_an_array"),
    (b"[]", {}, 400, "empty_batch"),
    (b"[1]", {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    (b"[1]", {"Content-Encoding": "br"}, 415, "unsupported_encoding"),
    (gzip.compress(b"[" + b"1," * 1000 + b"1]")[:-8], {"Content-Encoding": "gzip"}, 400,
     "bad_gzip"),
    (orjson.dumps(list(range(2001))), {}, 413, "too_many_events"),
    (b"[" + b" " * (3 * 1024 * 1024) + b"]", {}, 413, "body_too_large"),
])
async def test_unusable_requests_get_a_clear_4xx(gateway, body, headers, status, code):
    got, _, answer = await post(gateway, body, **headers)
    assert (got, answer["error"]) == (status, code)
    assert answer["message"] and answer["request_id"]


async def test_authentication_and_rotation(gateway):
    body = orjson.dumps(events(1))
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer antt_unknown"},
                        {"Authorization": "Basic dXNlcjpwdw=="}):
            async with session.post(gateway.events_url, data=body, headers={
                    "Content-Type": "application/json", **headers}) as resp:
                assert resp.status == 401
                assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    path = gateway.settings.gateway_tokens_file
    from datetime import UTC, datetime, timedelta
    expired, _ = add_token(path, "01", label="expired",
                           expires_at=datetime.now(UTC) - timedelta(seconds=1))
    fresh, _ = add_token(path, "01", label="fresh")  # no restart: the file is re-read
    gateway.tokens["x"], gateway.tokens["y"] = expired, fresh
    status, _, answer = await post(gateway, body, province="x")
    assert status == 401 and "expired" in answer["message"]
    assert (await post(gateway, body, province="y"))[0] == 200
    revoke_tokens(path, label="fresh")
    assert (await post(gateway, body, province="y"))[0] == 401


async def test_rate_limit_is_429_with_retry_after(gateway_settings, tmp_path):
    from ingest.server import start_gateway

    settings = gateway_settings.model_copy(update={"gateway_rate_per_token": 2.0,
                                                   "gateway_rate_burst": 2.0})
    token, _ = add_token(settings.gateway_tokens_file, "01")
    running = await start_gateway(settings, host="127.0.0.1", port=0)
    try:
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(4):
                async with session.post(running.url + "/api/v1/events",
                                        data=orjson.dumps(events(1)), headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json"}) as resp:
                    statuses.append((resp.status, resp.headers.get("Retry-After")))
    finally:
        await running.stop()
    assert statuses[:2] == [(200, None), (200, None)]
    assert statuses[2][0] == 429 and int(statuses[2][1]) >= 1


async def test_slow_client_gets_408_not_a_hang(gateway):
    host, port = gateway.running.host, gateway.running.port
    reader, writer = await asyncio.open_connection(host, port)
    head = (f"POST /api/v1/events HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {gateway.tokens['01']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n[")
    writer.write(head.encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 408"), status_line


async def test_slow_headers_get_408_and_a_closed_connection(gateway):
    reader, writer = await asyncio.open_connection(gateway.running.host, gateway.running.port)
    writer.write(b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n")  # headers never end
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=10)  # read() ends when closed
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408") and b"header_timeout" in answer


async def test_health_and_metrics(gateway):
    await post(gateway, orjson.dumps(events(3)))
    async with aiohttp.ClientSession() as session:
        async with session.get(gateway.url + "/healthz") as resp:
            assert resp.status == 200 and (await resp.json())["broker"] == "up"
        async with session.get(gateway.url + "/metrics") as resp:
            text = await resp.text()
    assert resp.status == 200
    assert 'antt_gateway_requests_total{status="200"} 1.0' in text
    assert 'antt_gateway_accepted_events_total{province_code="01"} 3.0' in text


async def test_audit_log_has_request_facts_and_no_secrets(gateway, caplog):
    caplog.set_level(logging.DEBUG)
    marker = f"inc-{uuid.uuid4().hex}"
    body = orjson.dumps(events(2, incident_id=marker))
    _, _, answer = await post(gateway, body)
    await post(gateway, b"[{", province="79")
    text = caplog.text
    audit = [r.getMessage() for r in caplog.records if r.name == "ingest.audit"]
    assert len(audit) == 1
    assert f"request_id={answer['request_id']}" in audit[0]
    assert "province=01" in audit[0] and "accepted=2" in audit[0]
    for secret in (*gateway.tokens.values(), marker):
        assert secret not in text


async def test_oversized_chunked_body_is_413_without_reading_it_all(gateway):
    """No Content-Length: the gateway counts bytes as they arrive and stops at the limit."""
    sent = 0

    async def chunks():
        nonlocal sent
        yield b"["
        for _ in range(400):  # up to 26 MB, far above the 2 MiB limit of the fixture
            sent += 65536
            yield b" " * 65536

    async with aiohttp.ClientSession() as session:
        try:
            async with session.post(gateway.events_url, data=chunks(),
                                    headers=gateway.auth()) as resp:
                status, answer = resp.status, await resp.json()
        except aiohttp.ClientError:
            pytest.fail("the gateway reset the connection instead of answering 413")
    assert status == 413 and answer["error"] == "body_too_large"
    assert sent < 20 * 1024 * 1024


async def test_future_tolerance_comes_from_the_settings(gateway_settings, topic_reader):
    """The gateway judges "recorded in the future" as the stream does (ANTT_FUTURE_TOLERANCE_S):
    an event it accepts must not be dead-lettered downstream for the same rule."""
    from datetime import UTC, datetime, timedelta

    from ingest.server import start_gateway

    settings = gateway_settings.model_copy(update={"future_tolerance_s": 10})
    token, _ = add_token(settings.gateway_tokens_file, "01")
    ahead = datetime.now(UTC) + timedelta(seconds=120)  # inside the default 300 s, not 10 s
    batch = [make_event("report_received", occurred_at=ahead - timedelta(minutes=1),
                        recorded_at=ahead), make_event("report_received")]
    running = await start_gateway(settings, host="127.0.0.1", port=0)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(running.url + "/api/v1/events", data=orjson.dumps(batch),
                                    headers={"Authorization": f"Bearer {token}",
                                             "Content-Type": "application/json"}) as resp:
                status, answer = resp.status, await resp.json()
    finally:
        await running.stop()
    assert status == 200, answer
    assert [(r["index"], r["path"]) for r in answer["rejected"]] == [(0, "recorded_at")]
    stored = await topic_reader(settings, records=1)
    assert [e["event_id"] for _, v in stored for e in v] == [batch[1]["event_id"]]
