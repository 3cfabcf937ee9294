"""The validator's plain lane (schemas/plain.py) against the reference validator.

The lane may decline any record (``None``: the caller runs ``validate_batch``), but when it
answers, the reference path must accept every event of the record, and each dict must carry
exactly the model's values, so that the live worker builds the very same facts from it.
It must also answer for ordinary records, or the worker would silently lose its speed.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from enum import Enum
from typing import Any
from uuid import UUID

import pytest
from contract_helpers import NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_contract_properties import MUTATIONS, valid_events
from test_validate_fast_path import items

from schemas.plain import plain_events
from schemas.validate import validate_batch_reference
from streams.logic.facts import plain_fact, to_fact

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
TOLERANCE_S = 300


def _lane(raw: bytes, key: str, now: datetime = NOW, max_events: int = 1000) -> Any:
    return plain_events(raw, now=now, expected_province=key, future_tolerance_s=TOLERANCE_S,
                        max_events=max_events)


def _same_value(model_value: Any, lane_value: Any) -> bool:
    if isinstance(model_value, UUID):
        return str(model_value) == lane_value
    if isinstance(model_value, Enum):
        return model_value.value == lane_value and type(lane_value) is str
    if isinstance(model_value, datetime):
        return (model_value == lane_value and model_value.utcoffset() == lane_value.utcoffset()
                and type(model_value.tzinfo) is type(lane_value.tzinfo))
    return type(model_value) is type(lane_value) and model_value == lane_value


def assert_agrees(raw: bytes, key: str, now: datetime = NOW, max_events: int = 1000) -> bool:
    """If the lane answers, the reference accepts all and every value and fact is the same.
    Returns whether the lane answered."""
    lane = _lane(raw, key, now, max_events)
    if lane is None:
        return False
    reference = validate_batch_reference(raw, now=now, expected_province=key,
                                         future_tolerance_s=TOLERANCE_S, max_events=max_events)
    assert reference.rejected == []
    assert len(lane) == len(reference.valid)
    for i, (event, model) in enumerate(zip(lane, reference.valid, strict=True)):
        assert set(event) == set(type(model).model_fields)
        for name in event:
            assert _same_value(getattr(model, name), event[name]), name
        assert plain_fact(event, 1024 + i) == to_fact(model, 1024 + i)
    return True


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()  # (hypothesis draws integers beyond 64 bits)


@st.composite
def one_province_batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Valid events of one province (a real record's shape)."""
    first = draw(valid_events())
    more = draw(st.lists(valid_events(), max_size=30))
    return [first] + [e for e in more if e["province_code"] == first["province_code"]] + [
        {**e, "event_id": str(uuid.uuid4())} for e in more[:1]
        if e["province_code"] == first["province_code"]
    ]


@SETTINGS
@given(one_province_batches())
def test_the_lane_answers_for_valid_records_of_one_province(batch: list[dict[str, Any]]) -> None:
    """Ordinary records go the fast way, with exactly the reference's values and facts,
    except those holding a self-correction (a rule the reference refuses)."""
    raw = _dumps(batch)
    answered = assert_agrees(raw, batch[0]["province_code"])
    refuses = any(e.get("corrects_event_id") == e["event_id"] for e in batch)
    assert answered is not refuses


@SETTINGS
@given(st.lists(items(), min_size=1, max_size=40), st.sampled_from(["01", "79", "first"]))
def test_the_lane_never_differs_on_mixed_records(batch: list[Any], key: str) -> None:
    """Valid, mutated, legacy, foreign and junk items: the lane declines or agrees."""
    if key == "first":
        first = batch[0]
        key = first.get("province_code") if isinstance(first, dict) else "01"
        key = key if isinstance(key, str) else "01"
    assert_agrees(_dumps(batch), key)
    assert_agrees(_dumps(batch), key, max_events=len(batch) - 1)


@SETTINGS
@given(valid_events(), st.data())
def test_one_mutation_makes_the_lane_decline(event: dict[str, Any], data: st.DataObject) -> None:
    """A contract violation anywhere in the record: the validator must word it."""
    mutated, _ = data.draw(st.sampled_from(MUTATIONS))(event, data.draw)
    good = {**event, "event_id": str(uuid.uuid4())}
    assert _lane(_dumps([good, mutated]), event["province_code"]) is None


def _triaged(**changes: Any) -> dict[str, Any]:
    event = {
        "event_id": str(uuid.UUID(int=7)), "event_type": "report_triaged", "schema_version": 1,
        "incident_id": "a1b2c3d4e5f6g7h8", "province_code": "01", "commune_code": "00070",
        "occurred_at": "2026-11-20T09:30:00+07:00", "recorded_at": "2026-11-20T09:31:00+07:00",
        "source_system": "hn-qlvv-1", "outcome": "accepted",
    }
    return {**event, **changes}


ODD_ID = uuid.UUID("8c1f5e0a-93bd-4c2e-a6f1-0d9b7e4a2c55")


@pytest.mark.parametrize(
    ("record", "key"),
    [
        (_triaged(), "01"),  # a single event, not an array
        ([_triaged(event_id=str(ODD_ID).upper())], "01"),  # valid, but not canonical
        ([_triaged(event_id=ODD_ID.hex)], "01"),  # valid without hyphens
        ([_triaged()], "79"),  # another province's event
        ([_triaged(code_regime="2004", province_code="01", commune_code="00004")], "01"),
        ([_triaged(occurred_at="2026-02-30T09:30:00+07:00")], "01"),  # no such day
        ([_triaged(occurred_at="2026-11-20 09:30:00+07:00")], "01"),  # valid, unusual shape
        ([_triaged(recorded_at="2026-11-21T19:06:00+07:00")], "01"),  # beyond now + 5 min
        ([_triaged(occurred_at="2026-11-20T09:32:00+07:00")], "01"),  # after recorded_at
        ([_triaged(corrects_event_id=str(uuid.UUID(int=7)))], "01"),  # corrects itself
        ([_triaged(legacy_commune_code="00004")], "01"),  # legacy field sent by a producer
        ([_triaged(extra="x")], "01"),
        ([], "01"),
        ([_triaged()] * 3, "01"),  # (declined only with max_events=2, below)
    ],
)
def test_the_lane_declines_what_it_cannot_settle(record: Any, key: str) -> None:
    raw = _dumps(record)
    max_events = 2 if isinstance(record, list) and len(record) == 3 else 1000
    assert _lane(raw, key, max_events=max_events) is None
    assert _lane(b" " + raw, key) is None  # (leading whitespace: the validator's way)


def test_the_lane_keeps_limits_and_optional_fields_exact() -> None:
    """recorded_at exactly at now + tolerance passes; one microsecond later declines; an
    omitted optional field comes back with the model's default."""
    limit = (NOW + timedelta(seconds=TOLERANCE_S)).isoformat(timespec="microseconds")
    late = (NOW + timedelta(seconds=TOLERANCE_S, microseconds=1)).isoformat()
    resolved = {**_triaged(), "event_type": "report_resolved", "decision": "suspend",
                "suspension_reason": "awaiting_documents"}
    del resolved["outcome"]
    assert assert_agrees(_dumps([_triaged(recorded_at=limit), resolved]), "01")
    assert _lane(_dumps([_triaged(recorded_at=late)]), "01") is None
    (event,) = _lane(_dumps([_triaged()]), "01")
    assert (event["code_regime"], event["corrects_event_id"]) == ("2025", None)
    assert _lane(_dumps([{**resolved, "decision": "decline"}]), "01") is None
