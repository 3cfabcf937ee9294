"""State retention without Kafka: eviction, snapshots, tombstones, and restores after a crash
at every point of a snapshot, against the independent ground truth and a worker that keeps
every fact."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
import streams_gen
import streams_truth
from streams_harness import window_phases

from schemas import units
from streams.letters import OUTSIDE_WINDOW
from streams.logic.calendar import LocalCalendar
from streams.logic.render import render
from streams.logic.view import province_summary
from streams.runtime import Runtime
from streams.snapshots import Policy, SnapshotWrite

ICT = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=ICT)
PROVINCES = ["01", "79", "48"]
WINDOW_DAYS = 62
POLICY = Policy(window_days=WINDOW_DAYS, every_chunks=3, min_facts=10**9, part_bytes=3000)


def api(runtime: Runtime, scope: str, code: str | None = None) -> dict[str, Any]:
    as_of = NOW.timestamp()
    summaries = {c: province_summary(s, as_of, detail=(scope == "province" and c == code))
                 for c, s in runtime.states.items()}
    kids = ([(c, units.commune_name(c)) for c in units.communes_of(code)]
            if scope == "province" else [(p, units.province_name(p)) for p in units.PROVINCES])
    return render(scope, code, summaries, as_of, runtime.cal, kids)


def answers(runtime: Runtime) -> list[dict[str, Any]]:
    return [api(runtime, "national")] + [api(runtime, "province", c) for c in PROVINCES]


class Worker:
    """A Runtime plus a dict standing in for the changelog (writes applied in order)."""

    def __init__(self, policy: Policy | None = POLICY):
        self.runtime = Runtime(LocalCalendar(), "antt.events.v1", policy=policy)
        self.table: dict[str, bytes] = {}
        self.log: list[tuple[str, bytes | None]] = []  # every changelog write, in order
        self.offset: dict[int, int] = {}
        self.letters: list[dict[str, Any]] = []

    def feed(self, recs: list[Rec], flush_every: int = 4) -> None:
        """Records in order, each processed at its own clock reading."""
        now = NOW.timestamp()
        for i, (key, value, now) in enumerate(recs):
            partition = PROVINCES.index(key.decode())
            offset = self.offset.get(partition, 0)
            self.offset[partition] = offset + 1
            result = self.runtime.process(value, key, partition, offset, now)
            self.letters += [orjson.loads(x) for x in result.dead_letters]
            if i % flush_every == flush_every - 1:
                self.flush(now)
        self.flush(now)

    def flush(self, now: float) -> None:
        for partition in range(len(PROVINCES)):
            for chunk in self.runtime.take_chunks(partition, now):
                self.write(chunk.key, chunk.encode())
            for snap in self.runtime.take_snapshots(partition, now):
                for key, value in writes(snap):
                    self.write(key, value)

    def write(self, key: str, value: bytes | None) -> None:
        self.log.append((key, value))
        if value is None:
            self.table.pop(key, None)
        else:
            self.table[key] = value


def writes(snap: SnapshotWrite) -> list[tuple[str, bytes | None]]:
    return [*snap.parts, snap.manifest, *((k, None) for k in snap.tombstones)]


def table_after(log: list[tuple[str, bytes | None]], n: int) -> dict[str, bytes]:
    table: dict[str, bytes] = {}
    for key, value in log[:n]:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return table


Rec = tuple[bytes, bytes, float]


def as_sent(events: list[dict], rng: random.Random) -> list[Rec]:
    """Records in the order the events were recorded, each read just after its newest event
    was recorded (the clock moves: the acceptance horizon moves with it)."""
    by_time = sorted(events, key=lambda e: e["recorded_at"])
    out = []
    for key, value in streams_gen.records(by_time, random.Random(0), max_batch=6):
        data = orjson.loads(value)
        newest = max(e["recorded_at"] for e in (data if isinstance(data, list) else [data]))
        out.append((key, value, datetime.fromisoformat(newest).timestamp() + 1))
    out.sort(key=lambda r: r[2])
    return out


def at_now(events: list[dict], rng: random.Random) -> list[Rec]:
    """Records shuffled (out of order), all read now."""
    return [(k, v, NOW.timestamp()) for k, v in streams_gen.records(events, rng, max_batch=6)]


def scenario(seed: int) -> tuple[list[dict], list[dict], list[Rec]]:
    rng = random.Random(seed)
    events = streams_gen.scenario(rng, NOW, PROVINCES, n_incidents=400)
    old, new = window_phases(events, NOW - timedelta(days=WINDOW_DAYS))
    resent = rng.sample(old, k=len(old) // 10)  # resends after the window
    return old, new, as_sent(old, rng) + at_now(new + resent, rng)


@pytest.mark.parametrize("seed", [1, 2])
def test_evict_snapshot_restore_equals_all_facts_and_truth(seed: int) -> None:
    old, new, recs = scenario(seed)
    kept = Worker()
    kept.feed(recs)
    everything = Worker(policy=None)
    everything.feed(recs)
    stats = kept.runtime.stats
    assert stats["snapshots"] > 3 and stats["evicted_facts"] > len(old) // 3
    assert stats["tombstones"] > 0
    assert sum(len(s.registry) for s in kept.runtime.states.values()) < sum(
        len(s.registry) for s in everything.runtime.states.values()) - stats["evicted_facts"] // 2
    truth_events = old + new
    assert streams_truth.compare(api(kept.runtime, "national"),
                                 streams_truth.figures(truth_events, NOW)) == []
    for code in PROVINCES:
        assert streams_truth.compare(api(kept.runtime, "province", code),
                                     streams_truth.figures(truth_events, NOW, province=code)) == []
    assert answers(kept.runtime) == answers(everything.runtime)
    restored = Runtime(LocalCalendar(), "antt.events.v1", policy=POLICY)
    restored.restore(set(range(len(PROVINCES))), kept.table.items(), NOW.timestamp())
    assert answers(restored) == answers(everything.runtime)
    # a resend of an evicted fact is refused (never counted twice), with the reason
    refused = [x for x in kept.letters if x["reason"].startswith(OUTSIDE_WINDOW)]
    assert refused and stats["outside_window"] == len(refused)


def test_a_crash_at_every_point_of_a_snapshot_restores_exactly() -> None:
    old, new, recs = scenario(3)
    worker = Worker()
    worker.feed(recs)
    expected = answers(worker.runtime)
    log = worker.log
    snapshot_writes = [i for i, (key, _) in enumerate(log) if ":snap" in key]
    tombstones = [i for i, (_, value) in enumerate(log) if value is None]
    assert len(snapshot_writes) > 10 and tombstones
    points = sorted(set(snapshot_writes + tombstones))
    for n in points[:: max(1, len(points) // 25)] + [points[-1], len(log)]:
        table = table_after(log, n)
        restored = Worker()
        restored.runtime.restore(set(range(len(PROVINCES))), table.items(), NOW.timestamp())
        restored.feed(recs)  # the source is re-read from the start (offset 0)
        assert answers(restored.runtime) == expected, n


def test_the_live_key_count_stays_bounded_as_history_grows() -> None:
    rng = random.Random(9)
    worker = Worker(policy=Policy(window_days=WINDOW_DAYS, every_chunks=5, part_bytes=4000))
    plain = Worker(policy=None)
    live_keys = []
    for _ in range(6):
        events = streams_gen.scenario(rng, NOW, PROVINCES, n_incidents=150)
        old, _new = window_phases(events, NOW - timedelta(days=WINDOW_DAYS))
        recs = as_sent(old, rng)
        worker.feed(recs)
        plain.feed(recs)
        live_keys.append(len(worker.table))
    assert len(plain.table) > 3 * max(live_keys)
    assert max(live_keys[2:]) <= 2 * live_keys[1]  # flat, while plain's grows linearly
