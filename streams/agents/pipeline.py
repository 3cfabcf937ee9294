"""Between Faust's stream and the counting: records are validated ahead, counted in order.

The agent ``count_events`` takes each record from Faust's stream as soon as it is fetched and
:meth:`Pipeline.put` sends it to the validation lane (``streams/lane.py``, a child process);
one task counts the records in the order they came, up to ``worker_pipeline_records`` behind,
by which time the lane has usually answered. So the worker counts record N while the child
validates N+1..N+k: the two cores work at once. Nothing else changes: the records are counted
one at a time, in order, by the same code (``count_events._handle``), acked as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from streams.lane import Answer, Lane, request_of

log = logging.getLogger(__name__)

Ticket = asyncio.Future[Answer | None]
Handler = Callable[[Any, Answer | None], Awaitable[None]]
"""Counts one record, given the lane's answer for it (``None``: validate it in the worker)."""


class Pipeline:
    def __init__(self, handle: Handler, depth: int, lane: Lane | None):
        self.handle = handle
        self.lane = lane
        self.queue: asyncio.Queue[tuple[Any, Ticket | None]] = asyncio.Queue(maxsize=depth)
        self.task: asyncio.Task[None] | None = None
        self.counting = False  # a record taken from the queue and not yet counted

    def idle(self) -> bool:
        """Nothing queued nor being counted: the agent is waiting on Faust's stream."""
        return not self.counting and self.queue.empty()

    async def start(self) -> None:
        if self.lane is not None:
            await self.lane.start()
        self.task = asyncio.ensure_future(self._count())

    async def put(self, event: Any) -> None:
        """Queue ``event`` (waiting while ``depth`` records are queued); re-raises what
        stopped the counting task, as an error in the agent's own loop would."""
        task = self.task
        assert task is not None, "Pipeline.start first"
        item = (event, self._ticket(event.message))
        if task.done():
            task.result()
        if not self.queue.full():
            self.queue.put_nowait(item)
            return
        putter = asyncio.ensure_future(self.queue.put(item))
        try:
            await asyncio.wait({putter, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # (also when the agent is cancelled while it waits)
            if not putter.done():
                putter.cancel()
        if not putter.done():  # (the counting task ended first: raise its error)
            task.result()

    def _ticket(self, message: Any) -> Ticket | None:
        if self.lane is None or type(message.value) is not bytes:
            return None
        request = request_of(message.key, message.offset, message.timestamp)
        return None if request is None else self.lane.submit(message.value, request)

    async def _count(self) -> None:
        queue, lane = self.queue, self.lane
        while True:
            event, ticket = await queue.get()
            self.counting = True
            # Let the agent refill the queue first (a get from a full queue does not yield):
            # so the lane always has the next records while this one is counted.
            await asyncio.sleep(0)
            answer = await lane.answer(ticket) if lane is not None and ticket is not None else None
            await self.handle(event, answer)
            self.counting = False

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("the counting task had failed")
        if self.lane is not None:
            await self.lane.close()
