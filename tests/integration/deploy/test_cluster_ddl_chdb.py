"""The cluster DDL from the real migration files, run on the real ClickHouse engine (chDB).

What chDB can and cannot check (measured with chdb-core 26.9):
- it parses ``ON CLUSTER`` (``formatQuery``) but will not run it ("Replicated DDL queries are
  disabled"), so statements are applied with ON CLUSTER removed;
- ReplicatedMergeTree tables are created against the in-memory test keeper (macros expand, the
  keeper path is checked) but stay read-only: the data-flow test swaps them back to the plain
  engines, keeping the _local tables, the Distributed tables and the views exactly as generated;
- Distributed tables work over a one-shard cluster whose replica is this process.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from antt.settings import load_settings
from sinks.cluster import REPLICA_PATH, to_cluster
from sinks.migrate import _bootstrap, load_migrations

pytestmark = pytest.mark.integration

CLUSTER = "antt"

# One shard whose only replica is this process (tcp_port makes localhost:9000 "local"), the
# production macros, and ClickHouse's in-memory test keeper for the Replicated engines.
CONFIG = """<clickhouse>
  <tcp_port>9000</tcp_port>
  <zookeeper><implementation>testkeeper</implementation></zookeeper>
  <macros><shard>01</shard><replica>r1</replica><cluster>{cluster}</cluster></macros>
  <remote_servers>
    <{cluster}><shard><replica><host>localhost</host><port>9000</port></replica></shard></{cluster}>
  </remote_servers>
</clickhouse>
"""

Runner = Callable[[list[str]], list[dict[str, object]]]


@pytest.fixture
def run_chdb(tmp_path: Path) -> Runner:
    """Run statements in a fresh chDB engine; returns one result dict per statement run."""
    config = tmp_path / "config.xml"
    config.write_text(CONFIG.format(cluster=CLUSTER), encoding="utf-8")
    counter = iter(range(1000))

    def run(statements: list[str], stop_on_error: bool = True) -> list[dict[str, object]]:
        n = next(counter)
        out = tmp_path / f"out{n}.json"
        job = {
            "path": str(tmp_path / f"db{n}"),
            "config": str(config),
            "out": str(out),
            "steps": [{"sql": s, "stop_on_error": stop_on_error} for s in statements],
        }
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("chdb_runner.py"))],
            input=json.dumps(job),
            text=True,
            capture_output=True,
            timeout=240,
        )
        assert out.exists(), f"chDB child failed (rc={proc.returncode}): {proc.stderr[-2000:]}"
        return json.loads(out.read_text(encoding="utf-8"))

    return run


DB = "antt"
TZ = "Asia/Ho_Chi_Minh"
ON_CLUSTER = f" ON CLUSTER '{CLUSTER}'"
REPLICATED = re.compile(r"Replicated(\w*MergeTree)\('[^']*', '\{replica\}'(?:, )?")


def single_node() -> list[str]:
    statements = list(_bootstrap(load_settings(clickhouse_database=DB)))
    for migration in load_migrations():
        statements += migration.statements(DB, TZ)
    return statements


def cluster() -> list[str]:
    return [out for statement in single_node() for out in to_cluster(statement, CLUSTER)]


def local_form(statement: str) -> str:
    assert statement.count(ON_CLUSTER) <= 1
    return statement.replace(ON_CLUSTER, "")


def literal(sql: str) -> str:
    return "'" + sql.replace("\\", "\\\\").replace("'", "\\'") + "'"


CATALOG = [
    f"SELECT name, engine FROM system.tables WHERE database = '{DB}' ORDER BY name",
    f"SELECT table, name, type FROM system.columns WHERE database = '{DB}' "
    "ORDER BY table, position",
    f"SELECT table, zookeeper_path, replica_name FROM system.replicas WHERE database = '{DB}'",
    f"SELECT name, create_table_query FROM system.tables WHERE database = '{DB}' "
    "AND engine = 'MaterializedView'",
]


def test_migration_files_exist_and_every_statement_converts() -> None:
    assert load_migrations(), "no sinks/ddl/*.sql migration files found"
    statements = cluster()
    assert len(statements) > len(single_node())  # sharded tables gained a Distributed twin


def test_every_cluster_statement_parses_with_on_cluster(run_chdb: Runner) -> None:
    statements = cluster()
    results = run_chdb([f"SELECT formatQuery({literal(s)})" for s in statements], False)
    failed = [
        (s[:120], r.get("error")) for s, r in zip(statements, results, strict=True) if not r["ok"]
    ]
    assert not failed
    formatted = [r["data"][0][0] for r in results]  # type: ignore[index]
    ddl = [f for f in formatted if not f.startswith(("INSERT", "GRANT"))]
    assert all(f"ON CLUSTER {CLUSTER}" in f for f in ddl)


def _runs_on_chdb_replicas(statement: str) -> bool:
    """chDB keeps Replicated tables read-only, so an ALTER of a ``_local`` table cannot run.

    Those ALTERs (data-skipping indexes) change no table, column or view compared here; that
    they parse with ON CLUSTER is checked by the test above.
    """
    return not (statement.lstrip().upper().startswith("ALTER") and "_local" in statement)


def test_cluster_ddl_stays_in_step_with_single_node_ddl(run_chdb: Runner) -> None:
    single = run_chdb([*single_node(), *CATALOG])
    runnable = [local_form(s) for s in cluster() if _runs_on_chdb_replicas(s)]
    clustered = run_chdb([*runnable, *CATALOG])
    for results in (single, clustered):
        errors = [r for r in results if not r["ok"]]
        assert not errors, errors[:1]
    s_tables, s_columns, _, s_views = (r["data"] for r in single[-4:])
    c_tables, c_columns, c_replicas, c_views = (r["data"] for r in clustered[-4:])
    single_engines = dict(s_tables)  # type: ignore[arg-type]
    cluster_engines = dict(c_tables)  # type: ignore[arg-type]
    replicas = {t: (path, replica) for t, path, replica in c_replicas}  # type: ignore[misc]
    columns = _columns(s_columns), _columns(c_columns)
    expected_objects = set()
    for name, engine in single_engines.items():
        expected_objects.add(name)
        assert columns[1][name] == columns[0][name], name
        if engine.endswith("MergeTree"):
            local = f"{name}_local"
            expected_objects.add(local)
            assert cluster_engines[name] == "Distributed"
            assert cluster_engines[local] == f"Replicated{engine}"
            assert columns[1][local] == columns[0][name], local
            path = REPLICA_PATH.format(shard="01", database=DB, table=local)
            assert replicas[local] == [path, "r1"] or replicas[local] == (path, "r1")
        else:
            assert cluster_engines[name] == engine, name
    assert set(cluster_engines) == expected_objects
    assert _view_targets(c_views) == {
        view: f"{target}_local" for view, target in _view_targets(s_views).items()
    }
    # each materialized view fires on the local table its shard received rows in
    assert _view_sources(c_views) == {
        view: f"{source}_local" for view, source in _view_sources(s_views).items()
    }


def _columns(rows: object) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for table, name, kind in rows:  # type: ignore[attr-defined]
        out.setdefault(table, []).append((name, kind))
    return out


def _view_targets(rows: object) -> dict[str, str]:
    targets = {}
    for name, query in rows:  # type: ignore[attr-defined]
        match = re.search(rf"\bTO {DB}\.(\w+)", query)
        assert match, query
        targets[name] = match.group(1)
    return targets


def _view_sources(rows: object) -> dict[str, str]:
    return {
        name: re.findall(rf"\bFROM {DB}\.(\w+)", query)[0]
        for name, query in rows  # type: ignore[attr-defined]
    }


ROWS = """INSERT INTO antt.events_raw (event_id, event_type, schema_version, incident_id,
    province_code, commune_code, code_regime, occurred_at, recorded_at, source_system,
    corrects_event_id, source_type, channel, crime_group, severity, decision, suspects_count,
    admin_field, violations_detected, violations_sanctioned, violators, fine_vnd,
    kafka_topic, kafka_partition, kafka_offset, ingested_at)
SETTINGS distributed_foreground_insert = 1
SELECT generateUUIDv4(), ev, 1, concat('inc-', toString(number % 7)),
    ['01', '79', '48'][number % 3 + 1], toString(10000 + number % 11), '2025',
    toDateTime64('2026-11-02 03:00:00', 3, 'UTC') + toIntervalHour(number),
    toDateTime64('2026-11-02 03:00:00', 3, 'UTC') + toIntervalHour(number), 'test', NULL,
    'denunciation', 'phone', 'property', 'serious', 'institute', 2, 'traffic', 3, 2, 1, 500000,
    'antt.events.v1', 0, number, toDateTime64('2026-11-20 00:00:00', 3, 'UTC')
FROM numbers(60)
ARRAY JOIN ['report_received', 'report_resolved', 'offence_cleared',
            'admin_violation_sanctioned'] AS ev"""

CALENDAR = """INSERT INTO antt.dim_reporting_calendar SETTINGS distributed_foreground_insert = 1
SELECT toDate('2026-11-01') + number, 'month', toDate('2026-11-01'), toDate('2026-11-30'),
       '2026-11' FROM numbers(30)"""

RETRACT = """INSERT INTO antt.events_retracted SETTINGS distributed_foreground_insert = 1
SELECT * FROM antt.events_raw WHERE kafka_offset < 5 AND event_type = 'report_received'"""

ANSWERS = [
    "SELECT count(), uniqExact(event_id) FROM antt.events_raw FINAL",
    "SELECT metric, detail, sum(events), sum(value) FROM antt.metrics_daily "
    "GROUP BY ALL ORDER BY ALL",
    "SELECT metric, sum(events), sum(value) FROM antt.metrics_monthly_province "
    "GROUP BY ALL ORDER BY ALL",
    "SELECT * EXCEPT resolutions FROM antt.incidents_current ORDER BY ALL",
    "SELECT * FROM antt.metrics_by_period ORDER BY ALL",
    "SELECT * FROM antt.official_metrics_by_period ORDER BY ALL",
    "SELECT province_code, open FROM antt.backlog_current ORDER BY ALL",
]


def test_cluster_ddl_gives_the_same_answers_through_distributed_tables(
    run_chdb: Runner,
) -> None:
    """Same rows in, same figures out: single-node tables vs _local + Distributed + views."""
    flow = [ROWS, CALENDAR, RETRACT, *ANSWERS]
    single = run_chdb([*single_node(), *flow])
    plain = [
        REPLICATED.sub(r"\1(", local_form(s)).replace("MergeTree()", "MergeTree") for s in cluster()
    ]
    assert not any("Replicated" in s for s in plain)
    clustered = run_chdb([*plain, *flow])
    for results in (single, clustered):
        errors = [r for r in results if not r["ok"]]
        assert not errors, errors[:1]
    answers = [r["data"] for r in single[-len(ANSWERS) :]]
    assert answers[0] == [[240, 240]] or answers[0] == [["240", "240"]]
    assert all(answers), "every figure query returned rows"
    assert [r["data"] for r in clustered[-len(ANSWERS) :]] == answers


def test_truncate_must_go_through_to_cluster(run_chdb: Runner) -> None:
    """TRUNCATE of a Distributed table leaves the shards' rows in place (measured): a reload
    (dimensions) must send its TRUNCATE through to_cluster, which targets the _local table."""
    plain = [REPLICATED.sub(r"\1(", local_form(s)) for s in cluster()]
    count = "SELECT count() FROM antt.dim_reporting_calendar"
    [converted] = to_cluster("TRUNCATE TABLE IF EXISTS antt.dim_reporting_calendar", CLUSTER)
    results = run_chdb(
        [
            *plain,
            CALENDAR,
            "TRUNCATE TABLE IF EXISTS antt.dim_reporting_calendar",
            count,
            local_form(converted),
            count,
        ]
    )
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]][:1]
    after_plain, after_converted = results[-3]["data"], results[-1]["data"]
    assert after_plain in ([[30]], [["30"]])
    assert after_converted in ([[0]], [["0"]])
