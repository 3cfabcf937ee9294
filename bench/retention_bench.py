"""State retention: live checkpoint keys, kept facts and restore time as history grows.

One in-process worker runtime (``streams.runtime.Runtime``, validation included; a dict
stands in for the compacted changelog: a tombstone deletes its key) is fed simulated days of
one province: each day new crime reports (triaged, most resolved 2-40 days later) and
administrative sanctions, recorded that day, processed at the end of the day, checkpointed
every ``--chunk`` events. Every ``--report-every`` days it prints, with retention (acceptance
window 62 days, snapshot every 50 chunks) and without (the old behaviour, in the same run):
live changelog keys, bytes, facts held in memory, and the time to restore the province from
the table (median of 3).

    python bench/retention_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import datetime, timedelta, timezone

import orjson

from schemas.examples import make_event
from schemas.units import communes_of
from streams.logic.calendar import LocalCalendar
from streams.runtime import Runtime
from streams.snapshots import Policy

ICT = timezone(timedelta(hours=7))
START = datetime(2025, 6, 1, tzinfo=ICT)


class Sim:
    def __init__(self, policy: Policy | None, chunk: int):
        self.runtime = Runtime(LocalCalendar(), "antt.events.v1", policy=policy)
        self.table: dict[str, bytes] = {}
        self.offset = 0
        self.chunk = chunk

    def feed(self, events: list[dict], now: float) -> None:
        for i in range(0, len(events), self.chunk):
            for j in range(i, min(i + self.chunk, len(events)), 500):
                value = orjson.dumps(events[j : min(j + 500, i + self.chunk, len(events))])
                self.runtime.process(value, b"01", 0, self.offset, now)
                self.offset += 1
            for c in self.runtime.take_chunks(0, now):
                self.table[c.key] = c.encode()
            for s in self.runtime.take_snapshots(0, now):
                for key, value in [*s.parts, s.manifest]:
                    self.table[key] = value
                for key in s.tombstones:
                    self.table.pop(key, None)

    def figures(self, now: float) -> tuple[int, int, int, float]:
        kept = len(self.runtime.states["01"].registry)
        times = []
        for _ in range(3):
            fresh = Runtime(LocalCalendar(), "antt.events.v1", policy=self.runtime.retention.policy)
            started = time.perf_counter()
            fresh.restore({0}, self.table.items(), now)
            times.append(time.perf_counter() - started)
        return len(self.table), sum(map(len, self.table.values())), kept, statistics.median(times)


def day_events(rng: random.Random, day: datetime, per_day: int, due: dict) -> list[dict]:
    communes = communes_of("01")[:60]
    out = due.pop(day.date(), [])
    for _ in range(per_day // 4):
        at = day + timedelta(seconds=rng.randint(0, 80_000))
        commune = rng.choice(communes)
        recv = make_event("report_received", commune_code=commune, occurred_at=at,
                          recorded_at=at + timedelta(minutes=5))
        iid = recv["incident_id"]
        out.append(recv)
        out.append(make_event("report_triaged", commune_code=commune, incident_id=iid,
                              occurred_at=at + timedelta(minutes=30),
                              recorded_at=at + timedelta(minutes=35)))
        if rng.random() < 0.85:
            later = at + timedelta(days=rng.randint(2, 40))
            due.setdefault(later.date(), []).append(make_event(
                "report_resolved", commune_code=commune, incident_id=iid, occurred_at=later,
                recorded_at=later + timedelta(minutes=5)))
        for _ in range(2):
            out.append(make_event("admin_violation_sanctioned", commune_code=commune,
                                  occurred_at=at, recorded_at=at + timedelta(minutes=5)))
    return [e for e in out if e["recorded_at"] < (day + timedelta(days=1)).isoformat()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--days", type=int, default=240)
    ap.add_argument("--per-day", type=int, default=4000)
    ap.add_argument("--chunk", type=int, default=2000)
    ap.add_argument("--report-every", type=int, default=30)
    args = ap.parse_args()
    if args.quick:
        args.days, args.per_day = 150, 1000
    rng = random.Random(1)
    kept = Sim(Policy(window_days=62, every_chunks=50, min_facts=50_000), args.chunk)
    plain = Sim(None, args.chunk)
    due: dict = {}
    print(f"one province, ~{args.per_day} events/day, checkpoint every {args.chunk} events, "
          f"{args.days} days; restore = median of 3 (other work may load the CPU)")
    print(f"{'day':>4} {'events':>9} | {'keys':>6} {'MB':>6} {'in mem':>8} {'restore s':>9} | "
          f"{'keys':>6} {'MB':>6} {'in mem':>8} {'restore s':>9}   (retention | none)")
    total = 0
    for d in range(args.days):
        day = START + timedelta(days=d)
        events = day_events(rng, day, args.per_day, due)
        total += len(events)
        now = (day + timedelta(days=1)).timestamp()
        kept.feed(events, now)
        plain.feed(events, now)
        if (d + 1) % args.report_every == 0:
            a, b = kept.figures(now), plain.figures(now)
            print(f"{d + 1:>4} {total:>9} | {a[0]:>6} {a[1] / 1e6:>6.1f} {a[2]:>8} {a[3]:>9.3f} | "
                  f"{b[0]:>6} {b[1] / 1e6:>6.1f} {b[2]:>8} {b[3]:>9.3f}")


if __name__ == "__main__":
    main()
