"""``antt db migrate``: versioned, idempotent, recorded; dimensions loaded once."""

from __future__ import annotations

import pytest

from antt.settings import Settings
from sinks.client import make_client
from sinks.migrate import load_migrations, migrate, status
from sinks.service import prepare_database

pytestmark = pytest.mark.integration


def test_migrate_twice_applies_nothing_the_second_time(sink_settings: Settings, ch) -> None:
    versions = [m.version for m in load_migrations()]
    recorded = [r[0] for r in ch.query(
        "SELECT version FROM schema_migrations ORDER BY version").result_rows]
    assert recorded == versions
    assert prepare_database(sink_settings) == []
    assert migrate(ch, sink_settings) == []
    assert {state for _v, _n, state in status(ch, sink_settings)} == {"applied"}


def test_a_fresh_database_is_pending_then_applied(isolated: Settings) -> None:
    client = make_client(isolated)
    try:
        assert {s for _v, _n, s in status(client, isolated)} == {"pending"}
        assert migrate(client, isolated) == [m.version for m in load_migrations()]
        assert {s for _v, _n, s in status(client, isolated)} == {"applied"}
    finally:
        client.command(f"DROP DATABASE IF EXISTS {isolated.clickhouse_database}")
        client.close()


def test_dimensions_hold_the_reference_data(ch) -> None:
    def count(table: str, where: str = "1") -> int:
        return int(ch.command(f"SELECT count() FROM {table} WHERE {where}"))

    assert count("dim_provinces") == 34
    assert count("dim_communes") == 3321
    assert count("dim_crime_groups") == 14
    assert count("dim_legacy_units", "unambiguous = 0") > 0  # split communes are flagged
    assert count("dim_reporting_calendar", "date = '2026-11-20'") == 4
    stat = ch.query("SELECT period_start, period_end, period_label FROM dim_reporting_calendar "
                    "WHERE date = '2026-11-20' AND period_type = 'stat_month'").result_rows
    assert [(str(a), str(b), c) for a, b, c in stat] == [("2026-11-15", "2026-12-14", "2026-12")]


def test_every_table_and_view_exists(ch) -> None:
    names = {r[0] for r in ch.query("SELECT name FROM system.tables "
                                    "WHERE database = currentDatabase()").result_rows}
    assert {"events_raw", "events_retracted", "corrections", "incidents", "incidents_current",
            "metrics_daily", "metrics_daily_province", "metrics_monthly_province",
            "official_monthly_province",
            "metrics_by_period", "official_metrics_by_period", "on_time_by_period",
            "backlog_current", "dim_provinces", "dim_communes", "dim_legacy_units",
            "dim_crime_groups", "dim_reporting_calendar"} <= names


def test_a_new_aggregate_is_backfilled_from_existing_data(sink_settings: Settings, ch) -> None:
    from sink_helpers import store_then_forget_migration_6

    # As if version 6 had not existed when the data came in:
    store_then_forget_migration_6(ch, sink_settings)
    assert migrate(ch, sink_settings) == [6]
    row = ch.query("SELECT sum(received), sum(resolved), sum(instituted) "
                   "FROM official_monthly_province").result_rows[0]
    assert row == (7, 3, 3)
    assert migrate(ch, sink_settings) == []  # and never twice
    assert ch.query("SELECT sum(received) FROM official_monthly_province").result_rows == [(7,)]
