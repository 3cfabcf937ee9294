"""Roles (deploy/clickhouse/roles.sql). chDB has access control switched off, so: every
statement must parse (EXPLAIN AST on the real local server), and the local server, started with
deploy/clickhouse/local-users.json, enforces read-only for analyst and dashboard credentials
through ClickHouse's ``readonly`` setting."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from antt.settings import Settings
from devstack.stack import free_port
from sinks.client import make_client
from sinks.errors import error_code
from sinks.migrate import split_statements
from sinks.service import prepare_database

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
ROLES = ROOT / "deploy" / "clickhouse" / "roles.sql"
USERS = ROOT / "deploy" / "clickhouse" / "local-users.json"


def test_every_roles_statement_parses(ch) -> None:
    statements = split_statements(ROLES.read_text())
    kinds = {s.split()[0] + " " + s.split()[1] for s in statements}
    assert {"CREATE ROLE", "GRANT SELECT", "GRANT INSERT", "CREATE ROW",
            "CREATE USER", "CREATE SETTINGS"} <= kinds
    for statement in statements:
        ast = ch.command(f"EXPLAIN AST {statement}")
        assert ast, statement


def test_row_policies_cover_every_fact_table_with_a_province(ch) -> None:
    """Dimensions are public reference data; every fact or aggregate table needs a policy."""
    text = ROLES.read_text()
    tables = [r[0] for r in ch.query(
        "SELECT table FROM system.columns WHERE database = currentDatabase() "
        "AND name = 'province_code' AND table NOT LIKE 'dim_%' "
        "AND table IN (SELECT name FROM system.tables "
        "WHERE database = currentDatabase() AND engine LIKE '%MergeTree%')").result_rows]
    assert tables
    for table in tables:
        assert f"ON antt.{table}\n" in text, f"no row policy on {table}"


@pytest.fixture(scope="module")
def users_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second local ClickHouse server started with the users file (its own data dir)."""
    root = tmp_path_factory.mktemp("chusers")
    port = free_port()
    log = open(root / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.chserver", "--port", str(port), "--path",
         str(root / "data"), "--users", str(USERS)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/ping", timeout=1):  # noqa: S310
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((root / "server.log").read_text()) from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.mark.parametrize("user", ["analyst", "dashboard", "analyst_hanoi"])
def test_readers_cannot_write(stack: Settings, users_server: str, user: str) -> None:
    admin = stack.model_copy(update={"clickhouse_url": users_server})
    prepare_database(admin)
    reader = admin.model_copy(update={"clickhouse_user": user})
    client = make_client(reader, database=admin.clickhouse_database)
    try:
        assert int(client.command("SELECT count() FROM dim_provinces")) == 34
        for sql in ("INSERT INTO dim_crime_groups VALUES ('x', 'I', 'x', 0)",
                    "CREATE TABLE sneaky (x UInt8) ENGINE = Memory",
                    "TRUNCATE TABLE dim_provinces",
                    "DROP TABLE events_raw"):
            with pytest.raises(Exception) as caught:  # noqa: B017,PT011
                client.command(sql)
            assert error_code(caught.value) == 164, sql  # READONLY
        with pytest.raises(Exception) as caught:  # noqa: B017,PT011
            client.insert("dim_crime_groups", [["x", "I", "x", 0]],
                          column_names=["crime_group", "chapter", "name_vi", "social_order"])
        assert error_code(caught.value) == 164
        assert int(client.command("SELECT count() FROM dim_crime_groups")) == 14
    finally:
        client.close()
