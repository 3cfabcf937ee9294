"""The request handler end to end on a real chDB engine, without sockets."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import lz4.frame
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from devstack.chserver.auth import User, default_users
from devstack.chserver.engine import Engine
from devstack.chserver.handler import Handler, HttpRequest, HttpResponse
from devstack.chserver.protocol import decompress_body


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    eng = Engine(tmp_path_factory.mktemp("chserver") / "data")
    try:
        yield eng
    finally:
        eng.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def handler(engine: Engine, clock: Clock) -> Handler:
    users = dict(default_users())
    users["ro"] = User("ro", hashlib.sha256(b"pw").hexdigest(), readonly=1)
    users["ro2"] = User(
        "ro2", hashlib.sha256(b"pw").hexdigest(), readonly=2, settings={"max_threads": "1"}
    )
    return Handler(engine, users, clock=clock)


def call(
    h: Handler,
    method: str = "POST",
    body: bytes = b"",
    path: str = "/",
    headers: dict[str, str] | None = None,
    **params: str,
) -> HttpResponse:
    return h.handle(
        HttpRequest(method, path, list(params.items()), CIMultiDict(headers or {}), body)
    )


def ok(resp: HttpResponse) -> bytes:
    assert resp.status == 200, resp.body
    return resp.body


def test_ping_and_bare_root(handler: Handler) -> None:
    assert ok(call(handler, "GET", path="/ping")) == b"Ok.\n"
    assert ok(call(handler, "GET")) == b"Ok.\n"
    assert call(handler, "GET", path="/nope").status == 400


def test_get_select_defaults_to_tab_separated(handler: Handler) -> None:
    resp = call(handler, "GET", query="SELECT 1 AS one, 'a\tb' AS s")
    assert ok(resp) == b"1\ta\\tb\n"
    assert resp.headers["X-ClickHouse-Format"] == "TabSeparated"
    assert resp.headers["X-ClickHouse-Timezone"]
    summary = json.loads(resp.headers["X-ClickHouse-Summary"])
    assert summary["read_rows"] == "1"


def test_query_in_body_and_format_clause(handler: Handler) -> None:
    resp = call(handler, body=b"SELECT number FROM numbers(2) FORMAT JSONEachRow")
    assert ok(resp) == b'{"number":0}\n{"number":1}\n'
    assert resp.headers["X-ClickHouse-Format"] == "JSONEachRow"
    resp = call(handler, body=b"SELECT 1", default_format="CSVWithNames")
    assert ok(resp) == b'"1"\n1\n'


def test_parameters_are_bound_server_side(handler: Handler) -> None:
    resp = call(handler, body=b"SELECT {a:UInt8} + 1, {s:String}", param_a="41", param_s="it's")
    assert ok(resp) == b"42\tit\\'s\n"  # TabSeparated escapes the quote
    missing = call(handler, body=b"SELECT {a:UInt8}")
    assert (missing.status, missing.headers["X-ClickHouse-Exception-Code"]) == (400, "456")
    bad = call(handler, body=b"SELECT {a:UInt8}", param_a="x")
    assert (bad.status, bad.headers["X-ClickHouse-Exception-Code"]) == (400, "457")


def test_inserts_in_all_shapes(handler: Handler) -> None:
    ddl = call(handler, body=b"CREATE TABLE ins (a UInt32, s String) ENGINE = MergeTree ORDER BY a")
    assert ok(ddl) == b"" and "X-ClickHouse-Format" not in ddl.headers
    ok(call(handler, body=b'INSERT INTO ins FORMAT JSONEachRow\n{"a":1,"s":"x"}\n'))
    ok(call(handler, query="INSERT INTO ins FORMAT CSV", body=b"2,y\n3,z\n"))
    ok(call(handler, body=b"INSERT INTO ins VALUES (4, 'w')"))
    native = ok(
        call(
            handler,
            body=b"SELECT toUInt32(number + 10) AS a, toString(number) AS s "
            b"FROM numbers(1000) FORMAT Native",
        )
    )
    body = lz4.frame.compress(b"INSERT INTO ins (a, s) FORMAT Native\n" + native)
    resp = call(handler, body=body, headers={"Content-Encoding": "lz4"})
    assert ok(resp) == b"" and "X-ClickHouse-Format" not in resp.headers
    assert json.loads(resp.headers["X-ClickHouse-Summary"])["written_rows"] == "1000"
    assert ok(call(handler, body=b"SELECT count(), sum(a) FROM ins")) == b"1004\t509510\n"


def test_errors_in_clickhouse_form(handler: Handler) -> None:
    resp = call(handler, body=b"SELEC 1")
    assert resp.status == 400 and resp.headers["X-ClickHouse-Exception-Code"] == "62"
    assert resp.body.startswith(b"Code: 62. DB::Exception: Syntax error")
    assert resp.body.endswith(
        b"(SYNTAX_ERROR) (version " + handler.engine.version.encode() + b" (chdb))\n"
    )
    resp = call(handler, body=b"SELECT * FROM no_such_table")
    assert (resp.status, resp.headers["X-ClickHouse-Exception-Code"]) == (404, "60")
    resp = call(handler, body=b"SELECT 1", database="no_such_db")
    assert (resp.status, resp.headers["X-ClickHouse-Exception-Code"]) == (404, "81")
    resp = call(handler, body=b"")
    assert resp.status == 400


def test_authentication(handler: Handler) -> None:
    resp = call(
        handler, body=b"SELECT 1", headers={"X-ClickHouse-User": "ro", "X-ClickHouse-Key": "bad"}
    )
    assert (resp.status, resp.headers["X-ClickHouse-Exception-Code"]) == (403, "516")
    assert b"(AUTHENTICATION_FAILED)" in resp.body
    assert call(handler, body=b"SELECT 1", user="ghost").status == 403
    assert ok(call(handler, body=b"SELECT 1", user="ro", password="pw")) == b"1\n"


def test_readonly_user_cannot_write(handler: Handler) -> None:
    ok(call(handler, body=b"CREATE TABLE IF NOT EXISTS rot (a UInt8) ENGINE = Memory"))
    for stmt in (
        b"INSERT INTO rot VALUES (1)",
        b"DROP TABLE rot",
        b"INSERT INTO rot FORMAT CSV\n1\n",
        b"CREATE TABLE x (a UInt8) ENGINE=Memory",
    ):
        resp = call(handler, body=stmt, user="ro", password="pw")
        assert (resp.status, resp.headers["X-ClickHouse-Exception-Code"]) == (500, "164"), stmt
    assert ok(call(handler, body=b"SELECT count() FROM rot", user="ro", password="pw")) == b"0\n"
    resp = call(handler, body=b"SELEC 1", user="ro", password="pw")  # parse errors stay 62
    assert resp.headers["X-ClickHouse-Exception-Code"] == "62"
    resp = call(handler, body=b"SELECT 1 SETTINGS max_threads = 1", user="ro", password="pw")
    assert resp.headers.get("X-ClickHouse-Exception-Code") == "164"
    body = b"SELECT getSetting('max_threads') SETTINGS max_threads = 2"
    assert ok(call(handler, body=body, user="ro2", password="pw")) == b"2\n"


def test_get_implies_readonly(handler: Handler) -> None:
    resp = call(handler, "GET", query="CREATE TABLE g (a UInt8) ENGINE = Memory")
    assert resp.headers["X-ClickHouse-Exception-Code"] == "164"
    assert b"method GET implies readonly" in resp.body


def test_settings_do_not_leak_between_requests(handler: Handler) -> None:
    q = b"SELECT getSetting('max_block_size')"
    default = ok(call(handler, body=q))
    assert ok(call(handler, body=q, max_block_size="1234")) == b"1234\n"
    assert ok(call(handler, body=q)) == default
    assert (
        ok(call(handler, body=b"SELECT getSetting('max_threads')", user="ro2", password="pw"))
        == b"1\n"
    )
    resp = call(handler, body=b"SELECT 1", no_such_setting="1")
    assert resp.headers["X-ClickHouse-Exception-Code"] == "115"


def test_query_settings_clause_and_multi_statements_do_not_leak(handler: Handler) -> None:
    q = b"SELECT getSetting('max_block_size'), currentDatabase()"
    default = ok(call(handler, body=q))
    ok(call(handler, body=b"SELECT 1 SETTINGS max_block_size = 99"))
    assert ok(call(handler, body=q)) == default
    ok(call(handler, body=b"CREATE DATABASE IF NOT EXISTS multi_db"))
    resp = call(handler, body=b"SELECT 1; USE multi_db")
    assert resp.headers["X-ClickHouse-Exception-Code"] == "62"
    assert ok(call(handler, body=q)) == default
    via_header = call(handler, body=q, headers={"X-ClickHouse-Database": "multi_db"})
    assert ok(via_header).endswith(b"\tmulti_db\n")


def test_allow_ddl_zero_refuses_ddl_without_poisoning_the_engine(handler: Handler) -> None:
    resp = call(handler, body=b"CREATE TABLE nd (a UInt8) ENGINE = Memory", allow_ddl="0")
    assert resp.headers["X-ClickHouse-Exception-Code"] == "392"
    ok(call(handler, body=b"SET allow_ddl = 0", session_id="noddl"))
    resp = call(handler, body=b"DROP TABLE IF EXISTS nd", session_id="noddl")
    assert resp.headers["X-ClickHouse-Exception-Code"] == "392"
    ok(call(handler, body=b"CREATE TABLE nd (a UInt8) ENGINE = Memory"))
    ok(call(handler, body=b"DROP TABLE nd"))


def test_session_set_and_use(handler: Handler, clock: Clock) -> None:
    q = b"SELECT getSetting('max_block_size'), currentDatabase()"
    ok(call(handler, body=b"CREATE DATABASE IF NOT EXISTS sess_db"))
    ok(call(handler, body=b"SET max_block_size = 777", session_id="s1"))
    ok(call(handler, body=b"USE sess_db", session_id="s1"))
    assert ok(call(handler, body=q, session_id="s1")) == b"777\tsess_db\n"
    assert ok(call(handler, body=q, session_id="s2")).endswith(b"\tdefault\n")
    ok(call(handler, body=b"SET max_block_size = 5"))  # no session: no lasting effect
    assert not ok(call(handler, body=q)).startswith(b"5\t")
    clock.now += 3600
    assert ok(call(handler, body=q, session_id="s1")).endswith(b"\tdefault\n")
    resp = call(handler, body=b"SET nonsense_setting = 1", session_id="s3")
    assert resp.headers["X-ClickHouse-Exception-Code"] == "115"
    resp = call(handler, body=b"SET readonly = 'x'", session_id="s3", query_id="q-7")
    assert resp.headers["X-ClickHouse-Exception-Code"] == "36"
    assert resp.headers["X-ClickHouse-Query-Id"] == "q-7"
    ok(call(handler, body=b"SET readonly = 1", session_id="s3"))
    resp = call(handler, body=b"CREATE TABLE s3t (a UInt8) ENGINE = Memory", session_id="s3")
    assert resp.headers["X-ClickHouse-Exception-Code"] == "164"


def test_response_compression_only_when_asked(handler: Handler) -> None:
    q = b"SELECT number FROM numbers(100)"
    plain = ok(call(handler, body=q))
    off = call(handler, body=q, headers={"Accept-Encoding": "gzip"}, enable_http_compression="0")
    assert ok(off) == plain and "Content-Encoding" not in off.headers
    default_on = call(handler, body=q, headers={"Accept-Encoding": "gzip"})
    assert decompress_body(ok(default_on), default_on.headers["Content-Encoding"]) == plain
    resp = call(
        handler, body=q, headers={"Accept-Encoding": "zstd, gzip"}, enable_http_compression="1"
    )
    assert resp.headers["Content-Encoding"] == "zstd"
    assert decompress_body(ok(resp), "zstd") == plain


def test_bad_input_leaves_data_intact(handler: Handler) -> None:
    ok(call(handler, body=b"CREATE TABLE keep (a UInt64) ENGINE = MergeTree ORDER BY a"))
    ok(call(handler, body=b"INSERT INTO keep SELECT number FROM numbers(10)"))
    native = ok(call(handler, body=b"SELECT number AS a FROM numbers(100) FORMAT Native"))
    cut = b"INSERT INTO keep (a) FORMAT Native\n" + native[: len(native) // 2]
    resp = call(handler, body=cut)
    assert resp.status == 500 and resp.headers["X-ClickHouse-Exception-Code"] == "33"
    resp = call(handler, body=b"\x00\xffgarbage", headers={"Content-Encoding": "lz4"})
    assert resp.headers["X-ClickHouse-Exception-Code"] == "618"
    resp = call(handler, body=b"\x00\xff\xfe garbage")
    assert resp.status in (400, 500) and "X-ClickHouse-Exception-Code" in resp.headers
    resp = call(handler, body=b"INSERT INTO keep (a) FORMAT JSONEachRow\n{not json\n")
    assert resp.status >= 400
    assert ok(call(handler, body=b"SELECT count() FROM keep")) == b"10\n"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=300),
    encoding=st.sampled_from([None, "lz4", "zstd", "gzip", "br", "deflate", "bogus"]),
    prefix=st.sampled_from(
        [
            b"",
            b"INSERT INTO keep2 (a) FORMAT Native\n",
            b"SELECT ",
            b"INSERT INTO keep2 FORMAT JSONEachRow\n",
            b"SET ",
        ]
    ),
    method=st.sampled_from(["GET", "POST"]),
    params=st.dictionaries(
        st.sampled_from(
            [
                "query",
                "param_x",
                "max_threads",
                "session_id",
                "database",
                "default_format",
                "readonly",
            ]
        ),
        st.text(max_size=20),
        max_size=3,
    ),
)
def test_fuzzed_requests_always_get_an_answer(
    handler: Handler,
    body: bytes,
    encoding: str | None,
    prefix: bytes,
    method: str,
    params: dict[str, str],
) -> None:
    ok(call(handler, body=b"CREATE TABLE IF NOT EXISTS keep2 (a UInt64) ENGINE = Memory"))
    headers = {"Content-Encoding": encoding} if encoding else {}
    resp = call(handler, method, prefix + body, headers=headers, **params)
    assert resp.status in (200, 400, 401, 403, 404, 411, 413, 500, 501, 503)
    if resp.status != 200:
        assert resp.headers["X-ClickHouse-Exception-Code"].isdigit()
        assert resp.body.startswith(b"Code: ")
    assert ok(call(handler, body=b"SELECT 1")) == b"1\n"
