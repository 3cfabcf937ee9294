"""The local ClickHouse-HTTP server over plain HTTP: curl-like use, bad input, concurrency,
keep-alive, clean stop and persistence across restarts."""

from __future__ import annotations

import base64
import http.client
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import clickhouse_connect
import lz4.frame
import pytest

from devstack.chserver.process import ServerProcess, ServerStartError, start_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start_server(tmp_path_factory.mktemp("chserver_http") / "data")
    try:
        yield proc
    finally:
        assert proc.stop() == 0


def fetch(
    server: ServerProcess,
    query: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    **params: str,
) -> tuple[int, dict, bytes]:
    if query is not None:
        params["query"] = query
    url = f"{server.url}/?{urllib.parse.urlencode(params)}"
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - local server
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_ping_and_root(server: ServerProcess) -> None:
    for path in ("/ping", "/"):
        with urllib.request.urlopen(server.url + path, timeout=10) as resp:  # noqa: S310
            assert resp.read() == b"Ok.\n"


def test_curl_like_queries_and_inserts(server: ServerProcess) -> None:
    assert fetch(server, "SELECT 1")[2] == b"1\n"
    status, headers, _ = fetch(server, "SELECT 1")
    assert status == 200 and headers["X-ClickHouse-Format"] == "TabSeparated"
    ddl = b"CREATE TABLE curl_t (a UInt32, s String) ENGINE = MergeTree ORDER BY a"
    assert fetch(server, body=ddl)[0] == 200
    assert fetch(server, body=b'INSERT INTO curl_t FORMAT JSONEachRow\n{"a":1,"s":"x"}\n')[0] == 200
    assert fetch(server, "INSERT INTO curl_t FORMAT TabSeparated", body=b"2\ty\n3\tz\n")[0] == 200
    assert fetch(server, "INSERT INTO curl_t VALUES", body=b"(4, 'w')")[0] == 200
    status, headers, body = fetch(server, body=b"SELECT a, s FROM curl_t ORDER BY a FORMAT CSV")
    assert body == b'1,"x"\n2,"y"\n3,"z"\n4,"w"\n'
    assert json.loads(headers["X-ClickHouse-Summary"])["read_rows"] == "4"
    assert fetch(server, "SELECT {a:UInt8} * 2", param_a="21")[2] == b"42\n"


def test_errors_status_header_and_body(server: ServerProcess) -> None:
    cases = [
        ("SELEC 1", 400, 62),
        ("SELECT * FROM nope", 404, 60),
        ("SELECT * FROM nodb.t", 404, 81),
        ("SELECT throwIf(1)", 500, 395),
    ]
    for query, status, code in cases:
        got_status, headers, body = fetch(server, body=query.encode())
        assert got_status == status, query
        assert headers["X-ClickHouse-Exception-Code"] == str(code)
        assert body.startswith(f"Code: {code}. DB::Exception: ".encode())
        assert body.rstrip().endswith(b"(chdb))")
    status, headers, _ = fetch(server, "SELECT 1", user="default", password="nope")
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (403, "516")
    basic = "Basic " + base64.b64encode(b"default:").decode()
    assert fetch(server, "SELECT 3", headers={"Authorization": basic})[2] == b"3\n"


def test_response_compression_round_trip(server: ServerProcess) -> None:
    q = b"SELECT number FROM numbers(1000) FORMAT TSV"
    _, _, plain = fetch(server, body=q)
    for enc in ("lz4", "zstd", "gzip", "deflate", "br"):
        status, headers, body = fetch(
            server, body=q, headers={"Accept-Encoding": enc}, enable_http_compression="1"
        )
        assert status == 200 and headers["Content-Encoding"] == enc
        assert body != plain
    status, headers, body = fetch(
        server, body=lz4.frame.compress(q), headers={"Content-Encoding": "lz4"}
    )
    assert body == plain


def raw_exchange(server: ServerProcess, payload: bytes, half_close: bool = False) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=15) as sock:
        sock.sendall(payload)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):  # until the server closes the connection
                chunks.append(chunk)
        except TimeoutError:
            pytest.fail("the server hung on malformed input")
        return b"".join(chunks)


def test_bad_input_never_crashes_or_hangs(server: ServerProcess) -> None:
    assert (
        fetch(server, body=b"CREATE TABLE bad_in (a UInt64) ENGINE = MergeTree ORDER BY a")[0]
        == 200
    )
    assert fetch(server, body=b"INSERT INTO bad_in SELECT number FROM numbers(50)")[0] == 200
    native = fetch(server, body=b"SELECT number AS a FROM numbers(1000) FORMAT Native")[2]
    truncated = b"INSERT INTO bad_in (a) FORMAT Native\n" + native[:-3]
    status, headers, _ = fetch(server, body=truncated)
    assert status == 500 and headers["X-ClickHouse-Exception-Code"] == "33"
    status, headers, _ = fetch(
        server, body=b"\x28\xb5\x2f\xfdjunk", headers={"Content-Encoding": "zstd"}
    )
    assert headers["X-ClickHouse-Exception-Code"] == "561"
    status, headers, _ = fetch(server, body=b"x", headers={"Content-Encoding": "snappy"})
    assert headers["X-ClickHouse-Exception-Code"] == "89"
    assert fetch(server, body=bytes(range(256)) * 10)[0] in (400, 500)
    bad_chunks = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n"
    )
    for malformed in (b"GARBAGE\r\n\r\n", bad_chunks):  # HTTP framing errors: ClickHouse form
        answer = raw_exchange(server, malformed)
        assert b" 400 " in answer[:20] and b"X-ClickHouse-Exception-Code: 36\r\n" in answer
        assert b"\r\n\r\nCode: 36. DB::Exception: Cannot read the HTTP request: " in answer
    short = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nSELECT"
    raw_exchange(server, short, half_close=True)  # client gives up mid-body
    assert fetch(server, "SELECT count() FROM bad_in")[2] == b"50\n"


def test_concurrent_clients(server: ServerProcess) -> None:
    admin = clickhouse_connect.get_client(host=server.host, port=server.port)
    admin.command("CREATE TABLE conc (w UInt8, i UInt32) ENGINE = MergeTree ORDER BY (w, i)")

    def work(worker: int) -> int:
        c = clickhouse_connect.get_client(host=server.host, port=server.port)
        for batch in range(5):
            rows = [[worker, batch * 1000 + i] for i in range(1000)]
            c.insert("conc", rows, column_names=["w", "i"])
            assert c.command("SELECT 1") == 1
        return c.command(f"SELECT count() FROM conc WHERE w = {worker}")

    with ThreadPoolExecutor(max_workers=6) as pool:
        counts = list(pool.map(work, range(6)))
    assert counts == [5000] * 6
    assert admin.command("SELECT count() FROM conc") == 30000


def test_ping_answers_while_a_long_query_runs(server: ServerProcess) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(fetch, server, body=b"SELECT sleepEachRow(0.4) FROM numbers(5)")
        while not slow.done():
            started = time.monotonic()
            with urllib.request.urlopen(server.url + "/ping", timeout=10) as resp:  # noqa: S310
                assert resp.read() == b"Ok.\n"
            assert time.monotonic() - started < 1.0
            time.sleep(0.1)
        assert slow.result()[0] == 200


def test_keep_alive(server: ServerProcess) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", "/?query=SELECT%201")
        assert conn.getresponse().read() == b"1\n"
        sock = conn.sock
        for i in range(20):
            conn.request("POST", "/", body=f"SELECT {i}".encode())
            assert conn.getresponse().read() == f"{i}\n".encode()
        conn.request("POST", "/", body=b"SELEC")
        resp = conn.getresponse()
        assert resp.status == 400 and resp.read().startswith(b"Code: 62")
        conn.request("GET", "/ping")
        assert conn.getresponse().read() == b"Ok.\n"
        assert conn.sock is sock  # one connection throughout
    finally:
        conn.close()


def test_restart_keeps_data_and_one_owner_per_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    try:
        c = clickhouse_connect.get_client(host=first.host, port=first.port)
        c.command("CREATE DATABASE antt_p")
        c.command("CREATE TABLE antt_p.kept (a UInt64) ENGINE = MergeTree ORDER BY a")
        c.insert("antt_p.kept", [[i] for i in range(1234)], column_names=["a"])
        with pytest.raises(ServerStartError, match="already served"):
            start_server(data, log_file=tmp_path / "second.log", timeout=30)
    finally:
        assert first.stop() == 0
    assert "stopped" in first.log_file.read_text()
    second = start_server(data)
    try:
        c = clickhouse_connect.get_client(host=second.host, port=second.port)
        assert c.command("SELECT count(), sum(a) FROM antt_p.kept") == ["1234", "760761"]
    finally:
        second.proc.send_signal(signal.SIGINT)
        assert second.proc.wait(20) == 0


def test_cli_refuses_a_bad_users_file(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    users.write_text('{"x": {"readonly": 7}}')
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "devstack.chserver",
            "--port",
            "0",
            "--path",
            str(tmp_path / "data"),
            "--users",
            str(users),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert b"readonly must be 0, 1 or 2" in proc.stderr
