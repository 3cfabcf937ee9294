"""The live HTTP API on the worker's Faust web server (port 6066 by default).

Public: ``/api/v1/live/national``, ``/api/v1/live/provinces``, ``/api/v1/live/provinces/{code}``
(docs/live-api.md). Internal: ``/api/v1/internal/summaries`` (between workers) and
``/api/v1/internal/status`` (partitions held and processing counters of this worker).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson
from faust.web import Request, Response, View

from streams import live
from streams.agents import delivery

if TYPE_CHECKING:
    from streams.app import LiveApp

JSON = "application/json"


def _json(view: View, data: Any, status: int = 200) -> Response:
    return view.bytes(orjson.dumps(data), content_type=JSON, status=status)


def _lane_status(live_app: Any) -> dict[str, Any] | None:
    """The validation process (streams/lane.py): its pid and counts, if the worker has one."""
    lane = live_app.extras.get("lane")
    return None if lane is None else {"pid": lane.pid, **lane.stats}


async def _answer(view: View, scope: str, code: str | None = None) -> Response:
    try:
        return _json(view, await live.snapshot(scope, code))
    except live.UnknownProvinceError:
        return _json(view, {"error": f"unknown province code {code!r}"}, status=404)
    except live.NotReadyError as exc:
        return _json(view, {"error": "not ready", "detail": str(exc)}, status=503)


def register(live_app: LiveApp) -> None:
    app = live_app.app

    @app.page("/api/v1/live/national")
    class National(View):
        async def get(self, request: Request) -> Response:
            return await _answer(self, "national")

    @app.page("/api/v1/live/provinces")
    class Provinces(View):
        async def get(self, request: Request) -> Response:
            return await _answer(self, "provinces")

    @app.page("/api/v1/live/provinces/{code}")
    class Province(View):
        async def get(self, request: Request, code: str) -> Response:
            return await _answer(self, "province", code)

    @app.page("/api/v1/internal/summaries")
    class Summaries(View):
        async def get(self, request: Request) -> Response:
            query = request.query
            as_of = float(query.get("as_of") or time.time())
            province = query.get("province") or None
            return _json(self, live.local_summaries(live_app, as_of, province))

    @app.page("/api/v1/internal/status")
    class Status(View):
        async def get(self, request: Request) -> Response:
            runtime = live_app.runtime
            return _json(self, {
                "instance": live_app.instance_id,
                "partitions": sorted(runtime.loaded),
                "provinces": sorted(runtime.states),
                "stats": runtime.stats,
                "lane": _lane_status(live_app),
                "positions": delivery.positions(live_app),
            })

    del National, Provinces, Province, Summaries, Status
