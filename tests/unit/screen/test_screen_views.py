"""The screen's HTTP routes on an in-process aiohttp server (loopback only, no broker)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import faust
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.screen.views import ASSETS, add_routes, register_views


async def snapshot(scope: str, code: str | None) -> dict[str, object]:
    if code is not None and code != "01":
        raise KeyError(code)
    return {"scope": scope, "code": code, "as_of": "2026-11-22T07:20:00+07:00", "name": "Hà Nội"}


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    app = web.Application()
    add_routes(app, snapshot, interval_s=0.05)
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_page_is_utf8_html_with_local_assets_only(client: TestClient) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html" and resp.charset == "utf-8"
    html = await resp.text()
    assert '<meta charset="utf-8">' in html
    assert "Toàn quốc" in html
    for asset in ("screen.css", "format.js", "charts.js", "screen.js"):
        assert f"/screen/{asset}" in html


@pytest.mark.parametrize("name", sorted(set(ASSETS) - {"index.html"}))
async def test_every_asset_is_served(client: TestClient, name: str) -> None:
    resp = await client.get(f"/screen/{name}")
    assert resp.status == 200
    assert resp.charset == "utf-8"
    assert await resp.read()


async def test_province_names_for_the_header(client: TestClient) -> None:
    resp = await client.get("/screen/provinces.json")
    assert resp.status == 200
    names = await resp.json()
    assert len(names) == 34
    assert names["01"] == "Thành phố Hà Nội"


async def test_unknown_asset_and_traversal_are_404(client: TestClient) -> None:
    assert (await client.get("/screen/nope.js")).status == 404
    assert (await client.get("/screen/..%2Fviews.py")).status == 404


async def read_events(resp: object, n: int) -> list[str]:
    events: list[str] = []
    buf = ""
    while len(events) < n:
        chunk = await asyncio.wait_for(resp.content.readany(), 5)  # type: ignore[attr-defined]
        assert chunk, "stream ended early"
        buf += chunk.decode()
        *done, buf = buf.split("\n\n")
        events.extend(e for e in done if "data: " in e)
    return events


async def test_national_stream_pushes_snapshots(client: TestClient) -> None:
    resp = await client.get("/api/v1/live/stream/national")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    events = await read_events(resp, 3)
    assert all("event: snapshot" in e for e in events)
    assert '"scope":"national"' in events[0]
    assert "Hà Nội" in events[0]
    resp.close()


async def test_screen_view_and_bad_view(client: TestClient) -> None:
    resp = await client.get("/api/v1/live/stream/national?view=screen")
    assert resp.status == 200
    assert '"scope":"national"' in (await read_events(resp, 1))[0]
    resp.close()
    assert (await client.get("/api/v1/live/stream/national?view=all")).status == 400


async def test_province_stream_and_unknown_codes(client: TestClient) -> None:
    resp = await client.get("/api/v1/live/stream/provinces/01")
    assert resp.status == 200
    assert '"code":"01"' in (await read_events(resp, 1))[0]
    resp.close()
    assert (await client.get("/api/v1/live/stream/provinces/99")).status == 404
    assert (await client.get("/api/v1/live/stream/provinces/abc")).status == 404


async def test_shutdown_ends_open_streams() -> None:
    app = web.Application()
    feed = add_routes(app, snapshot, interval_s=0.05)
    server = TestServer(app)
    async with TestClient(server) as c:
        resp = await c.get("/api/v1/live/stream/national")
        await read_events(resp, 1)
        assert feed.clients == 1
        await app.shutdown()  # what the worker's web server runs when it stops
        tail = await asyncio.wait_for(resp.content.read(), 5)
        assert isinstance(tail, bytes)
    assert feed.clients == 0


async def test_page_wins_over_faust_index_on_a_faust_app() -> None:
    app = faust.App("screen-unit-test", web_enabled=True, autodiscover=False)
    register_views(app, snapshot, interval_s=0.05)
    app.web.init_server()  # applies Faust's own blueprints, including its "/" index
    async with TestClient(TestServer(app.web.web_app)) as c:
        resp = await c.get("/")
        assert resp.status == 200
        assert "text/html" in resp.headers["Content-Type"]
        assert "Theo dõi" in await resp.text()
