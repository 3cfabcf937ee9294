"""The live API keeps answering while the worker snapshots a big province (real broker, real
worker): the snapshot, with its eviction, is built in steps, not in one stall of the event
loop (docs/operations.md, "State retention")."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import orjson
import pytest
from live_api_helpers import START_TIMEOUT, ApiPoller, checkpoint_history, history
from streams_harness import Workers, produce, wait_until

from antt.settings import Settings
from schemas.examples import make_event
from schemas.units import communes_of

pytestmark = pytest.mark.integration
MAX_GAP_S = 0.5  # built in one piece, this province's snapshot held every answer 1.9 s


def test_the_live_api_answers_while_a_big_province_snapshots(
    workers: Workers, live_settings: Settings
) -> None:
    now = datetime.now(UTC)
    events = history(random.Random(4), now)
    # 1. the history, counted and checkpointed by a worker that does not snapshot
    checkpoint_history(workers, live_settings, events)
    # 2. restart with snapshots on: restored (in one piece, before the poll starts), then the
    # next record's flush snapshots the province, evicting most of its facts
    workers.extra_env = {"ANTT_ACCEPTANCE_WINDOW_DAYS": "62",
                         "ANTT_WORKER_SNAPSHOT_EVERY_CHUNKS": "1"}
    port = workers.start("w1")
    wait_until(lambda: workers.counted("w1") == len(events), START_TIMEOUT, "the restore")
    assert workers.status("w1")["stats"]["snapshots"] == 0
    poller = ApiPoller(port)
    poller.start()
    time.sleep(0.5)
    fresh = [make_event("admin_violation_sanctioned", commune_code=communes_of("01")[0],
                        occurred_at=now, recorded_at=now)]
    produce(live_settings, [(b"01", orjson.dumps(fresh))])
    stats = wait_until(lambda: (s := workers.status("w1")["stats"])["snapshots"] and s,
                       START_TIMEOUT, "the snapshot")
    time.sleep(0.5)
    poller.stop.set()
    poller.join(timeout=10)
    assert workers.counted("w1") == len(events) + 1
    assert stats["evicted_facts"] > len(events) // 3, stats
    answers = poller.answers
    assert answers and {status for _, _, status in answers} == {200}
    slowest = sorted(answers, key=lambda x: -x[1])[:5]
    worst = slowest[0][1]
    shown = [(datetime.fromtimestamp(a, UTC).time().isoformat(), round(t * 1000))
             for a, t, _ in slowest]
    print(f"{len(events)} events, {stats['evicted_facts']} evicted at the snapshot; "
          f"{len(answers)} answers, the slowest (asked at, ms): {shown}")
    assert worst < MAX_GAP_S, (worst, workers.tail("w1"))
