"""The embedded chDB engine behind the HTTP server: one connection, used from one thread.

Per-request state (settings from the URL, the user's profile and the HTTP session; the current
database) is applied to the connection with ``SET`` / ``USE`` just before each statement and
reset when a later request no longer asks for it, so requests never see each other's settings.
The caller serialises access (the server runs every request on one worker thread).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chdb import _chdb

from devstack.chserver.errors import ChError
from devstack.chserver.sql import format_lookup, infile_statement, quote_identifier, quote_string

logger = logging.getLogger(__name__)
# Insert data is spooled to a file for FROM INFILE: memory-backed where the system has it.
_SPOOL_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - mkstemp names

# clickhouse-local defaults that a ClickHouse server does not have (a bare word is not a query).
_SERVER_DEFAULTS = {"implicit_select": "0"}

# chdb's query_class enum (READ_ONLY, MUTATING, MUTATING_GLOBAL, CONTROL, UNKNOWN).
_QUERY_CLASSES = {0: "read", 1: "write", 2: "global_write", 3: "control", 4: "unknown"}

# Settings that are never SET on the shared connection: readonly and allow_ddl cannot be turned
# back once restricted (the handler enforces them per request), and the database is switched
# with USE.
_UNSYNCED = frozenset({"readonly", "allow_ddl", "database"})


@dataclass(frozen=True)
class Outcome:
    """What one statement returned: the formatted bytes and ClickHouse's summary numbers."""

    body: bytes
    read_rows: int = 0
    read_bytes: int = 0
    written_rows: int = 0
    written_bytes: int = 0
    elapsed_ns: int = 0

    def summary(self) -> dict[str, str]:
        """The X-ClickHouse-Summary object (values are strings, as ClickHouse sends them)."""
        return {
            "read_rows": str(self.read_rows),
            "read_bytes": str(self.read_bytes),
            "written_rows": str(self.written_rows),
            "written_bytes": str(self.written_bytes),
            "total_rows_to_read": str(self.read_rows),
            "result_rows": str(self.written_rows or self.read_rows),
            "result_bytes": str(self.written_bytes or len(self.body)),
            "elapsed_ns": str(self.elapsed_ns),
        }


class Engine:
    """A chDB session on ``path`` with settings/database synchronisation."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._conn = _chdb.connect(str(path))  # type: ignore[attr-defined]
        self._applied: dict[str, str] = {}
        row = self._text("SELECT version(), timezone(), currentDatabase()").split("\t")
        self.version, self.timezone, self._database = row[0], row[1], row[2]
        self._home_database = self._database
        formats = self._text("SELECT name FROM system.formats WHERE is_output")
        self.output_formats = format_lookup(formats.splitlines())
        for name, value in _SERVER_DEFAULTS.items():
            self._run(f"SET {quote_identifier(name)} = {quote_string(value)}")
        baseline = self._text("SELECT name, value FROM system.settings WHERE changed")
        self._baseline = dict(line.split("\t", 1) for line in baseline.splitlines() if "\t" in line)

    def _text(self, sql: str) -> str:
        return bytes(self._conn.query(sql, "TabSeparatedRaw").bytes()).decode().rstrip("\n")

    def _run(self, sql: str) -> None:
        try:
            self._conn.query(sql, "TabSeparated")
        except RuntimeError as exc:
            raise ChError.from_engine(exc) from None

    def prepare(self, settings: Mapping[str, str], database: str | None) -> None:
        """Make the connection's settings and current database exactly what a request asks."""
        wanted = {k: v for k, v in settings.items() if k not in _UNSYNCED}
        for name in [n for n in self._applied if n not in wanted]:
            base = self._baseline.get(name)
            value = quote_string(base) if base is not None else "DEFAULT"
            self._run(f"SET {quote_identifier(name)} = {value}")
            del self._applied[name]
        for name, value in wanted.items():
            if self._applied.get(name) != value:
                self._run(f"SET {quote_identifier(name)} = {quote_string(value)}")
                self._applied[name] = value
        target = database or self._home_database
        if target != self._database:
            self._run(f"USE {quote_identifier(target)}")
            self._database = target

    def query_class(self, sql: str) -> str:
        """chDB's classification without running: read, write, global_write, control, unknown.

        ``unknown`` means the SQL does not parse: running it reports the syntax error.
        """
        info = self._conn.classify_query(sql)
        return _QUERY_CLASSES.get(int(info["query_class"]), "unknown")

    def query(self, sql: str, default_format: str, params: Mapping[str, str]) -> Outcome:
        """Run a statement; its own FORMAT clause wins over ``default_format``."""
        try:
            res = self._conn.query(sql, default_format, params=dict(params))
        except RuntimeError as exc:
            raise ChError.from_engine(exc) from None
        return Outcome(
            body=bytes(res.bytes()),
            read_rows=int(res.rows_read()),
            read_bytes=int(res.bytes_read()),
            written_rows=int(res.rows_written()),
            written_bytes=int(res.bytes_written()),
            elapsed_ns=int(float(res.elapsed()) * 1e9),
        )

    def insert(self, statement: str, fmt: str, data: bytes | memoryview) -> Outcome:
        """Insert ``data`` (encoded in ``fmt``) with ``INSERT INTO t (cols)`` and commit.

        The data goes through a file and ``FROM INFILE`` on the query path: chDB's streaming
        insert API reports success for rows that a CHECK constraint or a materialized view
        refused (measured with chdb-core 26.9), the query path raises their error.
        """
        started = time.perf_counter_ns()
        with tempfile.NamedTemporaryFile(dir=_SPOOL_DIR, prefix="chserver-", suffix=".in") as f:
            f.write(data)
            f.flush()
            outcome = self.query(infile_statement(statement, f.name, fmt), "TabSeparated", {})
        return Outcome(
            body=b"",
            written_rows=outcome.written_rows,
            written_bytes=outcome.written_bytes,
            elapsed_ns=time.perf_counter_ns() - started,
        )

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
