"""Watchdog: records on the broker that never reach the agent.

The agent notices records Faust dropped (during a rebalance or a table recovery) when a
later record of the same partition arrives with a higher offset than the next one it wants
(``count_events._in_sequence``), and then seeks back. When no later record comes (a province
that has sent its last batch for now), nothing would ever show the hole and the partition's
last records would wait, uncounted, until that province sends again. This was seen twice in
CI: a worker counting a few records short after a rebalance, with nothing in its log.

So every ``worker_stall_check_s`` the worker compares, for each partition it holds, the next
offset it wants with the broker's end offset. A partition is *stalled* when the broker holds
records from that offset on, none of them has reached the agent for a whole check period,
and the agent is idle (waiting on Faust, nothing queued: so the records are not merely
behind others). A stalled partition is sought back to the offset it wants; records that were
in fact already counted are skipped as replays, so a needless seek costs only a re-read.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from streams.compat import committed_offset

if TYPE_CHECKING:
    from streams.app import LiveApp

log = logging.getLogger(__name__)


def arrived(live_app: LiveApp, partition: int) -> None:
    """Note that a record of ``partition`` reached the agent (called per record)."""
    live_app.extras["arrivals"][partition] = time.monotonic()


def next_wanted(live_app: LiveApp, tp: Any) -> int:
    """The next offset of ``tp`` the agent wants: past the last one it took in order, or,
    with none taken since the assignment, past what the restored state and the committed
    offset already cover (Faust's committed-offset map can lack a partition just taken over
    from another worker; the broker never delivers from before the committed offset, which
    is never past the last checkpoint)."""
    expected: dict[int, int] = live_app.extras.setdefault("expected", {})
    want = expected.get(tp.partition)
    if want is not None:
        return want
    committed = committed_offset(live_app.app.consumer, tp) or 0
    return max(committed, live_app.runtime.applied_through(tp.partition) + 1)


async def check(live_app: LiveApp, stall_s: float) -> list[int]:
    """Seek back the partitions stalled for ``stall_s``; returns them."""
    pipeline = live_app.extras.get("pipeline")
    if not live_app.ready or pipeline is None or not pipeline.idle():
        return []
    runtime = live_app.runtime
    waiting: set[int] = live_app.extras.setdefault("waiting", set())
    tps = [tp for tp in live_app.app.assignor.assigned_actives()
           if tp.topic == live_app.settings.events_topic and tp.partition in runtime.loaded
           and tp.partition not in waiting and tp.partition not in live_app.restoring]
    if not tps:
        return []
    consumer = live_app.app.consumer
    ends = await consumer.highwaters(*tps)
    now = time.monotonic()
    since = live_app.extras.get("ready_at", 0.0)
    arrivals: dict[int, float] = live_app.extras["arrivals"]
    stalled = []
    for tp in tps:
        end = ends.get(tp)
        want = next_wanted(live_app, tp)
        idle = now - max(arrivals.get(tp.partition, 0.0), since)
        # (The local Tansu broker reports the first offset of the last batch + 1 as the end:
        # end > want still means a record at or past ``want``.)
        if end is None or end <= want or idle < stall_s or not live_app.ready:
            continue
        log.warning("partition %d of %s: records from offset %d are on the broker (end %d) "
                    "but none reached the worker for %.1f s: seeking back to %d",
                    tp.partition, tp.topic, want, end, idle, want)
        runtime.stats["stalls"] = runtime.stats.get("stalls", 0) + 1
        arrivals[tp.partition] = now  # (one seek per period, not one per check)
        await consumer.seek_wait({tp: want})
        stalled.append(tp.partition)
    return stalled


def positions(live_app: LiveApp) -> dict[str, Any]:
    """Per partition held: the next offset wanted, the end offset last seen by the fetcher
    and the seconds since its last record reached the agent (for the status endpoint)."""
    if not live_app.ready:
        return {}
    consumer = live_app.app.consumer
    arrivals: dict[int, float] = live_app.extras["arrivals"]
    now = time.monotonic()
    out: dict[str, Any] = {}
    for tp in sorted(live_app.app.assignor.assigned_actives()):
        if tp.topic != live_app.settings.events_topic:
            continue
        last = arrivals.get(tp.partition)
        try:
            end = consumer.highwater(tp)
        except Exception:  # (not assigned in the client yet: a rebalance under way)
            end = None
        out[str(tp.partition)] = {
            "next_offset": next_wanted(live_app, tp),
            "fetched_end": end,
            "last_record_s_ago": None if last is None else round(now - last, 1),
        }
    return out
