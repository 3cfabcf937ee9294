"""HTTP routes of the monitoring screen, served by the worker next to the live API.

``register_views(app, snapshot)`` adds to the Faust app's web server (aiohttp):

- ``GET /``: the page (Vietnamese, English toggle);
- ``GET /screen/{asset}``: its CSS, JavaScript, texts, ``config.json`` (targets, thresholds)
  and ``provinces.json`` (names of the 34 provinces);
- ``GET /api/v1/live/stream/national`` and ``/api/v1/live/stream/provinces/{code}``: the push
  channel, Server-Sent Events carrying the same JSON as ``/api/v1/live/...``, twice a second;
  ``?view=screen`` (what the page asks for) leaves out the children's per-group breakdowns.

Every asset is a file of this package: nothing is fetched from elsewhere.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import orjson
from aiohttp import web

from streams.screen.push import VIEWS, LiveFeed, SnapshotFn, sse_retry

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).parent
STATIC_DIR = PACKAGE_DIR / "static"

#: Served files: URL name -> (path, content type). Nothing else under /screen/ is served.
ASSETS: dict[str, tuple[Path, str]] = {
    "index.html": (STATIC_DIR / "index.html", "text/html"),
    "screen.css": (STATIC_DIR / "screen.css", "text/css"),
    "screen.js": (STATIC_DIR / "screen.js", "application/javascript"),
    "format.js": (STATIC_DIR / "format.js", "application/javascript"),
    "charts.js": (STATIC_DIR / "charts.js", "application/javascript"),
    "i18n.json": (STATIC_DIR / "i18n.json", "application/json"),
    "config.json": (PACKAGE_DIR / "config.json", "application/json"),
}

PROVINCE_CODE = re.compile(r"^\d{2}$")
RECONNECT_MS = 1500
WRITE_TIMEOUT_S = 10.0
NO_CACHE = {"Cache-Control": "no-cache"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str


def load_assets() -> dict[str, Asset]:
    """Read every served file once, at start-up (they are small)."""
    return {name: Asset(path.read_bytes(), ctype) for name, (path, ctype) in ASSETS.items()}


@functools.cache
def province_names() -> bytes:
    """``{"01": "Thành phố Hà Nội", ...}``: the 34 provinces, for the page's header."""
    from schemas import units

    return orjson.dumps({code: units.province_name(code) for code in units.PROVINCES})


class ScreenHandlers:
    """aiohttp handlers of the page, its assets and the push channel."""

    def __init__(self, feed: LiveFeed, assets: dict[str, Asset]) -> None:
        self.feed = feed
        self.assets = assets

    def _asset_response(self, name: str) -> web.Response:
        asset = self.assets.get(name)
        if asset is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=asset.body, content_type=asset.content_type, charset="utf-8", headers=NO_CACHE
        )

    async def index(self, request: web.Request) -> web.Response:
        return self._asset_response("index.html")

    async def asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "provinces.json":
            return web.Response(body=province_names(), content_type="application/json",
                                charset="utf-8", headers=NO_CACHE)
        return self._asset_response(name)

    async def stream_national(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, "national", None)

    async def stream_province(self, request: web.Request) -> web.StreamResponse:
        code = request.match_info["code"]
        if not PROVINCE_CODE.match(code):
            raise web.HTTPNotFound(text=f"no province {code!r}")
        return await self._stream(request, "province", code)

    async def _stream(
        self, request: web.Request, scope: str, code: str | None
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        view = request.query.get("view", "full")
        if view not in VIEWS:
            raise web.HTTPBadRequest(text=f"view must be one of {', '.join(VIEWS)}")
        frames = self.feed.frames(scope, code, view)
        try:
            async for frame in frames:
                if not response.prepared:
                    await response.prepare(request)
                    await response.write(sse_retry(RECONNECT_MS))
                await asyncio.wait_for(response.write(frame), WRITE_TIMEOUT_S)
        except LookupError as exc:
            if not response.prepared:
                raise web.HTTPNotFound(text=f"no such scope: {exc}") from exc
        except (ConnectionError, TimeoutError):
            logger.debug("screen: client %s went away", request.remote)
        finally:
            await frames.aclose()
        return response


def add_routes(
    web_app: web.Application, snapshot: SnapshotFn, *, interval_s: float = 0.5
) -> LiveFeed:
    """Add the screen's routes to an aiohttp application; return the push channel's feed."""
    feed = LiveFeed(snapshot, interval_s=interval_s)
    handlers = ScreenHandlers(feed, load_assets())
    router = web_app.router
    router.add_get("/", handlers.index)
    router.add_get("/screen/{name}", handlers.asset)
    router.add_get("/api/v1/live/stream/national", handlers.stream_national)
    router.add_get("/api/v1/live/stream/provinces/{code}", handlers.stream_province)

    async def _close_streams(_app: web.Application) -> None:
        await feed.close()

    web_app.on_shutdown.append(_close_streams)
    return feed


def register_views(
    live_app: Any, snapshot: SnapshotFn | None = None, *, interval_s: float = 0.5
) -> LiveFeed:
    """Add the screen to the worker's web server (call before the worker starts).

    ``live_app`` is the worker's ``streams.app.LiveApp`` (or a bare ``faust.App``);
    ``snapshot(scope, code)`` defaults to ``streams.live.snapshot``, the function behind the
    live JSON API, so the push channel sends exactly what the API answers.
    """
    faust_app = live_app if isinstance(live_app, faust.App) else live_app.app
    if snapshot is None:
        from streams import live

        snapshot = live.snapshot
    web_app: web.Application = faust_app.web.web_app  # type: ignore[union-attr] # aiohttp driver
    feed = add_routes(web_app, snapshot, interval_s=interval_s)
    extras = getattr(live_app, "extras", None)
    if isinstance(extras, dict):
        extras["screen_feed"] = feed
    return feed
