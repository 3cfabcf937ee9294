"""Counting logic against the independent ground truth, without Kafka."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import orjson
import pytest
import streams_gen
import streams_truth

from schemas import units
from schemas.examples import make_event
from streams.logic.calendar import LocalCalendar
from streams.logic.render import render
from streams.logic.view import province_summary
from streams.runtime import Runtime

ICT = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=ICT)
PROVINCES = ["01", "79", "48"]


def feed(runtime: Runtime, recs, now: datetime = NOW, first_offset: int = 0):
    """Records -> runtime, province partition = index in PROVINCES; returns dead letters."""
    letters = []
    for offset, (key, value) in enumerate(recs, start=first_offset):
        partition = PROVINCES.index(key.decode()) if key and key.decode() in PROVINCES else 0
        letters += runtime.process(value, key, partition, offset, now.timestamp()).dead_letters
    return letters


def api(runtime: Runtime, scope: str, code: str | None = None, now: datetime = NOW):
    as_of = now.timestamp()
    summaries = {
        c: province_summary(s, as_of, detail=(scope == "province" and c == code))
        for c, s in runtime.states.items()
    }
    kids = (
        [(c, units.commune_name(c)) for c in units.communes_of(code)]
        if scope == "province" else [(p, units.province_name(p)) for p in units.PROVINCES]
    )
    return render(scope, code, summaries, as_of, runtime.cal, kids)


def new_runtime() -> Runtime:
    return Runtime(LocalCalendar(), "antt.events.v1")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_figures_match_ground_truth(seed: int) -> None:
    rng = random.Random(seed)
    events = streams_gen.scenario(rng, NOW, PROVINCES, n_incidents=300)
    runtime = new_runtime()
    assert feed(runtime, streams_gen.records(events, rng)) == []
    national = api(runtime, "national")
    assert streams_truth.compare(national, streams_truth.figures(events, NOW)) == []
    assert national["freshness"]["events_counted"] == len({e["event_id"] for e in events})
    for code in PROVINCES:
        got = api(runtime, "province", code)
        assert streams_truth.compare(got, streams_truth.figures(events, NOW, province=code)) == []
        child = next(c for c in national["children"] if c["code"] == code)
        assert child["periods"] == got["periods"]


def test_resent_records_count_once_and_order_does_not_matter() -> None:
    rng = random.Random(7)
    events = streams_gen.scenario(rng, NOW, PROVINCES, n_incidents=150)
    recs = streams_gen.records(events, rng)
    once = new_runtime()
    feed(once, recs)
    twice = new_runtime()
    feed(twice, recs)
    reordered = list(reversed(recs))
    feed(twice, reordered, first_offset=len(recs))  # new offsets: real resends
    assert api(twice, "national") == api(once, "national")


def test_restore_from_chunks_then_replay_skips_applied_positions() -> None:
    rng = random.Random(11)
    events = streams_gen.scenario(rng, NOW, PROVINCES, n_incidents=200)
    recs = streams_gen.records(events, rng)
    half = len(recs) // 2
    first = new_runtime()
    feed(first, recs[:half])
    table = {}
    for partition in range(len(PROVINCES)):
        for chunk in first.take_chunks(partition, NOW.timestamp()):
            table[chunk.key] = chunk.encode()
    feed(first, recs[half:], first_offset=half)  # processed but never checkpointed: "crash"
    restored = new_runtime()
    restored.restore(set(range(len(PROVINCES))), table.items(), NOW.timestamp())
    feed(restored, recs, first_offset=0)  # replay from the start: first half is skipped
    assert api(restored, "national") == api(first, "national")
    assert streams_truth.compare(api(restored, "national"),
                                 streams_truth.figures(events, NOW)) == []


def test_malformed_records_are_dead_lettered_and_valid_ones_counted() -> None:
    recs, valid, n_letters = streams_gen.malformed(NOW)
    runtime = new_runtime()
    letters = [orjson.loads(x) for x in feed(runtime, recs)]
    assert len(letters) == n_letters
    assert all(x["reason"] and x["source"]["topic"] == "antt.events.v1" for x in letters)
    assert {x["source"]["offset"] for x in letters} == set(range(len(recs)))
    assert api(runtime, "national")["freshness"]["events_counted"] == len(valid)


@pytest.mark.parametrize("value", [b"{not json", b"\xff\xfe", b"[" * 5000])
def test_a_refused_record_is_dead_lettered_once_with_the_validators_reason(value: bytes) -> None:
    runtime = new_runtime()
    letters = [orjson.loads(x) for x in feed(runtime, [(b"01", value)])]
    assert len(letters) == 1
    assert letters[0]["index"] is None
    assert not letters[0]["reason"].startswith("internal error"), letters[0]["reason"]


def test_future_time_rule_uses_the_records_timestamp_like_the_sink() -> None:
    """recorded_at 10 min after the record was produced: refused, even though the worker
    reads it an hour later (its wall clock alone would accept it)."""
    produced = NOW - timedelta(hours=1)
    event = make_event("report_received", occurred_at=produced + timedelta(minutes=9))
    assert datetime.fromisoformat(event["recorded_at"]) > produced + timedelta(seconds=300)
    runtime = new_runtime()
    value = orjson.dumps([event])
    late = runtime.process(value, b"01", 0, 0, NOW.timestamp(),
                           record_ts=produced.timestamp())
    assert late.accepted == 0 and len(late.dead_letters) == 1
    assert "future" in orjson.loads(late.dead_letters[0])["reason"]
    on_time = new_runtime().process(value, b"01", 0, 0, NOW.timestamp(),
                                    record_ts=(produced + timedelta(minutes=10)).timestamp())
    assert on_time.accepted == 1


def test_overdue_follows_the_clock() -> None:
    runtime = new_runtime()
    received = make_event("report_received", occurred_at=NOW - timedelta(days=15),
                          recorded_at=NOW - timedelta(days=15))
    feed(runtime, [(b"01", orjson.dumps(received))])
    assert api(runtime, "national")["backlog"] == {"open": 1, "overdue": 0}
    later = NOW + timedelta(days=6)  # due date (received + 20 days) has passed
    assert api(runtime, "national", now=later)["backlog"] == {"open": 1, "overdue": 1}


def test_resolution_before_its_report_and_correction_before_its_original() -> None:
    runtime = new_runtime()
    at = NOW - timedelta(days=3)
    report = make_event("report_received", occurred_at=at, crime_group="drugs")
    resolved = make_event("report_resolved", incident_id=report["incident_id"],
                          occurred_at=at + timedelta(days=1))
    fix = dict(report, event_id=make_event("report_triaged")["event_id"],
               corrects_event_id=report["event_id"], crime_group="property")
    feed(runtime, [(b"01", orjson.dumps([resolved])), (b"01", orjson.dumps([fix])),
                   (b"01", orjson.dumps([report]))])
    month = api(runtime, "national")["periods"]["month"]["figures"]
    assert month["received"] == 1 and month["resolved"] == 1
    assert month["resolved_on_time"] == 1
    assert month["by_crime_group"]["property"] == {"received": 1, "resolved": 1, "cleared": 0}
    assert month["by_crime_group"]["drugs"]["received"] == 0
    assert api(runtime, "national")["backlog"]["open"] == 0


def test_statistical_month_and_periods() -> None:
    cal = LocalCalendar(stat_month_start_day=15)
    p = cal.periods(datetime(2026, 11, 22, 10, tzinfo=ICT).timestamp())
    assert p["stat_month"].as_json() == {"start": "2026-11-15", "end": "2026-12-14"}
    p = cal.periods(datetime(2026, 1, 3, 0, 30, tzinfo=ICT).timestamp())
    assert p["stat_month"].as_json() == {"start": "2025-12-15", "end": "2026-01-14"}
    assert p["ytd"].as_json() == {"start": "2026-01-01", "end": "2026-01-03"}
    assert p["today"].as_json()["start"] == "2026-01-03"  # local date, not UTC (Jan 2)


def test_chunks_split_and_carry_the_watermark() -> None:
    from streams import checkpoint

    facts = [(i * 1024, f"e{i}") for i in range(4500)]
    chunks = checkpoint.make_chunks(2, "01", 7, facts, wm=99_999_999)
    assert [c.seq for c in chunks] == [7, 8, 9]
    assert [len(c.facts) for c in chunks] == [2000, 2000, 500]
    assert chunks[0].wm == facts[1999][0] and chunks[-1].wm == 99_999_999
    assert checkpoint.parse_key(chunks[1].key) == (2, "01", 8)
    assert checkpoint.make_chunks(2, "01", 0, [], wm=5)[0].facts == []


@pytest.mark.parametrize("seed", [4, 5])
def test_days_of_the_month_match_an_independent_count(seed: int) -> None:
    rng = random.Random(seed)
    events = streams_gen.scenario(rng, NOW, PROVINCES, n_incidents=300)
    runtime = new_runtime()
    assert feed(runtime, streams_gen.records(events, rng)) == []
    for scope, code in (("national", None), ("provinces", None), ("province", "79")):
        got = api(runtime, scope, code)
        want = streams_truth.figures(events, NOW, province=code)["days"]
        assert [d["date"] for d in got["days"]][0] == "2026-11-01"
        assert got["days"][-1]["date"] == "2026-11-22" and len(got["days"]) == 22
        assert got["days"] == want
        month = got["periods"]["month"]["figures"]
        assert sum(d["received"] for d in got["days"]) == month["received"] > 0
        assert sum(d["resolved"] for d in got["days"]) == month["resolved"] > 0


def test_applied_through_is_the_checkpointed_position_of_each_partition() -> None:
    """What a worker taking over a partition expects next: one past what its state holds."""
    rng = random.Random(5)
    events = streams_gen.scenario(rng, NOW, PROVINCES, n_incidents=50)
    recs = [r for r in streams_gen.records(events, rng) if r[0] == b"79"]
    first = new_runtime()
    assert first.applied_through(PROVINCES.index("79")) == -1
    feed(first, recs, first_offset=40)
    partition = PROVINCES.index("79")
    assert first.applied_through(partition) == 40 + len(recs) - 1
    assert first.applied_through(PROVINCES.index("01")) == -1
    table = {c.key: c.encode() for c in first.take_chunks(partition, NOW.timestamp())}
    taken_over = new_runtime()
    taken_over.restore({partition}, table.items(), NOW.timestamp())
    assert taken_over.applied_through(partition) == 40 + len(recs) - 1
