"""Retry, bisect or stop: decided from ClickHouse's numeric error code only."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError

from sinks.errors import Verdict, classify, error_code, error_name


def _server(code: int, name: str) -> DatabaseError:
    return DatabaseError(f"Received ClickHouse exception, code: {code}, server response: "
                         f"Code: {code}. DB::Exception: something. ({name}) (version 26.9)")


@pytest.mark.parametrize(("code", "name"), [
    (159, "TIMEOUT_EXCEEDED"), (202, "TOO_MANY_SIMULTANEOUS_QUERIES"), (252, "TOO_MANY_PARTS"),
    (242, "TABLE_IS_READ_ONLY"), (241, "MEMORY_LIMIT_EXCEEDED"), (209, "SOCKET_TIMEOUT"),
])
def test_transient_server_states_are_retried(code: int, name: str) -> None:
    exc = _server(code, name)
    assert classify(exc) is Verdict.RETRY
    assert error_code(exc) == code and error_name(exc) == name


@pytest.mark.parametrize("code", [6, 26, 27, 53, 70, 72, 117, 376, 469])
def test_data_errors_bisect(code: int) -> None:
    assert classify(_server(code, "X")) is Verdict.DATA


@pytest.mark.parametrize("code", [60, 47, 164, 516])
def test_schema_and_permission_errors_are_fatal(code: int) -> None:
    assert classify(_server(code, "X")) is Verdict.FATAL


def test_network_failures_without_a_code_are_retried() -> None:
    assert classify(OperationalError("Error HTTPConnectionPool: connection refused")) \
        is Verdict.RETRY
    assert classify(ConnectionResetError()) is Verdict.RETRY
    assert error_code(OSError("boom")) is None


def test_values_the_client_cannot_serialise_are_data_errors() -> None:
    assert classify(DataError("bad value")) is Verdict.DATA
    assert classify(OverflowError("int too big")) is Verdict.DATA
