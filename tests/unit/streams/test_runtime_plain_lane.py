"""The worker's plain lane (streams/lane.py: schemas/plain.py + facts.plain_fact) changes
nothing it decides: the same stream through a runtime whose lane is switched off gives the
same results, dead letters, facts and figures. And ordinary records do take the lane."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
import streams_gen

import streams.runtime
from streams.logic.calendar import LocalCalendar
from streams.logic.view import province_summary
from streams.runtime import Runtime

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone(timedelta(hours=7)))


Record = tuple[int, bytes | None, bytes | None]


def _stream() -> list[Record]:
    """Out of order, resent and corrected events of three provinces, bad records, all of it
    sent again (duplicates), then the first half re-read at its offsets (a replay after a
    restart: positions at or below the watermark)."""
    rng = random.Random(11)
    events = streams_gen.scenario(rng, NOW, ["01", "79", "48"], n_incidents=400)
    recs: list[tuple[bytes | None, bytes | None]] = list(streams_gen.records(events, rng))
    bad, _, _ = streams_gen.malformed(NOW)
    sent = [(offset, *rec) for offset, rec in enumerate(recs + bad + recs)]
    return sent + sent[: len(sent) // 2]


def _run(stream: list[Record]) -> tuple[Runtime, list[Any]]:
    runtime = Runtime(LocalCalendar(), "antt.events.v1")
    results = []
    for offset, key, value in stream:
        result = runtime.process(value, key, 0, offset, NOW.timestamp())
        letters = [{k: v for k, v in orjson.loads(x).items() if k != "dead_lettered_at"}
                   for x in result.dead_letters]
        results.append((result.accepted, result.duplicates, result.skipped, letters))
    return runtime, results


def test_the_lane_changes_no_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _stream()
    taken: list[bool] = []
    lane = streams.runtime.lane_facts

    def counted(*args: Any, **kwargs: Any) -> Any:
        facts = lane(*args, **kwargs)
        taken.append(facts is not None)
        return facts

    monkeypatch.setattr(streams.runtime, "lane_facts", counted)
    fast, fast_results = _run(stream)
    assert sum(taken) > len(stream) // 2  # ordinary records take the lane
    monkeypatch.setattr(streams.runtime, "lane_facts", lambda *a, **k: None)
    slow, slow_results = _run(stream)

    assert fast_results == slow_results
    assert fast.stats == slow.stats
    now = NOW.timestamp()
    assert set(fast.states) == set(slow.states)
    for code in fast.states:
        got, want = fast.states[code], slow.states[code]
        assert got.registry == want.registry
        assert province_summary(got, now, detail=True) == province_summary(want, now, detail=True)
