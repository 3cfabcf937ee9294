"""ClickHouse HTTP protocol pieces that need no engine: URL parameters, bodies, compression."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP

import lz4.frame
import zstandard

from devstack.chserver.errors import (
    BAD_ARGUMENTS,
    BROTLI_READ_FAILED,
    LZ4_DECODER_FAILED,
    UNKNOWN_COMPRESSION_METHOD,
    ZLIB_INFLATE_FAILED,
    ZSTD_DECODER_FAILED,
    ChError,
)


def _zstd_compress(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=1).compress(data)


def _zstd_decompress(data: bytes) -> bytes:
    """All frames of ``data`` (clickhouse-connect sends one frame per block)."""
    out = bytearray()
    rest = data
    while rest:
        dec = zstandard.ZstdDecompressor().decompressobj()
        out += dec.decompress(rest)
        if not dec.eof:
            raise ValueError("truncated zstd frame")
        rest = dec.unused_data
    return bytes(out)


try:
    import brotli
except ImportError:  # pragma: no cover - optional
    brotli = None

# URL parameters that steer the HTTP layer; every other non-param_ key is a query setting.
TRANSPORT_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "session_id",
        "session_timeout",
        "session_check",
        "query_id",
        "user",
        "password",
        "quota_key",
        "buffer_size",
        "wait_end_of_query",
        "compress",
        "decompress",
        "enable_http_compression",
        "http_zlib_compression_level",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "client_protocol_version",
        "role",
        "cancel_http_readonly_queries_on_client_close",
        "http_native_compression_disable_checksumming_on_decompress",
        "http_wait_end_of_query",
        "http_response_buffer_size",
        "readonly",
        "add_http_cors_header",
    }
)

RESPONSE_ENCODINGS = ("lz4", "zstd", "gzip", "deflate") + (("br",) if brotli else ())


@dataclass
class RequestParams:
    """The URL (or form) parameters of one request, sorted by role."""

    query: str = ""
    database: str | None = None
    default_format: str | None = None
    session_id: str | None = None
    session_timeout: float = 60.0
    query_id: str | None = None
    user: str | None = None
    password: str | None = None
    compress_response: bool | None = None  # enable_http_compression, if given
    readonly: int = 0
    query_params: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)


def split_params(pairs: Iterable[tuple[str, str]]) -> RequestParams:
    """Sort URL parameters into transport options, ``param_x`` bindings and settings."""
    out = RequestParams()
    for key, value in pairs:
        if key.startswith("param_"):
            out.query_params[key[len("param_") :]] = value
        elif key not in TRANSPORT_PARAMS:
            out.settings[key] = value
        elif key == "query":
            out.query = value
        elif key == "database":
            out.database = value or None
        elif key == "default_format":
            out.default_format = value or None
        elif key == "session_id":
            out.session_id = value or None
        elif key == "session_timeout":
            out.session_timeout = _number(key, value)
        elif key == "query_id":
            out.query_id = value or None
        elif key in ("user", "password"):
            setattr(out, key, value)
        elif key == "enable_http_compression":
            out.compress_response = value.strip().lower() in ("1", "true")
        elif key == "readonly":
            if value not in ("", "0", "1", "2"):
                raise ChError.make(BAD_ARGUMENTS, f"readonly must be 0, 1 or 2, not {value!r}")
            out.readonly = int(value or 0)
    return out


def _number(key: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ChError.make(BAD_ARGUMENTS, f"Invalid value {value!r} for {key}") from None


def parse_form(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """The text fields of a ``multipart/form-data`` body (query and ``param_*`` values)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ChError.make(BAD_ARGUMENTS, "Malformed multipart/form-data body")
    fields: list[tuple[str, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ChError.make(BAD_ARGUMENTS, "multipart part without a name")
        if part.get_filename():
            raise ChError.make(
                BAD_ARGUMENTS, "External data tables are not supported by the local server"
            )
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        fields.append((name, raw.decode("utf-8")))
    return fields


def decompress_body(body: bytes, encoding: str | None) -> bytes:
    """Undo the request's Content-Encoding (lz4/zstd/gzip/deflate/br; frames may repeat)."""
    enc = (encoding or "").strip().lower()
    if enc in ("", "identity"):
        return body
    try:
        if enc == "lz4":
            return _lz4_decompress(body)
        if enc == "zstd":
            return _zstd_decompress(body)
        if enc in ("gzip", "x-gzip"):
            return gzip.decompress(body)
        if enc == "deflate":
            return zlib.decompress(body)
        if enc == "br" and brotli is not None:
            return bytes(brotli.decompress(body))
    except Exception as exc:
        code = {"lz4": LZ4_DECODER_FAILED, "zstd": ZSTD_DECODER_FAILED, "br": BROTLI_READ_FAILED}
        raise ChError.make(
            code.get(enc, ZLIB_INFLATE_FAILED), f"Cannot decompress {enc} request body: {exc}"
        ) from None
    raise ChError.make(UNKNOWN_COMPRESSION_METHOD, f"Unknown HTTP content encoding: {enc!r}")


def _lz4_decompress(body: bytes) -> bytes:
    parts: list[bytes] = []
    rest = body
    while rest:
        dec = lz4.frame.LZ4FrameDecompressor()
        parts.append(dec.decompress(rest))
        if not dec.eof:
            raise ValueError("truncated LZ4 frame")
        rest = dec.unused_data
    return b"".join(parts)


def choose_encoding(accept_encoding: str | None) -> str | None:
    """The response encoding to use for an Accept-Encoding header (None: identity)."""
    offered = set()
    for item in (accept_encoding or "").split(","):
        name, _, params = item.strip().lower().partition(";")
        if name and params.replace(" ", "") not in ("q=0", "q=0.0"):
            offered.add(name)
    for enc in RESPONSE_ENCODINGS:
        if enc in offered:
            return enc
    return None


def compress_body(body: bytes, encoding: str) -> bytes:
    if encoding == "lz4":
        return bytes(lz4.frame.compress(body))
    if encoding == "zstd":
        return bytes(_zstd_compress(body))
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=1)
    if encoding == "deflate":
        return zlib.compress(body, 1)
    if encoding == "br" and brotli is not None:
        return bytes(brotli.compress(body, quality=1))
    raise ValueError(encoding)


_CONTENT_TYPES = {
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TSV": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent",
    "CSVWithNames": "text/csv; charset=UTF-8; header=present",
    "JSON": "application/json; charset=UTF-8",
    "JSONCompact": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
}


def content_type(fmt: str) -> str:
    if fmt in _CONTENT_TYPES:
        return _CONTENT_TYPES[fmt]
    if fmt.startswith(("TabSeparated", "TSV")):
        return _CONTENT_TYPES["TSV"]
    if fmt.startswith("JSON"):
        return "application/json; charset=UTF-8"
    if fmt.startswith(("Pretty", "Vertical", "Markdown", "Values", "CSV")):
        return "text/plain; charset=UTF-8"
    return "application/octet-stream"
