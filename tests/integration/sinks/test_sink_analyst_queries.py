"""Every example query of docs/analysts.md runs against the local ClickHouse, on a simulated
stream written by the sink, and the headline ones agree with the live-API figures."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sink_helpers import caught_up, running_sink, wait_until

from antt.kafka import ensure_topics
from antt.settings import Settings
from ingest.simulate import Knobs, generate
from ingest.simulate.run import send_kafka
from schemas import rules
from sinks.client import make_client
from sinks.figures import backlog, period_figures
from sinks.service import prepare_database

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[3] / "docs" / "analysts.md"


def doc_queries() -> list[tuple[str, str]]:
    """(title, sql) of every ```sql block, titled by the heading above it."""
    text = DOC.read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"^### (\d+\. .+?)$(.*?)^```sql\n(.*?)^```", text, re.M | re.S):
        found.append((match.group(1).strip(), match.group(3).strip()))
    return found


QUERIES = doc_queries()


def test_the_doc_has_at_least_ten_example_queries() -> None:
    assert len(QUERIES) >= 10


@pytest.fixture(scope="module")
def populated(stack: Settings) -> Settings:
    tag = uuid.uuid4().hex[:8]
    settings = stack.model_copy(update={
        "events_topic": f"antt.events.q{tag}.v1", "dlq_topic": f"antt.events.dlq.q{tag}.v1",
        "clickhouse_database": f"antt_q{tag}", "sink_group_id": f"antt-sink-q{tag}",
        "sink_batch_seconds": 0.3})
    ensure_topics(settings)
    prepare_database(settings)
    sim = generate(11, n_events=3000, now=datetime.now(UTC),
                   knobs=Knobs(duplicates=0.03, late=0.05, corrections=0.04),
                   stat_start_day=settings.statistical_month_start_day)
    assert send_kafka(settings, sim.records, rate=None).failed_records == 0

    async def drain() -> None:
        async with running_sink(settings) as sink:
            await wait_until(lambda: caught_up(sink, settings), 120, "stream stored")

    asyncio.run(drain())
    return settings


def _run(settings: Settings, sql: str) -> list[dict]:
    client = make_client(settings, database=settings.clickhouse_database)
    try:
        text = re.sub(r"\bantt\.", f"{settings.clickhouse_database}.", sql)
        return list(client.query(text).named_results())
    finally:
        client.close()


@pytest.mark.parametrize(("title", "sql"), QUERIES, ids=[t.split(".")[0] for t, _ in QUERIES])
def test_doc_query_answers(populated: Settings, title: str, sql: str) -> None:
    rows = _run(populated, sql)
    assert rows, f"{title}: no rows"


def test_monthly_national_rates_match_the_live_figures(populated: Settings) -> None:
    sql = dict(QUERIES)[next(t for t, _ in QUERIES if t.startswith("1."))]
    month = rules.month_period(rules.local_date(datetime.now(UTC)))
    rows = {r["month"]: r for r in _run(populated, sql)}
    client = make_client(populated, database=populated.clickhouse_database)
    try:
        live = period_figures(client, populated.clickhouse_database, month.start, month.end,
                              populated.timezone)
        now_backlog = backlog(client, populated.clickhouse_database,
                              rules.local_date(datetime.now(UTC)))
    finally:
        client.close()
    row = rows[month.label]
    assert (row["received_total"], row["resolved_total"]) == (live["received"],
                                                              live["resolved"])
    assert row["resolution_rate"] == pytest.approx(live["resolution_rate"])
    assert row["on_time_rate"] == pytest.approx(live["on_time_rate"])
    assert row["clearance_rate"] == pytest.approx(live["clearance_rate"])
    sql5 = dict(QUERIES)[next(t for t, _ in QUERIES if t.startswith("5."))]
    by_province = _run(populated, sql5)
    assert sum(r["open"] for r in by_province) == now_backlog["open"]
    assert sum(r["overdue"] for r in by_province) == now_backlog["overdue"]
