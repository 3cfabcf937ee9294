"""Shared by the live-API-while-busy tests (snapshot, restore): a big province's history,
an API poller, and the first step of both (the history counted and checkpointed)."""

from __future__ import annotations

import random
import signal
import threading
import time
from datetime import datetime, timedelta

import orjson
from streams_harness import Workers, committed_offsets, get_json, produce, wait_until

from antt.settings import Settings
from schemas.examples import make_event
from schemas.units import communes_of

DAYS, PER_DAY = 150, 1600  # about 290,000 events of province 01, most older than the window
START_TIMEOUT = 120


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


class ApiPoller(threading.Thread):
    """Asks the live API for the national page again and again; keeps every answer
    (asked at (epoch s), seconds, HTTP status). No answer at all (the web server not up
    yet) is not kept."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.answers: list[tuple[float, float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            asked = time.time()
            try:
                status, _ = get_json(self.port, "/api/v1/live/national")
            except OSError:
                time.sleep(0.05)
                continue
            self.answers.append((asked, time.time() - asked, status))
            time.sleep(0.01)


def checkpoint_history(workers: Workers, settings: Settings, events: list[dict]
                       ) -> list[tuple[bytes, bytes]]:
    """The history as records of 1000 events, counted and checkpointed by worker ``w1``
    without snapshots (a snapshot moves the acceptance horizon: the rest of the history
    would be refused), then stopped. Returns the records."""
    records = [(b"01", orjson.dumps(events[i : i + 1000])) for i in range(0, len(events), 1000)]
    workers.extra_env = {"ANTT_ACCEPTANCE_WINDOW_DAYS": "62",
                         "ANTT_WORKER_SNAPSHOT_EVERY_CHUNKS": "0"}
    workers.start("w1")
    produce(settings, records)
    wait_until(lambda: workers.counted("w1") == len(events), START_TIMEOUT,
               f"w1 to count {len(events)} events")
    wait_until(lambda: sum(committed_offsets(settings).values()) == len(records),
               START_TIMEOUT, "the history checkpointed and committed")
    workers.signal("w1", signal.SIGTERM)
    return records
