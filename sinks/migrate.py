"""Versioned DDL: ``sinks/ddl/NNNN_name.sql`` applied in order, each version once.

Every statement is idempotent (``IF NOT EXISTS``), so a run interrupted half-way is simply run
again; a version is recorded in ``<db>.schema_migrations`` only after all its statements
succeeded. Safe to call on every start. With ``settings.clickhouse_cluster`` set, each
statement goes through :func:`sinks.cluster.to_cluster` (ReplicatedMergeTree/Distributed,
``ON CLUSTER``) before it is sent.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from antt.settings import Settings

log = logging.getLogger(__name__)

DDL_DIR = Path(__file__).parent / "ddl"
_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


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


def migrate(client: Client, settings: Settings, now: datetime | None = None) -> list[int]:
    """Apply every migration not yet recorded; returns the versions applied by this call."""
    transform = ddl_transform(settings)
    for statement in _bootstrap(settings):
        for sql in transform(statement):
            client.command(sql)
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
        for statement in migration.statements(settings.clickhouse_database, settings.timezone):
            for sql in transform(statement):
                client.command(sql)
        stamp = now or datetime.now(UTC)
        client.insert(
            f"{settings.clickhouse_database}.schema_migrations",
            [[migration.version, migration.name, migration.checksum, stamp]],
            column_names=["version", "name", "checksum", "applied_at"],
        )
        applied.append(migration.version)
    return applied


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
