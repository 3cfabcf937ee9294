"""The versioned DDL files: naming, idempotent statements, placeholders, cluster form."""

from __future__ import annotations

import re

from sinks.cluster import to_cluster
from sinks.migrate import DDL_DIR, load_migrations, split_statements


def test_versions_are_contiguous_from_one() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_every_statement_is_idempotent_and_filled_in() -> None:
    for migration in load_migrations():
        for statement in migration.statements("antt_x", "Asia/Ho_Chi_Minh"):
            if statement.startswith("INSERT"):  # a backfill must guard itself
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
