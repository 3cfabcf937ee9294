"""URL parameters, request-body decoding, response compression, errors, users (no engine)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from pathlib import Path

import brotli
import lz4.frame
import pytest
import zstandard
from multidict import CIMultiDict

from devstack.chserver import protocol
from devstack.chserver.auth import authenticate, credentials, default_users, load_users
from devstack.chserver.errors import ChError, http_status


def test_split_params_sorts_roles() -> None:
    p = protocol.split_params(
        [
            ("query", "SELECT 1"),
            ("database", "antt"),
            ("session_id", "s1"),
            ("session_timeout", "30"),
            ("query_id", "q1"),
            ("param_x", "5"),
            ("wait_end_of_query", "1"),
            ("send_progress_in_http_headers", "1"),
            ("enable_http_compression", "1"),
            ("date_time_input_format", "best_effort"),
            ("max_threads", "2"),
            ("default_format", "JSON"),
            ("readonly", "1"),
        ]
    )
    assert (p.query, p.database, p.session_id, p.query_id) == ("SELECT 1", "antt", "s1", "q1")
    assert p.session_timeout == 30 and p.compress_response and p.readonly == 1
    assert p.default_format == "JSON"
    assert p.query_params == {"x": "5"}
    assert p.settings == {"date_time_input_format": "best_effort", "max_threads": "2"}


def test_split_params_rejects_bad_numbers() -> None:
    for bad in (("session_timeout", "soon"), ("readonly", "nan"), ("readonly", "3")):
        with pytest.raises(ChError) as err:
            protocol.split_params([bad])
        assert err.value.code == 36


PAYLOAD = b"INSERT INTO t FORMAT Native\n" + bytes(range(256)) * 100


@pytest.mark.parametrize(
    ("encoding", "compressed"),
    [
        ("lz4", lz4.frame.compress(PAYLOAD[:1000]) + lz4.frame.compress(PAYLOAD[1000:])),
        (
            "zstd",
            zstandard.ZstdCompressor().compress(PAYLOAD[:999])
            + zstandard.ZstdCompressor().compress(PAYLOAD[999:]),
        ),
        ("gzip", gzip.compress(PAYLOAD)),
        ("deflate", zlib.compress(PAYLOAD)),
        ("br", brotli.compress(PAYLOAD)),
        ("identity", PAYLOAD),
        (None, PAYLOAD),
    ],
)
def test_decompress_multi_frame_bodies(encoding: str | None, compressed: bytes) -> None:
    assert protocol.decompress_body(compressed, encoding) == PAYLOAD


@pytest.mark.parametrize(
    ("encoding", "code"),
    [("lz4", 618), ("zstd", 561), ("gzip", 354), ("deflate", 354), ("br", 448), ("snappy", 89)],
)
def test_bad_compression_is_a_clickhouse_error(encoding: str, code: int) -> None:
    with pytest.raises(ChError) as err:
        protocol.decompress_body(b"definitely not compressed", encoding)
    assert err.value.code == code


@pytest.mark.parametrize("encoding", ["lz4", "zstd", "gzip"])
def test_truncated_frame_is_refused(encoding: str) -> None:
    frame = protocol.compress_body(PAYLOAD, encoding)
    with pytest.raises(ChError):
        protocol.decompress_body(frame[: len(frame) // 2], encoding)


def test_response_encoding_choice_and_round_trip() -> None:
    assert protocol.choose_encoding("lz4,zstd,gzip,deflate") == "lz4"
    assert protocol.choose_encoding("gzip, deflate") == "gzip"
    assert protocol.choose_encoding("zstd;q=0, gzip") == "gzip"
    assert protocol.choose_encoding(None) is None
    assert protocol.choose_encoding("snappy") is None
    assert protocol.choose_encoding("br") == "br"
    for enc in ("lz4", "zstd", "gzip", "deflate", "br"):
        assert protocol.decompress_body(protocol.compress_body(PAYLOAD, enc), enc) == PAYLOAD


def test_multipart_form_fields() -> None:
    boundary = "xYz"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="query"\r\n\r\n'
        "SELECT {a:String}\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="param_a"\r\n\r\n'
        "h\u00e9llo\r\n--" + boundary + "--\r\n"
    ).encode()
    fields = protocol.parse_form(body, f"multipart/form-data; boundary={boundary}")
    assert fields == [("query", "SELECT {a:String}"), ("param_a", "h\u00e9llo")]


def test_multipart_external_data_is_refused() -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="t"; filename="t.tsv"\r\n\r\n1\r\n--b--\r\n'
    )
    with pytest.raises(ChError):
        protocol.parse_form(body, "multipart/form-data; boundary=b")


def test_content_types() -> None:
    assert protocol.content_type("Native") == "application/octet-stream"
    assert protocol.content_type("TabSeparated").startswith("text/tab-separated-values")
    assert protocol.content_type("JSONCompactEachRow").startswith("application/json")


def test_engine_error_text_is_parsed() -> None:
    err = ChError.from_engine(
        RuntimeError(
            "Code: 164. DB::Exception: Code: 164. DB::Exception: Cannot modify 'x' setting in "
            "readonly mode. (READONLY) (version 26.9.2.1). (READONLY)"
        )
    )
    assert (err.code, err.name, err.status) == (164, "READONLY", 500)
    body = err.body("26.9.2.1").decode()
    assert body.startswith("Code: 164. DB::Exception:")
    assert body.endswith("(READONLY) (version 26.9.2.1 (chdb))\n")
    assert body.count("(version") == 1


def test_engine_error_without_code_or_name() -> None:
    err = ChError.from_engine(RuntimeError("segment of text"))
    assert err.code == 1002 and "(UNKNOWN_EXCEPTION)" in err.text
    err = ChError.from_engine("Code: 60. DB::Exception: Table x does not exist")
    assert err.name == "UNKNOWN_TABLE" and err.text.endswith("(UNKNOWN_TABLE)")


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (62, 400),
        (36, 400),
        (60, 404),
        (81, 404),
        (47, 404),
        (516, 403),
        (164, 500),  # as ClickHouse: READONLY is not among its 403 codes
        (497, 403),
        (194, 401),
        (33, 500),
        (241, 500),
        (48, 501),
    ],
)
def test_status_mapping(code: int, status: int) -> None:
    assert http_status(code) == status


def _users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.json"
    path.write_text(
        json.dumps(
            {
                "writer": {"password_sha256": hashlib.sha256(b"s3cret").hexdigest()},
                "analyst": {
                    "password_sha256": hashlib.sha256(b"ro").hexdigest(),
                    "readonly": 1,
                    "settings": {"max_threads": 1, "use_query_cache": True},
                },
            }
        )
    )
    return path


def test_users_file_and_authentication(tmp_path: Path) -> None:
    users = load_users(_users_file(tmp_path))
    assert authenticate(users, "writer", "s3cret").readonly == 0
    analyst = authenticate(users, "analyst", "ro")
    assert analyst.readonly == 1
    assert dict(analyst.settings) == {"max_threads": "1", "use_query_cache": "1"}
    for name, password in (("writer", "wrong"), ("default", ""), ("nobody", "x")):
        with pytest.raises(ChError) as err:
            authenticate(users, name, password)
        assert (err.value.code, err.value.status) == (516, 403)


def test_default_users_allow_default_without_password() -> None:
    assert authenticate(default_users(), "default", "").readonly == 0
    with pytest.raises(ChError):
        authenticate(default_users(), "default", "x")


def test_bad_users_file(tmp_path: Path) -> None:
    path = tmp_path / "u.json"
    path.write_text(json.dumps({"x": {"readonly": 5}}))
    with pytest.raises(ValueError, match="readonly"):
        load_users(path)


def test_credentials_sources() -> None:
    headers = CIMultiDict({"x-clickhouse-user": "u", "X-ClickHouse-Key": "k"})
    assert credentials(headers, None, None) == ("u", "k")
    basic = "Basic " + base64.b64encode(b"writer:pa:ss").decode()
    assert credentials(CIMultiDict({"Authorization": basic}), None, None) == ("writer", "pa:ss")
    assert credentials(CIMultiDict(), "p", "q") == ("p", "q")
    assert credentials(CIMultiDict(), None, None) == ("default", "")
    for bad in ("Basic !!!", "Bearer eyJhbGciOi"):
        with pytest.raises(ChError) as err:
            credentials(CIMultiDict({"Authorization": bad}), None, None)
        assert err.value.code == 516
