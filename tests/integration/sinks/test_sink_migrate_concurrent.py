"""``antt db migrate`` (and ``antt sink``'s start) run by several processes at the same moment:
one migrates under the lock, the others wait and find nothing left; the result is exact."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sink_helpers import store_then_forget_migration_6

from antt.settings import Settings
from sinks.client import make_client
from sinks.migrate import (
    MigrationLockTimeoutError,
    bootstrap,
    load_migrations,
    migrate,
    migration_lock,
)
from sinks.service import prepare_database

pytestmark = pytest.mark.integration


def _together(n: int, work) -> list:  # noqa: ANN001
    """Run ``work(i)`` in ``n`` threads released at the same instant; results in order."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    assert not any(isinstance(r, Exception) for r in results), results
    return results


def _with_client(settings: Settings, work):  # noqa: ANN001, ANN202
    client = make_client(settings)
    try:
        return work(client)
    finally:
        client.close()


def test_concurrent_starts_on_a_fresh_database_are_exact(isolated: Settings) -> None:
    applied = _together(3, lambda _i: prepare_database(isolated))
    versions = [m.version for m in load_migrations()]
    assert sorted(applied, key=len)[-1] == versions  # one process applied everything
    assert sorted(applied, key=len)[:-1] == [[], []]  # the others found nothing to do
    ch = make_client(isolated, database=isolated.clickhouse_database)
    try:
        counts = {t: int(ch.command(f"SELECT count() FROM {t}")) for t in
                  ("dim_provinces", "dim_communes", "dim_crime_groups")}
        assert counts == {"dim_provinces": 34, "dim_communes": 3321, "dim_crime_groups": 14}
        loads = ch.query("SELECT dimension, count() FROM dim_loads GROUP BY dimension"
                         ).result_rows
        assert {n for _d, n in loads} == {1}, loads
        holders = ch.query("SELECT holder, groupArray(released) FROM schema_lock "
                           "GROUP BY holder").result_rows
        assert [sorted(r) for _h, r in holders] == [[0, 1]] * 3  # each took, released it
        assert int(ch.command("SELECT count() FROM schema_migrations")) == len(versions)
    finally:
        ch.command(f"DROP DATABASE IF EXISTS {isolated.clickhouse_database}")
        ch.close()


def test_concurrent_upgrades_backfill_exactly_once(sink_settings: Settings, ch) -> None:
    # As if version 6 (a table with a backfill) arrived with an upgrade of running sinks:
    store_then_forget_migration_6(ch, sink_settings)
    applied = _together(3, lambda _i: _with_client(sink_settings,
                                                  lambda c: migrate(c, sink_settings)))
    assert sorted(applied) == [[], [], [6]]
    row = ch.query("SELECT sum(received), sum(resolved), sum(instituted) "
                   "FROM official_monthly_province").result_rows[0]
    assert row == (7, 3, 3)


def test_the_backfill_insert_is_stored_once_even_when_run_twice(sink_settings: Settings,
                                                                ch) -> None:
    """Two migrators that both passed the backfill's emptiness check (possible on a real
    cluster without the lock) still store it once: the INSERT carries a fixed token."""
    ch.command("INSERT INTO metrics_monthly_province (month, province_code, metric, detail, "
               "events) VALUES ('2026-11-01', '01', 'received', '', 5)")
    migration = next(m for m in load_migrations() if m.version == 6)
    statements = migration.statements(sink_settings.clickhouse_database, sink_settings.timezone)
    i, backfill = next((i, s) for i, s in enumerate(statements) if s.startswith("INSERT"))
    unguarded = backfill.replace("AND (SELECT count() FROM", "AND 0 = 0 OR (SELECT count() FROM")
    ch.command("TRUNCATE TABLE official_monthly_province")
    token = {"insert_deduplication_token": f"antt-migration:6:{i}"}
    ch.command(unguarded, settings=token)
    # A sink wrote meanwhile (so the second backfill's block differs from the first):
    ch.command("INSERT INTO metrics_monthly_province (month, province_code, metric, detail, "
               "events) VALUES ('2026-11-01', '79', 'received', '', 2)")
    ch.command(unguarded, settings=token)
    assert ch.query("SELECT province_code, sum(received) FROM official_monthly_province "
                    "GROUP BY province_code").result_rows == [("01", 5)]


def test_a_dead_holders_lock_is_taken_over_and_a_live_one_is_waited_for(
        sink_settings: Settings, ch) -> None:
    bootstrap(ch, sink_settings)
    now = datetime.now(UTC)
    last = int(ch.command("SELECT max(attempt) FROM schema_lock"))
    ch.insert("schema_lock", [[last + 1, "dead-host:1", 0, now - timedelta(seconds=30)]],
              column_names=["attempt", "holder", "released", "at"])
    with migration_lock(ch, sink_settings, lease_s=20, wait_s=5) as attempt:
        assert attempt == last + 2
        other = make_client(sink_settings)
        try:
            with pytest.raises(MigrationLockTimeoutError), \
                    migration_lock(other, sink_settings, lease_s=20, wait_s=0.5):
                pass
        finally:
            other.close()
    with migration_lock(ch, sink_settings, wait_s=1) as attempt:  # released: free again
        assert attempt == last + 4
