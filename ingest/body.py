"""Reading, decompressing and splitting a gateway request body into event items.

Everything here is bounded: the raw body by ``max_bytes`` and a read deadline, the
decompressed body by ``max_decompressed``, and the item count by ``max_events``.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass

import orjson
from aiohttp import web

from ingest.errors import RequestError

JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Unparseable:
    """An NDJSON line that is not JSON: rejected on its own, the other lines go on."""

    reason: str
    raw: bytes


def media_type(request: web.Request) -> str:
    """Which body format the request declares; 415 for anything else."""
    ctype = request.content_type.lower()
    if ctype in JSON_TYPES or ctype in NDJSON_TYPES:
        return ctype
    raise RequestError(
        415,
        "unsupported_media_type",
        f"Content-Type {ctype or '(none)'} not accepted; send application/json "
        "(a JSON array of events) or application/x-ndjson (one event per line)",
    )


def check_encoding(request: web.Request) -> str | None:
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return "gzip"
    raise RequestError(
        415, "unsupported_encoding", f"Content-Encoding {encoding} not accepted; use gzip or none"
    )


def _too_large(limit: int, what: str) -> RequestError:
    return RequestError(413, "body_too_large", f"{what} larger than the limit of {limit} bytes")


async def read_body(request: web.Request, *, max_bytes: int, timeout: float) -> bytes:
    """The raw body, refusing early on Content-Length, counting bytes as they arrive."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise _too_large(max_bytes, "request body")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while chunk := await request.content.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(max_bytes, "request body")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestError(
            408, "body_timeout", f"request body not received within {timeout:g} s"
        ) from None
    return b"".join(chunks)


def gunzip(raw: bytes, *, max_decompressed: int) -> bytes:
    """Decompress one or more gzip members; 400 when truncated or corrupt, 413 when too big."""
    out: list[bytes] = []
    total = 0
    data = raw
    while data:
        inflater = zlib.decompressobj(wbits=31)
        try:
            piece = inflater.decompress(data, max_decompressed - total + 1)
        except zlib.error as exc:
            raise RequestError(400, "bad_gzip", f"body is not valid gzip: {exc}") from None
        total += len(piece)
        if total > max_decompressed or inflater.unconsumed_tail:
            raise _too_large(max_decompressed, "decompressed body")
        if not inflater.eof:
            raise RequestError(400, "bad_gzip", "gzip body is truncated (no end of stream)")
        out.append(piece)
        data = inflater.unused_data
    if not out:
        raise RequestError(400, "bad_gzip", "gzip body is empty")
    return b"".join(out)


def split_items(body: bytes, ctype: str, *, max_events: int) -> list[object]:
    """The event items of a body: parsed JSON values, or :class:`Unparseable` NDJSON lines."""
    if ctype in JSON_TYPES:
        items = _json_array(body)
    else:
        items = ndjson_items(body)
    if not items:
        raise RequestError(400, "empty_batch", "the request contains no events")
    if len(items) > max_events:
        raise RequestError(
            413,
            "too_many_events",
            f"{len(items)} events in one request; the limit is {max_events}",
            extra={"max_events": max_events},
        )
    return items


def _json_array(body: bytes) -> list[object]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, "invalid_json", f"body is not valid JSON: {exc}") from None
    if not isinstance(value, list):
        raise RequestError(
            400, "not_an_array", "an application/json body must be a JSON array of events"
        )
    return value


def ndjson_items(body: bytes) -> list[object]:
    """One parsed value per non-blank line; a line that is not JSON becomes :class:`Unparseable`."""
    items: list[object] = []
    for line in body.split(b"\n"):
        line = line.strip()
        if not line:
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            items.append(Unparseable(f"line is not valid JSON: {exc}", line))
    return items
