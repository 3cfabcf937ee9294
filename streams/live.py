"""Live figures as the API serves them, whichever worker is asked.

Each worker holds the provinces of its own partitions. To answer for the whole country it
asks the other workers of the group (their URLs come from Faust's partition assignor) for their
province summaries (``/api/v1/internal/summaries``), merges, and renders. If the partitions
answered for do not cover the topic (a rebalance in progress, a worker restoring), it raises
:class:`NotReadyError` instead of answering with partial figures.

``snapshot(scope, code)`` is the entry point for the monitoring page in the same process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from schemas import units
from streams.logic.render import render
from streams.logic.view import Summary, province_summary

if TYPE_CHECKING:
    from streams.app import LiveApp

log = logging.getLogger(__name__)
SCOPES = ("national", "provinces", "province")
CACHE_TTL_S = 0.25
PEER_TIMEOUT_S = 3.0

_current: LiveApp | None = None


class NotReadyError(Exception):
    """Not every partition is accounted for right now (rebalance or restore in progress)."""


class UnknownProvinceError(KeyError):
    pass


def install(live_app: LiveApp) -> None:
    global _current
    _current = live_app


def current() -> LiveApp:
    if _current is None:
        raise RuntimeError("no live app in this process (streams.app.create_app not called)")
    return _current


def local_summaries(
    live_app: LiveApp, as_of: float, province: str | None = None
) -> dict[str, Any]:
    """This worker's part: loaded partitions and province summaries (detail for ``province``)."""
    runtime = live_app.runtime
    summaries: dict[str, Summary] = {}
    for code, state in list(runtime.states.items()):
        if runtime.partition_of.get(code) not in runtime.loaded:
            continue
        if province is not None and code != province:
            continue
        summaries[code] = province_summary(state, as_of, detail=province is not None)
    return {"partitions": sorted(runtime.loaded), "summaries": summaries}


async def snapshot(scope: str, code: str | None = None, as_of: float | None = None) -> dict:
    """The API JSON for ``scope`` (``national``, ``provinces`` or ``province`` + ``code``)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    if scope == "province" and code not in units.PROVINCES:
        raise UnknownProvinceError(code)
    live_app = current()
    detail = code if scope == "province" else None
    cache: dict[str | None, tuple[float, dict[str, Summary]]]
    cache = live_app.extras.setdefault("summary_cache", {})
    hit = cache.get(detail) if as_of is None else None
    if hit is not None and time.time() - hit[0] < CACHE_TTL_S:
        now, summaries = hit
    else:
        now = time.time() if as_of is None else as_of
        summaries = await _gather(live_app, now, detail)
        if as_of is None:
            cache[detail] = (now, summaries)
    if scope == "province":
        assert code is not None
        kids = [(c, units.commune_name(c)) for c in units.communes_of(code)]
    else:
        kids = [(p, units.province_name(p)) for p in units.PROVINCES]
    return render(scope, code, summaries, now, live_app.cal, kids)


async def _gather(live_app: LiveApp, as_of: float, province: str | None) -> dict[str, Summary]:
    own = local_summaries(live_app, as_of, province)
    covered = set(own["partitions"])
    summaries: dict[str, Summary] = dict(own["summaries"])
    peers = _peer_urls(live_app)
    if peers:
        params = {"as_of": repr(as_of)}
        if province is not None:
            params["province"] = province
        timeout = aiohttp.ClientTimeout(total=PEER_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            answers = await asyncio.gather(
                *(_fetch(session, url, params) for url in peers), return_exceptions=True
            )
        for url, answer in zip(peers, answers, strict=True):
            if isinstance(answer, BaseException):
                log.warning("peer %s did not answer: %r", url, answer)
                continue
            covered |= set(answer["partitions"])
            summaries.update(answer["summaries"])
    wanted = set(range(live_app.settings.topic_partitions))
    if not wanted <= covered:
        raise NotReadyError(f"partitions {sorted(wanted - covered)} not available yet")
    return summaries


async def _fetch(session: aiohttp.ClientSession, url: str, params: dict[str, str]) -> Any:
    async with session.get(f"{url}/api/v1/internal/summaries", params=params) as resp:
        resp.raise_for_status()
        return orjson.loads(await resp.read())


def _peer_urls(live_app: LiveApp) -> list[str]:
    me = str(live_app.app.conf.canonical_url).rstrip("/")
    try:
        hosts = live_app.app.assignor.tables_metadata()
    except Exception:  # no assignment yet
        return []
    return sorted({str(h).rstrip("/") for h in hosts} - {me})
