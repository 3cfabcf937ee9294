"""Producing records with kafka-python, counting only what the broker acknowledged.

Used by ``antt send`` and ``antt simulate``. Records that fail (after the producer's own
retries) are sent again in further rounds; whatever is still unacknowledged at the end is
reported as failed, never as sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from antt.kafka import client_config
from antt.settings import Settings
from ingest.kafka import Record, keep_payloads_out_of_logs

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (events acknowledged so far, events failed so far)


@dataclass
class SendResult:
    acked_records: int = 0
    acked_events: int = 0
    failed: list[Record] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def failed_events(self) -> int:
        return sum(r.count for r in self.failed)

    @property
    def ok(self) -> bool:
        return not self.failed


class KafkaSender:
    """A kafka-python producer (acks=all, linger 20 ms) with delivery accounting."""

    def __init__(
        self,
        settings: Settings,
        *,
        topic: str | None = None,
        linger_ms: int = 20,
        retries: int = 5,
        timeout_s: float = 30.0,
        rounds: int = 3,
    ) -> None:
        self.topic = topic or settings.events_topic
        self.timeout_s = timeout_s
        self.rounds = rounds
        self._config: dict[str, Any] = {
            **client_config(settings),
            "client_id": "antt-send",
            "acks": "all",
            "linger_ms": linger_ms,
            "retries": retries,
            "enable_idempotence": False,  # needs InitProducerId; Tansu has none
            "batch_size": 1024 * 1024,
            "max_request_size": 4 * 1024 * 1024,
            "request_timeout_ms": int(timeout_s * 1000),
            "delivery_timeout_ms": int(timeout_s * 1000) + linger_ms + 1000,
            "max_block_ms": int(timeout_s * 1000),
            "bootstrap_timeout_ms": int(timeout_s * 1000),
        }
        self._producer: Any = None
        keep_payloads_out_of_logs()

    def _open(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer

            self._producer = KafkaProducer(**self._config)
        return self._producer

    def send(self, records: Iterable[Record], progress: Progress | None = None) -> SendResult:
        """Send every record; retry failed ones in up to ``rounds`` rounds in total."""
        result = SendResult()
        pending = list(records)
        for attempt in range(1, self.rounds + 1):
            pending = self._round(pending, result, progress)
            if not pending:
                break
            log.warning("%d records unacknowledged after round %d", len(pending), attempt)
            if attempt < self.rounds:
                time.sleep(min(5.0, 0.5 * 2**attempt))
        result.failed = pending
        if progress:
            progress(result.acked_events, result.failed_events)
        return result

    def _round(self, records: list[Record], result: SendResult,
               progress: Progress | None) -> list[Record]:
        try:
            producer = self._open()
        except Exception as exc:  # noqa: BLE001 - no broker: everything failed this round
            result.errors.append(f"cannot connect: {type(exc).__name__}: {exc}")
            return records
        lock = threading.Lock()
        acked: set[int] = set()  # positions in ``records``
        closed = [False]  # a late acknowledgement after the round ended is not counted

        def on_ok(pos: int) -> Callable[[Any], None]:
            def done(_: Any) -> None:
                with lock:
                    if closed[0]:
                        return
                    acked.add(pos)
                    result.acked_records += 1
                    result.acked_events += records[pos].count
                if progress:
                    progress(result.acked_events, 0)
            return done

        def on_error(exc: Exception) -> None:
            with lock:
                if len(result.errors) < 100:
                    result.errors.append(f"{type(exc).__name__}: {exc}")

        for pos, record in enumerate(records):
            try:
                future = producer.send(self.topic, key=record.key, value=record.value)
            except Exception as exc:  # noqa: BLE001 - e.g. metadata timeout: not acknowledged
                on_error(exc)
                continue
            future.add_callback(on_ok(pos)).add_errback(on_error)
        self._flush(producer)
        with lock:  # whatever has no acknowledgement now failed this round
            closed[0] = True
            return [r for pos, r in enumerate(records) if pos not in acked]

    def _flush(self, producer: Any) -> None:
        try:
            producer.flush(timeout=self.timeout_s)
        except Exception as exc:  # noqa: BLE001 - KafkaTimeoutError: unfinished ones fail
            log.warning("flush did not finish: %s", exc)

    def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                producer.close(timeout=5)
            except Exception as exc:  # noqa: BLE001
                log.warning("producer close: %s", exc)

    def __enter__(self) -> KafkaSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
