"""``antt db migrate`` / ``antt db status``: the ClickHouse schema (ANTT_CLICKHOUSE_DATABASE)."""

from __future__ import annotations

import argparse

from antt.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("db", help="ClickHouse schema: migrate, status")
    actions = parser.add_subparsers(dest="db_action", required=True, metavar="ACTION")
    migrate = actions.add_parser(
        "migrate", help="apply pending DDL versions and reload changed dimensions (idempotent)")
    migrate.set_defaults(func=run_migrate)
    status = actions.add_parser("status", help="list DDL versions: applied, pending, changed")
    status.set_defaults(func=run_status)


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.service import prepare_database

    applied = prepare_database(settings)
    print(f"database {settings.clickhouse_database} at {settings.clickhouse_url}: "
          f"{len(applied)} version(s) applied" + (f" {applied}" if applied else ", up to date"))
    return 0


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.client import make_client
    from sinks.migrate import status

    client = make_client(settings)
    rows = status(client, settings)
    for version, name, state in rows:
        print(f"{version:04d}_{name:<24} {state}")
    return 0 if all(state == "applied" for _v, _n, state in rows) else 1
