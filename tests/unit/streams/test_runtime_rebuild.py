"""A bug in the middle of a record (I6): the province is rebuilt without that record's facts,
so the live state equals one that never saw the record (what a restart would rebuild)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
import streams_gen

from streams.logic.calendar import LocalCalendar
from streams.logic.facts import F_POS, POS_STRIDE
from streams.logic.state import ProvinceState
from streams.logic.view import province_summary
from streams.runtime import Runtime

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone(timedelta(hours=7))).timestamp()


def feed(runtime: Runtime, recs: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    letters = []
    for offset, (key, value) in enumerate(recs):
        result = runtime.process(value, key, 0, offset, NOW)
        letters += [orjson.loads(x) for x in result.dead_letters]
    return letters


def test_a_half_applied_record_is_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    recs = streams_gen.records(streams_gen.scenario(rng, datetime.fromtimestamp(NOW).astimezone(),
                                                    ["01"], n_incidents=120), rng, max_batch=20)
    bad = max(range(len(recs)), key=lambda i: len(recs[i][1]))  # a large record
    original = ProvinceState.apply_many

    def buggy(self: ProvinceState, facts: list, now_ts: float) -> list:
        if any(f[F_POS] // POS_STRIDE == bad for f in facts):  # the bad record's offset
            original(self, facts[: len(facts) // 2], now_ts)  # half applied, then a bug
            raise RuntimeError("a bug")
        return original(self, facts, now_ts)

    monkeypatch.setattr(ProvinceState, "apply_many", buggy)
    runtime = Runtime(LocalCalendar(), "antt.events.v1")
    letters = feed(runtime, recs)
    assert [x["reason"] for x in letters] == ["internal error: RuntimeError: a bug"]
    assert runtime.stats["rebuilds"] == 1
    without = Runtime(LocalCalendar(), "antt.events.v1")
    feed(without, [r if i != bad else (r[0], b"[]") for i, r in enumerate(recs)])
    got, want = runtime.states["01"], without.states["01"]
    assert province_summary(got, NOW, detail=True) == province_summary(want, NOW, detail=True)
    assert set(got.registry) == set(want.registry)
