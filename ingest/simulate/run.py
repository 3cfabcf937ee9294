"""Sending a simulation at a given pace: through Kafka (kafka-python) or the HTTP gateway."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import aiohttp
import orjson

from antt.settings import Settings
from ingest.kafka import Record
from ingest.send import KafkaSender

log = logging.getLogger(__name__)

SLICE_S = 0.5  # records due within this much time are sent (and acknowledged) together


# Gateway statuses with a per-event answer: the record was handled (some events maybe refused).
ANSWERED = frozenset({200, 403, 422})
RETRIED = frozenset({429, 503})


@dataclass
class RunResult:
    accepted: int = 0  # events the broker / gateway accepted
    rejected: int = 0  # events the gateway refused (malformed share)
    failed_records: int = 0  # records not acknowledged, or refused as a whole by the gateway
    statuses: dict[int, int] = field(default_factory=dict)  # gateway status -> records
    seconds: float = 0.0


def paced_slices(records: list[Record], rate: float | None) -> Iterator[tuple[float, list[Record]]]:
    """(due time in seconds from the start, records) slices at ``rate`` events per second."""
    if not rate or rate <= 0:
        yield 0.0, records
        return
    sent = 0
    batch: list[Record] = []
    due = 0.0
    for record in records:
        batch.append(record)
        sent += max(record.count, 1)
        if sent / rate - due >= SLICE_S:
            yield due, batch
            due, batch = sent / rate, []
    if batch:
        yield due, batch


def send_kafka(settings: Settings, records: list[Record], *, rate: float | None,
               topic: str | None = None) -> RunResult:
    result = RunResult()
    started = time.monotonic()
    with KafkaSender(settings, topic=topic) as sender:
        for due, batch in paced_slices(records, rate):
            delay = started + due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            outcome = sender.send(batch)
            result.accepted += outcome.acked_events
            result.failed_records += len(outcome.failed)
            for error in outcome.errors[:3]:
                log.warning("broker: %s", error)
    result.seconds = time.monotonic() - started
    return result


async def _post(session: aiohttp.ClientSession, url: str, token: str, record: Record,
                result: RunResult, attempts: int = 5) -> None:
    """POST one record; retry on 429/503 as told; any other refusal fails the record."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for _ in range(attempts):
        try:
            async with session.post(url, data=record.value, headers=headers) as resp:
                status, body = resp.status, await resp.read()
                retry_after = float(resp.headers.get("Retry-After", "1"))
        except aiohttp.ClientError as exc:  # no gateway there: the record is not delivered
            log.warning("gateway unreachable: %s", type(exc).__name__)
            status, body, retry_after = 0, b"", 0.0
        if status in RETRIED:
            await asyncio.sleep(retry_after)
            continue
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if status == 400 and record.count == 0:
            return  # a deliberately unparseable record (malformed share), refused as meant
        if status not in ANSWERED:  # 400/401/413/... or no answer: nothing accepted
            result.failed_records += 1
            return
        answer = orjson.loads(body)
        result.accepted += answer["accepted_count"]
        result.rejected += answer["rejected_count"]
        return
    result.failed_records += 1


async def send_gateway(url: str, tokens: Mapping[str, str], records: list[Record], *,
                       rate: float | None, concurrency: int = 4) -> RunResult:
    """POST each record's array to ``url``/api/v1/events with its province's token."""
    result = RunResult()
    started = time.monotonic()
    endpoint = url.rstrip("/") + "/api/v1/events"
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:

        async def one(record: Record) -> None:
            async with limit:
                await _post(session, endpoint, tokens[record.key.decode()], record, result)

        for due, batch in paced_slices(records, rate):
            delay = started + due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await asyncio.gather(*(one(r) for r in batch))
    result.seconds = time.monotonic() - started
    return result


def mint_tokens(settings: Settings, provinces: list[str], label: str) -> dict[str, str]:
    """Create one token per province in the gateway's token file, all with ``label``."""
    from ingest.tokens import add_token

    return {p: add_token(settings.gateway_tokens_file, p, label=label)[0] for p in provinces}


def revoke_minted(settings: Settings, label: str) -> None:
    from ingest.tokens import revoke_tokens

    revoke_tokens(settings.gateway_tokens_file, label=label)
