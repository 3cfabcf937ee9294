"""Fixtures for the ingest integration tests: a real gateway on a free port, real broker."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from antt.kafka import ensure_topics
from antt.settings import Settings
from ingest.server import RunningGateway, start_gateway
from ingest.tokens import add_token


@dataclass
class GatewayUnderTest:
    running: RunningGateway
    settings: Settings
    tokens: dict[str, str]  # province -> plaintext token

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def events_url(self) -> str:
        return self.running.url + "/api/v1/events"

    def auth(self, province: str = "01", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[province]}",
                "Content-Type": "application/json", **extra}


def topic_settings(isolated: Settings, tmp_path: Path, **overrides: object) -> Settings:
    settings = isolated.model_copy(update={
        "gateway_tokens_file": tmp_path / "tokens.json",
        "gateway_read_timeout_s": 1.5,
        "gateway_produce_timeout_s": 3.0,
        **overrides,
    })
    ensure_topics(settings)
    return settings


@pytest.fixture
def gateway_settings(isolated: Settings, tmp_path: Path) -> Settings:
    return topic_settings(isolated, tmp_path, gateway_max_events=2000,
                          gateway_max_body_bytes=2 * 1024 * 1024)


@pytest.fixture
async def gateway(gateway_settings: Settings) -> AsyncIterator[GatewayUnderTest]:
    tokens = {p: add_token(gateway_settings.gateway_tokens_file, p, label=f"test-{p}")[0]
              for p in ("01", "79")}
    running = await start_gateway(gateway_settings, host="127.0.0.1", port=0)
    try:
        yield GatewayUnderTest(running, gateway_settings, tokens)
    finally:
        await running.stop()


def _parse(value: bytes) -> list | bytes:
    """A record's events, or its raw bytes when it is not JSON (simulated garbage)."""
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


async def read_topic(settings: Settings, *, records: int, timeout: float = 15.0,
                     topic: str | None = None) -> list[tuple[bytes, list]]:
    """Every record on the topic from the start: (key, events), at least ``records`` of them.

    Waits until ``records`` arrived (or ``timeout``), then reads on until a poll is empty.
    """
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic or settings.events_topic, bootstrap_servers=settings.kafka_bootstrap,
        group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    out: list[tuple[bytes, list]] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            for messages in batches.values():
                out += [(m.key, _parse(m.value)) for m in messages]
            if len(out) >= records:
                while True:  # drain: stop at the first empty poll
                    more = await consumer.getmany(timeout_ms=500)
                    if not more:
                        break
                    for messages in more.values():
                        out += [(m.key, _parse(m.value)) for m in messages]
                break
    finally:
        await consumer.stop()
    return out


@pytest.fixture
def topic_reader():
    """``await topic_reader(settings, records=n)``: the records on the events topic."""
    return read_topic


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[object]:
    """A Tansu broker of this test alone, so that it can be stopped and started again."""
    from devstack.stack import Server, _tcp_answers, free_port, tansu_binary

    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    server = Server(
        name="tansu (ingest test)", port=port, log_path=tmp_path / "tansu.log",
        argv=[str(tansu_binary()), "broker", "--listener-url", listener,
              "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"],
        ready=_tcp_answers,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
