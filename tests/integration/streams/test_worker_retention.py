"""State retention against the real broker: the worker snapshots provinces, evicts facts older
than the acceptance window, tombstones superseded checkpoint keys, and is killed with -9 in the
middle of a snapshot; after a restart every figure equals the independent ground truth."""

from __future__ import annotations

import os
import random
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
import streams_gen
from streams_harness import (
    Workers,
    changelog_latest,
    changelog_records,
    check_truth,
    committed_offsets,
    produce,
    wait_until,
    window_phases,
)

from antt.settings import Settings
from streams import checkpoint

pytestmark = pytest.mark.integration
PROVINCES = ["01", "79", "48"]
START_TIMEOUT = 60
WORKER_SESSION_TIMEOUT_S = 3.0  # see conftest.live_settings
SNAPSHOTS = {
    "ANTT_ACCEPTANCE_WINDOW_DAYS": "62",
    "ANTT_WORKER_SNAPSHOT_EVERY_CHUNKS": "2",
    "ANTT_WORKER_SNAPSHOT_PART_BYTES": "2000",
}


def distinct(events: list[dict]) -> int:
    return len({e["event_id"] for e in events})


def wait_counted(workers: Workers, n: int) -> None:
    seen: list[int] = []

    def reached() -> bool:
        seen.append(workers.counted("w1"))
        return seen[-1] == n

    try:
        wait_until(reached, START_TIMEOUT, f"w1 to count {n} events")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; counted {seen[-3:]}; {workers.status('w1')['stats']}"
                             ) from None


# `make test` kills at the pause inside a snapshot's parts (the other points are covered
# without timing by tests/unit/streams/test_retention_snapshots.py); `make faults` at all three.
PAUSES = (["between_parts", "before_tombstones", "between_tombstones"]
          if os.environ.get("ANTT_FAULT_LONG") else ["between_parts"])


@pytest.mark.faults
@pytest.mark.parametrize("pause", PAUSES)
def test_kill_9_during_a_snapshot_then_restart_counts_exactly(
    workers: Workers, live_settings: Settings, pause: str
) -> None:
    rng = random.Random(46)
    now = datetime.now(UTC)
    events = streams_gen.scenario(rng, now, PROVINCES, n_incidents=700)
    old, new = window_phases(events, now - timedelta(days=62))
    new_recs = streams_gen.records(new, rng, max_batch=30)
    half = len(new_recs) // 2
    # 1. history, counted by a worker that does not snapshot yet (its chunks only)
    workers.extra_env = {"ANTT_WORKER_SNAPSHOT_EVERY_CHUNKS": "0"}
    workers.start("w1")
    old_recs = streams_gen.records(old, rng, max_batch=30)
    produce(live_settings, old_recs)
    wait_counted(workers, distinct(old))
    wait_until(lambda: sum(committed_offsets(live_settings).values()) == len(old_recs),
               START_TIMEOUT, "the history checkpointed and committed")
    workers.signal("w1", signal.SIGTERM)
    # 2. snapshots on: the first one stops at `pause`; kill -9 there
    workers.extra_env = {**SNAPSHOTS, "ANTT_WORKER_SNAPSHOT_PAUSE": pause}
    workers.start("w1")
    produce(live_settings, new_recs[: half // 2])
    wait_until(lambda: workers.status("w1")["stats"]["chunks_written"], START_TIMEOUT,
               "a checkpoint")
    produce(live_settings, new_recs[half // 2 : half])
    wait_until(lambda: workers.status("w1")["stats"].get("snapshot_paused"), START_TIMEOUT,
               f"a snapshot paused at {pause}")
    workers.signal("w1", signal.SIGKILL)
    # 3. restart; the rest, and resends of the history (now outside the window)
    workers.extra_env = dict(SNAPSHOTS)
    port = workers.start("w1")
    produce(live_settings, new_recs[half:] + streams_gen.records(old[:200], rng))
    wait_counted(workers, distinct(old + new))
    check_truth(port, old + new, PROVINCES)
    assert workers.status("w1")["stats"]["restored_facts"] > 0
    # A province snapshots only when a flush of its partition finds one due, so a province
    # whose records all landed in one flush would wait for traffic: resend one of its records
    # (a duplicate, counted once) every 2 s until every province has settled.
    resends = [next(r for r in new_recs if r[0] == code.encode()) for code in PROVINCES]
    nudged = [0.0]

    def settled_with_traffic() -> bool:
        if time.monotonic() - nudged[0] > 2:
            produce(live_settings, resends)
            nudged[0] = time.monotonic()
        return settled(live_settings)

    try:
        wait_until(settled_with_traffic, 30,
                   "a snapshot of every province and its superseded keys tombstoned")
    except AssertionError:
        stored = checkpoint.scan(changelog_latest(live_settings).items(), set(range(64)))
        left = {p: (s.manifest, s.superseded(p)) for p, s in stored.items()}
        order = [(k, v if v is None else len(v)) for k, v in changelog_records(live_settings)]
        raise AssertionError(f"{left}; changelog: {order}") from None
    latest = changelog_latest(live_settings)
    assert sum(v is None for v in latest.values()) >= 3  # chunks and old parts tombstoned
    # 4. a plain restart restores from the snapshots: fewer facts than were counted
    workers.signal("w1", signal.SIGTERM)
    port = workers.start("w1")
    wait_counted(workers, distinct(old + new))
    check_truth(port, old + new, PROVINCES)
    restored = workers.status("w1")["stats"]["restored_facts"]
    assert 0 < restored < distinct(old + new) - distinct(old) // 4, restored


def settled(settings: Settings) -> bool:
    """Every province has a snapshot, and no live changelog key is superseded by one."""
    latest = changelog_latest(settings)
    stored = checkpoint.scan(((k, v) for k, v in latest.items()), set(range(64)))
    if set(stored) != set(PROVINCES) or not all(s.manifest for s in stored.values()):
        return False
    return not [key for province, s in stored.items() for key in s.superseded(province)]
