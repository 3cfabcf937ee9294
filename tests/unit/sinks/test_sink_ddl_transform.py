"""Statements the sink runs outside the migration files also get their cluster form."""

from __future__ import annotations

from antt.settings import load_settings
from sinks.migrate import ddl_transform


def test_single_node_statements_run_as_written():
    transform = ddl_transform(load_settings())
    assert transform("TRUNCATE TABLE IF EXISTS antt.dim_provinces") == [
        "TRUNCATE TABLE IF EXISTS antt.dim_provinces"
    ]


def test_dimension_truncate_reaches_the_shards_on_a_cluster():
    """TRUNCATE of the Distributed table would leave every shard's rows in place."""
    transform = ddl_transform(load_settings(clickhouse_cluster="antt"))
    [statement] = transform("TRUNCATE TABLE IF EXISTS antt.dim_provinces")
    assert "antt.dim_provinces_local" in statement
    assert "ON CLUSTER" in statement
