"""Simulated live events for the screen tests and benchmark: current events, sent to Kafka.

Each tick sends, for a few random provinces, one record per province (a JSON array of that
province's events, key = province code, the wire format of docs/architecture.md): new reports,
resolutions of earlier ones, clearances, apprehensions and administrative sanctions, all
happening "now", so today's figures and the freshness indicator move.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from kafka import KafkaProducer

from antt.kafka import client_config
from antt.settings import Settings
from schemas import units
from schemas.examples import make_event


class EventFeed:
    """Generates batches of valid current events; :meth:`run_in_background` sends them."""

    def __init__(self, settings: Settings, *, seed: int = 1, provinces_per_tick: int = 4,
                 tick_s: float = 0.25) -> None:
        self.settings = settings
        self.rng = random.Random(seed)
        self.provinces_per_tick = provinces_per_tick
        self.tick_s = tick_s
        self.open: dict[str, list[str]] = {}
        self.sent_events = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: KafkaProducer | None = None
        self.error: BaseException | None = None

    def batch(self, province: str, now: datetime) -> list[dict[str, Any]]:
        """One province's events of one tick (times: occurred 2 s ago, recorded 1 s ago)."""
        rng = self.rng
        communes = units.communes_of(province)
        at = {"occurred_at": now - timedelta(seconds=2), "recorded_at": now - timedelta(seconds=1)}
        events = []
        pending = self.open.setdefault(province, [])
        for _ in range(rng.randint(1, 4)):
            ev = make_event("report_received", commune_code=rng.choice(communes), **at)
            pending.append(ev["incident_id"])
            events.append(ev)
        for _ in range(min(len(pending) - 1, rng.randint(0, 3))):
            incident = pending.pop(0)
            events.append(make_event("report_resolved", commune_code=rng.choice(communes),
                                     incident_id=incident,
                                     decision=rng.choice(["institute", "decline"]), **at))
        if rng.random() < 0.5:
            events.append(make_event("offence_cleared", commune_code=rng.choice(communes),
                                     suspects_count=rng.randint(1, 3), **at))
            events.append(make_event("suspects_apprehended", commune_code=rng.choice(communes),
                                     count=rng.randint(1, 3), **at))
        if rng.random() < 0.5:
            events.append(make_event("admin_violation_sanctioned",
                                     commune_code=rng.choice(communes), **at))
        return events

    def send_tick(self) -> int:
        """Send one tick's records now; returns the number of events sent."""
        if self._producer is None:
            self._producer = KafkaProducer(**client_config(self.settings), linger_ms=5, acks=1)
        now = datetime.now(UTC)
        sent = 0
        for province in self.rng.sample(units.PROVINCES, self.provinces_per_tick):
            events = self.batch(province, now)
            self._producer.send(self.settings.events_topic, key=province.encode(),
                                value=orjson.dumps(events))
            sent += len(events)
        self._producer.flush(10)
        self.sent_events += sent
        return sent

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                self.send_tick()
                self._stop.wait(max(0.0, self.tick_s - (time.monotonic() - started)))
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def run_in_background(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="event-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        if self.error is not None:
            raise AssertionError(f"event feed failed: {self.error!r}") from self.error

    def close(self) -> None:
        self.stop()
        if self._producer is not None:
            self._producer.close(5)
            self._producer = None
