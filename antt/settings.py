"""The one settings object, read from the environment (prefix ``ANTT_``) at start-up.

Build it once with :func:`load_settings` and pass it down; nothing else reads ``os.environ``.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob antt has. Each field is ``ANTT_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ANTT_", frozen=True, extra="ignore")

    # Where the servers are. Defaults point at the embedded local stack.
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    kafka_security_protocol: str = Field("PLAINTEXT", description="PLAINTEXT, SASL_SSL, ...")
    kafka_sasl_mechanism: str | None = Field(None, description="e.g. SCRAM-SHA-512")
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(
        None, description="CA bundle (PEM) for SSL/SASL_SSL listeners; None = system trust store"
    )
    clickhouse_url: str = Field("http://127.0.0.1:8123", description="ClickHouse HTTP endpoint")
    clickhouse_user: str = "default"
    clickhouse_password: SecretStr = SecretStr("")
    clickhouse_database: str = "antt"
    clickhouse_cluster: str | None = Field(
        None, description="ClickHouse cluster name; set in production to use ON CLUSTER DDL"
    )

    # Topics (names follow antt.<entity>.v<N>).
    events_topic: str = "antt.events.v1"
    dlq_topic: str = "antt.events.dlq.v1"
    topic_partitions: int = Field(4, ge=1)
    topic_replication: int = Field(1, ge=1)

    # Worker.
    worker_id: str = "antt-worker"
    worker_web_host: str = "127.0.0.1"
    worker_web_port: int = 6066
    worker_data_dir: Path = Path(".antt/worker")
    live_flush_interval_s: float = Field(1.0, gt=0, description="how often state is checkpointed")
    worker_store: str = Field(
        "memory://", description='Faust table store: "memory://" or "rocksdb://"'
    )
    worker_session_timeout_s: float = Field(
        10.0, gt=0, description="consumer-group session timeout: how soon a dead worker's "
        "partitions move to the others"
    )
    worker_fetch_max_wait_ms: int = Field(
        100, ge=1, description="longest a fetch may wait for data (latency vs. request rate)"
    )
    worker_malloc_threshold: int = Field(
        256 * 1024, ge=0, le=32 * 1024 * 1024, description="glibc mmap threshold the worker "
        "fixes at start (bytes; 0: glibc's adaptive default, ~75 MB more RSS, a few % faster), "
        "see docs/operations.md"
    )
    worker_validation_process: bool = Field(
        True, description="validate records in a child process, on the second core "
        "(streams/lane.py); false: in the worker process"
    )
    worker_pipeline_records: int = Field(
        4, ge=1, le=64, description="records fetched ahead of the one being counted (sent to "
        "the validation process meanwhile)"
    )
    worker_stall_check_s: float = Field(
        5.0, gt=0, description="how often the worker looks for partitions whose records are "
        "on the broker but have not reached it for that long (then it seeks back; "
        "streams/agents/stalls.py)"
    )
    worker_test_drop_record: int = Field(
        0, ge=0, description="tests only: the agent ignores the Nth record it receives, as if "
        "Faust had not delivered it (0: never)"
    )
    acceptance_window_days: float = Field(
        62.0, ge=0, description="live counters: facts recorded longer ago leave memory at a "
        "snapshot, and later events recorded before it are not counted live (0: keep all; "
        "else at least 40)"
    )
    worker_snapshot_every_chunks: int = Field(
        600, ge=0, description="snapshot a province after this many checkpoint chunks (0: never)"
    )
    worker_snapshot_min_facts: int = Field(
        50_000, ge=1, description="... or after this many new facts (and half the kept ones)"
    )
    worker_snapshot_part_bytes: int = Field(
        512 * 1024, ge=256, description="largest snapshot part record (compressed bytes)"
    )
    worker_snapshot_pause: str = Field(
        "", description="tests only: pause the first snapshot at before_parts, between_parts, "
        "before_tombstones or between_tombstones (for a kill -9); stop:<point>: stop the "
        "whole process there (SIGSTOP) until a SIGCONT"
    )
    worker_test_freeze_flush: int = Field(
        0, ge=0, description="tests only: the Nth checkpoint flush that has chunks stops the "
        "whole worker process (SIGSTOP, as a long GC pause) before writing them (0: never)"
    )

    # ClickHouse sink.
    sink_batch_rows: int = Field(200_000, ge=1)
    sink_batch_seconds: float = Field(1.0, gt=0)
    sink_max_pending_rows: int = Field(500_000, ge=1, description="backpressure bound")
    sink_group_id: str = Field("antt-sink", description="Kafka consumer group of the sink")
    sink_retry_max_s: float = Field(10.0, gt=0, description="longest back-off between retries")

    # Gateway.
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    gateway_tokens_file: Path = Path(".antt/gateway-tokens.json")
    gateway_max_body_bytes: int = 10 * 1024 * 1024
    gateway_max_events: int = 5_000
    gateway_rate_per_token: float = Field(50.0, description="requests per second per token")
    gateway_rate_burst: float | None = Field(
        None, description="requests a token may send at once (default: one second's worth)"
    )
    gateway_max_decompressed_bytes: int = Field(50 * 1024 * 1024, description="gzip bomb guard")
    gateway_read_timeout_s: float = Field(10.0, gt=0, description="slow-client body deadline")
    gateway_produce_timeout_s: float = Field(5.0, gt=0, description="broker ack deadline (503)")

    # Contract and legal-time rules.
    future_tolerance_s: int = Field(300, ge=0, description="how far recorded_at may lie ahead")
    statistical_month_start_day: int = Field(15, ge=1, le=28)
    social_order_crime_groups: tuple[str, ...] = Field(
        (
            "life_health_dignity",
            "freedoms",
            "property",
            "marriage_family",
            "public_safety_order",
        ),
        description='crime groups counted as "crimes against social order" (JSON list in env)',
    )
    timezone: str = "Asia/Ho_Chi_Minh"

    # Embedded local stack (dev/test only).
    stack_dir: Path = Path(".antt")
    stack_kafka_port: int = 9092
    stack_clickhouse_port: int = 8123


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; keyword overrides win (handy in tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]


def as_env(settings: Settings) -> dict[str, str]:
    """The ``ANTT_*`` environment that makes a child ``antt`` process load ``settings``."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, list | tuple | dict):
            value = json.dumps(value)
        env[f"ANTT_{name.upper()}"] = str(value)
    return env
