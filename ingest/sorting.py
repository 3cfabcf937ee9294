"""Sorting the items of one request into accepted, rejected and forbidden (other province).

Pure: the validator and ``now`` come in as parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingest.body import Unparseable
from schemas.units import PROVINCES

_PROVINCES = frozenset(PROVINCES)
VALIDATE_CHUNK = 1000  # the validator's fast path takes at most this many events


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
    if code != province and code in _PROVINCES:
        return code  # type: ignore[return-value]
    return None


def _forbid(batch: SortedBatch, index: int, event_id: str | None, other: str) -> None:
    batch.forbidden.append(index)
    batch.rejected.append(Refusal(
        index, event_id, "province_code",
        f"province_code {other} is not this token's province ({batch.province_code})",
    ))


def sort_items(
    items: Sequence[object],
    validate: Callable[..., Any],
    *,
    now: datetime,
    province_code: str,
    raw_array: bytes | None = None,
    chunk: int = VALIDATE_CHUNK,
) -> SortedBatch:
    """Validate the items of a request made with a token of ``province_code``.

    ``raw_array`` is the request body when it is the JSON array ``items`` came from: then
    the validator reads those bytes directly (no re-serialisation) when they fit one chunk.
    """
    batch = SortedBatch(province_code=province_code, received=len(items))
    candidates: list[int] = []
    for index, item in enumerate(items):
        if isinstance(item, Unparseable):
            batch.rejected.append(Refusal(index, None, "", item.reason))
        else:
            candidates.append(index)
    if raw_array is not None and len(candidates) == len(items) <= chunk:
        _validate(batch, items, candidates, validate(raw_array, now=now))
    else:
        for start in range(0, len(candidates), chunk):
            part = candidates[start:start + chunk]
            _validate(batch, items, part, validate([items[i] for i in part], now=now))
    batch.forbidden.sort()
    return batch


def _validate(batch: SortedBatch, items: Sequence[object], candidates: list[int],
              report: Any) -> None:
    bad: set[int] = set()
    for rejection in report.rejected:
        if rejection.index is None:  # cannot happen for a list of at most 1000 items
            raise RuntimeError(f"validator refused the whole chunk: {rejection.reason}")
        original = candidates[rejection.index]
        bad.add(rejection.index)
        other = _foreign_province(items[original], batch.province_code)
        if other is not None:
            _forbid(batch, original, rejection.event_id, other)
            continue
        batch.rejected.append(Refusal(
            original, rejection.event_id, str(rejection.path or ""), str(rejection.reason),
        ))
    good = [pos for pos in range(len(candidates)) if pos not in bad] if bad else range(
        len(candidates))
    if len(good) != len(report.valid):
        raise RuntimeError("validator returned a report that does not cover its input")
    province = batch.province_code
    for pos, event in zip(good, report.valid, strict=True):
        original = candidates[pos]
        item = items[original]
        if event.province_code != province:  # another province (legacy codes: once mapped)
            _forbid(batch, original, _event_id_of(item), event.province_code)
            continue
        batch.valid.append((original, item["event_id"]))  # type: ignore[index]
        batch.valid_items.append(item)  # type: ignore[arg-type]
