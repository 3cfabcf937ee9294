"""deploy/compose/kafka/*.sh run against stub Kafka tools: what they write and call.

The Kafka image is not available here, so the Kafka command-line tools are stubs that log
their arguments; the scripts themselves run for real under /bin/sh.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
KAFKA = ROOT / "deploy" / "compose" / "kafka"
TOOLS = [
    "kafka-storage.sh",
    "kafka-server-start.sh",
    "kafka-topics.sh",
    "kafka-configs.sh",
    "kafka-acls.sh",
]


@pytest.fixture
def kafka_home(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "home" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in TOOLS:
        stub = bin_dir / tool
        stub.write_text(
            f'#!/bin/sh\nfor a in "$@"; do printf "%s\\037" "$a"; done '
            f'>> "{tmp_path}/calls"; printf "{tool}\\n" >> "{tmp_path}/calls"\n'
        )
        stub.chmod(0o755)
    return tmp_path


def calls(tmp: Path) -> list[tuple[str, list[str]]]:
    out = []
    for line in (tmp / "calls").read_text().splitlines():
        *args, tool = line.split("\x1f")
        out.append((tool, args))
    return out


def run(script: str, tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ["PATH"],
        "KAFKA_HOME": str(tmp / "home"),
        "KAFKA_WORK": str(tmp),
        "TLS_DIR": "/run/secrets",
    }
    return subprocess.run(
        ["sh", str(KAFKA / script)], env={**base, **env}, capture_output=True, text=True, timeout=30
    )


def test_start_formats_once_with_the_admin_scram_credential(kafka_home: Path) -> None:
    data = kafka_home / "data"
    data.mkdir()
    env = {
        "KAFKA_NODE_ID": "2",
        "KAFKA_CLUSTER_ID": "abcdefghijklmnopqrstuv",
        "KAFKA_ADMIN_PASSWORD": "pa55word",
        "KAFKA_DATA": str(data),
    }
    result = run("start.sh", kafka_home, **env)
    assert result.returncode == 0, result.stderr
    (fmt, fmt_args), (start, start_args) = calls(kafka_home)
    assert fmt == "kafka-storage.sh" and fmt_args[0] == "format"
    assert fmt_args[fmt_args.index("--cluster-id") + 1] == "abcdefghijklmnopqrstuv"
    assert fmt_args[fmt_args.index("--add-scram") + 1] == (
        "SCRAM-SHA-512=[name=admin,password=pa55word]"
    )
    assert start == "kafka-server-start.sh" and start_args == [
        str(kafka_home / "server.properties")
    ]
    props = dict(
        line.split("=", 1)
        for line in (kafka_home / "server.properties").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert props["node.id"] == "2"
    assert props["advertised.listeners"] == "SASL_SSL://kafka-2:9092"
    assert props["log.dirs"] == str(data)
    assert props["ssl.principal.mapping.rules"] == "RULE:^CN=([^,]+).*$/$1/,DEFAULT"
    assert (
        'username="admin" password="pa55word";'
        in props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    )
    assert 'password="pa55word"' in (kafka_home / "client.properties").read_text()
    # a second start of a formatted node does not format again
    (data / "meta.properties").write_text("formatted")
    (kafka_home / "calls").unlink()
    assert run("start.sh", kafka_home, **env).returncode == 0
    assert [tool for tool, _ in calls(kafka_home)] == ["kafka-server-start.sh"]


def test_start_refuses_to_run_without_its_secrets(kafka_home: Path) -> None:
    result = run("start.sh", kafka_home, KAFKA_NODE_ID="1", KAFKA_CLUSTER_ID="x")
    assert result.returncode != 0 and "KAFKA_ADMIN_PASSWORD" in result.stderr


def test_init_creates_users_topics_and_acls_as_topics_yaml_says(kafka_home: Path) -> None:
    passwords = {
        f"KAFKA_{n}_PASSWORD": f"pw-{n.lower()}"
        for n in ("ADMIN", "WORKER", "SINK", "GATEWAY", "PRODUCER", "MONITOR")
    }
    result = run("init.sh", kafka_home, **passwords)
    assert result.returncode == 0, result.stderr
    made = calls(kafka_home)
    [spec] = yaml.safe_load_all((ROOT / "deploy" / "topics.yaml").read_text())
    users = {
        a[a.index("--entity-name") + 1]: a[a.index("--add-config") + 1]
        for tool, a in made
        if tool == "kafka-configs.sh"
    }
    assert set(users) == set(spec["principals"])
    assert users["antt-sink"] == "SCRAM-SHA-512=[password=pw-sink]"
    created = {}
    for tool, args in made:
        if tool == "kafka-topics.sh" and "--create" in args:
            configs = [args[i + 1] for i, a in enumerate(args) if a == "--config"]
            created[args[args.index("--topic") + 1]] = (
                int(args[args.index("--partitions") + 1]),
                int(args[args.index("--replication-factor") + 1]),
                dict(c.split("=", 1) for c in configs),
            )
    assert created == {
        t["name"]: (t["partitions"], t["replicas"], {k: str(v) for k, v in t["config"].items()})
        for t in spec["topics"]
    }
    acls = [args for tool, args in made if tool == "kafka-acls.sh"]
    assert all(a[a.index("--allow-principal") + 1].startswith("User:antt-") for a in acls)
    prefixed = [a for a in acls if "--resource-pattern-type" in a]
    assert [a[a.index("--topic") + 1] for a in prefixed] == ["antt-worker"]
    admin = (kafka_home / "admin.properties").read_text()
    assert 'password="pw-admin";' in admin and "SASL_SSL" in admin
    assert all("--command-config" in args for _, args in made)
    assert re.search(r"kafka-init: users, topics and ACLs in place", result.stdout)
