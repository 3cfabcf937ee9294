"""to_cluster: single-node DDL in, cluster DDL out (pure text, no server)."""

from __future__ import annotations

import pytest

from sinks.cluster import REPLICA_PATH, ClusterDDLError, split_statements, to_cluster

PATH = f"'{REPLICA_PATH}', '{{replica}}'"

EVENTS = """CREATE TABLE IF NOT EXISTS antt.events_raw
(
    event_id UUID,
    province_code LowCardinality(String) COMMENT 'ENGINE = Memory; ORDER BY (',
    occurred_at DateTime64(3, 'Asia/Ho_Chi_Minh'),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (province_code, occurred_at, event_id)
SETTINGS index_granularity = 8192;"""


def test_merge_tree_table_becomes_replicated_local_plus_distributed() -> None:
    local, dist = to_cluster(EVENTS, "antt")
    assert local.startswith("CREATE TABLE IF NOT EXISTS antt.events_raw_local ON CLUSTER 'antt'\n(")
    assert f"ENGINE = ReplicatedReplacingMergeTree({PATH}, version)" in local
    assert "ORDER BY (province_code, occurred_at, event_id)" in local
    assert "COMMENT 'ENGINE = Memory; ORDER BY ('" in local  # strings untouched
    assert not local.endswith(";")
    assert dist == (
        "CREATE TABLE IF NOT EXISTS antt.events_raw ON CLUSTER 'antt' AS antt.events_raw_local\n"
        "ENGINE = Distributed('antt', 'antt', 'events_raw_local', "
        "cityHash64(province_code, occurred_at, event_id))"
    )


@pytest.mark.parametrize(
    ("engine", "expected"),
    [
        ("MergeTree", f"ReplicatedMergeTree({PATH})"),
        ("MergeTree()", f"ReplicatedMergeTree({PATH})"),
        ("SummingMergeTree((a, b))", f"ReplicatedSummingMergeTree({PATH}, (a, b))"),
        ("AggregatingMergeTree", f"ReplicatedAggregatingMergeTree({PATH})"),
        ("ReplacingMergeTree(v, deleted)", f"ReplicatedReplacingMergeTree({PATH}, v, deleted)"),
        ("CollapsingMergeTree(sign)", f"ReplicatedCollapsingMergeTree({PATH}, sign)"),
    ],
)
def test_every_merge_tree_engine_keeps_its_arguments(engine: str, expected: str) -> None:
    local, _ = to_cluster(f"CREATE TABLE t (a UInt8, b UInt8) ENGINE = {engine} ORDER BY a", "c")
    assert f"ENGINE = {expected} ORDER BY a" in local


def test_unqualified_table_uses_current_database() -> None:
    local, dist = to_cluster("create table t (a UInt8) engine = MergeTree order by tuple()", "c")
    assert local.startswith("create table t_local ON CLUSTER 'c' (a UInt8)")
    # no sorting key: the first column is the (deterministic) sharding key
    assert dist.endswith("Distributed('c', currentDatabase(), 't_local', cityHash64(a))")


def test_single_column_order_by_and_quoted_names() -> None:
    local, dist = to_cluster(
        "CREATE TABLE `antt`.`daily counts` (`day` Date) ENGINE = SummingMergeTree ORDER BY (day)",
        "prod",
    )
    assert local.startswith("CREATE TABLE antt.`daily counts_local` ON CLUSTER 'prod' (")
    assert "Distributed('prod', 'antt', 'daily counts_local', cityHash64(day))" in dist


def test_table_copying_another_table_copies_its_local_table() -> None:
    local, dist = to_cluster(
        "CREATE TABLE IF NOT EXISTS antt.retracted AS antt.raw\n"
        "ENGINE = ReplacingMergeTree ORDER BY (province_code, event_id)",
        "c",
    )
    assert local == (
        "CREATE TABLE IF NOT EXISTS antt.retracted_local ON CLUSTER 'c' AS antt.raw_local\n"
        f"ENGINE = ReplicatedReplacingMergeTree({PATH}) ORDER BY (province_code, event_id)"
    )
    assert dist.endswith("'retracted_local', cityHash64(province_code, event_id))")


def test_null_table_is_sharded_without_replication() -> None:
    local, dist = to_cluster("CREATE TABLE antt.inbox (event_id UUID, v String) ENGINE = Null", "c")
    assert local == (
        "CREATE TABLE antt.inbox_local ON CLUSTER 'c' (event_id UUID, v String) ENGINE = Null"
    )
    assert dist.endswith("'inbox_local', cityHash64(event_id))")


def test_materialized_view_writes_and_reads_local_tables() -> None:
    [mv] = to_cluster(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS antt.daily_mv TO antt.daily AS\n"
        "SELECT toDate(occurred_at) AS day, countState() AS n FROM antt.events_raw GROUP BY day",
        "c",
    )
    assert mv == (
        "CREATE MATERIALIZED VIEW IF NOT EXISTS antt.daily_mv ON CLUSTER 'c' "
        "TO antt.daily_local AS\nSELECT toDate(occurred_at) AS day, countState() AS n "
        "FROM antt.events_raw_local GROUP BY day"
    )


def test_materialized_view_reading_a_subquery() -> None:
    [mv] = to_cluster(
        "CREATE MATERIALIZED VIEW mv TO daily AS SELECT d, count() AS n "
        "FROM (SELECT toDate(ts) AS d FROM events WHERE ok) GROUP BY d",
        "c",
    )
    assert "TO daily_local AS" in mv and "FROM events_local WHERE ok" in mv


def test_materialized_view_with_inner_engine_is_sharded_like_a_table() -> None:
    local, dist = to_cluster(
        "CREATE MATERIALIZED VIEW antt.m ENGINE = SummingMergeTree ORDER BY d "
        "AS SELECT toDate(ts) AS d, count() AS n FROM antt.e GROUP BY d",
        "c",
    )
    assert local.startswith("CREATE MATERIALIZED VIEW antt.m_local ON CLUSTER 'c' ENGINE = ")
    assert f"ReplicatedSummingMergeTree({PATH}) ORDER BY d" in local
    assert "FROM antt.e_local GROUP BY d" in local
    assert dist.startswith("CREATE TABLE antt.m ON CLUSTER 'c' AS antt.m_local\n")


def test_plain_view_database_dictionary_function_get_on_cluster_only() -> None:
    assert to_cluster("CREATE VIEW antt.v AS SELECT * FROM antt.e FINAL", "c") == [
        "CREATE VIEW antt.v ON CLUSTER 'c' AS SELECT * FROM antt.e FINAL"
    ]
    assert to_cluster("CREATE DATABASE IF NOT EXISTS antt;", "c") == [
        "CREATE DATABASE IF NOT EXISTS antt ON CLUSTER 'c'"
    ]
    assert to_cluster("CREATE OR REPLACE FUNCTION f AS (x) -> x + 1", "c") == [
        "CREATE OR REPLACE FUNCTION f ON CLUSTER 'c' AS (x) -> x + 1"
    ]


def test_alter_columns_reaches_both_tables_other_alters_only_local() -> None:
    both = to_cluster("ALTER TABLE antt.e ADD COLUMN IF NOT EXISTS x UInt8, DROP COLUMN y", "c")
    assert both == [
        "ALTER TABLE antt.e_local ON CLUSTER 'c' ADD COLUMN IF NOT EXISTS x UInt8, DROP COLUMN y",
        "ALTER TABLE antt.e ON CLUSTER 'c' ADD COLUMN IF NOT EXISTS x UInt8, DROP COLUMN y",
    ]
    assert to_cluster("ALTER TABLE antt.e MODIFY TTL d + INTERVAL 5 YEAR", "c") == [
        "ALTER TABLE antt.e_local ON CLUSTER 'c' MODIFY TTL d + INTERVAL 5 YEAR"
    ]
    with pytest.raises(ClusterDDLError, match="split"):
        to_cluster("ALTER TABLE e ADD COLUMN x UInt8, MODIFY TTL d + INTERVAL 1 DAY", "c")


def test_drop_table_drops_distributed_then_local() -> None:
    assert to_cluster("DROP TABLE antt.e SYNC", "c") == [
        "DROP TABLE antt.e ON CLUSTER 'c' SYNC",
        "DROP TABLE IF EXISTS antt.e_local ON CLUSTER 'c' SYNC",
    ]
    dropped = to_cluster("DROP VIEW IF EXISTS antt.v", "c")
    assert dropped == ["DROP VIEW IF EXISTS antt.v ON CLUSTER 'c'"]


def test_truncate_and_optimize_target_the_local_table() -> None:
    assert to_cluster("OPTIMIZE TABLE antt.e FINAL", "c") == [
        "OPTIMIZE TABLE antt.e_local ON CLUSTER 'c' FINAL"
    ]
    truncated = to_cluster("TRUNCATE TABLE IF EXISTS e", "c")
    assert truncated == ["TRUNCATE TABLE IF EXISTS e_local ON CLUSTER 'c'"]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO antt.crime_groups VALUES ('drugs', 'Ma tuy')",
        "CREATE ROLE IF NOT EXISTS antt_reader",
        "CREATE USER IF NOT EXISTS antt_sink IDENTIFIED WITH sha256_password BY 'x'",
        "GRANT SELECT ON antt.* TO antt_reader",
        "CREATE SETTINGS PROFILE p SETTINGS readonly = 1",
    ],
)
def test_inserts_and_access_control_pass_unchanged(statement: str) -> None:
    assert to_cluster(statement + ";", "c") == [statement]


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("CREATE TABLE t ON CLUSTER x (a UInt8) ENGINE = Memory", "already has ON CLUSTER"),
        ("CREATE TABLE t (a UInt8) ENGINE = ReplicatedMergeTree ORDER BY a", "plain engine"),
        ("CREATE TABLE t (a UInt8) ENGINE = Distributed(c, d, t)", "plain engine"),
        ("CREATE TABLE t ENGINE = MergeTree ORDER BY a AS SELECT 1 AS a", "AS SELECT"),
        ("CREATE TABLE t AS (SELECT 1 AS a) ENGINE = Memory", "AS SELECT"),
        ("CREATE TABLE t AS u ENGINE = Memory", "sharding key"),
        ("CREATE TABLE t (a UInt8)", "names no ENGINE"),
        ("CREATE TEMPORARY TABLE t (a UInt8)", "TEMPORARY"),
        ("RENAME TABLE a TO b", "no cluster form"),
        ("CREATE MATERIALIZED VIEW m AS SELECT 1", "no FROM table"),
        ("CREATE TABLE t (a UInt8 ENGINE = Memory", "unbalanced"),
    ],
)
def test_what_cannot_be_converted_safely_raises(statement: str, message: str) -> None:
    with pytest.raises(ClusterDDLError, match=message):
        to_cluster(statement, "c")


@pytest.mark.parametrize(
    ("statement", "twin"),
    [
        ("GRANT INSERT ON antt.events TO w", "GRANT INSERT ON antt.events_local TO w"),
        ("GRANT SELECT(a, b) ON antt.t TO r", "GRANT SELECT(a, b) ON antt.t_local TO r"),
        ("REVOKE SELECT ON antt.t FROM r", "REVOKE SELECT ON antt.t_local FROM r"),
        (
            "CREATE ROW POLICY IF NOT EXISTS p01 ON antt.t FOR SELECT USING p = '01' TO r",
            "CREATE ROW POLICY IF NOT EXISTS p01 ON antt.t_local FOR SELECT USING p = '01' TO r",
        ),
    ],
)
def test_table_grants_and_row_policies_also_cover_the_local_table(
    statement: str, twin: str
) -> None:
    assert to_cluster(statement, "c") == [statement, twin]


def test_other_engines_get_on_cluster_only() -> None:
    statement = "CREATE TABLE antt.j (k UInt8, v String) ENGINE = Join(ANY, LEFT, k)"
    assert to_cluster(statement, "c") == [
        "CREATE TABLE antt.j ON CLUSTER 'c' (k UInt8, v String) ENGINE = Join(ANY, LEFT, k)"
    ]


def test_cluster_name_is_quoted_as_a_literal() -> None:
    [stmt] = to_cluster("CREATE DATABASE antt", "it's")
    assert stmt == "CREATE DATABASE antt ON CLUSTER 'it\\'s'"


def test_split_statements_respects_strings_and_comments() -> None:
    sql = (
        "-- migration 001; do not edit\n"
        "CREATE DATABASE antt;\n"
        "/* a ; in a block comment */\n"
        "CREATE TABLE antt.t (a String DEFAULT ';') ENGINE = Memory;\n"
        "  ;\n-- trailing comment only\n"
    )
    parts = split_statements(sql)
    assert len(parts) == 2
    assert parts[0].endswith("CREATE DATABASE antt")
    assert parts[1].endswith("DEFAULT ';') ENGINE = Memory")


def test_every_statement_of_the_real_migrations_converts() -> None:
    """sinks/ddl/*.sql through to_cluster: no statement refused, every table gets its twin."""
    from sinks.migrate import load_migrations

    migrations = load_migrations()
    assert migrations, "no migration files under sinks/ddl"
    tables = 0
    for migration in migrations:
        for statement in migration.statements("antt", "Asia/Ho_Chi_Minh"):
            converted = to_cluster(statement, "antt")
            assert converted
            if statement.lstrip().upper().startswith("INSERT"):  # data goes through Distributed
                assert converted == [statement]
                continue
            assert all("ON CLUSTER 'antt'" in c for c in converted)
            if "ENGINE = Distributed(" in converted[-1]:
                tables += 1
                assert converted[0].count("_local") >= 1
                assert "Replicated" in converted[0] or "ENGINE = Null" in converted[0]
    assert tables >= 10
