"""The versioned DDL files: naming, idempotent statements, placeholders, cluster form."""

from __future__ import annotations

import re

from sinks.cluster import to_cluster
from sinks.migrate import DDL_DIR, load_migrations, split_statements


def test_versions_are_contiguous_from_one() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def _columns(body: str) -> list[str]:
    """Column definitions of a CREATE TABLE body (split at commas outside parentheses)."""
    out, depth, start = [], 0, 0
    for i, char in enumerate(body):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            out.append(body[start:i].strip())
            start = i + 1
    return [*out, body[start:].strip()]


def _set_tables() -> set[str]:
    """Tables into which inserting the same rows twice stores nothing new: an
    AggregatingMergeTree whose every column but the key is a set, a min or a max."""
    out = set()
    for migration in load_migrations():
        for statement in migration.statements("antt_x", "Asia/Ho_Chi_Minh"):
            match = re.match(r"CREATE TABLE IF NOT EXISTS antt_x\.(\w+)\s*\((.*)\)\s*"
                             r"ENGINE = AggregatingMergeTree\s+ORDER BY \(([^)]*)\)",
                             statement, flags=re.S)
            if not match:
                continue
            key = {k.strip() for k in match.group(3).split(",")}
            if all(column.split()[0] in key or re.match(
                    r"\w+\s+SimpleAggregateFunction\((groupUniqArrayArray|min|max),", column)
                   for column in _columns(match.group(2))):
                out.add(match.group(1))
    return out


def test_every_statement_is_idempotent_and_filled_in() -> None:
    sets = _set_tables()
    assert {"incidents", "incident_communes"} <= sets
    for migration in load_migrations():
        for statement in migration.statements("antt_x", "Asia/Ho_Chi_Minh"):
            if statement.startswith("INSERT"):  # a backfill must guard itself
                target = re.match(r"INSERT INTO antt_x\.(\w+)", statement)
                assert target, statement[:80]
                if target.group(1) not in sets:  # (or insert into a set: twice is once)
                    assert re.search(r"\(SELECT count\(\) FROM \S+\) = 0", statement)
                continue
            assert re.match(r"CREATE (DATABASE|TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS "
                            r"|CREATE OR REPLACE VIEW "
                            r"|ALTER TABLE \S+\s+ADD (INDEX|COLUMN) IF NOT EXISTS ",
                            statement), statement[:80]
            assert "{db}" not in statement and "{tz}" not in statement
            assert "antt_x." in statement or statement.startswith("CREATE DATABASE")


def test_every_statement_has_a_cluster_form() -> None:
    for migration in load_migrations():
        for statement in migration.statements("antt", "Asia/Ho_Chi_Minh"):
            out = to_cluster(statement, "main")
            if statement.startswith("INSERT"):  # goes through the Distributed tables
                assert out == [statement]
                continue
            assert out and all("ON CLUSTER" in s for s in out), statement[:80]


def test_split_statements_drops_comments_and_splits_at_line_ends() -> None:
    text = "-- a comment; with a semicolon\nCREATE TABLE a (x String DEFAULT ';');\n\nSELECT 1;\n"
    assert split_statements(text) == ["CREATE TABLE a (x String DEFAULT ';')", "SELECT 1"]


def test_file_names_follow_the_pattern() -> None:
    for path in DDL_DIR.glob("*"):
        assert re.match(r"^\d{4}_[a-z0-9_]+\.sql$", path.name), path.name


def test_checksum_changes_with_the_text() -> None:
    first = load_migrations()[0]
    assert first.checksum == type(first)(first.version, first.name, first.sql).checksum
    assert first.checksum != type(first)(first.version, first.name, first.sql + " ").checksum
