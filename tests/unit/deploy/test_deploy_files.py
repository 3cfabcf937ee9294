"""deploy/: every file parses, matches its schema where one exists, and agrees with the others.

There is no Docker engine or Kubernetes API server here, so this checks what can be checked
offline: YAML syntax; the compose file against the compose-spec JSON schema (shipped in the
check-jsonschema wheel); built-in Kubernetes kinds against the schemas bundled in
kubernetes-validate; the CRDs (Strimzi, Altinity, KEDA, Prometheus Operator) structurally
(no schema ships for them); pinned images; ANTT_* names against antt/settings.py; topics,
partitions, principals and the ClickHouse layout across files.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from antt.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
K8S = DEPLOY / "k8s"
K8S_VERSION = "1.33"
PINNED = re.compile(r"^[a-z0-9./_-]+:v?\d+(\.\d+)+[a-z0-9.-]*(@sha256:[0-9a-f]{64})?$")


def load_yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc is not None]


def compose() -> dict[str, Any]:
    [doc] = load_yaml(COMPOSE_DIR / "compose.yaml")
    return doc


def k8s_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in load_yaml(path) if path.name != "kustomization.yaml"]
    return docs


def topics() -> dict[str, Any]:
    [doc] = load_yaml(DEPLOY / "topics.yaml")
    return doc


def events_topic() -> dict[str, Any]:
    return next(t for t in topics()["topics"] if t["name"] == Settings().events_topic)


@pytest.mark.parametrize(
    "path", sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml")), ids=str
)
def test_every_yaml_file_parses(path: Path) -> None:
    assert load_yaml(path), f"{path} is empty"


def compose_spec_schema() -> Path:
    """compose-spec.json (Apache-2.0) as shipped in the check-jsonschema wheel's vendor dir.

    Located through the wheel's file list, not imported: only the data file is used.
    """
    files = metadata.files("check-jsonschema") or []
    [found] = [f for f in files if f.name == "compose-spec.json" and "vendor" in str(f)]
    return Path(str(found.locate()))


def test_compose_file_matches_the_compose_spec_schema() -> None:
    schema = json.loads(compose_spec_schema().read_text("utf-8"))
    jsonschema.Draft202012Validator(schema).validate(compose())
    # and the schema does reject a broken file (it is not vacuous)
    broken = compose() | {"services": {"x": {"image": "a:1", "restart": 3, "bogus": True}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(broken)


def test_compose_has_the_production_shape() -> None:
    services = compose()["services"]
    assert {f"kafka-{i}" for i in (1, 2, 3)} <= set(services)
    assert {f"keeper-{i}" for i in (1, 2, 3)} <= set(services)
    assert {"ch-s1r1", "ch-s1r2", "ch-s2r1", "ch-s2r2"} <= set(services)
    assert sum(1 for name in services if name.startswith("worker-")) >= 2
    assert sum(1 for name in services if name.startswith("sink-")) >= 2
    assert sum(1 for name in services if name.startswith("gateway-")) == 2
    assert "443:443" in services["proxy"]["ports"]
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown {dep}"
    for name in (n for n in services if n.startswith(("worker-", "sink-"))):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        assert deps["kafka-init"]["condition"] == "service_completed_successfully", name


def test_gen_secrets_makes_every_file_compose_refers_to(tmp_path: Path) -> None:
    """Run gen-secrets.sh (openssl) on a copy; every env_file, secret and mount must exist."""
    copy = tmp_path / "compose"
    shutil.copytree(COMPOSE_DIR, copy, ignore=shutil.ignore_patterns("secrets"))
    result = subprocess.run(
        ["sh", str(copy / "gen-secrets.sh"), "antt.test"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    doc = compose()
    for name, service in doc["services"].items():
        for env_file in service.get("env_file", []):
            assert (copy / env_file).is_file(), (name, env_file)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (copy / source).is_file(), (name, source)
    for name, secret in doc["secrets"].items():
        assert (copy / secret["file"]).is_file(), name
    # the app env files hold only ANTT_* settings, and every one is a real setting
    fields = {f"ANTT_{name.upper()}" for name in Settings.model_fields}
    for env_file in (copy / "secrets").glob("*.env"):
        keys = [line.split("=", 1)[0] for line in env_file.read_text().splitlines() if line]
        if any(k.startswith("ANTT_") for k in keys):
            assert set(keys) <= fields, env_file.name
    broker = (copy / "secrets" / "kafka-broker.pem").read_text()
    assert "PRIVATE KEY" in broker and broker.count("BEGIN CERTIFICATE") == 2
    verify = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(copy / "secrets" / "ca.pem"),
            str(copy / "secrets" / "kafka-broker.pem"),
        ],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stderr
    again = subprocess.run(["sh", str(copy / "gen-secrets.sh")], capture_output=True, text=True)
    assert again.returncode == 0 and (copy / "secrets" / "kafka-broker.pem").read_text() == broker


def all_images() -> list[tuple[str, str]]:
    images = [(f"compose:{n}", s["image"]) for n, s in compose()["services"].items()]
    for doc in k8s_docs():
        for container in _containers(doc):
            images.append((f"k8s:{doc['kind']}/{doc['metadata']['name']}", container["image"]))
    for line in (DEPLOY / "Dockerfile").read_text("utf-8").splitlines():
        if line.startswith("FROM "):
            images.append(("Dockerfile", line.split()[1]))
    return images


def _containers(node: Any) -> list[dict[str, Any]]:
    """Every container spec anywhere in a manifest (Deployments, Jobs, operator templates)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                found += value
            else:
                found += _containers(value)
    elif isinstance(node, list):
        for item in node:
            found += _containers(item)
    return found


def test_every_image_is_pinned_to_an_exact_version() -> None:
    images = all_images()
    assert len(images) > 20
    loose = [(where, image) for where, image in images if not PINNED.match(image)]
    assert not loose
    assert not any(image.endswith(":latest") for _, image in images)
    [(_, base)] = [i for i in images if i[0] == "Dockerfile"]
    assert base.startswith("python:3.11.")
    kafka = next(d for d in k8s_docs() if d["kind"] == "Kafka")
    assert re.fullmatch(r"\d+\.\d+\.\d+", kafka["spec"]["kafka"]["version"])


def test_kustomization_lists_every_manifest_and_pins_the_antt_image() -> None:
    [kustomization] = load_yaml(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    [image] = kustomization["images"]
    assert image["name"] == "antt" and re.fullmatch(r"\d+\.\d+\.\d+", image["newTag"])


BUILTIN_API = ("v1", "apps/v1", "batch/v1", "policy/v1", "networking.k8s.io/v1")


@pytest.mark.parametrize(
    "doc",
    [d for d in k8s_docs() if d["apiVersion"] in BUILTIN_API],
    ids=lambda d: f"{d['kind']}/{d['metadata']['name']}",
)
def test_builtin_kubernetes_kinds_match_their_schema(doc: dict[str, Any]) -> None:
    import kubernetes_validate

    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kubernetes_validator_is_not_vacuous() -> None:
    import kubernetes_validate

    bad = next(d for d in k8s_docs() if d["kind"] == "Deployment")
    bad = json.loads(json.dumps(bad))
    bad["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


CRD_KINDS = {
    "kafka.strimzi.io/v1beta2": {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"},
    "clickhouse.altinity.com/v1": {"ClickHouseInstallation"},
    "clickhouse-keeper.altinity.com/v1": {"ClickHouseKeeperInstallation"},
    "keda.sh/v1alpha1": {"ScaledObject", "TriggerAuthentication"},
    "monitoring.coreos.com/v1": {"PodMonitor", "PrometheusRule"},
}


def test_every_manifest_is_a_known_kind_in_the_antt_namespace() -> None:
    for doc in k8s_docs():
        api, kind = doc["apiVersion"], doc["kind"]
        assert api in BUILTIN_API or kind in CRD_KINDS.get(api, set()), (api, kind)
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", doc["metadata"]["name"])
        if kind != "Namespace":
            assert doc["metadata"]["namespace"] == "antt", doc["metadata"]["name"]


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in k8s_docs() if d["kind"] == kind]


def test_strimzi_kafka_is_kraft_three_nodes_sasl_and_durable() -> None:
    [kafka], [pool] = by_kind("Kafka"), by_kind("KafkaNodePool")
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert pool["spec"]["replicas"] == 3 and set(pool["spec"]["roles"]) == {"controller", "broker"}
    [listener] = kafka["spec"]["kafka"]["listeners"]
    assert listener["tls"] is True and listener["authentication"]["type"] == "scram-sha-512"
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3 and config["min.insync.replicas"] == 2
    assert config["auto.create.topics.enable"] is False
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"


def test_altinity_clickhouse_is_two_shards_by_two_replicas_with_keeper() -> None:
    [chi], [chk] = by_kind("ClickHouseInstallation"), by_kind("ClickHouseKeeperInstallation")
    [cluster] = chi["spec"]["configuration"]["clusters"]
    assert cluster["name"] == "antt"
    assert cluster["layout"] == {"shardsCount": 2, "replicasCount": 2}
    assert chk["spec"]["configuration"]["clusters"][0]["layout"]["replicasCount"] == 3
    [keeper] = chi["spec"]["configuration"]["zookeeper"]["nodes"]
    assert keeper["host"] == f"keeper-{chk['metadata']['name']}"
    profiles = chi["spec"]["configuration"]["profiles"]
    assert profiles["default/distributed_foreground_insert"] == 1
    assert profiles["default/distributed_product_mode"] == "global"
    assert profiles["default/insert_quorum"] == "auto"
    [config] = by_kind("ConfigMap")
    assert config["data"]["ANTT_CLICKHOUSE_CLUSTER"] == cluster["name"]
    assert f"clickhouse-{chi['metadata']['name']}." in config["data"]["ANTT_CLICKHOUSE_URL"]


def test_workers_and_sinks_scale_by_consumer_lag_up_to_the_partition_count() -> None:
    scaled = {d["spec"]["scaleTargetRef"]["name"]: d for d in by_kind("ScaledObject")}
    deployments = {d["metadata"]["name"] for d in by_kind("Deployment")}
    groups = {"antt-worker": Settings().worker_id, "antt-sink": Settings().sink_group_id}
    assert set(scaled) == set(groups) and set(scaled) <= deployments
    [auth] = by_kind("TriggerAuthentication")
    for name, obj in scaled.items():
        [trigger] = obj["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == groups[name]
        assert trigger["metadata"]["topic"] == events_topic()["name"]
        assert obj["spec"]["maxReplicaCount"] == events_topic()["partitions"]
        assert obj["spec"]["minReplicaCount"] >= 2
        assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]


def test_gateways_sit_behind_a_tls_ingress_and_secrets_come_from_secrets() -> None:
    [ingress] = by_kind("Ingress")
    assert ingress["spec"]["tls"][0]["secretName"]
    paths = {p["path"]: p for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert paths["/api/v1/events"]["backend"]["service"]["name"] == "antt-gateway"
    assert not any("internal" in p or "metrics" in p for p in paths)
    [gateway] = [d for d in by_kind("Deployment") if d["metadata"]["name"] == "antt-gateway"]
    assert gateway["spec"]["replicas"] >= 2
    for doc in by_kind("Deployment") + by_kind("Job"):
        for container in _containers(doc):
            for env in container.get("env", []):
                if "PASSWORD" in env["name"]:
                    assert "secretKeyRef" in env["valueFrom"], (doc["metadata"]["name"], env)
    [config] = by_kind("ConfigMap")
    assert not any("PASSWORD" in key for key in config["data"])


def used_antt_names() -> dict[str, set[str]]:
    """``ANTT_X`` names used in deploy/ and docs/operations.md; ``ANTT_X_*`` means a prefix."""
    files = [p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix != ".pyc"]
    files.append(ROOT / "docs" / "operations.md")
    used: dict[str, set[str]] = {}
    for path in files:
        for name, star in re.findall(r"\bANTT_([A-Z0-9_]*[A-Z0-9])(_\*)?", path.read_text("utf-8")):
            used.setdefault(name + ("_*" if star else ""), set()).add(str(path.relative_to(ROOT)))
    return used


def test_every_antt_variable_used_in_deploy_exists_in_the_settings() -> None:
    used = used_antt_names()
    assert len(used) > 10
    fields = {name.upper() for name in Settings.model_fields}
    unknown = {
        f"ANTT_{name}": sorted(where)
        for name, where in used.items()
        if not (
            name in fields or (name.endswith("_*") and any(f.startswith(name[:-1]) for f in fields))
        )
    }
    assert not unknown


def test_topic_settings_agree_across_files() -> None:
    wanted = {t["name"]: t for t in topics()["topics"]}
    assert set(wanted) == {Settings().events_topic, Settings().dlq_topic}
    # compose: kafka/init.sh
    script = (COMPOSE_DIR / "kafka" / "init.sh").read_text("utf-8")
    created = {}
    for line in re.findall(r"^topic (.+)$", script, re.M):
        name, partitions, replicas, *config = line.split()
        created[name] = {
            "partitions": int(partitions),
            "replicas": int(replicas),
            "config": dict(c.split("=", 1) for c in config),
        }
    # kubernetes: KafkaTopic resources
    strimzi = {
        d["spec"]["topicName"]: {
            "partitions": d["spec"]["partitions"],
            "replicas": d["spec"]["replicas"],
            "config": d["spec"]["config"],
        }
        for d in by_kind("KafkaTopic")
    }
    for source in (created, strimzi):
        assert set(source) == set(wanted)
        for name, topic in wanted.items():
            assert source[name]["partitions"] == topic["partitions"], name
            assert source[name]["replicas"] == topic["replicas"], name
            assert {k: str(v) for k, v in source[name]["config"].items()} == {
                k: str(v) for k, v in topic["config"].items()
            }, name
    events = wanted[Settings().events_topic]
    [config] = by_kind("ConfigMap")
    for env in (compose()["x-antt-env"], config["data"]):
        assert int(env["ANTT_TOPIC_PARTITIONS"]) == events["partitions"]
        assert int(env["ANTT_TOPIC_REPLICATION"]) == events["replicas"]
        assert env["ANTT_EVENTS_TOPIC"] == events["name"]
        assert env["ANTT_WORKER_ID"] in topics()["principals"]["antt-worker"]["groups"]
        assert env["ANTT_SINK_GROUP_ID"] in topics()["principals"]["antt-sink"]["groups"]


def test_broker_durability_settings_agree() -> None:
    start = (COMPOSE_DIR / "kafka" / "start.sh").read_text("utf-8")
    props = dict(re.findall(r"^([a-z.]+)=(.*)$", start, re.M))
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"].count("@") == 3
    assert props["default.replication.factor"] == "3" and props["min.insync.replicas"] == "2"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["auto.create.topics.enable"] == "false"
    for topic in topics()["topics"]:
        assert int(topic["config"]["max.message.bytes"]) <= int(props["message.max.bytes"])
        assert int(topic["config"]["min.insync.replicas"]) < topic["replicas"]


def test_principals_and_acls_agree_across_files() -> None:
    principals = topics()["principals"]
    script = (COMPOSE_DIR / "kafka" / "init.sh").read_text("utf-8")
    compose_users = set(re.findall(r"^scram_user (\S+)", script, re.M))
    strimzi_users = {d["metadata"]["name"]: d for d in by_kind("KafkaUser")}
    assert compose_users == set(principals) == set(strimzi_users)
    for user, rights in principals.items():
        acls = strimzi_users[user]["spec"]["authorization"]["acls"]
        granted = {(a["resource"].get("name"), op) for a in acls for op in a["operations"]}
        compose_acls = set(re.findall(rf"^acl {user} (\w+) --\w+ (\S+)", script, re.M))
        for topic in rights.get("read", []):
            assert (topic, "Read") in granted and ("Read", topic) in compose_acls
        for topic in rights.get("write", []):
            assert (topic, "Write") in granted and ("Write", topic) in compose_acls
        for group in rights.get("groups", []):
            assert (group, "Read") in granted and ("Read", group) in compose_acls
        for prefix in rights.get("prefix_all", []):
            assert (prefix, "All") in granted and ("All", prefix) in compose_acls


def test_clickhouse_compose_config_matches_the_services() -> None:
    services = compose()["services"]
    config = ET.parse(COMPOSE_DIR / "clickhouse" / "config.d" / "antt.xml").getroot()
    [cluster] = list(config.find("remote_servers"))
    assert cluster.tag == "antt" == compose()["x-antt-env"]["ANTT_CLICKHOUSE_CLUSTER"]
    assert cluster.find("secret").get("from_env") == "CH_CLUSTER_SECRET"
    shards = [[r.findtext("host") for r in s.findall("replica")] for s in cluster.findall("shard")]
    assert len(shards) == 2 and all(len(replicas) == 2 for replicas in shards)
    for number, replicas in enumerate(shards, start=1):
        for host in replicas:
            env = services[host]["environment"]
            assert env == {"CH_SHARD": f"{number:02d}", "CH_REPLICA": host}
    macros = config.find("macros")
    assert macros.find("shard").get("from_env") == "CH_SHARD"
    assert macros.find("replica").get("from_env") == "CH_REPLICA"
    keepers = [n.findtext("host") for n in config.find("zookeeper")]
    keeper = ET.parse(COMPOSE_DIR / "keeper" / "keeper.xml").getroot()
    raft = {s.findtext("hostname"): s.findtext("id") for s in keeper.iter("server")}
    assert set(keepers) == set(raft)
    for host, server_id in raft.items():
        assert services[host]["environment"] == {"KEEPER_ID": server_id}
    ET.parse(COMPOSE_DIR / "clickhouse" / "users.d" / "antt.xml")


def test_proxy_and_prometheus_point_at_compose_services() -> None:
    services = compose()["services"]
    nginx = (COMPOSE_DIR / "nginx" / "nginx.conf").read_text("utf-8")
    upstreams = re.findall(r"^\s*server ([\w-]+):\d+", nginx, re.M)
    assert {u for u in upstreams if u.startswith("gateway-")} == {
        n for n in services if n.startswith("gateway-")
    }
    assert set(upstreams) <= set(services)
    assert "ssl_certificate /run/secrets/proxy.crt" in nginx
    [prometheus] = load_yaml(COMPOSE_DIR / "prometheus" / "prometheus.yml")
    targets = [
        t
        for job in prometheus["scrape_configs"]
        for s in job["static_configs"]
        for t in s["targets"]
    ]
    assert {t.split(":")[0] for t in targets} <= set(services)


def nginx_errors(path: Path) -> list[str]:
    """crossplane (nginx's own config parser, strict): syntax, directive names, contexts and
    argument counts. It predates nginx 1.25.1, so the ``http2`` switch is registered here."""
    import crossplane
    from crossplane import analyzer

    analyzer.DIRECTIVES.setdefault(
        "http2",
        [analyzer.NGX_HTTP_MAIN_CONF | analyzer.NGX_HTTP_SRV_CONF | analyzer.NGX_CONF_FLAG],
    )
    result = crossplane.parse(str(path), strict=True, check_ctx=True, check_args=True)
    return [e["error"] for f in result["config"] for e in f["errors"]]


def test_nginx_config_is_valid_for_nginx(tmp_path: Path) -> None:
    assert nginx_errors(COMPOSE_DIR / "nginx" / "nginx.conf") == []
    broken = tmp_path / "nginx.conf"
    text = (COMPOSE_DIR / "nginx" / "nginx.conf").read_text("utf-8")
    broken.write_text(text.replace("proxy_buffering off;", "proxy_bufering off;", 1))
    assert any("proxy_bufering" in e for e in nginx_errors(broken))


@pytest.mark.parametrize(
    "script", sorted(p for p in DEPLOY.rglob("*.sh") if "local" not in p.parts), ids=str
)
def test_shell_scripts_have_valid_syntax(script: Path) -> None:
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_dockerfile_installs_the_project_and_copies_what_exists() -> None:
    text = (DEPLOY / "Dockerfile").read_text("utf-8")
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert "pip install --no-cache-dir ." in text
    assert 'ENTRYPOINT ["antt"]' in text
    assert re.search(r"^USER antt", text, re.M)
