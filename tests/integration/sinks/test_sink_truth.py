"""ClickHouse figures equal the simulator's independent ground truth on a simulated stream
with duplicates, corrections, late and out-of-order events and malformed input."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from sink_helpers import caught_up, running_sink, wait_until

from antt.settings import Settings
from ingest.simulate import Knobs, generate
from ingest.simulate.compare import compare
from ingest.simulate.run import send_kafka
from schemas import rules
from sinks.figures import backlog, period_figures

pytestmark = pytest.mark.integration


def _clickhouse_answer(ch, settings: Settings, truth: dict, province: str | None) -> dict:
    periods = {}
    for name, period in truth["periods"].items():
        start, end = date.fromisoformat(period["start"]), date.fromisoformat(period["end"])
        periods[name] = {"start": period["start"], "end": period["end"],
                         "figures": period_figures(ch, settings.clickhouse_database, start, end,
                                                   settings.timezone, province)}
    return {"periods": periods}


async def test_clickhouse_equals_ground_truth(sink_settings: Settings, ch) -> None:
    now = datetime.now(UTC)
    knobs = Knobs(duplicates=0.05, out_of_order=0.05, late=0.05, malformed=0.02,
                  corrections=0.04)
    sim = generate(7, n_events=4000, knobs=knobs, now=now,
                   stat_start_day=sink_settings.statistical_month_start_day)
    sent = await asyncio.to_thread(send_kafka, sink_settings, sim.records, rate=None)
    assert sent.failed_records == 0
    async with running_sink(sink_settings) as sink:
        await wait_until(lambda: caught_up(sink, sink_settings), 120, "the stream stored")
        assert sink.stats.duplicates > 0 and sink.stats.retracted > 0
    today = rules.local_date(now)
    national = sim.truth["national"]
    diffs = compare({"periods": national["periods"], "backlog": national["backlog"]},
                    {**_clickhouse_answer(ch, sink_settings, national, None),
                     "backlog": backlog(ch, sink_settings.clickhouse_database, today)})
    for code, answer in sim.truth["provinces"].items():
        actual = _clickhouse_answer(ch, sink_settings, answer, code)
        actual["backlog"] = backlog(ch, sink_settings.clickhouse_database, today, code)
        diffs += compare({"periods": answer["periods"], "backlog": answer["backlog"]}, actual,
                         f"provinces.{code}")
    assert not diffs, "\n".join(diffs[:40])
    fast = ch.query("SELECT sum(received), sum(resolved), sum(instituted), sum(cleared) "
                    "FROM official_monthly_province").result_rows
    grain = ch.query("SELECT sumIf(events, metric = 'received'), "
                     "sumIf(events, metric = 'resolved'), "
                     "sumIf(events, metric = 'resolved' AND detail = 'institute'), "
                     "sumIf(events, metric = 'cleared') FROM metrics_daily").result_rows
    assert fast == grain
    meta = sim.truth["meta"]
    stored = int(ch.command("SELECT count() FROM events_raw"))
    assert stored == meta["distinct_valid_events"]
