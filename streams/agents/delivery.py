"""Records Faust fetched but did not hand to the agent: the hole check and the stall watchdog.

Faust can drop fetched records: those fetched while a partition is paused for table
recovery or while a rebalance starts, and, with no committed offset known yet, it does not
seek back afterwards (observed with a fresh consumer group restarted after kill -9, and
after a partition moved between workers). Three checks make every record reach the agent:

- **Holes** (:func:`in_sequence`, per record): offsets must arrive without gaps from the
  next one wanted; on a gap the partition is sought back once. Records fetched before the
  seek took effect are then dropped quietly; a gap found again at the same place after the
  seek is real (e.g. compaction) and accepted.
- **After a rebalance** (:func:`recheck_positions`): partitions that delivered nothing yet
  are sought to their committed offset once, half a second after it.
- **Stalls** (:func:`check`, every ``worker_stall_check_s``): a hole is only visible when a
  later record arrives. When none comes (a province that sent its last batch for now), the
  partition's last records would wait, uncounted, until that province sends again (seen
  twice in CI after a rebalance, before Faust's last read offset was switched off for the
  events topic: ``streams/transport.py``). So the worker
  compares, per partition held, the next offset wanted with the broker's end offset. A
  partition is *stalled* when the broker holds records from that offset on, none has
  reached the agent for a whole check period, and the agent is idle (waiting on Faust,
  nothing queued: the records are not merely behind others). It is sought back.

Records already counted are skipped as replays, so a needless seek costs only a re-read.
Seeks go through ``seek_wait``, which runs in Faust's consumer thread (the client's fetch
state belongs to that thread).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from streams.compat import committed_offset

if TYPE_CHECKING:
    from streams.app import LiveApp

log = logging.getLogger(__name__)


async def recheck_positions(live_app: LiveApp, delay_s: float = 0.5) -> None:
    """After a rebalance: partitions that delivered nothing yet are sought to their committed
    offset (or 0), in case records fetched during table recovery were dropped (see
    :func:`in_sequence`; a hole is only visible there if a later record arrives)."""
    await asyncio.sleep(delay_s)
    if not live_app.ready:
        return
    expected: dict[int, int] = live_app.extras.setdefault("expected", {})
    consumer = live_app.app.consumer
    waiting: set[int] = live_app.extras.setdefault("waiting", set())
    for tp in live_app.app.assignor.assigned_actives():
        if (tp.topic == live_app.settings.events_topic and tp.partition not in expected
                and tp.partition not in waiting):  # (a record waiting shows any hole)
            await consumer.seek_wait({tp: committed_offset(consumer, tp) or 0})


def forget(live_app: LiveApp, partitions: set[int]) -> None:
    """Revoked partitions: what was known of their delivery goes (a new assignment starts
    from the committed offset and the restored state)."""
    extras = live_app.extras
    for partition in partitions:
        for name in ("expected", "arrivals", "holes"):
            extras.setdefault(name, {}).pop(partition, None)


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


TAKE, SEEK, DROP = "take", "seek", "drop"


def judge(want: int, offset: int, hole: tuple[int, int] | None) -> str:
    """What to do with the record at ``offset`` when ``want`` is the next offset wanted and
    ``hole`` the last gap sought back for, as ``(wanted, first offset seen)``:

    - ``TAKE`` it: it continues the partition (or replays an earlier one), or it is the
      first record the broker has from ``want`` on after seeking back (a real gap);
    - ``SEEK`` back to ``want``: a new gap;
    - ``DROP`` it: fetched before the seek back took effect (it comes again).
    """
    if offset <= want:
        return TAKE
    if hole is None or hole[0] != want:
        return SEEK
    return DROP if offset > hole[1] else TAKE


async def in_sequence(live_app: LiveApp, tp: Any, offset: int) -> bool:
    """Whether the record at ``offset`` is counted now (:func:`judge`); after a gap the
    partition is sought back and the records come again."""
    extras = live_app.extras
    expected: dict[int, int] = extras.setdefault("expected", {})
    holes: dict[int, tuple[int, int]] = extras.setdefault("holes", {})
    partition = tp.partition
    want = next_wanted(live_app, tp)
    verdict = judge(want, offset, holes.get(partition))
    if verdict == SEEK:
        holes[partition] = (want, offset)
        log.warning("records %s[%d]@%d..%d were not delivered: seeking back",
                    tp.topic, partition, want, offset - 1)
        expected[partition] = want
        await live_app.app.consumer.seek_wait({tp: want})
    if verdict != TAKE:
        return False
    expected[partition] = max(want, offset + 1)
    return True


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
        runtime.stats["stalls"] += 1
        arrivals[tp.partition] = now  # (one seek per period, not one per check)
        live_app.extras.setdefault("holes", {}).pop(tp.partition, None)  # (judged afresh)
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
