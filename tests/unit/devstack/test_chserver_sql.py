"""Statement routing: where an INSERT's data starts, output formats, SET / USE parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devstack.chserver.errors import ChError
from devstack.chserver.sql import (
    first_keyword,
    format_lookup,
    is_multi_statement,
    output_format,
    parse_set,
    parse_use,
    quote_string,
    split_insert,
    with_readonly,
)

FORMATS = format_lookup(["Native", "TabSeparated", "JSONEachRow", "CSV", "JSON"])


def test_native_insert_first_line_then_binary() -> None:
    data = b"\x02\x03\x01a\x06UInt64\x00\xff\n\x00FORMAT"
    buf = b"INSERT INTO db.t (`a`, `b`) FORMAT Native\n" + data
    split = split_insert(buf)
    assert split is not None
    assert split.statement == "INSERT INTO db.t (`a`, `b`)"
    assert split.fmt == "Native"
    assert buf[split.data_offset :] == data


def test_insert_data_on_same_line_and_crlf() -> None:
    buf = b'INSERT INTO t FORMAT JSONEachRow {"a": 1}'
    split = split_insert(buf)
    assert split is not None and buf[split.data_offset :] == b'{"a": 1}'
    buf = b"INSERT INTO t FORMAT CSV\r\n1,2\n"
    split = split_insert(buf)
    assert split is not None and buf[split.data_offset :] == b"1,2\n"


def test_only_one_line_feed_is_skipped() -> None:
    buf = b"INSERT INTO t FORMAT TabSeparated\n\nx\n"
    split = split_insert(buf)
    assert split is not None and buf[split.data_offset :] == b"\nx\n"


def test_insert_with_settings_comments_and_quoted_names() -> None:
    buf = (
        b'/* c */ insert into `weird FORMAT` ("format", x) -- FORMAT CSV\n'
        b"SETTINGS async_insert=0 format Native\nDATA"
    )
    split = split_insert(buf)
    assert split is not None
    assert split.fmt == "Native"
    assert split.statement.endswith("SETTINGS async_insert=0")
    assert buf[split.data_offset :] == b"DATA"


@pytest.mark.parametrize(
    "text",
    [
        b"INSERT INTO t VALUES (1, 'FORMAT Native')",
        b"INSERT INTO t SELECT * FROM s FORMAT Native",
        b"INSERT INTO t WITH 1 AS x SELECT x",
        b"SELECT 1 FORMAT Native",
        b"CREATE TABLE t (a UInt8) ENGINE = Memory",
        b"",
    ],
)
def test_not_a_data_insert(text: bytes) -> None:
    assert split_insert(text) is None


def test_format_without_name_is_a_syntax_error() -> None:
    with pytest.raises(ChError) as err:
        split_insert(b"INSERT INTO t FORMAT")
    assert err.value.code == 62


@given(st.binary(max_size=200))
def test_data_is_never_parsed(data: bytes) -> None:
    buf = b"INSERT INTO t (a) FORMAT RowBinary\n" + data
    split = split_insert(buf)
    assert split is not None and buf[split.data_offset :] == data


def test_first_keyword_skips_comments() -> None:
    assert first_keyword(b"-- hello\n /* x */ set a = 1") == "SET"
    assert first_keyword(b"  ") == ""


def test_output_format_is_the_top_level_clause() -> None:
    assert output_format("SELECT 1\n FORMAT Native", FORMATS) == "Native"
    assert output_format("select 1 format jsoneachrow", FORMATS) == "JSONEachRow"
    assert output_format("SELECT format FROM t", FORMATS) is None
    assert output_format("SELECT formatRow('CSV', 1)", FORMATS) is None
    assert output_format("SELECT 'FORMAT CSV'", FORMATS) is None
    assert output_format("SELECT 1 FORMAT CSV SETTINGS max_threads = 1", FORMATS) == "CSV"


def test_with_readonly_appends_a_settings_clause() -> None:
    assert with_readonly("SELECT 1 -- note\n", 1) == "SELECT 1 -- note\nSETTINGS readonly=1"
    assert with_readonly("SELECT 1;  ", 2) == "SELECT 1\nSETTINGS readonly=2"


def test_parse_set() -> None:
    assert parse_set("SET a = 1, b = 'it''s', c = DEFAULT, d = true;") == [
        ("a", "1"),
        ("b", "it's"),
        ("c", None),
        ("d", "true"),
    ]
    assert parse_set(r"SET tz = 'Asia\/Ho'") == [("tz", "Asia/Ho")]
    for bad in ("SET", "SET a", "SET a = 1 b = 2", "SELECT 1"):
        with pytest.raises(ChError):
            parse_set(bad)


def test_parse_use() -> None:
    assert parse_use("USE antt;") == "antt"
    assert parse_use("USE `my db`") == "my db"
    with pytest.raises(ChError):
        parse_use("USE")


def test_quote_string() -> None:
    assert quote_string("a'b\\c") == "'a\\'b\\\\c'"


def test_multi_statement_detection() -> None:
    assert not is_multi_statement("SELECT 1;")
    assert not is_multi_statement("SELECT ';' ; -- trailing comment")
    assert is_multi_statement("CREATE DATABASE d; USE d")
    assert is_multi_statement("SELECT 1;;SELECT 2")
