"""ClickHouse-style errors: parse chDB's exception text, format the HTTP body, map the status.

A ClickHouse HTTP error is a body ``Code: N. DB::Exception: <message>. (NAME) (version V)``,
the header ``X-ClickHouse-Exception-Code: N`` and an HTTP status chosen from the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CODE_RE = re.compile(r"\bCode:\s*(\d+)")
_NAME_RE = re.compile(r"\(([A-Z][A-Z0-9_]+)\)")
_VERSION_TRAILER_RE = re.compile(r"(?:\s*\(version\s+(?:[^()]|\([^()]*\))*\)\.?)+\s*$")

# Codes this server raises itself (values as in ClickHouse's ErrorCodes).
BAD_ARGUMENTS = 36
SYNTAX_ERROR = 62
UNKNOWN_COMPRESSION_METHOD = 89
READONLY = 164
REQUIRED_PASSWORD = 194
ZLIB_INFLATE_FAILED = 354
BROTLI_READ_FAILED = 448
ZSTD_DECODER_FAILED = 561
LZ4_DECODER_FAILED = 618
AUTHENTICATION_FAILED = 516
UNKNOWN_EXCEPTION = 1002

_NAMES = {
    BAD_ARGUMENTS: "BAD_ARGUMENTS",
    SYNTAX_ERROR: "SYNTAX_ERROR",
    UNKNOWN_COMPRESSION_METHOD: "UNKNOWN_COMPRESSION_METHOD",
    READONLY: "READONLY",
    REQUIRED_PASSWORD: "REQUIRED_PASSWORD",
    ZLIB_INFLATE_FAILED: "ZLIB_INFLATE_FAILED",
    BROTLI_READ_FAILED: "BROTLI_READ_FAILED",
    ZSTD_DECODER_FAILED: "ZSTD_DECODER_FAILED",
    LZ4_DECODER_FAILED: "LZ4_DECODER_FAILED",
    AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED",
    UNKNOWN_EXCEPTION: "UNKNOWN_EXCEPTION",
}

# HTTP status by exception code, following ClickHouse's HTTP handler.
_UNAUTHORIZED = {REQUIRED_PASSWORD}
_FORBIDDEN = {192, 193, AUTHENTICATION_FAILED, 512, 497, READONLY}
_BAD_REQUEST = {
    BAD_ARGUMENTS, 427, 6, 25, 26, 38, 41, 72, 441, 675, 676, 27, 376, 15, 44, 37, 123, 8,
    167, 168, 223, SYNTAX_ERROR, 117, 53, 321, 456, 457,
}
_NOT_FOUND = {60, 46, 47, 50, 56, 81, 115, 152, 63, 73, 336, 78, 511}
_OTHER = {229: 413, 48: 501, 209: 503, 76: 503, 381: 411, 159: 408, 439: 503}


def http_status(code: int) -> int:
    """The HTTP status ClickHouse answers for exception ``code``."""
    if code in _UNAUTHORIZED:
        return 401
    if code in _FORBIDDEN:
        return 403
    if code in _BAD_REQUEST:
        return 400
    if code in _NOT_FOUND:
        return 404
    return _OTHER.get(code, 500)


@dataclass(frozen=True)
class ChError(Exception):
    """An error to answer in ClickHouse's form; ``text`` is the message without a version."""

    code: int
    name: str
    text: str

    def __str__(self) -> str:
        return self.text

    @classmethod
    def make(cls, code: int, message: str) -> ChError:
        """An error raised by this server (not by the engine)."""
        name = _NAMES.get(code, "UNKNOWN_EXCEPTION")
        message = message.rstrip(".")
        return cls(code, name, f"Code: {code}. DB::Exception: {message}. ({name})")

    @classmethod
    def from_engine(cls, exc: BaseException | str) -> ChError:
        """Parse chDB's exception text (``Code: N. DB::Exception: ... (NAME)``)."""
        raw = str(exc).strip()
        raw = re.sub(r"^Streaming insert \w+ failed:\s*", "", raw)
        text = _VERSION_TRAILER_RE.sub("", raw).rstrip()
        code_match = _CODE_RE.search(text)
        names = _NAME_RE.findall(text)
        if code_match is None:
            return cls.make(UNKNOWN_EXCEPTION, text or type(exc).__name__)
        code = int(code_match.group(1))
        name = names[-1] if names else _NAMES.get(code, "UNKNOWN_EXCEPTION")
        if not names:
            text = f"{text} ({name})"
        return cls(code, name, text)

    @property
    def status(self) -> int:
        return http_status(self.code)

    def body(self, version: str) -> bytes:
        """The HTTP response body ClickHouse would send."""
        return f"{self.text} (version {version} (chdb))\n".encode()
