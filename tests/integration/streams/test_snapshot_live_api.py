"""The live API keeps answering while the worker snapshots a big province (real broker, real
worker): the snapshot, with its eviction, is built in steps, not in one stall of the event
loop (docs/operations.md, "State retention")."""

from __future__ import annotations

import random
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from streams_harness import Workers, committed_offsets, get_json, produce, wait_until

from antt.settings import Settings
from schemas.examples import make_event
from schemas.units import communes_of

pytestmark = pytest.mark.integration
DAYS, PER_DAY = 150, 1600  # about 290,000 events of province 01, most older than the window
START_TIMEOUT = 120
MAX_GAP_S = 0.5  # built in one piece, this province's snapshot held every answer 1.9 s


def history(rng: random.Random, end: datetime) -> list[dict]:
    """Reports (received, triaged, most resolved 2-40 days later) and administrative
    sanctions of province 01, recorded over ``DAYS`` days before ``end``."""
    communes = communes_of("01")[:60]
    start = end - timedelta(days=DAYS)
    out = []
    for day in range(DAYS):
        for _ in range(PER_DAY // 4):
            at = start + timedelta(days=day, seconds=rng.randint(0, 80_000))
            commune = rng.choice(communes)
            recv = make_event("report_received", commune_code=commune, occurred_at=at,
                              recorded_at=at + timedelta(minutes=5))
            out.append(recv)
            iid = recv["incident_id"]
            out.append(make_event("report_triaged", commune_code=commune, incident_id=iid,
                                  occurred_at=at + timedelta(minutes=30),
                                  recorded_at=at + timedelta(minutes=35)))
            if rng.random() < 0.85:
                later = at + timedelta(days=rng.randint(2, 40))
                out.append(make_event("report_resolved", commune_code=commune,
                                      incident_id=iid, occurred_at=later,
                                      recorded_at=later + timedelta(minutes=5)))
            for k in range(2):
                out.append(make_event("admin_violation_sanctioned", commune_code=commune,
                                      occurred_at=at, recorded_at=at + timedelta(minutes=k)))
    limit = (end - timedelta(hours=1)).isoformat()
    return sorted((e for e in out if e["recorded_at"] < limit), key=lambda e: e["recorded_at"])


class Poller(threading.Thread):
    """Asks the live API for the national page again and again; keeps each answer's time."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.times: list[tuple[float, float]] = []  # (asked at (epoch s), seconds to answer)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            asked = time.time()
            try:
                status, _ = get_json(self.port, "/api/v1/live/national")
            except OSError:  # no answer within get_json's 5 s
                status = 0
            self.times.append((asked, time.time() - asked if status == 200 else 99.0))
            time.sleep(0.01)


def test_the_live_api_answers_while_a_big_province_snapshots(
    workers: Workers, live_settings: Settings
) -> None:
    now = datetime.now(UTC)
    events = history(random.Random(4), now)
    records = [(b"01", orjson.dumps(events[i : i + 1000])) for i in range(0, len(events), 1000)]
    # 1. the history, counted and checkpointed by a worker that does not snapshot
    workers.extra_env = {"ANTT_ACCEPTANCE_WINDOW_DAYS": "62",
                         "ANTT_WORKER_SNAPSHOT_EVERY_CHUNKS": "0"}
    workers.start("w1")
    produce(live_settings, records)
    wait_until(lambda: workers.counted("w1") == len(events), START_TIMEOUT,
               f"w1 to count {len(events)} events")
    wait_until(lambda: sum(committed_offsets(live_settings).values()) == len(records),
               START_TIMEOUT, "the history checkpointed and committed")
    workers.signal("w1", signal.SIGTERM)
    # 2. restart with snapshots on: restored (in one piece, before the poll starts), then the
    # next record's flush snapshots the province, evicting most of its facts
    workers.extra_env = {"ANTT_ACCEPTANCE_WINDOW_DAYS": "62",
                         "ANTT_WORKER_SNAPSHOT_EVERY_CHUNKS": "1"}
    port = workers.start("w1")
    wait_until(lambda: workers.counted("w1") == len(events), START_TIMEOUT, "the restore")
    assert workers.status("w1")["stats"]["snapshots"] == 0
    poller = Poller(port)
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
    slowest = sorted(poller.times, key=lambda x: -x[1])[:5]
    worst = slowest[0][1]
    shown = [(datetime.fromtimestamp(a, UTC).time().isoformat(), round(t * 1000))
             for a, t in slowest]
    print(f"{len(events)} events, {stats['evicted_facts']} evicted at the snapshot; "
          f"{len(poller.times)} answers, the slowest (asked at, ms): {shown}")
    assert worst < MAX_GAP_S, (worst, workers.tail("w1"))
