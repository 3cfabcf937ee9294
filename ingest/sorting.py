"""Sorting the items of one request into accepted, rejected and forbidden (other province).

Pure: the validator and ``now`` come in as parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingest.body import Unparseable
from schemas.units import PROVINCES
from schemas.validate import MAX_BATCH_EVENTS

_PROVINCES = frozenset(PROVINCES)
VALIDATE_CHUNK = MAX_BATCH_EVENTS  # the validator takes at most this many events per call


@dataclass(frozen=True, slots=True)
class Refusal:
    index: int
    event_id: str | None
    path: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "event_id": self.event_id, "path": self.path,
                "reason": self.reason}


@dataclass
class SortedBatch:
    province_code: str
    received: int
    valid: list[tuple[int, str]] = field(default_factory=list)  # (index, event_id)
    valid_items: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Refusal] = field(default_factory=list)  # invalid (incl. forbidden)
    forbidden: list[int] = field(default_factory=list)

    @property
    def all_valid(self) -> bool:
        return not self.rejected and len(self.valid) == self.received

    def answer(self, request_id: str) -> dict[str, Any]:
        """The response body: every index of the request appears exactly once."""
        payload: dict[str, Any] = {
            "request_id": request_id,
            "province_code": self.province_code,
            "received": self.received,
            "accepted_count": len(self.valid),
            "rejected_count": len(self.rejected),
            "accepted": [{"index": i, "event_id": e} for i, e in self.valid],
            "rejected": [r.as_json() for r in sorted(self.rejected, key=lambda r: r.index)],
        }
        if self.forbidden:
            payload["error"] = "cross_province"
            payload["message"] = (
                f"events for another province than this token's ({self.province_code}) "
                "are refused; the other events were handled as listed"
            )
            payload["forbidden_indexes"] = self.forbidden
        return payload


def _event_id_of(item: object) -> str | None:
    if isinstance(item, dict):
        value = item.get("event_id")
        return value if isinstance(value, str) else None
    return None


def _foreign_province(item: object, province: str) -> str | None:
    """The other existing 2025 province an invalid item claims (legacy codes are not judged).

    An unknown code (a typo such as "99") is an invalid event, not another province's.
    """
    if not isinstance(item, dict) or item.get("code_regime", "2025") != "2025":
        return None
    code = item.get("province_code")
    if isinstance(code, str) and code != province and code in _PROVINCES:
        return code
    return None


def _forbid(batch: SortedBatch, index: int, event_id: str | None, other: str) -> None:
    batch.forbidden.append(index)
    batch.rejected.append(Refusal(
        index, event_id, "province_code",
        f"province_code {other} is not this token's province ({batch.province_code})",
    ))


def judge_items(
    items: Sequence[object],
    validate: Callable[..., Any],
    *,
    now: datetime,
    raw_array: bytes | None = None,
    chunk: int = VALIDATE_CHUNK,
) -> Iterator[tuple[int, Any]]:
    """``(index, event or Refusal)`` for every item, validated ``chunk`` at a time.

    ``raw_array`` is the JSON array ``items`` came from: then the validator reads those bytes
    directly (no re-serialisation) when they fit one chunk. Unparseable items are refused
    first; within a chunk, refusals come before the valid events (in input order).
    """
    candidates: list[int] = []
    for index, item in enumerate(items):
        if isinstance(item, Unparseable):
            yield index, Refusal(index, None, "", item.reason)
        else:
            candidates.append(index)
    if raw_array is not None and len(candidates) == len(items) <= chunk:
        yield from _verdicts(candidates, validate(raw_array, now=now))
        return
    for start in range(0, len(candidates), chunk):
        part = candidates[start:start + chunk]
        yield from _verdicts(part, validate([items[i] for i in part], now=now))


def _verdicts(part: list[int], report: Any) -> Iterator[tuple[int, Any]]:
    bad: set[int] = set()
    for r in report.rejected:
        if r.index is None:  # cannot happen for a list of at most 1000 items
            raise RuntimeError(f"validator refused the whole chunk: {r.reason}")
        bad.add(r.index)
        yield part[r.index], Refusal(part[r.index], r.event_id, str(r.path or ""), str(r.reason))
    good = [pos for pos in range(len(part)) if pos not in bad] if bad else range(len(part))
    if len(good) != len(report.valid):
        raise RuntimeError("validator returned a report that does not cover its input")
    for pos, event in zip(good, report.valid, strict=True):
        yield part[pos], event


def sort_items(
    items: Sequence[object],
    validate: Callable[..., Any],
    *,
    now: datetime,
    province_code: str,
    raw_array: bytes | None = None,
    chunk: int = VALIDATE_CHUNK,
) -> SortedBatch:
    """Validate the items of a request made with a token of ``province_code``."""
    batch = SortedBatch(province_code=province_code, received=len(items))
    for index, verdict in judge_items(items, validate, now=now, raw_array=raw_array,
                                      chunk=chunk):
        item = items[index]
        if isinstance(verdict, Refusal):
            other = _foreign_province(item, province_code)
            if other is None:
                batch.rejected.append(verdict)
            else:
                _forbid(batch, index, verdict.event_id, other)
        elif verdict.province_code != province_code:  # another province (legacy: once mapped)
            _forbid(batch, index, _event_id_of(item), verdict.province_code)
        else:
            batch.valid.append((index, item["event_id"]))  # type: ignore[index]
            batch.valid_items.append(item)  # type: ignore[arg-type]
    batch.forbidden.sort()
    return batch
