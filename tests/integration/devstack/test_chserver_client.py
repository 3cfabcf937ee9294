"""The local ClickHouse-HTTP server driven by clickhouse-connect with its default settings."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from devstack.chserver.process import ServerProcess, start_server

pytestmark = pytest.mark.integration

ICT = timezone(timedelta(hours=7))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("chserver_client")
    users = root / "users.json"
    users.write_text(
        json.dumps(
            {
                "default": {"password_sha256": hashlib.sha256(b"").hexdigest()},
                "writer": {"password_sha256": hashlib.sha256(b"w-pass").hexdigest()},
                "analyst": {
                    "password_sha256": hashlib.sha256(b"a-pass").hexdigest(),
                    "readonly": 1,
                },
            }
        )
    )
    proc = start_server(root / "data", users=users)
    try:
        yield proc
    finally:
        assert proc.stop() == 0


def client(server: ServerProcess, **kwargs: object):  # noqa: ANN201 - clickhouse-connect Client
    return clickhouse_connect.get_client(host=server.host, port=server.port, **kwargs)


def test_handshake_command_and_query(server: ServerProcess) -> None:
    c = client(server)
    assert c.server_version.startswith("26.")
    assert c.command("SELECT 1") == 1
    assert c.command("SELECT 'a', 2") == ["a", "2"]
    result = c.query("SELECT number, toString(number) AS s FROM numbers(3)")
    assert result.column_names == ("number", "s")
    assert result.result_rows == [(0, "0"), (1, "1"), (2, "2")]
    assert c.ping()
    assert c.command("SELECT 1 WHERE 0") == ""  # a result, empty
    summary = c.command("CREATE TABLE cmd_t (a UInt8) ENGINE = MergeTree ORDER BY a")
    assert not isinstance(summary, str)  # DDL: a QuerySummary, as with a real server
    written = c.command("INSERT INTO cmd_t SELECT number FROM numbers(7)")
    assert written.written_rows == 7


def test_query_parameters(server: ServerProcess) -> None:
    c = client(server)
    when = datetime(2026, 11, 22, 7, 30, tzinfo=UTC)
    rows = c.query(
        "SELECT {n:UInt32} + 1, {s:String}, {ts:DateTime}, {xs:Array(String)}",
        parameters={"n": 41, "s": "it's \\ \u0111\u01b0\u1eddng", "ts": when, "xs": ["a", "b'"]},
    ).result_rows
    assert rows == [(42, "it's \\ \u0111\u01b0\u1eddng", when.replace(tzinfo=None), ["a", "b'"])]
    big = list(range(3000))  # over clickhouse-connect's URL limit: sent as multipart form
    assert c.query("SELECT length({xs:Array(UInt32)})", parameters={"xs": big}).result_rows == [
        (3000,)
    ]


COLUMNS = ["id", "ts", "n", "lc", "u", "d", "arr", "f"]
DDL = (
    "CREATE TABLE {t} (id UInt64, ts DateTime64(3, 'Asia/Ho_Chi_Minh'), n Nullable(Int32), "
    "lc LowCardinality(String), u UUID, d Decimal(18, 4), arr Array(String), f Float64) "
    "ENGINE = MergeTree ORDER BY id"
)


def _rows(k: int) -> list[list[object]]:
    base = datetime(2026, 11, 22, 7, 0, tzinfo=ICT)
    return [
        [
            i,
            base + timedelta(milliseconds=1001 * i),
            None if i % 3 == 0 else -i,
            f"lc{i % 4}",
            uuid.uuid4(),
            Decimal(i) / 8,
            [str(i)] * (i % 3),
            i / 3,
        ]
        for i in range(k)
    ]


@pytest.mark.parametrize("compress", [True, False, "zstd", "gzip", "br"])
def test_insert_types_round_trip(server: ServerProcess, compress: object) -> None:
    c = client(server, compress=compress)
    table = f"types_{uuid.uuid4().hex[:8]}"
    c.command(DDL.format(t=table))
    rows = _rows(2000)
    summary = c.insert(table, rows, column_names=COLUMNS)
    assert summary.written_rows == 2000
    got = c.query(f"SELECT * FROM {table} ORDER BY id").result_rows
    assert len(got) == 2000
    for want, have in zip(rows, got, strict=True):
        assert have[0] == want[0] and have[2:] == tuple(want[2:])
        assert have[1] == want[1]  # aware datetimes compare by instant
        assert str(have[1].tzinfo) == "Asia/Ho_Chi_Minh"


def test_column_oriented_insert_and_dedup_token(server: ServerProcess) -> None:
    c = client(server)
    c.command(
        "CREATE TABLE dedup (a UInt64) ENGINE = MergeTree ORDER BY a "
        "SETTINGS non_replicated_deduplication_window = 100"
    )
    for _ in range(2):
        c.insert(
            "dedup",
            [list(range(10))],
            column_names=["a"],
            column_oriented=True,
            settings={"insert_deduplication_token": "batch-1"},
        )
    c.insert(
        "dedup",
        [list(range(10))],
        column_names=["a"],
        column_oriented=True,
        settings={"insert_deduplication_token": "batch-2"},
    )
    assert c.command("SELECT count() FROM dedup") == 20


def test_refused_rows_fail_the_insert(server: ServerProcess) -> None:
    """A CHECK constraint or a failing materialized view fails the insert, as on a server.

    (chDB's streaming insert API reported success for such rows and dropped them.)
    """
    c = client(server)
    c.command("CREATE TABLE checked (a UInt32, CONSTRAINT big CHECK a > 5) "
              "ENGINE = MergeTree ORDER BY a")
    with pytest.raises(DatabaseError) as err:
        c.insert("checked", [[1], [7]], column_names=["a"])
    assert err.value.code == 469  # VIOLATED_CONSTRAINT
    assert c.command("SELECT count() FROM checked") == 0
    c.command("CREATE TABLE fed (a UInt32) ENGINE = MergeTree ORDER BY a")
    c.command("CREATE TABLE src (a UInt32) ENGINE = MergeTree ORDER BY a")
    c.command("CREATE MATERIALIZED VIEW feed TO fed AS "
              "SELECT a + throwIf(a = 9, 'refused') AS a FROM src")
    with pytest.raises(DatabaseError) as err:
        c.insert("src", [[8], [9]], column_names=["a"], settings={"async_insert": 0})
    assert err.value.code == 395  # FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
    assert c.command("SELECT count() FROM fed") == 0
    c.insert("checked", [[6], [7]], column_names=["a"])
    assert c.command("SELECT count() FROM checked") == 2


def test_errors_carry_the_code(server: ServerProcess) -> None:
    c = client(server)
    cases = [
        ("SELECT * FROM missing_table", 60),
        ("SELEC 1", 62),
        ("SELECT * FROM missing_db.t", 81),
        ("SELECT throwIf(1, 'boom')", 395),
    ]
    for query, code in cases:
        with pytest.raises(DatabaseError) as err:
            c.query(query)
        assert err.value.code == code, query
        assert f"Code: {code}" in str(err.value)
    with pytest.raises(DatabaseError) as err:
        c.command("CREATE TABLE bad (a UInt8) ENGINE = NoSuchEngine")
    assert err.value.code == 56
    assert c.command("SELECT 2") == 2  # still serving


def test_users_and_readonly(server: ServerProcess) -> None:
    writer = client(server, username="writer", password="w-pass")
    writer.command("CREATE TABLE shared (a UInt8) ENGINE = MergeTree ORDER BY a")
    writer.insert("shared", [[1], [2]], column_names=["a"])
    analyst = client(server, username="analyst", password="a-pass")
    assert analyst.command("SELECT count() FROM shared") == 2
    with pytest.raises(DatabaseError) as err:
        analyst.insert("shared", [[3]], column_names=["a"])
    assert err.value.code == 164
    for ddl in ("DROP TABLE shared", "TRUNCATE TABLE shared", "ALTER TABLE shared DELETE WHERE 1"):
        with pytest.raises(DatabaseError) as err:
            analyst.command(ddl)
        assert err.value.code == 164, ddl
    assert writer.command("SELECT count() FROM shared") == 2
    with pytest.raises(DatabaseError) as err:
        client(server, username="writer", password="wrong")
    assert err.value.code == 516
    with pytest.raises(DatabaseError) as err:
        client(server, username="nobody", password="")
    assert err.value.code == 516


def test_session_settings_and_database(server: ServerProcess) -> None:
    c = client(server)
    c.command("CREATE DATABASE IF NOT EXISTS antt_s")
    c.command("SET max_block_size = 4321")
    assert c.command("SELECT getSetting('max_block_size')") == 4321
    other = client(server, database="antt_s")
    assert other.command("SELECT currentDatabase()") == "antt_s"
    assert other.command("SELECT getSetting('max_block_size')") != 4321
    other.command("CREATE TABLE in_s (a UInt8) ENGINE = Memory")
    assert c.command("EXISTS TABLE antt_s.in_s") == 1


def test_raw_insert_and_raw_query(server: ServerProcess) -> None:
    c = client(server)
    c.command("CREATE TABLE raw_t (a UInt8, s String) ENGINE = MergeTree ORDER BY a")
    c.raw_insert("raw_t", ["a", "s"], "1,x\n2,y\n", fmt="CSV")
    assert c.raw_query("SELECT * FROM raw_t ORDER BY a FORMAT CSV") == b'1,"x"\n2,"y"\n'


def test_settings_file_path_is_not_leaking(server: ServerProcess, tmp_path: Path) -> None:
    """A failing query leaves the data intact and the next request sees default settings."""
    c = client(server)
    c.command("CREATE TABLE intact (a UInt64) ENGINE = MergeTree ORDER BY a")
    c.insert("intact", [[i] for i in range(100)], column_names=["a"])
    with pytest.raises(DatabaseError):
        c.insert("intact", [["not a number"]], column_names=["a"], column_type_names=["String"])
    with pytest.raises(DatabaseError):
        c.command("SELECT 1", settings={"max_result_rows": "not-a-number"})
    assert c.command("SELECT count() FROM intact") == 100


async def test_async_client(server: ServerProcess) -> None:
    c = await clickhouse_connect.get_async_client(host=server.host, port=server.port)
    try:
        await c.command(
            "CREATE TABLE async_t (a UInt32, s LowCardinality(String)) "
            "ENGINE = MergeTree ORDER BY a"
        )
        summary = await c.insert(
            "async_t", [[i, f"s{i % 3}"] for i in range(5000)], column_names=["a", "s"]
        )
        assert summary.written_rows == 5000
        result = await c.query("SELECT s, count() FROM async_t GROUP BY s ORDER BY s")
        assert result.result_rows == [("s0", 1667), ("s1", 1667), ("s2", 1666)]
        with pytest.raises(DatabaseError) as err:
            await c.query("SELECT * FROM async_missing")
        assert err.value.code == 60
    finally:
        await c.close()
