"""The compose ClickHouse config and the cluster form of roles.sql, on the real engine (chDB).

chDB loads deploy/compose/clickhouse/config.d/antt.xml and users.d/antt.xml like a server
node would (from_env substitution, config.d/users.d merging): the macros, the 2 x 2 cluster
and the default profile are read back from system tables. Not checked here: the replicated
user directory and Keeper connectivity (chDB only lists users_xml), and the removal of the
``default`` user (chDB always logs in as ``default``, so the test copy keeps it).
roles.sql in cluster form is parsed statement by statement (chDB has access control off, so
CREATE ROLE/GRANT can be parsed but not run).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "deploy" / "compose" / "clickhouse"
RUNNER = Path(__file__).with_name("chdb_runner.py")
USERS_XML = (
    "<clickhouse><profiles><default/></profiles><users><default><password/>"
    "<networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota>"
    "</default></users><quotas><default/></quotas></clickhouse>"
)


def run(tmp: Path, config: Path, statements: list[str], env: dict[str, str]) -> list[dict]:
    out = tmp / "out.json"
    job = {
        "path": str(tmp / "db"),
        "config": str(config),
        "out": str(out),
        "steps": [{"sql": s, "stop_on_error": False} for s in statements],
    }
    proc = subprocess.run(
        [sys.executable, str(RUNNER)],
        input=json.dumps(job),
        text=True,
        capture_output=True,
        timeout=240,
        env={**os.environ, **env},
    )
    assert out.exists(), f"chDB child failed (rc={proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(out.read_text("utf-8"))


def test_compose_clickhouse_config_loads_with_macros_cluster_and_profile(tmp_path: Path) -> None:
    conf = tmp_path / "etc"
    (conf / "config.d").mkdir(parents=True)
    (conf / "users.d").mkdir()
    (conf / "config.xml").write_text("<clickhouse><tcp_port>9000</tcp_port></clickhouse>")
    (conf / "users.xml").write_text(USERS_XML)
    shutil.copy(COMPOSE / "config.d" / "antt.xml", conf / "config.d" / "antt.xml")
    users = (COMPOSE / "users.d" / "antt.xml").read_text("utf-8")
    assert '<default remove="remove"/>' in users
    (conf / "users.d" / "antt.xml").write_text(users.replace('<default remove="remove"/>', ""))
    env = {
        "CH_SHARD": "02",
        "CH_REPLICA": "ch-s2r1",
        "CH_CLUSTER_SECRET": "s3cret",
        "CH_ADMIN_PASSWORD": "x" * 20,
    }
    macros, clusters, profile = run(
        tmp_path,
        conf / "config.xml",
        [
            "SELECT macro, substitution FROM system.macros ORDER BY macro",
            "SELECT shard_num, replica_num, host_name, port FROM system.clusters "
            "WHERE cluster = 'antt' ORDER BY shard_num, replica_num",
            "SELECT name, value FROM system.settings WHERE name IN ('distributed_product_mode', "
            "'distributed_foreground_insert', 'insert_quorum', "
            "'deduplicate_blocks_in_dependent_materialized_views')"
            " ORDER BY name",
        ],
        env,
    )
    assert macros == {
        "ok": True,
        "data": [["cluster", "antt"], ["replica", "ch-s2r1"], ["shard", "02"]],
    }
    assert clusters["data"] == [
        [1, 1, "ch-s1r1", 9000],
        [1, 2, "ch-s1r2", 9000],
        [2, 1, "ch-s2r1", 9000],
        [2, 2, "ch-s2r2", 9000],
    ]
    assert profile["data"] == [
        ["deduplicate_blocks_in_dependent_materialized_views", "1"],
        ["distributed_foreground_insert", "1"],
        ["distributed_product_mode", "global"],
        ["insert_quorum", "auto"],
    ]


def apply_roles_module():  # noqa: ANN201 - a module loaded from deploy/
    path = ROOT / "deploy" / "clickhouse" / "apply_roles.py"
    spec = importlib.util.spec_from_file_location("apply_roles", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_roles_sql_in_cluster_form_parses(tmp_path: Path) -> None:
    module = apply_roles_module()
    statements = module.role_statements(
        (ROOT / "deploy" / "clickhouse" / "roles.sql").read_text("utf-8"), "antt"
    )
    assert not any("change-me" in s for s in statements)
    assert "GRANT CLUSTER ON *.* TO antt_migrator" in statements
    (tmp_path / "c.xml").write_text("<clickhouse/>")
    results = run(tmp_path, tmp_path / "c.xml", [f"EXPLAIN AST {s}" for s in statements], {})
    failed = [
        (s[:100], r.get("error", "")[:200])
        for s, r in zip(statements, results, strict=True)
        if not r["ok"]
    ]
    assert not failed
