"""Benchmark the local ClickHouse-HTTP server (devstack.chserver) through clickhouse-connect.

    python bench/chserver_insert.py [--quick] [--batches N] [--rows R]

Measures, with clickhouse-connect's DEFAULT client settings (lz4 compression on) and with
compression off:
- Native inserts of R-row batches into a 20-column MergeTree table (rows/s, end to end), and
  the share of that time the server spent in the engine (X-ClickHouse-Summary elapsed_ns);
- the round trip of ``SELECT 1`` (median, p90) with clickhouse-connect and with raw http.client;
- an aggregate ``GROUP BY`` over the inserted rows (median).
Other processes load the CPU on shared machines: read the load average printed first.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import clickhouse_connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from devstack.chserver.process import start_server  # noqa: E402

COLUMNS = [
    ("event_id", "UUID"),
    ("event_type", "LowCardinality(String)"),
    ("schema_version", "UInt8"),
    ("incident_id", "String"),
    ("province_code", "LowCardinality(String)"),
    ("commune_code", "LowCardinality(String)"),
    ("code_regime", "LowCardinality(String)"),
    ("occurred_at", "DateTime64(3, 'Asia/Ho_Chi_Minh')"),
    ("recorded_at", "DateTime64(3, 'Asia/Ho_Chi_Minh')"),
    ("source_system", "String"),
    ("corrects_event_id", "Nullable(UUID)"),
    ("crime_group", "LowCardinality(String)"),
    ("severity", "LowCardinality(String)"),
    ("source_type", "LowCardinality(String)"),
    ("channel", "LowCardinality(String)"),
    ("outcome", "LowCardinality(String)"),
    ("suspects_count", "UInt16"),
    ("fine_vnd", "UInt64"),
    ("months", "UInt8"),
    ("ingested_at", "DateTime64(3, 'UTC')"),
]
NAMES = [name for name, _ in COLUMNS]


def make_batch(n: int, seed: int) -> list[list[object]]:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    groups = ["property", "drugs", "economic", "public_safety_order"]
    rows = []
    for i in range(n):
        k = seed * n + i
        ts = base + timedelta(seconds=k)
        rows.append(
            [
                uuid.uuid4(),
                "report_received",
                1,
                f"inc-{k}",
                f"{k % 34:02d}",
                f"{k % 3321:05d}",
                "2025",
                ts,
                ts,
                "sim",
                None,
                groups[k % 4],
                "serious",
                "report",
                "phone",
                "accepted",
                k % 5,
                k * 1000,
                k % 3,
                ts,
            ]
        )
    return rows


def bench_inserts(client, table: str, batches: list[list[list[object]]]) -> dict[str, float]:
    client.command(f"DROP TABLE IF EXISTS {table}")
    cols = ", ".join(f"{n} {t}" for n, t in COLUMNS)
    client.command(
        f"CREATE TABLE {table} ({cols}) ENGINE = MergeTree "
        "ORDER BY (province_code, occurred_at, event_id)"
    )
    client.insert(table, batches[0][:100], column_names=NAMES)  # warm-up (DESCRIBE etc.)
    server_ns = 0
    started = time.perf_counter()
    for batch in batches:
        summary = client.insert(table, batch, column_names=NAMES)
        server_ns += int(summary.summary.get("elapsed_ns", 0))
    elapsed = time.perf_counter() - started
    rows = sum(len(b) for b in batches)
    count = client.command(f"SELECT count() FROM {table}")
    assert count == rows + 100, (count, rows)
    return {
        "rows": rows,
        "seconds": elapsed,
        "rows_per_s": rows / elapsed,
        "server_share": server_ns / 1e9 / elapsed,
    }


def server_ceiling(host: str, port: int, table: str, batch: list[list[object]], n: int) -> float:
    """rows/s when the client's work is taken out: one pre-serialised lz4 Native body re-sent."""
    from clickhouse_connect.datatypes.registry import get_from_name
    from clickhouse_connect.driver.insert import InsertContext
    from clickhouse_connect.driver.transform import NativeTransform

    types = [get_from_name(t) for _, t in COLUMNS]
    ctx = InsertContext(table, NAMES, types, data=batch, compression="lz4")
    body = b"".join(NativeTransform.build_insert(ctx))
    conn = http.client.HTTPConnection(host, port)
    headers = {"Content-Encoding": "lz4", "Content-Type": "application/octet-stream"}
    try:
        started = time.perf_counter()
        for _ in range(n):
            conn.request("POST", "/", body=body, headers=headers)
            resp = conn.getresponse()
            assert resp.status == 200, resp.read()
            resp.read()
        return n * len(batch) / (time.perf_counter() - started)
    finally:
        conn.close()


def timings(fn, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return statistics.median(samples) * 1e3, samples[int(len(samples) * 0.9)] * 1e3


def raw_select1(host: str, port: int, n: int) -> tuple[float, float]:
    conn = http.client.HTTPConnection(host, port)

    def once() -> None:
        conn.request("GET", "/?query=SELECT%201")
        resp = conn.getresponse()
        assert resp.read() == b"1\n"

    try:
        return timings(once, n)
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batches", type=int, default=None)
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    n_batches = args.batches or (2 if args.quick else 6)
    n_pings = 100 if args.quick else 500
    print(
        f"load average {os.getloadavg()}, cpus {os.cpu_count()}, "
        f"batches {n_batches} x {args.rows} rows x {len(COLUMNS)} columns"
    )
    batches = [make_batch(args.rows, s) for s in range(n_batches)]
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data")
        try:
            for compress in (True, False):
                client = clickhouse_connect.get_client(
                    host=server.host, port=server.port, compress=compress
                )
                res = bench_inserts(client, f"ev_{int(compress)}", batches)
                print(
                    f"insert compress={compress}: {res['rows_per_s']:,.0f} rows/s "
                    f"({res['rows']} rows in {res['seconds']:.2f} s; engine share of wall "
                    f"time {res['server_share']:.0%})"
                )
                med, p90 = timings(lambda c=client: c.command("SELECT 1"), n_pings)
                print(
                    f"clickhouse-connect command('SELECT 1') compress={compress}: "
                    f"median {med:.2f} ms, p90 {p90:.2f} ms"
                )
                agg = (
                    "SELECT province_code, crime_group, count(), sum(fine_vnd) "
                    f"FROM ev_{int(compress)} GROUP BY province_code, crime_group"
                )
                med, p90 = timings(lambda c=client, q=agg: c.query(q).result_rows, n_pings // 5)
                print(
                    f"aggregate GROUP BY over {res['rows']} rows compress={compress}: "
                    f"median {med:.2f} ms, p90 {p90:.2f} ms"
                )
                client.close()
            ceiling = server_ceiling(server.host, server.port, "ev_0", batches[0], n_batches)
            print(
                f"server alone (pre-serialised lz4 Native body re-posted {n_batches} times): "
                f"{ceiling:,.0f} rows/s"
            )
            med, p90 = raw_select1(server.host, server.port, n_pings)
            print(f"raw http.client keep-alive GET SELECT 1: median {med:.2f} ms, p90 {p90:.2f} ms")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
