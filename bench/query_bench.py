"""National query over one year of simulated events: aggregates vs raw facts, side by side.

    python bench/query_bench.py            # 10 million events
    python bench/query_bench.py --quick    # 1 million events

Starts a private local ClickHouse server, applies the migrations, generates the events with
INSERT ... SELECT FROM numbers() (bypassing Kafka; the materialized views fill the aggregates
and incidents exactly as they do for the sink), marks 3 % of them as corrected (copies in
``events_retracted``, as the sink writes them), then times the per-province monthly resolution
and clearance rates from the aggregates (``official_monthly_province``, the rollup the
dashboards read, and ``metrics_monthly_province``, the full metric grain) and from
``events_raw`` minus the corrected events (median of several runs each, identical answers
checked).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._local import conditions, local_stack, median_ms  # noqa: E402

CHUNK = 1_000_000
START = "2025-11-22 00:00:00"

# Event-type mix (percent, cumulative) of a year of national operation.
GENERATE = """
INSERT INTO {db}.events_raw (event_id, event_type, schema_version, incident_id, province_code,
    commune_code, code_regime, occurred_at, recorded_at, source_system, source_type, channel,
    crime_group, severity, outcome, handled_by, extension, months, decision, suspension_reason,
    resume_reason, suspects_count, apprehended_count, admin_field, violations_detected,
    violations_sanctioned, violators, fine_vnd, kafka_topic, kafka_partition, kafka_offset,
    ingested_at)
SELECT
    generateUUIDv4(number) AS event_id,
    multiIf(r < 30, 'report_received', r < 50, 'report_triaged', r < 55, 'report_forwarded',
            r < 60, 'deadline_extended', r < 80, 'report_resolved', r < 82, 'report_resumed',
            r < 90, 'offence_cleared', r < 94, 'suspects_apprehended',
            'admin_violation_sanctioned') AS event_type,
    1, concat('inc-bench-', toString(intDiv(number, 4))), u.2, u.1, '2025', t,
    t + toIntervalSecond(h % 3600), 'bench-sim',
    if(event_type = 'report_received', ['denunciation', 'report', 'prosecution_recommendation',
        'confession', 'surrender', 'direct_detection'][1 + h % 6], ''),
    if(event_type = 'report_received',
       ['in_person', 'phone', 'post', 'vneid', 'media'][1 + h % 5], ''),
    if(event_type IN ('report_received', 'offence_cleared', 'suspects_apprehended'),
       ['property', 'life_health_dignity', 'drugs', 'public_safety_order', 'economic',
        'freedoms', 'marriage_family', 'environment', 'administrative_order',
        'position_corruption', 'judicial', 'national_security', 'military',
        'war_crimes'][1 + (h % 97) % 14], ''),
    if(event_type IN ('report_received', 'offence_cleared'),
       ['less_serious', 'serious', 'very_serious', 'especially_serious'][1 + h % 4], ''),
    if(event_type = 'report_triaged', ['accepted', 'transferred', 'not_crime'][1 + h % 3], ''),
    if(event_type = 'report_forwarded', ['commune_police', 'commune_investigator',
        'provincial_agency'][1 + h % 3], ''),
    if(event_type = 'deadline_extended', ['complex_case', 'procuracy'][1 + h % 2], ''),
    if(event_type = 'deadline_extended', 1 + h % 2, 0),
    if(event_type = 'report_resolved',
       ['institute', 'institute', 'decline', 'suspend'][1 + h % 4], ''),
    if(event_type = 'report_resolved' AND h % 4 = 3, 'awaiting_documents', ''),
    if(event_type = 'report_resumed', 'resumed', ''),
    if(event_type = 'offence_cleared', 1 + h % 3, 0),
    if(event_type = 'suspects_apprehended', 1 + h % 4, 0),
    if(event_type = 'admin_violation_sanctioned', 'road_traffic', ''),
    if(event_type = 'admin_violation_sanctioned', 1 + h % 20, 0),
    if(event_type = 'admin_violation_sanctioned', h % 18, 0),
    if(event_type = 'admin_violation_sanctioned', 1 + h % 15, 0),
    if(event_type = 'admin_violation_sanctioned', (h % 200) * 100000, 0),
    'antt.events.v1', toUInt32(number % 4), number, now64(3, 'UTC')
FROM
(
    WITH (SELECT groupArray((commune_code, province_code)) FROM {db}.dim_communes) AS units
    SELECT number, cityHash64(number) % 100 AS r, cityHash64(number, 7) AS h,
           units[1 + cityHash64(number, 1) % length(units)] AS u,
           toDateTime64('{start}', 3, 'UTC')
               + toIntervalSecond(cityHash64(number, 2) % 31536000) AS t
    FROM numbers({offset}, {count})
)
"""

# The same figures from the two sources; the outer query (carried over, rates) is shared.
RATES = """
SELECT province_code, month, received, resolved, instituted, cleared,
       greatest(0, sum(received - resolved + resumed) OVER (PARTITION BY province_code
           ORDER BY month ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS carried_over,
       round(resolved / nullIf(carried_over + received, 0), 4) AS resolution_rate,
       round(cleared / nullIf(instituted, 0), 4) AS clearance_rate
FROM ({inner})
ORDER BY province_code, month
"""
FROM_OFFICIAL = """
SELECT province_code, month, sum(received) AS received, sum(resolved) AS resolved,
       sum(resumed) AS resumed, sum(instituted) AS instituted, sum(cleared) AS cleared
FROM {db}.official_monthly_province
GROUP BY province_code, month
"""
FROM_AGGREGATES = """
SELECT province_code, month,
       sumIf(events, metric = 'received') AS received,
       sumIf(events, metric = 'resolved') AS resolved,
       sumIf(events, metric = 'resumed') AS resumed,
       sumIf(events, metric = 'resolved' AND detail = 'institute') AS instituted,
       sumIf(events, metric = 'cleared') AS cleared
FROM {db}.metrics_monthly_province
WHERE metric IN ('received', 'resolved', 'resumed', 'cleared')
GROUP BY province_code, month
"""
FROM_RAW = """
SELECT province_code, toStartOfMonth(event_date) AS month,
       countIf(event_type = 'report_received') AS received,
       countIf(event_type = 'report_resolved') AS resolved,
       countIf(event_type = 'report_resumed') AS resumed,
       countIf(event_type = 'report_resolved' AND decision = 'institute') AS instituted,
       countIf(event_type = 'offence_cleared') AS cleared
FROM {db}.events_raw
WHERE event_type IN ('report_received', 'report_resolved', 'report_resumed', 'offence_cleared')
  AND event_id NOT IN (SELECT event_id FROM {db}.events_retracted)
GROUP BY province_code, month
"""
# 3 % of the events are later corrected (the simulator's default share): their copies go to
# events_retracted, which the views subtract; raw-fact queries must exclude them.
RETRACT = """
INSERT INTO {db}.events_retracted
SELECT * REPLACE (now64(3, 'UTC') AS ingested_at) FROM {db}.events_raw
WHERE cityHash64(event_id) % 100 < 3
"""


def generate(client, db: str, total: int) -> float:
    started = time.perf_counter()
    for offset in range(0, total, CHUNK):
        client.command(GENERATE.format(db=db, start=START, offset=offset,
                                       count=min(CHUNK, total - offset)),
                       settings={"max_partitions_per_insert_block": 1000})
        print(f"  generated {min(offset + CHUNK, total):,} events", flush=True)
    return time.perf_counter() - started


def compare_sources(client, db: str, repeat: int) -> None:  # noqa: ANN001
    """Same answer from the three sources; median time of each, side by side."""
    sqls = {name: RATES.format(inner=inner.format(db=db)) for name, inner in (
        ("official", FROM_OFFICIAL), ("metrics", FROM_AGGREGATES), ("raw", FROM_RAW))}
    answers = {name: client.query(sql).result_rows for name, sql in sqls.items()}
    assert answers["official"] == answers["metrics"] == answers["raw"], "sources disagree"
    timings = {name: median_ms(lambda sql=sql: client.query(sql), repeat)
               for name, sql in sqls.items()}
    sizes = {name: int(client.command(f"SELECT count() FROM {db}.{table}")) for name, table
             in (("official", "official_monthly_province"),
                 ("metrics", "metrics_monthly_province"), ("raw", "events_raw"))}
    labels = {"official": "aggregate official_monthly_province",
              "metrics": "aggregate metrics_monthly_province",
              "raw": "raw facts events_raw"}
    print(f"answer: {len(answers['raw'])} (province, month) rows, identical from all sources")
    for name, (ms, runs) in timings.items():
        print(f"{labels[name]:<38} {sizes[name]:>11,} rows: median {ms:6.1f} ms "
              f"(runs {', '.join(f'{t:.0f}' for t in runs)})")
    raw_ms = timings["raw"][0]
    print(f"speed-up vs raw facts: official_monthly_province "
          f"{raw_ms / timings['official'][0]:.1f}x, metrics_monthly_province "
          f"{raw_ms / timings['metrics'][0]:.1f}x (target: <= 100 ms and >= 20x)")
    naive = sqls["raw"].replace(
        f"AND event_id NOT IN (SELECT event_id FROM {db}.events_retracted)", "")
    naive_ms, _ = median_ms(lambda: client.query(naive), repeat)
    print(f"raw facts ignoring corrections (a wrong answer, for reference): "
          f"median {naive_ms:.1f} ms")
    floor, _ = median_ms(lambda: client.query("SELECT 1"), repeat)
    print(f"HTTP round trip of SELECT 1 for reference: {floor:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 million events instead of 10")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    total = args.events or (1_000_000 if args.quick else 10_000_000)

    from antt.settings import load_settings
    from sinks.client import make_client
    from sinks.service import prepare_database

    with local_stack(kafka=False) as stack:
        settings = load_settings(clickhouse_url=stack.clickhouse_url,  # type: ignore[attr-defined]
                                 clickhouse_database="antt_bench")
        prepare_database(settings)
        client = make_client(settings, send_receive_timeout=3600)
        db = settings.clickhouse_database
        print(f"query_bench: {total:,} simulated events over one year; {conditions()}")
        seconds = generate(client, db, total)
        client.command(RETRACT.format(db=db))
        for table in ("metrics_monthly_province", "official_monthly_province"):
            client.command(f"OPTIMIZE TABLE {db}.{table} FINAL")
        print(f"generated and aggregated in {seconds:.1f} s ({total / seconds:,.0f} events/s)")
        compare_sources(client, db, args.repeat)
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
