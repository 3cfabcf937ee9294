"""The HTTP gateway: ``POST /api/v1/events`` for provincial systems, ``/healthz``, ``/metrics``.

One request = one province (the token's). The gateway authenticates, rate limits, reads the
body within limits, validates every event with the shared validator, produces the valid ones
to ``antt.events.v1`` (one record per chunk of up to 1000 events, key = province code) and
answers only after the broker acknowledged them. See docs/integrators.md.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from antt.settings import Settings
from ingest import body as bodies
from ingest.errors import BrokerUnavailableError, RequestError
from ingest.kafka import (
    MAX_BATCH_EVENTS,
    MAX_RECORD_BYTES,
    AsyncEventProducer,
    Record,
    batch_records,
)
from ingest.metrics import GatewayMetrics
from ingest.ratelimit import RateLimiter, retry_after_header
from ingest.sorting import SortedBatch, sort_items
from ingest.tokens import TokenInfo, TokenStore

log = logging.getLogger(__name__)
audit = logging.getLogger("ingest.audit")

EVENTS_PATH = "/api/v1/events"
BROKER_RETRY_AFTER_S = 5.0
# Refusals that may leave (part of) the body unread: the connection is closed after them.
BODY_UNREAD = frozenset({401, 408, 413, 415, 429})

Clock = Callable[[], datetime]
Validator = Callable[..., Any]

GATEWAY_KEY: web.AppKey[Gateway] = web.AppKey("gateway")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _validator(settings: Settings) -> Validator:
    """The shared validator with this deployment's clock tolerance (as the stream uses it)."""
    from schemas import validate_batch

    return functools.partial(validate_batch, future_tolerance_s=settings.future_tolerance_s)


def json_response(status: int, payload: dict[str, Any], **headers: str) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(payload), content_type="application/json",
        headers=headers,
    )


def error_response(exc: RequestError, request_id: str) -> web.Response:
    payload: dict[str, Any] = {
        "request_id": request_id, "error": exc.code, "message": exc.message, **exc.extra
    }
    headers = {"X-Request-ID": request_id}
    if exc.retry_after is not None:
        headers["Retry-After"] = retry_after_header(exc.retry_after)
    if exc.status == 401:
        headers["WWW-Authenticate"] = f'Bearer realm="antt", error="{exc.code}"'
    response = json_response(exc.status, payload, **headers)
    if exc.status in BODY_UNREAD:
        response.force_close()  # do not linger reading a body nobody will use
    return response


@dataclass
class Gateway:
    """The gateway's state: tokens, limits, producer, metrics. Handlers live on it."""

    settings: Settings
    producer: AsyncEventProducer
    tokens: TokenStore
    limiter: RateLimiter
    metrics: GatewayMetrics
    validate: Validator
    clock: Clock = _utc_now

    def authenticate(self, request: web.Request) -> TokenInfo:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise RequestError(401, "missing_token", "send Authorization: Bearer <token>")
        info = self.tokens.lookup(token.strip())
        self.metrics.tokens.set(len(self.tokens))
        if info is None:
            raise RequestError(401, "invalid_token", "unknown token")
        if info.expired(self.clock()):
            raise RequestError(401, "invalid_token", "token expired; ask for a new one")
        return info

    def check_rate(self, info: TokenInfo) -> None:
        wait = self.limiter.check(info.token_sha256, time.monotonic())
        if wait > 0:
            raise RequestError(
                429, "rate_limited",
                f"more than {self.limiter.rate:g} requests per second for this token",
                retry_after=wait,
            )

    async def read_items(self, request: web.Request) -> tuple[list[object], bytes | None]:
        """The request's items, and its body when that is a JSON array (for the fast path)."""
        s = self.settings
        ctype = bodies.media_type(request)
        encoding = bodies.check_encoding(request)
        raw = await bodies.read_body(
            request, max_bytes=s.gateway_max_body_bytes, timeout=s.gateway_read_timeout_s
        )
        if encoding == "gzip":
            raw = bodies.gunzip(raw, max_decompressed=s.gateway_max_decompressed_bytes)
        items = bodies.split_items(raw, ctype, max_events=s.gateway_max_events)
        return items, (raw if ctype in bodies.JSON_TYPES else None)

    async def produce(self, batch: SortedBatch, raw_array: bytes | None) -> None:
        if not batch.valid:
            return
        if raw_array is not None and batch.all_valid and batch.received <= MAX_BATCH_EVENTS \
                and len(raw_array) <= MAX_RECORD_BYTES:
            # The body is already a valid JSON array of this province's events: produce as is.
            records = [Record(batch.province_code.encode(), raw_array, batch.received)]
        else:
            pairs = ((batch.province_code, e) for e in batch.valid_items)
            records = list(batch_records(pairs))
        started = time.perf_counter()
        try:
            await self.producer.send(records)
        except BrokerUnavailableError:
            self.metrics.broker_up.set(0)
            raise RequestError(
                503, "broker_unavailable",
                "the event broker did not acknowledge; nothing from this request was "
                "accepted, send it again later",
                retry_after=BROKER_RETRY_AFTER_S,
                extra={"accepted": []},
            ) from None
        self.metrics.broker_up.set(1)
        self.metrics.produce_latency.observe(time.perf_counter() - started)

    async def post_events(self, request: web.Request) -> web.Response:
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        try:
            response = await self._post_events(request, request_id)
        except RequestError as exc:
            response = error_response(exc, request_id)
            log.info("request %s refused: %s %s", request_id, exc.status, exc.code)
        self.metrics.requests.labels(str(response.status)).inc()
        self.metrics.latency.observe(time.perf_counter() - started)
        return response

    async def _post_events(self, request: web.Request, request_id: str) -> web.Response:
        info = self.authenticate(request)
        self.check_rate(info)
        items, raw_array = await self.read_items(request)
        batch = sort_items(
            items, self.validate, now=self.clock(), province_code=info.province_code,
            raw_array=raw_array,
        )
        await self.produce(batch, raw_array)
        self._account(batch, info, request_id)
        status = 403 if batch.forbidden else (200 if batch.valid or not batch.rejected else 422)
        return json_response(status, batch.answer(request_id), **{"X-Request-ID": request_id})

    def _account(self, batch: SortedBatch, info: TokenInfo, request_id: str) -> None:
        m = self.metrics
        m.events.labels("accepted").inc(len(batch.valid))
        m.events.labels("rejected").inc(len(batch.rejected) - len(batch.forbidden))
        m.events.labels("forbidden").inc(len(batch.forbidden))
        m.accepted_by_province.labels(info.province_code).inc(len(batch.valid))
        audit.info(
            "request_id=%s province=%s token_label=%s accepted=%d rejected=%d forbidden=%d "
            "at=%s",
            request_id, info.province_code, info.label or "-", len(batch.valid),
            len(batch.rejected) - len(batch.forbidden), len(batch.forbidden),
            self.clock().isoformat(),
        )

    async def healthz(self, request: web.Request) -> web.Response:
        ok = await self.producer.check()
        self.metrics.broker_up.set(1 if ok else 0)
        payload = {"status": "ok" if ok else "broker_unavailable", "broker": "up" if ok else "down",
                   "tokens": len(self.tokens)}
        if ok:
            return json_response(200, payload)
        return json_response(503, payload, **{"Retry-After": retry_after_header(5)})

    async def metrics_view(self, request: web.Request) -> web.Response:
        self.tokens.reload_if_changed()
        self.metrics.tokens.set(len(self.tokens))
        return web.Response(body=self.metrics.render(),
                            headers={"Content-Type": self.metrics.content_type})


async def openapi_view(request: web.Request) -> web.Response:
    from ingest.openapi import document_json

    return web.Response(body=document_json(), content_type="application/json")


def build_app(
    settings: Settings,
    *,
    clock: Clock = _utc_now,
    producer: AsyncEventProducer | None = None,
) -> web.Application:
    """The aiohttp application; the producer is closed on cleanup."""
    gateway = Gateway(
        settings=settings,
        producer=producer
        or AsyncEventProducer(settings, timeout=settings.gateway_produce_timeout_s),
        tokens=TokenStore(settings.gateway_tokens_file),
        limiter=RateLimiter(settings.gateway_rate_per_token, settings.gateway_rate_burst),
        metrics=GatewayMetrics(),
        validate=_validator(settings),
        clock=clock,
    )
    # The body is read and size-checked by the handler itself (413 as soon as it is too big).
    app = web.Application(client_max_size=settings.gateway_max_body_bytes)
    app[GATEWAY_KEY] = gateway
    app.router.add_post(EVENTS_PATH, gateway.post_events)
    app.router.add_get("/healthz", gateway.healthz)
    app.router.add_get("/metrics", gateway.metrics_view)
    app.router.add_get("/openapi.json", openapi_view)

    async def _close(_: web.Application) -> None:
        await gateway.producer.close()

    app.on_cleanup.append(_close)
    return app
