"""The push channel behind the screen: one snapshot per scope and tick, shared by every client.

However many screens watch a scope, the worker builds and encodes that scope's snapshot once
per tick (:class:`LiveFeed`); each client then sends the newest encoded frame it has not sent
yet. A slow client skips frames instead of queueing them, so it cannot make the worker buffer
without bound. Frames are Server-Sent Events (``text/event-stream``), which browsers reconnect
by themselves.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

logger = logging.getLogger(__name__)

#: ``snapshot(scope, code)`` returns the live API document for ``scope`` ("national" or
#: "province") and ``code`` (None or a 2-digit province code): a dict, JSON bytes or str, or an
#: awaitable of one. It raises ``LookupError`` for an unknown code.
SnapshotFn = Callable[[str, str | None], Any]

Key = tuple[str, str | None, str]  # scope, code, view

#: Views of a snapshot a client may ask for: the API document as is, or without the per-group
#: breakdowns of the children (the screen's table does not show them; a third of the bytes).
VIEWS = ("full", "screen")
CHILD_BREAKDOWNS = ("by_crime_group", "by_source_type")


def sse_frame(data: bytes, *, event: str | None = None, event_id: int | None = None) -> bytes:
    """Encode one Server-Sent Event; ``data`` may hold newlines (each gets its own field).

    >>> sse_frame(b'{"a": 1}', event="snapshot", event_id=3)
    b'id: 3\\nevent: snapshot\\ndata: {"a": 1}\\n\\n'
    """
    parts = []
    if event_id is not None:
        parts.append(b"id: %d\n" % event_id)
    if event is not None:
        parts.append(b"event: " + event.encode() + b"\n")
    for line in data.splitlines() or [b""]:
        parts.append(b"data: " + line + b"\n")
    parts.append(b"\n")
    return b"".join(parts)


def sse_retry(milliseconds: int) -> bytes:
    """The field telling a browser how long to wait before reconnecting."""
    return b"retry: %d\n\n" % milliseconds


def encode_snapshot(value: Any) -> bytes:
    """The snapshot as compact UTF-8 JSON, whatever form the snapshot function returned."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def unavailable_frame(exc: BaseException) -> bytes:
    """The frame sent instead of a snapshot when the worker cannot answer right now."""
    detail = {"error": type(exc).__name__, "detail": str(exc)}
    return sse_frame(orjson.dumps(detail), event="unavailable")


def screen_view(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without the children's per-group breakdowns; every other field unchanged."""
    children = []
    for child in doc.get("children") or []:
        periods = {
            name: {**period, "figures": {k: v for k, v in period["figures"].items()
                                         if k not in CHILD_BREAKDOWNS}}
            for name, period in (child.get("periods") or {}).items()
        }
        children.append({**child, "periods": periods})
    return {**doc, "children": children}


@dataclass
class _Channel:
    """The newest frame of one scope, and who is waiting for the next one."""

    key: Key
    frame: bytes | None = None
    error: LookupError | None = None
    version: int = 0
    subscribers: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def publish(self, frame: bytes | None, error: LookupError | None = None) -> None:
        self.frame, self.error = frame, error
        self.version += 1
        self.changed.set()
        self.changed = asyncio.Event()


class LiveFeed:
    """Builds each watched scope's frame every ``interval_s`` and hands it to its clients."""

    def __init__(self, snapshot: SnapshotFn, *, interval_s: float = 0.5) -> None:
        self._snapshot = snapshot
        self.interval_s = interval_s
        self._channels: dict[Key, _Channel] = {}
        self._documents: dict[tuple[str, str | None], tuple[float, Any]] = {}
        self._closed = False
        self.frames_built = 0
        self.snapshots_taken = 0

    @property
    def clients(self) -> int:
        """How many clients are subscribed now, over all scopes."""
        return sum(ch.subscribers for ch in self._channels.values())

    async def _document(self, scope: str, code: str | None) -> Any:
        """The scope's snapshot of this tick: taken once, shared by every view of the scope."""
        now = asyncio.get_running_loop().time()
        hit = self._documents.get((scope, code))
        if hit is not None and now - hit[0] < self.interval_s / 2:
            return hit[1]
        value = self._snapshot(scope, code)
        if inspect.isawaitable(value):
            value = await value
        self.snapshots_taken += 1
        self._documents[(scope, code)] = (now, value)
        return value

    async def build(self, key: Key) -> bytes:
        """The encoded snapshot of ``key`` for this tick (no SSE framing)."""
        scope, code, view = key
        value = await self._document(scope, code)
        if view == "screen":
            if isinstance(value, bytes | bytearray | str):
                value = orjson.loads(value)
            value = screen_view(value)
        return encode_snapshot(value)

    async def _produce(self, channel: _Channel) -> None:
        """Publish a frame now, then on every multiple of ``interval_s`` of the loop clock
        (the same instants for every channel, so views of one scope share a snapshot)."""
        loop = asyncio.get_running_loop()
        failing = False
        while True:
            try:
                data = await self.build(channel.key)
            except LookupError as exc:
                channel.publish(None, exc)
            except Exception as exc:  # e.g. not ready during a rebalance: say so, keep going
                log = logger.debug if failing else logger.warning
                log("screen: snapshot %s unavailable: %r", channel.key, exc)
                failing = True
                channel.publish(unavailable_frame(exc))
            else:
                failing = False
                self.frames_built += 1
                channel.publish(sse_frame(data, event="snapshot", event_id=channel.version + 1))
            now = loop.time()
            await asyncio.sleep(self.interval_s - now % self.interval_s)

    def _join(self, key: Key) -> _Channel:
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = _Channel(key)
        channel.subscribers += 1
        if channel.task is None or channel.task.done():
            channel.task = asyncio.get_running_loop().create_task(self._produce(channel))
        return channel

    def _leave(self, channel: _Channel) -> None:
        channel.subscribers -= 1
        if channel.subscribers <= 0:
            if channel.task is not None:
                channel.task.cancel()
            self._channels.pop(channel.key, None)
            scope_code = channel.key[:2]
            if not any(key[:2] == scope_code for key in self._channels):
                self._documents.pop(scope_code, None)

    async def frames(
        self, scope: str, code: str | None, view: str = "full"
    ) -> AsyncGenerator[bytes, None]:
        """Yield the scope's newest frame each time there is a new one, until :meth:`close`.

        Raises ``LookupError`` (before the first frame) when the scope does not exist.
        """
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}")
        if self._closed:
            return
        channel = self._join((scope, code, view))
        seen = 0
        try:
            while not self._closed:
                if channel.version == seen:
                    await channel.changed.wait()
                    continue
                seen = channel.version
                if channel.error is not None:
                    raise channel.error
                if channel.frame is not None:
                    yield channel.frame
        finally:
            self._leave(channel)

    async def close(self) -> None:
        """End every client's stream (the worker is shutting down)."""
        self._closed = True
        for channel in list(self._channels.values()):
            if channel.task is not None:
                channel.task.cancel()
            channel.changed.set()

