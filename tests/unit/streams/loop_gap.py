"""The event loop's responsiveness while some work runs: a 10 ms ticker's longest gap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def longest_gap(work: Callable[[], Awaitable[Any]],
                      watch: Callable[[], None] = lambda: None) -> tuple[Any, float]:
    """``(what the work returned, longest gap between two wake-ups of a 10 ms ticker)``;
    ``watch`` is called at every wake-up."""
    wakeups: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while True:
            wakeups.append(time.perf_counter())
            watch()
            if done.is_set():
                return
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.03)
    result = await work()
    done.set()
    await task
    return result, max(b - a for a, b in zip(wakeups, wakeups[1:], strict=False)) - 0.01
