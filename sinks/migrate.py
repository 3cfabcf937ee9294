"""Versioned DDL: ``sinks/ddl/NNNN_name.sql`` applied in order, each version once.

Every statement is idempotent (``IF NOT EXISTS``), so a run interrupted half-way is simply run
again; a version is recorded in ``<db>.schema_migrations`` only after all its statements
succeeded. Safe to call on every start. With ``settings.clickhouse_cluster`` set, each
statement goes through :func:`sinks.cluster.to_cluster` (ReplicatedMergeTree/Distributed,
``ON CLUSTER``) before it is sent.

Safe to run from several processes at once (several sinks starting together): the work is done
under :func:`migration_lock`, a lease in ``<db>.schema_lock`` taken with an insert
deduplication token, so one process migrates while the others wait and then find nothing left
to do. A backfilling ``INSERT`` in a DDL file also carries a token of its own
(``antt-migration:<version>:<n>``), so it is stored at most once however it is re-run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from antt.settings import Settings
from sinks.errors import SinkError

log = logging.getLogger(__name__)

DDL_DIR = Path(__file__).parent / "ddl"
_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LEASE_S = 900.0
"""How long a migration lock is honoured without being released (its holder may have died)."""


class MigrationLockTimeoutError(SinkError):
    """Another process held the migration lock longer than this one would wait."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str  # the file's text, placeholders not yet filled

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self, database: str, timezone: str) -> list[str]:
        return split_statements(self.sql.replace("{db}", database).replace("{tz}", timezone))


def split_statements(text: str) -> list[str]:
    """Statements of a DDL file: ``--`` comment lines dropped, split at ``;`` ending a line."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.M)
    return [part.strip() for part in parts if part.strip()]


def load_migrations(ddl_dir: Path = DDL_DIR) -> list[Migration]:
    found = []
    for path in sorted(ddl_dir.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if not match:
            raise ValueError(f"bad DDL file name {path.name}: want NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text("utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate DDL versions in {ddl_dir}")
    return found


def _bootstrap(settings: Settings) -> list[str]:
    db = settings.clickhouse_database
    return [
        f"CREATE DATABASE IF NOT EXISTS {db}",
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations (version UInt32, name String, "
        f"checksum String, applied_at DateTime64(3, 'UTC')) "
        f"ENGINE = ReplacingMergeTree(applied_at) ORDER BY version",
        f"CREATE TABLE IF NOT EXISTS {db}.schema_lock (attempt UInt64, holder String, "
        f"released UInt8, at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY attempt "
        f"SETTINGS non_replicated_deduplication_window = 1000",
    ]


def ddl_transform(settings: Settings) -> Callable[[str], list[str]]:
    """Statement -> what to run: itself, or its cluster form when a cluster is configured."""
    cluster = settings.clickhouse_cluster
    if not cluster:
        return lambda statement: [statement]
    from sinks.cluster import to_cluster  # the deploy engineer's translation to cluster DDL

    return lambda statement: list(to_cluster(statement, cluster))


def applied_versions(client: Client, settings: Settings) -> dict[int, str]:
    """version -> checksum of what the database has recorded."""
    db = settings.clickhouse_database
    rows = client.query(
        f"SELECT version, argMax(checksum, applied_at) FROM {db}.schema_migrations "
        f"GROUP BY version"
    ).result_rows
    return {int(v): str(c) for v, c in rows}


def bootstrap(client: Client, settings: Settings) -> None:
    """The database, the version record and the lock table (idempotent, lock-free)."""
    transform = ddl_transform(settings)
    for statement in _bootstrap(settings):
        for sql in transform(statement):
            client.command(sql)


@contextmanager
def migration_lock(client: Client, settings: Settings, *, lease_s: float = LEASE_S,
                   wait_s: float | None = None, holder: str | None = None,
                   clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Iterator[int]:
    """Hold ``<db>.schema_lock`` for the block; yields the lock's attempt number.

    Taking the lock inserts row ``attempt = last + 1`` with the deduplication token
    ``schema_lock:<attempt>``: of several processes racing for one attempt, ClickHouse stores
    exactly one row, and its holder has the lock. A lock neither released nor younger than
    ``lease_s`` is taken over (its holder died). Waits at most ``wait_s`` (default: a lease
    and a minute), then raises :class:`MigrationLockTimeoutError`.
    """
    bootstrap(client, settings)
    me = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    attempt = _acquire(client, settings, me, lease_s,
                       lease_s + 60 if wait_s is None else wait_s, clock)
    try:
        yield attempt
    finally:
        _lock_row(client, settings, attempt + 1, me, True, clock())


def _acquire(client: Client, settings: Settings, me: str, lease_s: float, wait_s: float,
             clock: Callable[[], datetime]) -> int:
    db = settings.clickhouse_database
    deadline = time.monotonic() + wait_s
    logged = False
    while True:
        rows = client.query(f"SELECT attempt, holder, released, at FROM {db}.schema_lock "
                            f"ORDER BY attempt DESC LIMIT 1").result_rows
        last, holder, released, at = rows[0] if rows else (0, "", 1, clock())
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        if released or (clock() - at).total_seconds() > lease_s:
            _lock_row(client, settings, last + 1, me, False, clock())
            won = client.query(f"SELECT holder FROM {db}.schema_lock "
                               f"WHERE attempt = {int(last) + 1}").result_rows
            if won and won[0][0] == me:
                return int(last) + 1
            continue
        if time.monotonic() > deadline:
            raise MigrationLockTimeoutError(f"{db}.schema_lock held by {holder} since {at}")
        if not logged:
            log.info("waiting for the migration lock of %s (held by %s since %s)", db,
                     holder, at)
            logged = True
        time.sleep(0.2)


def _lock_row(client: Client, settings: Settings, attempt: int, holder: str, released: bool,
              at: datetime) -> None:
    client.insert(f"{settings.clickhouse_database}.schema_lock",
                  [[attempt, holder, int(released), at]],
                  column_names=["attempt", "holder", "released", "at"],
                  settings={"insert_deduplicate": 1,
                            "insert_deduplication_token": f"schema_lock:{attempt}"})


def migrate(client: Client, settings: Settings, now: datetime | None = None) -> list[int]:
    """Apply every migration not yet recorded; returns the versions applied by this call.

    Takes :func:`migration_lock` (use :func:`migrate_locked` when already holding it).
    """
    with migration_lock(client, settings):
        return migrate_locked(client, settings, now)


def migrate_locked(client: Client, settings: Settings, now: datetime | None = None) -> list[int]:
    """:func:`migrate` for a caller that already holds :func:`migration_lock`."""
    transform = ddl_transform(settings)
    bootstrap(client, settings)
    done = applied_versions(client, settings)
    applied = []
    for migration in load_migrations():
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                log.warning("DDL %04d_%s changed after it was applied (checksum %s != %s): "
                            "add a new version instead of editing an applied one",
                            migration.version, migration.name, migration.checksum,
                            done[migration.version])
            continue
        log.info("applying DDL %04d_%s", migration.version, migration.name)
        statements = migration.statements(settings.clickhouse_database, settings.timezone)
        for i, statement in enumerate(statements):
            token = {"insert_deduplication_token": f"antt-migration:{migration.version}:{i}"}
            for sql in transform(statement):
                client.command(sql, settings=token if _is_insert(sql) else None)
        stamp = now or datetime.now(UTC)
        client.insert(
            f"{settings.clickhouse_database}.schema_migrations",
            [[migration.version, migration.name, migration.checksum, stamp]],
            column_names=["version", "name", "checksum", "applied_at"],
        )
        applied.append(migration.version)
    return applied


def _is_insert(sql: str) -> bool:
    return sql.lstrip().upper().startswith("INSERT")


def status(client: Client, settings: Settings) -> list[tuple[int, str, str]]:
    """(version, name, state) for every known migration: applied, pending or changed."""
    try:
        done = applied_versions(client, settings)
    except Exception:  # noqa: BLE001 - no database yet means everything is pending
        done = {}
    out = []
    for migration in load_migrations():
        if migration.version not in done:
            state = "pending"
        elif done[migration.version] != migration.checksum:
            state = "changed"
        else:
            state = "applied"
        out.append((migration.version, migration.name, state))
    return out
