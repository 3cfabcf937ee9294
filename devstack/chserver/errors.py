"""ClickHouse-style errors: parse chDB's exception text, format the HTTP body, map the status.

A ClickHouse HTTP error is a body ``Code: N. DB::Exception: <message>. (NAME) (version V)``,
the header ``X-ClickHouse-Exception-Code: N`` and an HTTP status chosen from the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CODE_RE = re.compile(r"\bCode:\s*(\d+)")
_NAME_RE = re.compile(r"\(([A-Z][A-Z0-9_]+)\)")
_VERSION_RE = re.compile(r"\s*\(version\s+(?:[^()]|\([^()]*\))*\)")
_NESTED_PREFIX_RE = re.compile(r"^(Code: \d+\. DB::Exception: )(?:Code: \d+\. DB::Exception: )+")
_TRAILING_NAMES_RE = re.compile(r"(?:\.?\s*\([A-Z][A-Z0-9_]+\))+\.?\s*$")

# Codes this server raises itself (values as in ClickHouse's ErrorCodes).
BAD_ARGUMENTS = 36
SYNTAX_ERROR = 62
UNKNOWN_COMPRESSION_METHOD = 89
READONLY = 164
QUERY_IS_PROHIBITED = 392
REQUIRED_PASSWORD = 194
ZLIB_INFLATE_FAILED = 354
BROTLI_READ_FAILED = 448
ZSTD_DECODER_FAILED = 561
LZ4_DECODER_FAILED = 618
AUTHENTICATION_FAILED = 516
UNKNOWN_EXCEPTION = 1002

_NAMES = {
    6: "CANNOT_PARSE_TEXT",
    8: "THERE_IS_NO_COLUMN",
    15: "DUPLICATE_COLUMN",
    25: "CANNOT_PARSE_ESCAPE_SEQUENCE",
    26: "CANNOT_PARSE_QUOTED_STRING",
    27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
    33: "CANNOT_READ_ALL_DATA",
    BAD_ARGUMENTS: "BAD_ARGUMENTS",
    37: "UNKNOWN_ELEMENT_IN_AST",
    38: "CANNOT_PARSE_DATE",
    41: "CANNOT_PARSE_DATETIME",
    44: "ILLEGAL_COLUMN",
    46: "UNKNOWN_FUNCTION",
    47: "UNKNOWN_IDENTIFIER",
    48: "NOT_IMPLEMENTED",
    50: "UNKNOWN_TYPE",
    53: "TYPE_MISMATCH",
    56: "UNKNOWN_STORAGE",
    57: "TABLE_ALREADY_EXISTS",
    60: "UNKNOWN_TABLE",
    SYNTAX_ERROR: "SYNTAX_ERROR",
    63: "UNKNOWN_AGGREGATE_FUNCTION",
    72: "CANNOT_PARSE_NUMBER",
    73: "UNKNOWN_FORMAT",
    76: "CANNOT_OPEN_FILE",
    78: "UNKNOWN_TYPE_OF_QUERY",
    81: "UNKNOWN_DATABASE",
    UNKNOWN_COMPRESSION_METHOD: "UNKNOWN_COMPRESSION_METHOD",
    115: "UNKNOWN_SETTING",
    117: "INCORRECT_DATA",
    123: "UNKNOWN_TYPE_OF_AST_NODE",
    152: "UNKNOWN_DIRECTION_OF_SORTING",
    159: "TIMEOUT_EXCEEDED",
    READONLY: "READONLY",
    167: "TOO_DEEP_AST",
    168: "TOO_BIG_AST",
    192: "UNKNOWN_USER",
    193: "WRONG_PASSWORD",
    REQUIRED_PASSWORD: "REQUIRED_PASSWORD",
    209: "SOCKET_TIMEOUT",
    223: "UNEXPECTED_AST_STRUCTURE",
    229: "QUERY_IS_TOO_LARGE",
    241: "MEMORY_LIMIT_EXCEEDED",
    321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
    336: "UNKNOWN_DATABASE_ENGINE",
    ZLIB_INFLATE_FAILED: "ZLIB_INFLATE_FAILED",
    376: "CANNOT_PARSE_UUID",
    381: "HTTP_LENGTH_REQUIRED",
    QUERY_IS_PROHIBITED: "QUERY_IS_PROHIBITED",
    427: "CANNOT_COMPILE_REGEXP",
    439: "CANNOT_SCHEDULE_TASK",
    441: "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
    BROTLI_READ_FAILED: "BROTLI_READ_FAILED",
    456: "UNKNOWN_QUERY_PARAMETER",
    457: "BAD_QUERY_PARAMETER",
    497: "ACCESS_DENIED",
    511: "UNKNOWN_ROLE",
    512: "SET_NON_GRANTED_ROLE",
    AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED",
    ZSTD_DECODER_FAILED: "ZSTD_DECODER_FAILED",
    LZ4_DECODER_FAILED: "LZ4_DECODER_FAILED",
    675: "CANNOT_PARSE_IPV4",
    676: "CANNOT_PARSE_IPV6",
    UNKNOWN_EXCEPTION: "UNKNOWN_EXCEPTION",
}

# HTTP status by exception code, following ClickHouse's HTTP handler (exceptionCodeToHTTPStatus):
# authentication and ACCESS_DENIED are 403; READONLY (164) is not in its list, so a real server
# answers it with 500.
_UNAUTHORIZED = {REQUIRED_PASSWORD}
_FORBIDDEN = {192, 193, AUTHENTICATION_FAILED, 512, 497}
_BAD_REQUEST = {
    BAD_ARGUMENTS,
    427,
    6,
    25,
    26,
    38,
    41,
    72,
    441,
    675,
    676,
    27,
    376,
    15,
    44,
    37,
    123,
    8,
    167,
    168,
    223,
    SYNTAX_ERROR,
    117,
    53,
    321,
    456,
    457,
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
        text = _NESTED_PREFIX_RE.sub(r"\1", _VERSION_RE.sub("", raw)).strip()
        code_match = _CODE_RE.search(text)
        names = _NAME_RE.findall(text)
        if code_match is None:
            return cls.make(UNKNOWN_EXCEPTION, text or type(exc).__name__)
        code = int(code_match.group(1))
        name = names[-1] if names else _NAMES.get(code, "UNKNOWN_EXCEPTION")
        text = _TRAILING_NAMES_RE.sub("", text).rstrip().rstrip(".")
        text = f"{text}. ({name})"
        return cls(code, name, text)

    @property
    def status(self) -> int:
        return http_status(self.code)

    def body(self, version: str) -> bytes:
        """The HTTP response body ClickHouse would send."""
        return f"{self.text} (version {version} (chdb))\n".encode()
