"""Disk per event in ClickHouse: the real migrations, synthetic events, compressed bytes.

    python bench/disk_per_event.py [--quick] [--events N]

Applies sinks/ddl (single-node form) in a chDB engine, inserts N synthetic events shaped like
the contract (34 provinces, ~3,300 communes, the nine event types, random UUIDs, incidents of
~4 lifecycle events), merges (OPTIMIZE FINAL), and reads the compressed and uncompressed bytes
of every table from system.parts. Prints bytes per event and a projection per year. One
replica; a cluster stores it once per replica (x2 in deploy/) plus Kafka's copies.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from antt.settings import load_settings  # noqa: E402
from sinks.migrate import _bootstrap, load_migrations  # noqa: E402

INSERT = """INSERT INTO antt.events_raw (event_id, event_type, schema_version, incident_id,
    province_code, commune_code, code_regime, occurred_at, recorded_at, source_system,
    corrects_event_id, source_type, channel, crime_group, severity, outcome, decision,
    suspects_count, admin_field, violations_detected, violations_sanctioned, violators,
    fine_vnd, kafka_topic, kafka_partition, kafka_offset, ingested_at)
SELECT generateUUIDv4(number), ev, 1, concat('inc-', toString(intDiv(number, 4))),
    leftPad(toString(1 + cityHash64(intDiv(number, 4)) % 34), 2, '0'),
    leftPad(toString(cityHash64(intDiv(number, 4), 1) % 3321), 5, '0'), '2025',
    toDateTime64('2026-01-01 00:00:00', 3, 'UTC') + toIntervalSecond(number * 7 % 31536000),
    toDateTime64('2026-01-01 00:00:00', 3, 'UTC') + toIntervalSecond(number * 7 % 31536000 + 60),
    'province-system', NULL,
    ['denunciation', 'report', 'prosecution_recommendation'][number % 3 + 1],
    ['in_person', 'phone', 'vneid'][number % 3 + 1],
    ['property', 'drugs', 'life_health_dignity', 'public_safety_order'][number % 4 + 1],
    ['less_serious', 'serious', 'very_serious'][number % 3 + 1],
    ['accepted', 'transferred', 'not_crime'][number % 3 + 1],
    ['institute', 'decline', 'suspend'][number % 3 + 1],
    number % 3, 'traffic', number % 5, number % 4, number % 3, (number % 10) * 250000,
    'antt.events.v1', number % 12, number, now64(3)
FROM numbers({n})
ARRAY JOIN [['report_received', 'report_triaged', 'report_resolved', 'offence_cleared',
             'suspects_apprehended', 'admin_violation_sanctioned'][number % 6 + 1]] AS ev"""

SIZES = """SELECT table, sum(rows), sum(data_compressed_bytes), sum(data_uncompressed_bytes)
FROM system.parts WHERE database = 'antt' AND active GROUP BY table ORDER BY 3 DESC"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 events")
    parser.add_argument("--events", type=int, default=2_000_000)
    args = parser.parse_args()
    n = 200_000 if args.quick else args.events
    import chdb.session

    print(f"load average {os.getloadavg()[0]:.2f} (other work shares the 2 cores)")
    with tempfile.TemporaryDirectory() as tmp:
        session = chdb.session.Session(str(Path(tmp) / "db"))
        statements = list(_bootstrap(load_settings(clickhouse_database="antt")))
        for migration in load_migrations():
            statements += migration.statements("antt", "Asia/Ho_Chi_Minh")
        for statement in statements:
            session.query(statement)
        started = time.perf_counter()
        for offset in range(0, n, 500_000):  # blocks like a sink's batches
            chunk = min(500_000, n - offset)
            sql = INSERT.format(n=chunk).replace("FROM numbers(", f"FROM numbers({offset}, ")
            session.query(sql)
        elapsed = time.perf_counter() - started
        for table in ("events_raw", "metrics_daily", "metrics_daily_province", "incidents"):
            session.query(f"OPTIMIZE TABLE antt.{table} FINAL")
        rows = [line.split(",") for line in str(session.query(SIZES, "CSV")).split()]
        session.close()
    print(f"inserted {n:,} events in {elapsed:.1f} s ({n / elapsed:,.0f} events/s, chDB, "
          "materialized views included)")
    total = 0
    print(f"{'table':32} {'rows':>12} {'compressed':>12} {'B/event':>8}")
    for table, count, compressed, _raw in rows:
        name = table.strip('"')
        total += int(compressed)
        print(f"{name:32} {int(count):>12,} {int(compressed):>12,} {int(compressed) / n:>8.1f}")
    per_event = total / n
    print(f"all tables: {per_event:.1f} compressed bytes per event (one replica)")
    for monthly in (1_000_000, 10_000_000):
        year = per_event * monthly * 12 / 1e9
        print(f"{monthly:>11,} events/month -> {year:6.2f} GB/year per replica")
    return 0


if __name__ == "__main__":
    sys.exit(main())
