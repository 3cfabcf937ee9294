"""A deadline for a connection's request headers (aiohttp has none): slow clients get 408.

aiohttp times a body read only when the handler asks for it (the gateway does) and closes idle
keep-alive connections, but a client that opens a connection and trickles its request line
and headers would hold it for ever. :class:`HeaderDeadline` wraps aiohttp's protocol: when the
headers of the first request are not complete ``timeout`` seconds after the connection opened,
it answers 408 and closes the connection.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import orjson

_END = b"\r\n\r\n"


def _timeout_response(timeout: float) -> bytes:
    body = orjson.dumps({
        "request_id": uuid.uuid4().hex, "error": "header_timeout",
        "message": f"request headers not received within {timeout:g} s",
    })
    head = (
        "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class HeaderDeadline(asyncio.Protocol):
    """Protocol proxy: everything goes to ``inner``; a timer guards the first headers."""

    def __init__(self, inner: Any, timeout: float) -> None:
        self._inner = inner
        self._timeout = timeout
        self._tail = b""
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._timer = asyncio.get_running_loop().call_later(self._timeout, self._expire)
        self._inner.connection_made(transport)

    def _expire(self) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(_timeout_response(self._timeout))
            transport.close()

    def data_received(self, data: bytes) -> None:
        if self._timer is not None:
            if _END in self._tail + data:
                self._timer.cancel()
                self._timer = None
            else:
                self._tail = (self._tail + data)[-(len(_END) - 1):]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()  # type: ignore[no-any-return]

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


def guarded(factory: Callable[[], Any], timeout: float) -> Callable[[], HeaderDeadline]:
    return lambda: HeaderDeadline(factory(), timeout)
