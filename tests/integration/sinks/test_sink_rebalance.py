"""Several sinks in one consumer group: they split the partitions, and a sink joining or
leaving mid-stream, while a write is in flight, neither loses nor doubles an event."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sink_helpers import (
    group_caught_up,
    group_committed,
    produce,
    quick_sink,
    running,
    running_sink,
    slow_stores,
    truth_diffs,
    wait_until,
)

from antt.settings import Settings, as_env
from ingest.simulate import Knobs, generate
from ingest.simulate.run import send_kafka
from schemas import rules, units
from schemas.examples import make_event
from sinks.consumer import SinkConsumer
from sinks.service import build_sink, tune_gc

pytestmark = pytest.mark.integration

ANTT = str(Path(sys.executable).parent / "antt")


def _held(sink: SinkConsumer) -> set[int]:
    return {tp.partition for tp in sink.consumer.assignment()} if sink.consumer else set()


def _writing(sink: SinkConsumer) -> bool:
    return sink.flush_task is not None and not sink.flush_task.done()


async def _send(settings: Settings, records: list) -> None:
    sent = await asyncio.to_thread(send_kafka, settings, records, rate=None)
    assert sent.failed_records == 0


async def test_two_idle_sinks_split_the_partitions(sink_settings: Settings) -> None:
    async with running_sink(sink_settings) as first:
        await wait_until(lambda: len(_held(first)) == 4, 30, "the first sink to hold all 4")
        async with running_sink(sink_settings) as second:
            await wait_until(lambda: len(_held(first)) == 2 and len(_held(second)) == 2, 60,
                             "the two sinks to hold 2 partitions each")
            assert _held(first).isdisjoint(_held(second))
        await wait_until(lambda: len(_held(first)) == 4, 60, "the first to take all 4 back")


async def test_join_and_leave_mid_write_store_every_event_once(sink_settings: Settings,
                                                              ch) -> None:
    """A joins, B joins while A writes, B leaves while both write: ClickHouse equals the truth.

    Inserts are slowed down by 0.8 s (a slow ClickHouse) so that each rebalance happens while
    a write is in flight. The stream has resends, corrections, late and malformed events.
    """
    now = datetime.now(UTC)
    knobs = Knobs(duplicates=0.05, out_of_order=0.05, late=0.05, malformed=0.02,
                  corrections=0.04)
    sim = generate(11, n_events=6000, knobs=knobs, now=now,
                   stat_start_day=sink_settings.statistical_month_start_day)
    third = len(sim.records) // 3
    parts = sim.records[:third], sim.records[third:2 * third], sim.records[2 * third:]
    first, second = quick_sink(sink_settings), quick_sink(sink_settings)
    slow_stores(first, 0.8)
    slow_stores(second, 0.8)
    async with running(first):
        await _send(sink_settings, parts[0])
        await wait_until(lambda: first.stats.flushes > 0 and _writing(first), 60,
                         "the first sink to be writing")
        async with running(second):
            await wait_until(lambda: _held(second) and first.assignments >= 2, 60,
                             "the second sink to get partitions")
            assert _held(first).isdisjoint(_held(second))
            await _send(sink_settings, parts[1])
            await wait_until(lambda: second.stats.flushes > 0, 60, "the second sink to write")
            await _send(sink_settings, parts[2])
            await wait_until(lambda: _writing(first) and _writing(second), 60,
                             "both sinks writing")
        # The second left mid-write; the first takes its partitions back and finishes.
        await wait_until(lambda: len(_held(first)) == 4, 60, "the first to hold all 4 again")
        await wait_until(lambda: group_caught_up(sink_settings), 120, "every record stored")
    assert first.stats.inserted > 0 and second.stats.inserted > 0
    count, distinct = ch.query("SELECT count(), uniqExact(event_id) FROM events_raw"
                               ).result_rows[0]
    assert (count, distinct) == (len(sim.events), len(sim.events))
    diffs = truth_diffs(ch, sink_settings, sim.truth, rules.local_date(now))
    assert not diffs, "\n".join(diffs[:40])


async def test_sink_keeps_its_membership_while_validating_a_backlog(sink_settings: Settings,
                                                                   ch) -> None:
    """A backlog of 1,000-event records is validated without starving the event loop.

    The sink runs with a 3 s session timeout (heartbeat 0.5 s) and the production GC
    thresholds; the loop's longest stall while it validates and writes the backlog stays well
    under that, the sink is never expelled (one assignment, no revocation), and every event
    is stored.
    """
    provinces = ["01", "79", "48", "31", "92", "22", "04", "08"]
    records = [(p, [make_event("report_received", province_code=p,
                               commune_code=units.communes_of(p)[i % 7])
                    for i in range(1000)]) for _ in range(8) for p in provinces]
    await produce(sink_settings, records)
    sink = build_sink(sink_settings)
    sink.group_timeouts.update(session_timeout_ms=3000, heartbeat_interval_ms=500,
                               rebalance_timeout_ms=6000)
    stalls: list[float] = []

    async def watch() -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            stalls.append(loop.time() - before - 0.01)

    watcher = asyncio.create_task(watch())
    thresholds = gc.get_threshold()
    tune_gc()
    try:
        async with running(sink):
            await wait_until(lambda: group_caught_up(sink_settings), 180, "the backlog stored")
            assert (sink.assignments, sink.stats.revocations) == (1, 0), "the sink was expelled"
    finally:
        gc.set_threshold(*thresholds)
        watcher.cancel()
    assert sink.stats.events_valid == 64_000
    assert ch.command("SELECT count() FROM events_raw") == 64_000
    assert max(stalls) < 1.0, f"event loop stalled {max(stalls):.2f} s"
    print(f"longest event-loop stall {max(stalls) * 1000:.0f} ms")  # noqa: T201


async def test_a_sink_killed_mid_stream_loses_and_doubles_nothing(sink_settings: Settings, ch,
                                                                  tmp_path: Path) -> None:
    """`antt sink` (a child process) and an in-process sink share the group; the child is
    killed with SIGKILL while records arrive. Its partitions move to the survivor after the
    session timeout; what the child stored but had not committed is recognised, not doubled."""
    now = datetime.now(UTC)
    knobs = Knobs(duplicates=0.05, late=0.05, malformed=0.02, corrections=0.04)
    sim = generate(5, n_events=12000, knobs=knobs, now=now,
                   stat_start_day=sink_settings.statistical_month_start_day)
    half = len(sim.records) // 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
    env.update(as_env(sink_settings))
    log = (tmp_path / "sink.log").open("ab")
    child = subprocess.Popen([ANTT, "sink", "--no-migrate"], env=env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    survivor = quick_sink(sink_settings)
    try:
        async with running(survivor):
            await wait_until(lambda: len(_held(survivor)) == 2, 60,
                             "the child sink to take half of the partitions")
            mine = _held(survivor)
            await _send(sink_settings, sim.records[:half])

            async def child_committed() -> bool:
                committed = await group_committed(sink_settings)
                return any(off > 0 for p, off in committed.items() if p not in mine)

            await wait_until(child_committed, 60, "the child sink to commit")
            sending = asyncio.create_task(_send(sink_settings, sim.records[half:]))
            await asyncio.sleep(0.5)
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
            await sending
            await wait_until(lambda: len(_held(survivor)) == 4, 60,
                             "the survivor to take the dead sink's partitions")
            await wait_until(lambda: group_caught_up(sink_settings), 120, "every record stored")
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
    count, distinct = ch.query("SELECT count(), uniqExact(event_id) FROM events_raw"
                               ).result_rows[0]
    assert (count, distinct) == (len(sim.events), len(sim.events))
    diffs = truth_diffs(ch, sink_settings, sim.truth, rules.local_date(now))
    assert not diffs, "\n".join(diffs[:40])


@pytest.mark.faults
async def test_a_rebalance_during_a_clickhouse_outage_recovers_exactly(
        sink_settings: Settings, ch, stack_handle) -> None:
    """ClickHouse is down, the first sink is backing off with fetching paused, and a second
    sink joins: once ClickHouse is back both write their partitions, nothing stays paused."""
    provinces = ["01", "79", "48", "31", "92", "22", "04", "08"]
    records = [(p, [make_event("report_received", province_code=p,
                               commune_code=units.communes_of(p)[0]) for _ in range(50)])
               for _ in range(5) for p in provinces]
    second = quick_sink(sink_settings)  # its ClickHouse clients connect when built
    async with running_sink(sink_settings) as first:
        await wait_until(lambda: len(_held(first)) == 4, 30, "the first sink to hold all 4")
        stack_handle.stop_clickhouse()
        down = True
        try:
            await produce(sink_settings, records)
            await wait_until(lambda: first.stats.retries >= 1 and first.paused, 30,
                             "the first sink to fail and pause")
            async with running(second):
                await wait_until(lambda: len(_held(first)) == 2 and len(_held(second)) == 2,
                                 60, "the two sinks to split the partitions")
                stack_handle.start_clickhouse()
                down = False
                await wait_until(lambda: group_caught_up(sink_settings), 90, "recovery")
                assert not first.paused and not second.paused
        finally:
            if down:
                stack_handle.start_clickhouse()
    count, distinct = ch.query("SELECT count(), uniqExact(event_id) FROM events_raw"
                               ).result_rows[0]
    assert (count, distinct) == (2000, 2000)
    assert int(ch.command("SELECT sum(events) FROM metrics_daily WHERE metric = 'received'")
               ) == 2000
