"""A province whose records arrive on two partitions (C2): never silently dropped."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import orjson
import streams_gen
import streams_truth
from kafka.partitioner.default import murmur2 as kafka_murmur2

from schemas import units
from streams.letters import MISROUTED
from streams.logic.calendar import LocalCalendar
from streams.logic.render import render
from streams.logic.view import province_summary
from streams.runtime import Runtime, expected_partition

ICT = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=ICT)


def test_second_partition_of_a_province_is_dead_lettered_with_the_reason() -> None:
    rng = random.Random(5)
    events = streams_gen.scenario(rng, NOW, ["01"], n_incidents=40)
    recs = streams_gen.records(events, rng)
    runtime = Runtime(LocalCalendar(), "antt.events.v1")
    now = NOW.timestamp()
    on_home, elsewhere = recs[::2], recs[1::2]
    for offset, (key, value) in enumerate(on_home, start=100):
        assert runtime.process(value, key, 3, offset, now).dead_letters == []
    letters = []
    for offset, (key, value) in enumerate(elsewhere, start=7):  # lower offsets, other partition
        result = runtime.process(value, key, 5, offset, now)
        assert result.accepted == 0 and result.skipped == 0
        letters += [orjson.loads(x) for x in result.dead_letters]
    assert len(letters) == len(elsewhere)  # every such record is accounted for
    assert all(x["reason"].startswith(MISROUTED) and "partition 3" in x["reason"]
               and "ClickHouse" in x["reason"] for x in letters)
    assert {x["source"]["partition"] for x in letters} == {5}
    assert runtime.stats["misrouted"] == len(elsewhere)
    assert orjson.loads(letters[0]["raw"]) == orjson.loads(elsewhere[0][1])
    # the live figures are exactly those of the records on the home partition
    counted = [e for _, v in on_home for e in _events(v)]
    assert runtime.states["01"].events_counted == len({e["event_id"] for e in counted})
    truth = streams_truth.figures(counted, NOW, province="01")
    summary = {"01": province_summary(runtime.states["01"], now, detail=True)}
    page = render("province", "01", summary, now, runtime.cal,
                  [(c, units.commune_name(c)) for c in units.communes_of("01")])
    assert streams_truth.compare(page, truth) == []


def test_home_partition_survives_a_restore() -> None:
    runtime = Runtime(LocalCalendar(), "antt.events.v1")
    rng = random.Random(6)
    recs = streams_gen.records(streams_gen.scenario(rng, NOW, ["79"], n_incidents=30), rng,
                                 max_batch=5)
    key, value = recs[0]
    now = NOW.timestamp()
    runtime.process(value, key, 2, 0, now)
    table = {c.key: c.encode() for c in runtime.take_chunks(2, now)}
    restored = Runtime(LocalCalendar(), "antt.events.v1")
    restored.restore({2, 4}, table.items(), now)
    result = restored.process(recs[1][1], key, 4, 0, now)
    assert result.accepted == 0 and len(result.dead_letters) == 1
    assert restored.process(recs[1][1], key, 2, 1, now).accepted > 0


def _events(value: bytes) -> list[dict]:
    data = orjson.loads(value)
    return data if isinstance(data, list) else [data]


def test_with_a_known_partition_count_the_default_partitioner_decides() -> None:
    runtime = Runtime(LocalCalendar(), "antt.events.v1")
    runtime.partition_count = 6
    home = expected_partition(b"01", 6)
    assert home == (kafka_murmur2(b"01") & 0x7FFFFFFF) % 6  # kafka-python's own hash
    rng = random.Random(8)
    recs = streams_gen.records(streams_gen.scenario(rng, NOW, ["01"], n_incidents=10), rng)
    now = NOW.timestamp()
    stray = runtime.process(recs[0][1], b"01", (home + 2) % 6, 0, now)  # first to arrive
    assert stray.accepted == 0 and len(stray.dead_letters) == 1
    assert f"belongs to partition {home}" in orjson.loads(stray.dead_letters[0])["reason"]
    assert runtime.process(recs[0][1], b"01", home, 0, now).accepted > 0
