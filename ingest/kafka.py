"""Kafka producing for ingest: record batching and an acknowledged async producer.

Wire format (docs/architecture.md): key = province code, value = a JSON array of up to
``MAX_BATCH_EVENTS`` events of that province. A success is reported only after the
broker acknowledged (acks=all) every record of the request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from antt.kafka import client_config
from antt.settings import Settings
from ingest.errors import BrokerUnavailableError
from schemas.validate import MAX_BATCH_EVENTS  # the wire contract's batch limit

__all__ = ["MAX_BATCH_EVENTS", "MAX_RECORD_BYTES", "AsyncEventProducer", "Record",
           "batch_records", "keep_payloads_out_of_logs"]

log = logging.getLogger(__name__)

MAX_RECORD_BYTES = 900_000  # stays under the default 1 MiB message limit of brokers


# Kafka clients log whole requests (record values included) at DEBUG: payloads must never
# reach a log, so their loggers stay at INFO or above whatever the root level is.
_CLIENT_LOGGERS = ("aiokafka", "kafka")


def keep_payloads_out_of_logs() -> None:
    for name in _CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO or logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record: the events of one province, already serialised."""

    key: bytes
    value: bytes
    count: int


def batch_records(
    events: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    max_events: int = MAX_BATCH_EVENTS,
    max_bytes: int = MAX_RECORD_BYTES,
) -> Iterator[Record]:
    """Group (province, event) pairs by province (input order kept) into records.

    The province is the 2025 code the validator established (a legacy event keeps its
    original codes in the value but is keyed by its 2025 province).
    """
    by_province: dict[str, list[Mapping[str, Any]]] = {}
    for province, event in events:
        by_province.setdefault(province, []).append(event)
    for province, items in by_province.items():
        key = province.encode()
        for start in range(0, len(items), max_events):
            yield from _fit(key, items[start:start + max_events], max_bytes)


def _fit(key: bytes, items: list[Mapping[str, Any]], max_bytes: int) -> Iterator[Record]:
    """One record for the items, or halves of them while the value is too big."""
    value = orjson.dumps(items)
    if len(value) <= max_bytes or len(items) == 1:
        yield Record(key, value, len(items))
        return
    half = len(items) // 2
    yield from _fit(key, items[:half], max_bytes)
    yield from _fit(key, items[half:], max_bytes)


class AsyncEventProducer:
    """aiokafka producer that starts lazily and reports the broker as unavailable fast.

    ``send(records)`` returns only when the broker acknowledged every record, or raises
    :class:`BrokerUnavailableError` within ``timeout`` seconds. Records may still land later
    after a timeout; resending is harmless because consumers deduplicate by event_id.
    """

    def __init__(self, settings: Settings, *, timeout: float, topic: str | None = None) -> None:
        self._settings = settings
        self._timeout = timeout
        self.topic = topic or settings.events_topic
        self._producer: Any = None
        self._lock = asyncio.Lock()
        self.healthy: bool | None = None  # None: never tried
        keep_payloads_out_of_logs()

    async def _ensure_started(self) -> Any:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is not None:
                return self._producer
            from aiokafka import AIOKafkaProducer

            producer = AIOKafkaProducer(
                **client_config(self._settings),
                client_id="antt-gateway",
                acks="all",
                linger_ms=2,
                max_batch_size=1024 * 1024,
                max_request_size=4 * 1024 * 1024,
                request_timeout_ms=max(1000, int(self._timeout * 1000)),
                retry_backoff_ms=100,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
            return producer

    async def send(self, records: list[Record]) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                producer = await self._ensure_started()
                futures = [
                    await producer.send(self.topic, value=r.value, key=r.key) for r in records
                ]
                await asyncio.gather(*futures)
        except Exception as exc:  # timeout or any Kafka error: nothing was acknowledged
            self.healthy = False
            log.warning("broker did not acknowledge %d records on %s: %s",
                        len(records), self.topic, type(exc).__name__)
            raise BrokerUnavailableError(str(exc) or type(exc).__name__) from exc
        self.healthy = True

    async def check(self) -> bool:
        """Whether the broker answers (starts the producer if needed), within the timeout."""
        try:
            async with asyncio.timeout(self._timeout):
                producer = await self._ensure_started()
                await producer.client.fetch_all_metadata()
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            self.healthy = False
            return False
        self.healthy = True
        return True

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()
