"""Sink errors and the retry decision, made from ClickHouse's numeric error codes.

clickhouse-connect raises ``DatabaseError`` whose text starts with ``Code: N.`` (the server's
code); network failures surface as ``OperationalError`` (or ``OSError``). The sink never
decides from message wording, only from the code.
"""

from __future__ import annotations

import re
import struct
from enum import Enum

from clickhouse_connect.driver.exceptions import DataError

_CODE_RE = re.compile(r"Code:\s*(\d+)")
_NAME_RE = re.compile(r"\(([A-Z][A-Z0-9_]+)\)")


class SinkError(Exception):
    """Base of the sink's own errors."""


class Verdict(Enum):
    RETRY = "retry"  # transient: back off and send the same batch again
    DATA = "data"  # the rows are at fault: bisect, dead-letter the bad ones
    FATAL = "fatal"  # configuration/schema problem: keep retrying slowly, log loudly


# Transient server states: overload, timeouts, read-only replicas, too many parts, memory.
RETRYABLE_CODES = frozenset({
    3,    # UNEXPECTED_END_OF_FILE (connection cut mid-stream)
    159,  # TIMEOUT_EXCEEDED
    160,  # TOO_SLOW
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    203,  # NO_FREE_CONNECTION
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    236,  # ABORTED
    241,  # MEMORY_LIMIT_EXCEEDED
    242,  # TABLE_IS_READ_ONLY
    252,  # TOO_MANY_PARTS
    285,  # TOO_FEW_LIVE_REPLICAS
    319,  # UNKNOWN_STATUS_OF_INSERT
    394,  # QUERY_WAS_CANCELLED
    425,  # SYSTEM_ERROR
    439,  # CANNOT_SCHEDULE_TASK
    999,  # KEEPER_EXCEPTION
    1002,  # UNKNOWN_EXCEPTION (the local server's catch-all for engine hiccups)
})

# The data itself is rejected: parsing, types, ranges, constraints.
DATA_CODES = frozenset({
    6,    # CANNOT_PARSE_TEXT
    26,   # CANNOT_PARSE_QUOTED_STRING
    27,   # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    32,   # ATTEMPT_TO_READ_AFTER_EOF
    33,   # CANNOT_READ_ALL_DATA
    38,   # CANNOT_PARSE_DATE
    41,   # CANNOT_PARSE_DATETIME
    53,   # TYPE_MISMATCH
    69,   # ARGUMENT_OUT_OF_BOUND
    70,   # CANNOT_CONVERT_TYPE
    72,   # CANNOT_PARSE_NUMBER
    117,  # INCORRECT_DATA
    190,  # SIZES_OF_ARRAYS_DONT_MATCH
    321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
    376,  # CANNOT_PARSE_UUID
    469,  # VIOLATED_CONSTRAINT
})


# Raised by clickhouse-connect while serialising values, before anything reaches the server.
CLIENT_DATA_ERRORS: tuple[type[BaseException], ...] = (
    TypeError, ValueError, OverflowError, struct.error, DataError,
)


def error_code(exc: BaseException) -> int | None:
    """ClickHouse's numeric code carried by ``exc`` (``None`` for network-level failures)."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    match = _CODE_RE.search(str(exc))
    return int(match.group(1)) if match else None


def error_name(exc: BaseException) -> str:
    match = _NAME_RE.search(str(exc))
    return match.group(1) if match else type(exc).__name__


def classify(exc: BaseException) -> Verdict:
    """Retry, bisect-and-dead-letter, or stop, from the exception's ClickHouse code."""
    code = error_code(exc)
    if code is None:
        if isinstance(exc, CLIENT_DATA_ERRORS):
            # The client could not serialise a value (out of range for its column type).
            return Verdict.DATA
        # No server code: connection refused/reset, timeout, HTTP 5xx without a body.
        return Verdict.RETRY
    if code in RETRYABLE_CODES:
        return Verdict.RETRY
    if code in DATA_CODES:
        return Verdict.DATA
    return Verdict.FATAL
